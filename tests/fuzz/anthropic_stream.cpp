// Fuzz target: an Anthropic Messages stream (SSE of message_start, content_block_delta, ...).
// Fails: see provider_stream.hpp.
#include "provider_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  clawgate::fuzz::decode_stream(true, data, size);
  return 0;
}
