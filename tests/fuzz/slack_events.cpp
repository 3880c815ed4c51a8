// Fuzz target: a Socket Mode message from Slack -> what the Slack worker makes of it: the frame
// (read_socket_frame), an events_api payload's message (read_event) and the Cap'n Proto Inbound
// it sends the front; the same bytes as a Web API answer (read_api_answer, auth.test,
// apps.connections.open); as an HTTP mode request body, signed (answer_http_event past the
// signature: challenge, event or refusal) and then unsigned; and as outbound text (escaped, then
// chunked at a small limit).
// Fails: a sanitizer report, an exception escaping (the worker runs these in WebSocket and HTTP
// callbacks, where nothing catches), or a chunk that breaks its promises, is a crash.
#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data.capnp.h"
#include "http_events.hpp"
#include "slack_api.hpp"
#include "slack_events.hpp"
#include "slack_text.hpp"
#include "slack_worker.hpp"
#include "utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clawgate::workers::slack;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const BotIdentity me{"U0BOT", "B0BOT", "T0TEAM", "bot"};
  const SocketFrame f = read_socket_frame(text);
  if (f.kind == SocketFrame::Kind::events_api) {
    const EventRead r = read_event(f.payload, me);
    if (r.message) {
      if (!clawgate::utf8::valid(r.message->text) || r.message->text.size() > kMaxInboundTextBytes)
        std::abort();
      capnp::MallocMessageBuilder b;  // what the worker hands the front must build for any input
      write_inbound(b, *r.message);
      (void)parse_target(message_key(*r.message));
    }
  }
  const ApiAnswer a = read_api_answer(200, "", text);
  if (a.ok) {
    (void)read_auth_test(a.body);
    std::string why;
    (void)read_connection_url(a.body, &why);
  }
  // HTTP mode: signed, the body is read; a challenge is echoed only short and printable.
  HttpEvent req;
  req.content_type =
      size && data[0] == 'p' ? "application/x-www-form-urlencoded" : "application/json";
  req.timestamp = "1700000000";
  req.body = text;
  req.signature = sign_request("fuzz-secret", req.timestamp, text);
  const HttpEventAnswer h = answer_http_event(req, "fuzz-secret", 1700000000, true);
  if (h.status != 200 && h.status != 400) std::abort();
  if (h.body.size() > kMaxChallengeBytes) std::abort();
  if (h.event) (void)read_event(*h.event, me);
  req.signature.back() = req.signature.back() == '0' ? '1' : '0';
  if (answer_http_event(req, "fuzz-secret", 1700000000, true).status != 401) std::abort();
  capnp::MallocMessageBuilder hb;
  write_http_response(hb, 1, h);
  (void)parse_target(text);
  const std::string escaped = escape_text(clawgate::utf8::repair(text));
  for (const std::string& chunk : chunk_text(escaped, 16))
    if (chunk.empty() || clawgate::utf8::utf16_length(chunk) > 16 || !clawgate::utf8::valid(chunk))
      std::abort();
  return 0;
}
