// State directory contents owned by the gateway process: today the generated shared token.
// Fails: std::system_error from the filesystem (with the path).
#pragma once
#include <string>

namespace clawgate {

struct TokenLoad {
  std::string token;
  bool created = false;  // true on the first run: the caller prints it once
  std::string path;
};

// Reads <state_dir>/gateway-token, or creates it (0600, atomically) with a fresh random token.
TokenLoad load_or_create_token(const std::string& state_dir);

}  // namespace clawgate
