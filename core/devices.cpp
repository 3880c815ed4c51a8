// DeviceStore: see devices.hpp. Each mutation builds the next state aside, writes it, and only
// then replaces the state in memory, so a refused write leaves memory and disk agreeing.
#include "core/devices.hpp"

#include <algorithm>
#include <cstdio>

#include "core/device_records.hpp"
#include "core/record_fields.hpp"
#include "crypto.hpp"
#include "fs.hpp"
#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {

using namespace records;

bool has(const Scopes& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string log_key(const std::string& key) {
  return utf8::truncate_bytes(utf8::repair(key), 80, "…");
}

Scopes requested_roles(const PendingDevice& p) {
  const Scopes role{p.role};
  return merge_unique({&p.roles, &role});
}

// A new bearer for `role`, keeping the lifecycle fields an existing token had
// (createDeviceAuthToken).
DeviceToken mint(const std::string& role, Scopes scopes, const DeviceToken* existing, int64_t now,
                 bool rotated) {
  DeviceToken t;
  t.token = random_token();
  t.role = role;
  t.scopes = std::move(scopes);
  t.created_at_ms = existing ? existing->created_at_ms : now;
  if (rotated) t.rotated_at_ms = now;
  if (existing) t.last_used_at_ms = existing->last_used_at_ms;
  return t;
}

// resolveApprovedTokenScopes: what the token of `role` holds after approving `pending`.
Scopes approved_token_scopes(const std::string& role, const PendingDevice& pending,
                             const DeviceToken* existing_token, const PairedDevice* existing,
                             const Scopes& approved_scopes) {
  const Scopes pending_scopes = role_token_scopes(role, pending.scopes);
  if (!pending_scopes.empty()) {
    const Scopes baseline =
        role_token_scopes(role, existing ? existing->approved_scopes : Scopes{});
    Scopes delta;
    if (existing_token && !baseline.empty()) {
      for (const auto& s : pending_scopes)
        if (!has(baseline, s)) delta.push_back(s);
    } else {
      delta = pending_scopes;
    }
    if (delta.empty() && existing_token) return role_token_scopes(role, existing_token->scopes);
    const Scopes* old = existing_token ? &existing_token->scopes : nullptr;
    return role_token_scopes(role, merge_unique({old, &delta}));
  }
  if (existing_token) return role_token_scopes(role, existing_token->scopes);
  return role_token_scopes(role, approved_scopes);
}

// mergeApprovalKind: an owner approval sticks; a silent one does not downgrade it.
std::string merge_approval_kind(const PairedDevice* existing, const std::string& incoming) {
  if (incoming == "owner" || !existing) return incoming;
  if (existing->approved_via.empty()) return "";
  if (existing->approved_via == "owner" || existing->approved_via == "bootstrap")
    return existing->approved_via;
  return incoming;
}

bool within_baseline(const std::string& role, const Scopes& scopes, const PairedDevice& d) {
  return role_scopes_allow(role, scopes, normalize_device_scopes(d.approved_scopes));
}

// The single request `existing` can stand for `incoming` (samePendingApprovalSnapshot, or
// incomingApprovalCoveredByExisting).
bool refreshable(const PendingDevice& existing, const PendingDevice& incoming) {
  if (existing.public_key != incoming.public_key ||
      existing.browser_origin != incoming.browser_origin || existing.role != incoming.role)
    return false;
  const Scopes in_roles = requested_roles(incoming);
  const Scopes ex_roles = requested_roles(existing);
  const Scopes in_scopes = normalize_device_scopes(incoming.scopes);
  const Scopes ex_scopes = normalize_device_scopes(existing.scopes);
  if (same_set(in_roles, ex_roles) && same_set(in_scopes, ex_scopes)) return true;
  for (const auto& r : in_roles)
    if (!has(ex_roles, r)) return false;
  for (const auto& s : in_scopes) {
    const bool covered = std::any_of(in_roles.begin(), in_roles.end(), [&](const std::string& r) {
      return role_scopes_allow(r, {s}, ex_scopes);
    });
    if (!covered) return false;
  }
  return true;
}

}  // namespace

Scopes approved_roles(const PairedDevice& d) {
  const Scopes role{d.role};
  return merge_unique({&d.roles, &role});
}

Scopes effective_roles(const PairedDevice& d) {
  const Scopes approved = approved_roles(d);
  Scopes out;
  for (const auto& [role, tok] : d.tokens)
    if (!tok.revoked_at_ms && has(approved, role) && !has(out, role)) out.push_back(role);
  return out;
}

DeviceStore::DeviceStore(std::string dir, const Clock& clock)
    : dir_(std::move(dir)), clock_(clock) {}

std::vector<std::string> DeviceStore::load_file(const std::string& name, bool pending) {
  std::vector<std::string> problems;
  const std::string path = dir_ + "/" + name;
  std::optional<std::string> text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    return {path + ": unreadable (" + e.what() + "); starting without it"};
  }
  if (!text) return problems;
  Json doc = text->size() <= kMaxFileBytes ? Json::parse(*text, nullptr, false) : Json();
  if (!doc.is_object()) {
    const std::string aside = path + ".damaged-" + std::to_string(clock_.wall_ms());
    const bool moved = std::rename(path.c_str(), aside.c_str()) == 0;
    problems.push_back(path + ": damaged (" +
                       (text->size() > kMaxFileBytes ? "too large" : "not a JSON object") + "); " +
                       (moved ? "set aside as " + aside : "could not be set aside") +
                       ", starting without it");
    return problems;
  }
  for (const auto& [key, value] : doc.items()) {
    std::string why;
    if (pending) {
      std::optional<PendingDevice> p = read_pending(value, why);
      if (p && p->request_id != key) why = "requestId differs from its key";
      if (!why.empty() || pending_.size() >= kMaxPending) {
        problems.push_back(path + ": skipped request " + log_key(key) + ": " +
                           (why.empty() ? "too many" : why));
        continue;
      }
      pending_.emplace(key, std::move(*p));
    } else {
      std::optional<PairedDevice> d = read_paired(value, why);
      if (d && d->device_id != key) why = "deviceId differs from its key";
      if (!why.empty() || paired_.size() >= kMaxPaired) {
        problems.push_back(path + ": skipped device " + log_key(key) + ": " +
                           (why.empty() ? "too many" : why));
        continue;
      }
      paired_.emplace(key, std::move(*d));
    }
  }
  return problems;
}

std::vector<std::string> DeviceStore::load() {
  pending_.clear();
  paired_.clear();
  paired_dirty_ = false;
  std::vector<std::string> problems = load_file("paired.json", false);
  for (auto& p : load_file("pending.json", true)) problems.push_back(std::move(p));
  return problems;
}

void DeviceStore::write_pending(const PendingMap& m) {
  Json j = Json::object();
  for (const auto& [id, p] : m) j[id] = pending_json(p, true);
  make_dirs(dir_);
  atomic_write_file(dir_ + "/pending.json", dump_json(j, 2) + "\n", 0600);
}

void DeviceStore::write_paired(const PairedMap& m) {
  Json j = Json::object();
  for (const auto& [id, d] : m) j[id] = paired_json(d);
  make_dirs(dir_);
  atomic_write_file(dir_ + "/paired.json", dump_json(j, 2) + "\n", 0600);
}

void DeviceStore::prune() {
  const int64_t now = clock_.wall_ms();
  for (auto it = pending_.begin(); it != pending_.end();) {
    const int64_t from = it->second.refreshed_at_ms.value_or(it->second.ts);
    if (now - from > kPairingPendingTtlMs)
      it = pending_.erase(it);
    else
      ++it;
  }
  // Expired requests leave the file at the next write; they are invisible until then.
}

Result<DevicePairingRequested> DeviceStore::request(const DevicePairingRequest& req) {
  const std::string device_id(utf8::trim(req.device_id));
  if (device_id.empty() || device_id.size() > kMaxIdBytes)
    return Error::invalid("deviceId required");
  if (req.public_key.empty() || req.public_key.size() > kMaxKeyBytes)
    return Error::invalid("device public key invalid");
  if (req.scopes.size() > kMaxScopes)
    return Error::invalid("too many scopes (at most " + std::to_string(kMaxScopes) + ")");
  for (const auto& s : req.scopes)
    if (s.size() > kMaxScopeBytes) return Error::invalid("scope too long");
  const std::string role(utf8::trim(req.role));
  if (role.empty() || role.size() > kMaxRoleBytes) return Error::invalid("invalid role");
  for (const auto* f : {&req.platform, &req.device_family})
    if (f->size() > kMaxTextBytes)
      return Error::invalid("client platform or deviceFamily too long");
  if (req.browser_origin.size() > kMaxOriginBytes) return Error::invalid("origin too long");
  if (req.client_id.size() > kMaxClientBytes || req.client_mode.size() > kMaxClientBytes)
    return Error::invalid("client id or mode too long");

  prune();
  const int64_t now = clock_.wall_ms();
  PendingDevice incoming;
  incoming.device_id = device_id;
  incoming.public_key = req.public_key;
  incoming.display_name = cut(req.display_name, kMaxTextBytes);
  incoming.platform = req.platform;
  incoming.device_family = req.device_family;
  incoming.client_id = req.client_id;
  incoming.client_mode = req.client_mode;
  incoming.browser_origin = req.browser_origin;
  incoming.role = role;
  incoming.roles = {role};
  incoming.scopes = merge_unique({&req.scopes, nullptr});
  incoming.remote_ip = cut(req.remote_ip, kMaxIpBytes);
  incoming.silent = req.silent;
  const bool is_repair = paired_.count(device_id) > 0;

  std::vector<const PendingDevice*> existing;
  for (const auto& [_, p] : pending_)
    if (p.device_id == device_id) existing.push_back(&p);
  std::sort(existing.begin(), existing.end(),
            [](const PendingDevice* a, const PendingDevice* b) { return a->ts > b->ts; });

  PendingMap next = pending_;
  DevicePairingRequested out;
  if (existing.size() == 1 && refreshable(*existing[0], incoming)) {
    PendingDevice r = *existing[0];
    auto keep = [](std::string& field, const std::string& in) {
      if (!in.empty()) field = in;
    };
    keep(r.display_name, incoming.display_name);
    keep(r.platform, incoming.platform);
    keep(r.device_family, incoming.device_family);
    keep(r.client_id, incoming.client_id);
    keep(r.client_mode, incoming.client_mode);
    keep(r.remote_ip, incoming.remote_ip);
    r.silent = r.silent && incoming.silent;
    r.is_repair = r.is_repair || is_repair;
    r.refreshed_at_ms = now;
    next[r.request_id] = r;
    out.request = r;
    out.created = false;
  } else {
    if (pending_.size() - existing.size() >= kMaxPending)
      return Error::unavailable("too many pending pairing requests; retry later", true, 60'000);
    PendingDevice r = incoming;
    Scopes roles, scopes;
    bool all_silent = true;
    for (const PendingDevice* e : existing) {
      const Scopes er = requested_roles(*e);
      roles = merge_unique({&roles, &er});
      scopes = merge_unique({&scopes, &e->scopes});
      all_silent = all_silent && e->silent;
      next.erase(e->request_id);
      out.superseded.push_back({e->request_id, e->device_id});
    }
    r.roles = merge_unique({&roles, &incoming.roles});
    r.scopes = merge_unique({&scopes, &incoming.scopes});
    r.silent = incoming.silent && all_silent;
    r.is_repair = is_repair;
    r.request_id = uuid_v4();
    r.ts = now;
    next[r.request_id] = r;
    out.request = r;
    out.created = true;
  }
  write_pending(next);
  pending_ = std::move(next);
  out.expires_at_ms = out.request.refreshed_at_ms.value_or(out.request.ts) + kPairingPendingTtlMs;
  return out;
}

DeviceApproval DeviceStore::approve(const std::string& request_id,
                                    const std::optional<Scopes>& caller_scopes,
                                    const std::string& approved_via,
                                    const std::optional<DeviceAccess>& access) {
  prune();
  DeviceApproval out;
  out.request_id = request_id;
  auto pit = pending_.find(request_id);
  if (pit == pending_.end()) return out;
  const PendingDevice& pending = pit->second;
  auto eit = paired_.find(pending.device_id);
  const PairedDevice* existing = eit != paired_.end() ? &eit->second : nullptr;
  auto forbid = [&](std::string message) {
    out.status = DeviceApproval::forbidden;
    out.message = std::move(message);
    return out;
  };
  if (!existing && paired_.size() >= kMaxPaired)
    return forbid("too many paired devices (remove one first)");

  const Scopes pending_role{pending.role};
  const Scopes roles_asked = requested_roles(pending);
  if (auto s = scope_outside_roles(roles_asked, normalize_device_scopes(pending.scopes)))
    return forbid("invalid scope for requested roles: " + *s);

  const Scopes existing_role = existing ? Scopes{existing->role} : Scopes{};
  const Scopes roles = merge_unique(
      {existing ? &existing->roles : nullptr, &existing_role, &pending.roles, &pending_role});
  const Scopes approved_scopes =
      merge_unique({existing ? &existing->approved_scopes : nullptr, &pending.scopes});
  std::map<std::string, DeviceToken> tokens;
  if (existing) tokens = existing->tokens;

  std::vector<std::pair<std::string, Scopes>> next_scopes;
  for (const auto& role : roles_asked) {
    auto tit = tokens.find(role);
    const DeviceToken* old = tit != tokens.end() ? &tit->second : nullptr;
    Scopes scopes = approved_token_scopes(role, pending, old, existing, approved_scopes);
    if (role == "operator" && !scopes.empty()) {
      const Scopes from_pending = role_token_scopes(role, pending.scopes);
      const Scopes required = merge_unique({&from_pending, &scopes});
      if (!caller_scopes) return forbid("missing scope: " + required.front());
      if (auto missing = missing_scope("operator", required, *caller_scopes))
        return forbid("missing scope: " + *missing);
    }
    next_scopes.emplace_back(role, std::move(scopes));
  }
  const int64_t now = clock_.wall_ms();
  for (auto& [role, scopes] : next_scopes) {
    auto tit = tokens.find(role);
    const DeviceToken* old = tit != tokens.end() ? &tit->second : nullptr;
    DeviceToken t = mint(role, std::move(scopes), old, now, old != nullptr);
    tokens[role] = std::move(t);
  }

  PairedDevice d;
  static_cast<DeviceIdentity&>(d) = pending;  // what the device said, as the request kept it
  if (access && !access->display_name.empty()) d.display_name = access->display_name;
  d.roles = roles;
  d.approved_scopes = approved_scopes;
  d.remote_ip = access && !access->remote_ip.empty() ? access->remote_ip : pending.remote_ip;
  d.tokens = std::move(tokens);
  d.approved_via = merge_approval_kind(existing, approved_via);
  if (existing) {
    d.node_surface = existing->node_surface;
    d.pending_node_surface = existing->pending_node_surface;
    d.operator_label = existing->operator_label;
  }
  d.created_at_ms = existing ? existing->created_at_ms : now;
  d.approved_at_ms = now;
  d.last_seen_at_ms = access && access->last_seen_at_ms ? access->last_seen_at_ms
                      : existing                        ? existing->last_seen_at_ms
                                                        : std::nullopt;
  d.last_seen_reason = access && !access->last_seen_reason.empty() ? access->last_seen_reason
                       : existing                                  ? existing->last_seen_reason
                                                                   : "";

  PendingMap next_pending = pending_;
  next_pending.erase(request_id);
  PairedMap next_paired = paired_;
  next_paired[d.device_id] = d;
  // Paired first: a crash between the writes leaves a request that approves again to the same
  // record, never a request gone with no approval.
  write_paired(next_paired);
  paired_ = std::move(next_paired);
  paired_dirty_ = false;
  write_pending(next_pending);
  pending_ = std::move(next_pending);
  out.status = DeviceApproval::approved;
  out.device = std::move(d);
  return out;
}

std::optional<PendingDevice> DeviceStore::reject(const std::string& request_id) {
  prune();
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return std::nullopt;
  PendingDevice gone = it->second;
  PendingMap next = pending_;
  next.erase(request_id);
  write_pending(next);
  pending_ = std::move(next);
  return gone;
}

bool DeviceStore::remove(const std::string& device_id) {
  const std::string id(utf8::trim(device_id));
  if (id.empty() || !paired_.count(id)) return false;
  PairedMap next_paired = paired_;
  next_paired.erase(id);
  PendingMap next_pending = pending_;
  for (auto it = next_pending.begin(); it != next_pending.end();)
    it = it->second.device_id == id ? next_pending.erase(it) : std::next(it);
  write_paired(next_paired);
  paired_ = std::move(next_paired);
  paired_dirty_ = false;
  if (next_pending.size() != pending_.size()) {
    write_pending(next_pending);
    pending_ = std::move(next_pending);
  }
  return true;
}

bool DeviceStore::set_node_surfaces(const std::string& device_id, Json surface, Json pending) {
  auto it = paired_.find(device_id);
  if (it == paired_.end()) return false;
  PairedMap next = paired_;
  next[device_id].node_surface = std::move(surface);
  next[device_id].pending_node_surface = std::move(pending);
  write_paired(next);
  paired_ = std::move(next);
  paired_dirty_ = false;
  return true;
}

// removePairedDeviceRoleInWorker.
std::optional<bool> DeviceStore::remove_role(const std::string& device_id,
                                             const std::string& role) {
  const std::string id(utf8::trim(device_id));
  auto it = paired_.find(id);
  if (it == paired_.end() || role.empty() || !has(approved_roles(it->second), role))
    return std::nullopt;
  Scopes remaining;
  for (const auto& r : approved_roles(it->second))
    if (r != role) remaining.push_back(r);
  PendingMap next_pending = pending_;
  PairedMap next_paired = paired_;
  if (remaining.empty()) {
    next_paired.erase(id);
    for (auto p = next_pending.begin(); p != next_pending.end();)
      p = p->second.device_id == id ? next_pending.erase(p) : std::next(p);
  } else {
    for (auto p = next_pending.begin(); p != next_pending.end();) {
      PendingDevice& req = p->second;
      Scopes roles = requested_roles(req);
      if (req.device_id != id || !has(roles, role)) {
        ++p;
        continue;
      }
      roles.erase(std::remove(roles.begin(), roles.end(), role), roles.end());
      if (roles.empty()) {
        p = next_pending.erase(p);
        continue;
      }
      Scopes kept;
      for (const auto& r : roles)
        for (auto& sc : role_token_scopes(r, req.scopes)) kept.push_back(sc);
      req.role = roles.front();
      req.roles = roles;
      req.scopes = merge_unique({&kept});
      ++p;
    }
    PairedDevice& d = next_paired[id];
    Scopes kept;
    for (const auto& r : remaining)
      for (auto& sc : role_token_scopes(r, d.approved_scopes)) kept.push_back(sc);
    d.role = remaining.front();
    d.roles = remaining;
    d.approved_scopes = merge_unique({&kept});
    d.tokens.erase(role);
    if (role == "node") {
      d.node_surface = nullptr;
      d.pending_node_surface = nullptr;
    }
  }
  write_paired(next_paired);
  paired_ = std::move(next_paired);
  paired_dirty_ = false;
  if (next_pending.size() != pending_.size() || remaining.size() > 0) {
    write_pending(next_pending);
    pending_ = std::move(next_pending);
  }
  return remaining.empty();
}

bool DeviceStore::rename(const std::string& device_id, const std::string& label) {
  const std::string id(utf8::trim(device_id));
  const std::string l(utf8::trim(label));
  auto it = paired_.find(id);
  if (l.empty() || it == paired_.end()) return false;
  PairedMap next = paired_;
  next[id].operator_label = cut(l, kMaxLabelBytes);
  write_paired(next);
  paired_ = std::move(next);
  paired_dirty_ = false;
  return true;
}

void DeviceStore::touch(const std::string& device_id, const DeviceAccess& access) {
  auto it = paired_.find(device_id);
  if (it == paired_.end()) return;
  PairedDevice& d = it->second;
  if (!access.display_name.empty()) d.display_name = cut(access.display_name, kMaxTextBytes);
  if (!access.remote_ip.empty()) d.remote_ip = cut(access.remote_ip, kMaxIpBytes);
  if (access.last_seen_at_ms) d.last_seen_at_ms = access.last_seen_at_ms;
  if (!access.last_seen_reason.empty())
    d.last_seen_reason = cut(access.last_seen_reason, kMaxReasonBytes);
  if (!access.platform.empty() && access.platform.size() <= kMaxTextBytes)
    d.platform = access.platform;
  paired_dirty_ = true;
}

DeviceTokenCheck DeviceStore::verify_token(const std::string& device_id, const std::string& token,
                                           const std::string& role, const Scopes& scopes) {
  auto it = paired_.find(std::string(utf8::trim(device_id)));
  if (it == paired_.end()) return {false, "device-not-paired"};
  PairedDevice& d = it->second;
  const std::string r(utf8::trim(role));
  if (r.empty()) return {false, "role-missing"};
  auto tit = d.tokens.find(r);
  if (tit == d.tokens.end()) return {false, "token-missing"};
  DeviceToken& entry = tit->second;
  if (entry.revoked_at_ms) return {false, "token-revoked"};
  // Both compares always run: the time taken does not say whether the stored one is blank.
  const bool equal = secrets_equal(token, entry.token);
  if (utf8::trim(token).empty() || utf8::trim(entry.token).empty() || !equal)
    return {false, "token-mismatch"};
  if (!within_baseline(r, entry.scopes, d)) return {false, "scope-mismatch"};
  if (!role_scopes_allow(r, normalize_device_scopes(scopes), entry.scopes))
    return {false, "scope-mismatch"};
  const int64_t now = clock_.wall_ms();
  entry.last_used_at_ms = now;
  d.last_seen_at_ms = now;
  d.last_seen_reason = "device-token-auth";
  paired_dirty_ = true;
  return {true, ""};
}

std::optional<DeviceToken> DeviceStore::ensure_token(const std::string& device_id,
                                                     const std::string& role,
                                                     const Scopes& scopes) {
  auto it = paired_.find(std::string(utf8::trim(device_id)));
  if (it == paired_.end()) return std::nullopt;
  const std::string r(utf8::trim(role));
  if (r.empty() || !has(approved_roles(it->second), r)) return std::nullopt;
  const Scopes requested = normalize_device_scopes(scopes);
  if (!within_baseline(r, requested, it->second)) return std::nullopt;
  auto tit = it->second.tokens.find(r);
  const DeviceToken* old = tit != it->second.tokens.end() ? &tit->second : nullptr;
  if (old && !old->revoked_at_ms && within_baseline(r, old->scopes, it->second) &&
      role_scopes_allow(r, requested, old->scopes))
    return *old;
  DeviceToken t = mint(r, requested, old, clock_.wall_ms(), old != nullptr);
  PairedMap next = paired_;
  next[it->first].tokens[r] = t;
  write_paired(next);
  paired_ = std::move(next);
  paired_dirty_ = false;
  return t;
}

DeviceTokenChange DeviceStore::rotate_token(const std::string& device_id, const std::string& role,
                                            const std::optional<Scopes>& scopes,
                                            const std::optional<Scopes>& caller_scopes) {
  DeviceTokenChange out;
  auto it = paired_.find(std::string(utf8::trim(device_id)));
  const std::string r(utf8::trim(role));
  if (it == paired_.end() || r.empty() || !has(approved_roles(it->second), r)) {
    out.reason = "unknown-device-or-role";
    return out;
  }
  const PairedDevice& d = it->second;
  auto tit = d.tokens.find(r);
  const DeviceToken* old = tit != d.tokens.end() ? &tit->second : nullptr;
  if (scopes && scopes->size() > kMaxScopes) {
    out.reason = "scope-outside-approved-baseline";
    return out;
  }
  const Scopes requested = normalize_device_scopes(scopes ? *scopes
                                                   : old  ? old->scopes
                                                          : d.approved_scopes);
  if (!within_baseline(r, requested, d)) {
    out.reason = "scope-outside-approved-baseline";
    return out;
  }
  if (caller_scopes) {
    if (auto missing = missing_scope(r, requested, *caller_scopes)) {
      out.reason = "caller-missing-scope";
      out.scope = *missing;
      return out;
    }
  }
  DeviceToken t = mint(r, requested, old, clock_.wall_ms(), true);
  PairedMap next = paired_;
  next[it->first].tokens[r] = t;
  write_paired(next);
  paired_ = std::move(next);
  paired_dirty_ = false;
  out.ok = true;
  out.token = std::move(t);
  return out;
}

DeviceTokenChange DeviceStore::revoke_token(const std::string& device_id, const std::string& role,
                                            const std::optional<Scopes>& caller_scopes) {
  DeviceTokenChange out;
  auto it = paired_.find(std::string(utf8::trim(device_id)));
  const std::string r(utf8::trim(role));
  if (it == paired_.end() || r.empty() || !has(approved_roles(it->second), r) ||
      !it->second.tokens.count(r)) {
    out.reason = "unknown-device-or-role";
    return out;
  }
  const DeviceToken& old = it->second.tokens.at(r);
  if (caller_scopes) {
    if (auto missing = missing_scope(r, normalize_device_scopes(old.scopes), *caller_scopes)) {
      out.reason = "caller-missing-scope";
      out.scope = *missing;
      return out;
    }
  }
  DeviceToken t = old;
  t.revoked_at_ms = clock_.wall_ms();
  PairedMap next = paired_;
  next[it->first].tokens[r] = t;
  write_paired(next);
  paired_ = std::move(next);
  paired_dirty_ = false;
  out.ok = true;
  out.token = std::move(t);
  return out;
}

std::optional<PendingDevice> DeviceStore::pending(const std::string& request_id) {
  prune();
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return std::nullopt;
  return it->second;
}

const PairedDevice* DeviceStore::paired(const std::string& device_id) const {
  auto it = paired_.find(std::string(utf8::trim(device_id)));
  return it == paired_.end() ? nullptr : &it->second;
}

std::vector<PendingDevice> DeviceStore::list_pending() {
  prune();
  std::vector<PendingDevice> out;
  for (const auto& [_, p] : pending_) out.push_back(p);
  std::stable_sort(out.begin(), out.end(),
                   [](const PendingDevice& a, const PendingDevice& b) { return a.ts > b.ts; });
  return out;
}

std::vector<PairedDevice> DeviceStore::list_paired() const {
  std::vector<PairedDevice> out;
  for (const auto& [_, d] : paired_) out.push_back(d);
  std::stable_sort(out.begin(), out.end(), [](const PairedDevice& a, const PairedDevice& b) {
    return a.approved_at_ms > b.approved_at_ms;
  });
  return out;
}

void DeviceStore::flush() {
  if (!paired_dirty_) return;
  write_paired(paired_);
  paired_dirty_ = false;
}

Json DeviceStore::public_pending(const PendingDevice& p) {
  return pending_json(p, false);
}

Json DeviceStore::redacted_paired(const PairedDevice& d, std::optional<bool> connected) {
  Json j = paired_json(d);
  j.erase("approvedScopes");
  j.erase("tokens");
  if (connected) j["connected"] = *connected;
  if (!d.tokens.empty()) {
    Json list = Json::array();
    for (const auto& [_, t] : d.tokens) list.push_back(token_json(t, false));  // map: by role
    j["tokens"] = std::move(list);
  }
  return j;
}

}  // namespace clawgate::core
