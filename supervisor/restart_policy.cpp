// Restart policy: see restart_policy.hpp.
#include "restart_policy.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>

namespace clawgate::supervisor {

const char* to_string(ChildState s) {
  switch (s) {
    case ChildState::starting:
      return "starting";
    case ChildState::running:
      return "running";
    case ChildState::backoff:
      return "backoff";
    case ChildState::failed:
      return "failed";
    case ChildState::stopped:
      return "stopped";
  }
  return "unknown";
}

std::string describe_exit(const ChildExit& e) {
  if (e.signaled) {
    const char* name = sigabbrev_np(e.signal);
    return std::string("killed by SIG") + (name ? name : std::to_string(e.signal).c_str());
  }
  return "exited with code " + std::to_string(e.exit_code);
}

RestartDecision decide_restart(const RestartPolicy& p, ChildHistory& h, const ChildExit& e,
                               double random01) {
  RestartDecision d;
  d.reason = describe_exit(e);
  if (!e.signaled && e.exit_code == 78) {
    d.restart = false;
    d.state = ChildState::stopped;
    d.reason += " (configuration error): not restarted until the configuration changes";
    return d;
  }
  if (e.exited_ms - e.started_ms >= p.healthy_after_ms) h.consecutive_failures = 0;
  // A restart we asked for is not a failure: no backoff, no intensity count.
  if (e.requested) {
    d.restart = true;
    d.delay_ms = 0;
    d.state = ChildState::starting;
    return d;
  }
  h.deaths.push_back(e.exited_ms);
  while (!h.deaths.empty() && e.exited_ms - h.deaths.front() > p.intensity_window_ms)
    h.deaths.pop_front();
  ++h.consecutive_failures;
  const bool failed = static_cast<int>(h.deaths.size()) >= p.intensity_deaths;

  double base = static_cast<double>(p.max_backoff_ms);
  if (!failed) {
    const int step = h.consecutive_failures - (p.immediate_first_restart ? 2 : 1);
    base = step < 0 ? 0.0
                    : std::min(static_cast<double>(p.initial_backoff_ms) *
                                   std::pow(p.multiplier, std::min(step, 62)),
                               static_cast<double>(p.max_backoff_ms));
  }
  const double factor = 1.0 + p.jitter * (2.0 * std::clamp(random01, 0.0, 1.0) - 1.0);
  d.restart = true;
  d.delay_ms = std::max<int64_t>(0, static_cast<int64_t>(std::llround(base * factor)));
  d.state = failed ? ChildState::failed : ChildState::backoff;
  if (failed)
    d.reason += "; " + std::to_string(h.deaths.size()) + " deaths within " +
                std::to_string(p.intensity_window_ms / 1000) + " s";
  return d;
}

}  // namespace clawgate::supervisor
