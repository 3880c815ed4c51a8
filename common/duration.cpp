// Durations: see duration.hpp.
#include "duration.hpp"

#include <cctype>

namespace clawgate {

std::optional<int64_t> parse_duration_ms(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 12) return std::nullopt;  // 12 digits of days still fit in int64 ms
  const int64_t n = std::stoll(s.substr(0, i));
  const std::string unit = s.substr(i);
  if (unit == "ms") return n;
  if (unit == "s" || unit.empty()) return n * 1000;
  if (unit == "m") return n * 60'000;
  if (unit == "h") return n * 3'600'000;
  if (unit == "d" && n <= 100'000'000) return n * 86'400'000;
  return std::nullopt;
}

}  // namespace clawgate
