// Durations as OpenClaw writes them in its config and cron jobs: a number and a unit.
// Fails: never throws; malformed text is nullopt.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace clawgate {

// "30m", "1h", "45s", "500ms", "2d" (no unit: seconds) -> milliseconds; nullopt when malformed
// or longer than int64 milliseconds can hold.
std::optional<int64_t> parse_duration_ms(const std::string& s);

}  // namespace clawgate
