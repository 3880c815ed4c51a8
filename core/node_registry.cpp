// NodeRegistry: see node_registry.hpp.
#include "core/node_registry.hpp"

#include <algorithm>
#include <cmath>

#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {

using Settled = std::vector<std::pair<InvokeDone, InvokeOutcome>>;

std::optional<int64_t> integer(const Json& j, int64_t min, int64_t max) {
  int64_t v = 0;
  if (j.is_number_integer()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return std::nullopt;
    v = j.get<int64_t>();
  } else if (j.is_number_float()) {  // JSON does not tell 4 from 4.0; JavaScript does not either
    const double d = j.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.007199254740991e15 ||
        d > 9.007199254740991e15)
      return std::nullopt;
    v = static_cast<int64_t>(d);
  } else {
    return std::nullopt;
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

// NodeHostStatsPayloadSchema (closed object) and its refinement: free <= total, disk values
// come in pairs.
bool valid_host_stats(const Json& s) {
  if (!s.is_object()) return false;
  static const char* kKeys[] = {"cpuCount",        "loadAverage",    "memoryTotalBytes",
                                "memoryFreeBytes", "diskTotalBytes", "diskAvailableBytes"};
  for (auto it = s.begin(); it != s.end(); ++it)
    if (std::none_of(std::begin(kKeys), std::end(kKeys),
                     [&](const char* k) { return it.key() == k; }))
      return false;
  constexpr int64_t kMaxSafe = 9'007'199'254'740'991;
  if (!s.contains("cpuCount") || !integer(s["cpuCount"], 1, 4096)) return false;
  if (s.contains("loadAverage")) {
    const Json& l = s["loadAverage"];
    if (!l.is_array() || l.size() != 3) return false;
    for (const auto& v : l)
      if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1e5)) return false;
  }
  const auto total =
      s.contains("memoryTotalBytes") ? integer(s["memoryTotalBytes"], 0, kMaxSafe) : std::nullopt;
  const auto free =
      s.contains("memoryFreeBytes") ? integer(s["memoryFreeBytes"], 0, kMaxSafe) : std::nullopt;
  if (!total || !free || *free > *total) return false;
  const bool has_disk_total = s.contains("diskTotalBytes");
  const bool has_disk_free = s.contains("diskAvailableBytes");
  if (has_disk_total != has_disk_free) return false;
  if (has_disk_total) {
    const auto dt = integer(s["diskTotalBytes"], 0, kMaxSafe);
    const auto df = integer(s["diskAvailableBytes"], 0, kMaxSafe);
    if (!dt || !df || *df > *dt) return false;
  }
  return true;
}

Json event_result(const std::string& event, bool handled, const char* reason) {
  return {{"ok", true}, {"event", event}, {"handled", handled}, {"reason", reason}};
}

// system.run as the registry forwards it (normalizeSystemRunInvokeParams): a runId is always
// present, timeoutMs is a whole positive number or null ("no expiry").
Json system_run_params(Json p, const std::string& invoke_id) {
  if (!p.is_object()) return p;
  const auto run_id = p.find("runId");
  if (run_id == p.end() || !run_id->is_string() ||
      utf8::trim(run_id->get_ref<const std::string&>()).empty())
    p["runId"] = invoke_id;
  if (auto t = p.find("timeoutMs"); t != p.end()) {
    if (!t->is_number() || !std::isfinite(t->get<double>())) {
      p.erase(t);
    } else {
      const double v = std::trunc(t->get<double>());
      *t = v > 0 ? Json(static_cast<int64_t>(std::min(v, double(NodeRegistry::kMaxTimeoutMs))))
                 : Json(nullptr);
    }
  }
  return p;
}

}  // namespace

Result<std::optional<NodeConn>> NodeRegistry::add(NodeSession s) {
  const auto current = nodes_.find(s.node_id);
  if (current == nodes_.end() && nodes_.size() >= kMaxNodes)
    return Error::unavailable("too many nodes connected", true, 1000);
  Settled settled;
  std::optional<NodeConn> replaced;
  if (current != nodes_.end() && current->second.conn != s.conn) {
    replaced = current->second.conn;
    by_conn_.erase(*replaced);
    drop_conn_invokes(*replaced, settled);
  }
  by_conn_[s.conn] = s.node_id;
  nodes_[s.node_id] = std::move(s);
  run(settled);
  return replaced;
}

std::optional<NodeSession> NodeRegistry::remove(NodeConn conn) {
  Settled settled;
  drop_conn_invokes(conn, settled);
  std::optional<NodeSession> out;
  if (auto it = by_conn_.find(conn); it != by_conn_.end()) {
    auto node = nodes_.find(it->second);
    if (node != nodes_.end() && node->second.conn == conn) {
      out = std::move(node->second);
      nodes_.erase(node);
    }
    by_conn_.erase(it);
  }
  run(settled);
  return out;
}

const NodeSession* NodeRegistry::by_node(const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? nullptr : &it->second;
}

const NodeSession* NodeRegistry::by_conn(NodeConn conn) const {
  auto it = by_conn_.find(conn);
  return it == by_conn_.end() ? nullptr : by_node(it->second);
}

std::vector<const NodeSession*> NodeRegistry::sessions() const {
  std::vector<const NodeSession*> out;
  for (const auto& [id, s] : nodes_) out.push_back(&s);
  return out;
}

const NodeSession* NodeRegistry::approve_surface(const std::string& node_id, const Strings& caps,
                                                 const Strings& commands,
                                                 const std::optional<Permissions>& permissions) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return nullptr;
  NodeSession& s = it->second;
  const auto keep = [](const Strings& declared, const Strings& approved) {
    Strings out;
    for (const auto& c : declared)
      if (std::find(approved.begin(), approved.end(), c) != approved.end()) out.push_back(c);
    return out;
  };
  s.caps = keep(s.declared_caps, caps);
  s.commands = keep(s.declared_commands, commands);
  Permissions p;
  if (s.declared_permissions)
    for (const auto& [key, value] : *s.declared_permissions) {
      if (!value) {
        p[key] = false;
      } else if (permissions) {
        if (auto a = permissions->find(key); a != permissions->end()) p[key] = a->second;
      }
    }
  s.permissions = p.empty() ? std::nullopt : std::optional<Permissions>(p);
  return &s;
}

Result<NodeRegistry::Dispatch> NodeRegistry::begin_invoke(const std::string& node_id,
                                                          const std::string& command,
                                                          const std::optional<Json>& params,
                                                          int64_t timeout_ms,
                                                          const std::string& idempotency_key,
                                                          const std::string& id, InvokeDone done) {
  const NodeSession* s = by_node(node_id);
  if (!s) return Error::unavailable("node not connected");
  if (invokes_.size() >= kMaxPending)
    return Error::unavailable("too many node invocations in flight", true, 1000);
  const size_t per_node = std::count_if(invokes_.begin(), invokes_.end(),
                                        [&](const auto& e) { return e.second.node_id == node_id; });
  if (per_node >= kMaxPendingPerNode)
    return Error::unavailable("too many invocations in flight for this node", true, 1000);
  if (invokes_.count(id)) return Error::unavailable("duplicate invoke id");
  timeout_ms = std::clamp<int64_t>(timeout_ms, 0, kMaxTimeoutMs);
  const int64_t deadline = clock_.steady_ms() + (timeout_ms > 0 ? timeout_ms : kMaxTimeoutMs);

  Json request = {{"id", id}, {"nodeId", node_id}, {"command", command}};
  if (params) {
    const Json forwarded = command == "system.run" ? system_run_params(*params, id) : *params;
    request["paramsJSON"] = dump_json(forwarded);
  }
  request["timeoutMs"] = timeout_ms;
  if (!idempotency_key.empty()) request["idempotencyKey"] = idempotency_key;

  invokes_[id] = Invoke{node_id, command, s->conn, deadline, false, std::move(done)};
  deadlines_.emplace(deadline, id);
  return Dispatch{id, std::move(request), s->conn};
}

void NodeRegistry::dispatched(const std::string& id, bool sent) {
  auto it = invokes_.find(id);
  if (it == invokes_.end()) return;
  if (sent) {
    it->second.dispatched = true;
    return;
  }
  Settled settled;
  fail(settled, id, "UNAVAILABLE", "failed to send invoke to node");
  run(settled);
}

bool NodeRegistry::settle(NodeConn conn, const std::string& id, const std::string& node_id, bool ok,
                          Json payload, std::optional<std::string> payload_json, Json error) {
  auto it = invokes_.find(id);
  if (it == invokes_.end() || it->second.node_id != node_id || it->second.conn != conn)
    return false;
  Invoke inv = std::move(it->second);
  invokes_.erase(it);
  for (auto d = deadlines_.lower_bound(inv.deadline); d != deadlines_.end(); ++d)
    if (d->second == id) {
      deadlines_.erase(d);
      break;
    }
  InvokeOutcome o;
  o.ok = ok;
  o.payload = std::move(payload);
  o.payload_json = std::move(payload_json);
  o.error = ok ? Json(nullptr) : std::move(error);
  o.dispatched = true;
  if (inv.done) inv.done(o);
  return true;
}

size_t NodeRegistry::expire() {
  Settled settled;
  const int64_t now = clock_.steady_ms();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::string id = deadlines_.begin()->second;
    fail(settled, id, "TIMEOUT", "node invoke timed out");
  }
  const size_t n = settled.size();
  run(settled);
  return n;
}

std::optional<int64_t> NodeRegistry::next_deadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void NodeRegistry::fail(Settled& out, const std::string& id, const char* code,
                        const std::string& message) {
  auto it = invokes_.find(id);
  if (it == invokes_.end()) return;
  Invoke inv = std::move(it->second);
  invokes_.erase(it);
  for (auto d = deadlines_.lower_bound(inv.deadline); d != deadlines_.end(); ++d)
    if (d->second == id) {
      deadlines_.erase(d);
      break;
    }
  InvokeOutcome o;
  o.error = {{"code", code}, {"message", message}};
  o.dispatched = inv.dispatched;
  out.emplace_back(std::move(inv.done), std::move(o));
}

void NodeRegistry::drop_conn_invokes(NodeConn conn, Settled& out) {
  std::vector<std::pair<std::string, std::string>> ids;  // id, command
  for (const auto& [id, inv] : invokes_)
    if (inv.conn == conn) ids.emplace_back(id, inv.command);
  for (const auto& [id, command] : ids)
    fail(out, id, "DISCONNECTED", "node disconnected (" + command + ")");
}

void NodeRegistry::run(Settled& done) {
  for (auto& [fn, outcome] : done)
    if (fn) fn(outcome);
  done.clear();
}

Json NodeRegistry::handle_event(NodeConn conn, const std::string& event,
                                const std::optional<std::string>& payload_json) {
  if (event != "node.host.stats") return event_result(event, false, "unsupported_event");
  std::optional<Json> stats;
  if (payload_json && payload_json->size() <= 4096) stats = parse_node_json(*payload_json, 4);
  if (!stats || !valid_host_stats(*stats)) return event_result(event, false, "invalid_payload");
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end()) return event_result(event, false, "stale_connection");
  Json& kept = nodes_[it->second].host_stats;
  kept = std::move(*stats);
  kept["updatedAtMs"] = clock_.wall_ms();
  return event_result(event, true, "updated");
}

InvokeAnswer invoke_answer(const std::string& node_id, const std::string& command,
                           const InvokeOutcome& o) {
  InvokeAnswer a;
  if (o.ok) {
    a.ok = true;
    Json payload = o.payload;
    if (o.payload_json) {
      const std::string_view t = utf8::trim(*o.payload_json);
      if (t.empty()) {
        payload = nullptr;
      } else if (auto parsed = parse_node_json(std::string(t))) {
        payload = std::move(*parsed);
      } else {
        payload = {{"payloadJSON", *o.payload_json}};
      }
    }
    a.payload = {{"ok", true}, {"nodeId", node_id}, {"command", command}};
    if (!payload.is_null()) a.payload["payload"] = std::move(payload);
    a.payload["payloadJSON"] = o.payload_json ? Json(*o.payload_json) : Json(nullptr);
    return a;
  }
  std::string code, message;
  if (o.error.is_object()) {
    if (auto c = o.error.find("code"); c != o.error.end() && c->is_string())
      code = std::string(utf8::trim(c->get_ref<const std::string&>()));
    if (auto m = o.error.find("message"); m != o.error.end() && m->is_string())
      message = std::string(utf8::trim(m->get_ref<const std::string&>()));
  }
  if (message.empty()) message = "node invoke failed";
  a.error = Error::unavailable(code.empty() ? message : code + ": " + message);
  a.error.details = {{"nodeError", o.error.is_object() ? o.error : Json(nullptr)},
                     {"nodeCommandDispatched", o.dispatched}};
  return a;
}

std::optional<Json> parse_node_json(const std::string& text, int max_depth) {
  bool too_deep = false;
  Json::parser_callback_t guard = [&](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= max_depth)
      too_deep = true;
    return !too_deep;
  };
  Json j = Json::parse(text, guard, false);
  if (too_deep || j.is_discarded()) return std::nullopt;
  return j;
}

}  // namespace clawgate::core
