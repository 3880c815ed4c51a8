// Unit tests: Telegram worker helpers: chunk_text (limits in UTF-16 code units, newline/space
// preference, UTF-8 safety), read_message (mention gating facts, the inbound size bound),
// repair_json_text (invalid UTF-8, unpaired surrogates), telegram_config (from the settings as
// the control link carries them), and the Bot API
// readers parse_api_answer and parse_updates (shapes, and garbage that must not throw).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "child_config.hpp"
#include "fs.hpp"
#include "shared_data.hpp"
#include "telegram_worker.hpp"
#include "utf8.hpp"

namespace clawgate::workers {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Code points in valid UTF-8, or -1 when `s` is not valid UTF-8.
long utf8_code_points(const std::string& s) {
  long n = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return -1;
    i += len;
    ++n;
  }
  return n;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string repeat(const std::string& unit, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += unit;
  return out;
}

TEST(ChunkText, ShortTextIsOneChunk) {
  EXPECT_EQ(chunk_text("hello world", 4096), std::vector<std::string>{"hello world"});
  const std::string exact(4096, 'x');
  EXPECT_EQ(chunk_text(exact, 4096), std::vector<std::string>{exact});
  EXPECT_TRUE(chunk_text("", 4096).empty());
}

TEST(ChunkText, LongTextWithoutBreaksIsCutAtTheLimit) {
  std::string text;
  for (int i = 0; i < 9000; ++i) text.push_back(static_cast<char>('a' + i % 26));
  const auto chunks = chunk_text(text, 4096);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), 4096u);
  EXPECT_EQ(chunks[1].size(), 4096u);
  EXPECT_EQ(chunks[2].size(), 9000u - 2 * 4096);
  EXPECT_EQ(join(chunks, ""), text) << "nothing lost or duplicated";
}

TEST(ChunkText, PrefersSpacesOverCuttingWords) {
  std::string text;
  for (int i = 0; text.size() < 9000; ++i) text += (i ? " " : "") + ("word" + std::to_string(i));
  const auto chunks = chunk_text(text, 4096);
  ASSERT_EQ(chunks.size(), 3u);
  for (const auto& c : chunks) {
    EXPECT_LE(c.size(), 4096u);
    EXPECT_EQ(c.rfind("word", 0), 0u) << "a chunk starts with a whole word";
    EXPECT_NE(c.back(), ' ');
  }
  EXPECT_EQ(join(chunks, " "), text) << "only the separating spaces are dropped";
}

TEST(ChunkText, PrefersNewlinesOverSpaces) {
  // 100-byte lines (99 characters with spaces, then '\n'): 40 fit in 4096, 41 do not.
  std::string line = repeat("abcdefgh ", 11);  // 99 characters
  ASSERT_EQ(line.size(), 99u);
  std::string text;
  for (int i = 0; i < 100; ++i) text += line + "\n";
  text.pop_back();
  const auto chunks = chunk_text(text, 4096);
  ASSERT_EQ(chunks.size(), 3u);
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += line + (i < 39 ? "\n" : "");
  EXPECT_EQ(chunks[0], forty) << "cut at the last newline, not at the last space";
  EXPECT_EQ(chunks[1], forty);
  EXPECT_EQ(join(chunks, "\n"), text);
}

TEST(ChunkText, NeverSplitsAUtf8Character) {
  struct Case {
    const char* what;
    std::string text;
  };
  const std::vector<Case> cases = {
      {"5000 x e-acute (2 bytes)", repeat("\xC3\xA9", 5000)},
      {"5000 x emoji (4 bytes)", repeat("\xF0\x9F\x98\x80", 5000)},
      {"3-byte CJK shifted by one ASCII byte", "a" + repeat("\xE4\xB8\xAD", 5000)},
      {"mixed", repeat("a\xC3\xA9\xF0\x9F\x98\x80\xE4\xB8\xAD", 2000)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const auto chunks = chunk_text(c.text, 4096);
    ASSERT_GE(chunks.size(), 2u);
    long total = 0;
    for (const auto& ch : chunks) {
      const long cps = utf8_code_points(ch);
      ASSERT_GE(cps, 0) << "chunk is not valid UTF-8";
      EXPECT_LE(cps, 4096);
      total += cps;
    }
    EXPECT_EQ(join(chunks, ""), c.text);
    EXPECT_EQ(total, utf8_code_points(c.text));
  }
  // The limit counts UTF-16 units, not bytes: 4096 two-byte characters are one message.
  EXPECT_EQ(chunk_text(repeat("\xC3\xA9", 4096), 4096).size(), 1u);
}

// Telegram counts UTF-16 code units: an emoji outside the BMP is two, so 4096 emoji (8192
// units) are refused by the real API as "message is too long" unless cut in two.
TEST(ChunkText, LimitsAreUtf16CodeUnits) {
  const std::string emoji = test_data::sample("long_emoji_4096_codepoints");
  ASSERT_EQ(utf8::utf16_length(emoji), 8192u);
  auto chunks = chunk_text(emoji, 4096);
  ASSERT_EQ(chunks.size(), 2u);
  for (const auto& c : chunks) {
    EXPECT_TRUE(utf8::valid(c));
    EXPECT_EQ(utf8::utf16_length(c), 4096u);
  }
  EXPECT_EQ(join(chunks, ""), emoji);

  const std::string cjk = test_data::sample("long_cjk_4096_utf16");  // 4097 BMP characters
  chunks = chunk_text(cjk, 4096);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(utf8::utf16_length(chunks[0]), 4096u);
  EXPECT_EQ(utf8::utf16_length(chunks[1]), 1u);

  // An odd limit never splits a surrogate pair: the chunk ends one unit short instead.
  chunks = chunk_text(repeat("\xF0\x9F\x98\x80", 10), 5);
  ASSERT_EQ(chunks.size(), 5u);
  for (const auto& c : chunks) EXPECT_EQ(c, repeat("\xF0\x9F\x98\x80", 2));
  // A limit of 1 still sends an emoji (alone) rather than looping or dropping it.
  EXPECT_EQ(chunk_text("\xF0\x9F\x98\x80", 1), std::vector<std::string>{"\xF0\x9F\x98\x80"});

  // Breaks at spaces still apply to mixed scripts.
  std::string mixed;
  for (const char* k : {"chinese", "arabic_rtl", "emoji_zwj", "astral", "hebrew_rtl"})
    mixed += test_data::sample(k) + " ";
  std::string big;
  while (utf8::utf16_length(big) < 9000) big += mixed;
  chunks = chunk_text(big, 4096);
  ASSERT_GE(chunks.size(), 3u);
  for (const auto& c : chunks) {
    EXPECT_TRUE(utf8::valid(c));
    EXPECT_LE(utf8::utf16_length(c), 4096u);
  }
}

// Telegram answers 400 "message text is empty" to a whitespace-only message, so a separator
// just past the limit, or a run of them across it, must not become a chunk of its own.
TEST(ChunkText, NoChunkIsOnlyWhitespace) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"4096 characters then a trailing newline", std::string(4096, 'a') + "\n"},
      {"4096 characters then a trailing space", std::string(4096, 'a') + " "},
      {"a run of newlines across the limit", std::string(4000, 'a') + std::string(200, '\n')},
  };
  for (const auto& [what, text] : cases) {
    SCOPED_TRACE(what);
    const auto chunks = chunk_text(text, 4096);
    ASSERT_FALSE(chunks.empty());
    const std::string joined = join(chunks, "");
    EXPECT_EQ(std::count(joined.begin(), joined.end(), 'a'),
              std::count(text.begin(), text.end(), 'a'))
        << "no visible text is lost";
    for (size_t i = 0; i < chunks.size(); ++i)
      EXPECT_NE(chunks[i].find_first_not_of(" \n"), std::string::npos)
          << "chunk " << i << " of " << chunks.size() << " is only whitespace (" << chunks[i].size()
          << " bytes): Telegram rejects it";
  }
}

// A vector, not a json: `{e}` for a json parameter is an array to gcc and a copy of e to clang.
nlohmann::json message(const std::string& text, std::vector<nlohmann::json> entities = {}) {
  nlohmann::json m = {{"message_id", 7},
                      {"date", 1700000000},
                      {"chat", {{"id", -100123}, {"type", "supergroup"}, {"title", "G"}}},
                      {"from", {{"id", 42}, {"first_name", "Ann"}, {"username", "ann"}}},
                      {"text", text}};
  if (!entities.empty()) m["entities"] = entities;
  return m;
}

nlohmann::json entity(const std::string& type, size_t offset_units, size_t length_units) {
  return {{"type", type}, {"offset", offset_units}, {"length", length_units}};
}

TEST(ReadMessage, IdsThatAreNotInt64IntegersAreNeverConverted) {
  // Found by fuzz_telegram_updates: a chat id of -3.3e90 was converted to int64 (undefined
  // behaviour; in practice INT64_MIN posing as a real chat). Such a message is unreadable.
  nlohmann::json m = message("你好");
  m["chat"]["id"] = -3.3333e90;
  EXPECT_THROW(read_message(m, 555, "my_bot"), std::invalid_argument);
  m = message("你好");
  m["from"]["id"] = nlohmann::json::parse("18446744073709551615");
  EXPECT_THROW(read_message(m, 555, "my_bot"), std::invalid_argument);
  m = message("你好");
  m["message_id"] = "7";  // not an id anyone is told: reads as 0
  EXPECT_EQ(read_message(m, 555, "my_bot").message_id, "0");
  EXPECT_EQ(read_message(m, 555, "my_bot").text, "你好");
}

TEST(ReadMessage, SenderChatAndPlainText) {
  const InboundFacts f = read_message(message(test_data::sample("arabic_rtl")), 555, "my_bot");
  EXPECT_EQ(f.chat_id, "-100123");
  EXPECT_EQ(f.chat_type, "group") << "supergroups are groups";
  EXPECT_EQ(f.sender_id, "42");
  EXPECT_EQ(f.sender_username, "ann");
  EXPECT_EQ(f.message_id, "7");
  EXPECT_EQ(f.ts_ms, 1700000000000);
  EXPECT_EQ(f.text, test_data::sample("arabic_rtl"));
  EXPECT_FALSE(f.was_mentioned || f.reply_to_bot || f.bot_command);
  EXPECT_EQ(f.original_bytes, 0u);
}

TEST(ReadMessage, MentionOffsetsAreUtf16UnitsAfterChineseArabicAndEmoji) {
  // Entities count UTF-16 units: "😀" is 2, each CJK or Arabic letter 1.
  const std::string prefix = "你好 😀 مرحبا ";
  const size_t at = utf8::utf16_length(prefix);
  ASSERT_EQ(at, 12u);
  EXPECT_TRUE(
      read_message(message(prefix + "@My_Bot ping", {entity("mention", at, 7)}), 555, "my_bot")
          .was_mentioned)
      << "usernames compare without case";
  EXPECT_FALSE(
      read_message(message(prefix + "@other_bot ping", {entity("mention", at, 10)}), 555, "my_bot")
          .was_mentioned);
  // The same handle as plain text without an entity (e.g. inside code) is not a mention.
  EXPECT_FALSE(read_message(message(prefix + "@my_bot"), 555, "my_bot").was_mentioned);
  nlohmann::json tm = entity("text_mention", 0, 3);
  tm["user"] = {{"id", 555}, {"is_bot", true}, {"first_name", "Bot"}};
  EXPECT_TRUE(read_message(message("Bot, hi", {tm}), 555, "my_bot").was_mentioned);
  // Offsets past the end are ignored, not trusted.
  EXPECT_FALSE(
      read_message(message("hi", {entity("mention", 50, 7)}), 555, "my_bot").was_mentioned);
}

TEST(ReadMessage, RepliesToTheBotAndCommandsForIt) {
  nlohmann::json m = message("谢谢");
  m["reply_to_message"] = {{"message_id", 3}, {"from", {{"id", 555}, {"is_bot", true}}}};
  EXPECT_TRUE(read_message(m, 555, "my_bot").reply_to_bot);
  m["reply_to_message"]["from"]["id"] = 42;
  EXPECT_FALSE(read_message(m, 555, "my_bot").reply_to_bot) << "a reply to another member";

  EXPECT_TRUE(
      read_message(message("/status", {entity("bot_command", 0, 7)}), 555, "my_bot").bot_command);
  EXPECT_TRUE(
      read_message(message("/status@MY_BOT now", {entity("bot_command", 0, 14)}), 555, "my_bot")
          .bot_command);
  EXPECT_FALSE(
      read_message(message("/status@other_bot", {entity("bot_command", 0, 17)}), 555, "my_bot")
          .bot_command)
      << "a command for another bot";
  EXPECT_FALSE(read_message(message("see /status", {entity("bot_command", 4, 7)}), 555, "my_bot")
                   .bot_command)
      << "only a message that starts with the command";
}

TEST(ReadMessage, HugeTextIsCutOnACodePointBoundary) {
  std::string text;
  while (text.size() < 100 * 1024) text += "a\xF0\x9F\x98\x80\xE4\xB8\xAD";  // 1 + 4 + 3 bytes
  const InboundFacts f = read_message(message(text), 555, "my_bot");
  EXPECT_EQ(f.original_bytes, text.size());
  EXPECT_LE(f.text.size(), kMaxInboundTextBytes);
  EXPECT_GE(f.text.size(), kMaxInboundTextBytes - 3);
  EXPECT_TRUE(utf8::valid(f.text));
  EXPECT_EQ(text.compare(0, f.text.size(), f.text), 0) << "a prefix of the original";
  const InboundFacts exact = read_message(message(std::string(kMaxInboundTextBytes, 'x')), 1, "b");
  EXPECT_EQ(exact.original_bytes, 0u) << "at the bound nothing is cut";
}

TEST(RepairJsonText, InvalidBytesAndUnpairedSurrogatesBecomeReplacementCharacters) {
  for (const auto& [bytes, what] : test_data::invalid_sequences()) {
    SCOPED_TRACE(what);
    const std::string body =
        R"({"ok":true,"result":[{"update_id":5,"text":"a)" + bytes + R"(b"}]})";
    EXPECT_TRUE(nlohmann::json::parse(body, nullptr, false).is_discarded())
        << "the parser refuses it as it is";
    const auto j = nlohmann::json::parse(repair_json_text(body), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << repair_json_text(body);
    const std::string text = j["result"][0]["text"];
    EXPECT_TRUE(utf8::valid(text));
    EXPECT_EQ(text.front(), 'a');
    EXPECT_EQ(text.back(), 'b');
    EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);
  }
  // Escaped surrogates: a proper pair stays, lone ones (either half) become U+FFFD, and an
  // escaped backslash before "u" is not an escape.
  const std::string body =
      R"({"a":"\ud83d\ude00","b":"x\ud83dy","c":"\ude00","d":"\\ud800","e":"\ud83d\u0041"})";
  const auto j = nlohmann::json::parse(repair_json_text(body), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << repair_json_text(body);
  EXPECT_EQ(j["a"], "\xF0\x9F\x98\x80");
  EXPECT_EQ(j["b"], "x\xEF\xBF\xBDy");
  EXPECT_EQ(j["c"], "\xEF\xBF\xBD");
  EXPECT_EQ(j["d"], "\\ud800");
  EXPECT_EQ(j["e"],
            "\xEF\xBF\xBD"
            "A");
  const std::string valid = R"({"ok":true,"text":"你好 😀 \n \" \\"})";
  EXPECT_EQ(repair_json_text(valid), valid) << "valid bodies pass unchanged";
}

// Sets or clears an environment variable for one scope.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/clawgate-tgtoken-XXXXXX";
  const int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

// `section` as the worker reads it: sent in a Reload message (the supervisor's side) and read
// back from it (the worker's), which refuses what the config schema refuses.
Result<cfg::TelegramChannel> through_the_link(const cfg::TelegramChannel& section) {
  capnp::MallocMessageBuilder b;
  auto msg = b.initRoot<ipc::Control>();
  ipc::ReloadMessage::telegram(section).copy_to(msg);
  return ipc::telegram_settings(msg.asReader().getReload(), "channels.telegram");
}

// The worker's settings from a section as written in the file: read by the parser the
// supervisor reads the file with, then through the link.
TelegramConfig config_of(const nlohmann::json& section, const std::string& state_dir) {
  cfg::Issues issues;
  const cfg::TelegramChannel t = cfg::parse_TelegramChannel(section, "channels.telegram", issues);
  EXPECT_FALSE(issues.has_errors()) << section;
  Result<cfg::TelegramChannel> sent = through_the_link(t);
  if (!sent) throw std::runtime_error(sent.error().message);
  return telegram_config(*sent, state_dir);
}

TEST(TelegramConfig, TokenFromBotToken) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", "from-env");
  const TelegramConfig c = config_of({{"botToken", "123:abc"}}, "/tmp/state");
  EXPECT_EQ(c.token, "123:abc") << "the config wins over the environment";
  EXPECT_EQ(c.state_dir, "/tmp/state");
  EXPECT_EQ(c.api_root, "https://api.telegram.org");
  EXPECT_EQ(c.poll_timeout_s, 30);
  EXPECT_EQ(c.chunk_limit, 4096u);
}

TEST(TelegramConfig, TokenFromTokenFileIsTrimmed) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", nullptr);
  const std::string path = write_temp("456:from-file\n");
  const TelegramConfig c = config_of({{"tokenFile", path}}, "/tmp/state");
  EXPECT_EQ(c.token, "456:from-file");
  const std::string crlf = write_temp("456:crlf \r\n");
  EXPECT_EQ(config_of({{"tokenFile", crlf}}, "").token, "456:crlf");
  ::unlink(path.c_str());
  ::unlink(crlf.c_str());

  try {
    config_of({{"tokenFile", "/nonexistent/token"}}, "");
    FAIL() << "expected an error for an unreadable tokenFile";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "tokenFile")) << e.what();
    EXPECT_TRUE(contains(e.what(), "/nonexistent/token")) << e.what();
  }
}

TEST(TelegramConfig, TokenFromEnvironment) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", "789:env");
  EXPECT_EQ(config_of(nlohmann::json::object(), "").token, "789:env");
  EXPECT_THROW(telegram_config(cfg::TelegramChannel{}, "", "work"), std::runtime_error)
      << "the variable serves the default account only";
}

TEST(TelegramConfig, MissingTokenNamesWhereToPutIt) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", nullptr);
  for (const char* section : {"{}", R"({"botToken":""})", R"({"dmPolicy":"open"})"}) {
    try {
      config_of(nlohmann::json::parse(section), "");
      FAIL() << "expected an error for " << section;
    } catch (const std::runtime_error& e) {
      EXPECT_TRUE(contains(e.what(), "botToken")) << e.what();
      EXPECT_TRUE(contains(e.what(), "TELEGRAM_BOT_TOKEN")) << e.what();
    }
  }
}

TEST(TelegramConfig, ApiRootAndLimits) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", nullptr);
  auto parse = [](nlohmann::json j) {
    j["botToken"] = "1:x";
    return config_of(j, "");
  };
  EXPECT_EQ(parse({{"apiRoot", "http://127.0.0.1:8081/"}}).api_root, "http://127.0.0.1:8081");
  EXPECT_EQ(parse({{"apiRoot", "https://tg.example//"}}).api_root, "https://tg.example");
  EXPECT_EQ(parse({{"apiRoot", "https://tg.example/bot-api"}}).api_root,
            "https://tg.example/bot-api");
  EXPECT_EQ(parse({{"pollTimeoutSeconds", 20}}).poll_timeout_s, 20);
  EXPECT_EQ(parse({{"textChunkLimit", 2000}}).chunk_limit, 2000u);
  // The worker checks what it is sent against the schema the supervisor checked the file
  // with: a value out of range is an error naming the key, not a silent clamp.
  using Set = void (*)(cfg::TelegramChannel&);
  for (const auto& [key, set] : std::vector<std::pair<std::string, Set>>{
           {"pollTimeoutSeconds", [](cfg::TelegramChannel& t) { t.poll_timeout_seconds = 0; }},
           {"pollTimeoutSeconds", [](cfg::TelegramChannel& t) { t.poll_timeout_seconds = -5; }},
           {"pollTimeoutSeconds", [](cfg::TelegramChannel& t) { t.poll_timeout_seconds = 100; }},
           {"textChunkLimit", [](cfg::TelegramChannel& t) { t.text_chunk_limit = 10000; }},
           {"textChunkLimit", [](cfg::TelegramChannel& t) { t.text_chunk_limit = 0; }},
           {"apiRoot", [](cfg::TelegramChannel& t) { t.api_root = "tg.example"; }}}) {
    cfg::TelegramChannel t;
    t.bot_token = "1:x";
    set(t);
    const Result<cfg::TelegramChannel> sent = through_the_link(t);
    ASSERT_FALSE(sent) << key << " accepted";
    EXPECT_TRUE(contains(sent.error().message, "channels.telegram." + key)) << sent.error().message;
  }
}

TEST(TelegramState, OffsetMovesIntoTheAccountDirectoryOnce) {
  char tmpl[] = "/tmp/clawgate-tg-state-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string state = tmpl;
  // The layout before per-account directories: state/telegram/<account>.offset.
  make_dirs(state + "/telegram");
  atomic_write_file(state + "/telegram/default.offset", "4242\n");
  TelegramConfig cfg;
  cfg.token = "1:x";
  cfg.api_root = "http://127.0.0.1:9";
  cfg.state_dir = state;
  boost::asio::io_context io;
  SystemClock clock;
  Logger log(clock, nullptr);
  { TelegramWorker w(io, log, cfg); }
  EXPECT_EQ(telegram_account_dir(cfg), state + "/telegram/default");
  EXPECT_EQ(read_file(state + "/telegram/default/offset").value_or(""), "4242\n");
  EXPECT_FALSE(read_file(state + "/telegram/default.offset")) << "the old file is gone";
  // A leftover old file never overwrites the newer one.
  atomic_write_file(state + "/telegram/default/offset", "5000\n");
  atomic_write_file(state + "/telegram/default.offset", "1\n");
  { TelegramWorker w(io, log, cfg); }
  EXPECT_EQ(read_file(state + "/telegram/default/offset").value_or(""), "5000\n");
  std::system(("rm -rf '" + state + "'").c_str());
}

// --- The Bot API readers

TEST(TelegramApi, AnswerOkAndErrors) {
  ApiAnswer a = parse_api_answer("getMe", 200, R"({"ok":true,"result":{"username":"bot"}})");
  EXPECT_TRUE(a.ok);
  EXPECT_EQ(a.result.value("username", ""), "bot");
  a = parse_api_answer("getUpdates", 429,
                       R"({"ok":false,"error_code":429,"description":"Too Many Requests",)"
                       R"("parameters":{"retry_after":7}})");
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.code, 429);
  EXPECT_EQ(a.description, "Too Many Requests");
  EXPECT_EQ(a.retry_after_s, 7);
  a = parse_api_answer("getUpdates", 502, "<html>Bad Gateway</html>");
  EXPECT_FALSE(a.ok);
  EXPECT_FALSE(a.malformed);
  EXPECT_EQ(a.code, 502);
  EXPECT_TRUE(contains(a.description, "getUpdates: HTTP 502 (not JSON)")) << a.description;
  a = parse_api_answer("getUpdates", 200, "{\"ok\":tru");
  EXPECT_TRUE(a.malformed);
}

// Found by fuzz_telegram_updates ({"ok":[]}): envelope fields of another type than the Bot
// API documents threw nlohmann::json::type_error out of the HTTP callback, and the worker died.
TEST(TelegramApi, AnswerWithWrongTypesIsAnErrorNotAThrow) {
  for (const char* body :
       {R"({"ok":[]})", R"({"ok":"true"})", R"({"ok":false,"error_code":"429"})",
        R"({"ok":false,"description":42})", R"({"ok":false,"parameters":{"retry_after":"5"}})",
        R"({"ok":false,"error_code":1e300,"parameters":{"retry_after":-1e300}})"}) {
    ApiAnswer a;
    EXPECT_NO_THROW(a = parse_api_answer("getUpdates", 400, body)) << body;
    EXPECT_FALSE(a.ok) << body;
    EXPECT_GE(a.retry_after_s, 0) << body;
  }
  ApiAnswer a;
  EXPECT_NO_THROW(a = parse_api_answer("getUpdates", 200, R"({"ok":true})"));
  EXPECT_TRUE(a.ok);
  EXPECT_TRUE(a.result.is_null());
}

TEST(TelegramUpdates, TextMessagesInOrderAndTheOffsetMovesPastEveryUpdate) {
  const Json updates = Json::parse(R"([
    {"update_id": 10, "message": {"message_id": 3, "date": 1700000000, "text": "hi",
      "chat": {"id": -100, "type": "supergroup"},
      "from": {"id": 42, "first_name": "Ann", "last_name": "Lee", "username": "ann"}}},
    {"update_id": 11, "edited_message": {"text": "edited"}},
    {"update_id": 12, "message": {"photo": []}},
    {"update_id": 13, "message": {"text": "dm", "chat": {"id": 42, "type": "private"}}}
  ])");
  int64_t offset = 0;
  const auto in = parse_updates(updates, offset, 555, "my_bot");
  EXPECT_EQ(offset, 14);
  ASSERT_EQ(in.size(), 2u);
  EXPECT_EQ(in[0].update_id, 10);
  EXPECT_EQ(in[0].facts.chat_id, "-100");
  EXPECT_EQ(in[0].facts.chat_type, "group");
  EXPECT_EQ(in[0].facts.sender_name, "Ann Lee");
  EXPECT_EQ(in[0].facts.text, "hi");
  EXPECT_EQ(in[0].facts.ts_ms, 1'700'000'000'000);
  EXPECT_EQ(in[1].update_id, 13);
  EXPECT_EQ(in[1].facts.chat_type, "direct");
  // Already seen: skipped, and the offset stays.
  EXPECT_TRUE(parse_updates(updates, offset, 555, "my_bot").empty());
  EXPECT_EQ(offset, 14);
}

// An update_id that is not an int64 (a string, a float, past INT64_MAX) threw
// nlohmann::json::type_error or overflowed before any message was read; a message whose
// fields have another type (a sender id as a string, found by fuzz_telegram_updates) is left
// out with its reason. Nothing throws, and the offset moves past every readable id.
TEST(TelegramUpdates, WrongTypesAndOverflowsAreSkipped) {
  const Json updates = Json::parse(R"([
    {"update_id": 1001, "message": {"from": {"id": "ann"}, "chat": {"id": -100, "type": "group"},
      "date": 1700000000, "text": "found by fuzzing"}},
    "not an update", 7, null,
    {"update_id": "1002", "message": {"text": "id is a string"}},
    {"update_id": 1.5e300, "message": {"text": "id is a float"}},
    {"update_id": 18446744073709551615, "message": {"text": "id past int64"}},
    {"update_id": 1003, "message": "text"},
    {"update_id": 1004, "message": {"text": "ok", "date": 9223372036854775807}},
    {"update_id": 9223372036854775807, "message": {"text": "last"}}
  ])");
  int64_t offset = 0;
  std::vector<std::string> skipped;
  std::vector<InboundUpdate> in;
  ASSERT_NO_THROW(in = parse_updates(updates, offset, 555, "my_bot", &skipped));
  EXPECT_EQ(offset, 1005);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].update_id, 1004);
  EXPECT_GT(in[0].facts.ts_ms, 0);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_TRUE(contains(skipped[0], "update 1001 skipped")) << skipped[0];
  EXPECT_TRUE(parse_updates(Json::object(), offset, 555, "my_bot").empty());
}

}  // namespace
}  // namespace clawgate::workers
