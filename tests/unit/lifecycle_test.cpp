// Unit tests: a channel worker's operator lifecycle (channels.stop / start / logout) as data: the
// start plan for every state a worker can be in, the logged-out mark against changed
// tokens (held while any is marked or unreadable or the key is another), the persisted marks
// (written 0600, read back, a bad file refused), and the token fingerprints (the token the
// worker uses, however it is written; never the token itself). Pure or on a temp dir, no
// processes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "clock.hpp"
#include "fs.hpp"
#include "lifecycle.hpp"
#include "logouts.hpp"

namespace clawgate::supervisor {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/clawgate-lifecycle-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(Lifecycle, StartSpawnsAStoppedFailedOrParkedWorker) {
  StartView v;  // no process: stopped by an operator, backing off, failed, exit 78
  const StartPlan p = plan_start(v);
  EXPECT_EQ(p.step, StartStep::spawn);
  EXPECT_EQ(p.status, StartStatus::handed_off);
  EXPECT_EQ(p.reason, "");
  EXPECT_STREQ(to_string(p.status), "handed-off");
}

TEST(Lifecycle, StartOfARunningWorkerIsTaskOwned) {
  StartView v;
  v.has_process = v.ready = true;
  const StartPlan p = plan_start(v);
  EXPECT_EQ(p.step, StartStep::answer) << "nothing to start: it runs";
  EXPECT_EQ(p.status, StartStatus::retry);
  EXPECT_EQ(p.reason, "task-owned");
}

TEST(Lifecycle, StartWhileStartingWaitsForTheSameGeneration) {
  StartView v;
  v.has_process = true;  // spawned, not ready yet
  const StartPlan p = plan_start(v);
  EXPECT_EQ(p.step, StartStep::wait);
  EXPECT_EQ(p.status, StartStatus::retry);
  EXPECT_EQ(p.reason, "start-in-flight");
}

TEST(Lifecycle, StartDuringAStopStartsAgainOnceItExited) {
  StartView v;
  v.has_process = v.ready = v.stop_requested = true;
  const StartPlan p = plan_start(v);
  EXPECT_EQ(p.step, StartStep::restart_after_stop);
  EXPECT_EQ(p.status, StartStatus::handed_off);
}

TEST(Lifecycle, ALogoutIsNotOverriddenByStart) {
  for (bool has_process : {false, true}) {
    StartView v;
    v.logged_out = true;
    v.has_process = has_process;
    const StartPlan p = plan_start(v);
    EXPECT_EQ(p.step, StartStep::answer);
    EXPECT_EQ(p.status, StartStatus::skipped);
    EXPECT_EQ(p.reason, "logged-out");
  }
  StartView v;
  v.gateway_stopping = true;
  EXPECT_EQ(plan_start(v).reason, "gateway-stopping");
  EXPECT_EQ(plan_start(v).status, StartStatus::skipped);
}

TEST(Lifecycle, MarkHoldsWhileAnyTokenIsMarkedAndClearsWhenAllAreNew) {
  const TokenPrints aa = {"hmac-sha256:aa"}, bb = {"hmac-sha256:bb"};
  EXPECT_EQ(check_logout_mark(std::nullopt, true, aa), MarkCheck::none);
  EXPECT_EQ(check_logout_mark(std::nullopt, true, std::nullopt), MarkCheck::none);
  EXPECT_EQ(check_logout_mark(aa, true, aa), MarkCheck::holds);
  EXPECT_EQ(check_logout_mark(aa, true, bb), MarkCheck::cleared);
  // Slack: a new bot token beside the logged-out app token still holds.
  EXPECT_EQ(check_logout_mark(TokenPrints{"hmac-sha256:bot", "hmac-sha256:app"}, true,
                              TokenPrints{"hmac-sha256:bot2", "hmac-sha256:app"}),
            MarkCheck::holds);
  // Fails closed: an unreadable token, a mark made with another key, no token at all.
  EXPECT_EQ(check_logout_mark(aa, true, std::nullopt), MarkCheck::holds);
  EXPECT_EQ(check_logout_mark(aa, false, bb), MarkCheck::holds);
  EXPECT_EQ(check_logout_mark(aa, true, TokenPrints{}), MarkCheck::holds);
  EXPECT_STREQ(to_string(Hold::logged_out), "logged-out");
  EXPECT_STREQ(to_string(Hold::stopped), "stopped");
}

LogoutMark mark_of(const std::string& channel, const std::string& account, TokenPrints tokens,
                   int64_t at) {
  LogoutMark m;
  m.channel = channel;
  m.account_id = account;
  m.tokens = std::move(tokens);
  m.at_ms = at;
  return m;
}

TEST(LogoutStore, MarksSurviveAReloadAndTheFileIsPrivate) {
  TempDir dir;
  FakeClock clock;
  {
    LogoutStore s(dir.path, "k");
    s.load();  // no file yet: nothing logged out
    EXPECT_TRUE(s.marks().empty());
    s.mark("telegram:work", mark_of("telegram", "work", {"hmac-sha256:01"}, clock.wall_ms()));
    clock.advance(1000);
    s.mark("discord", mark_of("discord", "default", {"hmac-sha256:02"}, clock.wall_ms()));
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir.path + "/" + LogoutStore::kFileName).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  LogoutStore again(dir.path, "k");
  again.load();
  ASSERT_EQ(again.marks().size(), 2u);
  ASSERT_TRUE(again.find("telegram:work"));
  EXPECT_EQ(again.find("telegram:work")->tokens, TokenPrints{"hmac-sha256:01"});
  EXPECT_TRUE(again.find("telegram:work")->key_matches);
  EXPECT_EQ(again.marks().at("discord").at_ms, clock.wall_ms());
  EXPECT_EQ(again.marks().at("telegram:work").account_id, "work");
  EXPECT_FALSE(again.find("telegram"));
  again.clear("telegram:work");
  again.clear("never-marked");  // nothing to do, no error
  LogoutStore third(dir.path, "k");
  third.load();
  EXPECT_EQ(third.marks().size(), 1u);
  EXPECT_FALSE(third.find("telegram:work"));
}

TEST(LogoutStore, ARegeneratedKeyKeepsEveryMarkHolding) {
  TempDir dir;
  {
    LogoutStore s(dir.path, "old-key");
    s.mark("telegram", mark_of("telegram", "default", {"hmac-sha256:01"}, 1));
  }
  LogoutStore lost(dir.path, "new-key");  // config-hash-key removed and made anew
  lost.load();
  ASSERT_TRUE(lost.find("telegram"));
  EXPECT_FALSE(lost.find("telegram")->key_matches);
  EXPECT_EQ(check_logout_mark(lost.find("telegram")->tokens, lost.find("telegram")->key_matches,
                              TokenPrints{"hmac-sha256:other"}),
            MarkCheck::holds);
  // Another logout rewrites the file with the new key: the old mark must not become comparable.
  lost.mark("discord", mark_of("discord", "default", {"hmac-sha256:02"}, 2));
  LogoutStore again(dir.path, "new-key");
  again.load();
  EXPECT_FALSE(again.find("telegram")->key_matches);
  EXPECT_TRUE(again.find("discord")->key_matches);
  LogoutStore back(dir.path, "old-key");  // the old key file restored
  back.load();
  EXPECT_FALSE(back.find("discord")->key_matches);
}

TEST(LogoutStore, ABadFileIsRefusedNotForgotten) {
  const std::string entry = R"({"channel":"telegram","accountId":"default","keyCheck":"x",)";
  for (const std::string& bad :
       {std::string("{not json"), std::string(R"({"version":1,"loggedOut":{}})"),
        std::string(R"({"version":2,"loggedOut":{"telegram":{"channel":"telegram"}}})"),
        R"({"version":2,"loggedOut":{"telegram":)" + entry + R"("tokens":"hmac"}}})",
        R"({"version":2,"loggedOut":{"telegram":)" + entry + R"("tokens":[7]}}})",
        R"({"version":2,"loggedOut":{"telegram":)" + entry + R"("tokens":[")" +
            std::string(200, 'a') + "\"]}}}"}) {
    TempDir dir;
    atomic_write_file(dir.path + "/" + LogoutStore::kFileName, bad);
    LogoutStore s(dir.path, "k");
    try {
      s.load();
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(LogoutStore::kFileName), std::string::npos) << e.what();
    }
  }
}

TEST(LogoutStore, AFailedWriteChangesNothing) {
  LogoutStore s("/nonexistent-clawgate-dir/sub", "k");
  EXPECT_THROW(s.mark("telegram", mark_of("telegram", "default", {"hmac-sha256:01"}, 1)),
               std::exception);
  EXPECT_TRUE(s.marks().empty()) << "a mark that is not on disk would be forgotten at restart";
}

ChannelSettings section_of(const std::string& channel, const std::string& account,
                           cfg::Json section) {
  ChannelSettings c;
  c.name = channel;
  c.account_id = account;
  c.section = std::move(section);
  return c;
}

ChannelSettings telegram(const std::string& account, cfg::Json section) {
  return section_of("telegram", account, std::move(section));
}

std::optional<TokenPrints> prints(const ChannelSettings& c, const Environment& env = {},
                                  const std::string& key = "k") {
  return token_fingerprints(channel_tokens(c, env).sources, key);
}

TEST(Credentials, FingerprintFollowsTheTokenAndNeverHoldsIt) {
  const std::string token = "123456:AAAA-secret-token";
  const auto a = prints(telegram("default", {{"botToken", token}}));
  ASSERT_TRUE(a);
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ((*a)[0].size(), 12u + 64u);
  EXPECT_EQ((*a)[0].find("secret"), std::string::npos);
  EXPECT_TRUE(channel_tokens(telegram("default", {{"botToken", token}}), {}).env_names.empty());
  // The token, not where it is written: another account with it is the same token.
  EXPECT_EQ(prints(telegram("work", {{"botToken", token}})), a);
  EXPECT_NE(prints(telegram("default", {{"botToken", token + "x"}})), a);
  EXPECT_NE(prints(telegram("default", {{"botToken", token}}), {}, "k2"), a);
  // Keys that are not credentials do not count: a policy change is not a login.
  EXPECT_EQ(prints(telegram("default", {{"botToken", token}, {"dmPolicy", "open"}})), a);
  // The worker's precedence: the value wins over the file and the variable.
  EXPECT_EQ(prints(telegram("default", {{"botToken", token}, {"tokenFile", "/nonexistent"}}),
                   {{"TELEGRAM_BOT_TOKEN", "other"}}),
            a);
}

TEST(Credentials, TheSameTokenWrittenAnotherWayStillMatches) {
  TempDir dir;
  const std::string token = "111:one";
  const auto direct = prints(telegram("default", {{"botToken", token}}));
  for (const std::string& content : {token, token + "\n", token + "\r\n", token + " \n"}) {
    const std::string file = dir.path + "/token";
    atomic_write_file(file, content);
    EXPECT_EQ(prints(telegram("default", {{"tokenFile", file}})), direct)
        << "the worker trims its tokenFile";
    const std::string moved = dir.path + "/elsewhere";
    atomic_write_file(moved, content);
    EXPECT_EQ(prints(telegram("default", {{"tokenFile", moved}})), direct);
  }
  EXPECT_EQ(prints(telegram("default", {}), {{"TELEGRAM_BOT_TOKEN", token}, {"PATH", "/bin"}}),
            direct)
      << "the variable carries the same token";
  const auto t = channel_tokens(telegram("default", {}), {{"TELEGRAM_BOT_TOKEN", token}});
  ASSERT_EQ(t.env_names.size(), 1u);
  EXPECT_EQ(t.env_names[0], "TELEGRAM_BOT_TOKEN");
  // An empty file: the worker falls back to the variable.
  atomic_write_file(dir.path + "/empty", "\n");
  EXPECT_EQ(prints(telegram("default", {{"tokenFile", dir.path + "/empty"}}),
                   {{"TELEGRAM_BOT_TOKEN", token}}),
            direct);
}

TEST(Credentials, AnUnreadableTokenFileIsUnknownNotNew) {
  TempDir dir;
  const auto missing = telegram("default", {{"tokenFile", dir.path + "/missing"}});
  EXPECT_EQ(prints(missing), std::nullopt);
  EXPECT_EQ(prints(telegram("default", {{"tokenFile", dir.path}})), std::nullopt)
      << "a directory is not a token file";
  atomic_write_file(dir.path + "/big", std::string(70000, 'a'));
  EXPECT_EQ(prints(telegram("default", {{"tokenFile", dir.path + "/big"}})), std::nullopt);
  // And so a logout made with the token keeps holding while the file cannot be read.
  atomic_write_file(dir.path + "/token", "111:one\n");
  const auto c = telegram("default", {{"tokenFile", dir.path + "/token"}});
  const auto marked = prints(c);
  ASSERT_TRUE(marked);
  std::filesystem::remove(dir.path + "/token");
  EXPECT_EQ(check_logout_mark(marked, true, prints(c)), MarkCheck::holds);
  atomic_write_file(dir.path + "/token", "222:two\n");
  EXPECT_EQ(check_logout_mark(marked, true, prints(c)), MarkCheck::cleared)
      << "a readable new token is a login";
}

TEST(Credentials, SlackCountsEachTokenAndNotTheRest) {
  const cfg::Json socket = {
      {"botToken", "xoxb-1"}, {"appToken", "xapp-1"}, {"signingSecret", "s1"}, {"mode", "socket"}};
  const auto marked = prints(section_of("slack", "default", socket));
  ASSERT_TRUE(marked);
  EXPECT_EQ(marked->size(), 2u) << "botToken and appToken; signingSecret serves HTTP mode";
  cfg::Json changed = socket;
  changed["signingSecret"] = "s2";  // unrelated to Socket Mode: no login
  EXPECT_EQ(prints(section_of("slack", "default", changed)), marked);
  changed["botToken"] = "xoxb-2";  // the logged-out app token is still there: still held
  EXPECT_EQ(check_logout_mark(marked, true, prints(section_of("slack", "default", changed))),
            MarkCheck::holds);
  changed["appToken"] = "xapp-2";
  EXPECT_EQ(check_logout_mark(marked, true, prints(section_of("slack", "default", changed))),
            MarkCheck::cleared);
  // From the variables, the same tokens.
  EXPECT_EQ(prints(section_of("slack", "default", {{"mode", "socket"}}),
                   {{"SLACK_BOT_TOKEN", "xoxb-1"}, {"SLACK_APP_TOKEN", "xapp-1"}}),
            marked);
}

}  // namespace
}  // namespace clawgate::supervisor
