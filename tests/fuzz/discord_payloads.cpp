// Fuzz target: what the Discord worker reads from outside. Byte 0 even: a Gateway message
// through GatewaySession (a HELLO and READY first, so dispatches are read) and every dispatch
// through the readers the worker uses (read_message, read_guild, read_channel, Places) into the
// Cap'n Proto Inbound it sends the front, with the place's names filled. Byte 0 odd: a REST answer,
// "Name: value" header lines, an empty line, then the body, through read_rate_limit, parse_body,
// error_message and read_gateway_bot; and the body as chunk_text input and as a delivery target.
// Fails: a sanitizer report or an exception escaping (the worker runs these in callbacks where
// nothing catches) is a crash.
#include <capnp/message.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "discord_payload.hpp"
#include "discord_text.hpp"
#include "discord_worker.hpp"
#include "gateway_session.hpp"

namespace {

using namespace clawgate::workers::discord;

void gateway(const std::string& text) {
  Me me;
  me.user_id = "900";
  me.role_by_guild["10"] = "77";
  Places places;
  GatewaySession::Hooks h;
  h.send = [](std::string) {};
  h.close = [](uint16_t, std::string) {};
  h.arm_heartbeat = [](int64_t) {};
  h.dispatch = [&](const Frame& f) {
    if (f.t == "MESSAGE_CREATE") {
      if (auto m = read_message(f.d, me)) {
        places.fill(*m);
        capnp::MallocMessageBuilder b;  // what the worker hands the front must build
        write_inbound(b, *m);
      }
    } else {
      places.on_dispatch(f, me);
      (void)read_channel(f.d);
    }
  };
  GatewaySession s(std::move(h), "tok", "channels.discord.token", [] { return 0.5; });
  s.on_open(0);
  s.on_text(R"({"op":10,"d":{"heartbeat_interval":41250}})", 0);
  s.on_text(R"({"op":0,"s":1,"t":"READY","d":{"session_id":"s","user":{"id":"900"}}})", 1);
  // The input, whole and as newline-separated messages.
  s.on_text(text, 2);
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == '\n') {
      s.on_text(text.substr(start, i - start), 3);
      start = i + 1;
    }
  s.on_heartbeat(4);
  (void)s.on_closed(4000, text.substr(0, 64), "", 5);
}

void rest(const std::string& input) {
  std::vector<std::pair<std::string, std::string>> headers;
  size_t pos = 0;
  while (pos < input.size()) {
    const size_t nl = input.find('\n', pos);
    const std::string line =
        input.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? input.size() : nl + 1;
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon != std::string::npos)
      headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  const std::string body = input.substr(pos);
  for (int status : {200, 429, 500}) (void)read_rate_limit(status, headers, body);
  const Json j = parse_body(body);
  (void)error_message(400, j);
  (void)read_gateway_bot(j);
  (void)chunk_text(body, 2000, 17);
  (void)chunk_text(body, 7, 3);
  (void)parse_target(body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0)
    gateway(text);
  else
    rest(text);
  return 0;
}
