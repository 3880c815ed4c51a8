// Unit tests: Telegram worker helpers: chunk_text (limits in code points, newline/space
// preference, UTF-8 safety) and parse_telegram_config (token sources, apiRoot, clamping).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "telegram_worker.hpp"

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
  // The limit counts characters, not bytes: 4096 two-byte characters are one message.
  EXPECT_EQ(chunk_text(repeat("\xC3\xA9", 4096), 4096).size(), 1u);
}

// PRODUCT BUG (workers/telegram/telegram_worker.cpp, chunk_text): when a separator falls just
// past the limit, or a run of separators straddles it, the rest becomes a whitespace-only chunk.
// The worker sends every chunk as is (sendMessage), and Telegram (like tests/emulators/telegram)
// answers 400 "message text is empty": a 4097-character reply ending in "\n" is delivered half
// and then reported as failed. Expected: no chunk without visible text. Left enabled: it fails.
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

TEST(TelegramConfig, TokenFromBotToken) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", "from-env");
  const TelegramConfig c = parse_telegram_config(R"({"botToken":"123:abc"})", "/tmp/state");
  EXPECT_EQ(c.token, "123:abc") << "the config wins over the environment";
  EXPECT_EQ(c.state_dir, "/tmp/state");
  EXPECT_EQ(c.api_root, "https://api.telegram.org");
  EXPECT_EQ(c.poll_timeout_s, 30);
  EXPECT_EQ(c.chunk_limit, 4096u);
}

TEST(TelegramConfig, TokenFromTokenFileIsTrimmed) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", nullptr);
  const std::string path = write_temp("456:from-file\n");
  const TelegramConfig c =
      parse_telegram_config(nlohmann::json{{"tokenFile", path}}.dump(), "/tmp/state");
  EXPECT_EQ(c.token, "456:from-file");
  const std::string crlf = write_temp("456:crlf \r\n");
  EXPECT_EQ(parse_telegram_config(nlohmann::json{{"tokenFile", crlf}}.dump(), "").token,
            "456:crlf");
  ::unlink(path.c_str());
  ::unlink(crlf.c_str());

  try {
    parse_telegram_config(R"({"tokenFile":"/nonexistent/token"})", "");
    FAIL() << "expected an error for an unreadable tokenFile";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "tokenFile")) << e.what();
    EXPECT_TRUE(contains(e.what(), "/nonexistent/token")) << e.what();
  }
}

TEST(TelegramConfig, TokenFromEnvironment) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", "789:env");
  EXPECT_EQ(parse_telegram_config("{}", "").token, "789:env");
  EXPECT_EQ(parse_telegram_config("", "").token, "789:env") << "an empty section is {}";
}

TEST(TelegramConfig, MissingTokenNamesWhereToPutIt) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", nullptr);
  for (const char* section : {"{}", R"({"botToken":""})", R"({"dmPolicy":"open"})"}) {
    try {
      parse_telegram_config(section, "");
      FAIL() << "expected an error for " << section;
    } catch (const std::runtime_error& e) {
      EXPECT_TRUE(contains(e.what(), "botToken")) << e.what();
      EXPECT_TRUE(contains(e.what(), "TELEGRAM_BOT_TOKEN")) << e.what();
    }
  }
  EXPECT_THROW(parse_telegram_config("[1,2]", ""), std::runtime_error);
}

TEST(TelegramConfig, ApiRootAndLimits) {
  EnvGuard env("TELEGRAM_BOT_TOKEN", nullptr);
  auto parse = [](nlohmann::json j) {
    j["botToken"] = "1:x";
    return parse_telegram_config(j.dump(), "");
  };
  EXPECT_EQ(parse({{"apiRoot", "http://127.0.0.1:8081/"}}).api_root, "http://127.0.0.1:8081");
  EXPECT_EQ(parse({{"apiRoot", "https://tg.example//"}}).api_root, "https://tg.example");
  EXPECT_EQ(parse({{"apiRoot", "https://tg.example/bot-api"}}).api_root,
            "https://tg.example/bot-api");
  EXPECT_EQ(parse({{"pollTimeoutSeconds", 0}}).poll_timeout_s, 1);
  EXPECT_EQ(parse({{"pollTimeoutSeconds", -5}}).poll_timeout_s, 1);
  EXPECT_EQ(parse({{"pollTimeoutSeconds", 20}}).poll_timeout_s, 20);
  EXPECT_EQ(parse({{"pollTimeoutSeconds", 100}}).poll_timeout_s, 50);
  EXPECT_EQ(parse({{"textChunkLimit", 10000}}).chunk_limit, 4096u);
  EXPECT_EQ(parse({{"textChunkLimit", 0}}).chunk_limit, 1u);
  EXPECT_EQ(parse({{"textChunkLimit", 2000}}).chunk_limit, 2000u);
}

}  // namespace
}  // namespace clawgate::workers
