// SessionStore on a real temp dir: injective transcript names (and the move from the old
// names), keys stored before keys were canonical moved to their canonical keys, previews that
// never split a character, tail reads, an index that survives any text.
#include "core/sessions.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fs.hpp"
#include "shared_data.hpp"
#include "utf8.hpp"

namespace clawgate::core {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/clawgate-sessions-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A key the test knows to be valid.
SessionKey K(std::string_view text) {
  auto k = SessionKey::parse(text);
  EXPECT_TRUE(k) << text;
  return k ? *k : SessionKey::main();
}

Json message(const std::string& role, const std::string& text, int64_t ts = 1) {
  return {{"type", "message"}, {"role", role}, {"text", text}, {"ts", ts}};
}

// Messages that waited for a turn: queued records are history only for clients (`waiting`),
// where they came, until a later line takes them: their own turn (by runId or by a channel
// message's inboundId), a collected turn listing them, or a withdrawal.
TEST(Sessions, QueuedRecordsShowWhileTheyWaitAndGoOnceTaken) {
  TempDir dir;
  SessionStore store(dir.path);
  auto queued = [](const std::string& text, const char* field, const std::string& id) {
    return Json{{"type", "queued"}, {"role", "user"}, {"text", text}, {"ts", 1}, {field, id}};
  };
  auto texts = [&](bool waiting) {
    std::vector<std::string> out;
    for (const auto& e : store.read(K("main"), 50, waiting)) out.push_back(e["text"]);
    return out;
  };
  store.append(K("main"), message("user", "one"));
  store.append(K("main"), queued("两", "runId", "r2"));
  store.append(K("main"), queued("ثلاثة", "inboundId", "in-3"));
  store.append(K("main"), queued("four 👋🏽", "runId", "r4"));
  store.append(K("main"), queued("five", "runId", "r5"));
  store.append(K("main"), message("assistant", "answer one"));
  EXPECT_EQ(texts(false), (std::vector<std::string>{"one", "answer one"}))
      << "the agent reads turns only";
  EXPECT_EQ(texts(true), (std::vector<std::string>{"one", "两", "ثلاثة", "four 👋🏽", "five",
                                                   "answer one"}));
  Json turn = message("user", "两");
  turn["runId"] = "r2";
  store.append(K("main"), turn);
  Json collected = message("user", "ثلاثة + four");
  collected["queued"] = {"in-3", "r4"};
  collected["runId"] = "r4";
  store.append(K("main"), collected);
  store.append(K("main"), Json{{"type", "withdrawn"}, {"runId", "r5"}, {"ts", 2}});
  EXPECT_EQ(texts(true), (std::vector<std::string>{"one", "answer one", "两", "ثلاثة + four"}));
  EXPECT_EQ(store.entry(K("main"))["messages"], 4) << "queued records and markers are not messages";
}

TEST(Sessions, KeysThatLookAlikeGetTheirOwnTranscripts) {
  // "agent:main:a.b" and "agent:main:a_b" used to share one file, so deleting one deleted the
  // other's transcript.
  TempDir dir;
  SessionStore store(dir.path);
  store.append(K("agent:main:a.b"), message("user", "a.b's message"));
  store.append(K("agent:main:a_b"), message("user", "the other one"));
  EXPECT_NE(SessionStore::file_name("agent:main:main"), SessionStore::file_name("agent:main_main"));
  EXPECT_NE(SessionStore::file_name("agent:main:a.b"), SessionStore::file_name("agent:main:a_b"));
  EXPECT_NE(SessionStore::file_name("agent:main:a%2Eb"), SessionStore::file_name("agent:main:a.b"));
  store.remove(K("agent:main:a_b"), /*delete_transcript=*/true, 2);
  const auto kept = store.read(K("agent:main:a.b"), 10);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]["text"], "a.b's message");
}

TEST(Sessions, LongAndNonAsciiKeysMakeValidFileNames) {
  TempDir dir;
  SessionStore store(dir.path);
  const std::string long_key = "agent:main:" + std::string(500, 'x');
  const std::string cjk_key = "agent:main:群聊-😀";
  for (const auto& key : {long_key, cjk_key}) {
    EXPECT_LE(SessionStore::file_name(key).size(), 255u);
    store.append(K(key), message("user", "hi"));
    EXPECT_EQ(store.read(K(key), 5).size(), 1u) << key;
  }
  EXPECT_NE(SessionStore::file_name(long_key),
            SessionStore::file_name("agent:main:" + std::string(499, 'x') + "y"));
}

TEST(Sessions, TranscriptsUnderTheOldNamesMoveToTheirNewNames) {
  TempDir dir;
  make_dirs(dir.path + "/sessions");
  const std::string key = "agent:main:signal:direct:+15551234";
  atomic_write_file(dir.path + "/sessions/sessions.json",
                    Json{{key, {{"sessionId", "s1"}, {"messages", 1}}}}.dump());
  std::ofstream(dir.path + "/sessions/agent_main_signal_direct__15551234.jsonl")
      << message("user", "from before").dump() << "\n";
  SessionStore store(dir.path);
  const auto got = store.read(K(key), 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["text"], "from before");
}

TEST(Sessions, KeysStoredBeforeKeysWereCanonicalMoveToTheirCanonicalKeys) {
  // An index from before: "agent:main:Project" kept its case, "agent:main" was accepted, and
  // "agent:main:Both" and "agent:main:both" were two sessions.
  TempDir dir;
  make_dirs(dir.path + "/sessions");
  const Json old_index = {{"agent:main:Project", {{"sessionId", "s1"}}},
                          {"agent:main:Both", {{"sessionId", "s2"}}},
                          {"agent:main:both", {{"sessionId", "s3"}}},
                          {"agent:main", {{"sessionId", "s4"}}},
                          {"agent:main:main", {{"sessionId", "s5"}}}};
  atomic_write_file(dir.path + "/sessions/sessions.json", old_index.dump());
  for (const auto& [key, e] : old_index.items())
    std::ofstream(dir.path + "/sessions/" + SessionStore::file_name(key))
        << message("user", "written as " + key).dump() << "\n";
  Json first;
  {
    SessionStore store(dir.path);
    // The same conversation, however a client spells it now.
    for (const char* spelling : {"project", "Project", "agent:main:PROJECT"}) {
      const auto got = store.read(K(spelling), 10);
      ASSERT_EQ(got.size(), 1u) << spelling;
      EXPECT_EQ(got[0]["text"], "written as agent:main:Project") << spelling;
    }
    EXPECT_EQ(store.entry(K("project"))["sessionId"], "s1");
    EXPECT_EQ(store.read(K("both"), 10)[0]["text"], "written as agent:main:both");
    EXPECT_EQ(store.read(K("main"), 10)[0]["text"], "written as agent:main:main");
    // No canonical key left for them: kept under legacy keys, saying what they were.
    EXPECT_EQ(store.entry(K("agent:main:legacy-key-1"))["legacyKey"], "agent:main");
    EXPECT_EQ(store.read(K("agent:main:legacy-key-1"), 10)[0]["text"], "written as agent:main");
    EXPECT_EQ(store.entry(K("agent:main:legacy-key-2"))["legacyKey"], "agent:main:Both");
    EXPECT_EQ(store.read(K("agent:main:legacy-key-2"), 10)[0]["text"],
              "written as agent:main:Both");
    EXPECT_EQ(store.index().size(), old_index.size());
    for (const auto& [key, _] : store.index().items())
      EXPECT_EQ(SessionKey::parse(key).value().str(), key) << "every key is canonical now";
    first = store.index();
  }
  SessionStore again(dir.path);  // a second start has nothing left to move
  EXPECT_EQ(again.index(), first);
}

TEST(Sessions, PreviewsAndTheIndexSurviveTextInEveryScript) {
  TempDir dir;
  {
    SessionStore store(dir.path);
    int64_t ts = 1;
    for (const auto& [name, value] : test_data::samples().items()) {
      const std::string text = value.get<std::string>();
      const std::string key = "agent:main:" + name;
      ASSERT_NO_THROW(store.append(K(key), message("user", text, ts += 2000))) << name;
      const std::string preview = store.entry(K(key))["lastMessagePreview"];
      EXPECT_TRUE(utf8::valid(preview)) << name;
      EXPECT_EQ(preview.find("\xEF\xBF\xBD"), std::string::npos) << name;
      EXPECT_LE(utf8::code_points(preview), SessionStore::kPreviewChars + 1) << name;
    }
    // Invalid bytes from a buggy caller are stored as U+FFFD, never a broken index.
    ASSERT_NO_THROW(store.append(K("agent:main:bad"), message("user", "ok\xE6\xBC", ts += 2000)));
    store.flush();
  }
  const auto text = read_file(dir.path + "/sessions/sessions.json");
  ASSERT_TRUE(text);
  const Json index = Json::parse(*text, nullptr, false);
  ASSERT_TRUE(index.is_object());
  EXPECT_TRUE(index.contains("agent:main:chinese"));
  EXPECT_TRUE(index.contains("agent:main:bad"));
}

TEST(Sessions, ReadReturnsTheNewestMessagesFromTheTail) {
  TempDir dir;
  SessionStore store(dir.path);
  for (int i = 0; i < 3000; ++i) store.append(K("main"), message("user", "m" + std::to_string(i)));
  // A torn last line (a crash mid-write) is skipped.
  std::ofstream(dir.path + "/sessions/" + SessionStore::file_name("agent:main:main"), std::ios::app)
      << "{\"type\":\"message\",\"te";
  const auto last = store.read(K("main"), 3);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[0]["text"], "m2997");
  EXPECT_EQ(last[2]["text"], "m2999");
  EXPECT_EQ(store.read(K("main"), 5000).size(), 3000u);
}

}  // namespace
}  // namespace clawgate::core
