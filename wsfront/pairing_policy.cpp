// Connect-time device policy: see pairing_policy.hpp.
#include "pairing_policy.hpp"

#include <cctype>

#include "device_auth.hpp"
#include "utf8.hpp"

namespace clawgate::front {

using Json = nlohmann::json;

ClientKind classify_client(const std::string& id, const std::string& mode) {
  ClientKind k;
  k.control_ui = id == "openclaw-control-ui" || id == "openclaw-tui";
  k.webchat = mode == "webchat" || id == "webchat-ui";
  k.native_app_ui = mode == "ui" && (id == "openclaw-macos" || id == "openclaw-linux" ||
                                     id == "openclaw-ios" || id == "openclaw-android");
  k.cli = id == "cli" && mode == "cli";
  k.backend = id == "gateway-client" && mode == "backend";
  return k;
}

MissingDevice evaluate_missing_device(const MissingDeviceFacts& f) {
  if (f.local_backend && f.role == "operator") return MissingDevice::allow;
  if (f.kind.control_ui) return MissingDevice::reject_control_ui;
  if (f.role == "operator" && f.shared_auth_ok) return MissingDevice::allow;
  if (!f.auth_ok && f.shared_provided) return MissingDevice::reject_unauthorized;
  return MissingDevice::reject_device_required;
}

const char* pairing_reason_name(PairingReason r) {
  switch (r) {
    case PairingReason::not_paired:
      return "not-paired";
    case PairingReason::role_upgrade:
      return "role-upgrade";
    case PairingReason::scope_upgrade:
      return "scope-upgrade";
    case PairingReason::metadata_upgrade:
      return "metadata-upgrade";
  }
  return "not-paired";
}

bool allow_silent_pairing(const SilentPairingFacts& f) {
  if (f.existing_record && f.role != "operator") return false;
  if (!f.local) return false;
  if (f.browser && ((!f.kind.control_ui && !f.kind.webchat) || !f.own_page)) return false;
  if (f.reason == PairingReason::metadata_upgrade)
    return !f.browser && !f.kind.control_ui && !f.kind.webchat && f.kind.native_app_ui;
  if (!f.auto_approve_local) return false;
  if (f.reason == PairingReason::scope_upgrade)
    return f.auth_method == "none" || f.auth_method == "token" || f.auth_method == "password";
  return true;
}

namespace {

bool starts_word(const std::string& s, const char* word) {
  const size_t n = std::char_traits<char>::length(word);
  return s.compare(0, n, word) == 0 &&
         (s.size() == n || std::isspace(static_cast<unsigned char>(s[n])));
}

// "<word> N", "<word> N.N" or "<word> N.N.N".
bool versioned(const std::string& s, const char* word) {
  const std::string prefix = std::string(word) + " ";
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  int parts = 0;
  size_t i = prefix.size();
  while (i < s.size()) {
    const size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 3) return false;
    ++i;
    if (i == s.size()) return false;
  }
  return parts >= 1 && parts <= 3;
}

// resolveNativeAppPlatformFamily: the OS family a native app's platform string names.
std::string native_family(const std::string& client_id, const std::string& platform) {
  if (client_id == "openclaw-ios" &&
      (starts_word(platform, "ios") || starts_word(platform, "ipados")))
    return "ios-family";
  if (client_id == "openclaw-android" && starts_word(platform, "android")) return "android";
  if (client_id == "openclaw-watchos" && versioned(platform, "watchos")) return "watchos";
  if (client_id == "openclaw-macos" && versioned(platform, "macos")) return "macos";
  return "";
}

}  // namespace

MetadataPin pin_client_metadata(const std::string& client_id, const std::string& client_mode,
                                const std::optional<std::string>& claimed_platform_raw,
                                const std::optional<std::string>& claimed_family_raw,
                                const std::string& paired_platform_raw,
                                const std::string& paired_family_raw) {
  const std::string claimed_platform = normalize_device_metadata(claimed_platform_raw.value_or(""));
  const std::string claimed_family = normalize_device_metadata(claimed_family_raw.value_or(""));
  const std::string paired_platform = normalize_device_metadata(paired_platform_raw);
  const std::string paired_family = normalize_device_metadata(paired_family_raw);
  MetadataPin pin;
  const bool has_platform = !paired_platform.empty();
  // A node host on a Mac reports darwin (or macos); the Mac app that paired it "macos N".
  const bool node_host_on_mac = client_id == "node-host" && client_mode == "node" &&
                                (claimed_platform == "darwin" || claimed_platform == "macos") &&
                                versioned(paired_platform, "macos");
  const std::string claimed_native = native_family(client_id, claimed_platform);
  const std::string paired_native = native_family(client_id, paired_platform);
  const bool version_refresh = has_platform && !claimed_platform.empty() &&
                               claimed_platform != paired_platform &&
                               ((!claimed_native.empty() && claimed_native == paired_native) ||
                                (client_id == "openclaw-macos" && claimed_native == "macos" &&
                                 (paired_platform == "darwin" || paired_platform == "macos")));
  const bool platform_mismatch =
      has_platform && claimed_platform != paired_platform && !node_host_on_mac && !version_refresh;
  const bool family_mismatch = !paired_family.empty() && claimed_family != paired_family;
  pin.mismatch = platform_mismatch || family_mismatch;
  if (version_refresh && !pin.mismatch) pin.refresh_platform = claimed_platform_raw.value_or("");
  return pin;
}

namespace {

struct ReasonText {
  const char* requirement;
  const char* hint;
};
ReasonText reason_text(PairingReason r) {
  switch (r) {
    case PairingReason::not_paired:
      return {"device is not approved yet",
              "Approve this device from the pending pairing requests."};
    case PairingReason::role_upgrade:
      return {"device is asking for a higher role than currently approved",
              "Review the requested role upgrade, then approve the pending request."};
    case PairingReason::scope_upgrade:
      return {"device is asking for more scopes than currently approved",
              "Review the requested scopes, then approve the pending upgrade."};
    case PairingReason::metadata_upgrade:
      return {"device identity changed and must be re-approved",
              "Review the refreshed device details, then approve the pending request."};
  }
  return {"device approval is required", "Approve the pending device request before retrying."};
}

// normalizeOptionalTrimmedStringList: trimmed, blank entries dropped; nothing left is absent.
void put_list(Json& j, const char* key, const std::vector<std::string>& list) {
  Json out = Json::array();
  for (const auto& s : list) {
    const std::string t(utf8::trim(s));
    if (!t.empty()) out.push_back(t);
  }
  if (!out.empty()) j[key] = std::move(out);
}

}  // namespace

Error pairing_error(const PairingFailure& f) {
  const ReasonText t = reason_text(f.reason);
  Json d = {{"code", "PAIRING_REQUIRED"}, {"reason", pairing_reason_name(f.reason)}};
  if (!f.request_id.empty()) d["requestId"] = f.request_id;
  d["remediationHint"] = t.hint;
  if (f.retry_hint) {
    d["recommendedNextStep"] = "wait_then_retry";
    d["retryable"] = true;
    d["pauseReconnect"] = false;
  }
  if (!f.device_id.empty()) d["deviceId"] = f.device_id;
  if (!f.role.empty()) d["requestedRole"] = f.role;
  put_list(d, "requestedScopes", f.requested_scopes);
  put_list(d, "approvedRoles", f.approved_roles);
  put_list(d, "approvedScopes", f.approved_scopes);
  return Error{ErrorCode::NOT_PAIRED, std::string("pairing required: ") + t.requirement, false, 0,
               std::move(d)};
}

std::string pairing_close_reason(const PairingFailure& f) {
  std::string r = std::string("pairing required: ") + reason_text(f.reason).requirement;
  if (!f.request_id.empty()) r += " (requestId: " + f.request_id + ")";
  return r;
}

Error unauthorized_error(const AuthFailure& f) {
  std::string message = f.message;
  if (f.reason == "device_token_mismatch")
    message = "unauthorized: device token mismatch (rotate/reissue device token)";
  else if (f.reason == "scope_mismatch")
    message = "unauthorized: device token scope mismatch (re-pair or approve scope upgrade)";
  else if (f.reason == "rate_limited")
    message = "unauthorized: too many failed authentication attempts (retry later)";
  else if (message.empty())
    message = "unauthorized";

  const bool can_retry = f.reason == "token_mismatch" && f.has_device && !f.password_sent &&
                         f.token_sent && !f.device_token_sent;
  std::string next = "review_auth_configuration";
  if (can_retry)
    next = "retry_with_device_token";
  else if (f.reason == "token_missing" || f.reason == "token_missing_config" ||
           f.reason == "password_missing" || f.reason == "password_missing_config")
    next = "update_auth_configuration";
  else if (f.reason == "token_mismatch" || f.reason == "password_mismatch" ||
           f.reason == "device_token_mismatch")
    next = "update_auth_credentials";
  else if (f.reason == "rate_limited")
    next = "wait_then_retry";

  std::string code = "AUTH_UNAUTHORIZED";
  static const std::pair<const char*, const char*> kCodes[] = {
      {"token_missing", "AUTH_TOKEN_MISSING"},
      {"token_mismatch", "AUTH_TOKEN_MISMATCH"},
      {"token_missing_config", "AUTH_TOKEN_NOT_CONFIGURED"},
      {"password_missing", "AUTH_PASSWORD_MISSING"},
      {"password_mismatch", "AUTH_PASSWORD_MISMATCH"},
      {"password_missing_config", "AUTH_PASSWORD_NOT_CONFIGURED"},
      {"rate_limited", "AUTH_RATE_LIMITED"},
      {"device_token_mismatch", "AUTH_DEVICE_TOKEN_MISMATCH"},
      {"scope_mismatch", "AUTH_SCOPE_MISMATCH"}};
  for (const auto& [reason, c] : kCodes)
    if (f.reason == reason) code = c;
  if (f.reason.empty()) code = "AUTH_REQUIRED";

  Error e = Error::invalid(message, {{"code", code},
                                     {"authReason", f.reason},
                                     {"canRetryWithDeviceToken", can_retry},
                                     {"recommendedNextStep", next}});
  if (f.reason == "rate_limited") {
    e.retryable = true;
    e.retry_after_ms = f.retry_after_ms;
  }
  return e;
}

}  // namespace clawgate::front
