// Host lock: see host_lock.hpp.
#include "host_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs.hpp"

namespace clawgate::supervisor {

HostLock::HostLock(const std::string& state_dir) : path_(state_dir + "/gateway.lock") {
  make_dirs(state_dir);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw HostLockError("cannot open " + path_ + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      const std::string pid = n > 0 ? std::string(buf, strcspn(buf, "\n")) : "unknown";
      throw HostLockError("another clawgate gateway (pid " + pid +
                          ") is already running with state directory " + state_dir + " (lock " +
                          path_ + ")");
    }
    throw HostLockError("cannot lock " + path_ + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The lock holds regardless; only the message for a second instance suffers.
  }
}

HostLock::~HostLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace clawgate::supervisor
