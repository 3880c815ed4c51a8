// State directory: its permissions, and the generated shared token in it.
// Fails: std::system_error from the filesystem (with the path); std::runtime_error when the
// directory or token belongs to someone else (nothing is changed then).
#pragma once
#include <string>

namespace clawgate {

struct TokenLoad {
  std::string token;
  bool created = false;  // true on the first run: the caller prints it once
  std::string path;
};

// Reads <state_dir>/gateway-token, or creates it (0600, atomically) with a fresh random token.
// A token file others can read is made 0600 first (and said so in `fixed`).
TokenLoad load_or_create_token(const std::string& state_dir, std::string* fixed = nullptr);

// The key config.get's `hash` is an HMAC with: <state_dir>/config-hash-key (0600, created
// once). A keyed hash identifies a config version without letting a reader test guesses of
// the secrets in it.
std::string load_or_create_config_hash_key(const std::string& state_dir);

// Creates the state dir (0700) if missing. One that others may read or write, and that this
// user owns, is made 0700; returns what was fixed ("" if nothing). One owned by another user
// is refused: transcripts, tokens and pairing approvals live there.
std::string secure_state_dir(const std::string& state_dir);

}  // namespace clawgate
