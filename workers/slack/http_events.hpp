// Slack HTTP mode (Request URLs), the worker's half: the front takes Slack's POST on the
// account's webhookPath and hands the raw request over the data link (ipc/data.capnp
// HttpRequest); this file checks it with the signing secret, which only this worker holds, and
// says what to answer and whether an event goes on into the same pipeline Socket Mode events
// use (SlackWorker::on_event: dedupe, journal, mentions).
// Order of checks: the signature over the raw body first (timestamp within 5 minutes, HMAC in
// constant time: slack_text.hpp), nothing is parsed before it passed. Then url_verification
// is answered with its challenge, an event_callback with 200 at once (its event follows the
// answer), form-encoded payloads (interactivity, slash commands) with 200 and nothing else.
// Fails: never throws except std::bad_alloc. Unsigned, badly signed or stale -> 401; a signed
// body that is not a JSON object, or a challenge that is not a short string -> 400; an event
// before the bot knows who it is (auth.test pending) -> 503, and Slack sends it again.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include <capnp/message.h>

#include "data.capnp.h"

namespace clawgate::workers::slack {

inline constexpr size_t kMaxHttpEventBytes = 1024 * 1024;  // the front refuses larger (413)
inline constexpr size_t kMaxChallengeBytes = 256;

// One request as the front handed it over, bounded.
struct HttpEvent {
  uint64_t request_id = 0;
  std::string content_type, timestamp, signature;
  int retry_num = -1;  // X-Slack-Retry-Num, -1 absent
  std::string body;
};
HttpEvent read_http_event(ipc::HttpRequest::Reader r);

// What to answer, and the event that follows the answer.
struct HttpEventAnswer {
  uint16_t status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::optional<nlohmann::json> event;  // an event_callback payload for the Socket Mode pipeline
  int retry_attempt = 0;                // Slack's retry number (0 the first time)
  std::string note;                     // for the log ("" nothing to say)
};
// `ready`: the bot's identity is known (events need it for mentions and its own posts).
HttpEventAnswer answer_http_event(const HttpEvent& req, std::string_view signing_secret,
                                  int64_t now_s, bool ready);

void write_http_response(capnp::MessageBuilder& b, uint64_t request_id, const HttpEventAnswer& a);

}  // namespace clawgate::workers::slack
