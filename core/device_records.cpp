// Device records: see device_records.hpp.
#include "core/device_records.hpp"

#include "core/record_fields.hpp"
#include "utf8.hpp"

namespace clawgate::core::records {

using Json = nlohmann::json;

namespace {

// ---- reading records back (every field type- and bound-checked) ----

struct Reader {
  const Json& j;
  std::string problem;  // first problem, "" when fine

  void fail(const std::string& why) {
    if (problem.empty()) problem = why;
  }
  std::string text(const char* key, size_t max, bool required = false) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) fail(std::string("missing ") + key);
      return "";
    }
    if (!it->is_string() || it->get_ref<const std::string&>().size() > max ||
        !utf8::valid(it->get_ref<const std::string&>())) {
      fail(std::string("bad ") + key);
      return "";
    }
    if (required && it->get_ref<const std::string&>().empty()) fail(std::string("empty ") + key);
    return it->get<std::string>();
  }
  Scopes list(const char* key, size_t max_items, size_t max_bytes) {
    Scopes out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_array() || it->size() > max_items) {
      fail(std::string("bad ") + key);
      return out;
    }
    for (const auto& v : *it) {
      if (!v.is_string() || v.get_ref<const std::string&>().size() > max_bytes ||
          v.get_ref<const std::string&>().empty()) {
        fail(std::string("bad ") + key);
        return {};
      }
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  std::optional<int64_t> time(const char* key, bool required = false) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      if (required) fail(std::string("missing ") + key);
      return std::nullopt;
    }
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      fail(std::string("bad ") + key);
      return std::nullopt;
    }
    return it->get<int64_t>();
  }
  bool flag(const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return false;
    if (!it->is_boolean()) {
      fail(std::string("bad ") + key);
      return false;
    }
    return it->get<bool>();
  }
};

void put_identity(Json& j, const DeviceIdentity& d) {
  j["deviceId"] = d.device_id;
  j["publicKey"] = d.public_key;
  put_text(j, "displayName", d.display_name);
  put_text(j, "platform", d.platform);
  put_text(j, "deviceFamily", d.device_family);
  put_text(j, "clientId", d.client_id);
  put_text(j, "clientMode", d.client_mode);
  put_text(j, "browserOrigin", d.browser_origin);
  put_text(j, "role", d.role);
  if (!d.roles.empty()) j["roles"] = d.roles;
  put_text(j, "remoteIp", d.remote_ip);
}

void read_identity(Reader& r, DeviceIdentity& d) {
  d.device_id = r.text("deviceId", DeviceStore::kMaxIdBytes, true);
  d.public_key = r.text("publicKey", DeviceStore::kMaxKeyBytes, true);
  d.display_name = r.text("displayName", DeviceStore::kMaxTextBytes);
  d.platform = r.text("platform", DeviceStore::kMaxTextBytes);
  d.device_family = r.text("deviceFamily", DeviceStore::kMaxTextBytes);
  d.client_id = r.text("clientId", kMaxClientBytes);
  d.client_mode = r.text("clientMode", kMaxClientBytes);
  d.browser_origin = r.text("browserOrigin", DeviceStore::kMaxOriginBytes);
  d.role = r.text("role", kMaxRoleBytes);
  d.roles = r.list("roles", 8, kMaxRoleBytes);
  d.remote_ip = r.text("remoteIp", kMaxIpBytes);
}

}  // namespace

Json token_json(const DeviceToken& t, bool with_bearer) {
  Json j = Json::object();
  if (with_bearer) j["token"] = t.token;
  j["role"] = t.role;
  j["scopes"] = t.scopes;
  j["createdAtMs"] = t.created_at_ms;
  put_time(j, "rotatedAtMs", t.rotated_at_ms);
  put_time(j, "revokedAtMs", t.revoked_at_ms);
  put_time(j, "lastUsedAtMs", t.last_used_at_ms);
  return j;
}

std::optional<DeviceToken> read_token(const Json& j, std::string& problem) {
  if (!j.is_object()) {
    problem = "token is not an object";
    return std::nullopt;
  }
  Reader r{j, {}};
  DeviceToken t;
  t.token = r.text("token", 256, true);
  t.role = r.text("role", kMaxRoleBytes, true);
  t.scopes = r.list("scopes", DeviceStore::kMaxScopes, DeviceStore::kMaxScopeBytes);
  t.created_at_ms = r.time("createdAtMs", true).value_or(0);
  t.rotated_at_ms = r.time("rotatedAtMs");
  t.revoked_at_ms = r.time("revokedAtMs");
  t.last_used_at_ms = r.time("lastUsedAtMs");
  if (!r.problem.empty()) {
    problem = r.problem;
    return std::nullopt;
  }
  return t;
}

// The identity's keys, the same on a request and on a record.

Json pending_json(const PendingDevice& p, bool internal) {
  Json j = Json::object();
  j["requestId"] = p.request_id;
  put_identity(j, p);
  j["scopes"] = p.scopes;
  j["silent"] = p.silent;
  j["isRepair"] = p.is_repair;
  j["ts"] = p.ts;
  if (internal) put_time(j, "refreshedAtMs", p.refreshed_at_ms);
  return j;
}

std::optional<PendingDevice> read_pending(const Json& j, std::string& problem) {
  if (!j.is_object()) {
    problem = "not an object";
    return std::nullopt;
  }
  Reader r{j, {}};
  PendingDevice p;
  p.request_id = r.text("requestId", DeviceStore::kMaxIdBytes, true);
  read_identity(r, p);
  p.scopes = r.list("scopes", DeviceStore::kMaxScopes, DeviceStore::kMaxScopeBytes);
  p.silent = r.flag("silent");
  p.is_repair = r.flag("isRepair");
  p.ts = r.time("ts", true).value_or(0);
  p.refreshed_at_ms = r.time("refreshedAtMs");
  if (!r.problem.empty()) {
    problem = r.problem;
    return std::nullopt;
  }
  return p;
}

Json paired_json(const PairedDevice& d) {
  Json j = Json::object();
  put_identity(j, d);
  j["scopes"] = d.approved_scopes;
  j["approvedScopes"] = d.approved_scopes;
  if (!d.tokens.empty()) {
    Json t = Json::object();
    for (const auto& [role, tok] : d.tokens) t[role] = token_json(tok, true);
    j["tokens"] = std::move(t);
  }
  put_text(j, "approvedVia", d.approved_via);
  if (!d.node_surface.is_null()) j["nodeSurface"] = d.node_surface;
  if (!d.pending_node_surface.is_null()) j["pendingNodeSurface"] = d.pending_node_surface;
  put_text(j, "operatorLabel", d.operator_label);
  j["createdAtMs"] = d.created_at_ms;
  j["approvedAtMs"] = d.approved_at_ms;
  put_time(j, "lastSeenAtMs", d.last_seen_at_ms);
  put_text(j, "lastSeenReason", d.last_seen_reason);
  return j;
}

std::optional<PairedDevice> read_paired(const Json& j, std::string& problem) {
  if (!j.is_object()) {
    problem = "not an object";
    return std::nullopt;
  }
  Reader r{j, {}};
  PairedDevice d;
  read_identity(r, d);
  d.approved_scopes =
      j.contains("approvedScopes")
          ? r.list("approvedScopes", DeviceStore::kMaxScopes, DeviceStore::kMaxScopeBytes)
          : r.list("scopes", DeviceStore::kMaxScopes, DeviceStore::kMaxScopeBytes);
  d.approved_via = r.text("approvedVia", kMaxReasonBytes);
  d.operator_label = r.text("operatorLabel", DeviceStore::kMaxLabelBytes);
  d.created_at_ms = r.time("createdAtMs", true).value_or(0);
  d.approved_at_ms = r.time("approvedAtMs").value_or(d.created_at_ms);
  d.last_seen_at_ms = r.time("lastSeenAtMs");
  d.last_seen_reason = r.text("lastSeenReason", kMaxReasonBytes);
  if (auto it = j.find("nodeSurface"); it != j.end() && it->is_object()) d.node_surface = *it;
  if (auto it = j.find("pendingNodeSurface"); it != j.end() && it->is_object())
    d.pending_node_surface = *it;
  if (auto it = j.find("tokens"); it != j.end() && !it->is_null()) {
    if (!it->is_object() || it->size() > 8) {
      r.fail("bad tokens");
    } else {
      for (const auto& [role, tj] : it->items()) {
        std::string why;
        std::optional<DeviceToken> t = read_token(tj, why);
        if (!t || t->role != role) {
          r.fail("bad token for role " + role + (why.empty() ? "" : ": " + why));
          break;
        }
        d.tokens.emplace(role, std::move(*t));
      }
    }
  }
  if (!r.problem.empty()) {
    problem = r.problem;
    return std::nullopt;
  }
  return d;
}

}  // namespace clawgate::core::records
