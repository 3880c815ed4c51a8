// The one error type, end to end: a worker builds an Error, a link carries it (IpcError: code,
// message, retryable, retryAfterMs), the core and the front answer with it (ErrorShape: the
// protocol code for its ErrorCode, message, details, retryable, retryAfterMs). Result<T> is a
// value or an Error, for failures a caller is expected to handle; bugs are exceptions caught at
// the event loop's edge. Nobody matches error strings: code decides, message is for people.
// Fails: nothing; an enumerator a newer peer sends that this build does not know reads as
// UNAVAILABLE.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common.capnp.h"

namespace clawgate {

using ErrorCode = ipc::ErrorCode;

struct Error {
  ErrorCode code = ErrorCode::UNAVAILABLE;
  std::string message;
  bool retryable = false;
  int64_t retry_after_ms = 0;  // > 0: sent as retryAfterMs
  nlohmann::json details;      // null: none; stays in the process (links carry no details)

  Error() = default;
  Error(ErrorCode c, std::string m, bool retry = false, int64_t after_ms = 0,
        nlohmann::json d = nullptr)
      : code(c),
        message(std::move(m)),
        retryable(retry),
        retry_after_ms(after_ms),
        details(std::move(d)) {}

  static Error invalid(std::string message, nlohmann::json details = nullptr) {
    return {ErrorCode::INVALID_REQUEST, std::move(message), false, 0, std::move(details)};
  }
  static Error unavailable(std::string message, bool retryable = false,
                           int64_t retry_after_ms = 0) {
    return {ErrorCode::UNAVAILABLE, std::move(message), retryable, retry_after_ms, nullptr};
  }
  static Error not_found(std::string message) {
    return {ErrorCode::NOT_FOUND, std::move(message), false, 0, nullptr};
  }
};

// A value or the Error that kept it from being made.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Success with nothing to return, or the Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return !error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

namespace ipc {

// "UNAVAILABLE", "INVALID_REQUEST", "RATE_LIMITED", "CONFLICT", "TIMEOUT", "NOT_FOUND",
// "UNAUTHORIZED", "INTERNAL", "NOT_PAIRED", "FORBIDDEN".
const char* error_name(ErrorCode c);
// The ErrorShape.code a client is answered with.
const char* protocol_code(ErrorCode c);

void write_error(const Error& e, IpcError::Builder out);
Error read_error(IpcError::Reader in);

}  // namespace ipc
}  // namespace clawgate
