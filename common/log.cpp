// Logging: see log.hpp.
#include "log.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "utf8.hpp"

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

namespace {

// Length of the UTF-8 sequence at s[i] and its code point; 0 when it is not valid UTF-8
// (overlong forms, surrogates and values past U+10FFFF included).
size_t utf8_char(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n;
  uint32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    n = 2, cp = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, cp = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool must_escape(uint32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e ||
         cp == 0x200f || cp == 0x061c;
}

}  // namespace

std::string log_value(std::string_view raw, size_t max_bytes) {
  const size_t keep = utf8::cut_bytes(raw, max_bytes);
  const std::string_view kept = raw.substr(0, keep);
  std::string out;
  char buf[16];
  for (size_t i = 0; i < kept.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_char(kept, i, cp);
    if (n == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(kept[i]));
      out += buf;
      ++i;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else if (must_escape(cp)) {
      std::snprintf(buf, sizeof buf, cp < 0x80 ? "\\x%02x" : "\\u{%04x}",
                    static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(kept.substr(i, n));
    }
    i += n;
  }
  if (keep < raw.size()) out += "...(" + std::to_string(raw.size() - keep) + " more bytes)";
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
