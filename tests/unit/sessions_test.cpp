// SessionStore on a real temp dir: injective transcript names (and the move from the old
// names), previews that never split a character, tail reads, an index that survives any text.
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
    for (const auto& e : store.read("main", 50, waiting)) out.push_back(e["text"]);
    return out;
  };
  store.append("main", message("user", "one"));
  store.append("main", queued("两", "runId", "r2"));
  store.append("main", queued("ثلاثة", "inboundId", "in-3"));
  store.append("main", queued("four 👋🏽", "runId", "r4"));
  store.append("main", queued("five", "runId", "r5"));
  store.append("main", message("assistant", "answer one"));
  EXPECT_EQ(texts(false), (std::vector<std::string>{"one", "answer one"}))
      << "the agent reads turns only";
  EXPECT_EQ(texts(true), (std::vector<std::string>{"one", "两", "ثلاثة", "four 👋🏽", "five",
                                                   "answer one"}));
  Json turn = message("user", "两");
  turn["runId"] = "r2";
  store.append("main", turn);
  Json collected = message("user", "ثلاثة + four");
  collected["queued"] = {"in-3", "r4"};
  collected["runId"] = "r4";
  store.append("main", collected);
  store.append("main", Json{{"type", "withdrawn"}, {"runId", "r5"}, {"ts", 2}});
  EXPECT_EQ(texts(true), (std::vector<std::string>{"one", "answer one", "两", "ثلاثة + four"}));
  EXPECT_EQ(store.entry("main")["messages"], 4) << "queued records and markers are not messages";
}

TEST(Sessions, KeysThatLookAlikeGetTheirOwnTranscripts) {
  // "agent:main_main" used to map to main's file, so deleting it deleted main's transcript.
  TempDir dir;
  SessionStore store(dir.path);
  store.append("main", message("user", "main's message"));
  store.append("agent:main_main", message("user", "the other one"));
  EXPECT_NE(SessionStore::file_name("agent:main:main"), SessionStore::file_name("agent:main_main"));
  EXPECT_NE(SessionStore::file_name("agent:main:a.b"), SessionStore::file_name("agent:main:a_b"));
  EXPECT_NE(SessionStore::file_name("agent:main:a%2Eb"), SessionStore::file_name("agent:main:a.b"));
  store.remove("agent:main_main", /*delete_transcript=*/true, 2);
  const auto main = store.read("main", 10);
  ASSERT_EQ(main.size(), 1u);
  EXPECT_EQ(main[0]["text"], "main's message");
}

TEST(Sessions, LongAndNonAsciiKeysMakeValidFileNames) {
  TempDir dir;
  SessionStore store(dir.path);
  const std::string long_key = "agent:main:" + std::string(500, 'x');
  const std::string cjk_key = "agent:main:群聊-😀";
  for (const auto& key : {long_key, cjk_key}) {
    EXPECT_LE(SessionStore::file_name(key).size(), 255u);
    store.append(key, message("user", "hi"));
    EXPECT_EQ(store.read(key, 5).size(), 1u) << key;
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
  const auto got = store.read(key, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["text"], "from before");
}

TEST(Sessions, PreviewsAndTheIndexSurviveTextInEveryScript) {
  TempDir dir;
  {
    SessionStore store(dir.path);
    int64_t ts = 1;
    for (const auto& [name, value] : test_data::samples().items()) {
      const std::string text = value.get<std::string>();
      const std::string key = "agent:main:" + name;
      ASSERT_NO_THROW(store.append(key, message("user", text, ts += 2000))) << name;
      const std::string preview = store.entry(key)["lastMessagePreview"];
      EXPECT_TRUE(utf8::valid(preview)) << name;
      EXPECT_EQ(preview.find("\xEF\xBF\xBD"), std::string::npos) << name;
      EXPECT_LE(utf8::code_points(preview), SessionStore::kPreviewChars + 1) << name;
    }
    // Invalid bytes from a buggy caller are stored as U+FFFD, never a broken index.
    ASSERT_NO_THROW(store.append("agent:main:bad", message("user", "ok\xE6\xBC", ts += 2000)));
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
  for (int i = 0; i < 3000; ++i) store.append("main", message("user", "m" + std::to_string(i)));
  // A torn last line (a crash mid-write) is skipped.
  std::ofstream(dir.path + "/sessions/" + SessionStore::file_name("agent:main:main"), std::ios::app)
      << "{\"type\":\"message\",\"te";
  const auto last = store.read("main", 3);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[0]["text"], "m2997");
  EXPECT_EQ(last[2]["text"], "m2999");
  EXPECT_EQ(store.read("main", 5000).size(), 3000u);
}

}  // namespace
}  // namespace clawgate::core
