// IPC errors: see error.hpp.
#include "error.hpp"

#include <algorithm>

namespace clawgate::ipc {

const char* error_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case ErrorCode::INVALID_REQUEST:
      return "INVALID_REQUEST";
    case ErrorCode::RATE_LIMITED:
      return "RATE_LIMITED";
    case ErrorCode::CONFLICT:
      return "CONFLICT";
    case ErrorCode::TIMEOUT:
      return "TIMEOUT";
    case ErrorCode::NOT_FOUND:
      return "NOT_FOUND";
    case ErrorCode::UNAUTHORIZED:
      return "UNAUTHORIZED";
    case ErrorCode::INTERNAL:
      return "INTERNAL";
    case ErrorCode::NOT_PAIRED:
      return "NOT_PAIRED";
    case ErrorCode::FORBIDDEN:
      return "FORBIDDEN";
  }
  return "UNAVAILABLE";
}

const char* protocol_code(ErrorCode c) {
  switch (c) {
    case ErrorCode::INVALID_REQUEST:
    case ErrorCode::NOT_FOUND:
      return "INVALID_REQUEST";
    case ErrorCode::TIMEOUT:
      return "AGENT_TIMEOUT";
    case ErrorCode::NOT_PAIRED:
      return "NOT_PAIRED";
    case ErrorCode::FORBIDDEN:
      return "FORBIDDEN";
    case ErrorCode::UNAVAILABLE:
    case ErrorCode::RATE_LIMITED:
    case ErrorCode::CONFLICT:
    case ErrorCode::UNAUTHORIZED:
    case ErrorCode::INTERNAL:
      return "UNAVAILABLE";
  }
  return "UNAVAILABLE";
}

void write_error(const Error& e, IpcError::Builder out) {
  out.setCode(e.code);
  out.setMessage(e.message);
  out.setRetryable(e.retryable);
  out.setRetryAfterMs(static_cast<uint32_t>(std::clamp<int64_t>(e.retry_after_ms, 0, UINT32_MAX)));
}

Error read_error(IpcError::Reader in) {
  Error e;
  const auto c = in.getCode();
  e.code = static_cast<uint16_t>(c) <= static_cast<uint16_t>(ErrorCode::FORBIDDEN)
               ? c
               : ErrorCode::UNAVAILABLE;
  e.message = in.getMessage();
  e.retryable = in.getRetryable();
  e.retry_after_ms = in.getRetryAfterMs();
  return e;
}

}  // namespace clawgate::ipc
