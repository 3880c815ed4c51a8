// State directory: see state.hpp.
#include "state.hpp"

#include "crypto.hpp"
#include "fs.hpp"

namespace clawgate {

TokenLoad load_or_create_token(const std::string& state_dir) {
  make_dirs(state_dir, 0700);
  TokenLoad out;
  out.path = state_dir + "/gateway-token";
  if (auto existing = read_file(out.path)) {
    std::string t = *existing;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (!t.empty()) {
      out.token = t;
      return out;
    }
  }
  out.token = random_token();
  atomic_write_file(out.path, out.token + "\n", 0600);
  out.created = true;
  return out;
}

}  // namespace clawgate
