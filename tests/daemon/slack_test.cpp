// Whole-gateway Slack tests: the real supervisor, front, agent and Slack worker processes against
// the local Slack emulator (Web API + Socket Mode) and the fake model server: a DM answered in
// the DM, a channel answered only when the bot is mentioned, a thread answered in its thread,
// a refresh_requested disconnect that neither loses nor repeats an event, and tokens Slack
// refuses ending the worker with exit 78 naming the key.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "gateway_process.hpp"
#include "slack_emulator.hpp"
#include "telegram_emulator.hpp"  // FakeModels
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

constexpr const char* kUser = "U0USER001";
constexpr const char* kChannel = "C0CHAN001";

Json slack_account(GatewayClient& c) {
  const Json s = c.call("channels.status");
  const Json& list = s["channelAccounts"]["slack"];
  return list.is_array() && !list.empty() ? list[0] : Json::object();
}

bool slack_connected(GatewayClient& c) {
  return slack_account(c).value("connected", false);
}

// Models + Slack, DMs open to kUser, the channel kChannel allowed with requireMention.
Json gateway_config(const FakeModels& models, const SlackEmulator& emu) {
  Json cfg = models.config();
  Json slack = emu.channel_config();
  slack["dmPolicy"] = "allowlist";
  slack["allowFrom"] = {kUser};
  slack["groupPolicy"] = "allowlist";
  slack["channels"] = {{kChannel, {{"requireMention", true}}}};
  cfg["channels"] = {{"slack", slack}};
  return cfg;
}

std::string answer(const std::string& text) {
  return "Hello from the fake model. You said: " + text;
}

Json wait_sent(SlackEmulator& emu, size_t n, GatewayProcess& gw) {
  Json sent;
  EXPECT_TRUE(eventually([&] {
    sent = emu.sent()["messages"];
    return sent.size() >= n;
  })) << gw.output();
  return sent;
}

TEST(Slack, ADirectMessageIsAnsweredInTheDm) {
  FakeModels models;
  SlackEmulator emu;
  GatewayProcess gw({}, gateway_config(models, emu).dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return slack_connected(c.gc); })) << gw.output();
  emu.dm(kUser, "你好 — what time is it? 😀");
  const Json sent = wait_sent(emu, 1, gw);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["channel"], "D0USER001");
  EXPECT_EQ(sent[0]["text"], answer("你好 — what time is it? 😀"));
  EXPECT_TRUE(sent[0]["thread_ts"].is_null());
  // The reply came back as an event (Slack echoes the app's own posts): never answered.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(emu.sent()["messages"].size(), 1u);
  EXPECT_EQ(models.requests()["requests"].size(), 1u);
  const Json a = slack_account(c.gc);
  EXPECT_TRUE(a["connected"]);
  EXPECT_GT(a.value("lastInboundAt", int64_t{0}), 0) << a.dump();
  // The live probe: the Web API's round trip is known, nothing is rate limited.
  EXPECT_TRUE(a["probe"]["latencyMs"].is_number()) << a.dump();
  EXPECT_EQ(a["probe"].value("rateLimited", true), false) << a.dump();
  EXPECT_TRUE(a["probe"]["lastEventAt"].is_number()) << a.dump();
  const Json status = c.gc.call("status");
  for (const auto& p : status["processes"])
    if (p["name"] == "slack")
      std::printf("[ measure ] slack worker RSS after one DM answered: %.1f MiB\n",
                  p.value("rssBytes", 0) / 1048576.0);
}

TEST(Slack, AChannelIsAnsweredOnlyWhenTheBotIsMentionedAndAThreadInItsThread) {
  FakeModels models;
  SlackEmulator emu;
  GatewayProcess gw({}, gateway_config(models, emu).dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return slack_connected(c.gc); })) << gw.output();
  const std::string at = std::string("<@") + SlackEmulator::kBotUser + ">";
  emu.inject({{"channel", kChannel}, {"user", kUser}, {"text", "just chatting, no mention"}});
  emu.inject({{"channel", "C0OTHER01"}, {"user", kUser}, {"text", at + " not an allowed channel"}});
  emu.inject({{"channel", kChannel}, {"user", kUser}, {"text", at + " مرحبا, where is it?"}});
  Json sent = wait_sent(emu, 1, gw);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // nothing else is coming
  sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["channel"], kChannel);
  // The mention arrives as message + app_mention: answered once, with Slack's own markup.
  EXPECT_EQ(sent[0]["text"], answer(at + " مرحبا, where is it?"));
  EXPECT_TRUE(sent[0]["thread_ts"].is_null()) << "a top-level message is answered top-level";
  // The unaddressed message reached the model as context.
  const std::string body = models.requests()["requests"][0]["body"].dump(-1, ' ', false);
  EXPECT_NE(body.find("just chatting, no mention"), std::string::npos) << body;
  EXPECT_EQ(body.find("not an allowed channel"), std::string::npos) << body;

  // A reply in a thread is answered in that thread.
  const std::string root = "1700000000.000001";
  emu.inject({{"channel", kChannel},
              {"user", kUser},
              {"text", at + " and in a thread?"},
              {"thread_ts", root},
              {"parent_user_id", kUser}});
  sent = wait_sent(emu, 2, gw);
  ASSERT_EQ(sent.size(), 2u) << sent.dump();
  EXPECT_EQ(sent[1]["channel"], kChannel);
  EXPECT_EQ(sent[1]["thread_ts"], root);
  EXPECT_EQ(sent[1]["text"], answer(at + " and in a thread?"));
}

TEST(Slack, RefreshRequestedMovesToANewConnectionWithoutLosingOrRepeatingAnEvent) {
  FakeModels models;
  SlackEmulator emu;
  GatewayProcess gw({}, gateway_config(models, emu).dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return slack_connected(c.gc); })) << gw.output();
  emu.faults({{"ack_timeout_ms", 1000}, {"no_echo", true}});
  emu.dm(kUser, "before");
  wait_sent(emu, 1, gw);
  // Slack asks to refresh and closes the old connection 1.5 s later; events keep coming while
  // the worker opens the new one.
  emu.disconnect({{"reason", "refresh_requested"}, {"close_after_ms", 1500}});
  for (int i = 0; i < 6; ++i) {
    emu.dm(kUser, "during " + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  emu.dm(kUser, "after");
  std::set<std::string> want = {"before", "after"};
  for (int i = 0; i < 6; ++i) want.insert("during " + std::to_string(i));
  Json sent;
  ASSERT_TRUE(eventually(
      [&] {
        sent = emu.sent()["messages"];
        return sent.size() >= want.size();
      },
      20000))
      << sent.dump() << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  sent = emu.sent()["messages"];
  std::multiset<std::string> got;
  for (const auto& m : sent) got.insert(m["text"].get<std::string>());
  for (const auto& w : want) EXPECT_EQ(got.count(answer(w)), 1u) << w << ": " << sent.dump();
  EXPECT_EQ(sent.size(), want.size());
  const Json st = emu.stats();
  EXPECT_EQ(st["connections_opened"], 2) << st.dump();
  EXPECT_EQ(st["open_connections"], 1) << st.dump();
  EXPECT_EQ(st["max_open_connections"], 2) << "the new one opened before the old one closed";
  EXPECT_EQ(st["envelopes_dropped"], 0);
  EXPECT_TRUE(slack_connected(c.gc));
}

// A token Slack refuses is configuration, not the network: exit 78 (not restarted), and the
// message names the key to fix.
TEST(Slack, TokensSlackRefusesEndTheWorkerWithExit78NamingTheKey) {
  for (const char* key : {"botToken", "appToken"}) {
    SCOPED_TRACE(key);
    SlackEmulator emu;
    Json slack = emu.channel_config();
    slack[key] = std::string(key) == "botToken" ? "xoxb-wrong" : "xapp-1-wrong";
    GatewayProcess gw({}, Json{{"channels", {{"slack", slack}}}}.dump());
    Client c(gw);
    ASSERT_TRUE(eventually([&] { return slack_account(c.gc).value("state", "") == "stopped"; }))
        << slack_account(c.gc).dump() << gw.output();
    const Json a = slack_account(c.gc);
    EXPECT_EQ(a["restarts"], 0);
    EXPECT_NE(a["lastError"].get<std::string>().find("78"), std::string::npos) << a.dump();
    EXPECT_TRUE(gw.wait_output(key, 2000)) << gw.output();
  }
}

}  // namespace
}  // namespace clawgate::test
