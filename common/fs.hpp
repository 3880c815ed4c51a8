// Filesystem helpers: crash-safe writes (unpredictable O_EXCL|O_NOFOLLOW temp + fsync + rename +
// fsync dir), whole-file and tail reads.
// Fails: throws std::system_error carrying the path and errno.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace clawgate {

void atomic_write_file(const std::string& path, const std::string& data, unsigned mode = 0600);
std::optional<std::string> read_file(const std::string& path);  // nullopt if it does not exist
void make_dirs(const std::string& path, unsigned mode = 0700);

// A memory file holding `data`, sealed against any change (memfd_create + F_ADD_SEALS), close-
// on-exec: a child handed it can read it and nothing else. The caller closes the descriptor.
int sealed_memfd(const char* name, const std::string& data);
// Everything in descriptor `fd` from offset 0 (pread: a shared offset does not matter), at most
// `max` bytes; throws std::system_error, or std::length_error when there is more.
std::string read_fd_whole(int fd, size_t max);

// An append-only file of lines, each made durable (fdatasync) before append() returns, so a
// record acknowledged to anyone survives kill -9 and power loss. A torn last line (crash mid
// write) is the reader's to skip: read_lines() drops a final line without its newline.
class AppendLog {
 public:
  explicit AppendLog(std::string path);  // creates the file 0600; throws std::system_error
  ~AppendLog();
  AppendLog(const AppendLog&) = delete;
  AppendLog& operator=(const AppendLog&) = delete;
  void append(const std::string& line);  // adds the newline
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Replaces the whole file atomically with `lines` (compaction) and keeps appending to it.
  void rewrite(const std::string& content);

 private:
  void open_for_append();
  std::string path_;
  int fd_ = -1;
  size_t size_ = 0;
};

// Complete lines of a file (a torn final line is dropped); empty when the file does not exist.
std::vector<std::string> read_lines(const std::string& path);

// Calls on_line(offset, line) for each complete, non-empty line of `path`, newest first, until
// it returns false, the file's start, or `max_bytes` read back from its end; a last line
// without its newline (torn by a crash) is skipped, and so is a line cut by `max_bytes`.
// `offset` is where the line starts in the file. Returns the bytes read; a missing file has no
// lines. Throws std::runtime_error when the file cannot be read.
uint64_t scan_lines_backwards(
    const std::string& path,
    const std::function<bool(uint64_t offset, const std::string& line)>& on_line,
    uint64_t max_bytes = UINT64_MAX);

// The last `max_lines` complete lines for which keep(line) is true, oldest first, reading the
// file backwards and never more than its last `max_bytes`: the cost follows what is asked for,
// not the file's length.
std::vector<std::string> read_last_lines(const std::string& path,
                                         const std::function<bool(const std::string&)>& keep,
                                         size_t max_lines, size_t max_bytes = 64u << 20);

}  // namespace clawgate
