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
    const InboundFacts& f = u.facts;
    capnp::MallocMessageBuilder b;
    auto in = b.initRoot<clawgate::ipc::Data>().initInbound();
    in.setId(std::to_string(u.update_id));
    in.setChatId(f.chat_id);
    in.setChatType(f.chat_type);
    in.setSenderId(f.sender_id);
    in.setSenderName(f.sender_name);
    in.setSenderUsername(f.sender_username);
    in.setText(f.text);
    in.setMessageId(f.message_id);
    in.setTsMs(f.ts_ms);
  }
  return 0;
}
