// Whole-gateway Discord tests: the real supervisor, front, agent and Discord worker processes
// against the local Discord emulator (REST + Gateway) and the fake model server: a DM answered
// by the agent, guild channels with and without a mention, guild and channel keys by name, a
// thread no event announced, other bots ignored, a dropped
// connection resumed without a duplicate, a zombied connection (ACK withheld), rate limits,
// and the close codes that end the worker with exit 78.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "discord_emulator.hpp"
#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

using Json = nlohmann::json;

constexpr const char* kUser = "1001";
constexpr const char* kGuild = "10";
constexpr const char* kChannel = "20";
const std::string kAnswer = "Hello from the fake model. You said: ";

Json discord_account(GatewayClient& c) {
  const Json s = c.call("channels.status");
  const Json& a = s["channelAccounts"]["discord"];
  return a.is_array() && !a.empty() ? a[0] : Json::object();
}

bool discord_connected(const GatewayProcess& gw) {
  try {
    Client c(gw, 3000);
    return discord_account(c.gc).value("connected", false);
  } catch (const std::exception&) {
    return false;
  }
}

// The gateway with the fake model and channels.discord = the emulator's section + `extra`.
std::string config_for(const FakeModels& models, const DiscordEmulator& emu,
                       const Json& extra = Json::object()) {
  Json cfg = models.config();
  Json discord = emu.channel_config();
  discord.update(extra);
  cfg["channels"] = {{"discord", discord}};
  return cfg.dump();
}

std::vector<std::string> contents(DiscordEmulator& emu) {
  std::vector<std::string> out;
  const Json sent = emu.sent();  // held: a range over a temporary's member would dangle
  for (const auto& m : sent["messages"]) out.push_back(m["content"]);
  return out;
}

// Nothing more reaches Discord for a while (a negative check with a bounded wait).
bool stays_at(DiscordEmulator& emu, size_t n, int ms = 600) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return emu.sent()["messages"].size() == n;
}

const Json kGuildConfig = {
    {"groupPolicy", "allowlist"},
    {"guilds",
     {{kGuild,
       {{"requireMention", true},
        {"channels", {{kChannel, {{"enabled", true}}}, {"30", {{"requireMention", false}}}}}}}}}};

TEST(Discord, ADmIsAnsweredByTheAgentInTheSameDm) {
  FakeModels models;
  DiscordEmulator emu;
  GatewayProcess gw({},
                    config_for(models, emu, {{"dmPolicy", "allowlist"}, {"allowFrom", {kUser}}}));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  const Json dm = emu.dm(kUser, "what time is it? 几点了");
  ASSERT_TRUE(eventually([&] { return !emu.sent()["messages"].empty(); })) << gw.output();
  const Json sent = emu.sent()["messages"];
  EXPECT_EQ(sent[0]["channel_id"], dm["channel_id"]);
  EXPECT_EQ(sent[0]["content"], kAnswer + "what time is it? 几点了");
  EXPECT_GE(emu.stats()["typing"].get<int>(), 1) << "typing shown while the run was in progress";
  // The bot's own message comes back as MESSAGE_CREATE (as Discord sends it): not a new turn.
  EXPECT_TRUE(stays_at(emu, 1));
  Client c(gw);
  const Json a = discord_account(c.gc);
  EXPECT_EQ(a["mode"], "gateway");
  EXPECT_EQ(a["name"], "@clawbot");
  EXPECT_TRUE(a["probe"]["ok"]);
  EXPECT_FALSE(a["probe"]["lastEventAt"].is_null());
  // A stranger gets nothing in allowlist mode, and `send` reaches a user by DM.
  emu.dm("4242", "hello?");
  EXPECT_TRUE(stays_at(emu, 1));
  const Json r = c.gc.call("send", {{"channel", "discord"},
                                    {"to", std::string("user:") + kUser},
                                    {"message", "a note"},
                                    {"idempotencyKey", "dc-send-1"}});
  EXPECT_EQ(r["status"], "sent") << r.dump();
  EXPECT_EQ(emu.sent()["messages"].back()["channel_id"], dm["channel_id"]);
}

TEST(Discord, GuildChannelsAnswerMentionsOnlyWhereListed) {
  FakeModels models;
  DiscordEmulator emu;
  GatewayProcess gw({}, config_for(models, emu, kGuildConfig));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  // Without a mention: kept as context, not answered.
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", kUser},
              {"content", "just chatting"}});
  EXPECT_TRUE(stays_at(emu, 0));
  // With a mention of the bot: answered in that channel.
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", kUser},
              {"content", "where is the meeting?"},
              {"mention_bot", true}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
  Json sent = emu.sent()["messages"];
  EXPECT_EQ(sent[0]["channel_id"], kChannel);
  EXPECT_NE(sent[0]["content"].get<std::string>().find("where is the meeting?"), std::string::npos);
  // A mention of the bot's managed role counts too.
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", kUser},
              {"content", "<@&role> status?"},
              {"mention_role", true}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 2; })) << gw.output();
  // A channel of the guild that is not listed: nothing, even mentioned.
  emu.inject({{"guild_id", kGuild},
              {"channel_id", "21"},
              {"author_id", kUser},
              {"content", "hello?"},
              {"mention_bot", true}});
  EXPECT_TRUE(stays_at(emu, 2));
  // A listed channel with requireMention false: answered without a mention.
  emu.inject({{"guild_id", kGuild},
              {"channel_id", "30"},
              {"author_id", kUser},
              {"content", "no mention needed"}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 3; })) << gw.output();
  EXPECT_EQ(emu.sent()["messages"][2]["channel_id"], "30");
  // Another guild: not in guilds, nothing.
  emu.inject({{"guild_id", "11"},
              {"channel_id", "40"},
              {"author_id", kUser},
              {"content", "hi"},
              {"mention_bot", true}});
  EXPECT_TRUE(stays_at(emu, 3));
  // The session is the channel's, as upstream keys it.
  Client c(gw);
  const Json list = c.gc.call("sessions.list");
  bool found = false;
  for (const auto& s : list["sessions"])
    found = found || s["key"] == std::string("agent:main:discord:channel:") + kChannel;
  EXPECT_TRUE(found) << list.dump();
}

// As upstream: a guild key may be the slug of the guild's name, a channel key its name or slug,
// and a thread no event announced is looked up (GET /channels/{id}) and follows its parent.
TEST(Discord, GuildsAndChannelsMatchByNameAndAnUnannouncedThreadFollowsItsParent) {
  FakeModels models;
  DiscordEmulator emu;
  const Json guilds = {
      {"groupPolicy", "allowlist"},
      {"guilds",
       {{"my-server",
         {{"channels",
           {{"support", {{"requireMention", false}}}, {"#random", {{"enabled", true}}}}}}}}}};
  GatewayProcess gw({}, config_for(models, emu, guilds));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  const Json names = {{"12", "My Server"}, {"50", "Support"}, {"51", "random"}, {"52", "help"}};
  // "Support" is the channel's name; its slug "support" is the key: answered without a mention.
  emu.inject({{"guild_id", "12"},
              {"channel_id", "50"},
              {"names", names},
              {"author_id", kUser},
              {"content", "مرحبا, is the printer fixed? 🖨️"}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
  EXPECT_EQ(emu.sent()["messages"][0]["channel_id"], "50");
  // "#random" never matches (a warning says so): channel 51 is not listed, even mentioned.
  emu.inject({{"guild_id", "12"},
              {"channel_id", "51"},
              {"names", names},
              {"author_id", kUser},
              {"content", "anyone?"},
              {"mention_bot", true}});
  EXPECT_TRUE(stays_at(emu, 1));
  EXPECT_NE(gw.output().find("starts with '#'"), std::string::npos) << gw.output();
  // A thread of "Support" that no event announced: looked up, then answered as its parent is.
  const int lookups = emu.stats()["channel_lookups"].get<int>();
  emu.inject({{"guild_id", "12"},
              {"channel_id", "52"},
              {"thread_parent", "50"},
              {"silent_thread", true},
              {"names", names},
              {"author_id", kUser},
              {"content", "线程里的问题"}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 2; })) << gw.output();
  EXPECT_EQ(emu.sent()["messages"][1]["channel_id"], "52");
  EXPECT_EQ(emu.stats()["channel_lookups"].get<int>(), lookups + 1);
  // Known now: the next message in the thread needs no second look-up.
  emu.inject({{"guild_id", "12"},
              {"channel_id", "52"},
              {"thread_parent", "50"},
              {"silent_thread", true},
              {"author_id", kUser},
              {"content", "and another"}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 3; })) << gw.output();
  EXPECT_EQ(emu.stats()["channel_lookups"].get<int>(), lookups + 1);
  // Another guild whose name has no slug in common: not listed, nothing.
  emu.inject({{"guild_id", "13"},
              {"channel_id", "60"},
              {"names", {{"13", "我的服务器"}, {"60", "support"}}},
              {"author_id", kUser},
              {"content", "hi"},
              {"mention_bot", true}});
  EXPECT_TRUE(stays_at(emu, 3));
}

TEST(Discord, OtherBotsAreIgnoredUnlessAllowBots) {
  FakeModels models;
  DiscordEmulator emu;
  Json cfg = kGuildConfig;
  GatewayProcess gw({}, config_for(models, emu, cfg));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", "555"},
              {"bot", true},
              {"content", "beep"},
              {"mention_bot", true}});
  EXPECT_TRUE(stays_at(emu, 0)) << "allowBots is off by default";
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", kUser},
              {"content", "human here"},
              {"mention_bot", true}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
  EXPECT_EQ(emu.sent()["messages"][0]["content"],
            kAnswer + "<@" + DiscordEmulator::kBotId + "> human here");
}

TEST(Discord, AllowBotsMentionsLetsInOnlyBotsThatMentionIt) {
  FakeModels models;
  DiscordEmulator emu;
  Json cfg = kGuildConfig;
  cfg["allowBots"] = "mentions";
  cfg["guilds"][kGuild]["requireMention"] = false;
  cfg["guilds"][kGuild]["channels"][kChannel]["requireMention"] = false;
  GatewayProcess gw({}, config_for(models, emu, cfg));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", "555"},
              {"bot", true},
              {"content", "beep"}});
  EXPECT_TRUE(stays_at(emu, 0));
  emu.inject({{"guild_id", kGuild},
              {"channel_id", kChannel},
              {"author_id", "555"},
              {"bot", true},
              {"content", "boop"},
              {"mention_bot", true}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
}

TEST(Discord, ADroppedConnectionResumesAndNothingIsAnsweredTwice) {
  FakeModels models;
  DiscordEmulator emu;
  GatewayProcess gw({}, config_for(models, emu, {{"dmPolicy", "open"}, {"allowFrom", {"*"}}}));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  emu.dm(kUser, "first");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
  // The TCP connection goes away without a close frame; a message arrives meanwhile.
  emu.gateway({{"action", "drop"}});
  emu.dm(kUser, "while away");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 2; })) << gw.output();
  EXPECT_EQ(contents(emu)[1], kAnswer + "while away");
  Json st = emu.stats();
  EXPECT_EQ(st["identify"], 1) << "resumed, not identified again: " << st.dump();
  EXPECT_GE(st["resumed"].get<int>(), 1);
  EXPECT_GE(st["replayed"].get<int>(), 1) << "the missed message came with the resume";
  // A duplicated dispatch, and a RECONNECT request (op 7): still one answer each.
  emu.inject({{"author_id", kUser}, {"content", "twice?"}, {"duplicate", true}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 3; })) << gw.output();
  emu.gateway({{"action", "reconnect"}});
  ASSERT_TRUE(eventually([&] { return emu.stats()["resumed"].get<int>() >= 2; })) << gw.output();
  emu.dm(kUser, "after reconnect");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 4; })) << gw.output();
  EXPECT_TRUE(stays_at(emu, 4));
  // A non-resumable invalid session: a fresh identify, still serving.
  emu.gateway({{"action", "invalid_session"}, {"resumable", false}});
  ASSERT_TRUE(eventually([&] { return emu.stats()["identify"].get<int>() == 2; }, 10000))
      << gw.output();
  emu.dm(kUser, "fresh session");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 5; })) << gw.output();
}

TEST(Discord, AZombiedConnectionIsClosedAndResumed) {
  FakeModels models;
  DiscordEmulator emu;
  emu.faults({{"heartbeat_interval", 1000}, {"withhold_ack", 1}});
  GatewayProcess gw({}, config_for(models, emu, {{"dmPolicy", "open"}, {"allowFrom", {"*"}}}));
  ASSERT_TRUE(eventually([&] { return emu.stats()["resumed"].get<int>() >= 1; }, 8000))
      << "the missed ACK closes the connection and the session resumes: " << gw.output();
  EXPECT_EQ(emu.stats()["identify"], 1);
  emu.dm(kUser, "still there?");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
}

TEST(Discord, RateLimitsAreWaitedOutAndTheMessageGoesOnce) {
  FakeModels models;
  DiscordEmulator emu;
  GatewayProcess gw({}, config_for(models, emu, {{"dmPolicy", "open"}, {"allowFrom", {"*"}}}));
  ASSERT_TRUE(eventually([&] { return discord_connected(gw); })) << gw.output();
  emu.faults({{"rate_limit", {{"count", 2}, {"retry_after", 0.3}, {"route", "/messages"}}}});
  emu.dm(kUser, "rate me");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 1; })) << gw.output();
  EXPECT_EQ(emu.stats()["rate_limited"], 2);
  emu.faults({{"rate_limit", {{"count", 1}, {"retry_after", 0.3}, {"global", true}}}});
  emu.dm(kUser, "global");
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 2; })) << gw.output();
  EXPECT_TRUE(stays_at(emu, 2, 300));
}

// Exit 78 (not restarted until the config changes) with the reason in channels.status and
// the log.
void expect_config_exit(DiscordEmulator& emu, const std::string& needle,
                        const std::string& needle2) {
  FakeModels models;
  GatewayProcess gw({}, config_for(models, emu));
  Client c(gw);
  Json a;
  ASSERT_TRUE(eventually([&] {
    a = discord_account(c.gc);
    return a.value("state", "") == "stopped";
  })) << a.dump()
      << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  a = discord_account(c.gc);
  EXPECT_EQ(a["state"], "stopped");
  EXPECT_EQ(a["restarts"], 0) << "exit 78 is not retried";
  const std::string err = a["lastError"].is_string() ? a["lastError"].get<std::string>() : "";
  EXPECT_NE(err.find(needle), std::string::npos) << err;
  EXPECT_NE(err.find(needle2), std::string::npos) << err;
  EXPECT_NE(gw.output().find(needle2), std::string::npos) << gw.output();
}

TEST(Discord, ARejectedTokenExits78NamingTheKey) {
  DiscordEmulator emu;
  emu.faults({{"gateway_reject_token", true}});  // close 4004 at IDENTIFY
  expect_config_exit(emu, "4004", "channels.discord.token");
}

TEST(Discord, ADisallowedIntentExits78NamingThePortalSwitch) {
  DiscordEmulator emu;
  emu.faults({{"disallow_intents", true}});  // close 4014
  expect_config_exit(emu, "4014", "Message Content Intent");
}

}  // namespace
}  // namespace clawgate::test
