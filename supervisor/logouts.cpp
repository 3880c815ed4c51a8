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

// The content of a credential file as the fingerprint sees it: the bytes, or why there are none
// (a worker that cannot read it will not start either; when it becomes readable the fingerprint
// changes, which is a login).
std::string credential_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return std::string("unreadable: ") + std::strerror(errno);
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxCredentialFile) {
    out = "not a token file";
  } else {
    out.resize(static_cast<size_t>(st.st_size));
    const ssize_t n = ::pread(fd, out.data(), out.size(), 0);
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

const std::string* bounded(const nlohmann::json& j, const char* key, size_t max) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return nullptr;
  const std::string& s = it->get_ref<const std::string&>();
  return s.empty() || s.size() > max || !utf8::valid(s) ? nullptr : &s;
}

}  // namespace

LogoutStore::LogoutStore(std::string state_dir) : dir_(std::move(state_dir)) {}

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
  if (!j.is_object() || j.value("version", 0) != 1 || !j.contains("loggedOut") ||
      !j["loggedOut"].is_object())
    throw refuse("not a logout file of this version");
  if (j["loggedOut"].size() > kMaxMarks) throw refuse("too many entries");
  for (const auto& [worker, e] : j["loggedOut"].items()) {
    const std::string *channel = bounded(e, "channel", kMaxName),
                      *account = bounded(e, "accountId", kMaxName),
                      *fp = bounded(e, "credentials", kMaxFingerprint);
    if (worker.empty() || worker.size() > kMaxName || !utf8::valid(worker) || !channel ||
        !account || !fp)
      throw refuse("a malformed entry");
    LogoutMark m{*channel, *account, *fp, 0};
    if (auto at = e.find("at"); at != e.end() && at->is_number_integer()) m.at_ms = *at;
    marks_[worker] = std::move(m);
  }
}

std::optional<std::string> LogoutStore::fingerprint(const std::string& worker) const {
  auto it = marks_.find(worker);
  if (it == marks_.end()) return std::nullopt;
  return it->second.fingerprint;
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
  for (const auto& [worker, m] : marks)
    out[worker] = {{"channel", m.channel},
                   {"accountId", m.account_id},
                   {"credentials", m.fingerprint},
                   {"at", m.at_ms}};
  atomic_write_file(path(), dump_json({{"version", 1}, {"loggedOut", out}}, 2) + "\n", 0600);
}

ChannelCredentials channel_credentials(const ChannelSettings& c, const Environment& child_env,
                                       const std::string& key) {
  ChannelCredentials out;
  // Length-prefixed fields: unambiguous for any bytes (a token file or a variable may hold any).
  std::string parts;
  auto field = [&parts](const std::string& tag, const std::string& value) {
    parts += tag + ":" + std::to_string(value.size()) + ":" + value + "\n";
  };
  field("channel", c.name);
  field("account", c.account_id);
  if (const ChannelKind* kind = channel_kind(c.name)) {
    for (const auto& cred : kind->credentials) {
      for (const auto& k : cred.keys) {
        auto it = c.section.find(k);
        if (it == c.section.end() || !it->is_string()) continue;
        const std::string value = it->get<std::string>();
        field("key " + k, value);
        // A key that names a file (tokenFile): its content is the credential.
        if (k.size() > 4 && k.compare(k.size() - 4, 4, "File") == 0)
          field("file " + k, credential_file(value));
      }
      if (auto e = child_env.find(cred.env); !cred.env.empty() && e != child_env.end()) {
        field("env " + cred.env, e->second);
        out.env_names.push_back(cred.env);
      }
    }
  }
  out.fingerprint = "hmac-sha256:" + hex(hmac_sha256(key, parts));
  return out;
}

}  // namespace clawgate::supervisor
