// Shared by the openai_stream and anthropic_stream fuzz targets: a model provider's response
// body (text/event-stream) through the SSE parser into that provider's StreamDecoder, as
// ModelStream wires them, with the body cut into reads at fuzzer-chosen points.
// Fails: a sanitizer report or an exception escaping the decoder (ModelStream runs it inside
// the HTTP client's read callback, where nothing catches) is a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "providers.hpp"
#include "sse.hpp"

namespace clawgate::fuzz {

inline void decode_stream(bool anthropic, const uint8_t* data, size_t size) {
  if (size == 0) return;
  const size_t ncuts = std::min<size_t>(data[0] % 8, size - 1);
  std::string_view body(reinterpret_cast<const char*>(data + 1 + ncuts), size - 1 - ncuts);
  workers::StreamDecoder decoder(anthropic);
  std::string text;
  bool failed = false;
  workers::SseParser sse([&](const std::string& event, const std::string& payload) {
    if (failed) return;  // ModelStream cancels the stream at the first error
    workers::StreamDecoder::Step step = decoder.on_event(event, payload);
    if (step.error) failed = true;
    text += step.delta;
  });
  for (size_t i = 0; i < ncuts; ++i) {
    const size_t n = std::min<size_t>(data[1 + i], body.size());
    sse.feed(body.substr(0, n));
    body.remove_prefix(n);
  }
  sse.feed(body);
  (void)decoder.input_tokens();
  (void)decoder.output_tokens();
}

}  // namespace clawgate::fuzz
