// GatewaySession: see gateway_session.hpp. Opcodes, close codes and the reconnect rules as
// Discord's Gateway documentation gives them (v10).
#include "gateway_session.hpp"

#include <algorithm>

#include "utf8.hpp"

namespace clawgate::workers::discord {

namespace {

// Closes whose cause a retry cannot mend: the operator has to change something.
std::optional<std::string> fatal_close(uint16_t code, const std::string& token_key) {
  switch (code) {
    case 4004:
      return "Discord rejected the bot token (close 4004 Authentication failed): check " +
             token_key;
    case 4014:
      return "Discord refused a privileged intent (close 4014 Disallowed intent(s)): turn on "
             "\"Message Content Intent\" for this bot in the Discord Developer Portal "
             "(Applications > your app > Bot > Privileged Gateway Intents), then restart the "
             "channel (clawgate channels restart discord)";
    case 4013:
      return "Discord refused the intents clawgate asked for (close 4013 Invalid intent(s))";
    case 4010:
      return "Discord refused the shard (close 4010 Invalid shard)";
    case 4011:
      return "Discord requires sharding for this bot (close 4011 Sharding required): clawgate "
             "runs one shard per account";
    case 4012:
      return "Discord refused the Gateway version (close 4012 Invalid API version)";
    default:
      return std::nullopt;
  }
}

}  // namespace

GatewaySession::GatewaySession(Hooks hooks, std::string token, std::string token_key,
                               std::function<double()> random01, int intents)
    : hooks_(std::move(hooks)),
      token_(std::move(token)),
      token_key_(std::move(token_key)),
      random01_(std::move(random01)),
      intents_(intents) {}

void GatewaySession::on_open(int64_t /*now_ms*/) {
  open_ = true;
  hello_ = awaiting_ack_ = ready_ = closing_fresh_ = false;
}

void GatewaySession::restore(const std::string& session_id, int64_t seq,
                             const std::string& resume_url) {
  session_id_ = session_id;
  seq_ = std::max<int64_t>(0, seq);
  resume_url_ = resume_url;
}

void GatewaySession::forget() {
  session_id_.clear();
  resume_url_.clear();
  seq_ = 0;
}

void GatewaySession::set_identify_budget(int64_t remaining, int64_t reset_after_ms,
                                         int64_t now_ms) {
  budget_remaining_ = remaining;
  budget_reset_at_ms_ = now_ms + std::max<int64_t>(0, reset_after_ms);
}

int64_t GatewaySession::identify_wait_ms(int64_t now_ms) const {
  int64_t wait = 0;
  if (budget_remaining_ <= 0) wait = std::max<int64_t>(0, budget_reset_at_ms_ - now_ms);
  if (last_identify_ms_ >= 0)
    wait = std::max(wait, last_identify_ms_ + kIdentifySpacingMs - now_ms);
  return wait;
}

std::string GatewaySession::identify_frame() const {
  const Json j = {
      {"op", kIdentify},
      {"d",
       {{"token", token_},
        {"intents", intents_},
        {"properties", {{"os", "linux"}, {"browser", "clawgate"}, {"device", "clawgate"}}}}}};
  return dump_json(j);
}

std::string GatewaySession::resume_frame() const {
  const Json j = {{"op", kResume},
                  {"d", {{"token", token_}, {"session_id", session_id_}, {"seq", seq_}}}};
  return dump_json(j);
}

void GatewaySession::heartbeat(int64_t now_ms) {
  const Json j = {{"op", kHeartbeat}, {"d", seq_ > 0 ? Json(seq_) : Json(nullptr)}};
  hooks_.send(dump_json(j));
  awaiting_ack_ = true;
  beat_sent_ms_ = now_ms;
}

void GatewaySession::hello(const Frame& f, int64_t now_ms) {
  const auto interval = hello_interval(f.d);
  if (!interval || hello_) {
    hooks_.close(4000, "unusable HELLO");
    return;
  }
  hello_ = true;
  interval_ms_ = *interval;
  // The first beat after a random fraction of the interval, so reconnecting clients spread out.
  hooks_.arm_heartbeat(static_cast<int64_t>(static_cast<double>(interval_ms_) * random01_()));
  if (!session_id_.empty()) {
    hooks_.send(resume_frame());
    return;
  }
  hooks_.send(identify_frame());
  last_identify_ms_ = now_ms;
  if (budget_remaining_ > 0) --budget_remaining_;
}

void GatewaySession::invalid_session(const Frame& f) {
  if (f.d.is_boolean() && f.d.get<bool>()) {
    hooks_.close(4000, "invalid session (resumable)");
    return;
  }
  forget();
  closing_fresh_ = true;
  hooks_.close(1000, "invalid session");
}

void GatewaySession::on_text(const std::string& text, int64_t now_ms) {
  if (!open_) return;
  const auto f = parse_frame(text);
  if (!f) return;  // garbage from the Gateway: ignored (the fuzzer feeds this)
  last_event_ms_ = now_ms;
  switch (f->op) {
    case kHello:
      return hello(*f, now_ms);
    case kHeartbeat:  // Discord asks for a beat now
      if (hello_) heartbeat(now_ms);
      return;
    case kHeartbeatAck:
      if (awaiting_ack_) latency_ms_ = std::max<int64_t>(0, now_ms - beat_sent_ms_);
      awaiting_ack_ = false;
      return;
    case kReconnect:
      hooks_.close(4000, "reconnect requested");
      return;
    case kInvalidSession:
      return invalid_session(*f);
    case kDispatch:
      break;
    default:
      return;
  }
  if (f->s && *f->s > 0) seq_ = *f->s;
  if (f->t == "READY") {
    std::string why;
    auto r = read_ready(f->d, &why);
    if (!r) {
      forget();
      closing_fresh_ = true;
      hooks_.close(1000, why);
      return;
    }
    identity_ = *r;
    session_id_ = r->session_id;
    resume_url_ = r->resume_url;
    ready_ = true;
    failures_ = 0;
    if (hooks_.on_ready) hooks_.on_ready();
  } else if (f->t == "RESUMED") {
    ready_ = true;
    failures_ = 0;
    if (hooks_.on_ready) hooks_.on_ready();
  }
  if (hooks_.dispatch) hooks_.dispatch(*f);
}

void GatewaySession::on_heartbeat(int64_t now_ms) {
  if (!open_ || !hello_) return;
  if (awaiting_ack_) {  // the last beat was never acknowledged: a zombied connection
    hooks_.close(4000, "heartbeat not acknowledged");
    return;
  }
  heartbeat(now_ms);
  hooks_.arm_heartbeat(interval_ms_);
}

int64_t GatewaySession::backoff_ms() {
  const int64_t base = std::min<int64_t>(kMaxBackoffMs, 1000LL << std::min(failures_ - 1, 6));
  return static_cast<int64_t>(static_cast<double>(base) * (0.8 + 0.4 * random01_()));
}

GatewaySession::Next GatewaySession::on_closed(uint16_t code, const std::string& reason,
                                               const std::string& error, int64_t now_ms) {
  const bool was_ready = ready_;
  open_ = hello_ = awaiting_ack_ = ready_ = false;
  ++failures_;
  Next n;
  if (auto why = fatal_close(code, token_key_)) {
    n.fatal = true;
    n.exit_code = 78;
    n.why = *why;
    return n;
  }
  n.why = code ? "Gateway closed " + std::to_string(code) +
                     (reason.empty() ? "" : " " + utf8::preview(reason, 120))
          : error.empty() ? "Gateway connection lost"
                          : utf8::preview(error, 200);
  // Codes after which the session cannot be resumed: identify anew.
  if (code == 4007 || code == 4009 || code == 4003 || code == 4005) forget();
  n.resume = !session_id_.empty() && !closing_fresh_;
  n.url = n.resume ? resume_url_ : "";
  if (closing_fresh_) {
    n.delay_ms = 1000 + static_cast<int64_t>(4000 * random01_());  // as the docs ask for op 9
  } else if (was_ready && failures_ == 1) {
    n.delay_ms = static_cast<int64_t>(1000 * random01_());  // a healthy session: promptly
  } else {
    n.delay_ms = backoff_ms();
  }
  closing_fresh_ = false;
  if (!n.resume) n.delay_ms = std::max(n.delay_ms, identify_wait_ms(now_ms));
  return n;
}

}  // namespace clawgate::workers::discord
