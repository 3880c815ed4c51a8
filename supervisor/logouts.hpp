// Logged-out channel accounts (channels.logout), persisted in the state directory: for each
// worker, a keyed fingerprint of each token it was logged out with, never the tokens. The
// gateway does not write the user's config (it may be read-only), so a logout is this mark: the
// supervisor spawns that worker while none of its tokens is a marked one, and a config whose
// tokens are all new (a login) clears it. A token is its value as the worker uses it, so how it
// is written (botToken or tokenFile, a trailing newline) does not matter, and the one read at
// spawn is the one recorded.
// Fails closed: a token that cannot be read (tokenFile unreadable) keeps a mark holding; a mark
// written with another fingerprint key (the state dir's key was lost) holds until the file is
// removed. load() throws std::runtime_error naming the file when it exists but is not a logout
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
  std::vector<std::string> tokens;  // token_fingerprints() of the worker it stopped
  int64_t at_ms = 0;                // wall clock
  bool key_matches = true;          // written with this key; false: held whatever the tokens
};

class LogoutStore {
 public:
  static constexpr size_t kMaxMarks = 4096;
  static constexpr size_t kMaxTokens = 16;  // per mark
  static constexpr size_t kMaxFileBytes = 4 << 20;
  static constexpr const char* kFileName = "channel-logouts.json";

  // `state_dir` "" keeps the marks in memory only (tests). `key` keys every fingerprint (the
  // state directory's config hash key).
  explicit LogoutStore(std::string state_dir = "", std::string key = "");
  void load();
  const LogoutMark* find(const std::string& worker) const;
  void mark(const std::string& worker, LogoutMark m);
  void clear(const std::string& worker);
  const std::map<std::string, LogoutMark>& marks() const { return marks_; }
  std::string path() const;
  const std::string& key() const { return key_; }

 private:
  void save(const std::map<std::string, LogoutMark>& marks) const;
  std::string key_check() const;
  std::string dir_, key_;
  std::map<std::string, LogoutMark> marks_;  // by worker name ("telegram", "telegram:work")
};

// Where one token a worker uses comes from, in the worker's own precedence: the config's value,
// else the content of the file the config names (trimmed as the worker trims it), else the
// variable in the worker's environment. Read at spawn, not at config load: the worker reads its
// tokenFile when it starts.
struct TokenSource {
  std::string value;  // "" none
  std::string file;   // "" none
  std::string env;    // the variable's value as the worker gets it; "" none
  bool operator==(const TokenSource& o) const {
    return value == o.value && file == o.file && env == o.env;
  }
};

struct ChannelTokens {
  std::vector<TokenSource> sources;
  std::vector<std::string> env_names;  // the variables among them (logout says so)
};
// The tokens of an account's worker by its kind's credentials (channel_kinds.hpp); a credential
// that serves another mode (Slack's appToken in HTTP mode) is left out.
ChannelTokens channel_tokens(const ChannelSettings& c, const Environment& child_env);

// "hmac-sha256:<hex>" of each token the worker would get now, without names, so the same token
// written another way matches. nullopt when one cannot be known (its file unreadable, not a
// regular file, or too large): unknown is never taken for a new token.
std::optional<std::vector<std::string>> token_fingerprints(const std::vector<TokenSource>& tokens,
                                                           const std::string& key);

}  // namespace clawgate::supervisor
