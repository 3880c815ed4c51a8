// channels.stop / channels.start / channels.logout end to end: two Telegram accounts on one
// gateway (one emulator, two bots), real worker processes. A stopped account's worker is gone and
// stays gone, the other account is untouched, a send to the stopped one queues and is delivered
// after channels.start; a logout stops the worker across a gateway restart until the token in
// the config changes, and marks the token the worker read from its tokenFile; the CLI commands
// and the errors (unknown account, missing scope).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"

namespace clawgate::test {
namespace {

const std::string kAlphaToken = "111111:alpha-token";
const std::string kBetaToken = "222222:beta-token";
const std::string kAlphaNewToken = "333333:alpha-new-token";

Json two_accounts(const TelegramEmulator& emu, const std::string& alpha_token = kAlphaToken) {
  return {{"channels",
           {{"telegram",
             {{"apiRoot", emu.url()},
              {"dmPolicy", "open"},
              {"pollTimeoutSeconds", 1},
              {"defaultAccount", "alpha"},
              {"accounts",
               {{"alpha", {{"botToken", alpha_token}}}, {"beta", {{"botToken", kBetaToken}}}}}}}}}};
}

Json account(GatewayClient& c, const std::string& id) {
  const Json status = c.call("channels.status");
  for (const auto& a : status["channelAccounts"]["telegram"])
    if (a["accountId"] == id) return a;
  return nullptr;
}

int child_pid(GatewayClient& c, const std::string& name) {
  const Json status = c.call("status");
  for (const auto& p : status["processes"])
    if (p["name"] == name) return p["pid"];
  return 0;
}

bool connected(const GatewayProcess& gw, const std::vector<std::string>& ids) {
  try {
    Client c(gw);
    for (const auto& id : ids) {
      const Json a = account(c.gc, id);
      if (!a.is_object() || !a.value("connected", false)) return false;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool process_gone(int pid) {
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

std::set<int64_t> chats_answered(TelegramEmulator& bot) {
  std::set<int64_t> out;
  const Json sent = bot.sent();
  for (const auto& m : sent["messages"]) out.insert(m["chat_id"].get<int64_t>());
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Lifecycle, StopHoldsOneAccountAndStartDeliversWhatWaited) {
  TelegramEmulator emu({kAlphaToken, kBetaToken});
  TelegramEmulator alpha = emu.bot(kAlphaToken), beta = emu.bot(kBetaToken);
  GatewayProcess gw({}, two_accounts(emu).dump());
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
  Client c(gw);
  const int alpha_pid = child_pid(c.gc, "telegram:alpha");
  const int beta_pid = child_pid(c.gc, "telegram:beta");
  const int agent_pid = child_pid(c.gc, "agent");
  ASSERT_GT(alpha_pid, 0);
  ASSERT_GT(beta_pid, 0);

  Json r = c.gc.call("channels.stop", {{"channel", "telegram"}, {"accountId", "alpha"}});
  EXPECT_EQ(r, (Json{{"channel", "telegram"}, {"accountId", "alpha"}, {"stopped", true}}));
  EXPECT_TRUE(process_gone(alpha_pid)) << "answered once the worker exited";
  // Past the restart backoff (250 ms): no restart policy for a stopped worker.
  usleep(1500 * 1000);
  EXPECT_EQ(child_pid(c.gc, "telegram:alpha"), 0);
  Json a = account(c.gc, "alpha");
  EXPECT_EQ(a["state"], "stopped") << a.dump();
  EXPECT_EQ(a["running"], false);
  EXPECT_TRUE(contains(a.value("lastError", ""), "channels.stop")) << a.dump();
  EXPECT_TRUE(contains(a.value("lastError", ""), "channels start telegram --account alpha"));
  EXPECT_EQ(child_pid(c.gc, "telegram:beta"), beta_pid) << "the other account is untouched";
  EXPECT_EQ(child_pid(c.gc, "agent"), agent_pid);
  EXPECT_EQ(account(c.gc, "beta")["state"], "running");
  beta.inject(2001, "还在吗？ beta 🌍");
  ASSERT_TRUE(eventually([&] { return chats_answered(beta).count(2001) > 0; }, 15000))
      << gw.output();
  // A second stop is a no-op that says so.
  r = c.gc.call("channels.stop", {{"channel", "telegram"}, {"accountId", "alpha"}});
  EXPECT_EQ(r["stopped"], true);

  // A send through the stopped account waits in the queue (its call with it)...
  auto sent = std::async(std::launch::async, [&gw] {
    Client s(gw, 30000);
    return s.gc.call("send",
                     {{"channel", "telegram"},
                      {"accountId", "alpha"},
                      {"to", "1001"},
                      {"message", "في الانتظار ⏳ queued while stopped"},
                      {"idempotencyKey", "lifecycle-1"}},
                     30000);
  });
  ASSERT_TRUE(eventually([&] { return account(c.gc, "alpha")["pendingOutbound"] == 1; }))
      << account(c.gc, "alpha").dump();
  EXPECT_FALSE(chats_answered(alpha).count(1001));

  // ...and goes out once the account is started again.
  r = c.gc.call("channels.start", {{"channel", "telegram"}, {"accountId", "alpha"}});
  EXPECT_EQ(r, (Json{{"channel", "telegram"},
                     {"accountId", "alpha"},
                     {"started", true},
                     {"outcome", {{"status", "handed-off"}}}}))
      << r.dump();
  const int alpha_again = child_pid(c.gc, "telegram:alpha");
  EXPECT_GT(alpha_again, 0);
  EXPECT_NE(alpha_again, alpha_pid);
  ASSERT_EQ(sent.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(sent.get()["status"], "sent");
  EXPECT_TRUE(chats_answered(alpha).count(1001));
  EXPECT_FALSE(chats_answered(beta).count(1001));
  a = account(c.gc, "alpha");
  EXPECT_EQ(a["state"], "running") << a.dump();

  // Starting a running account changes nothing: upstream's task-owned, started.
  r = c.gc.call("channels.start", {{"channel", "telegram"}});  // alpha: the default account
  EXPECT_EQ(r["accountId"], "alpha");
  EXPECT_EQ(r["started"], true);
  EXPECT_EQ(r["outcome"], (Json{{"status", "retry"}, {"reason", "task-owned"}}));
  EXPECT_EQ(child_pid(c.gc, "telegram:alpha"), alpha_again);

  // A stopped worker crashed after a kill restarts as usual: the hold was lifted by start.
  ASSERT_EQ(::kill(alpha_again, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        const int pid = child_pid(c.gc, "telegram:alpha");
        return pid > 0 && pid != alpha_again && account(c.gc, "alpha")["state"] == "running";
      },
      15000))
      << gw.output();

  // Errors: an account or channel nobody configured, no channel at all.
  Json bad = c.gc.request_frame("channels.stop", {{"channel", "telegram"}, {"accountId", "gamma"}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST") << bad.dump();
  EXPECT_TRUE(contains(bad["error"]["message"], "gamma")) << bad.dump();
  bad = c.gc.request_frame("channels.start", {{"channel", "matrix"}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST") << bad.dump();
  EXPECT_TRUE(contains(bad["error"]["message"], "matrix")) << bad.dump();
  bad = c.gc.request_frame("channels.logout", Json::object());
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST") << bad.dump();
  bad = c.gc.request_frame("channels.stop", {{"channel", "telegram"}, {"manual", true}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST") << "upstream's params are closed";

  // operator.admin only.
  WsClient ws;
  GatewayClient ro(ws);
  ConnectOptions o;
  o.url = gw.url();
  o.token = gw.token();
  o.scopes = {"operator.read", "operator.write"};
  ro.connect(o);
  for (const char* m : {"channels.stop", "channels.start", "channels.logout"}) {
    const Json f = ro.request_frame(m, {{"channel", "telegram"}});
    EXPECT_EQ(f["error"]["code"], "FORBIDDEN") << m << " " << f.dump();
    EXPECT_EQ(f["error"]["details"]["missingScope"], "operator.admin") << f.dump();
  }
  EXPECT_EQ(child_pid(c.gc, "telegram:alpha") > 0, true) << "nothing was stopped";
}

TEST(Lifecycle, LogoutHoldsAcrossARestartUntilTheTokenChanges) {
  TelegramEmulator emu({kAlphaToken, kBetaToken, kAlphaNewToken});
  TelegramEmulator alpha = emu.bot(kAlphaToken), alpha_new = emu.bot(kAlphaNewToken);
  // One state directory for both gateways (each GatewayProcess removes its own at the end).
  char tmpl[] = "/tmp/clawgate-lifecycle-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string state_dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{state_dir};
  const std::map<std::string, std::string> same_state = {{"CLAWGATE_STATE_DIR", state_dir}};
  {
    GatewayProcess gw(same_state, two_accounts(emu).dump());
    ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
    Client c(gw);
    const int alpha_pid = child_pid(c.gc, "telegram:alpha");
    const int beta_pid = child_pid(c.gc, "telegram:beta");

    const Json r = c.gc.call("channels.logout", {{"channel", "telegram"}, {"accountId", "alpha"}});
    EXPECT_EQ(r, (Json{{"channel", "telegram"},
                       {"accountId", "alpha"},
                       {"cleared", true},
                       {"loggedOut", true},
                       {"envToken", false}}))
        << r.dump();
    EXPECT_TRUE(process_gone(alpha_pid));
    EXPECT_EQ(child_pid(c.gc, "telegram:beta"), beta_pid);
    const Json a = account(c.gc, "alpha");
    EXPECT_EQ(a["state"], "logged-out") << a.dump();
    EXPECT_EQ(a["running"], false);
    EXPECT_EQ(a["linked"], false);
    EXPECT_TRUE(contains(a.value("lastError", ""), "logged out")) << a.dump();

    // Neither start nor restart brings it back: that needs a new token.
    const Json s = c.gc.call("channels.start", {{"channel", "telegram"}, {"accountId", "alpha"}});
    EXPECT_EQ(s["started"], false);
    EXPECT_EQ(s["outcome"]["status"], "skipped") << s.dump();
    EXPECT_TRUE(contains(s["outcome"]["reason"], "logged-out")) << s.dump();
    EXPECT_TRUE(contains(s["outcome"]["reason"], "new token")) << s.dump();
    const Json rs =
        c.gc.request_frame("channels.restart", {{"channel", "telegram"}, {"accountId", "alpha"}});
    EXPECT_EQ(rs["error"]["code"], "INVALID_REQUEST") << rs.dump();
    EXPECT_EQ(child_pid(c.gc, "telegram:alpha"), 0);

    // The state file holds a fingerprint, never the token.
    const std::string marks = read_text(state_dir + "/channel-logouts.json");
    EXPECT_TRUE(contains(marks, "telegram:alpha")) << marks;
    EXPECT_TRUE(contains(marks, "hmac-sha256:")) << marks;
    EXPECT_FALSE(contains(marks, "alpha-token")) << marks;
    EXPECT_EQ(gw.terminate(), 0);
  }

  // A new gateway on the same state directory and config: alpha stays logged out.
  const int64_t alpha_calls = alpha.stats().value("getUpdates", 0);
  {
    GatewayProcess gw(same_state, two_accounts(emu).dump());
    ASSERT_TRUE(eventually([&] { return connected(gw, {"beta"}); }, 15000)) << gw.output();
    Client c(gw);
    usleep(1500 * 1000);
    EXPECT_EQ(child_pid(c.gc, "telegram:alpha"), 0) << gw.output();
    EXPECT_EQ(account(c.gc, "alpha")["state"], "logged-out");
    EXPECT_EQ(alpha.stats().value("getUpdates", 0), alpha_calls)
        << "no process polled with the logged-out token";

    // A new token in the config (SIGHUP): a login, the worker starts with it.
    std::ofstream(gw.state_dir() + "/clawgate.json") << two_accounts(emu, kAlphaNewToken).dump();
    ::kill(gw.pid(), SIGHUP);
    ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
    Client c2(gw);
    EXPECT_GT(child_pid(c2.gc, "telegram:alpha"), 0);
    alpha_new.inject(1002, "logged in again ✅ مرحبا");
    ASSERT_TRUE(eventually([&] { return chats_answered(alpha_new).count(1002) > 0; }, 15000))
        << gw.output();
    EXPECT_FALSE(contains(read_text(state_dir + "/channel-logouts.json"), "telegram:alpha"))
        << "the mark is gone with the old token";
  }
}

// The token the running worker read is the one logged out, however and whenever it was written:
// a tokenFile edited and picked up by channels.restart (no reload) is marked, the same token
// with another trailing newline still holds, and a token file that cannot be read holds too.
TEST(Lifecycle, LogoutMarksTheTokenTheWorkerReadFromItsFile) {
  TelegramEmulator emu({kAlphaToken, kBetaToken, kAlphaNewToken});
  TelegramEmulator alpha_new = emu.bot(kAlphaNewToken);
  char tmpl[] = "/tmp/clawgate-tokenfile-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{tmpl};
  const std::string file = std::string(tmpl) + "/alpha.token";
  std::ofstream(file) << kAlphaToken << "\n";
  Json config = two_accounts(emu);
  config["channels"]["telegram"]["accounts"]["alpha"] = {{"tokenFile", file}};
  GatewayProcess gw({}, config.dump());
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
  Client c(gw);

  // The file now holds another token; a restart (no reload) gives the worker that one.
  std::ofstream(file, std::ios::trunc) << kAlphaNewToken;
  const int old_pid = child_pid(c.gc, "telegram:alpha");
  c.gc.call("channels.restart", {{"channel", "telegram"}, {"accountId", "alpha"}});
  ASSERT_TRUE(eventually(
      [&] {
        const int pid = child_pid(c.gc, "telegram:alpha");
        return pid > 0 && pid != old_pid && alpha_new.stats().value("getUpdates", 0) > 0;
      },
      15000))
      << gw.output();
  const Json r = c.gc.call("channels.logout", {{"channel", "telegram"}, {"accountId", "alpha"}});
  EXPECT_EQ(r["loggedOut"], true) << r.dump();
  ASSERT_TRUE(eventually([&] { return child_pid(c.gc, "telegram:alpha") == 0; }, 15000));

  // Reloads with the new token written another way, then with the file unreadable: held.
  for (const std::string step : {"newline", "missing"}) {
    if (step == "newline") {
      std::ofstream(file, std::ios::trunc) << kAlphaNewToken << "\r\n";
    } else {
      std::filesystem::remove(file);
    }
    ::kill(gw.pid(), SIGHUP);
    usleep(1500 * 1000);
    EXPECT_EQ(child_pid(c.gc, "telegram:alpha"), 0) << step << "\n" << gw.output();
    EXPECT_EQ(account(c.gc, "alpha")["state"], "logged-out") << step;
    const Json s = c.gc.call("channels.start", {{"channel", "telegram"}, {"accountId", "alpha"}});
    EXPECT_EQ(s["outcome"]["status"], "skipped") << step << " " << s.dump();
  }
  const int64_t calls = alpha_new.stats().value("getUpdates", 0);
  usleep(1500 * 1000);
  EXPECT_EQ(alpha_new.stats().value("getUpdates", 0), calls)
      << "no process polled with the logged-out token";
  const std::string marks = read_text(gw.state_dir() + "/channel-logouts.json");
  EXPECT_TRUE(contains(marks, "telegram:alpha")) << marks;
}

TEST(Lifecycle, CliStopStartLogoutAndTheVariableThatStillHoldsTheToken) {
  TelegramEmulator emu;
  Json config = {{"channels", {{"telegram", emu.channel_config()}}}};
  config["channels"]["telegram"].erase("botToken");  // the default account's token: the variable
  GatewayProcess gw({{"TELEGRAM_BOT_TOKEN", emu.token()}}, config.dump());
  ASSERT_TRUE(eventually([&] { return connected(gw, {"default"}); }, 15000)) << gw.output();
  auto cli = [&gw](const std::string& args, int* rc = nullptr) {
    const std::string cmd = std::string(CLAWGATE_BIN) + " " + args + " --url " + gw.url() +
                            " --token " + gw.token() + " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
  };
  int rc = -1;
  std::string out = cli("channels stop telegram", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(contains(out, "telegram (default): stopped")) << out;
  out = cli("channels start telegram", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(contains(out, "running (started)")) << out;
  out = cli("channels stop telegram --account ''", &rc);
  EXPECT_EQ(rc, 2) << "a blank account is refused, not the default: " << out;
  out = cli("channels logout telegram --json", &rc);
  EXPECT_EQ(rc, 0) << out;
  const Json j = Json::parse(out);
  EXPECT_EQ(j["envToken"], true) << out;
  EXPECT_EQ(j["envTokenVariables"], Json::array({"TELEGRAM_BOT_TOKEN"})) << out;
  out = cli("channels start telegram", &rc);
  EXPECT_EQ(rc, 1) << "not started: " << out;
  EXPECT_TRUE(contains(out, "skipped")) << out;
  Client c(gw);
  EXPECT_EQ(account(c.gc, "default")["state"], "logged-out");
}

}  // namespace
}  // namespace clawgate::test
