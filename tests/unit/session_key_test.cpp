// The session-key grammar: what a client may name a session and the one key it gets, as
// OpenClaw canonicalizes it ("bench-0" is agent:main:bench-0, "main" the main session, case
// folded as JavaScript folds it), what is refused and why, the keys channels and cron build,
// and what each key says about its conversation.
#include "core/session_key.hpp"

#include <gtest/gtest.h>

#include <string>

#include "shared_data.hpp"
#include "utf8.hpp"

namespace clawgate::core {
namespace {

// The canonical text for `raw`, or "refused: <why>".
std::string canon(std::string_view raw) {
  std::string why;
  const auto k = SessionKey::parse(raw, &why);
  return k ? k->str() : "refused: " + why;
}

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(SessionKey, ABareKeyBelongsToTheDefaultAgent) {
  EXPECT_EQ(canon("bench-0"), "agent:main:bench-0");
  const auto k = SessionKey::parse("bench-0");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->agent_id(), "main");
  EXPECT_EQ(k->rest(), "bench-0");
  EXPECT_FALSE(k->is_main());
  EXPECT_EQ(k->kind(), SessionKey::Kind::custom);
  // Colons in a bare key are part of its rest.
  EXPECT_EQ(canon("project:alpha"), "agent:main:project:alpha");
  EXPECT_EQ(canon("telegram:group:-100123"), "agent:main:telegram:group:-100123");
}

TEST(SessionKey, MainAndGlobalNameTheMainSession) {
  for (const char* raw : {"main", "MAIN", " main\n", "global", "Global", "agent:main:main",
                          "Agent:Main:MAIN", "\xE3\x80\x80main\xC2\xA0"}) {  // U+3000, NBSP
    const auto k = SessionKey::parse(raw);
    ASSERT_TRUE(k) << raw;
    EXPECT_EQ(*k, SessionKey::main()) << raw;
    EXPECT_TRUE(k->is_main()) << raw;
    EXPECT_EQ(k->kind(), SessionKey::Kind::main) << raw;
  }
  EXPECT_EQ(SessionKey::main().str(), "agent:main:main");
  // Only the whole key is an alias.
  EXPECT_EQ(canon("main:x"), "agent:main:main:x");
  EXPECT_EQ(canon("mainly"), "agent:main:mainly");
}

TEST(SessionKey, KeysAreLowercasedAsJavaScriptLowercasesThem) {
  EXPECT_EQ(canon("Bench-0"), "agent:main:bench-0");
  EXPECT_EQ(canon("agent:main:Telegram:Group:-100ABC"), "agent:main:telegram:group:-100abc");
  EXPECT_EQ(canon("AGENT:OPS:Daily"), "agent:ops:daily");
  // Beyond ASCII, with toLowerCase's own rules: final sigma, dotted capital I, Kelvin sign.
  EXPECT_EQ(canon("Привет-Мир"), "agent:main:привет-мир");
  EXPECT_EQ(canon("ΟΔΟΣ ΣΟΦΙΑΣ"), "agent:main:οδος σοφιας");
  EXPECT_EQ(canon("İstanbul"), "agent:main:i\xCC\x87stanbul");
  EXPECT_EQ(canon("\xE2\x84\xAA"), "agent:main:k");  // U+212A KELVIN SIGN
  EXPECT_EQ(canon("ÀÉÎÕÜ-Ÿ"), "agent:main:àéîõü-ÿ");
  // One conversation however a client spells it.
  EXPECT_EQ(*SessionKey::parse("Agent:Main:Project"), *SessionKey::parse("project"));
}

TEST(SessionKey, ChineseArabicAndEmojiRestsAreKeptWhole) {
  EXPECT_EQ(canon("群聊-项目"), "agent:main:群聊-项目");
  EXPECT_EQ(canon("agent:main:مرحبا-بالعالم"), "agent:main:مرحبا-بالعالم");
  EXPECT_EQ(canon("🚀-launch-👩‍💻"), "agent:main:🚀-launch-👩‍💻");
  EXPECT_EQ(canon("agent:main:שלום"), "agent:main:שלום");
  // Every script of the shared samples makes a key that is its own canonical form again.
  for (const auto& [name, value] : test_data::samples().items()) {
    const std::string text = value.get<std::string>();
    const auto k = SessionKey::parse(text);
    if (name == "nul_and_controls" || utf8::code_points(text) > SessionKey::kMaxRestChars) {
      EXPECT_FALSE(k) << name;
      continue;
    }
    ASSERT_TRUE(k) << name;
    EXPECT_TRUE(utf8::valid(k->str())) << name;
    const auto again = SessionKey::parse(k->str());
    ASSERT_TRUE(again) << name;
    EXPECT_EQ(again->str(), k->str()) << name << ": canonical keys parse to themselves";
  }
}

TEST(SessionKey, TheRestMayHave512CharactersOfAnyScript) {
  // Counted in characters (code points), not bytes: 512 Chinese characters are 1,536 bytes.
  for (std::string_view ch : {"x", "漢", "😀", "ع"}) {
    const std::string at_limit = repeat(ch, SessionKey::kMaxRestChars);
    EXPECT_EQ(canon(at_limit), "agent:main:" + at_limit) << ch;
    EXPECT_EQ(canon("agent:main:" + at_limit), "agent:main:" + at_limit) << ch;
    const std::string over = canon(at_limit + std::string(ch));
    EXPECT_EQ(over.rfind("refused: session key is too long: 513 characters", 0), 0u) << over;
    const std::string over_agent = canon("agent:main:" + at_limit + std::string(ch));
    EXPECT_EQ(over_agent.rfind("refused: session key is too long", 0), 0u) << over_agent;
  }
  // Far too long is refused before any work on it.
  EXPECT_EQ(canon(std::string(1 << 20, 'a')).rfind("refused: session key is too long", 0), 0u);
}

TEST(SessionKey, WhatIsRefusedSaysWhy) {
  EXPECT_EQ(canon(""), "refused: session key is empty");
  EXPECT_EQ(canon(" \t\n\xE3\x80\x80"), "refused: session key is empty");
  EXPECT_EQ(canon("a\nb"), "refused: session key contains a control character (U+000A)");
  EXPECT_EQ(canon("bell\x07"), "refused: session key contains a control character (U+0007)");
  EXPECT_EQ(canon(std::string("nul\0x", 5)),
            "refused: session key contains a control character (U+0000)");
  EXPECT_EQ(canon("del\x7F"), "refused: session key contains a control character (U+007F)");
  EXPECT_EQ(canon("nel\xC2\x85x"), "refused: session key contains a control character (U+0085)");
  EXPECT_EQ(canon("cut\xE6\xBC"), "refused: session key is not valid UTF-8");
  EXPECT_EQ(canon("\xC0\xAF"), "refused: session key is not valid UTF-8");
  // An "agent:" head needs an agent id and a rest (upstream: malformed session key).
  for (const char* raw : {"agent:", "agent:main", "AGENT:main", "agent::x", "agent: :x",
                          "agent:main:", "agent:main::x"})
    EXPECT_EQ(canon(raw).rfind("refused: malformed session key \"", 0), 0u) << raw;
  // A bare key starting with ":" (upstream would make "agent:main::x" of it, malformed itself).
  EXPECT_EQ(canon(":x"), "refused: malformed session key \":x\"");
  // Everything refused leaves a message that can go into a JSON error as it is.
  for (const auto& [bytes, what] : test_data::invalid_sequences()) {
    std::string why;
    EXPECT_FALSE(SessionKey::parse(bytes, &why)) << what;
    EXPECT_TRUE(utf8::valid(why)) << what;
  }
}

TEST(SessionKey, TheAgentSegmentStaysAsWrittenAndRoutesToItsNormalizedId) {
  const auto agent = [](std::string_view raw) {
    const auto k = SessionKey::parse(raw);
    return k ? k->str() + " -> " + k->agent_id() : "refused";
  };
  EXPECT_EQ(agent("agent:Ops:daily-report"), "agent:ops:daily-report -> ops");
  EXPECT_EQ(agent("agent:ops team:x"), "agent:ops team:x -> ops-team");
  EXPECT_EQ(agent("agent:--ops--:x"), "agent:--ops--:x -> ops");
  EXPECT_EQ(agent("agent:_ops:x"), "agent:_ops:x -> _ops");
  // Nothing usable: upstream routes it to the default agent.
  EXPECT_EQ(agent("agent:!!!:x"), "agent:!!!:x -> main");
  EXPECT_EQ(agent("agent:群聊:x"), "agent:群聊:x -> main");
  const std::string a70(70, 'a');
  EXPECT_EQ(agent("agent:" + a70 + ":x"), "agent:" + a70 + ":x -> " + std::string(64, 'a'));
  EXPECT_EQ(SessionKey::parse("agent:ops:daily-report")->rest(), "daily-report");
}

TEST(SessionKey, SignalGroupAndMatrixRoomIdsKeepTheirCase) {
  // Case-sensitive on their platforms (base64 group ids, Matrix room and event ids).
  EXPECT_EQ(canon("agent:main:Signal:Group:AbC+dE=="), "agent:main:signal:group:AbC+dE==");
  EXPECT_EQ(canon("signal:group:AbC=:Thread:X"), "agent:main:signal:group:AbC=:thread:x");
  EXPECT_EQ(canon("agent:main:Matrix:Channel:!RoomId:Example.org"),
            "agent:main:matrix:channel:!RoomId:Example.org");
  EXPECT_EQ(canon("agent:main:matrix:group:!Room:Thread:$EvEnT"),
            "agent:main:matrix:group:!Room:thread:$EvEnT");
  // Elsewhere they are folded like everything else.
  EXPECT_EQ(canon("agent:main:signal:direct:+15551234ABC"),
            "agent:main:signal:direct:+15551234abc");
  EXPECT_EQ(canon("agent:main:telegram:group:AbC"), "agent:main:telegram:group:abc");
}

TEST(SessionKey, KindsFollowUpstreamsClassification) {
  const auto kind = [](std::string_view raw) {
    const auto k = SessionKey::parse(raw);
    return k ? std::string(SessionKey::kind_name(k->kind())) : "refused";
  };
  EXPECT_EQ(kind("main"), "main");
  EXPECT_EQ(kind("agent:main:telegram:group:-100123"), "group");
  EXPECT_EQ(kind("agent:main:discord:channel:123456"), "channel");
  EXPECT_EQ(kind("agent:main:telegram:direct:42"), "direct");
  EXPECT_EQ(kind("agent:main:telegram:work:direct:42"), "direct");
  EXPECT_EQ(kind("agent:main:direct:42"), "direct");
  EXPECT_EQ(kind("agent:main:discord:channel:123456:thread:987654"), "thread");
  EXPECT_EQ(kind("agent:main:cron:job-1"), "cron");
  EXPECT_EQ(kind("agent:main:subagent:x"), "subagent");
  EXPECT_EQ(kind("agent:main:explicit:aa457646-9344-4ab3-892f-4ae3824e56e8"), "explicit");
  EXPECT_EQ(kind("agent:main:hook:gmail"), "hook");
  EXPECT_EQ(kind("bench-0"), "custom");
  EXPECT_EQ(kind("agent:main:telegram:group"), "custom");  // no peer: not a route
  const auto cron = SessionKey::parse("agent:main:cron:job-1");
  EXPECT_TRUE(cron->background());
  EXPECT_EQ(cron->list_kind(), "cron");
  EXPECT_FALSE(SessionKey::parse("bench-0")->background());
  EXPECT_EQ(SessionKey::parse("bench-0")->list_kind(), "direct");
  EXPECT_EQ(SessionKey::parse("agent:main:telegram:group:-1")->list_kind(), "group");
  EXPECT_EQ(SessionKey::parse("agent:main:discord:channel:1")->list_kind(), "group");
}

TEST(SessionKey, ChannelMessagesGetTheirSessionByDmScope) {
  SessionKey::Peer dm;
  dm.channel = "telegram";
  dm.account_id = "Work";
  dm.peer_id = "42";
  const auto key = [&](std::string_view scope) {
    dm.dm_scope = scope;
    const auto k = SessionKey::for_peer(dm);
    return k ? k->str() : "refused";
  };
  EXPECT_EQ(key("main"), "agent:main:main");
  EXPECT_EQ(key("per-peer"), "agent:main:direct:42");
  EXPECT_EQ(key("per-channel-peer"), "agent:main:telegram:direct:42");
  EXPECT_EQ(key("per-account-channel-peer"), "agent:main:telegram:work:direct:42");
  dm.account_id = "";
  EXPECT_EQ(key("per-account-channel-peer"), "agent:main:telegram:default:direct:42");
  dm.peer_id = "";  // no sender: the main session, as upstream
  EXPECT_EQ(key("per-peer"), "agent:main:main");

  SessionKey::Peer group;
  group.channel = "telegram";
  group.peer_id = "-1001234567890";
  group.direct = false;
  EXPECT_EQ(SessionKey::for_peer(group)->str(), "agent:main:telegram:group:-1001234567890");
  group.peer_id = "";
  EXPECT_EQ(SessionKey::for_peer(group)->str(), "agent:main:telegram:group:unknown");
  // Ids a worker should never send make no key, with the reason.
  group.peer_id = "-100\n1";
  std::string why;
  EXPECT_FALSE(SessionKey::for_peer(group, &why));
  EXPECT_NE(why.find("control character"), std::string::npos) << why;
}

TEST(SessionKey, CronJobsGetTheirOwnSession) {
  const auto k = SessionKey::for_cron_job("3f1c0d9e-0000-4000-8000-000000000001");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->str(), "agent:main:cron:3f1c0d9e-0000-4000-8000-000000000001");
  EXPECT_EQ(k->kind(), SessionKey::Kind::cron);
  EXPECT_FALSE(SessionKey::for_cron_job("bad\x01id"));
}

}  // namespace
}  // namespace clawgate::core
