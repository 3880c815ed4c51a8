// Unit tests: group access (wsfront/access.hpp): groupPolicy x sender allowlists x mention
// gating x per-group overrides, one named case per row, as a channel owner would configure it.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "channel_config.hpp"
#include "core/access.hpp"

namespace clawgate::core {
namespace {

constexpr const char* kOwner = "111";     // in channels.telegram.allowFrom
constexpr const char* kStranger = "999";  // in no list
constexpr const char* kGroup = "-1001234567890";

struct Case {
  const char* what;
  std::function<void(ChannelSettings&)> configure;
  std::string sender;
  bool addressed;
  GroupDecision::Kind expected;
};

GroupEntry entry(std::optional<bool> require_mention = std::nullopt) {
  GroupEntry g;
  g.require_mention = require_mention;
  return g;
}

TEST(GroupAccess, EveryCombinationOfPolicyAllowlistMentionAndGroupEntry) {
  using K = GroupDecision::Kind;
  const auto listed = [](ChannelSettings& c) { c.groups[kGroup] = entry(); };
  const std::vector<Case> cases = {
      // groupPolicy allowlist (the default): the chat must be listed, the sender allowed.
      {"allowlist, no groups: every group is blocked", [](ChannelSettings&) {}, kOwner, true,
       K::drop},
      {"allowlist, group listed, owner mentions the bot", listed, kOwner, true, K::trigger},
      {"allowlist, group listed, owner does not mention the bot", listed, kOwner, false,
       K::context},
      {"allowlist, group listed, stranger mentions the bot", listed, kStranger, true, K::drop},
      {"allowlist, group listed, stranger talks without mention", listed, kStranger, false,
       K::drop},
      {"allowlist, \"*\", owner mentions", [](ChannelSettings& c) { c.groups["*"] = entry(); },
       kOwner, true, K::trigger},
      {"allowlist, \"*\", stranger mentions", [](ChannelSettings& c) { c.groups["*"] = entry(); },
       kStranger, true, K::drop},
      {"allowlist, group listed by id and no sender list at all: any member",
       [](ChannelSettings& c) {
         c.allow_from.clear();
         c.groups[kGroup] = entry();
       },
       kStranger, true, K::trigger},
      {"allowlist, only \"*\" and no sender list: nobody",
       [](ChannelSettings& c) {
         c.allow_from.clear();
         c.groups["*"] = entry();
       },
       kStranger, true, K::drop},
      {"groupAllowFrom replaces allowFrom in groups (stranger listed)",
       [](ChannelSettings& c) {
         c.groups[kGroup] = entry();
         c.group_allow_from = std::vector<std::string>{kStranger};
       },
       kStranger, true, K::trigger},
      {"groupAllowFrom replaces allowFrom in groups (owner not listed)",
       [](ChannelSettings& c) {
         c.groups[kGroup] = entry();
         c.group_allow_from = std::vector<std::string>{kStranger};
       },
       kOwner, true, K::drop},
      {"groupAllowFrom [\"*\"]: any member of an allowed group",
       [](ChannelSettings& c) {
         c.groups[kGroup] = entry();
         c.group_allow_from = std::vector<std::string>{"*"};
       },
       kStranger, true, K::trigger},
      {"a username entry never matches (usernames change hands)",
       [](ChannelSettings& c) {
         c.groups[kGroup] = entry();
         c.group_allow_from = std::vector<std::string>{"@alice"};
       },
       kStranger, true, K::drop},
      // groupPolicy open: any group, any sender; mention gating still applies.
      {"open, no groups, stranger mentions", [](ChannelSettings& c) { c.group_policy = "open"; },
       kStranger, true, K::trigger},
      {"open, no groups, stranger without mention is context",
       [](ChannelSettings& c) { c.group_policy = "open"; }, kStranger, false, K::context},
      {"open, but a groups map lists only another group",
       [](ChannelSettings& c) {
         c.group_policy = "open";
         c.groups["-42"] = entry();
       },
       kStranger, true, K::drop},
      // groupPolicy disabled.
      {"disabled, even a listed group and the owner",
       [](ChannelSettings& c) {
         c.group_policy = "disabled";
         c.groups[kGroup] = entry(false);
       },
       kOwner, true, K::drop},
      {"disabled for the channel, groupPolicy open for this group",
       [](ChannelSettings& c) {
         c.group_policy = "disabled";
         c.groups[kGroup].group_policy = "open";
       },
       kStranger, true, K::trigger},
      // Per-group entries.
      {"group enabled: false", [](ChannelSettings& c) { c.groups[kGroup].enabled = false; }, kOwner,
       true, K::drop},
      {"\"*\" disabled, but the exact entry replaces \"*\"",
       [](ChannelSettings& c) {
         c.groups["*"].enabled = false;
         c.groups[kGroup] = entry();
       },
       kOwner, true, K::trigger},
      {"\"*\" disabled and no exact entry",
       [](ChannelSettings& c) {
         c.groups["*"].enabled = false;
         c.groups["-42"] = entry();
       },
       kOwner, true, K::drop},
      {"requireMention false: every allowed message triggers",
       [](ChannelSettings& c) { c.groups[kGroup] = entry(false); }, kOwner, false, K::trigger},
      {"requireMention false does not let strangers in",
       [](ChannelSettings& c) { c.groups[kGroup] = entry(false); }, kStranger, false, K::drop},
      {"requireMention from \"*\"", [](ChannelSettings& c) { c.groups["*"] = entry(false); },
       kOwner, false, K::trigger},
      {"an exact requireMention beats \"*\"",
       [](ChannelSettings& c) {
         c.groups["*"] = entry(false);
         c.groups[kGroup] = entry(true);
       },
       kOwner, false, K::context},
      {"group allowFrom lists the stranger",
       [](ChannelSettings& c) {
         c.groups[kGroup].allow_from = std::vector<std::string>{kStranger};
       },
       kStranger, true, K::trigger},
      {"group allowFrom replaces allowFrom for the owner too",
       [](ChannelSettings& c) {
         c.groups[kGroup].allow_from = std::vector<std::string>{kStranger};
       },
       kOwner, true, K::drop},
      {"group allowFrom applies even with groupPolicy open",
       [](ChannelSettings& c) {
         c.group_policy = "open";
         c.groups[kGroup].allow_from = std::vector<std::string>{kOwner};
       },
       kStranger, true, K::drop},
      {"groupPolicy open for one group: any member (docs example)",
       [](ChannelSettings& c) {
         c.groups[kGroup].group_policy = "open";
         c.groups[kGroup].require_mention = false;
       },
       kStranger, false, K::trigger},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    ChannelSettings c;
    c.name = "telegram";
    c.allow_from = {kOwner};
    k.configure(c);
    const GroupDecision d = decide_group(c, {kGroup, k.sender, k.addressed});
    EXPECT_EQ(d.kind, k.expected) << d.reason;
    if (d.kind != GroupDecision::trigger) {
      EXPECT_FALSE(d.reason.empty());
    }
  }
}

TEST(GroupAccess, ReasonsNameTheGroupAndTheSender) {
  ChannelSettings c;
  c.name = "telegram";
  c.allow_from = {kOwner};
  GroupDecision d = decide_group(c, {kGroup, kOwner, true});
  EXPECT_NE(d.reason.find(kGroup), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("groups"), std::string::npos) << "says which key to set: " << d.reason;
  c.groups[kGroup] = entry();
  d = decide_group(c, {kGroup, kStranger, true});
  EXPECT_NE(d.reason.find(kStranger), std::string::npos) << d.reason;
}

// Discord's model: guilds are groups of channels (groups_by_group_id), each guild with optional
// users/roles and an optional channels map that, once present, is an allowlist.
TEST(GroupAccess, GuildsAreGroupsOfChannelsWithUsersRolesAndMentions) {
  using K = GroupDecision::Kind;
  constexpr const char* kGuild = "10";
  ChannelSettings base;
  base.name = "discord";
  base.groups_by_group_id = true;
  base.groups_key = "guilds";
  base.group_senders_from_allow_from = false;
  base.allow_from = {kOwner};  // DM list: never consulted in guilds
  auto facts = [&](const std::string& chat, const std::string& sender, bool addressed,
                   std::vector<std::string> roles = {}, const std::string& parent = "") {
    GroupFacts f(chat, sender, addressed);
    f.group_id = kGuild;
    f.parent_chat_id = parent;
    f.sender_roles = std::move(roles);
    return f;
  };
  struct Row {
    const char* what;
    std::function<void(ChannelSettings&)> configure;
    GroupFacts f;
    K expected;
  };
  const auto listed = [&](ChannelSettings& c) { c.groups[kGuild] = entry(); };
  const auto with_channels = [&](ChannelSettings& c) {
    c.groups[kGuild] = entry();
    c.groups[kGuild].channels["20"].require_mention = false;
    c.groups[kGuild].channels["21"].enabled = false;
  };
  const std::vector<Row> rows = {
      {"guild not listed: dropped", [](ChannelSettings&) {}, facts("20", kStranger, true), K::drop},
      {"listed guild, no users/roles: any member, mentioned", listed, facts("20", kStranger, true),
       K::trigger},
      {"listed guild, not mentioned: context", listed, facts("20", kStranger, false), K::context},
      {"\"*\" guild", [](ChannelSettings& c) { c.groups["*"] = entry(false); },
       facts("99", kStranger, false), K::trigger},
      {"guild disabled", [&](ChannelSettings& c) { c.groups[kGuild].enabled = false; },
       facts("20", kOwner, true), K::drop},
      {"users set: a stranger is dropped",
       [&](ChannelSettings& c) { c.groups[kGuild].allow_from = std::vector<std::string>{kOwner}; },
       facts("20", kStranger, true), K::drop},
      {"roles set: a stranger with the role passes",
       [&](ChannelSettings& c) {
         c.groups[kGuild].allow_from = std::vector<std::string>{kOwner};
         c.groups[kGuild].roles = std::vector<std::string>{"77"};
       },
       facts("20", kStranger, true, {"5", "77"}), K::trigger},
      {"roles set: without the role, dropped",
       [&](ChannelSettings& c) { c.groups[kGuild].roles = std::vector<std::string>{"77"}; },
       facts("20", kStranger, true, {"5"}), K::drop},
      {"channels map: a listed channel without mention requirement", with_channels,
       facts("20", kStranger, false), K::trigger},
      {"channels map: an unlisted channel is dropped", with_channels, facts("22", kStranger, true),
       K::drop},
      {"channels map: a disabled channel is dropped", with_channels, facts("21", kOwner, true),
       K::drop},
      {"channels map: a thread uses its parent's entry", with_channels,
       facts("500", kStranger, false, {}, "20"), K::trigger},
      {"channels map: \"*\" keeps the rest",
       [&](ChannelSettings& c) {
         with_channels(c);
         c.groups[kGuild].channels["*"] = {};
       },
       facts("22", kStranger, false), K::context},
      {"a channel's users replace the guild's",
       [&](ChannelSettings& c) {
         c.groups[kGuild].allow_from = std::vector<std::string>{kOwner};
         c.groups[kGuild].channels["20"].allow_from = std::vector<std::string>{"*"};
       },
       facts("20", kStranger, true), K::trigger},
      {"groupPolicy disabled",
       [&](ChannelSettings& c) {
         listed(c);
         c.group_policy = "disabled";
       },
       facts("20", kOwner, true), K::drop},
      {"groupPolicy open, empty guilds: any guild",
       [](ChannelSettings& c) { c.group_policy = "open"; }, facts("20", kStranger, true),
       K::trigger},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    ChannelSettings c = base;
    r.configure(c);
    const GroupDecision d = decide_group(c, r.f);
    EXPECT_EQ(d.kind, r.expected) << d.reason;
    if (d.kind != K::trigger) {
      EXPECT_FALSE(d.reason.empty());
    }
  }
}

}  // namespace
}  // namespace clawgate::core

namespace clawgate::core {
namespace {

// Slack: channels keyed by id with their users; a thread (its own chat, <channel>:thread:<ts>)
// follows its channel's entry; no fallback to allowFrom for channel senders.
TEST(GroupAccess, SlackChannelsAndTheirThreads) {
  ChannelSettings c;
  c.name = "slack";
  c.groups_key = "channels";
  c.group_senders_from_allow_from = false;
  c.allow_from = {"U0OWNER01"};
  GroupEntry open_channel = entry(true);
  GroupEntry users_only = entry(false);
  users_only.allow_from = std::vector<std::string>{"U0FRIEND1"};
  c.groups["C0OPEN001"] = open_channel;
  c.groups["C0USERS01"] = users_only;
  auto decide = [&](const std::string& chat, const std::string& parent, const std::string& who,
                    bool addressed) {
    GroupFacts f{chat, who, addressed};
    f.parent_chat_id = parent;
    return decide_group(c, f).kind;
  };
  using K = GroupDecision::Kind;
  EXPECT_EQ(decide("C0OPEN001", "", "U0ANYONE1", true), K::trigger) << "no users: every member";
  EXPECT_EQ(decide("C0OPEN001", "", "U0ANYONE1", false), K::context);
  EXPECT_EQ(decide("C0OPEN001:thread:1.2", "C0OPEN001", "U0ANYONE1", true), K::trigger)
      << "a thread follows its channel";
  EXPECT_EQ(decide("C0OTHER01:thread:1.2", "C0OTHER01", "U0OWNER01", true), K::drop)
      << "a thread of an unlisted channel is not let in by its own id";
  EXPECT_EQ(decide("C0USERS01", "", "U0FRIEND1", false), K::trigger);
  EXPECT_EQ(decide("C0USERS01:thread:3.4", "C0USERS01", "U0OWNER01", true), K::drop)
      << "the channel's users, not allowFrom";
}

}  // namespace
}  // namespace clawgate::core

namespace clawgate::core {
namespace {

TEST(GroupAccess, PlaceSlugsAreUpstreams) {
  EXPECT_EQ(place_slug("My Server!"), "my-server");
  EXPECT_EQ(place_slug("  #General  "), "general");
  EXPECT_EQ(place_slug("--a__b--c--"), "a-b-c");
  EXPECT_EQ(place_slug("Café ☕ Crew"), "caf-crew") << "é is not a-z: a gap, as upstream";
  EXPECT_EQ(place_slug("我的服务器"), "") << "another script has no slug";
  EXPECT_EQ(place_slug("مرحبا 2024"), "2024");
  EXPECT_EQ(place_slug("\xE2\x84\xAA"), "k") << "the Kelvin sign lowercases to k in JavaScript";
  EXPECT_EQ(place_slug("\xFF\xFE"
                       "ab"),
            "ab")
      << "invalid bytes are gaps";
  EXPECT_EQ(place_slug(""), "");
}

// Discord: a guild by id, else by its name's slug; a chat by id, name or slug; a thread by its
// own id only, else as its parent by id, name or slug.
TEST(GroupAccess, DiscordKeysMayBeNamesAndSlugs) {
  using K = GroupDecision::Kind;
  ChannelSettings c;
  c.name = "discord";
  c.groups_by_group_id = true;
  c.groups_key = "guilds";
  c.group_senders_from_allow_from = false;
  GroupEntry server = entry(false);
  server.channels["support"].require_mention = false;
  server.channels["Ops Room"] = {};
  server.channels["60"].require_mention = true;
  c.groups["my-server"] = server;
  GroupEntry by_id = entry(true);
  c.groups["11"] = by_id;
  c.groups["other-name"] = entry(false);
  auto facts = [](std::string guild, std::string guild_name, std::string chat,
                  std::string chat_name, std::string parent = "", std::string parent_name = "") {
    GroupFacts f(std::move(chat), "1001", false);
    f.group_id = std::move(guild);
    f.group_name = std::move(guild_name);
    f.chat_name = std::move(chat_name);
    f.parent_chat_id = std::move(parent);
    f.parent_chat_name = std::move(parent_name);
    return f;
  };
  struct Row {
    const char* what;
    GroupFacts f;
    K expected;
  };
  const std::vector<Row> rows = {
      {"guild by slug, channel by slug of its name", facts("10", "My Server", "50", "Support"),
       K::trigger},
      {"channel by its exact name", facts("10", "My Server", "51", "Ops Room"), K::trigger},
      {"channel by id", facts("10", "My Server", "60", "whatever"), K::context},
      {"a channel not listed", facts("10", "My Server", "52", "random"), K::drop},
      {"a thread of a listed channel, by the parent's name",
       facts("10", "My Server", "70", "support", "50", "Support"), K::trigger},
      {"a thread named like a listed channel does not pass by its own name",
       facts("10", "My Server", "71", "support", "52", "random"), K::drop},
      {"the id entry wins over the slug entry", facts("11", "Other Name", "50", "support"),
       K::context},
      {"a guild whose name has no slug matches by id only", facts("12", "我的服务器", "50", "x"),
       K::drop},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    const GroupDecision d = decide_group(c, r.f);
    EXPECT_EQ(d.kind, r.expected) << d.reason;
  }
  std::string key;
  ASSERT_NE(group_entry(c, facts("10", "My Server", "50", ""), &key), nullptr);
  EXPECT_EQ(key, "my-server");
}

}  // namespace
}  // namespace clawgate::core
