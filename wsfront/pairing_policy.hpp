// Connect-time device policy as OpenClaw 2026.9 decides it, in pure functions: which client
// kinds need a device identity, what a device-less connect gets, when a pairing request may be
// approved silently (local), the platform/deviceFamily pin of a paired device, and the exact
// error details of a pairing or authentication failure.
// Upstream: message-handler (evaluateMissingDeviceIdentity, resolvePinnedClientMetadata,
// authorizeGatewayConnectDevice), node-connect-reconcile (shouldAllowSilentLocalPairing,
// resolveUnauthorizedHandshakeContext), connect-error-details (pairing messages and details).
// Never throws except std::bad_alloc.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "error.hpp"

namespace clawgate::front {

// What a client says it is (client.id / client.mode), as pairing policy sees it.
struct ClientKind {
  bool control_ui = false;     // openclaw-control-ui, openclaw-tui
  bool webchat = false;        // mode webchat, or id webchat-ui
  bool native_app_ui = false;  // mode ui and a macOS/Linux/iOS/Android app id
  bool cli = false;            // cli/cli
  bool backend = false;        // gateway-client/backend
};
ClientKind classify_client(const std::string& id, const std::string& mode);

// A connect without a device block (handleMissingDeviceIdentity).
enum class MissingDevice { allow, reject_control_ui, reject_unauthorized, reject_device_required };
struct MissingDeviceFacts {
  std::string role;
  ClientKind kind;
  bool local_backend = false;    // a local gateway-client/backend that proved itself (or mode none)
  bool shared_auth_ok = false;   // the shared token/password matched (not mode none)
  bool auth_ok = false;          // authentication passed (mode none included)
  bool shared_provided = false;  // auth.token or auth.password was sent
};
MissingDevice evaluate_missing_device(const MissingDeviceFacts& f);

// Why pairing is needed (ConnectPairingRequiredReasons).
enum class PairingReason { not_paired, role_upgrade, scope_upgrade, metadata_upgrade };
const char* pairing_reason_name(PairingReason r);  // "not-paired", ...

struct SilentPairingFacts {
  PairingReason reason = PairingReason::not_paired;
  bool local = false;     // direct_local: loopback peer, local Host, no forwarding headers
  bool browser = false;   // an Origin header came with the upgrade
  bool own_page = false;  // ... and it is this gateway's own page (same origin, local)
  ClientKind kind;
  std::string auth_method;         // none | token | password | device-token
  bool auto_approve_local = true;  // gateway.nodes.pairing.autoApproveLocal
  bool existing_record = false;    // the device id has a paired record already
  std::string role;
};
// shouldAllowSilentLocalPairing, plus: a node role is never added silently to an existing
// record, and a browser page counts only when it is this gateway's own (never a foreign
// origin, even an allowed one).
bool allow_silent_pairing(const SilentPairingFacts& f);

// The platform / deviceFamily pin of a paired record against what the client claims now.
struct MetadataPin {
  bool mismatch = false;
  std::string refresh_platform;  // a native app's OS version moved: store this platform
};
MetadataPin pin_client_metadata(const std::string& client_id, const std::string& client_mode,
                                const std::optional<std::string>& claimed_platform,
                                const std::optional<std::string>& claimed_family,
                                const std::string& paired_platform,
                                const std::string& paired_family);

// NOT_PAIRED "pairing required: <requirement>" with PAIRING_REQUIRED details; `retry_hint`
// adds recommendedNextStep wait_then_retry, retryable, pauseReconnect:false (Control UI).
struct PairingFailure {
  PairingReason reason = PairingReason::not_paired;
  std::string request_id;  // "" when none is pending
  bool retry_hint = false;
  std::string device_id, role;
  std::vector<std::string> requested_scopes, approved_roles, approved_scopes;
};
Error pairing_error(const PairingFailure& f);
// "pairing required: <requirement> (requestId: <id>)".
std::string pairing_close_reason(const PairingFailure& f);

// An authentication failure as the client is answered: INVALID_REQUEST with the upstream
// message and details {code, authReason, canRetryWithDeviceToken, recommendedNextStep};
// rate limited adds retryable and retryAfterMs.
struct AuthFailure {
  std::string reason;   // token_missing, token_mismatch, device_token_mismatch, ...
  std::string message;  // the shared-secret check's message ("" for the device-token ones)
  bool has_device = false;
  bool token_sent = false, password_sent = false, device_token_sent = false;
  int64_t retry_after_ms = 0;  // rate_limited
};
Error unauthorized_error(const AuthFailure& f);

}  // namespace clawgate::front
