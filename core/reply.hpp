// What a method answers, whichever part of the gateway serves it (the front, the channel hub,
// runs, cron): a payload, or an Error (ipc/error.hpp) the front sends as the res frame's
// ErrorShape. One case carries both: a failed run's agent/agent.wait answer, where upstream
// sends the run's snapshot alongside the error.
// Fails: nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "error.hpp"

namespace clawgate::core {

struct Reply {
  std::optional<nlohmann::json> payload;  // with an error too: sent alongside it
  std::optional<Error> error;

  static Reply ok(nlohmann::json payload) { return {std::move(payload), std::nullopt}; }
  static Reply fail(Error e) { return {std::nullopt, std::move(e)}; }
  static Reply fail(Error e, nlohmann::json payload) { return {std::move(payload), std::move(e)}; }
  static Reply invalid(std::string message) { return fail(Error::invalid(std::move(message))); }
  static Reply unavailable(std::string message, bool retryable = false,
                           int64_t retry_after_ms = 0) {
    return fail(Error::unavailable(std::move(message), retryable, retry_after_ms));
  }
  template <typename T>
  static Reply from(Result<T> r) {
    if (!r) return fail(std::move(r).error());
    return ok(std::move(r).value());
  }
};

// Called exactly once with a method's answer (perhaps later: a run, a delivery).
using ReplyFn = std::function<void(Reply)>;

}  // namespace clawgate::core
