// Fuzz target: a getUpdates response body -> inbound messages, as the Telegram worker reads it
// (the Bot API envelope in parse_api_answer, then parse_updates, then the Cap'n Proto Inbound
// it sends the front).
// Fails: a sanitizer report or an exception escaping (the worker runs this in the HTTP
// client's callback, where nothing catches) is a crash.
#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data.capnp.h"
#include "telegram_worker.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clawgate::workers;
  // TelegramWorker::call: the Bot API envelope, then (for getUpdates) the updates in it, read
  // as the worker's bot (id 42, @fuzz_bot) reads them.
  const ApiAnswer a =
      parse_api_answer("getUpdates", 200, std::string(reinterpret_cast<const char*>(data), size));
  if (!a.ok) return 0;
  int64_t offset = 0;
  std::vector<std::string> skipped;
  for (const InboundUpdate& u : parse_updates(a.result, offset, 42, "fuzz_bot", &skipped)) {
    capnp::MallocMessageBuilder b;  // what the worker hands the front must build for any input
    write_inbound(b, u.update_id, u.facts);
  }
  return 0;
}
