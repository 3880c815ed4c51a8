// Node command-surface pairing: see node_pairing.hpp.
#include "core/node_pairing.hpp"

#include <algorithm>
#include <set>

#include "core/record_fields.hpp"
#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {

using records::cut;
using records::put_text;
using records::put_time;

using P = NodePairing;

std::string trimmed(const std::string& s) {
  return std::string(utf8::trim(s));
}

bool has(const Strings& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

Strings intersect(const Strings& declared, const Strings& approved) {
  Strings out;
  for (const auto& c : normalize_surface_list(declared))
    if (has(approved, c)) out.push_back(c);
  return out;
}

// normalizePermissionMap: empty is absent.
std::optional<Permissions> normalized(const std::optional<Permissions>& p) {
  if (!p || p->empty()) return std::nullopt;
  return p;
}

bool permission_upgrade(const std::optional<Permissions>& approved,
                        const std::optional<Permissions>& declared) {
  if (!declared) return false;
  for (const auto& [key, value] : *declared) {
    if (!value) continue;
    if (!approved) return true;
    auto it = approved->find(key);
    if (it == approved->end() || !it->second) return true;
  }
  return false;
}

// intersectNodePermissionSurface: a declared false stays false; a declared true keeps the
// approved value; a permission never approved is left out.
std::optional<Permissions> intersect_permissions(const std::optional<Permissions>& approved,
                                                 const std::optional<Permissions>& declared) {
  Permissions out;
  if (declared)
    for (const auto& [key, value] : *declared) {
      if (!value) {
        out[key] = false;
      } else if (approved) {
        if (auto it = approved->find(key); it != approved->end()) out[key] = it->second;
      }
    }
  return normalized(out);
}

bool same_set(const Strings& a, const Strings& b) {
  const auto na = normalize_surface_list(a), nb = normalize_surface_list(b);
  return std::set<std::string>(na.begin(), na.end()) == std::set<std::string>(nb.begin(), nb.end());
}

bool same_permissions(const std::optional<Permissions>& a, const std::optional<Permissions>& b) {
  return a.value_or(Permissions{}) == b.value_or(Permissions{});
}

Json permissions_json(const Permissions& p) {
  Json j = Json::object();
  for (const auto& [k, v] : p) j[k] = v;
  return j;
}

// Reads records back, every field type- and bound-checked; the first problem is kept.
struct Reader {
  const Json& j;
  std::string problem;

  void fail(const std::string& why) {
    if (problem.empty()) problem = why;
  }
  std::string text(const char* key, size_t max) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "";
    if (!it->is_string()) {
      fail(std::string(key) + " is not a string");
      return "";
    }
    return cut(it->get<std::string>(), max);
  }
  std::optional<int64_t> time(const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
      fail(std::string(key) + " is not an integer");
      return std::nullopt;
    }
    return it->get<int64_t>();
  }
  Strings list(const char* key, size_t max_items) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_array()) {
      fail(std::string(key) + " is not a list");
      return {};
    }
    Strings out;
    for (const auto& e : *it)
      if (e.is_string()) out.push_back(e.get<std::string>());
    return bounded_list(out, max_items);
  }
  std::optional<Permissions> permissions() {
    auto it = j.find("permissions");
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_object()) {
      fail("permissions is not an object");
      return std::nullopt;
    }
    Permissions p;
    for (auto e = it->begin(); e != it->end(); ++e)
      if (e.value().is_boolean()) p[e.key()] = e.value().get<bool>();
    return bounded_permissions(p);
  }
};

}  // namespace

Strings bounded_list(const Strings& items, size_t max_items) {
  Strings out;
  for (auto& s : normalize_surface_list(items)) {
    if (out.size() >= max_items) break;
    if (s.size() <= P::kMaxItemBytes && utf8::valid(s)) out.push_back(std::move(s));
  }
  return out;
}

std::optional<Permissions> bounded_permissions(const std::optional<Permissions>& p) {
  if (!p) return std::nullopt;
  Permissions out;
  for (const auto& [k, v] : *p) {
    if (out.size() >= P::kMaxPermissions) break;
    if (!k.empty() && k.size() <= P::kMaxItemBytes && utf8::valid(k)) out[k] = v;
  }
  return out;
}

Json surface_json(const NodeSurface& s) {
  Json j = Json::object();
  put_text(j, "displayName", s.display_name);
  put_text(j, "version", s.version);
  put_text(j, "coreVersion", s.core_version);
  put_text(j, "uiVersion", s.ui_version);
  put_text(j, "modelIdentifier", s.model_identifier);
  j["caps"] = s.caps;
  j["commands"] = s.commands;
  if (s.permissions) j["permissions"] = permissions_json(*s.permissions);
  j["createdAtMs"] = s.created_at_ms;
  j["approvedAtMs"] = s.approved_at_ms;
  put_time(j, "lastConnectedAtMs", s.last_connected_at_ms);
  put_time(j, "lastDisconnectedAtMs", s.last_disconnected_at_ms);
  if (!s.last_host_stats.is_null()) j["lastHostStats"] = s.last_host_stats;
  return j;
}

Json pending_surface_json(const PendingNodeSurface& p) {
  Json j = Json::object();
  j["requestId"] = p.request_id;
  put_text(j, "revision", p.revision);
  put_text(j, "clientId", p.client_id);
  put_text(j, "clientMode", p.client_mode);
  put_text(j, "displayName", p.display_name);
  put_text(j, "platform", p.platform);
  put_text(j, "version", p.version);
  put_text(j, "coreVersion", p.core_version);
  put_text(j, "uiVersion", p.ui_version);
  put_text(j, "deviceFamily", p.device_family);
  put_text(j, "modelIdentifier", p.model_identifier);
  j["caps"] = p.caps;
  j["commands"] = p.commands;
  if (p.permissions) j["permissions"] = permissions_json(*p.permissions);
  put_text(j, "remoteIp", p.remote_ip);
  if (p.silent) j["silent"] = true;
  j["ts"] = p.ts;
  return j;
}

std::optional<NodeSurface> surface_from_json(const Json& j, std::string* problem) {
  if (!j.is_object()) {
    if (problem) *problem = "nodeSurface is not an object";
    return std::nullopt;
  }
  Reader r{j, ""};
  NodeSurface s;
  s.display_name = r.text("displayName", P::kMaxTextBytes);
  s.version = r.text("version", P::kMaxShortBytes);
  s.core_version = r.text("coreVersion", P::kMaxShortBytes);
  s.ui_version = r.text("uiVersion", P::kMaxShortBytes);
  s.model_identifier = r.text("modelIdentifier", P::kMaxShortBytes);
  s.caps = r.list("caps", P::kMaxCaps);
  s.commands = r.list("commands", P::kMaxCommands);
  s.permissions = r.permissions();
  s.created_at_ms = r.time("createdAtMs").value_or(0);
  s.approved_at_ms = r.time("approvedAtMs").value_or(0);
  s.last_connected_at_ms = r.time("lastConnectedAtMs");
  s.last_disconnected_at_ms = r.time("lastDisconnectedAtMs");
  if (auto it = j.find("lastHostStats");
      it != j.end() && it->is_object() && dump_json(*it).size() <= P::kMaxHostStatsBytes)
    s.last_host_stats = *it;
  if (!r.problem.empty()) {
    if (problem) *problem = "nodeSurface: " + r.problem;
    return std::nullopt;
  }
  return s;
}

std::optional<PendingNodeSurface> pending_surface_from_json(const Json& j, std::string* problem) {
  if (!j.is_object()) {
    if (problem) *problem = "pendingNodeSurface is not an object";
    return std::nullopt;
  }
  Reader r{j, ""};
  PendingNodeSurface p;
  p.request_id = r.text("requestId", P::kMaxShortBytes);
  if (p.request_id.empty()) r.fail("requestId missing");
  p.revision = r.text("revision", P::kMaxShortBytes);
  p.client_id = r.text("clientId", P::kMaxShortBytes);
  p.client_mode = r.text("clientMode", P::kMaxShortBytes);
  p.display_name = r.text("displayName", P::kMaxTextBytes);
  p.platform = r.text("platform", P::kMaxShortBytes);
  p.version = r.text("version", P::kMaxShortBytes);
  p.core_version = r.text("coreVersion", P::kMaxShortBytes);
  p.ui_version = r.text("uiVersion", P::kMaxShortBytes);
  p.device_family = r.text("deviceFamily", P::kMaxShortBytes);
  p.model_identifier = r.text("modelIdentifier", P::kMaxShortBytes);
  p.caps = r.list("caps", P::kMaxCaps);
  p.commands = r.list("commands", P::kMaxCommands);
  p.permissions = r.permissions();
  p.remote_ip = r.text("remoteIp", P::kMaxShortBytes);
  if (auto it = j.find("silent"); it != j.end() && it->is_boolean()) p.silent = it->get<bool>();
  p.ts = r.time("ts").value_or(0);
  if (!r.problem.empty()) {
    if (problem) *problem = "pendingNodeSurface: " + r.problem;
    return std::nullopt;
  }
  return p;
}

Json SurfaceResolved::json() const {
  return {{"requestId", request_id}, {"nodeId", node_id}, {"decision", decision}, {"ts", ts}};
}

NodePairing::NodePairing(NodeSurfaceStore& store, const Clock& clock, IdSource new_id)
    : store_(store), clock_(clock), new_id_(std::move(new_id)) {}

Json NodePairing::public_pending(const NodeDevice& d, const PendingNodeSurface& p) {
  const auto pick = [](const std::string& a, const std::string& b) { return a.empty() ? b : a; };
  Json j = Json::object();
  j["requestId"] = p.request_id;
  j["nodeId"] = d.device_id;
  put_text(j, "clientId", pick(p.client_id, d.client_id));
  put_text(j, "clientMode", pick(p.client_mode, d.client_mode));
  put_text(j, "displayName", pick(p.display_name, d.display_name));
  put_text(j, "platform", pick(p.platform, d.platform));
  put_text(j, "version", p.version);
  put_text(j, "coreVersion", p.core_version);
  put_text(j, "uiVersion", p.ui_version);
  put_text(j, "deviceFamily", pick(p.device_family, d.device_family));
  put_text(j, "modelIdentifier", p.model_identifier);
  j["caps"] = p.caps;
  j["commands"] = p.commands;
  j["requiredApproveScopes"] = approve_scopes(p.commands);
  if (p.permissions) j["permissions"] = permissions_json(*p.permissions);
  put_text(j, "remoteIp", pick(p.remote_ip, d.remote_ip));
  if (p.silent) j["silent"] = true;
  j["ts"] = p.ts;
  return j;
}

std::optional<Json> NodePairing::paired_node(const NodeDevice& d) {
  if (!d.surface) return std::nullopt;
  const NodeSurface& s = *d.surface;
  Json j = Json::object();
  j["nodeId"] = d.device_id;
  put_text(j, "clientId", d.client_id);
  put_text(j, "clientMode", d.client_mode);
  put_text(j, "displayName", s.display_name.empty() ? d.display_name : s.display_name);
  put_text(j, "platform", d.platform);
  put_text(j, "version", s.version);
  put_text(j, "coreVersion", s.core_version);
  put_text(j, "uiVersion", s.ui_version);
  put_text(j, "deviceFamily", d.device_family);
  put_text(j, "modelIdentifier", s.model_identifier);
  j["caps"] = s.caps;
  j["commands"] = s.commands;
  if (s.permissions) j["permissions"] = permissions_json(*s.permissions);
  put_text(j, "remoteIp", d.remote_ip);
  j["createdAtMs"] = s.created_at_ms;
  j["approvedAtMs"] = s.approved_at_ms;
  put_time(j, "lastConnectedAtMs", s.last_connected_at_ms);
  put_time(j, "lastDisconnectedAtMs", s.last_disconnected_at_ms);
  if (!s.last_host_stats.is_null()) j["lastHostStats"] = s.last_host_stats;
  put_time(j, "lastSeenAtMs", d.last_seen_at_ms);
  put_text(j, "lastSeenReason", d.last_seen_reason);
  return j;
}

NodePairing::Requested NodePairing::request(const NodeDevice& device, const NodeDeclaration& d,
                                            const Strings& caps, const Strings& commands,
                                            const std::optional<Permissions>& permissions,
                                            bool silent) {
  // buildNodePairingRequestInput: the client's metadata, not its id or mode (the device
  // record's are shown instead).
  PendingNodeSurface in;
  in.display_name = cut(d.display_name, kMaxTextBytes);
  in.platform = cut(d.platform, kMaxShortBytes);
  in.version = cut(d.version, kMaxShortBytes);
  in.device_family = cut(d.device_family, kMaxShortBytes);
  in.model_identifier = cut(d.model_identifier, kMaxShortBytes);
  in.remote_ip = cut(d.remote_ip, kMaxShortBytes);
  in.caps = caps;
  in.commands = commands;
  in.permissions = permissions;
  in.silent = silent;

  const auto& existing = device.pending;
  const auto incoming_permissions = permissions ? permissions
                                    : existing  ? existing->permissions
                                                : std::nullopt;
  if (existing && same_set(existing->caps, caps) && same_set(existing->commands, commands) &&
      same_permissions(existing->permissions, incoming_permissions)) {
    const auto or_old = [](const std::string& a, const std::string& b) {
      return a.empty() ? b : a;
    };
    PendingNodeSurface next = *existing;
    next.display_name = or_old(in.display_name, existing->display_name);
    next.platform = or_old(in.platform, existing->platform);
    next.version = or_old(in.version, existing->version);
    next.device_family = or_old(in.device_family, existing->device_family);
    next.model_identifier = or_old(in.model_identifier, existing->model_identifier);
    next.remote_ip = or_old(in.remote_ip, existing->remote_ip);
    next.caps = caps;
    next.commands = commands;
    next.permissions = incoming_permissions;
    next.silent = existing->silent && silent;
    const bool same_metadata =
        next.display_name == existing->display_name && next.platform == existing->platform &&
        next.version == existing->version && next.device_family == existing->device_family &&
        next.model_identifier == existing->model_identifier &&
        next.remote_ip == existing->remote_ip && next.silent == existing->silent;
    if (same_metadata) return {*existing, false, std::nullopt};  // an unchanged reconnect
    next.revision = new_id_();
    next.ts = clock_.wall_ms();
    store_.save_surfaces(device.device_id, device.surface, next);
    return {next, false, std::nullopt};
  }
  in.request_id = new_id_();
  in.revision = new_id_();
  in.ts = clock_.wall_ms();
  store_.save_surfaces(device.device_id, device.surface, in);
  std::optional<std::string> superseded;
  if (existing) superseded = existing->request_id;
  return {in, true, superseded};
}

Result<SurfaceReconcile> NodePairing::reconcile(const NodeDeclaration& d,
                                                const NodeCommandConfig& cfg) {
  const auto device = store_.device(d.node_id);
  if (!device) return Error::unavailable("node pairing requires a paired device");
  const Strings connect_caps = bounded_list(d.caps, kMaxCaps);
  const Strings connect_commands = bounded_list(d.commands, kMaxCommands);
  const CommandSet allowlist = pairing_command_allowlist(
      cfg, PolicyNode{d.platform, d.device_family, connect_caps, connect_commands, std::nullopt});

  SurfaceReconcile r;
  r.declared_commands = normalize_declared_commands(connect_commands, allowlist);
  for (const auto& c : connect_commands)
    if (!has(r.declared_commands, c)) r.withheld_commands.push_back(c);
  r.declared_caps = retain_fulfilled_caps(connect_caps, r.declared_commands, r.withheld_commands);
  r.declared_permissions = normalized(bounded_permissions(d.permissions));
  const int64_t now = clock_.wall_ms();

  const auto note = [&](const Requested& q) {
    r.pending_request_id = q.pending.request_id;
    if (q.created) r.requested = public_pending(*device, q.pending);
    if (q.created && q.superseded)
      r.resolved.push_back({*q.superseded, d.node_id, "rejected", now});
  };
  if (!device->surface) {
    note(request(*device, d, r.declared_caps, r.declared_commands, r.declared_permissions,
                 device->approved_silently));
    return r;  // nothing is effective before the first approval
  }
  const NodeSurface& approved = *device->surface;
  const Strings approved_commands = normalize_declared_commands(approved.commands, allowlist);
  const Strings approved_caps = normalize_surface_list(approved.caps);
  const auto approved_permissions = normalized(approved.permissions);
  const bool permissions_wider = permission_upgrade(approved_permissions, r.declared_permissions);
  const bool wider = permissions_wider ||
                     std::any_of(r.declared_commands.begin(), r.declared_commands.end(),
                                 [&](const auto& c) { return !has(approved_commands, c); }) ||
                     std::any_of(r.declared_caps.begin(), r.declared_caps.end(),
                                 [&](const auto& c) { return !has(approved_caps, c); });
  if (wider) {
    r.effective_caps = intersect(r.declared_caps, approved_caps);
    r.effective_commands = intersect(r.declared_commands, approved_commands);
    r.effective_permissions = intersect_permissions(approved_permissions, r.declared_permissions);
    auto permissions = r.declared_permissions;
    if (!permissions && permissions_wider) permissions = Permissions{};
    note(request(*device, d, r.declared_caps, r.declared_commands, permissions, false));
    return r;
  }
  r.effective_caps = r.declared_caps;
  r.effective_commands = r.declared_commands;
  r.effective_permissions = r.declared_permissions;
  if (device->pending) {  // the declaration is within the approval: the request is moot
    store_.save_surfaces(d.node_id, device->surface, std::nullopt);
    r.resolved.push_back({device->pending->request_id, d.node_id, "rejected", now});
  }
  return r;
}

std::optional<NodeDevice> NodePairing::owner_of(const std::string& request_id) const {
  for (auto& d : store_.devices())
    if (d.pending && d.pending->request_id == request_id) return std::move(d);
  return std::nullopt;
}

std::optional<std::string> NodePairing::request_owner(const std::string& request_id) const {
  if (auto d = owner_of(request_id)) return d->device_id;
  return std::nullopt;
}

namespace {
// Operator scope coverage for surface approval: operator.admin covers every operator scope,
// operator.write covers operator.read; anything else must be granted as such.
bool covered(const std::string& scope, const Strings& granted) {
  if (has(granted, scope) || has(granted, "operator.admin")) return true;
  return scope == "operator.read" && has(granted, "operator.write");
}
}  // namespace

SurfaceApproval NodePairing::approve(const std::string& request_id, const Strings& caller_scopes) {
  SurfaceApproval out;
  auto device = owner_of(request_id);
  if (!device) return out;
  const PendingNodeSurface pending = *device->pending;
  out.node_id = device->device_id;
  for (const auto& scope : approve_scopes(pending.commands))
    if (!covered(scope, caller_scopes)) {
      out.status = SurfaceApproval::forbidden;
      out.missing_scope = scope;
      return out;
    }
  const std::optional<NodeSurface>& before = device->surface;
  // Approval times strictly increase, so a later approval is always told apart.
  const int64_t now = std::max(clock_.wall_ms(), before ? before->approved_at_ms + 1 : 0);
  NodeSurface s;
  s.display_name =
      before && !before->display_name.empty() ? before->display_name : pending.display_name;
  s.version = pending.version;
  s.core_version = pending.core_version;
  s.ui_version = pending.ui_version;
  s.model_identifier = pending.model_identifier;
  s.caps = pending.caps;
  s.commands = pending.commands;
  s.permissions = pending.permissions;
  s.created_at_ms = before ? before->created_at_ms : now;
  s.approved_at_ms = now;
  if (before) {
    s.last_connected_at_ms = before->last_connected_at_ms;
    s.last_host_stats = before->last_host_stats;
  }
  if (!store_.save_surfaces(device->device_id, s, std::nullopt)) return out;
  device->surface = s;
  device->pending.reset();
  out.status = SurfaceApproval::approved;
  out.surface = s;
  out.node = *paired_node(*device);
  return out;
}

std::optional<SurfaceResolved> NodePairing::reject(const std::string& request_id) {
  auto device = owner_of(request_id);
  if (!device || !store_.save_surfaces(device->device_id, device->surface, std::nullopt))
    return std::nullopt;
  return SurfaceResolved{request_id, device->device_id, "rejected", clock_.wall_ms()};
}

std::optional<Json> NodePairing::rename(const std::string& node_id, const std::string& name) {
  const std::string display_name = cut(trimmed(name), kMaxTextBytes);
  auto device = store_.device(node_id);
  if (display_name.empty() || !device || !device->surface) return std::nullopt;
  device->surface->display_name = display_name;
  if (!store_.save_surfaces(node_id, device->surface, device->pending)) return std::nullopt;
  return paired_node(*device);
}

Json NodePairing::list() const {
  std::vector<std::pair<int64_t, Json>> pending, paired;
  for (const auto& d : store_.devices()) {
    if (d.pending) pending.emplace_back(d.pending->ts, public_pending(d, *d.pending));
    if (auto node = paired_node(d)) paired.emplace_back(d.surface->approved_at_ms, *node);
  }
  const auto newest_first = [](const auto& a, const auto& b) { return a.first > b.first; };
  std::stable_sort(pending.begin(), pending.end(), newest_first);
  std::stable_sort(paired.begin(), paired.end(), newest_first);
  Json out = {{"pending", Json::array()}, {"paired", Json::array()}};
  for (auto& [ts, j] : pending) out["pending"].push_back(std::move(j));
  for (auto& [ts, j] : paired) out["paired"].push_back(std::move(j));
  return out;
}

void NodePairing::record_connection(const std::string& node_id, int64_t at_ms) {
  auto device = store_.device(node_id);
  if (!device || !device->surface) return;
  NodeSurface& s = *device->surface;
  s.last_connected_at_ms = std::max(s.last_connected_at_ms.value_or(at_ms), at_ms);
  if (s.last_disconnected_at_ms && at_ms > *s.last_disconnected_at_ms)
    s.last_disconnected_at_ms.reset();
  store_.save_surfaces(node_id, device->surface, device->pending);
}

void NodePairing::record_disconnection(const std::string& node_id, int64_t connected_at_ms,
                                       int64_t at_ms, const Json& host_stats) {
  auto device = store_.device(node_id);
  if (!device || !device->surface) return;
  NodeSurface& s = *device->surface;
  // Only the connection that was recorded last: an older socket closing late says nothing.
  if (s.last_connected_at_ms != connected_at_ms || at_ms < connected_at_ms) return;
  s.last_disconnected_at_ms = std::max(s.last_disconnected_at_ms.value_or(at_ms), at_ms);
  if (host_stats.is_object() && dump_json(host_stats).size() <= kMaxHostStatsBytes)
    s.last_host_stats = host_stats;
  store_.save_surfaces(node_id, device->surface, device->pending);
}

}  // namespace clawgate::core
