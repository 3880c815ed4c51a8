// Operator lifecycle: see lifecycle.hpp.
#include "lifecycle.hpp"

#include <algorithm>

namespace clawgate::supervisor {

const char* to_string(Hold h) {
  switch (h) {
    case Hold::none:
      return "none";
    case Hold::stopped:
      return "stopped";
    case Hold::logged_out:
      return "logged-out";
  }
  return "unknown";
}

const char* to_string(StartStatus s) {
  switch (s) {
    case StartStatus::handed_off:
      return "handed-off";
    case StartStatus::retry:
      return "retry";
    case StartStatus::skipped:
      return "skipped";
  }
  return "unknown";
}

MarkCheck check_logout_mark(const std::optional<TokenPrints>& marked, bool key_matches,
                            const std::optional<TokenPrints>& current) {
  if (!marked) return MarkCheck::none;
  // Fails closed: a token that cannot be read or compared is never taken for a new one.
  // No token at all is no login either.
  if (!key_matches || !current || current->empty()) return MarkCheck::holds;
  for (const auto& t : *current)
    if (std::find(marked->begin(), marked->end(), t) != marked->end()) return MarkCheck::holds;
  return MarkCheck::cleared;
}

StartPlan plan_start(const StartView& v) {
  StartPlan p;
  if (v.gateway_stopping) {
    p.status = StartStatus::skipped;
    p.reason = "gateway-stopping";
    return p;
  }
  if (v.logged_out) {
    p.status = StartStatus::skipped;
    p.reason = "logged-out";
    return p;
  }
  if (!v.has_process) {
    p.step = StartStep::spawn;
    return p;
  }
  if (v.stop_requested) {  // a stop (or restart) under way: this start wins once it exited
    p.step = StartStep::restart_after_stop;
    return p;
  }
  p.status = StartStatus::retry;
  if (v.ready) {
    p.reason = "task-owned";  // already running: another start was unnecessary
  } else {
    p.step = StartStep::wait;
    p.reason = "start-in-flight";
  }
  return p;
}

}  // namespace clawgate::supervisor
