// Restart policy as plain data and one pure function, so it is tested with a fake clock and no
// processes. Exponential backoff with jitter, reset after a healthy run; an intensity window
// (N deaths in T) marks a child `failed` while retries go on at the slowest rate; exit 78
// (config error) is not retried until the config changes.
#pragma once
#include <cstdint>
#include <deque>
#include <string>

namespace clawgate::supervisor {

struct RestartPolicy {
  int64_t initial_backoff_ms = 250;
  int64_t max_backoff_ms = 60'000;
  double multiplier = 2.0;
  double jitter = 0.2;  // each delay is scaled by a factor in [1-j, 1+j]
  // The first death after a healthy run restarts at once: a one-off crash costs no downtime;
  // only repeated deaths back off (initial, doubling).
  bool immediate_first_restart = true;
  int64_t healthy_after_ms = 30'000;      // a run this long forgets earlier failures
  int intensity_deaths = 5;               // this many deaths...
  int64_t intensity_window_ms = 60'000;   // ...within this window: `failed`
  int64_t heartbeat_timeout_ms = 20'000;  // no heartbeat this long: hung, killed
};

enum class ChildState { starting, running, backoff, failed, stopped };
const char* to_string(ChildState s);

// What the supervisor remembers about one child across its generations.
struct ChildHistory {
  uint32_t generation = 0;       // of the latest spawn
  uint32_t restarts = 0;         // spawns after the first
  int consecutive_failures = 0;  // since the last healthy run
  std::deque<int64_t> deaths;    // steady ms, within the intensity window
};

struct ChildExit {
  int64_t started_ms = 0;  // steady clock
  int64_t exited_ms = 0;   // steady clock
  int exit_code = 0;       // valid when !signaled
  bool signaled = false;
  int signal = 0;
  bool requested = false;  // we asked it to stop (restart, reload, shutdown)
};

struct RestartDecision {
  bool restart = false;
  int64_t delay_ms = 0;
  ChildState state = ChildState::backoff;
  std::string reason;  // for status and logs, e.g. "exited with code 1"
};

// Updates `h` for the death described by `e` and says what to do. `random01` in [0, 1) drives
// the jitter (tests pass fixed values).
RestartDecision decide_restart(const RestartPolicy& p, ChildHistory& h, const ChildExit& e,
                               double random01);

std::string describe_exit(const ChildExit& e);

}  // namespace clawgate::supervisor
