// Clock: wall and monotonic time behind an interface, so policies (rate limits, backoff) are
// tested in virtual time. Never fails.
#pragma once
#include <chrono>
#include <cstdint>

namespace clawgate {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t wall_ms() const = 0;    // Unix epoch milliseconds (for the wire)
  virtual int64_t steady_ms() const = 0;  // monotonic milliseconds (for intervals)
};

class SystemClock final : public Clock {
 public:
  int64_t wall_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t steady_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

class FakeClock final : public Clock {
 public:
  int64_t wall_ms() const override { return wall_; }
  int64_t steady_ms() const override { return steady_; }
  void advance(int64_t ms) {
    wall_ += ms;
    steady_ += ms;
  }

 private:
  int64_t wall_ = 1'700'000'000'000;
  int64_t steady_ = 1'000'000;
};

}  // namespace clawgate
