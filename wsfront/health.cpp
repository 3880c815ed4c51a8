// Health: see health.hpp.
#include "health.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace clawgate::front {

int64_t process_cpu_us() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000LL + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

int64_t process_rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long pages = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * sysconf(_SC_PAGESIZE) : 0;
}

void EventLoopMonitor::sample(int64_t expected_steady_ms) {
  const int64_t now = clock_.steady_ms();
  const int64_t cpu = process_cpu_us();
  lag_ms_.push_back(static_cast<double>(std::max<int64_t>(0, now - expected_steady_ms)));
  if (lag_ms_.size() > kWindow) lag_ms_.pop_front();
  if (last_steady_ > 0 && now > last_steady_) {
    interval_ms_ = static_cast<double>(now - last_steady_);
    cpu_ratio_ = static_cast<double>(cpu - last_cpu_us_) / 1000.0 / interval_ms_;
  }
  last_steady_ = now;
  last_cpu_us_ = cpu;
}

Json EventLoopMonitor::to_json() const {
  std::vector<double> lags(lag_ms_.begin(), lag_ms_.end());
  std::sort(lags.begin(), lags.end());
  const double p99 = lags.empty() ? 0 : lags[std::min(lags.size() - 1, lags.size() * 99 / 100)];
  const double max = lags.empty() ? 0 : lags.back();
  Json reasons = Json::array();
  if (p99 > 200) reasons.push_back("event_loop_delay");
  if (cpu_ratio_ > 0.9) reasons.push_back("cpu");
  const double util = std::min(1.0, std::max(0.0, cpu_ratio_));
  return {{"degraded", !reasons.empty()},
          {"reasons", reasons},
          {"intervalMs", interval_ms_},
          {"delayP99Ms", p99},
          {"delayMaxMs", max},
          {"utilization", util},
          {"cpuCoreRatio", std::max(0.0, cpu_ratio_)}};
}

}  // namespace clawgate::front
