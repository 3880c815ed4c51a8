// Filesystem helpers: see fs.hpp.
#include "fs.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "crypto.hpp"

namespace clawgate {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

std::string dirname_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

int sealed_memfd(const char* name, const std::string& data) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) fail("memfd_create", name);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      errno = err;
      fail("write", name);
    }
    off += static_cast<size_t>(n);
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    fail("seal", name);
  }
  return fd;
}

std::string read_fd_whole(int fd, size_t max) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read", "descriptor " + std::to_string(fd));
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max)
      throw std::length_error("descriptor " + std::to_string(fd) + " holds more than " +
                              std::to_string(max) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
}

void atomic_write_file(const std::string& path, const std::string& data, unsigned mode) {
  // An unpredictable name, created exclusively and never through a symlink: nobody can plant
  // the temp file (or a link in its place) and have us write through it.
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 8; ++attempt) {
    tmp = path + ".tmp." + base64url(random_bytes(9));
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) fail("open", tmp);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      fail("write", tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail("fsync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail("rename", path);
  }
  const int dfd = ::open(dirname_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::optional<std::string> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("open", path);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      fail("read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void make_dirs(const std::string& path, unsigned mode) {
  if (path.empty()) return;
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) fail("mkdir", partial);
  }
}

AppendLog::AppendLog(std::string path) : path_(std::move(path)) {
  open_for_append();
}

AppendLog::~AppendLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendLog::open_for_append() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("open", path_);
  struct stat st {};
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

void AppendLog::append(const std::string& line) {
  std::string data = line;
  data.push_back('\n');
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // A part written before the error (ENOSPC mid-line) would join the next line into one
      // that reads as neither: cut back to the last whole line (best effort: a reader skips a
      // line it cannot parse).
      const int err = errno;
      if (off > 0) {
        const bool cut = ::ftruncate(fd_, static_cast<off_t>(size_)) == 0;
        (void)cut;
      }
      errno = err;
      fail("write", path_);
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) fail("fdatasync", path_);
  size_ += data.size();
}

void AppendLog::rewrite(const std::string& content) {
  atomic_write_file(path_, content);
  open_for_append();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> out;
  const auto text = read_file(path);
  if (!text) return out;
  size_t start = 0;
  for (size_t nl; (nl = text->find('\n', start)) != std::string::npos; start = nl + 1)
    if (nl > start) out.push_back(text->substr(start, nl - start));
  return out;
}

uint64_t scan_lines_backwards(const std::string& path,
                              const std::function<bool(uint64_t, const std::string&)>& on_line,
                              uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    fail("open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail("stat", path);
  }
  // Read backwards in blocks; `carry` holds the bytes after `pos` not yet split into lines (at
  // most one line, which starts before the block).
  off_t pos = st.st_size;
  const off_t floor = static_cast<uint64_t>(st.st_size) > max_bytes
                          ? st.st_size - static_cast<off_t>(max_bytes)
                          : 0;
  uint64_t read_bytes = 0;
  std::string carry;
  bool at_end = true;  // the bytes after the last newline are a torn line: dropped
  bool go = true;
  char buf[16384];
  while (go && pos > floor) {
    const size_t want = static_cast<size_t>(std::min<off_t>(sizeof buf, pos - floor));
    pos -= static_cast<off_t>(want);
    ssize_t n;
    do n = ::pread(fd, buf, want, pos);
    while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(want)) {
      ::close(fd);
      fail("read", path);
    }
    read_bytes += want;
    carry.insert(0, buf, want);
    size_t nl;
    while (go && (nl = carry.rfind('\n')) != std::string::npos) {
      const uint64_t offset = static_cast<uint64_t>(pos) + nl + 1;
      std::string line = carry.substr(nl + 1);
      carry.resize(nl);
      if (at_end) {
        at_end = false;
        continue;
      }
      if (!line.empty()) go = on_line(offset, line);
    }
  }
  // The file's first line (no newline before it) once everything was read.
  if (go && pos == 0 && !at_end && !carry.empty()) on_line(0, carry);
  ::close(fd);
  return read_bytes;
}

std::vector<std::string> read_last_lines(const std::string& path,
                                         const std::function<bool(const std::string&)>& keep,
                                         size_t max_lines, size_t max_bytes) {
  std::vector<std::string> out;
  if (max_lines == 0) return out;
  scan_lines_backwards(
      path,
      [&](uint64_t, const std::string& line) {
        if (keep(line)) out.push_back(line);
        return out.size() < max_lines;
      },
      max_bytes);
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace clawgate
