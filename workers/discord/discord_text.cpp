// Discord text: see discord_text.hpp.
#include "discord_text.hpp"

#include <algorithm>

#include "discord_payload.hpp"
#include "utf8.hpp"

namespace clawgate::workers::discord {

namespace {

bool blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A fence line: up to three spaces, then ```. The opener is kept whole ("```python").
bool fence_line(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') ++i;
  return line.substr(i, 3) == "```";
}

// `line` in pieces of at most `budget` units: at the last space that fits (dropped), else at
// a code point.
std::vector<std::string_view> split_line(std::string_view line, size_t budget) {
  std::vector<std::string_view> out;
  while (utf8::utf16_length(line) > budget) {
    size_t cut = utf8::cut_utf16(line, budget);
    if (cut == 0) cut = utf8::cut_utf16(line, 2);  // a character wider than the budget
    if (cut == 0) cut = line.size();               // unreachable for valid text
    const size_t space = line.substr(0, cut + (cut < line.size() ? 1 : 0)).rfind(' ');
    if (space != std::string_view::npos && space > 0 && space <= cut) {
      out.push_back(line.substr(0, space));
      line.remove_prefix(space + 1);
    } else {
      out.push_back(line.substr(0, cut));
      line.remove_prefix(cut);
    }
  }
  out.push_back(line);
  return out;
}

class Chunker {
 public:
  Chunker(size_t max_units, size_t max_lines) : max_units_(max_units), max_lines_(max_lines) {}

  void add_line(std::string_view line) {
    // The most one piece may take: with a fence open, the chunk also holds the opener and the
    // closing fence around it.
    const size_t reserve = balancing() ? utf8::utf16_length(fence_) + 1 + 4 : 0;
    const size_t budget = max_units_ > reserve ? max_units_ - reserve : 1;
    const auto pieces = split_line(line, budget);
    for (std::string_view piece : pieces) {
      std::string next_fence = fence_;
      if (pieces.size() == 1 && fence_line(piece))
        next_fence = fence_.empty() ? std::string(utf8::trim(piece)) : "";
      if (lines_ > 0 && !fits(piece, next_fence)) flush(/*last=*/false);
      append(piece);
      fence_ = std::move(next_fence);
    }
  }

  std::vector<std::string> finish() {
    flush(/*last=*/true);
    return std::move(out_);
  }

 private:
  // Fences are balanced only when a chunk has room for opener, content and closer.
  bool balancing() const {
    return !fence_.empty() && max_lines_ >= 3 && max_units_ > 2 * (utf8::utf16_length(fence_) + 5);
  }

  bool fits(std::string_view piece, const std::string& next_fence) const {
    const bool close = !next_fence.empty() && max_lines_ >= 3 &&
                       max_units_ > 2 * (utf8::utf16_length(next_fence) + 5);
    const size_t units = units_ + 1 + utf8::utf16_length(piece) + (close ? 4 : 0);
    const size_t lines = lines_ + 1 + (close ? 1 : 0);
    return units <= max_units_ && lines <= max_lines_;
  }

  void append(std::string_view piece) {
    if (lines_ > 0) {
      cur_ += '\n';
      ++units_;
    }
    cur_.append(piece);
    units_ += utf8::utf16_length(piece);
    ++lines_;
  }

  void flush(bool last) {
    if (lines_ == 0) return;
    const bool reopen = !last && balancing();
    if (reopen) cur_ += "\n```";
    if (!blank(cur_) && !(reopen && fresh_ && lines_ == 1)) out_.push_back(std::move(cur_));
    cur_.clear();
    units_ = lines_ = 0;
    fresh_ = false;
    if (reopen) {
      append(fence_);
      fresh_ = true;
    }
  }

  size_t max_units_, max_lines_;
  std::vector<std::string> out_;
  std::string cur_, fence_;
  size_t units_ = 0, lines_ = 0;
  bool fresh_ = false;  // cur_ holds only a reopened fence
};

}  // namespace

std::vector<std::string> chunk_text(std::string_view text, size_t max_units, size_t max_lines) {
  Chunker c(std::max<size_t>(max_units, 1), std::max<size_t>(max_lines, 1));
  const std::string repaired = utf8::repair(text);
  std::string_view rest = repaired;
  for (;;) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    c.add_line(line);
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return c.finish();
}

std::optional<Target> parse_target(std::string_view to) {
  to = utf8::trim(to);
  Target t;
  auto strip = [&](std::string_view prefix) {
    if (to.size() >= prefix.size() && utf8::lower(to.substr(0, prefix.size())) == prefix) {
      to.remove_prefix(prefix.size());
      return true;
    }
    return false;
  };
  if (strip("channel:")) {
    t.kind = Target::channel;
  } else if (strip("user:")) {
    t.kind = Target::user;
  } else if (to.size() > 3 && to.substr(0, 2) == "<#" && to.back() == '>') {
    to = to.substr(2, to.size() - 3);
  } else if (to.size() > 3 && to.substr(0, 2) == "<@" && to.back() == '>') {
    to = to.substr(2, to.size() - 3);
    if (!to.empty() && to.front() == '!') to.remove_prefix(1);
    t.kind = Target::user;
  }
  if (!is_snowflake(to)) return std::nullopt;
  t.id = std::string(to);
  return t;
}

}  // namespace clawgate::workers::discord
