// Fuzz target: the cron expression, ISO-8601 time and duration parsers of the cron service
// (cron.add/cron.update params and agents.defaults.heartbeat.every).
// Fails: a sanitizer report (overflow, out-of-bounds) or an uncaught exception is a crash.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/cron.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Local-time schedules in a zone with DST transitions (skipped and repeated hours).
  ::setenv("TZ", "America/New_York", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  // 8 bytes: the "after" instant for next_cron_ms. The service passes its wall clock only, so
  // the target keeps to wall-clock instants between 1970 and 2200; the top bit picks UTC.
  uint64_t raw;
  std::memcpy(&raw, data, sizeof raw);
  const int64_t after = static_cast<int64_t>(raw % 7'258'118'400'000ULL);
  const std::string text(reinterpret_cast<const char*>(data + 8), size - 8);
  using namespace clawgate::core;
  (void)parse_duration_ms(text);
  (void)parse_iso_time_ms(text);
  (void)next_cron_ms(text, after, (raw >> 63) != 0);
  return 0;
}
