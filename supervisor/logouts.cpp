// Logged-out accounts: see logouts.hpp.
#include "logouts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "channel_kinds.hpp"
#include "crypto.hpp"
#include "fs.hpp"
#include "utf8.hpp"

namespace clawgate::supervisor {

namespace {

constexpr size_t kMaxName = 256;             // a worker name, channel or account id in the file
constexpr size_t kMaxFingerprint = 128;      // "hmac-sha256:" + 64 hex digits
constexpr off_t kMaxCredentialFile = 65536;  // a token file is a line; more is not a token file

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += d[b >> 4];
    out += d[b & 15];
  }
  return out;
}

// As the Telegram worker trims its tokenFile (workers/telegram/telegram_worker.cpp trim()).
std::string trim_token(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A token file's content, or nullopt when it cannot be known (then neither can the token).
std::optional<std::string> token_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= kMaxCredentialFile) {
    std::string text(static_cast<size_t>(st.st_size), '\0');
    const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
    if (n == static_cast<ssize_t>(text.size())) out = std::move(text);
  }
  ::close(fd);
  return out;
}

std::string print(const std::string& key, const std::string& what) {
  return "hmac-sha256:" + hex(hmac_sha256(key, what));
}

const std::string* bounded(const nlohmann::json& j, const char* key, size_t max) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return nullptr;
  const std::string& s = it->get_ref<const std::string&>();
  return s.empty() || s.size() > max || !utf8::valid(s) ? nullptr : &s;
}

}  // namespace

LogoutStore::LogoutStore(std::string state_dir, std::string key)
    : dir_(std::move(state_dir)), key_(std::move(key)) {}

// Proves a mark's fingerprints were made with this key: with another (the key file was lost and
// made anew) none would ever match, and every logout would silently clear.
std::string LogoutStore::key_check() const {
  return print(key_, "clawgate logout key check");
}

std::string LogoutStore::path() const {
  return dir_.empty() ? "" : dir_ + "/" + kFileName;
}

void LogoutStore::load() {
  marks_.clear();
  if (dir_.empty()) return;
  const std::string p = path();
  std::optional<std::string> text;
  try {
    text = read_file(p);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read " + p + ": " + e.what());
  }
  if (!text) return;
  auto refuse = [&](const std::string& why) {
    return std::runtime_error(p + ": " + why +
                              " (it records channels.logout; remove it to forget every logout)");
  };
  if (text->size() > kMaxFileBytes) throw refuse("too large");
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("version", 0) != 2 || !j.contains("loggedOut") ||
      !j["loggedOut"].is_object())
    throw refuse("not a logout file of this version");
  if (j["loggedOut"].size() > kMaxMarks) throw refuse("too many entries");
  for (const auto& [worker, e] : j["loggedOut"].items()) {
    const std::string *channel = bounded(e, "channel", kMaxName),
                      *account = bounded(e, "accountId", kMaxName),
                      *check = bounded(e, "keyCheck", kMaxFingerprint);
    auto tokens = e.find("tokens");
    if (worker.empty() || worker.size() > kMaxName || !utf8::valid(worker) || !channel ||
        !account || !check || tokens == e.end() || !tokens->is_array() ||
        tokens->size() > kMaxTokens)
      throw refuse("a malformed entry");
    LogoutMark m{*channel, *account, {}, 0, *check == key_check()};
    for (const auto& t : *tokens) {
      if (!t.is_string() || t.get_ref<const std::string&>().size() > kMaxFingerprint)
        throw refuse("a malformed entry");
      m.tokens.push_back(t.get<std::string>());
    }
    if (auto at = e.find("at"); at != e.end() && at->is_number_integer()) m.at_ms = *at;
    marks_[worker] = std::move(m);
  }
}

const LogoutMark* LogoutStore::find(const std::string& worker) const {
  auto it = marks_.find(worker);
  return it == marks_.end() ? nullptr : &it->second;
}

void LogoutStore::mark(const std::string& worker, LogoutMark m) {
  auto next = marks_;
  next[worker] = std::move(m);
  if (next.size() > kMaxMarks) throw std::length_error("too many logged-out accounts");
  save(next);
  marks_ = std::move(next);
}

void LogoutStore::clear(const std::string& worker) {
  if (!marks_.count(worker)) return;
  auto next = marks_;
  next.erase(worker);
  save(next);
  marks_ = std::move(next);
}

void LogoutStore::save(const std::map<std::string, LogoutMark>& marks) const {
  if (dir_.empty()) return;
  nlohmann::json out = nlohmann::json::object();
  const std::string check = key_check();
  for (const auto& [worker, m] : marks)
    out[worker] = {{"channel", m.channel},
                   {"accountId", m.account_id},
                   {"tokens", m.tokens},
                   // A mark read with another key keeps what it had: it must go on holding.
                   {"keyCheck", m.key_matches ? check : std::string("lost")},
                   {"at", m.at_ms}};
  atomic_write_file(path(), dump_json({{"version", 2}, {"loggedOut", out}}, 2) + "\n", 0600);
}

ChannelTokens channel_tokens(const ChannelSettings& c, const Environment& child_env) {
  ChannelTokens out;
  const ChannelKind* kind = channel_kind(c.name);
  if (!kind) return out;
  auto string_at = [&c](const std::string& k) {
    auto it = c.section.find(k);
    return it != c.section.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto mode = c.section.find("mode");
  for (const auto& cred : kind->credentials) {
    // A credential of another mode is not used; with no mode written, either may be.
    if (!cred.mode.empty() && mode != c.section.end() && mode->is_string() &&
        mode->get<std::string>() != cred.mode)
      continue;
    TokenSource t;
    for (const auto& k : cred.keys) {
      const bool names_file = k.size() > 4 && k.compare(k.size() - 4, 4, "File") == 0;
      (names_file ? t.file : t.value) = string_at(k);
    }
    if (auto e = child_env.find(cred.env); !cred.env.empty() && e != child_env.end()) {
      t.env = e->second;
      out.env_names.push_back(cred.env);
    }
    out.sources.push_back(std::move(t));
  }
  return out;
}

std::optional<std::vector<std::string>> token_fingerprints(const std::vector<TokenSource>& tokens,
                                                           const std::string& key) {
  std::vector<std::string> out;
  for (const auto& t : tokens) {
    // The workers' order (telegram_worker.cpp, discord_worker.cpp, slack_config.cpp): the value,
    // else the file (an unreadable one stops the worker: no fallback), else the variable.
    std::string token = t.value;
    if (token.empty() && !t.file.empty()) {
      auto text = token_file(t.file);
      if (!text) return std::nullopt;
      token = trim_token(std::move(*text));
    }
    if (token.empty()) token = t.env;
    if (!token.empty()) out.push_back(print(key, "clawgate logout token\n" + token));
  }
  return out;
}

}  // namespace clawgate::supervisor
