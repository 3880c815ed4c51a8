// State directory: see state.hpp.
#include "state.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "crypto.hpp"
#include "fs.hpp"

namespace clawgate {
namespace {

// Makes `path` private to this user (mode & ~077); returns a note when it had to.
std::string make_private(const std::string& path, mode_t keep) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::system_error(errno, std::generic_category(), "stat " + path);
  if (st.st_uid != ::geteuid())
    throw std::runtime_error(path + " belongs to uid " + std::to_string(st.st_uid) +
                             ", not to this user (uid " + std::to_string(::geteuid()) +
                             "); refusing to use it");
  if ((st.st_mode & 077) == 0) return "";
  if (::chmod(path.c_str(), st.st_mode & keep) != 0)
    throw std::system_error(errno, std::generic_category(), "chmod " + path);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
  return path + " was mode " + mode + " (readable by others); made private";
}

}  // namespace

std::string secure_state_dir(const std::string& state_dir) {
  make_dirs(state_dir, 0700);
  return make_private(state_dir, 0700);
}

namespace {

TokenLoad load_or_create_secret(const std::string& state_dir, const std::string& name,
                                std::string* fixed) {
  make_dirs(state_dir, 0700);
  TokenLoad out;
  out.path = state_dir + "/" + name;
  struct stat st {};
  if (::stat(out.path.c_str(), &st) == 0) {
    const std::string note = make_private(out.path, 0600);
    if (fixed) *fixed = note;
  }
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

}  // namespace

TokenLoad load_or_create_token(const std::string& state_dir, std::string* fixed) {
  return load_or_create_secret(state_dir, "gateway-token", fixed);
}

std::string load_or_create_config_hash_key(const std::string& state_dir) {
  return load_or_create_secret(state_dir, "config-hash-key", nullptr).token;
}

}  // namespace clawgate
