// Logged-out channel accounts (channels.logout), persisted in the state directory: for each
// worker, a keyed fingerprint of the credentials it was logged out with, never the credentials.
// The gateway does not write the user's config (it may be read-only), so a logout is this mark:
// the supervisor gives that worker's credentials to no process while they are unchanged, and a
// new token in the config (a login) clears it.
// Fails: load() throws std::runtime_error naming the file when it exists but is not a logout
// file clawgate wrote (the gateway refuses to start rather than forget a logout); mark() and
// clear() throw std::system_error when the file cannot be written (nothing changes then).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"

namespace clawgate::supervisor {

struct LogoutMark {
  std::string channel, account_id;
  std::string fingerprint;  // channel_credentials()
  int64_t at_ms = 0;        // wall clock
};

class LogoutStore {
 public:
  static constexpr size_t kMaxMarks = 4096;
  static constexpr size_t kMaxFileBytes = 4 << 20;
  static constexpr const char* kFileName = "channel-logouts.json";

  // `state_dir` "" keeps the marks in memory only (tests).
  explicit LogoutStore(std::string state_dir = "");
  void load();
  std::optional<std::string> fingerprint(const std::string& worker) const;
  void mark(const std::string& worker, LogoutMark m);
  void clear(const std::string& worker);
  const std::map<std::string, LogoutMark>& marks() const { return marks_; }
  std::string path() const;

 private:
  void save(const std::map<std::string, LogoutMark>& marks) const;
  std::string dir_;
  std::map<std::string, LogoutMark> marks_;  // by worker name ("telegram", "telegram:work")
};

// What identifies an account's credentials: an HMAC (keyed with the state directory's config
// hash key) over the credential keys of its section (channel_kinds.hpp), the content of a
// credential key naming a file (tokenFile), and the credential variables in its environment.
struct ChannelCredentials {
  std::string fingerprint;             // "hmac-sha256:<hex>"
  std::vector<std::string> env_names;  // the variables that carry one ("DISCORD_BOT_TOKEN")
};
ChannelCredentials channel_credentials(const ChannelSettings& c, const Environment& child_env,
                                       const std::string& key);

}  // namespace clawgate::supervisor
