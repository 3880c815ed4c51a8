// The authentication and pairing steps of a connect, in OpenClaw 2026.9's order
// (authenticateGatewayConnectCore, authorizeGatewayConnectDevice):
//   1. the shared secret is checked and its outcome held: with a device block and a token
//      candidate (auth.deviceToken, else auth.token) a mismatch is not final yet;
//   2. without a device block: a local backend or (with the shared secret) an operator may go
//      on, scopes cleared but for the local CLI and backend; the Control UI is refused, and so
//      is anyone else (device identity required);
//   3. a device block is always verified (id, signedAt, nonce, signature), even when the
//      shared secret is fine;
//   4. the device token authenticates when the shared secret did not (its own rate-limit
//      bucket);
//   5. pairing: a device unknown (or with another key), asking for a new role, for more scopes,
//      or claiming another platform waits for approval, unless it may be approved silently
//      (local); then its token is ensured and handed out in hello-ok.
// Every refusal answers the connect with its error and closes 1008.
#include <boost/asio/post.hpp>

#include "device_auth.hpp"
#include "gateway.hpp"
#include "utf8.hpp"

namespace clawgate::front {

namespace {

std::optional<std::string> opt_string(const Json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// device.signedAt: an integer by the schema, but maybe beyond int64 (a float or a uint64 to
// nlohmann). Clamped, never converted out of range: anything that large is stale anyway.
int64_t signed_at_of(const Json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d >= 0)) return -1;
    return d >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(d);
  }
  return -1;
}

bool non_blank(const std::optional<std::string>& s) {
  return s && !utf8::trim(*s).empty();
}

}  // namespace

ConnectRequest connect_request(const schema::params::Connect& params) {
  ConnectRequest c;
  c.role = params.role;
  c.scopes = params.scopes;
  // client, auth and device are nested objects (Json); the schema made their keys strings
  // (signedAt an integer) before this runs.
  const Json& client = params.client;
  c.client_id = client.at("id").get<std::string>();
  c.client_mode = client.at("mode").get<std::string>();
  c.platform = opt_string(client, "platform");
  c.device_family = opt_string(client, "deviceFamily");
  c.display_name = opt_string(client, "displayName");
  if (params.auth) {
    c.token = opt_string(*params.auth, "token");
    c.password = opt_string(*params.auth, "password");
    c.device_token = opt_string(*params.auth, "deviceToken");
    c.bootstrap_token = opt_string(*params.auth, "bootstrapToken");
  }
  if (params.device && params.device->is_object()) {
    const Json& dev = *params.device;
    ConnectRequest::Device d;
    d.id = dev.at("id").get<std::string>();
    d.public_key = dev.at("publicKey").get<std::string>();
    d.signature = dev.at("signature").get<std::string>();
    d.nonce = dev.at("nonce").get<std::string>();
    d.signed_at = signed_at_of(dev.at("signedAt"));
    c.device = std::move(d);
  }
  return c;
}

namespace {

// What the device signed, as this connect presents it (the token field: the shared token, else
// the device token, else the bootstrap token, as upstream signs).
DeviceProofInput proof_input(const ConnectRequest& c, const std::string& challenge_nonce,
                             int64_t now_ms) {
  const ConnectRequest::Device& d = *c.device;
  DeviceProofInput in;
  in.device_id = d.id;
  in.public_key = d.public_key;
  in.signature = d.signature;
  in.nonce = d.nonce;
  in.signed_at_ms = d.signed_at;
  in.client_id = c.client_id;
  in.client_mode = c.client_mode;
  in.platform = c.platform;
  in.device_family = c.device_family;
  in.role = c.role;
  in.scopes = c.scopes;
  in.signature_token = c.token             ? *c.token
                       : c.device_token    ? *c.device_token
                       : c.bootstrap_token ? *c.bootstrap_token
                                           : "";
  in.challenge_nonce = challenge_nonce;
  in.now_ms = now_ms;
  return in;
}

}  // namespace

std::optional<ConnectGrant> Gateway::authorize_connect(Connection& s, const std::string& req_id,
                                                       const ConnectRequest& c,
                                                       const RateLimitKey& bucket) {
  const AuthMode mode = cfg_.gateway.auth_mode;
  const AuthResult ar =
      check_shared_secret(mode, cfg_.gateway.token, cfg_.gateway.password, c.token, c.password);
  const bool has_device = c.device.has_value();
  const bool shared_provided = non_blank(c.token) || non_blank(c.password);
  const bool shared_ok = ar.ok && mode != AuthMode::none;
  const ClientKind kind = classify_client(c.client_id, c.client_mode);
  ConnectGrant g;
  g.scopes = c.scopes;
  g.auth_method = mode == AuthMode::none       ? "none"
                  : mode == AuthMode::password ? "password"
                                               : "token";
  bool auth_ok = ar.ok;
  AuthFailure failure{ar.reason,
                      ar.message,
                      has_device,
                      c.token.has_value(),
                      c.password.has_value(),
                      c.device_token.has_value(),
                      0};

  // 1. The device-token candidate (only with a device block).
  std::string candidate;
  bool explicit_candidate = false;
  if (has_device) {
    if (non_blank(c.device_token)) {
      candidate = std::string(utf8::trim(*c.device_token));
      explicit_candidate = true;
    } else if (non_blank(c.token)) {
      candidate = std::string(utf8::trim(*c.token));
    }
  }

  auto refuse = [&](const Error& e, const std::string& close_reason = "") {
    limiter_.record_failure(bucket.key, bucket.exemptable);
    fail_handshake(s, req_id, e, 1008, close_reason);
    return std::nullopt;
  };

  // 2. No device block.
  const bool local_backend =
      kind.backend && s.client.local && !s.client.browser && (mode == AuthMode::none || shared_ok);
  const bool keep_cli_scopes = kind.cli && s.client.local && !s.client.browser && shared_ok;
  if (!has_device) {
    const MissingDevice decision =
        evaluate_missing_device({c.role, kind, local_backend, shared_ok, auth_ok, shared_provided});
    switch (decision) {
      case MissingDevice::allow:
        break;
      case MissingDevice::reject_control_ui:
        return refuse(Error::invalid(
            "control ui requires device identity (use HTTPS or localhost secure context)",
            {{"code", "CONTROL_UI_DEVICE_IDENTITY_REQUIRED"}}));
      case MissingDevice::reject_unauthorized:
        return refuse(unauthorized_error(failure));
      case MissingDevice::reject_device_required:
        return refuse(Error{ErrorCode::NOT_PAIRED,
                            "device identity required",
                            false,
                            0,
                            {{"code", "DEVICE_IDENTITY_REQUIRED"}}});
    }
    // Scopes come from a pairing record; without one only the local CLI and backend, which
    // proved the shared secret on this machine, keep what they asked for.
    if (!local_backend && !keep_cli_scopes) g.scopes.clear();
    limiter_.record_success(bucket.key);
    return g;
  }

  // 3. The device proof, whatever the shared secret said.
  const DeviceProof proof = verify_device_proof(proof_input(c, s.nonce, clock_.wall_ms()));
  if (!proof.ok) {
    log_.warn("front", "device proof refused from " + s.client.ip + ": " + proof.reason +
                           " (device " + log_value(c.device->id, 80) + ")");
    return refuse(Error::invalid(proof.message, {{"code", proof.code}, {"reason", proof.reason}}));
  }
  g.device_id = proof.device_id;
  g.device_public_key = proof.public_key;

  // 4. The device token, when the shared secret did not authenticate.
  if (!auth_ok && !candidate.empty()) {
    if (const int64_t wait = device_token_limiter_.retry_after_ms(bucket.key, bucket.exemptable);
        wait > 0) {
      failure.reason = "rate_limited";
      failure.retry_after_ms = wait;
    } else {
      const core::DeviceTokenCheck check =
          devices_.verify_token(g.device_id, candidate, c.role, c.scopes);
      if (check.ok) {
        auth_ok = true;
        g.auth_method = "device-token";
        device_token_limiter_.record_success(bucket.key);
      } else {
        device_token_limiter_.record_failure(bucket.key, bucket.exemptable);
        failure.reason = check.reason == "scope-mismatch" ? "scope_mismatch"
                         : explicit_candidate             ? "device_token_mismatch"
                                                          : ar.reason;
        log_.info("front",
                  "device token refused for " + log_value(g.device_id, 80) + ": " + check.reason);
      }
    }
  }
  if (!auth_ok) return refuse(unauthorized_error(failure));
  limiter_.record_success(bucket.key);

  // 5. Pairing, then the device token hello-ok hands out.
  bool baseline = false;
  if (!pair_device(s, req_id, c, g, baseline)) return std::nullopt;
  if (baseline) {
    try {
      g.device_token = devices_.ensure_token(g.device_id, c.role, g.scopes);
    } catch (const std::exception& e) {
      log_.error("front", std::string("cannot store a device token: ") + e.what());
      fail_handshake(s, req_id, Error::unavailable("device token store unavailable", true, 1000),
                     1011);
      return std::nullopt;
    }
  }
  return g;
}

// authorizeGatewayConnectDevice: sets `baseline` when the device has an approved record this
// connect may take a token from. False: the handshake was failed (pairing required).
bool Gateway::pair_device(Connection& s, const std::string& req_id, const ConnectRequest& c,
                          const ConnectGrant& g, bool& baseline) {
  const ClientKind kind = classify_client(c.client_id, c.client_mode);
  const bool shared_method = g.auth_method == "token" || g.auth_method == "password";
  const bool skip_backend =
      kind.backend && s.client.local && !s.client.browser &&
      (g.auth_method == "none" || g.auth_method == "device-token" || shared_method);
  const bool control_ui_auth_none =
      kind.control_ui && c.role == "operator" && cfg_.gateway.auth_mode == AuthMode::none;
  const core::DeviceAccess access{c.display_name.value_or(""), s.client.ip, "connect",
                                  clock_.wall_ms(), ""};
  const core::PairedDevice* paired = devices_.paired(g.device_id);
  const bool is_paired = paired && paired->public_key == g.device_public_key;

  if (skip_backend || control_ui_auth_none) {
    if (is_paired) devices_.touch(g.device_id, access);
    baseline = is_paired || control_ui_auth_none || g.auth_method != "device-token";
    return true;
  }
  if (!is_paired) {
    if (!require_pairing(s, req_id, c, g, PairingReason::not_paired, paired)) return false;
    baseline = true;
    return true;
  }
  baseline = true;
  const MetadataPin pin =
      pin_client_metadata(c.client_id, c.client_mode, c.platform, c.device_family, paired->platform,
                          paired->device_family);
  if (pin.mismatch) {
    log_.warn("front", "security audit: device metadata upgrade requested device=" + g.device_id +
                           " ip=" + s.client.ip +
                           " claimedPlatform=" + log_value(c.platform.value_or("<none>"), 64) +
                           " pinnedPlatform=" + log_value(paired->platform, 64));
    if (!require_pairing(s, req_id, c, g, PairingReason::metadata_upgrade, paired)) return false;
    paired = devices_.paired(g.device_id);  // the approval changed it
  }
  if (!paired) return false;
  const core::Scopes roles = core::effective_roles(*paired);
  if (std::find(roles.begin(), roles.end(), c.role) == roles.end()) {
    if (!require_pairing(s, req_id, c, g, PairingReason::role_upgrade, paired)) return false;
    paired = devices_.paired(g.device_id);
  }
  if (!paired) return false;
  if (!g.scopes.empty()) {
    const core::Scopes approved = core::merge_unique({&paired->approved_scopes});
    if (approved.empty() || !core::role_scopes_allow(c.role, g.scopes, approved)) {
      if (!require_pairing(s, req_id, c, g, PairingReason::scope_upgrade, paired)) return false;
      paired = devices_.paired(g.device_id);
    }
  }
  core::DeviceAccess refreshed = access;
  refreshed.platform = pin.refresh_platform;
  devices_.touch(g.device_id, refreshed);
  return true;
}

// requirePairing: files (or refreshes) the pending request, approves it inline when that may
// be silent, and fails the handshake unless the record now allows what was asked.
bool Gateway::require_pairing(Connection& s, const std::string& req_id, const ConnectRequest& c,
                              const ConnectGrant& g, PairingReason reason,
                              const core::PairedDevice* existing) {
  if (reason != PairingReason::not_paired)
    log_.warn("front", std::string("security audit: device access upgrade requested reason=") +
                           pairing_reason_name(reason) + " device=" + g.device_id +
                           " ip=" + s.client.ip + " auth=" + g.auth_method + " role=" + c.role);
  Result<core::DevicePairingRequested> filed = file_pairing_request(s, c, g, reason, existing);
  if (!filed.ok()) {
    fail_handshake(s, req_id, filed.error(), 1008);
    return false;
  }
  const core::DevicePairingRequested& pending = filed.value();
  if (pending.request.silent) {
    approve_silently(s, c, g, pending.request.request_id, existing);
  } else if (pending.created) {
    broadcast("device.pair.requested", core::DeviceStore::public_pending(pending.request));
  }
  if (access_allowed_now(c, g)) return true;
  refuse_unpaired(s, req_id, c, g, reason, existing, pending.request);
  return false;
}

// requestDevicePairing: a request filed (or the one already waiting refreshed), silent when
// policy allows; requests it supersedes are announced as rejected.
Result<core::DevicePairingRequested> Gateway::file_pairing_request(
    const Connection& s, const ConnectRequest& c, const ConnectGrant& g, PairingReason reason,
    const core::PairedDevice* existing) {
  SilentPairingFacts sf;
  sf.reason = reason;
  sf.local = s.client.local;
  sf.browser = s.client.browser;
  sf.own_page = s.client.own_page;
  sf.kind = classify_client(c.client_id, c.client_mode);
  sf.auth_method = g.auth_method;
  sf.auto_approve_local = cfg_.gateway.config.gateway.nodes.pairing.auto_approve_local;
  sf.existing_record = existing != nullptr;
  sf.role = c.role;

  core::DevicePairingRequest req;
  req.device_id = g.device_id;
  req.public_key = g.device_public_key;
  req.display_name = c.display_name.value_or("");
  req.platform = c.platform.value_or("");
  req.device_family = c.device_family.value_or("");
  req.client_id = c.client_id;
  req.client_mode = c.client_mode;
  req.role = c.role;
  req.scopes = g.scopes;
  req.remote_ip = s.client.ip;
  req.silent = allow_silent_pairing(sf);
  Result<core::DevicePairingRequested> filed = [&]() -> Result<core::DevicePairingRequested> {
    try {
      return devices_.request(req);
    } catch (const std::exception& e) {
      log_.error("front", std::string("cannot store a pairing request: ") + e.what());
      return Error::unavailable("device pairing store unavailable", true, 1000);
    }
  }();
  if (filed.ok())
    for (const auto& sup : filed.value().superseded)
      broadcast("device.pair.resolved", Json{{"requestId", sup.request_id},
                                             {"deviceId", sup.device_id},
                                             {"decision", "rejected"},
                                             {"ts", clock_.wall_ms()}});
  return filed;
}

// Silent approval: the device gets what it asked for, within what it already had and proved.
void Gateway::approve_silently(const Connection& s, const ConnectRequest& c, const ConnectGrant& g,
                               const std::string& request_id, const core::PairedDevice* existing) {
  const int64_t now = clock_.wall_ms();
  core::Scopes caller = g.scopes;
  if (existing)
    for (const auto& sc : existing->approved_scopes) caller.push_back(sc);
  core::DeviceApproval a;
  try {
    a = devices_.approve(
        request_id, caller, "silent",
        core::DeviceAccess{c.display_name.value_or(""), s.client.ip, "connect", now, ""});
  } catch (const std::exception& e) {
    log_.error("front", std::string("cannot store a device approval: ") + e.what());
  }
  if (a.status != core::DeviceApproval::approved) return;
  log_.info("front", "device pairing auto-approved device=" + g.device_id + " role=" + c.role);
  broadcast("device.pair.resolved", Json{{"requestId", request_id},
                                         {"deviceId", g.device_id},
                                         {"decision", "approved"},
                                         {"ts", clock_.wall_ms()}});
}

// pairingStateAllowsRequestedAccess, on the record as it is now.
bool Gateway::access_allowed_now(const ConnectRequest& c, const ConnectGrant& g) const {
  const core::PairedDevice* live = devices_.paired(g.device_id);
  if (!live || live->public_key != g.device_public_key) return false;
  const core::Scopes roles = core::effective_roles(*live);
  const MetadataPin pin = pin_client_metadata(c.client_id, c.client_mode, c.platform,
                                              c.device_family, live->platform, live->device_family);
  return !pin.mismatch && std::find(roles.begin(), roles.end(), c.role) != roles.end() &&
         core::role_scopes_allow(c.role, g.scopes, core::merge_unique({&live->approved_scopes}));
}

// NOT_PAIRED / PAIRING_REQUIRED with the request to approve (the one filed, else the device's
// other pending one), and close 1008.
void Gateway::refuse_unpaired(Connection& s, const std::string& req_id, const ConnectRequest& c,
                              const ConnectGrant& g, PairingReason reason,
                              const core::PairedDevice* existing,
                              const core::PendingDevice& filed) {
  std::string recovery;
  if (devices_.pending(filed.request_id)) {
    recovery = filed.request_id;
    // A silent approval that did not happen leaves a request operators have not been told of.
    if (filed.silent) broadcast("device.pair.requested", core::DeviceStore::public_pending(filed));
  } else {
    for (const auto& p : devices_.list_pending())
      if (p.device_id == g.device_id && p.public_key == g.device_public_key) {
        recovery = p.request_id;
        break;
      }
  }
  PairingFailure f;
  f.reason = reason;
  f.request_id = recovery;
  f.retry_hint = classify_client(c.client_id, c.client_mode).control_ui && c.role == "operator" &&
                 !recovery.empty();
  f.device_id = g.device_id;
  f.role = c.role;
  f.requested_scopes = g.scopes;
  if (existing && existing->public_key == g.device_public_key) {
    f.approved_roles = core::approved_roles(*existing);
    f.approved_scopes = core::merge_unique({&existing->approved_scopes});
    std::sort(f.approved_scopes.begin(), f.approved_scopes.end());
  }
  log_.info("front", "pairing required for device " + g.device_id + " (" +
                         pairing_reason_name(reason) + ", request " +
                         (recovery.empty() ? "none" : recovery) + ")");
  fail_handshake(s, req_id, pairing_error(f), 1008, pairing_close_reason(f));
}

}  // namespace clawgate::front
