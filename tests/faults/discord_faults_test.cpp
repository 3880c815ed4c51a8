// Fault tests, Discord: kill -9 the Discord worker under traffic while Telegram runs beside it.
// Telegram does not notice, nothing queued for Discord is lost, each reply goes out once (at
// most the one request in flight at the kill twice, as Discord has no idempotency key), and the
// time from the kill to serving again is printed. And kill -9 the worker holding messages the
// front has not acknowledged (the front stopped, then killed too): the Gateway will not send
// them to the next worker, its journal does, and each is answered once.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "discord_emulator.hpp"
#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

int64_t ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

Json account(GatewayClient& c, const std::string& channel) {
  const Json a = c.call("channels.status")["channelAccounts"][channel];
  return a.is_array() && !a.empty() ? a[0] : Json::object();
}

int pid_of(GatewayClient& c, const std::string& name) {
  const Json status = c.call("status");  // held: a range over a temporary's member dangles
  for (const auto& p : status["processes"])
    if (p["name"] == name) return p.value("pid", 0);
  return 0;
}

TEST(Faults, KillingTheDiscordWorkerUnderTrafficLosesNothingAndTelegramCarriesOn) {
  DiscordEmulator discord;
  TelegramEmulator telegram;
  Json cfg = {{"channels",
               {{"discord", discord.channel_config()}, {"telegram", telegram.channel_config()}}}};
  GatewayProcess gw({}, cfg.dump());
  ASSERT_TRUE(eventually([&] {
    try {
      Client c(gw, 3000);
      return account(c.gc, "discord").value("connected", false) &&
             account(c.gc, "telegram").value("connected", false);
    } catch (...) {
      return false;
    }
  })) << gw.output();
  Client sender(gw);
  const int worker_pid = pid_of(sender.gc, "discord");
  ASSERT_GT(worker_pid, 0);
  const Json dm = discord.dm("1001", "open the DM channel");  // a channel to send into
  const std::string to = "channel:" + dm["channel_id"].get<std::string>();
  constexpr int kSends = 200;
  std::vector<std::string> ids, tg_ids;
  Clock::time_point killed_at;
  int64_t serving_ms = -1;
  std::thread serving;
  const auto t0 = Clock::now();
  for (int i = 0; i < kSends; ++i) {
    ids.push_back(sender.gc.send_request("send", {{"channel", "discord"},
                                                  {"to", to},
                                                  {"message", "dc-" + std::to_string(i)},
                                                  {"idempotencyKey", "dc-" + std::to_string(i)}}));
    if (i % 10 == 0)
      tg_ids.push_back(
          sender.gc.send_request("send", {{"channel", "telegram"},
                                          {"to", "77"},
                                          {"message", "tg-" + std::to_string(i)},
                                          {"idempotencyKey", "tg-" + std::to_string(i)}}));
    if (i == kSends / 3) {
      ASSERT_TRUE(eventually([&] { return discord.stats()["messages_created"].get<int>() >= 20; },
                             10000, 5));
      killed_at = Clock::now();
      ASSERT_EQ(kill(worker_pid, SIGKILL), 0);
      serving = std::thread([&] {
        Client w(gw, 3000);
        eventually(
            [&] {
              return pid_of(w.gc, "discord") != worker_pid &&
                     account(w.gc, "discord").value("connected", false);
            },
            15000, 5);
        serving_ms = ms_since(killed_at);
      });
    }
  }
  int ok = 0, tg_ok = 0;
  for (const auto& id : ids) ok += sender.gc.wait_response(id, 30000).value("ok", false);
  for (const auto& id : tg_ids) tg_ok += sender.gc.wait_response(id, 30000).value("ok", false);
  const int64_t all_ms = ms_since(t0);
  if (serving.joinable()) serving.join();
  EXPECT_EQ(ok, kSends);
  EXPECT_EQ(tg_ok, static_cast<int>(tg_ids.size()));

  std::map<std::string, int> seen;
  ASSERT_TRUE(eventually([&] {
    seen.clear();
    const Json sent = discord.sent();
    for (const auto& m : sent["messages"]) {
      // Only the sends: the DM that opened the channel may get a pairing reply of its own.
      const std::string content = m.value("content", "");
      if (content.rfind("dc-", 0) == 0) seen[content]++;
    }
    return seen.size() == static_cast<size_t>(kSends);
  })) << seen.size();
  int dups = 0;
  for (const auto& [text, n] : seen) dups += n - 1;
  EXPECT_LE(dups, 1) << "duplicates beyond the one request in flight at the kill";
  // Telegram did not notice: same worker, never disconnected, everything delivered once.
  EXPECT_EQ(account(sender.gc, "telegram")["restarts"], 0);
  EXPECT_EQ(telegram.sent()["messages"].size(), tg_ids.size());
  const Json a = account(sender.gc, "discord");
  EXPECT_EQ(a["restarts"], 1);
  std::printf(
      "[ measure ] discord worker kill -9 -> serving again (new process, Gateway READY) after "
      "%lld ms; %d Discord sends in %lld ms (%.0f/s, kill included); duplicates: %d\n",
      static_cast<long long>(serving_ms), kSends, static_cast<long long>(all_ms),
      kSends * 1000.0 / static_cast<double>(all_ms), dups);
}

// The "add" lines of the worker's inbound journal.
int journaled(const GatewayProcess& gw) {
  std::ifstream in(gw.state_dir() + "/discord/default/inbound.jsonl");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.rfind("{\"add\"", 0) == 0;
  return n;
}

TEST(Faults, MessagesTheFrontHadNotAcknowledgedSurviveKillingTheDiscordWorker) {
  FakeModels models;
  DiscordEmulator discord;
  Json cfg = models.config();
  Json section = discord.channel_config();
  section["dmPolicy"] = "allowlist";
  section["allowFrom"] = {"1001"};
  cfg["channels"] = {{"discord", section}};
  GatewayProcess gw({}, cfg.dump());
  int worker_pid = 0, front_pid = 0;
  ASSERT_TRUE(eventually([&] {
    try {
      Client c(gw, 3000);
      worker_pid = pid_of(c.gc, "discord");
      front_pid = pid_of(c.gc, "front");
      return account(c.gc, "discord").value("connected", false) && worker_pid > 0 && front_pid > 0;
    } catch (...) {
      return false;
    }
  })) << gw.output();
  // The front stops reading: what the worker receives now, nobody acknowledges.
  ASSERT_EQ(kill(front_pid, SIGSTOP), 0);
  discord.dm("1001", "kept one");
  discord.dm("1001", "kept two");
  const bool held = eventually([&] { return journaled(gw) >= 2; }, 10000, 5);
  // Both die holding them: the worker first (else a new front could take them from it), then
  // the front with whatever the worker had written into its socket.
  ASSERT_EQ(kill(worker_pid, SIGKILL), 0);
  ASSERT_EQ(kill(front_pid, SIGKILL), 0);
  ASSERT_TRUE(held) << "the worker journals what the front has not acknowledged";
  const std::string answer = "Hello from the fake model. You said: ";
  std::map<std::string, int> seen;
  ASSERT_TRUE(eventually(
      [&] {
        seen.clear();
        const Json sent = discord.sent();
        for (const auto& m : sent["messages"]) seen[m.value("content", "")]++;
        return seen.count(answer + "kept one") && seen.count(answer + "kept two");
      },
      30000))
      << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // a repeat would come by now
  seen.clear();
  const Json sent = discord.sent();
  for (const auto& m : sent["messages"]) seen[m.value("content", "")]++;
  EXPECT_EQ(seen[answer + "kept one"], 1);
  EXPECT_EQ(seen[answer + "kept two"], 1);
  Client c(gw, 3000);
  EXPECT_NE(pid_of(c.gc, "discord"), worker_pid);
  EXPECT_TRUE(eventually([&] { return journaled(gw) == 0; })) << "emptied once acknowledged";
}

}  // namespace
}  // namespace clawgate::test
