// Method handlers and the payloads the front builds (hello-ok, snapshot, health, status,
// presence entries). Params arrive validated against the schema; handlers only apply meaning.
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "canvas_host.hpp"
#include "channel_kinds.hpp"
#include "config_view.hpp"
#include "core/session_key.hpp"
#include "gateway.hpp"
#include "utf8.hpp"
#include "wire.hpp"

namespace clawgate::front {

bool Gateway::serves(schema::Method m) {
  using M = schema::Method;
  switch (m) {
    case M::health:
    case M::status:
    case M::system_presence:
    case M::system_event:
    case M::last_heartbeat:
    case M::logs_tail:
    case M::config_get:
    case M::config_schema:
    case M::device_pair_list:
    case M::device_pair_approve:
    case M::device_pair_reject:
    case M::device_pair_remove:
    case M::device_pair_rename:
    case M::device_token_rotate:
    case M::device_token_revoke:
    case M::node_list:
    case M::node_describe:
    case M::node_rename:
    case M::node_invoke:
    case M::node_invoke_result:
    case M::node_event:
    case M::node_pluginSurface_refresh:
    case M::node_pair_list:
    case M::node_pair_approve:
    case M::node_pair_reject:
    case M::node_pair_remove:
      return true;
    default:
      return false;
  }
}

Reply Gateway::dispatch(Connection& s, schema::Method m, const Json& params) {
  using M = schema::Method;
  switch (m) {
    case M::health:
      return m_health(params.get<schema::params::Health>());
    case M::status:
      return m_status(s);
    case M::system_presence:
      return Reply::ok(presence_.list());
    case M::system_event:
      return m_system_event(params.get<schema::params::SystemEvent>());
    case M::last_heartbeat:
      return Reply::ok(last_heartbeat_);
    case M::logs_tail:
      return m_logs_tail(params.get<schema::params::LogsTail>());
    case M::config_get:
      return Reply::ok(cfg_.config_snapshot);
    case M::config_schema:
      return m_config_schema();
    case M::device_pair_list:
      return m_device_pair_list(s);
    case M::device_pair_approve:
      return m_device_pair_approve(s, params.get<schema::params::DevicePairApprove>());
    case M::device_pair_reject:
      return m_device_pair_reject(s, params.get<schema::params::DevicePairReject>());
    case M::device_pair_remove:
      return m_device_pair_remove(s, params.get<schema::params::DevicePairRemove>());
    case M::device_pair_rename:
      return m_device_pair_rename(s, params.get<schema::params::DevicePairRename>());
    case M::device_token_rotate:
      return m_device_token_rotate(s, params.get<schema::params::DeviceTokenRotate>());
    case M::device_token_revoke:
      return m_device_token_revoke(s, params.get<schema::params::DeviceTokenRevoke>());
    case M::node_list:
      return nodes_.list(node_caller(s));
    case M::node_describe:
      return nodes_.describe(node_caller(s), params.get<schema::params::NodeDescribe>());
    case M::node_rename:
      return nodes_.rename(node_caller(s), params.get<schema::params::NodeRename>());
    case M::node_invoke_result:
      return nodes_.invoke_result(node_caller(s), params.get<schema::params::NodeInvokeResult>());
    case M::node_event:
      return nodes_.event(node_caller(s), params.get<schema::params::NodeEvent>());
    case M::node_pluginSurface_refresh:
      return m_plugin_surface_refresh(s, params.get<schema::params::NodePluginSurfaceRefresh>());
    case M::node_pair_list:
      return nodes_.pair_list(node_caller(s));
    case M::node_pair_approve:
      return nodes_.pair_approve(node_caller(s), params.get<schema::params::NodePairApprove>());
    case M::node_pair_reject:
      return nodes_.pair_reject(node_caller(s), params.get<schema::params::NodePairReject>());
    case M::node_pair_remove:
      return nodes_.pair_remove(node_caller(s), params.get<schema::params::NodePairRemove>());
    default:
      break;
  }
  // Only reached for a method serves() does not list: a bug, reported as such.
  return Reply::unavailable("method not available: " + std::string(schema::method_name(m)));
}

std::vector<std::string> Gateway::unserved_methods() const {
  std::vector<std::string> missing;
  for (const auto& m : schema::kMethods)
    if (!serves(m.id) && !(core_ && core::Core::serves(m.id))) missing.emplace_back(m.name);
  return missing;
}

// ---------------------------------------------------------------------------------------------
// health / status

void Gateway::refresh_health() {
  const int64_t t0 = clock_.steady_ms();
  Json h = {{"ok", true},
            {"ts", clock_.wall_ms()},
            {"eventLoop", loop_monitor_.to_json()},
            {"channels", core_ ? core_->channels().health_channels() : Json::object()},
            {"channelOrder", Json::array()},
            {"channelLabels", Json::object()},
            {"defaultAgentId", core::SessionKey::kDefaultAgent}};
  for (auto& [name, _] : h["channels"].items()) {
    h["channelOrder"].push_back(name);
    h["channelLabels"][name] = channel_label(name);
  }
  h["durationMs"] = clock_.steady_ms() - t0;
  health_cache_ = std::move(h);
  health_cached_at_ = clock_.steady_ms();
  ++state_health_;
}

Json Gateway::health_summary() {
  if (health_cached_at_ < 0 ||
      clock_.steady_ms() - health_cached_at_ >= cfg_.limits.health_refresh_ms)
    refresh_health();
  return health_cache_;
}

Reply Gateway::m_health(const schema::params::Health& p) {
  if (p.probe) {
    refresh_health();
    push_health();
  }
  return Reply::ok(health_summary());
}

Reply Gateway::m_status(const Connection& s) {
  size_t ready = 0, pending = 0;
  for (const auto& [_, x] : conns_) (x.phase == Phase::ready ? ready : pending)++;
  const char* auth_mode = cfg_.gateway.auth_mode == AuthMode::token      ? "token"
                          : cfg_.gateway.auth_mode == AuthMode::password ? "password"
                                                                         : "none";
  Json out = {{"ts", clock_.wall_ms()},
              {"server", {{"name", "clawgate"}, {"version", cfg_.version}, {"bootId", boot_id_}}},
              {"pid", static_cast<int64_t>(::getpid())},
              {"uptimeMs", clock_.steady_ms() - started_steady_ms_},
              {"gateway", {{"bind", cfg_.gateway.bind_address}, {"authMode", auth_mode}}},
              {"connections", {{"ready", ready}, {"handshaking", pending}}},
              {"presence", {{"count", presence_.size() + 1}, {"stateVersion", state_version()}}},
              {"processMemory", {{"rssBytes", process_rss_bytes()}}},
              {"eventLoop", loop_monitor_.to_json()},
              {"channels", core_ ? core_->channels().health_channels() : Json::object()},
              {"processes", core_ ? core_->channels().children_json() : Json::array()},
              {"outbound", {{"pending", core_ ? core_->channels().pending_outbound() : 0}}},
              {"logs", {{"size", ring_.tail(-1, 0, 0).size}}}};
  // What a client pins (upstream's fingerprintSha256); only callers past authentication see it.
  out["gateway"]["tls"] =
      cfg_.tls_fingerprint.empty()
          ? Json{{"enabled", false}}
          : Json{{"enabled", true}, {"fingerprintSha256", cfg_.tls_fingerprint}};
  if (scope_satisfies(s.scopes, "operator.admin")) {
    out["stateDir"] = cfg_.gateway.state_dir;
    if (!cfg_.gateway.config_path.empty()) out["configPath"] = cfg_.gateway.config_path;
  }
  return Reply::ok(std::move(out));
}

// ---------------------------------------------------------------------------------------------
// presence

Json Gateway::presence_entry_for(const Connection& s, const schema::params::Connect& p) const {
  const Json& client = p.client;
  const int64_t now = clock_.wall_ms();
  const std::string host = client.value("displayName", s.client_id);
  Json e = {
      {"host", host},
      {"ip", s.client.ip},
      {"version", client["version"]},
      {"platform", client["platform"]},
      {"mode", s.client_mode},
      {"reason", "connect"},
      {"roles", Json::array({s.role})},
      {"text", (s.role == "node" ? "Node: " : "Client: ") + host + " · mode " + s.client_mode},
      {"ts", now},
      {"onlineSince", now}};
  for (const char* k : {"deviceFamily", "modelIdentifier", "instanceId", "timeZone"})
    if (client.contains(k)) e[k] = client[k];
  if (!s.scopes.empty()) e["scopes"] = s.scopes;
  if (p.device) e["deviceId"] = (*p.device)["id"];
  return e;
}

Reply Gateway::m_system_event(const schema::params::SystemEvent& p) {
  const std::string& text = p.text;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    return Reply::invalid("text required");
  // Copy only what a PresenceEntry may hold (non-empty strings, a non-negative integer), under
  // the entry's names.
  Json e = {{"text", text}, {"ts", clock_.wall_ms()}};
  const std::pair<const char*, const std::optional<std::string>&> strings[] = {
      {"host", p.host},
      {"ip", p.ip},
      {"version", p.version},
      {"platform", p.platform},
      {"deviceFamily", p.device_family},
      {"modelIdentifier", p.model_identifier},
      {"mode", p.mode},
      {"reason", p.reason},
      {"deviceId", p.device_id},
      {"instanceId", p.instance_id}};
  for (const auto& [k, v] : strings)
    if (v && !v->empty()) e[k] = *v;
  if (p.last_input_seconds) {
    const double v = *p.last_input_seconds;
    if (std::isfinite(v) && v >= 0 && v < 9.2e18) e["lastInputSeconds"] = static_cast<int64_t>(v);
  }
  const std::pair<const char*, const std::optional<std::vector<std::string>>&> lists[] = {
      {"roles", p.roles}, {"scopes", p.scopes}, {"tags", p.tags}};
  for (const auto& [k, v] : lists) {
    if (!v) continue;
    Json arr = Json::array();
    for (const auto& x : *v)
      if (!x.empty()) arr.push_back(x);
    if (!arr.empty()) e[k] = std::move(arr);
  }
  std::string key;
  for (const char* k : {"deviceId", "instanceId", "host"})
    if (e.contains(k)) {
      key = e[k].get<std::string>();
      break;
    }
  if (key.empty()) key = "event:" + utf8::truncate_bytes(text, 200);
  presence_.upsert(key, std::move(e), 0);
  log_.info("system-event", text);
  bump_presence();
  // Upstream order: the presence broadcast goes out before the response.
  broadcast("presence", Json{{"presence", presence_.list()}});
  return Reply::ok(Json{{"ok", true}});
}

// ---------------------------------------------------------------------------------------------
// logs.tail

Reply Gateway::m_logs_tail(const schema::params::LogsTail& p) const {
  // No cursor: the newest lines (the schema keeps a given one >= 0, limit and maxBytes >= 1).
  const LogRing::Tail t = ring_.tail(p.cursor.value_or(-1), static_cast<size_t>(p.limit),
                                     static_cast<size_t>(p.max_bytes));
  Json out = {
      {"file", "clawgate:gateway.log"}, {"cursor", t.cursor}, {"size", t.size}, {"lines", t.lines},
      {"truncated", t.truncated},       {"reset", t.reset}};
  return Reply::ok(std::move(out));
}

// ---------------------------------------------------------------------------------------------
// config.schema (config.get answers the snapshot it was given)

Reply Gateway::m_config_schema() const {
  return Reply::ok(config_schema_response(cfg_.version, clock_.wall_ms()));
}

// ---------------------------------------------------------------------------------------------
// hello-ok

Json Gateway::build_snapshot(const Connection& s) const {
  Json snap = {{"presence", presence_.list()},
               {"health", health_cache_},
               {"stateVersion", state_version()},
               {"uptimeMs", clock_.steady_ms() - started_steady_ms_},
               {"sessionDefaults",
                {{"defaultAgentId", core::SessionKey::kDefaultAgent},
                 {"mainKey", core::SessionKey::main().rest()},
                 {"mainSessionKey", core::SessionKey::main().str()},
                 {"scope", "per-sender"}}}};
  if (scope_satisfies(s.scopes, "operator.admin")) {
    snap["stateDir"] = cfg_.gateway.state_dir;
    if (!cfg_.gateway.config_path.empty()) snap["configPath"] = cfg_.gateway.config_path;
    snap["authMode"] = cfg_.gateway.auth_mode == AuthMode::token      ? "token"
                       : cfg_.gateway.auth_mode == AuthMode::password ? "password"
                                                                      : "none";
  }
  return snap;
}

Json Gateway::build_hello(const Connection& s,
                          const std::optional<core::DeviceToken>& token) const {
  Json methods = Json::array(), events = Json::array();
  for (const auto& m : schema::kMethods) methods.push_back(m.name);
  for (const auto& e : schema::kEvents) events.push_back(e.name);
  Json hello = {{"type", "hello-ok"},
                {"protocol", s.protocol},
                {"server", {{"version", cfg_.version}, {"connId", s.conn_id}}},
                {"features", {{"methods", methods}, {"events", events}}},
                {"snapshot", build_snapshot(s)},
                {"policy",
                 {{"maxPayload", cfg_.limits.max_payload},
                  {"maxBufferedBytes", cfg_.limits.max_buffered_bytes},
                  {"tickIntervalMs", cfg_.gateway.tick_interval_ms}}}};
  hello["server"]["bootId"] = boot_id_;
  // The live grant, for every protocol version: the published HelloOk schema requires it.
  hello["auth"] = {{"role", s.role}, {"scopes", s.scopes}};
  // The device's token for this role (never upstream's `method`: the schema has no such key).
  if (token) {
    hello["auth"]["deviceToken"] = token->token;
    hello["auth"]["issuedAtMs"] = token->rotated_at_ms.value_or(token->created_at_ms);
  }
  // Upstream sends it to operators too; a fresh capability, bound to this connection.
  if (canvas_)
    if (auto url = canvas_->issue_surface_url(s.id, s.peer))
      hello["pluginSurfaceUrls"] = {{"canvas", *url}};
  return hello;
}

}  // namespace clawgate::front
