// device.pair.list/approve/reject/remove/rename and device.token.rotate/revoke, with
// OpenClaw's authorisation rules (server-methods/devices.ts, device-management-authz.ts):
//  - the caller's device counts only when it authenticated by its device token; such a caller
//    without operator.admin manages its own device alone, and only its operator role;
//  - an admin (operator.admin in the connection's scopes) passes every ownership rule;
//  - approval takes its scopes from the pending request, and the caller's scopes must cover
//    the operator token it would mint (no self-granted scopes);
//  - revoking, rotating or removing closes that device's connections (of that role) with 4001
//    "device removed", after the reply.
// Refusals are INVALID_REQUEST with upstream's exact texts; a store write failure throws and
// becomes UNAVAILABLE at dispatch.
#include <boost/asio/post.hpp>

#include "gateway.hpp"
#include "utf8.hpp"

namespace clawgate::front {

namespace {

struct Authz {
  std::string caller_device_id;  // "" unless authenticated by device token
  std::vector<std::string> caller_scopes;
  bool admin = false;
};

Authz authz_of(const std::string& device_id, bool device_token_auth,
               const std::vector<std::string>& scopes) {
  Authz a;
  if (device_token_auth) a.caller_device_id = std::string(utf8::trim(device_id));
  a.caller_scopes = scopes;
  a.admin = std::find(scopes.begin(), scopes.end(), "operator.admin") != scopes.end();
  return a;
}

bool denies_cross_device(const Authz& a, const std::string& target) {
  return !a.caller_device_id.empty() && a.caller_device_id != utf8::trim(target) && !a.admin;
}

bool has_non_operator_role(const core::PairedDevice& d) {
  for (const auto& r : core::approved_roles(d))
    if (r != "operator") return true;
  for (const auto& [role, _] : d.tokens)
    if (role != "operator") return true;
  return false;
}

std::string trimmed(const std::string& s) {
  return std::string(utf8::trim(s));
}

}  // namespace

bool Gateway::device_connected(const std::string& device_id) const {
  for (const auto& [_, c] : conns_)
    if (c.phase == Phase::ready && c.device_id == device_id) return true;
  return false;
}

void Gateway::disconnect_device(const std::string& device_id, const std::string& role) {
  // Posted: the reply to the request that caused it goes out first, even to the caller.
  boost::asio::post(io_, [this, device_id, role] {
    for (auto& [_, c] : conns_) {
      if (c.phase != Phase::ready || c.device_id != device_id) continue;
      if (!role.empty() && c.role != role) continue;
      log_.info("front", "closing connection " + c.conn_id + " of device " +
                             device_id.substr(0, 12) + ": device removed");
      close_session(c, 4001, "device removed");
    }
  });
}

void Gateway::flush_devices() {
  try {
    devices_.flush();
  } catch (const std::exception& e) {
    log_.warn("front", std::string("device pairing: last-seen stamps not saved: ") + e.what());
  }
}

Reply Gateway::m_device_pair_list(const Connection& s) {
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  const bool own_only = !a.caller_device_id.empty() && !a.admin;
  Json pending = Json::array(), paired = Json::array();
  for (const auto& p : devices_.list_pending())
    if (!own_only || p.device_id == a.caller_device_id)
      pending.push_back(core::DeviceStore::public_pending(p));
  for (const auto& d : devices_.list_paired())
    if (!own_only || d.device_id == a.caller_device_id)
      paired.push_back(core::DeviceStore::redacted_paired(d, device_connected(d.device_id)));
  return Reply::ok(Json{{"pending", std::move(pending)}, {"paired", std::move(paired)}});
}

Reply Gateway::m_device_pair_approve(const Connection& s,
                                     const schema::params::DevicePairApprove& p) {
  static const char* kDenied = "device pairing approval denied";
  const std::string request_id = trimmed(p.request_id);
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  if (!a.admin) {
    const std::optional<core::PendingDevice> pending = devices_.pending(request_id);
    if (!pending) return Reply::invalid(kDenied);
    if (!a.caller_device_id.empty() && pending->device_id != a.caller_device_id) {
      log_.warn("front", "device pairing approval denied request=" + request_id +
                             " reason=device-ownership-mismatch");
      return Reply::invalid(kDenied);
    }
    const core::Scopes roles = core::merge_unique({&pending->roles});
    const bool non_operator = pending->role != "operator" && !pending->role.empty();
    if (non_operator || std::any_of(roles.begin(), roles.end(),
                                    [](const std::string& r) { return r != "operator"; })) {
      log_.warn("front", "device pairing approval denied request=" + request_id +
                             " reason=role-management-requires-admin");
      return Reply::invalid(kDenied);
    }
  }
  const core::DeviceApproval r = devices_.approve(request_id, a.caller_scopes, "owner");
  if (r.status == core::DeviceApproval::unknown) return Reply::invalid("unknown requestId");
  if (r.status == core::DeviceApproval::forbidden) {
    log_.warn("front", "device pairing approval refused request=" + request_id + ": " + r.message);
    return Reply::invalid(r.message);
  }
  log_.info("front", "device pairing approved device=" + r.device.device_id +
                         " role=" + (r.device.role.empty() ? "unknown" : r.device.role));
  broadcast("device.pair.resolved", Json{{"requestId", request_id},
                                         {"deviceId", r.device.device_id},
                                         {"decision", "approved"},
                                         {"ts", clock_.wall_ms()}});
  return Reply::ok(
      Json{{"requestId", request_id}, {"device", core::DeviceStore::redacted_paired(r.device)}});
}

Reply Gateway::m_device_pair_reject(const Connection& s,
                                    const schema::params::DevicePairReject& p) {
  static const char* kDenied = "device pairing rejection denied";
  const std::string request_id = trimmed(p.request_id);
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  if (!a.caller_device_id.empty() && !a.admin) {
    const std::optional<core::PendingDevice> pending = devices_.pending(request_id);
    if (!pending || pending->device_id != a.caller_device_id) return Reply::invalid(kDenied);
  }
  const std::optional<core::PendingDevice> gone = devices_.reject(request_id);
  if (!gone) return Reply::invalid("unknown requestId");
  log_.info("front", "device pairing rejected device=" + gone->device_id);
  broadcast("device.pair.resolved", Json{{"requestId", request_id},
                                         {"deviceId", gone->device_id},
                                         {"decision", "rejected"},
                                         {"ts", clock_.wall_ms()}});
  return Reply::ok(Json{{"requestId", request_id}, {"deviceId", gone->device_id}});
}

Reply Gateway::m_device_pair_remove(const Connection& s,
                                    const schema::params::DevicePairRemove& p) {
  static const char* kDenied = "device pairing removal denied";
  const std::string& device_id = p.device_id;
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  if (denies_cross_device(a, device_id)) return Reply::invalid(kDenied);
  if (!a.caller_device_id.empty() && !a.admin) {
    const core::PairedDevice* d = devices_.paired(device_id);
    if (d && has_non_operator_role(*d)) return Reply::invalid(kDenied);
  }
  const std::string id(utf8::trim(device_id));
  if (!devices_.remove(id)) return Reply::invalid("unknown deviceId");
  log_.info("front", "device pairing removed device=" + id);
  disconnect_device(id);
  return Reply::ok(Json{{"deviceId", id}});
}

Reply Gateway::m_device_pair_rename(const Connection& s,
                                    const schema::params::DevicePairRename& p) {
  static const char* kDenied = "device pairing rename denied";
  const std::string& device_id = p.device_id;
  const std::string label = trimmed(p.label);
  if (label.empty()) return Reply::invalid("label required");
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  if (denies_cross_device(a, device_id)) return Reply::invalid(kDenied);
  if (!a.caller_device_id.empty() && !a.admin) {
    const core::PairedDevice* d = devices_.paired(device_id);
    if (d && has_non_operator_role(*d)) return Reply::invalid(kDenied);
  }
  if (!devices_.rename(device_id, label)) return Reply::invalid("unknown deviceId");
  log_.info("front", "device pairing renamed device=" + std::string(utf8::trim(device_id)) +
                         " label=" + log_value(label, 64));
  return Reply::ok(Json{{"deviceId", device_id}, {"label", label}});
}

Reply Gateway::m_device_token_rotate(const Connection& s,
                                     const schema::params::DeviceTokenRotate& p) {
  static const char* kDenied = "device token rotation denied";
  const std::string& device_id = p.device_id;
  const std::string role = trimmed(p.role);
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  auto deny = [&](const std::string& why) {
    log_.warn("front", "device token rotation denied device=" + log_value(device_id, 80) +
                           " role=" + log_value(role, 32) + " reason=" + why);
    return Reply::invalid(kDenied);
  };
  if (denies_cross_device(a, device_id)) return deny("device-ownership-mismatch");
  if (!role.empty() && role != "operator" && !a.admin)
    return deny("role-management-requires-admin");
  const std::optional<core::Scopes>& scopes = p.scopes;
  const std::optional<core::Scopes> caller =
      role == "operator" ? std::optional<core::Scopes>(a.caller_scopes) : std::nullopt;
  const core::DeviceTokenChange r = devices_.rotate_token(device_id, role, scopes, caller);
  if (!r.ok) return deny(r.reason + (r.scope.empty() ? "" : " scope=" + r.scope));
  const std::string id(utf8::trim(device_id));
  log_.info("front", "device token rotated device=" + id + " role=" + r.token.role);
  disconnect_device(id, r.token.role);
  const bool in_band = !a.caller_device_id.empty() && a.caller_device_id == id;
  Json out = {{"deviceId", device_id},
              {"role", r.token.role},
              {"scopes", r.token.scopes},
              {"rotatedAtMs", r.token.rotated_at_ms.value_or(r.token.created_at_ms)},
              {"tokenDelivery", in_band ? "in-band" : "withheld-cross-device"}};
  if (in_band) out["token"] = r.token.token;
  return Reply::ok(std::move(out));
}

Reply Gateway::m_device_token_revoke(const Connection& s,
                                     const schema::params::DeviceTokenRevoke& p) {
  static const char* kDenied = "device token revocation denied";
  const std::string& device_id = p.device_id;
  const std::string role = trimmed(p.role);
  const Authz a = authz_of(s.device_id, s.device_token_auth(), s.scopes);
  auto deny = [&](const std::string& why) {
    log_.warn("front", "device token revocation denied device=" + log_value(device_id, 80) +
                           " role=" + log_value(role, 32) + " reason=" + why);
    return Reply::invalid(kDenied);
  };
  if (denies_cross_device(a, device_id)) return deny("device-ownership-mismatch");
  if (!role.empty() && role != "operator" && !a.admin)
    return deny("role-management-requires-admin");
  const std::optional<core::Scopes> caller =
      role == "operator" ? std::optional<core::Scopes>(a.caller_scopes) : std::nullopt;
  const core::DeviceTokenChange r = devices_.revoke_token(device_id, role, caller);
  if (!r.ok) return deny(r.reason + (r.scope.empty() ? "" : " scope=" + r.scope));
  const std::string id(utf8::trim(device_id));
  log_.warn("front", "device token revoked device=" + id + " role=" + r.token.role);
  disconnect_device(id, r.token.role);
  return Reply::ok(Json{{"deviceId", id},
                        {"role", r.token.role},
                        {"revokedAtMs", r.token.revoked_at_ms.value_or(clock_.wall_ms())}});
}

}  // namespace clawgate::front
