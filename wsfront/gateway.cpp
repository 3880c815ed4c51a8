// Gateway protocol core: connection lifecycle, handshake, dispatch and broadcast.
// See gateway.hpp for what it owns; methods.cpp holds the method handlers.
#include "gateway.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "canvas_host.hpp"
#include "crypto.hpp"
#include "output_check.hpp"
#include "utf8.hpp"
#include "wire.hpp"

namespace clawgate::front {

namespace asio = boost::asio;

Gateway::Gateway(asio::io_context& io, const Clock& clock, Logger& log, LogRing& ring,
                 FrontSettings settings)
    : io_(io),
      clock_(clock),
      log_(log),
      ring_(ring),
      cfg_(std::move(settings)),
      proxies_(proxy_policy(cfg_.gateway)),
      limiter_(clock, cfg_.gateway.rate_limit),
      device_token_limiter_(clock, cfg_.gateway.rate_limit),
      devices_(cfg_.gateway.state_dir + "/devices", clock),
      node_store_(devices_, log),
      nodes_(io, clock, log, node_store_, node_events_,
             core::NodeCommandConfig{cfg_.gateway.config.gateway.nodes.commands.allow,
                                     cfg_.gateway.config.gateway.nodes.commands.deny},
             [] { return uuid_v4(); }),
      node_tools_(nodes_, [] { return uuid_v4(); }),
      loop_monitor_(clock),
      started_wall_ms_(clock.wall_ms()),
      started_steady_ms_(clock.steady_ms()),
      boot_id_(uuid_v4()),
      tick_timer_(io),
      sweep_timer_(io),
      health_timer_(io),
      loop_timer_(io),
      shutdown_timer_(io) {
  presence_.set_self(self_presence_entry(cfg_.version, boot_id_, started_wall_ms_));
  for (const auto& problem : devices_.load()) log_.warn("front", "device pairing: " + problem);
}

Gateway::~Gateway() = default;

void Gateway::attach(Transport* transport) {
  transport_ = transport;
}

size_t Gateway::ready_count() const {
  size_t n = 0;
  for (const auto& [_, s] : conns_) n += s.phase == Phase::ready;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Timers

void Gateway::start() {
  refresh_health();
  arm_timers();
}

void Gateway::arm_timers() {
  timers_started_ = true;
  arm_timers_tick();
  arm_sweep();
  arm_health();
  arm_loop_monitor();
}

void Gateway::arm_timers_tick() {
  tick_timer_.expires_after(std::chrono::milliseconds(cfg_.gateway.tick_interval_ms));
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shutting_down_) return;
    broadcast("tick", Json{{"ts", clock_.wall_ms()}});
    flush_devices();
    arm_timers_tick();
  });
}

// The handshake sweep and the event-loop monitor run only while there is something to watch:
// an idle front with no client wakes for nothing but its heartbeat and the hourly chores.
void Gateway::arm_sweep() {
  sweep_armed_ = !handshake_deadlines_.empty();
  if (!sweep_armed_) return;
  const int64_t wait =
      std::max<int64_t>(handshake_deadlines_.front().first - clock_.steady_ms(), 0);
  sweep_timer_.expires_after(std::chrono::milliseconds(wait + kSweepSlackMs));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    sweep_handshakes();
    arm_sweep();
  });
}

void Gateway::arm_health() {
  health_timer_.expires_after(std::chrono::milliseconds(cfg_.limits.health_refresh_ms));
  health_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || shutting_down_) return;
    refresh_health();
    push_health();
    arm_health();
  });
}

void Gateway::arm_loop_monitor() {
  constexpr int64_t kEvery = 1000;
  loop_armed_ = !conns_.empty();
  if (!loop_armed_) return;
  const int64_t due = clock_.steady_ms() + kEvery;
  loop_timer_.expires_after(std::chrono::milliseconds(kEvery));
  loop_timer_.async_wait([this, due](const boost::system::error_code& ec) {
    if (ec) return;
    loop_monitor_.sample(due);
    arm_loop_monitor();
  });
}

void Gateway::sweep_handshakes() {
  const int64_t now = clock_.steady_ms();
  while (!handshake_deadlines_.empty() && handshake_deadlines_.front().first <= now) {
    const ConnId id = handshake_deadlines_.front().second;
    handshake_deadlines_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    Connection& s = it->second;
    if (s.phase == Phase::awaiting_connect || s.phase == Phase::upgrading) {
      log_.info("front", "handshake timeout from " + s.client.ip);
      close_session(s, 1000, "");  // upstream: 1000 with an empty reason, no error frame
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Connection lifecycle

TransportHandler::Refusal Gateway::on_upgrade(ConnId id, const PeerInfo& peer) {
  if (shutting_down_) return {503, "gateway stopping"};
  const ClientInfo client = resolve_client(peer, proxies_);
  if (!peer.origin.empty() && !origin_allowed(peer.origin, cfg_.gateway.allowed_origins)) {
    log_.warn("front", "refused upgrade from " + client.ip + ": origin not allowed: \"" +
                           log_value(peer.origin) + "\"");
    return {403, "origin not allowed"};
  }
  size_t& pending = preauth_per_ip_[client.ip];
  if (pending >= cfg_.limits.max_preauth_per_ip) {
    return {429, "too many unauthenticated connections from this address"};
  }
  ++pending;
  Connection& s = conns_[id];
  s.id = id;
  s.peer = peer;
  s.client = client;
  s.deadline_steady = clock_.steady_ms() + cfg_.gateway.handshake_timeout_ms;
  handshake_deadlines_.emplace_back(s.deadline_steady, id);
  if (timers_started_ && !sweep_armed_) arm_sweep();
  if (timers_started_ && !loop_armed_) arm_loop_monitor();
  return {};
}

void Gateway::on_open(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& s = it->second;
  s.phase = Phase::awaiting_connect;
  s.nonce = uuid_v4();
  s.conn_id = uuid_v4();
  transport_->set_max_message_size(id, cfg_.limits.preauth_max_payload);
  Json challenge = {{"nonce", s.nonce}, {"ts", clock_.wall_ms()}};
  send_frame(s, event_frame("connect.challenge", challenge.dump(), std::nullopt, nullptr), false);
}

void Gateway::release_preauth(Connection& s) {
  if (s.phase == Phase::ready) return;
  auto it = preauth_per_ip_.find(s.client.ip);
  if (it == preauth_per_ip_.end()) return;
  if (--it->second == 0) preauth_per_ip_.erase(it);
}

void Gateway::on_close(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& s = it->second;
  if (!s.counted_ready) release_preauth(s);
  if (canvas_) canvas_->revoke(id);
  const std::string key = s.presence_key;
  conns_.erase(it);
  nodes_.disconnect(id);  // a node's invokes fail DISCONNECTED; anyone else's: nothing
  if (!key.empty() && presence_.disconnect(key, id, clock_.wall_ms())) {
    bump_presence();
    broadcast("presence", Json{{"presence", presence_.list()}});
  }
  if (shutting_down_ && conns_.empty()) finish_shutdown();
}

void Gateway::close_session(Connection& s, uint16_t code, const std::string& reason) {
  if (s.phase == Phase::closing) return;
  s.phase = Phase::closing;
  transport_->close(s.id, code, truncate_close_reason(reason));
}

// ---------------------------------------------------------------------------------------------
// Output

void Gateway::send_frame(Connection& s, std::string&& text, bool droppable) {
  if (s.phase == Phase::closing) return;
  const size_t buffered = transport_->buffered_amount(s.id);
  // Droppable frames stop at half the limit, so the other half is left for what must arrive
  // (responses, chat finals, lifecycle ends) before a client counts as too slow.
  if (droppable && buffered > cfg_.limits.max_buffered_bytes / 2) return;
  if (buffered > cfg_.limits.max_buffered_bytes) {
    log_.warn("front", "closing slow consumer " + s.client.ip + " (conn " + s.conn_id + ")");
    close_session(s, 1008, "slow consumer");
    return;
  }
  transport_->send(s.id, std::move(text));
}

void Gateway::send_response(Connection& s, const std::string& id, const Reply& r,
                            const schema::MethodSpec* spec) {
  if (r.error) {
    CLAWGATE_CHECK(schema::Def::ErrorShape, Json::parse(error_json(*r.error)), "an error response");
    send_frame(
        s,
        response_error_frame(
            id, error_json(*r.error),
            r.payload ? r.payload->dump(-1, ' ', false, Json::error_handler_t::replace) : ""),
        false);
  } else {
    if (spec && spec->hasResult)
      CLAWGATE_CHECK(spec->result, r.payload ? *r.payload : Json(),
                     "the result of " + std::string(spec->name));
    send_frame(s,
               response_ok_frame(
                   id, r.payload ? r.payload->dump(-1, ' ', false, Json::error_handler_t::replace)
                                 : std::string("null")),
               false);
  }
}

void Gateway::emit(const std::string& event, const Json& payload, bool droppable) {
  if (!shutting_down_) broadcast(event, payload, droppable);
}

void Gateway::emit_tool_event(const Json& payload) {
  if (!shutting_down_)
    broadcast("agent", payload, false, [](const Connection& s) { return s.tool_events; });
}

void Gateway::broadcast(const std::string& event, const Json& payload,
                        std::optional<bool> droppable_override, bool (*only)(const Connection&)) {
  const schema::EventSpec* spec = schema::find_event(event);
  if (!spec) {
    CLAWGATE_CHECK_FAILED("event " + event, "it is not in the schema");
  } else if (spec->direct) {  // node.invoke.request: one connection's (send_direct)
    CLAWGATE_CHECK_FAILED("event " + event, "it is sent to one connection, never broadcast");
    return;
  } else {
    CLAWGATE_CHECK(spec->payload, payload, "the payload of event " + event);
  }
  const std::string body = payload.dump(-1, ' ', false, Json::error_handler_t::replace);
  const std::optional<std::string> sv = spec && spec->stateVersion
                                            ? std::optional<std::string>(state_version().dump())
                                            : std::nullopt;
  const bool droppable = droppable_override ? *droppable_override : spec && spec->dropIfSlow;
  for (auto& [_, s] : conns_) {
    if (s.phase != Phase::ready || (only && !only(s))) continue;
    // Skipped events do not use up a seq number: each connection's seq stays gapless.
    if (!event_visible(spec != nullptr, spec ? spec->scope : "", spec && spec->nodeEvent, s.role,
                       s.scopes))
      continue;
    if (droppable && transport_->buffered_amount(s.id) > cfg_.limits.max_buffered_bytes / 2)
      continue;
    send_frame(s, event_frame(event, body, s.seq + 1, sv ? &*sv : nullptr), droppable);
    ++s.seq;
  }
}

// ---------------------------------------------------------------------------------------------
// Input

void Gateway::on_message(ConnId id, std::string&& data, bool binary) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& s = it->second;
  switch (s.phase) {
    case Phase::awaiting_connect:
      handle_connect_frame(s, data, binary);
      break;
    case Phase::ready:
      if (binary) {
        log_.debug("front", "ignored a binary frame from " + s.client.ip);
        break;
      }
      handle_request(s, data);
      break;
    case Phase::upgrading:
    case Phase::closing:
      break;
  }
}

void Gateway::fail_handshake(Connection& s, const std::string& req_id, const Error& error,
                             uint16_t close_code, const std::string& close_reason) {
  const std::string& reason = close_reason.empty() ? error.message : close_reason;
  if (!req_id.empty()) send_frame(s, response_error_frame(req_id, error_json(error)), false);
  log_.info("front", "connect refused for " + s.client.ip + ": " + log_value(reason));
  close_session(s, close_code, reason);
}

void Gateway::handle_connect_frame(Connection& s, const std::string& data, bool binary) {
  std::string req_id;
  const std::optional<schema::params::Connect> params = read_connect(s, data, binary, &req_id);
  if (!params) return;
  const std::optional<int> protocol =
      negotiate_protocol(params->min_protocol, params->max_protocol);
  if (!protocol) {
    Json details = {{"code", "PROTOCOL_MISMATCH"},
                    {"clientMinProtocol", params->min_protocol},
                    {"clientMaxProtocol", params->max_protocol},
                    {"expectedProtocol", kMaxProtocol},
                    {"minimumProtocol", kMinProtocol}};
    return fail_handshake(s, req_id, Error::invalid("protocol mismatch", details), 1002);
  }
  if (params->role != "operator" && params->role != "node")
    return fail_handshake(s, req_id, Error::invalid("invalid role"), 1008);
  const std::optional<RateLimitKey> bucket = may_try_auth(s, req_id);
  if (!bucket) return;
  const ConnectRequest c = connect_request(*params);
  std::optional<ConnectGrant> grant = authorize_connect(s, req_id, c, *bucket);
  if (!grant) return;
  if (params->role == "node" && !admit_node(s, req_id, *params, *grant)) return;
  become_ready(s, req_id, *params, c, *protocol, *grant);
}

// The first frame as a connect request whose params match their schema, or the handshake
// failed here (closed 1008).
std::optional<schema::params::Connect> Gateway::read_connect(Connection& s, const std::string& data,
                                                             bool binary, std::string* req_id) {
  if (binary) {
    close_session(s, 1008, "invalid handshake: first frame must be a text JSON frame");
    return std::nullopt;
  }
  if (!json_depth_within(data, cfg_.limits.max_json_depth)) {
    close_session(s, 1008, "invalid handshake: frame nested too deeply");
    return std::nullopt;
  }
  Json frame = Json::parse(data, nullptr, false);
  if (frame.is_discarded()) {
    close_session(s, 1008, "invalid handshake: first frame is not valid JSON");
    return std::nullopt;
  }
  schema::Errors errs;
  if (!schema::validate(schema::Def::RequestFrame, frame, errs)) {
    close_session(s, 1008, "invalid handshake: first frame must be a connect request");
    return std::nullopt;
  }
  *req_id = frame["id"].get<std::string>();
  if (frame["method"] != "connect") {
    fail_handshake(s, *req_id, Error::invalid("invalid handshake: first request must be connect"),
                   1008);
    return std::nullopt;
  }
  static const Json kNoParams = Json::object();
  const Json& raw = frame.contains("params") ? frame.at("params") : kNoParams;
  if (!schema::validate(schema::Def::ConnectParams, raw, errs)) {
    fail_handshake(s, *req_id, Error::invalid("invalid connect params: " + errs.text()), 1008);
    return std::nullopt;
  }
  return raw.get<schema::params::Connect>();
}

// Whether this connection may try credentials at all: a forwarded request must be attributable
// to a client, and its failed-auth bucket must not be locked. The bucket, or refused here.
std::optional<RateLimitKey> Gateway::may_try_auth(Connection& s, const std::string& req_id) {
  if (!s.client.refusal.empty()) {
    log_.warn("front", "cannot attribute a forwarded request: " + s.client.refusal +
                           " (X-Forwarded-For \"" + log_value(s.peer.forwarded_for) + "\")");
    fail_handshake(s, req_id,
                   Error::invalid("unauthorized: " + s.client.refusal +
                                      "; list the proxy in gateway.trustedProxies and have it set "
                                      "X-Forwarded-For to the client's address",
                                  {{"code", "PROXY_ATTRIBUTION_REQUIRED"},
                                   {"authReason", "proxy_attribution_required"},
                                   {"recommendedNextStep", "update_auth_configuration"}}),
                   1008);
    return std::nullopt;
  }
  const RateLimitKey bucket = rate_limit_key(s.client, s.peer.origin);
  if (const int64_t wait = limiter_.retry_after_ms(bucket.key, bucket.exemptable); wait > 0) {
    Error err =
        Error::invalid("unauthorized: too many failed authentication attempts (retry later)",
                       {{"code", "AUTH_RATE_LIMITED"},
                        {"authReason", "rate_limited"},
                        {"recommendedNextStep", "wait_then_retry"}});
    err.retryable = true;
    err.retry_after_ms = wait;
    fail_handshake(s, req_id, err, 1008);
    return std::nullopt;
  }
  return bucket;
}

// Admitted: the connection takes its identity and grant, joins presence (the CLI does not) and
// gets hello-ok.
void Gateway::become_ready(Connection& s, const std::string& req_id,
                           const schema::params::Connect& params, const ConnectRequest& c,
                           int protocol, const ConnectGrant& grant) {
  const bool has_device = !grant.device_id.empty();
  s.client_id = c.client_id;
  s.client_mode = c.client_mode;
  s.role = params.role;
  s.protocol = protocol;
  s.scopes = grant.scopes;
  s.auth_method = grant.auth_method;
  s.device_id = grant.device_id;
  s.tool_events =
      std::find(params.caps.begin(), params.caps.end(), "tool-events") != params.caps.end();

  release_preauth(s);
  s.counted_ready = true;
  s.phase = Phase::ready;
  transport_->set_max_message_size(s.id, cfg_.limits.max_payload);

  const bool tracked = s.client_mode != "cli";
  if (tracked) {
    std::string key = s.conn_id;
    if (has_device)
      key = s.device_id;
    else if (params.client.contains("instanceId"))
      key = params.client["instanceId"].get<std::string>();
    s.presence_key = key;
    presence_.upsert(key, presence_entry_for(s, params), s.id);
    bump_presence();
  }
  const Json hello = build_hello(s, grant.device_token);
  CLAWGATE_CHECK(schema::Def::HelloOk, hello, "hello-ok");
  send_frame(s,
             response_ok_frame(req_id, hello.dump(-1, ' ', false, Json::error_handler_t::replace)),
             false);
  log_.info("front", "client connected: " + s.client_id + "/" + s.client_mode + " role=" + s.role +
                         " protocol=" + std::to_string(s.protocol) + " auth=" + s.auth_method +
                         (has_device ? " device=" + s.device_id.substr(0, 12) : "") + " from " +
                         s.client.ip);
  if (tracked) broadcast("presence", Json{{"presence", presence_.list()}});
  schedule_health_push();
}

void Gateway::handle_request(Connection& s, const std::string& data) {
  if (!json_depth_within(data, cfg_.limits.max_json_depth)) {
    send_response(s, "invalid", Reply::invalid("invalid request frame: nested too deeply"));
    return;
  }
  Json frame = Json::parse(data, nullptr, false);
  if (frame.is_discarded()) {
    log_.debug("front", "ignored a non-JSON frame from " + s.client.ip);  // upstream: no reply
    return;
  }
  schema::Errors errs;
  if (!schema::validate(schema::Def::RequestFrame, frame, errs)) {
    std::string id = "invalid";
    if (frame.is_object() && frame.contains("id") && frame["id"].is_string() &&
        !frame["id"].get_ref<const std::string&>().empty())
      id = frame["id"].get<std::string>();
    send_response(s, id, Reply::invalid("invalid request frame: " + errs.text()));
    return;
  }
  const std::string id = frame["id"].get<std::string>();
  const std::string& method = frame["method"].get_ref<const std::string&>();
  if (method == "connect") {
    send_response(s, id, Reply::invalid("connect is only valid as the first request"));
    return;
  }
  const schema::MethodSpec* spec = schema::find_method(method);
  if (!spec) {
    send_response(s, id, Reply::invalid("unknown method: " + method));
    return;
  }
  // Roles first, then scopes, then params (upstream order: a request without the scope gets
  // FORBIDDEN whatever its params). Node-only methods are a node's; health is anyone's; the
  // rest are operators'. Repeated refusals (the 11th in a row) close the socket after the
  // error is sent.
  const bool role_ok = spec->anyRole || (spec->nodeOnly ? s.role == "node" : s.role == "operator");
  if (!role_ok) {
    send_response(s, id, Reply::invalid("unauthorized role: " + s.role));
    if (++s.unauthorized_calls > cfg_.limits.max_unauthorized_calls)
      close_session(s, 1008, "repeated unauthorized calls");
    return;
  }
  s.unauthorized_calls = 0;
  if (s.role == "operator" && !spec->scopeExempt &&
      !scope_satisfies(s.scopes, std::string(spec->scope))) {
    Json details = {{"code", "MISSING_SCOPE"},
                    {"missingScope", spec->scope},
                    {"requiredScopes", Json::array({spec->scope})}};
    // Protocol 3 clients know this as INVALID_REQUEST; protocol 4 adds FORBIDDEN.
    send_response(
        s, id,
        Reply::fail(Error{s.protocol >= 4 ? ErrorCode::FORBIDDEN : ErrorCode::INVALID_REQUEST,
                          "missing scope: " + std::string(spec->scope), false, 0, details}));
    return;
  }
  Json params =
      frame.contains("params") && !frame["params"].is_null() ? frame["params"] : Json::object();
  // Upstream reads a node's result leniently before validating (payloadJSON/error null).
  if (spec->id == schema::Method::node_invoke_result)
    params = core::NodeService::normalize_invoke_result(std::move(params));
  if (!schema::validate(spec->params, params, errs)) {
    send_response(s, id, Reply::invalid("invalid " + method + " params: " + errs.text()));
    return;
  }
  if (contains_nul(params)) {
    send_response(s, id,
                  Reply::invalid("invalid " + method + " params: strings must not contain NUL"));
    return;
  }
  const ConnId conn = s.id;
  auto reply = [this, conn, id, spec](Reply r) {
    auto it = conns_.find(conn);  // the client may be gone by now; ids are never reused
    if (it == conns_.end() || it->second.phase != Phase::ready) return;
    send_response(it->second, id, r, r.error ? nullptr : spec);
  };
  try {
    // node.invoke answers later: when the node does, times out or goes.
    if (spec->id == schema::Method::node_invoke)
      return nodes_.invoke(node_caller(s), params.get<schema::params::NodeInvoke>(), reply);
    if (!serves(spec->id)) {
      if (core_ && core::Core::serves(spec->id)) return core_->call(spec->id, params, reply);
      return send_response(s, id, Reply::unavailable("method not available: " + method));
    }
  } catch (const std::exception& e) {
    log_.error("front", "method " + method + " failed: " + e.what());
    return send_response(s, id, Reply::unavailable("internal error in " + method));
  }
  Reply r;
  try {
    r = dispatch(s, spec->id, params);
  } catch (const std::exception& e) {
    log_.error("front", "method " + method + " failed: " + e.what());
    r = Reply::unavailable(std::string("internal error in ") + method);
  }
  send_response(s, id, r, spec);
}

// ---------------------------------------------------------------------------------------------
// Shutdown

void Gateway::shutdown(const std::string& reason, std::optional<int64_t> restart_expected_ms,
                       std::function<void()> done) {
  if (shutting_down_) return;
  Json payload = {{"reason", reason}};
  if (restart_expected_ms) payload["restartExpectedMs"] = *restart_expected_ms;
  broadcast("shutdown", payload);
  shutting_down_ = true;
  flush_devices();
  shutdown_done_ = std::move(done);
  transport_->stop_listening();
  tick_timer_.cancel();
  health_timer_.cancel();
  for (auto& [_, s] : conns_) close_session(s, 1012, "service restart");
  if (conns_.empty()) return finish_shutdown();
  // A peer that never answers the close handshake must not hold the process.
  shutdown_timer_.expires_after(std::chrono::milliseconds(3000));
  shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) finish_shutdown();
  });
}

void Gateway::finish_shutdown() {
  sweep_timer_.cancel();
  loop_timer_.cancel();
  shutdown_timer_.cancel();
  if (auto done = std::move(shutdown_done_)) {
    shutdown_done_ = nullptr;
    done();
  }
}

// ---------------------------------------------------------------------------------------------
// Health pushes

void Gateway::schedule_health_push() {
  const int64_t now = clock_.steady_ms();
  if (health_push_pending_) return;
  if (last_health_push_ >= 0 && now - last_health_push_ < cfg_.limits.health_refresh_ms) return;
  health_push_pending_ = true;
  // Posted so the push follows the hello-ok that triggered it.
  asio::post(io_, [this] {
    health_push_pending_ = false;
    if (shutting_down_) return;
    refresh_health();
    push_health();
  });
}

void Gateway::push_health() {
  last_health_push_ = clock_.steady_ms();
  broadcast("health", health_cache_);
}

}  // namespace clawgate::front
