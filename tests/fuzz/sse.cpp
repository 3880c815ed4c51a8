// Fuzz target: the SSE parser (text/event-stream off a model provider's socket). The input is
// parsed twice, whole and cut into pieces at fuzzer-chosen points, and both must dispatch the
// same events: chunking is the network's choice, never the parser's.
// Fails: a sanitizer report, or __builtin_trap on differing events.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sse.hpp"

namespace {

using Events = std::vector<std::pair<std::string, std::string>>;

struct Run {
  Events events;
  bool error = false;
  size_t comments = 0;
};

Run parse(std::string_view text, std::string_view cuts) {
  Run r;
  clawgate::workers::SseParser p(
      [&r](const std::string& ev, const std::string& data) { r.events.emplace_back(ev, data); },
      4096);  // a small limit, so the fuzzer reaches the oversized-event path
  size_t pos = 0;
  for (unsigned char c : cuts) {
    const size_t n = std::min<size_t>(c, text.size() - pos);
    p.feed(text.substr(pos, n));
    pos += n;
  }
  p.feed(text.substr(pos));
  r.error = p.error();
  r.comments = p.comments();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // First byte: how many of the following bytes are piece lengths.
  if (size == 0) return 0;
  const size_t ncuts = std::min<size_t>(data[0] % 16, size - 1);
  const std::string_view cuts(reinterpret_cast<const char*>(data + 1), ncuts);
  const std::string_view text(reinterpret_cast<const char*>(data + 1 + ncuts), size - 1 - ncuts);
  const Run whole = parse(text, {});
  const Run pieces = parse(text, cuts);
  if (whole.events != pieces.events || whole.error != pieces.error ||
      whole.comments != pieces.comments)
    __builtin_trap();
  return 0;
}
