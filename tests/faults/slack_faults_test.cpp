// Fault test, Slack: kill -9 the Slack worker while replies stream out through it. Telegram, in
// its own worker, never notices; every queued send reaches Slack (at most the one in flight at
// the kill twice); the new worker is back on Socket Mode and answers a DM once.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "gateway_process.hpp"
#include "slack_emulator.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

using Clock = std::chrono::steady_clock;

Json account(GatewayClient& c, const char* channel) {
  const Json s = c.call("channels.status");
  const Json& list = s["channelAccounts"][channel];
  return list.is_array() && !list.empty() ? list[0] : Json::object();
}

int pid_of(GatewayClient& c, const std::string& name) {
  const Json status = c.call("status");  // held: a range over a temporary's member dangles
  for (const auto& p : status["processes"])
    if (p["name"] == name) return p.value("pid", 0);
  return 0;
}

TEST(SlackFaults, KillingTheSlackWorkerUnderTrafficLosesNothingAndTelegramDoesNotNotice) {
  FakeModels models;
  SlackEmulator slack;
  TelegramEmulator telegram;
  Json cfg = models.config();
  Json s = slack.channel_config();
  s["dmPolicy"] = "open";
  s["allowFrom"] = {"*"};
  cfg["channels"] = {{"slack", s}, {"telegram", telegram.channel_config()}};
  GatewayProcess gw({}, cfg.dump());
  Client c(gw, 3000);
  ASSERT_TRUE(eventually([&] {
    return account(c.gc, "slack").value("connected", false) &&
           account(c.gc, "telegram").value("connected", false);
  })) << gw.output();
  slack.faults({{"no_echo", true}});
  slack.add_channel("C0CHAN001");
  // The supervisor reports pids a moment after the children start.
  int slack_pid = 0, telegram_pid = 0;
  eventually([&] {
    slack_pid = pid_of(c.gc, "slack");
    telegram_pid = pid_of(c.gc, "telegram");
    return slack_pid > 0 && telegram_pid > 0;
  });
  ASSERT_GT(slack_pid, 0);
  ASSERT_GT(telegram_pid, 0);

  constexpr int kSends = 150;
  std::vector<std::string> ids;
  Clock::time_point killed_at;
  for (int i = 0; i < kSends; ++i) {
    ids.push_back(c.gc.send_request("send", {{"channel", "slack"},
                                             {"to", "C0CHAN001"},
                                             {"message", "msg-" + std::to_string(i)},
                                             {"idempotencyKey", "slack-" + std::to_string(i)}}));
    if (i == kSends / 3) {
      ASSERT_TRUE(
          eventually([&] { return slack.stats()["chat.postMessage"].get<int>() >= 10; }, 10000, 5));
      killed_at = Clock::now();
      ASSERT_EQ(kill(slack_pid, SIGKILL), 0);
    }
  }
  int ok = 0;
  for (const auto& id : ids) ok += c.gc.wait_response(id, 30000).value("ok", false);
  EXPECT_EQ(ok, kSends);
  // Serving again: a new worker, connected, answering a DM.
  int64_t serving_ms = -1;
  ASSERT_TRUE(eventually(
      [&] {
        if (pid_of(c.gc, "slack") == slack_pid || !account(c.gc, "slack").value("connected", false))
          return false;
        serving_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count();
        return true;
      },
      15000, 5))
      << gw.output();
  slack.dm("U0USER002", "still there?");
  std::map<std::string, int> seen;
  ASSERT_TRUE(eventually(
      [&] {
        seen.clear();
        const Json sent = slack.sent();
        for (const auto& m : sent["messages"]) seen[m["text"]]++;
        return seen.size() == static_cast<size_t>(kSends) + 1;
      },
      15000))
      << seen.size();
  int dups = 0;
  for (const auto& [text, n] : seen) dups += n - 1;
  EXPECT_LE(dups, 1) << "duplicates beyond the one request in flight at the kill";
  EXPECT_EQ(seen["Hello from the fake model. You said: still there?"], 1);
  // Telegram: the same process, connected throughout.
  EXPECT_EQ(pid_of(c.gc, "telegram"), telegram_pid);
  EXPECT_TRUE(account(c.gc, "telegram").value("connected", false));
  EXPECT_EQ(account(c.gc, "telegram").value("restarts", -1), 0);
  std::printf(
      "[ measure ] slack worker kill -9 -> serving again (Socket Mode) after %lld ms; "
      "duplicates: %d\n",
      static_cast<long long>(serving_ms), dups);
}

}  // namespace
}  // namespace clawgate::test
