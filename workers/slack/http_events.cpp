// Slack HTTP mode, the worker's half: see http_events.hpp. Also SlackWorker's hook for it
// (on_http_request), kept here so the worker's data-link plumbing stays as it was.
#include "http_events.hpp"

#include <algorithm>
#include <chrono>

#include "slack_text.hpp"
#include "slack_worker.hpp"
#include "utf8.hpp"

namespace clawgate::workers::slack {

namespace {

std::string bounded_text(capnp::Text::Reader t, size_t max_bytes) {
  return std::string(t.cStr(), std::min<size_t>(t.size(), max_bytes));
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

HttpEventAnswer refuse(uint16_t status, std::string word, std::string note) {
  HttpEventAnswer a;
  a.status = status;
  a.body = std::move(word);
  a.note = std::move(note);
  return a;
}

}  // namespace

HttpEvent read_http_event(ipc::HttpRequest::Reader r) {
  HttpEvent e;
  e.request_id = r.getRequestId();
  e.content_type = bounded_text(r.getContentType(), 128);
  // Longer than any real one: they fail the check below rather than being cut into passing.
  e.timestamp = bounded_text(r.getTimestamp(), 32);
  e.signature = bounded_text(r.getSignature(), 128);
  e.retry_num = std::clamp(r.getRetryNum(), -1, 100);
  const auto body = r.getBody();
  if (body.size() <= kMaxHttpEventBytes)
    e.body.assign(reinterpret_cast<const char*>(body.begin()), body.size());
  else
    e.signature.clear();  // more than the front passes on: refused, never half-read
  return e;
}

HttpEventAnswer answer_http_event(const HttpEvent& req, std::string_view signing_secret,
                                  int64_t now_s, bool ready) {
  const SignatureCheck check =
      verify_signature(signing_secret, req.timestamp, req.signature, req.body, now_s);
  if (check != SignatureCheck::ok)
    return refuse(401, "invalid signature",
                  std::string("HTTP event refused: ") + signature_check_name(check));
  // Interactivity and slash commands come form-encoded (payload=... / command=...): not
  // implemented; 200 keeps Slack from retrying and showing the user an error.
  if (starts_with_ci(req.content_type, "application/x-www-form-urlencoded")) {
    HttpEventAnswer a;
    a.note = "HTTP form payload (interactivity or a slash command) ignored";
    return a;
  }
  const nlohmann::json j = nlohmann::json::parse(req.body, nullptr, false);
  if (!j.is_object()) return refuse(400, "bad request", "HTTP event: signed body is not JSON");
  const auto type_it = j.find("type");
  const std::string type =
      type_it != j.end() && type_it->is_string()
          ? utf8::truncate_bytes(utf8::repair(type_it->get_ref<const std::string&>()), 64)
          : "";
  if (type == "url_verification") {
    const auto c = j.find("challenge");
    if (c == j.end() || !c->is_string() || c->get_ref<const std::string&>().empty() ||
        c->get_ref<const std::string&>().size() > kMaxChallengeBytes)
      return refuse(400, "bad request", "HTTP url_verification without a usable challenge");
    const std::string& challenge = c->get_ref<const std::string&>();
    // Slack's challenges are short tokens; anything else is not echoed.
    if (!std::all_of(challenge.begin(), challenge.end(),
                     [](char ch) { return ch > 0x20 && ch < 0x7f; }))
      return refuse(400, "bad request", "HTTP url_verification with a challenge not printable");
    HttpEventAnswer a;
    a.body = challenge;
    a.note = "HTTP url_verification answered (the Request URL is verified)";
    return a;
  }
  if (type == "event_callback") {
    if (!ready)
      return refuse(503, "not ready",
                    "HTTP event before auth.test answered: 503, Slack sends it again");
    HttpEventAnswer a;
    a.event = j;
    a.retry_attempt = std::max(0, req.retry_num);
    return a;
  }
  HttpEventAnswer a;  // app_rate_limited and kinds this worker has no use for
  a.note = "HTTP payload of type \"" + type + "\" ignored";
  return a;
}

void write_http_response(capnp::MessageBuilder& b, uint64_t request_id, const HttpEventAnswer& a) {
  auto r = b.initRoot<ipc::Data>().initHttpResponse();
  r.setRequestId(request_id);
  r.setStatus(a.status);
  r.setContentType(a.content_type);
  r.setBody(
      capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(a.body.data()), a.body.size()));
}

void SlackWorker::on_http_request(const HttpEvent& req) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  HttpEventAnswer a = cfg_.http_mode
                          ? answer_http_event(req, cfg_.signing_secret, now, !me_.user_id.empty())
                          : refuse(404, "not found", "HTTP request while in Socket Mode");
  // Unlike Socket Mode nothing is acknowledged yet: with no room to keep the event, a 503 lets
  // Slack send it again later instead of a 200 for an event then dropped.
  if (a.event && front_.full())
    a = refuse(503, "busy", "inbound queue full (front away?): HTTP event refused; Slack retries");
  if (!a.note.empty()) {
    // Refusals are what an operator debugging "no events" needs; a flood of forged requests
    // must not flood the log: one warning per 10 s, the rest at debug.
    const int64_t now_ms = now * 1000;
    if (a.status >= 400 && now_ms - http_warned_ms_ >= 10'000) {
      http_warned_ms_ = now_ms;
      log_.warn("slack", a.note);
    } else {
      log_.debug("slack", a.note);
    }
  }
  if (req.retry_num > 0 && a.event)
    log_.debug("slack", "HTTP event retry " + std::to_string(req.retry_num) + " from Slack");
  capnp::MallocMessageBuilder b;
  write_http_response(b, req.request_id, a);
  front_.send(b);  // no front: the one that asked answers 503 itself
  // After the answer: Slack has its 200 before anything else happens (on_event dedupes a retry
  // whose first attempt did arrive).
  if (a.event) on_event(*a.event, a.retry_attempt);
}

}  // namespace clawgate::workers::slack
