// NodeService: see nodes.hpp.
#include "core/nodes.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <system_error>

#include "core/record_fields.hpp"
#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {

using records::put_text;

bool has(const Strings& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool is_admin(const NodeCaller& c) {
  return has(c.scopes, "operator.admin");
}

// Authenticated by its own device token: may manage only its own device unless admin
// (device-management-security.ts).
std::string caller_device(const NodeCaller& c) {
  return c.device_token_auth ? c.device_id : std::string();
}

bool denies_cross_device(const NodeCaller& c, const std::string& target) {
  const std::string own = caller_device(c);
  return !own.empty() && !is_admin(c) && own != target;
}

std::string trimmed(const std::string& s) {
  return std::string(utf8::trim(s));
}

Reply missing_scope(const NodeCaller& c, const std::string& scope, Strings required) {
  Json details = {
      {"code", "MISSING_SCOPE"}, {"missingScope", scope}, {"requiredScopes", std::move(required)}};
  // Protocol 3 clients know this as INVALID_REQUEST; protocol 4 adds FORBIDDEN.
  return Reply::fail(Error{c.protocol >= 4 ? ErrorCode::FORBIDDEN : ErrorCode::INVALID_REQUEST,
                           "missing scope: " + scope, false, 0, std::move(details)});
}

Reply invalid(std::string message, Json details = nullptr) {
  return Reply::fail(Error::invalid(std::move(message), std::move(details)));
}

Strings sorted_unique(const Strings& items) {
  const Strings n = normalize_surface_list(items);
  std::set<std::string> s(n.begin(), n.end());
  return Strings(s.begin(), s.end());
}

Strings public_commands(const Strings& items) {
  Strings out;
  for (const auto& c : sorted_unique(items))
    if (!is_private_node_command(c)) out.push_back(c);
  return out;
}

Json permissions_json(const std::optional<Permissions>& p) {
  Json j = Json::object();
  if (p)
    for (const auto& [k, v] : *p) j[k] = v;
  return j;
}

std::string first(std::initializer_list<std::string> values) {
  for (const auto& v : values)
    if (!utf8::trim(v).empty()) return std::string(utf8::trim(v));
  return "";
}

// The pending surface still describes what the live node declares (resolveCurrentPending…):
// a stale one is not shown against a live session.
bool pending_current(const PendingNodeSurface& p, const NodeSession* live, bool approved) {
  if (!live) return true;
  const auto same = [](const Strings& a, const Strings& b) {
    return sorted_unique(a) == sorted_unique(b);
  };
  const auto declared =
      !approved && !live->declared_permissions ? p.permissions : live->declared_permissions;
  return same(p.caps, live->declared_caps) && same(p.commands, live->declared_commands) &&
         p.permissions.value_or(Permissions{}) == declared.value_or(Permissions{});
}

// One node as the catalog sees it: its record holding the node role, the record holding its
// approved or pending surface (the same device), and its live connection; any may be missing.
struct CatalogRow {
  const NodeDevice* device = nullptr;  // holds an effective node role
  const NodeDevice* surface_of = nullptr;
  const NodeDevice* pending_of = nullptr;
  const NodeSession* live = nullptr;
};

// The descriptive fields, each from the first source that has it: the live connection, the
// approved surface, the device record, the pending request (upstream's order per field).
void put_descriptive(Json& n, const NodeSession* live, const NodeSurface* surface,
                     const NodeDevice* dev, const PendingNodeSurface* pending) {
  const auto dv = [&](std::string NodeDevice::*f) { return dev ? dev->*f : std::string(); };
  const auto pv = [&](std::string PendingNodeSurface::*f) {
    return pending ? pending->*f : std::string();
  };
  const auto lv = [&](std::string NodeSession::*f) { return live ? live->*f : std::string(); };
  const auto sv = [&](std::string NodeSurface::*f) {
    return surface ? surface->*f : std::string();
  };
  put_text(n, "displayName",
           first({sv(&NodeSurface::display_name), lv(&NodeSession::display_name),
                  dv(&NodeDevice::display_name), pv(&PendingNodeSurface::display_name)}));
  put_text(n, "platform",
           first({lv(&NodeSession::platform), dv(&NodeDevice::platform),
                  pv(&PendingNodeSurface::platform)}));
  put_text(n, "version",
           first({lv(&NodeSession::version), sv(&NodeSurface::version),
                  pv(&PendingNodeSurface::version)}));
  put_text(n, "coreVersion",
           first({lv(&NodeSession::core_version), sv(&NodeSurface::core_version),
                  pv(&PendingNodeSurface::core_version)}));
  put_text(n, "uiVersion",
           first({lv(&NodeSession::ui_version), sv(&NodeSurface::ui_version),
                  pv(&PendingNodeSurface::ui_version)}));
  put_text(n, "clientId",
           first({lv(&NodeSession::client_id), dv(&NodeDevice::client_id),
                  pv(&PendingNodeSurface::client_id)}));
  put_text(n, "clientMode",
           first({lv(&NodeSession::client_mode), dv(&NodeDevice::client_mode),
                  pv(&PendingNodeSurface::client_mode)}));
  put_text(n, "deviceFamily",
           first({lv(&NodeSession::device_family), dv(&NodeDevice::device_family),
                  pv(&PendingNodeSurface::device_family)}));
  put_text(n, "modelIdentifier",
           first({lv(&NodeSession::model_identifier), sv(&NodeSurface::model_identifier),
                  pv(&PendingNodeSurface::model_identifier)}));
  put_text(n, "remoteIp",
           first({lv(&NodeSession::remote_ip), dv(&NodeDevice::remote_ip),
                  pv(&PendingNodeSurface::remote_ip)}));
}

// node.list's entry for `id`, merged from the live connection, the surface and the records in
// upstream's order of preference. nullopt: the caller may not see it (an unpaired, offline node
// with only a pending request, to a caller without operator.pairing).
std::optional<Json> catalog_entry(const std::string& id, const CatalogRow& row, const NodeCaller& c,
                                  bool sees_pending) {
  const NodeSession* live = row.live;
  const NodeSurface* surface = row.surface_of ? &*row.surface_of->surface : nullptr;
  const NodeDevice* dev = row.device ? row.device : row.surface_of;
  const PendingNodeSurface* pending = row.pending_of ? &*row.pending_of->pending : nullptr;
  if (pending && !pending_current(*pending, live, surface != nullptr)) pending = nullptr;
  const bool paired = row.device || surface;
  if (!sees_pending && !paired && !live) return std::nullopt;

  Json n = {{"nodeId", id}};
  put_descriptive(n, live, surface, dev, pending);
  n["caps"] = live ? sorted_unique(live->caps) : surface ? sorted_unique(surface->caps) : Strings{};
  n["commands"] = live      ? public_commands(live->commands)
                  : surface ? public_commands(surface->commands)
                            : Strings{};
  const Json host_stats = live ? live->host_stats : surface ? surface->last_host_stats : Json();
  if (host_stats.is_object()) n["hostStats"] = host_stats;
  if (live) put_text(n, "pathEnv", live->path_env);
  if (live && live->permissions)
    n["permissions"] = permissions_json(live->permissions);
  else if (surface && surface->permissions)
    n["permissions"] = permissions_json(surface->permissions);
  n["approvalState"] = pending ? (surface ? "pending-reapproval" : "pending-approval")
                               : (surface ? "approved" : "unapproved");
  if (pending && (sees_pending || id == c.device_id)) n["pendingRequestId"] = pending->request_id;
  if (pending && sees_pending) {
    n["pendingDeclaredCaps"] = pending->caps;
    n["pendingDeclaredCommands"] = pending->commands;
    if (pending->permissions)
      n["pendingDeclaredPermissions"] = permissions_json(pending->permissions);
  }
  if (live) n["connectedAtMs"] = live->connected_at_ms;
  std::optional<int64_t> last_connected = surface ? surface->last_connected_at_ms : std::nullopt;
  if (live) last_connected = std::max(last_connected.value_or(0), live->connected_at_ms);
  if (last_connected) n["lastConnectedAtMs"] = *last_connected;
  if (!live && surface && surface->last_disconnected_at_ms)
    n["lastDisconnectedAtMs"] = *surface->last_disconnected_at_ms;
  // The newest sighting: this connection, else the records'.
  std::optional<std::pair<int64_t, std::string>> seen;
  const auto consider = [&](std::optional<int64_t> at, const std::string& why) {
    if (at && *at > 0 && (!seen || *at > seen->first)) seen = std::make_pair(*at, why);
  };
  if (live) consider(live->connected_at_ms, "connect");
  if (dev) consider(dev->last_seen_at_ms, dev->last_seen_reason);
  if (surface) consider(surface->last_connected_at_ms, "connect");
  if (seen) {
    n["lastSeenAtMs"] = seen->first;
    put_text(n, "lastSeenReason", seen->second);
  }
  if (surface)
    n["approvedAtMs"] = surface->approved_at_ms;
  else if (row.device)
    n["approvedAtMs"] = row.device->approved_at_ms;
  n["paired"] = paired;
  n["connected"] = live != nullptr;
  return n;
}

// Connected first, then by display name (or id), then id.
void sort_catalog(std::vector<Json>& out) {
  std::stable_sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
    if (a["connected"] != b["connected"]) return a["connected"].get<bool>();
    const auto name = [](const Json& j) {
      return utf8::lower(j.value("displayName", j["nodeId"].get<std::string>()));
    };
    const std::string na = name(a), nb = name(b);
    if (na != nb) return na < nb;
    return a["nodeId"].get<std::string>() < b["nodeId"].get<std::string>();
  });
}

}  // namespace

NodeService::NodeService(boost::asio::io_context& io, const Clock& clock, Logger& log,
                         NodeSurfaceStore& store, NodeSink& sink, NodeCommandConfig commands,
                         IdSource new_id)
    : clock_(clock),
      log_(log),
      store_(store),
      sink_(sink),
      commands_(std::move(commands)),
      new_id_(new_id),
      pairing_(store, clock, new_id),
      registry_(clock),
      timer_(io) {}

NodeService::~NodeService() {
  *alive_ = false;
}

void NodeService::announce(const SurfaceReconcile& r) {
  for (const auto& resolved : r.resolved) sink_.broadcast("node.pair.resolved", resolved.json());
  if (r.requested) sink_.broadcast("node.pair.requested", *r.requested);
}

Result<const NodeSession*> NodeService::admit(NodeConn conn, const NodeDeclaration& d,
                                              const std::string& path_env) {
  Result<SurfaceReconcile> r = Error::unavailable("node pairing unavailable");
  try {
    r = pairing_.reconcile(d, commands_);
  } catch (const std::system_error& e) {
    log_.error("nodes", std::string("node pairing state not written: ") + e.what());
    return Error::unavailable("node pairing state unavailable", true, 1000);
  }
  if (!r) return std::move(r).error();
  const SurfaceReconcile& s = r.value();
  if (!s.withheld_commands.empty()) {
    std::string list;
    for (const auto& c : s.withheld_commands) list += (list.empty() ? "" : ",") + c;
    log_.warn("nodes", "node command surface withheld node=" + log_value(d.node_id, 80) +
                           " commands=" + log_value(list));
  }
  announce(s);

  NodeSession session;
  session.conn = conn;
  session.node_id = d.node_id;
  const auto short_text = [](const std::string& v) {
    return utf8::truncate_bytes(utf8::repair(v), NodePairing::kMaxShortBytes);
  };
  session.client_id = short_text(d.client_id);
  session.client_mode = short_text(d.client_mode);
  session.display_name =
      utf8::truncate_bytes(utf8::repair(d.display_name), NodePairing::kMaxTextBytes);
  session.platform = short_text(d.platform);
  session.version = short_text(d.version);
  session.core_version = short_text(d.core_version);
  session.ui_version = short_text(d.ui_version);
  session.device_family = short_text(d.device_family);
  session.model_identifier = short_text(d.model_identifier);
  session.remote_ip = short_text(d.remote_ip);
  session.path_env = utf8::truncate_bytes(utf8::repair(path_env), 65536);
  session.declared_caps = s.declared_caps;
  session.declared_commands = s.declared_commands;
  session.declared_permissions = s.declared_permissions;
  session.caps = s.effective_caps;
  session.commands = s.effective_commands;
  session.permissions = s.effective_permissions;
  session.connected_at_ms = clock_.wall_ms();
  auto added = registry_.add(std::move(session));
  if (!added) return std::move(added).error();
  try {
    pairing_.record_connection(d.node_id, registry_.by_conn(conn)->connected_at_ms);
  } catch (const std::system_error& e) {  // bookkeeping only: the node stays connected
    log_.warn("nodes", std::string("node connection time not written: ") + e.what());
  }
  return registry_.by_conn(conn);
}

void NodeService::disconnect(NodeConn conn) {
  auto gone = registry_.remove(conn);
  if (!gone) return;
  try {
    pairing_.record_disconnection(gone->node_id, gone->connected_at_ms, clock_.wall_ms(),
                                  gone->host_stats);
  } catch (const std::system_error& e) {
    log_.warn("nodes", std::string("node disconnection time not written: ") + e.what());
  }
}

// ---- node.list / node.describe (node-catalog.ts) ----

Json NodeService::catalog(const NodeCaller& c, const std::string* only) const {
  const std::vector<NodeDevice> devices = store_.devices();
  std::map<std::string, CatalogRow> rows;
  for (const auto& d : devices) {
    if (only && d.device_id != *only) continue;
    if (d.node_role) rows[d.device_id].device = &d;
    if (d.surface) rows[d.device_id].surface_of = &d;
    if (d.pending) rows[d.device_id].pending_of = &d;
  }
  for (const NodeSession* s : registry_.sessions())
    if (!only || s->node_id == *only) rows[s->node_id].live = s;

  const bool sees_pending = is_admin(c) || has(c.scopes, "operator.pairing");
  std::vector<Json> out;
  for (const auto& [id, row] : rows)
    if (auto entry = catalog_entry(id, row, c, sees_pending)) out.push_back(std::move(*entry));
  sort_catalog(out);
  return out;
}

Reply NodeService::list(const NodeCaller& c) const {
  return Reply::ok({{"ts", clock_.wall_ms()}, {"nodes", catalog(c, nullptr)}});
}

Reply NodeService::describe(const NodeCaller& c, const schema::params::NodeDescribe& p) const {
  const std::string id = trimmed(p.node_id);
  if (id.empty()) return invalid("nodeId required");
  Json rows = catalog(c, &id);
  if (rows.empty()) return invalid("unknown nodeId");
  Json out = {{"ts", clock_.wall_ms()}};
  out.update(rows[0]);
  return Reply::ok(std::move(out));
}

// ---- node.rename, node.pair.* (nodes.ts) ----

Reply NodeService::rename(const NodeCaller& c, const schema::params::NodeRename& p) {
  const std::string id = trimmed(p.node_id);
  if (denies_cross_device(c, id)) return invalid("node rename denied");
  const std::string name = trimmed(p.display_name);
  if (name.empty()) return invalid("displayName required");
  try {
    auto node = pairing_.rename(id, name);
    if (!node) return invalid("unknown nodeId");
    return Reply::ok({{"nodeId", (*node)["nodeId"]}, {"displayName", (*node)["displayName"]}});
  } catch (const std::system_error& e) {
    log_.error("nodes", std::string("node.rename not written: ") + e.what());
    return Reply::unavailable("node pairing state unavailable", true, 1000);
  }
}

Reply NodeService::pair_list(const NodeCaller& c) const {
  Json list = pairing_.list();
  const std::string own = caller_device(c);
  if (!own.empty() && !is_admin(c))
    for (const char* key : {"pending", "paired"}) {
      Json kept = Json::array();
      for (auto& row : list[key])
        if (row["nodeId"] == own) kept.push_back(std::move(row));
      list[key] = std::move(kept);
    }
  return Reply::ok(std::move(list));
}

Reply NodeService::pair_approve(const NodeCaller& c, const schema::params::NodePairApprove& p) {
  const std::string request_id = trimmed(p.request_id);
  const auto owner = pairing_.request_owner(request_id);
  if (!owner && !caller_device(c).empty() && !is_admin(c))
    return invalid("node pairing approval denied");
  if (owner && denies_cross_device(c, *owner)) return invalid("node pairing approval denied");
  SurfaceApproval a;
  try {
    a = pairing_.approve(request_id, c.scopes);
  } catch (const std::system_error& e) {
    log_.error("nodes", std::string("node.pair.approve not written: ") + e.what());
    return Reply::unavailable("node pairing state unavailable", true, 1000);
  }
  if (a.status == SurfaceApproval::unknown) return invalid("unknown requestId");
  if (a.status == SurfaceApproval::forbidden) {
    Strings required = {"operator.pairing"};
    if (a.missing_scope != "operator.pairing") required.push_back(a.missing_scope);
    return missing_scope(c, a.missing_scope, std::move(required));
  }
  const Json resolved = SurfaceResolved{request_id, a.node_id, "approved", clock_.wall_ms()}.json();
  // The live node gets its approved surface at once, and hears about it on its own socket.
  if (const NodeSession* s = registry_.approve_surface(a.node_id, a.surface.caps,
                                                       a.surface.commands, a.surface.permissions))
    if (!sink_.send_to(s->conn, "node.pair.resolved", resolved))
      log_.warn("nodes", "node approval was not delivered to node " + log_value(a.node_id, 80));
  sink_.broadcast("node.pair.resolved", resolved);
  log_.info("nodes", "node surface approved node=" + log_value(a.node_id, 80));
  return Reply::ok({{"requestId", request_id}, {"node", a.node}});
}

Reply NodeService::pair_reject(const NodeCaller& c, const schema::params::NodePairReject& p) {
  const std::string request_id = trimmed(p.request_id);
  const auto owner = pairing_.request_owner(request_id);
  if (!owner && !caller_device(c).empty() && !is_admin(c))
    return invalid("node pairing rejection denied");
  if (owner && denies_cross_device(c, *owner)) return invalid("node pairing rejection denied");
  std::optional<SurfaceResolved> r;
  try {
    r = pairing_.reject(request_id);
  } catch (const std::system_error& e) {
    log_.error("nodes", std::string("node.pair.reject not written: ") + e.what());
    return Reply::unavailable("node pairing state unavailable", true, 1000);
  }
  if (!r) return invalid("unknown requestId");
  sink_.broadcast("node.pair.resolved", r->json());
  return Reply::ok({{"requestId", r->request_id}, {"nodeId", r->node_id}});
}

Reply NodeService::pair_remove(const NodeCaller& c, const schema::params::NodePairRemove& p) {
  const std::string id = trimmed(p.node_id);
  const auto device = id.empty() ? std::nullopt : store_.device(id);
  if (!device || !device->node_role) return invalid("unknown nodeId");
  // A device-token caller may drop only its own node role, and then only as admin when the
  // device has other roles too (pairedDeviceHasNonOperatorRole).
  if (denies_cross_device(c, id) || (!caller_device(c).empty() && !is_admin(c)))
    return invalid("node pairing removal denied");
  std::optional<bool> removed;
  try {
    removed = store_.remove_node_role(id);
  } catch (const std::system_error& e) {
    log_.error("nodes", std::string("node.pair.remove not written: ") + e.what());
    return Reply::unavailable("node pairing state unavailable", true, 1000);
  }
  if (!removed) return invalid("unknown nodeId");
  log_.info("nodes", "node pairing removed node=" + log_value(id, 80));
  sink_.broadcast("node.pair.resolved",
                  SurfaceResolved{"", id, "removed", clock_.wall_ms()}.json());
  sink_.close_node_connections(id, 4001, "device removed");
  return Reply::ok({{"nodeId", id}});
}

// ---- node.invoke (nodes.ts "node.invoke") ----

Result<void> NodeService::check_command(const NodeCaller& c, const std::string& command) const {
  const Json cmd = {{"command", command}};
  if (is_private_node_command(command))
    return Error::invalid("node.invoke does not allow private node controls", cmd);
  if (command == "system.execApprovals.get" || command == "system.execApprovals.set")
    return Error::invalid(
        "node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*", cmd);
  if (command == "agent.cli.claude.run.v1")
    return Error::invalid(
        "node.invoke does not allow Claude agent runs; use sessions.catalog.continue", cmd);
  if (is_admin_only_invoke_command(command) && !is_admin(c))
    return *missing_scope(c, "operator.admin", {"operator.admin"}).error;
  return {};
}

Result<void> NodeService::check_on_node(const NodeSession& s, const std::string& command) const {
  // Declared but not (yet) approved: say so, whatever the allowlist would say of a command
  // that only an approved surface admits (system.which on Linux).
  if (has(s.declared_commands, command) && !has(s.commands, command)) {
    const char* reason =
        s.commands.empty() ? "node did not declare commands" : "command not declared by node";
    return Error::invalid(command_rejection_hint("node did not declare commands", command,
                                                 s.platform, s.declared_commands, commands_),
                          {{"reason", reason}, {"command", command}});
  }
  const CommandSet allowlist = command_allowlist(
      commands_, PolicyNode{s.platform, s.device_family, s.caps, s.commands, s.commands});
  const CommandCheck check = check_node_command(command, s.commands, allowlist);
  if (!check.ok)
    return Error::invalid(
        command_rejection_hint(check.reason, command, s.platform, s.declared_commands, commands_),
        {{"reason", check.reason}, {"command", command}});
  return {};
}

Strings NodeService::invocable(const NodeCaller& c, const NodeSession& s) const {
  Strings out;
  for (const auto& command : public_commands(s.commands))
    if (check_command(c, command) && check_on_node(s, command)) out.push_back(command);
  return out;
}

void NodeService::invoke(const NodeCaller& c, const schema::params::NodeInvoke& p,
                         const ReplyFn& reply) {
  const std::string node_id = trimmed(p.node_id);
  const std::string command = trimmed(p.command);
  if (node_id.empty() || command.empty()) return reply(invalid("nodeId and command required"));
  if (auto ok = check_command(c, command); !ok) return reply(Reply::fail(std::move(ok).error()));
  const NodeSession* s = registry_.by_node(node_id);
  if (!s) {
    Error e = Error::unavailable("node not connected");
    e.details = {{"code", "NOT_CONNECTED"},
                 {"nodeError", {{"code", "NOT_CONNECTED"}, {"message", "node not connected"}}},
                 {"nodeCommandDispatched", false}};
    return reply(Reply::fail(std::move(e)));
  }
  if (auto ok = check_on_node(*s, command); !ok) return reply(Reply::fail(std::move(ok).error()));

  std::optional<Json> forwarded = p.params;
  if (command == "system.run" && forwarded) {
    auto sanitized = sanitize_system_run_params(*forwarded);
    if (!sanitized) return reply(Reply::fail(std::move(sanitized).error()));
    forwarded = std::move(sanitized).value();
  }
  // The schema keeps timeoutMs within [0, int64]; the registry caps it.
  const int64_t timeout_ms = p.timeout_ms.value_or(NodeRegistry::kDefaultTimeoutMs);

  auto done = [node_id, command, reply](const InvokeOutcome& o) {
    InvokeAnswer a = invoke_answer(node_id, command, o);
    reply(a.ok ? Reply::ok(std::move(a.payload)) : Reply::fail(std::move(a.error)));
  };
  auto d = registry_.begin_invoke(node_id, command, forwarded, timeout_ms,
                                  trimmed(p.idempotency_key), new_id_(), std::move(done));
  if (!d) return reply(Reply::fail(std::move(d).error()));
  const std::string id = d.value().id;
  registry_.dispatched(id, sink_.send_to(d.value().conn, "node.invoke.request", d.value().request));
  arm_timer();
}

Json NodeService::normalize_invoke_result(Json params) {
  if (!params.is_object()) return params;
  if (auto p = params.find("payloadJSON"); p != params.end()) {
    if (p->is_null()) {
      params.erase(p);
    } else if (!p->is_string()) {
      if (!params.contains("payload")) params["payload"] = *p;
      params.erase("payloadJSON");
    }
  }
  if (auto e = params.find("error"); e != params.end() && e->is_null()) params.erase(e);
  return params;
}

Reply NodeService::invoke_result(const NodeCaller& c, const schema::params::NodeInvokeResult& p) {
  if (!c.device_id.empty() && c.device_id != p.node_id) return invalid("nodeId mismatch");
  const bool settled = registry_.settle(c.conn, p.id, p.node_id, p.ok, p.payload.value_or(Json()),
                                        p.payload_json, p.error.value_or(Json()));
  if (!settled) {
    log_.debug("nodes", "late invoke result ignored: id=" + log_value(p.id, 80));
    return Reply::ok({{"ok", true}, {"ignored", true}});
  }
  arm_timer();
  return Reply::ok({{"ok", true}});
}

Reply NodeService::event(const NodeCaller& c, const schema::params::NodeEvent& p) {
  std::optional<std::string> payload_json = p.payload_json;
  if (!payload_json && p.payload) payload_json = dump_json(*p.payload);
  const Json r = registry_.handle_event(c.conn, p.event, payload_json);
  if (r["handled"] == true) {
    if (const NodeSession* s = registry_.by_conn(c.conn))
      sink_.broadcast("node.hostStats", {{"nodeId", s->node_id}, {"hostStats", s->host_stats}});
  }
  return Reply::ok(r);
}

// ---- timeouts ----

void NodeService::expire_invokes() {
  registry_.expire();
  arm_timer();
}

void NodeService::arm_timer() {
  const auto next = registry_.next_deadline();
  if (next == armed_for_) return;
  armed_for_ = next;
  if (!next) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, *next - clock_.steady_ms())));
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    const auto a = alive.lock();
    if (ec || !a || !*a) return;
    armed_for_.reset();
    expire_invokes();
  });
}

}  // namespace clawgate::core
