// Unit tests: a channel worker's operator lifecycle (channels.stop / start / logout) as data: the
// start plan for every state a worker can be in, the logged-out mark against changed
// credentials, the persisted marks (written 0600, read back, a bad file refused), and the
// credential fingerprint (changes with the token, its file's content or its variable; never
// holds the token). Pure or on a temp dir, no processes.
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

TEST(Lifecycle, MarkHoldsForTheSameCredentialsAndClearsForNewOnes) {
  EXPECT_EQ(check_logout_mark(std::nullopt, "hmac-sha256:aa"), MarkCheck::none);
  EXPECT_EQ(check_logout_mark(std::string("hmac-sha256:aa"), "hmac-sha256:aa"), MarkCheck::holds);
  EXPECT_EQ(check_logout_mark(std::string("hmac-sha256:aa"), "hmac-sha256:bb"), MarkCheck::cleared);
  EXPECT_STREQ(to_string(Hold::logged_out), "logged-out");
  EXPECT_STREQ(to_string(Hold::stopped), "stopped");
}

TEST(LogoutStore, MarksSurviveAReloadAndTheFileIsPrivate) {
  TempDir dir;
  FakeClock clock;
  {
    LogoutStore s(dir.path);
    s.load();  // no file yet: nothing logged out
    EXPECT_TRUE(s.marks().empty());
    s.mark("telegram:work", {"telegram", "work", "hmac-sha256:01", clock.wall_ms()});
    clock.advance(1000);
    s.mark("discord", {"discord", "default", "hmac-sha256:02", clock.wall_ms()});
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir.path + "/" + LogoutStore::kFileName).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  LogoutStore again(dir.path);
  again.load();
  ASSERT_EQ(again.marks().size(), 2u);
  EXPECT_EQ(again.fingerprint("telegram:work"), std::optional<std::string>("hmac-sha256:01"));
  EXPECT_EQ(again.marks().at("discord").at_ms, clock.wall_ms());
  EXPECT_EQ(again.marks().at("telegram:work").account_id, "work");
  EXPECT_FALSE(again.fingerprint("telegram"));
  again.clear("telegram:work");
  again.clear("never-marked");  // nothing to do, no error
  LogoutStore third(dir.path);
  third.load();
  EXPECT_EQ(third.marks().size(), 1u);
  EXPECT_FALSE(third.fingerprint("telegram:work"));
}

TEST(LogoutStore, ABadFileIsRefusedNotForgotten) {
  for (const std::string& bad :
       {std::string("{not json"), std::string(R"({"version":2,"loggedOut":{}})"),
        std::string(R"({"version":1,"loggedOut":{"telegram":{"channel":"telegram"}}})"),
        std::string(R"({"version":1,"loggedOut":{"telegram":{"channel":"telegram",)"
                    R"("accountId":"default","credentials":")") +
            std::string(200, 'a') + "\"}}}"}) {
    TempDir dir;
    atomic_write_file(dir.path + "/" + LogoutStore::kFileName, bad);
    LogoutStore s(dir.path);
    try {
      s.load();
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(LogoutStore::kFileName), std::string::npos) << e.what();
    }
  }
}

TEST(LogoutStore, AFailedWriteChangesNothing) {
  LogoutStore s("/nonexistent-clawgate-dir/sub");
  EXPECT_THROW(s.mark("telegram", {"telegram", "default", "hmac-sha256:01", 1}), std::exception);
  EXPECT_TRUE(s.marks().empty()) << "a mark that is not on disk would be forgotten at restart";
}

ChannelSettings telegram(const std::string& account, cfg::Json section) {
  ChannelSettings c;
  c.name = "telegram";
  c.account_id = account;
  c.section = std::move(section);
  return c;
}

TEST(Credentials, FingerprintFollowsTheTokenAndNeverHoldsIt) {
  const std::string key = "k1";
  const std::string token = "123456:AAAA-secret-token";
  const auto a = channel_credentials(telegram("default", {{"botToken", token}}), {}, key);
  EXPECT_EQ(a.fingerprint.rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ(a.fingerprint.size(), 12u + 64u);
  EXPECT_EQ(a.fingerprint.find("secret"), std::string::npos);
  EXPECT_TRUE(a.env_names.empty());
  // Same inputs, same fingerprint; a new token, another account or another key: another.
  EXPECT_EQ(channel_credentials(telegram("default", {{"botToken", token}}), {}, key).fingerprint,
            a.fingerprint);
  EXPECT_NE(
      channel_credentials(telegram("default", {{"botToken", token + "x"}}), {}, key).fingerprint,
      a.fingerprint);
  EXPECT_NE(channel_credentials(telegram("work", {{"botToken", token}}), {}, key).fingerprint,
            a.fingerprint);
  EXPECT_NE(channel_credentials(telegram("default", {{"botToken", token}}), {}, "k2").fingerprint,
            a.fingerprint);
  // Keys that are not credentials do not count: a policy change is not a login.
  EXPECT_EQ(
      channel_credentials(telegram("default", {{"botToken", token}, {"dmPolicy", "open"}}), {}, key)
          .fingerprint,
      a.fingerprint);
}

TEST(Credentials, AVariableAndATokenFileCount) {
  TempDir dir;
  const std::string file = dir.path + "/token";
  atomic_write_file(file, "111:one\n");
  const auto c = telegram("default", {{"tokenFile", file}});
  const auto one = channel_credentials(c, {}, "k");
  atomic_write_file(file, "222:two\n");
  const auto two = channel_credentials(c, {}, "k");
  EXPECT_NE(one.fingerprint, two.fingerprint) << "new content in the token file is a login";
  std::filesystem::remove(file);
  EXPECT_NE(channel_credentials(c, {}, "k").fingerprint, two.fingerprint);

  const auto d = telegram("default", {});
  const auto v1 = channel_credentials(d, {{"TELEGRAM_BOT_TOKEN", "1:a"}, {"PATH", "/bin"}}, "k");
  const auto v2 = channel_credentials(d, {{"TELEGRAM_BOT_TOKEN", "2:b"}, {"PATH", "/bin"}}, "k");
  EXPECT_NE(v1.fingerprint, v2.fingerprint);
  ASSERT_EQ(v1.env_names.size(), 1u);
  EXPECT_EQ(v1.env_names[0], "TELEGRAM_BOT_TOKEN");
  EXPECT_EQ(channel_credentials(d, {{"TELEGRAM_BOT_TOKEN", "1:a"}, {"PATH", "/usr/bin"}}, "k")
                .fingerprint,
            v1.fingerprint)
      << "only credential variables count";
}

}  // namespace
}  // namespace clawgate::supervisor
