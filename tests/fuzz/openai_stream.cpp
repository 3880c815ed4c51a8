// Fuzz target: an OpenAI-compatible Chat Completions stream (SSE of chat.completion.chunk).
// Fails: see provider_stream.hpp.
#include "provider_stream.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  clawgate::fuzz::decode_stream(false, data, size);
  return 0;
}
