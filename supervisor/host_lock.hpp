// Exactly one gateway per host and state directory: an flock on <state>/gateway.lock taken
// before any socket is bound, holding the owner's pid for the error message of the next one.
// Fails: HostLockError saying who holds the lock; the lock dies with the process (kill -9 too).
#pragma once
#include <stdexcept>
#include <string>

namespace clawgate::supervisor {

class HostLockError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HostLock {
 public:
  explicit HostLock(const std::string& state_dir);  // throws HostLockError
  ~HostLock();
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace clawgate::supervisor
