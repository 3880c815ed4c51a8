// Health: the event-loop monitor (scheduling lag and CPU use of this process, sampled on the
// loop itself) and the HealthSummary served by `health`, pushed as `health` events and put
// in hello-ok. Fails: never throws; a failed getrusage reads as zero CPU.
#pragma once
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>

#include "clock.hpp"

namespace clawgate::front {

using Json = nlohmann::json;

class EventLoopMonitor {
 public:
  static constexpr size_t kWindow = 60;  // samples kept (one per sample interval)
  explicit EventLoopMonitor(const Clock& clock) : clock_(clock) {}
  // Called by a timer that was due at `expected_steady_ms`.
  void sample(int64_t expected_steady_ms);
  Json to_json() const;  // Snapshot.health.eventLoop shape

 private:
  const Clock& clock_;
  std::deque<double> lag_ms_;
  double interval_ms_ = 0, cpu_ratio_ = 0;
  int64_t last_steady_ = 0, last_cpu_us_ = 0;
};

int64_t process_cpu_us();
int64_t process_rss_bytes();

}  // namespace clawgate::front
