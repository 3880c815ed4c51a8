// Logging: see log.hpp.
#include "log.hpp"

#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

namespace clawgate {

void LogRing::append(std::string line) {
  const size_t n = line.size() + 1;  // counted with its newline, as in a file
  entries_.push_back({size_, std::move(line)});
  size_ += static_cast<int64_t>(n);
  bytes_ += n;
  while (entries_.size() > kMaxLines || bytes_ > kMaxBytes) {
    bytes_ -= entries_.front().line.size() + 1;
    entries_.pop_front();
  }
}

LogRing::Tail LogRing::tail(int64_t cursor, size_t limit, size_t max_bytes) const {
  Tail out;
  out.size = size_;
  const int64_t first = entries_.empty() ? size_ : entries_.front().offset;
  size_t begin = 0;
  if (cursor < 0) {
    // Newest lines that fit in limit and max_bytes.
    size_t count = 0, bytes = 0;
    begin = entries_.size();
    while (begin > 0 && count < limit && bytes + entries_[begin - 1].line.size() + 1 <= max_bytes) {
      --begin;
      ++count;
      bytes += entries_[begin].line.size() + 1;
    }
    out.truncated = begin > 0;
  } else {
    if (cursor > size_ || cursor < first) {
      out.reset = true;
      cursor = cursor > size_ ? size_ : first;
    }
    while (begin < entries_.size() && entries_[begin].offset < cursor) ++begin;
  }
  size_t bytes = 0, i = begin;
  for (; i < entries_.size() && out.lines.size() < limit; ++i) {
    const size_t n = entries_[i].line.size() + 1;
    if (bytes + n > max_bytes && !out.lines.empty()) break;
    bytes += n;
    out.lines.push_back(entries_[i].line);
  }
  if (i < entries_.size()) out.truncated = true;
  out.cursor = i < entries_.size() ? entries_[i].offset : size_;
  return out;
}

std::string iso8601_ms(int64_t epoch_ms) {
  const std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(epoch_ms % 1000));
  return buf;
}

namespace {
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}
}  // namespace

LogLevel parse_log_level(std::string_view s, LogLevel fallback) {
  if (s == "debug" || s == "trace") return LogLevel::debug;
  if (s == "info") return LogLevel::info;
  if (s == "warn" || s == "warning") return LogLevel::warn;
  if (s == "error") return LogLevel::error;
  return fallback;
}

void Logger::log(LogLevel level, std::string_view subsystem, std::string_view msg) {
  if (level < min_level_) return;
  const int64_t now = clock_.wall_ms();
  const std::string ts = iso8601_ms(now);
  std::string line = ts;
  line += ' ';
  line += level_name(level);
  line += ' ';
  line += subsystem;
  line += ": ";
  line += msg;
  line += '\n';
  // One write(2) per line keeps lines whole when several processes share stdout.
  [[maybe_unused]] const ssize_t n = ::write(STDOUT_FILENO, line.data(), line.size());
  if (ring_) {
    nlohmann::json rec = {
        {"time", ts}, {"level", level_name(level)}, {"subsystem", subsystem}, {"message", msg}};
    ring_->append(rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

}  // namespace clawgate
