// History (core/history.hpp): token estimates and cuts that never split a code point in any
// script, the window a run is sent (summary, newest turns, the newest always), compaction plans,
// and the index: a run's start after thousands of messages reads nothing from disk, a first
// load reads the window and not the transcript, compaction lines replace what they cut.
#include "core/history.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "contract.hpp"
#include "core/sessions.hpp"
#include "shared_data.hpp"
#include "utf8.hpp"

namespace clawgate::core {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/clawgate-history-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

HistoryTurn turn(const std::string& role, const std::string& text, uint64_t offset = 0) {
  HistoryTurn t;
  t.role = role;
  t.text = text;
  t.offset = offset;
  t.tokens = estimate_tokens(text);
  return t;
}

Json message(const std::string& role, const std::string& text) {
  return {{"type", "message"}, {"role", role}, {"text", text}, {"ts", 1}};
}

const char* const kScripts[] = {
    "chinese",   "japanese",  "korean", "arabic_rtl",          "hebrew_rtl",
    "emoji_zwj", "combining", "astral", "long_cjk_4096_utf16", "long_emoji_4096_codepoints"};

TEST(History, TokenEstimatesCountOtherScriptsAtLeastAsHeavilyAsEnglish) {
  EXPECT_EQ(estimate_tokens(""), kMessageTokens);
  EXPECT_EQ(estimate_tokens("abcd"), 1 + kMessageTokens);  // upstream's chars/4
  EXPECT_EQ(estimate_tokens("abcde"), 2 + kMessageTokens);
  EXPECT_EQ(estimate_tokens("你好"), 2 + kMessageTokens);  // a token a character
  EXPECT_EQ(estimate_tokens("مرحبا"), 5 + kMessageTokens);
  EXPECT_EQ(estimate_tokens("🙂🙂"), 4 + kMessageTokens);  // past U+FFFF: two each
  for (const char* name : kScripts) {
    const std::string s = test_data::sample(name);
    EXPECT_GE(estimate_tokens(s), utf8::code_points(s) / 4 + kMessageTokens) << name;
  }
}

TEST(History, CutsToATokenBudgetNeverSplitACodePoint) {
  for (const char* name : kScripts) {
    const std::string s = test_data::sample(name);
    for (size_t budget : {0, 1, 2, 3, 7, 100, 1000, 100000}) {
      const size_t cut = cut_to_tokens(s, budget);
      ASSERT_LE(cut, s.size());
      const std::string head = s.substr(0, cut);
      EXPECT_TRUE(utf8::valid(head)) << name << " at " << budget;
      EXPECT_LE(estimate_tokens(head), budget + kMessageTokens) << name;
    }
  }
  EXPECT_EQ(cut_to_tokens("abcdefgh", 1), 4u);
  EXPECT_EQ(cut_to_tokens("你好世界", 3), 9u);
  EXPECT_EQ(cut_to_tokens("🙂🙂🙂", 3), 4u);  // one emoji (2 tokens), not one and a half
}

TEST(History, TheWindowKeepsTheSummaryAndTheNewestTurnsThatFit) {
  SessionHistory h;
  for (int i = 0; i < 10; ++i)
    h.push(turn(i % 2 ? "assistant" : "user", "message number " + std::to_string(i),
                static_cast<uint64_t>(i) * 100),
           SIZE_MAX);
  const size_t per = h.turns.back().tokens;
  ModelWindow all = build_window(h, 1'000'000, 50);
  ASSERT_EQ(all.messages.size(), 10u);
  EXPECT_EQ(all.messages.front().second, "message number 0");
  EXPECT_EQ(all.dropped, 0u);

  ModelWindow three = build_window(h, per * 3, 50);
  ASSERT_EQ(three.messages.size(), 3u);
  EXPECT_EQ(three.messages.back().second, "message number 9");
  EXPECT_EQ(three.messages.front().second, "message number 7");
  EXPECT_EQ(three.dropped, 7u);
  EXPECT_LE(three.tokens, per * 3);

  h.compacted("the user counted to five", 500);
  ASSERT_EQ(h.turns.size(), 5u);
  ModelWindow w = build_window(h, 1'000'000, 50);
  ASSERT_EQ(w.messages.size(), 6u);
  EXPECT_EQ(w.messages[0].first, "user");
  EXPECT_NE(w.messages[0].second.find("<summary>\nthe user counted to five\n</summary>"),
            std::string::npos);
  EXPECT_EQ(w.messages[1].second, "message number 5");
}

// A huge context window of tiny turns still fits the agent link's list bound, newest kept.
TEST(History, AWindowOfTinyTurnsStopsAtTheAgentLinksListBound) {
  SessionHistory h;
  const size_t n = ipc::contract::lists::kRunMessages + 500;
  for (size_t i = 0; i < n; ++i) h.push(turn(i % 2 ? "assistant" : "user", "好", i), SIZE_MAX);
  h.compacted("从前的对话 🙂", 0);  // a summary rides as one more message
  const ModelWindow w = build_window(h, 100'000'000, SIZE_MAX);
  ASSERT_EQ(w.messages.size(), ipc::contract::lists::kRunMessages);
  EXPECT_NE(w.messages.front().second.find("从前的对话 🙂"), std::string::npos);
  EXPECT_EQ(w.dropped, h.turns.size() - (w.messages.size() - 1));
}

TEST(History, TheNewestTurnAlwaysGoesCutOnACodePointWhenItAloneIsTooBig) {
  for (const char* name : {"long_cjk_4096_utf16", "long_emoji_4096_codepoints", "arabic_rtl"}) {
    SessionHistory h;
    h.push(turn("user", "an older question"), SIZE_MAX);
    const std::string piece = test_data::sample(name);
    ASSERT_FALSE(piece.empty()) << name;  // (an empty sample would never reach 20 000 bytes)
    std::string big;
    while (big.size() < 20'000) big += piece;
    h.push(turn("user", big), SIZE_MAX);
    const ModelWindow w = build_window(h, 200, 50);
    ASSERT_EQ(w.messages.size(), 1u) << name;
    EXPECT_TRUE(w.cut);
    const std::string& text = w.messages[0].second;
    EXPECT_TRUE(utf8::valid(text)) << name;
    EXPECT_LE(estimate_tokens(text), 200u) << name;
    EXPECT_NE(text.find("cut to fit"), std::string::npos);
    EXPECT_EQ(text.compare(0, 16, big, 0, 16), 0) << "its beginning is kept";
  }
}

TEST(History, OnlyTheNewestGroupContextMessagesGoAlong) {
  SessionHistory h;
  for (int i = 0; i < 5; ++i) {
    HistoryTurn t = turn("user", "chatter " + std::to_string(i));
    t.context = true;
    h.push(t, SIZE_MAX);
  }
  h.push(turn("user", "@bot what did they say?"), SIZE_MAX);
  const ModelWindow w = build_window(h, 1'000'000, 2);
  ASSERT_EQ(w.messages.size(), 3u);
  EXPECT_EQ(w.messages[0].second, "chatter 3");
  EXPECT_EQ(w.messages[2].second, "@bot what did they say?");
  EXPECT_EQ(build_window(h, 1'000'000, 0).messages.size(), 1u);
}

TEST(History, ACompactionPlanKeepsTheRecentTailFromAUserMessage) {
  SessionHistory h;
  for (int i = 0; i < 8; ++i)
    h.push(turn(i % 2 ? "assistant" : "user", std::string(400, 'a' + i), 1000 * i), SIZE_MAX);
  const size_t per = h.turns[0].tokens;
  // ~2.5 turns' worth kept: the cut moves back to the user message that starts the turn.
  CompactionPlan p = plan_compaction(h, per * 5 / 2, 1'000'000);
  EXPECT_EQ(p.cut_offset, 4000u);
  ASSERT_EQ(p.turns.size(), 4u);
  EXPECT_EQ(p.turns.front()->offset, 0u);
  EXPECT_EQ(p.kept_tokens, per * 4);
  // The summarizing request's budget takes the newest of the older turns.
  p = plan_compaction(h, per * 5 / 2, per * 2);
  ASSERT_EQ(p.turns.size(), 2u);
  EXPECT_EQ(p.turns.front()->offset, 2000u);
  // Everything within the kept budget: nothing to summarize.
  EXPECT_TRUE(plan_compaction(h, per * 100, 1'000'000).turns.empty());
  EXPECT_EQ(*trim_cut(h, 3), 5000u);
  EXPECT_FALSE(trim_cut(h, 8));
}

// The index: a run after 4,000 messages starts from memory. Loading reads the transcript from
// its end, never more than the window (plus one read block); appends keep it current with no
// read at all; an evicted session loads again the same way.
TEST(History, StartingARunAfter4000MessagesReadsTheWindowNotTheTranscript) {
  TempDir dir;
  SessionStore store(dir.path);
  TranscriptIndex::Limits limits;
  limits.session_tokens = 2000;  // a small window, so the transcript is far longer than it
  store.history_index().set_limits(limits);
  const SessionKey key = SessionKey::main();
  const std::string line = "a message of some length, repeated to fill the transcript";
  // Written as the store writes them, without 4,000 fdatasyncs.
  const std::string path = dir.path + "/sessions/" + SessionStore::file_name(key.str());
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4000; ++i)
      out << dump_json(message(i % 2 ? "assistant" : "user", line)) << "\n";
  }
  const auto file_size = std::filesystem::file_size(path);
  ASSERT_GT(file_size, 300'000u);

  auto& index = store.history_index();
  const uint64_t before = index.bytes_read();
  const SessionHistory& h = store.history(key);
  const uint64_t load = index.bytes_read() - before;
  EXPECT_FALSE(h.complete);
  EXPECT_LE(h.tokens, 2000u);
  EXPECT_GE(h.tokens + estimate_tokens(line), 2000u) << "the window is filled";
  // Lines are ~100 bytes for ~19 tokens: the window is ~11 KB; one 16 KiB block on top.
  EXPECT_LE(load, 2000u / 19 * 120 + 16384) << "read " << load << " of " << file_size;

  // The next turns: their lines are appended, the window follows, nothing is read.
  for (int i = 0; i < 20; ++i) {
    store.append(key, message("user", "turn " + std::to_string(i)));
    const SessionHistory& now = store.history(key);
    EXPECT_EQ(now.turns.back().text, "turn " + std::to_string(i));
    EXPECT_LE(now.tokens, 2000u);
  }
  EXPECT_EQ(index.bytes_read() - before, load);

  // Reloaded from disk (a restart), the same window.
  SessionStore again(dir.path);
  again.history_index().set_limits(limits);
  const SessionHistory& h2 = again.history(key);
  EXPECT_EQ(h2.turns.size(), store.history(key).turns.size());
  EXPECT_EQ(h2.turns.back().text, "turn 19");
  EXPECT_LE(again.history_index().bytes_read(), load + 16384);
}

TEST(History, ACompactionLineReplacesTheTurnsBeforeItsCutOnLoadAndLive) {
  TempDir dir;
  SessionStore store(dir.path);
  const SessionKey key = SessionKey::main();
  for (int i = 0; i < 10; ++i)
    store.append(key, message(i % 2 ? "assistant" : "user", "old " + std::to_string(i)));
  const SessionHistory& h = store.history(key);
  ASSERT_EQ(h.turns.size(), 10u);
  const uint64_t cut = h.turns[6].offset;
  store.append(key, message("user", "after the summary was asked for"));
  store.append(
      key,
      {{"type", "compaction"}, {"summary", "摘要：用户数了数 🙂"}, {"cutOffset", cut}});
  store.append(key, message("assistant", "newest"));
  auto check = [&](const SessionHistory& x) {
    EXPECT_EQ(x.summary, "摘要：用户数了数 🙂");
    ASSERT_EQ(x.turns.size(), 6u);
    EXPECT_EQ(x.turns.front().text, "old 6");
    EXPECT_EQ(x.turns[4].text, "after the summary was asked for");
    EXPECT_EQ(x.turns.back().text, "newest");
    EXPECT_TRUE(x.complete);
  };
  check(store.history(key));
  SessionStore reopened(dir.path);
  check(reopened.history(key));
  // chat.history still reads every line from disk.
  EXPECT_EQ(reopened.read(key, 100).size(), 12u);
  // A trim (no summary) cuts the same way; a hostile cut past its own line is clamped.
  store.append(key, {{"type", "compaction"}, {"summary", ""}, {"cutOffset", UINT64_MAX}});
  EXPECT_TRUE(store.history(key).turns.empty());
  EXPECT_TRUE(store.history(key).summary.empty());
  store.append(key, message("user", "fresh"));
  SessionStore third(dir.path);
  ASSERT_EQ(third.history(key).turns.size(), 1u);
  EXPECT_EQ(third.history(key).turns[0].text, "fresh");
}

// A transcript edited by hand (or torn by a crash) reads as what can be read, never throws.
TEST(History, MalformedTranscriptLinesAreSkippedOrReadAsAbsent) {
  TempDir dir;
  SessionStore store(dir.path);
  const SessionKey key = SessionKey::main();
  store.append(key, message("user", "kept"));
  const std::string path = dir.path + "/sessions/" + SessionStore::file_name(key.str());
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << "not json at all\n[1,2,3]\n"
        << R"({"type":"compaction","summary":["x"],"cutOffset":-4})"
        << "\n"
        << R"({"type":"message","role":7,"text":5,"context":"yes","from":[]})"
        << "\n"
        << R"({"type":"message","role":"assistant","text":"after"})"
        << "\n"
        << R"({"type":"message","role":"user","text":"torn)";
  }
  SessionStore reopened(dir.path);
  const SessionHistory& h = reopened.history(key);
  EXPECT_TRUE(h.summary.empty());
  // The compaction line (its cut clamped to itself) hides what precedes it.
  ASSERT_EQ(h.turns.size(), 2u);
  EXPECT_EQ(h.turns[0].role, "user");
  EXPECT_EQ(h.turns[0].text, "");
  EXPECT_FALSE(h.turns[0].context);
  EXPECT_EQ(h.turns[1].text, "after");
}

TEST(History, HeldSessionsAreBoundedLeastRecentlyUsedFirst) {
  TempDir dir;
  SessionStore store(dir.path);
  TranscriptIndex::Limits limits;
  limits.max_sessions = 3;
  store.history_index().set_limits(limits);
  for (int s = 0; s < 6; ++s) {
    const SessionKey key = *SessionKey::parse("s" + std::to_string(s));
    store.append(key, message("user", "hello " + std::to_string(s)));
    EXPECT_EQ(store.history(key).turns.size(), 1u);
  }
  EXPECT_EQ(store.history_index().sessions_held(), 3u);
  // An evicted session comes back from disk, whole.
  const SessionKey first = *SessionKey::parse("s0");
  EXPECT_EQ(store.history(first).turns.at(0).text, "hello 0");
  // A reset forgets it: the new transcript starts empty.
  store.reset(first, 2);
  EXPECT_TRUE(store.history(first).turns.empty());
}

}  // namespace
}  // namespace clawgate::core
