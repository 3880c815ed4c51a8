// SocketMode: see socket_mode.hpp.
#include "socket_mode.hpp"

#include <algorithm>
#include <chrono>

#include "slack_api.hpp"
#include "slack_events.hpp"
#include "utf8.hpp"

namespace clawgate::workers::slack {

namespace {

bool loopback_host(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

}  // namespace

SocketMode::SocketMode(boost::asio::io_context& io, Logger& log, Options o, Handlers h)
    : io_(io),
      log_(log),
      opt_(std::move(o)),
      h_(std::move(h)),
      http_(io, opt_.api_root),
      retry_timer_(io),
      hello_timer_(io) {}

SocketMode::~SocketMode() {
  *alive_ = false;
  stop();
}

void SocketMode::start() {
  open_connection();
}

void SocketMode::stop() {
  stopping_ = true;
  retry_timer_.cancel();
  hello_timer_.cancel();
  http_.cancel();
  // abort() reports on_closed at once: the list is emptied first, so those find nothing.
  std::vector<Conn> conns = std::move(conns_);
  conns_.clear();
  for (Conn& c : conns) c.ws->abort();
}

int64_t SocketMode::backoff_ms() {
  if (failures_ == 0) return 0;
  const int64_t base =
      std::min<int64_t>(opt_.max_backoff_ms, 1000LL << std::min(failures_ - 1, 10));
  std::uniform_int_distribution<int64_t> jitter(base * 8 / 10, base * 12 / 10);
  return std::min<int64_t>(jitter(rng_), opt_.max_backoff_ms);
}

SocketMode::Conn* SocketMode::find(uint64_t id) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [&](const Conn& c) { return c.id == id; });
  return it == conns_.end() ? nullptr : &*it;
}

void SocketMode::publish() {
  state_.connections = static_cast<int>(conns_.size());
  state_.connected = std::any_of(conns_.begin(), conns_.end(),
                                 [](const Conn& c) { return c.hello && c.ws->open(); });
  if (h_.on_state) h_.on_state(state_);
}

void SocketMode::retry_later(const Error& why, int64_t min_wait_ms) {
  state_.last_error = why;
  ++failures_;
  const int64_t wait = std::max<int64_t>(backoff_ms(), min_wait_ms);
  log_.warn("slack",
            "socket mode: " + why.message + "; new connection in " + std::to_string(wait) + " ms");
  publish();
  retry_timer_.expires_after(std::chrono::milliseconds(wait));
  retry_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
        if (!ec && alive.lock()) open_connection();
      });
}

void SocketMode::open_connection() {
  if (stopping_ || asking_ || opening_) return;
  // One ready connection that Slack has not asked us to leave is all we want.
  if (std::any_of(conns_.begin(), conns_.end(),
                  [](const Conn& c) { return c.hello && !c.leaving; }))
    return;
  retry_timer_.cancel();
  asking_ = true;
  const HttpClient::Headers headers = {{"Authorization", "Bearer " + opt_.app_token}};
  http_.request(
      "POST", "/apps.connections.open", "{}", 15'000,
      [this, alive = std::weak_ptr<bool>(alive_)](HttpResponse r) {
        if (!alive.lock() || stopping_) return;
        asking_ = false;
        const ApiAnswer a = read_api_answer(r.status, retry_after_of(r.headers), r.body, r.error);
        if (!a.ok) {
          if (a.auth_failure()) {
            if (h_.on_fatal) h_.on_fatal("Slack refused the app token (appToken): " + a.error);
            return;
          }
          const bool limited = a.error == "ratelimited";
          return retry_later(
              Error{limited ? ErrorCode::RATE_LIMITED : ErrorCode::UNAVAILABLE,
                    "apps.connections.open: " + a.error, true, a.retry_after_s * 1000LL},
              a.retry_after_s * 1000LL);
        }
        std::string why;
        const std::string url = read_connection_url(a.body, &why);
        if (url.empty()) return retry_later(Error::unavailable(why, true));
        connect(url);
      },
      headers);
}

void SocketMode::connect(const std::string& url) {
  const WsEndpointResult ep = parse_ws_endpoint(url);
  if (!ep.error.empty())
    return retry_later(Error::unavailable("apps.connections.open: " + ep.error, true));
  // Plain ws:// only to this machine (an emulator): real Slack answers wss://, and a token's
  // events must not cross a network in the clear because an answer said so.
  if (!ep.endpoint.tls && !loopback_host(ep.endpoint.host))
    return retry_later(
        Error::unavailable("apps.connections.open answered ws:// to " + ep.endpoint.host, true));
  const uint64_t id = next_id_++;
  opening_ = id;
  WsConnection::Options o;
  o.idle_timeout_ms = opt_.ping_timeout_ms;
  o.connect_timeout_ms = opt_.hello_timeout_ms;
  WsConnection::Handlers h;
  std::weak_ptr<bool> alive = alive_;
  h.on_open = [] {};  // ready only at hello
  h.on_text = [this, id, alive](std::string text) {
    if (alive.lock()) on_text(id, text);
  };
  h.on_closed = [this, id, alive](uint16_t code, std::string reason, std::string error) {
    if (alive.lock()) on_closed(id, code, reason, error);
  };
  Conn c;
  c.id = id;
  c.ws = WsConnection::create(io_, std::move(h), o);
  conns_.push_back(c);
  if (conns_.size() > 1) ++state_.reconnects;
  // No hello in time: this one is abandoned (on_closed follows and schedules the next).
  hello_timer_.expires_after(std::chrono::milliseconds(opt_.hello_timeout_ms));
  hello_timer_.async_wait([this, id, alive](const boost::system::error_code& ec) {
    if (ec || !alive.lock()) return;
    if (Conn* c = find(id); c && !c->hello) {
      log_.warn("slack",
                "socket mode: no hello within " + std::to_string(opt_.hello_timeout_ms) + " ms");
      c->ws->abort();
    }
  });
  c.ws->connect(url);
}

void SocketMode::on_text(uint64_t id, const std::string& text) {
  if (stopping_) return;
  Conn* c = find(id);
  if (!c) return;
  const SocketFrame f = read_socket_frame(text);
  // The ack first, before reading further: Slack waits 3 s, then sends the envelope again.
  if (!f.envelope_id.empty())
    c->ws->send(dump_json(nlohmann::json{{"envelope_id", f.envelope_id}}));
  switch (f.kind) {
    case SocketFrame::Kind::hello:
      return on_hello(id, f.num_connections);
    case SocketFrame::Kind::disconnect:
      return on_disconnect(id, f.reason);
    case SocketFrame::Kind::events_api:
      if (h_.on_event) h_.on_event(f.payload, f.retry_attempt);
      return;
    case SocketFrame::Kind::other:
      log_.debug("slack", "socket mode: " + f.type + " ignored");
      return;
    case SocketFrame::Kind::malformed:
      log_.warn("slack", "socket mode: a message that cannot be read (" +
                             std::to_string(text.size()) + " bytes) ignored");
      return;
  }
}

void SocketMode::on_hello(uint64_t id, int num_connections) {
  Conn* c = find(id);
  if (!c || c->hello) return;
  c->hello = true;
  c->ready_at = std::chrono::steady_clock::now();
  if (opening_ == id) {
    opening_ = 0;
    hello_timer_.cancel();
  }
  failures_ = 0;
  state_.last_error.reset();
  log_.info("slack", "socket mode connected (" + std::to_string(num_connections) +
                         " connection(s) for this app)");
  // The new one is ready: the ones it replaces go now (their unacknowledged envelopes, if any,
  // come again on this one).
  // (Collected first: a close can report on_closed at once, which edits the list.)
  std::vector<std::shared_ptr<WsConnection>> replaced;
  for (Conn& other : conns_)
    if (other.id != id && (other.leaving || other.hello)) replaced.push_back(other.ws);
  for (auto& ws : replaced) ws->close(1000, "replaced");
  publish();
}

void SocketMode::on_disconnect(uint64_t id, const std::string& reason) {
  Conn* c = find(id);
  if (!c) return;
  c->leaving = true;
  if (reason == "link_disabled") {
    // Socket Mode was turned off for the app: a new connection would be refused too. Slowly.
    auto it = std::find_if(conns_.begin(), conns_.end(), [&](const Conn& x) { return x.id == id; });
    const std::shared_ptr<WsConnection> ws = it->ws;
    conns_.erase(it);  // on_closed finds nothing: the retry below is the only one
    ws->close(1000, "link disabled");
    failures_ = std::max(failures_, 5);
    return retry_later(Error::unavailable("Slack disabled Socket Mode for this app", true));
  }
  log_.info("slack", "socket mode: disconnect (" + reason + "); opening a new connection first");
  open_connection();
}

void SocketMode::on_closed(uint64_t id, uint16_t code, const std::string& reason,
                           const std::string& error) {
  auto it = std::find_if(conns_.begin(), conns_.end(), [&](const Conn& c) { return c.id == id; });
  if (it == conns_.end()) return;
  const bool was_ready = it->hello, was_leaving = it->leaving;
  // Ready for a while: a healthy connection that ended. A few seconds: Slack keeps refusing us.
  const bool lived =
      was_ready && std::chrono::steady_clock::now() - it->ready_at > std::chrono::seconds(5);
  conns_.erase(it);
  if (opening_ == id) {
    opening_ = 0;
    hello_timer_.cancel();
  }
  if (stopping_) return;
  const std::string what = error.empty() ? "closed by Slack (" + std::to_string(code) +
                                               (reason.empty() ? "" : " " + reason) + ")"
                                         : utf8::truncate_bytes(error, 200);
  const bool another_ready =
      std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.hello; });
  if (another_ready) {  // replaced as planned
    publish();
    return;
  }
  if (was_ready) log_.warn("slack", "socket mode connection lost: " + what);
  if (opening_ || asking_) {  // a replacement is on its way already
    publish();
    return;
  }
  // A healthy connection that ends (or one Slack asked us to leave) is replaced at once; one
  // that never got ready counts as a failure and backs off.
  if (lived || was_leaving) {
    state_.last_error = Error::unavailable("socket mode: " + what, true);
    publish();
    open_connection();
    return;
  }
  retry_later(Error::unavailable("socket mode: " + what, true));
}

}  // namespace clawgate::workers::slack
