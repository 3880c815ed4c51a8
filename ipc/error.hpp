// Errors as every process boundary carries them: ipc::ErrorCode (common.capnp), its name as
// status and details show it ("RATE_LIMITED"), and the protocol code a client gets for it
// (ErrorShape.code: INVALID_REQUEST, UNAVAILABLE, AGENT_TIMEOUT). Workers build an Error, the
// link carries it as IpcError, the front answers with protocol_code(); nobody matches strings.
// Fails: nothing; an enumerator a newer peer sends that this build does not know reads as
// UNAVAILABLE.
#pragma once
#include <cstdint>
#include <string>

#include "common.capnp.h"

namespace clawgate::ipc {

struct Error {
  ErrorCode code = ErrorCode::UNAVAILABLE;
  std::string message;
  bool retryable = false;
  int64_t retry_after_ms = 0;
};

// "UNAVAILABLE", "INVALID_REQUEST", "RATE_LIMITED", "CONFLICT", "TIMEOUT", "NOT_FOUND",
// "UNAUTHORIZED", "INTERNAL".
const char* error_name(ErrorCode c);
// The ErrorShape.code a client is answered with.
const char* protocol_code(ErrorCode c);

void write_error(const Error& e, IpcError::Builder out);
Error read_error(IpcError::Reader in);

}  // namespace clawgate::ipc
