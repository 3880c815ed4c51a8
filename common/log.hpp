// Logging: human-readable lines on stdout (journald-friendly) plus a bounded in-memory ring of
// JSON records that `logs.tail` serves. The ring holds at most kMaxLines lines / kMaxBytes bytes;
// on overflow the oldest lines are dropped and readers with an older cursor get `reset`.
// Fails: never throws from log(); a failed stdout write is ignored.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "clock.hpp"

namespace clawgate {

enum class LogLevel { debug, info, warn, error };

class LogRing {
 public:
  static constexpr size_t kMaxLines = 5000;
  static constexpr size_t kMaxBytes = 2 * 1024 * 1024;

  void append(std::string line);

  struct Tail {
    int64_t cursor = 0;  // pass back to continue after the last line returned
    int64_t size = 0;    // bytes ever written (a virtual log file size)
    std::vector<std::string> lines;
    bool truncated = false;  // older lines exist that were not returned
    bool reset = false;      // the cursor pointed at lines no longer held
  };
  // cursor < 0: the newest lines. Otherwise lines starting at that byte offset.
  Tail tail(int64_t cursor, size_t limit, size_t max_bytes) const;

 private:
  struct Entry {
    int64_t offset;
    std::string line;
  };
  std::deque<Entry> entries_;
  int64_t size_ = 0;
  size_t bytes_ = 0;
};

class Logger {
 public:
  Logger(const Clock& clock, LogRing* ring, LogLevel min_level = LogLevel::info)
      : clock_(clock), ring_(ring), min_level_(min_level) {}

  void log(LogLevel level, std::string_view subsystem, std::string_view msg);
  void info(std::string_view sub, std::string_view msg) { log(LogLevel::info, sub, msg); }
  void warn(std::string_view sub, std::string_view msg) { log(LogLevel::warn, sub, msg); }
  void error(std::string_view sub, std::string_view msg) { log(LogLevel::error, sub, msg); }
  void debug(std::string_view sub, std::string_view msg) { log(LogLevel::debug, sub, msg); }
  void set_min_level(LogLevel l) { min_level_ = l; }

 private:
  const Clock& clock_;
  LogRing* ring_;
  LogLevel min_level_;
};

// A value from the network, made safe to put in a log line: cut to max_bytes on a code-point
// boundary (utf8::cut_bytes; the line says how many bytes were left out), then ASCII and C1
// control characters, DEL, line/paragraph separators and bidi controls are escaped (\xNN,
// \u{NNNN}), bytes that are not UTF-8 are shown as \xNN, and a backslash is doubled.
std::string log_value(std::string_view raw, size_t max_bytes = 200);

std::string iso8601_ms(int64_t epoch_ms);
LogLevel parse_log_level(std::string_view s, LogLevel fallback);

}  // namespace clawgate
