// Unit tests: connect-time device policy (wsfront/pairing_policy): device-less decisions,
// silent local pairing, the platform pin, and the exact texts of pairing and auth failures.
#include <gtest/gtest.h>

#include "pairing_policy.hpp"

namespace clawgate::front {
namespace {

TEST(PairingPolicy, ClientKinds) {
  EXPECT_TRUE(classify_client("openclaw-control-ui", "webchat").control_ui);
  EXPECT_TRUE(classify_client("openclaw-tui", "ui").control_ui);
  EXPECT_FALSE(classify_client("openclaw-browser-copilot", "ui").control_ui);
  EXPECT_TRUE(classify_client("webchat-ui", "webchat").webchat);
  EXPECT_TRUE(classify_client("test", "webchat").webchat);
  EXPECT_TRUE(classify_client("openclaw-macos", "ui").native_app_ui);
  EXPECT_FALSE(classify_client("openclaw-macos", "node").native_app_ui);
  EXPECT_TRUE(classify_client("cli", "cli").cli);
  EXPECT_FALSE(classify_client("cli", "backend").cli);
  EXPECT_TRUE(classify_client("gateway-client", "backend").backend);
}

TEST(PairingPolicy, DevicelessDecisions) {
  MissingDeviceFacts f;
  f.role = "operator";
  f.kind = classify_client("cli", "cli");
  EXPECT_EQ(evaluate_missing_device(f), MissingDevice::reject_device_required);
  f.shared_provided = true;
  EXPECT_EQ(evaluate_missing_device(f), MissingDevice::reject_unauthorized);
  f.shared_auth_ok = f.auth_ok = true;
  EXPECT_EQ(evaluate_missing_device(f), MissingDevice::allow);
  f.role = "node";
  EXPECT_EQ(evaluate_missing_device(f), MissingDevice::reject_device_required);
  // Mode none: authenticated, but no shared secret proven: a device is still required.
  MissingDeviceFacts none;
  none.role = "operator";
  none.auth_ok = true;
  EXPECT_EQ(evaluate_missing_device(none), MissingDevice::reject_device_required);
  none.local_backend = true;
  EXPECT_EQ(evaluate_missing_device(none), MissingDevice::allow);
  MissingDeviceFacts ui;
  ui.role = "operator";
  ui.kind = classify_client("openclaw-control-ui", "webchat");
  ui.shared_auth_ok = ui.auth_ok = ui.shared_provided = true;
  EXPECT_EQ(evaluate_missing_device(ui), MissingDevice::reject_control_ui);
}

SilentPairingFacts local_cli(PairingReason r) {
  SilentPairingFacts f;
  f.reason = r;
  f.local = true;
  f.kind = classify_client("cli", "cli");
  f.auth_method = "token";
  f.role = "operator";
  return f;
}

TEST(PairingPolicy, SilentOnlyLocally) {
  EXPECT_TRUE(allow_silent_pairing(local_cli(PairingReason::not_paired)));
  EXPECT_TRUE(allow_silent_pairing(local_cli(PairingReason::role_upgrade)));
  SilentPairingFacts f = local_cli(PairingReason::not_paired);
  f.local = false;
  EXPECT_FALSE(allow_silent_pairing(f)) << "remote, or proxied, or a foreign Host";
  f = local_cli(PairingReason::not_paired);
  f.auto_approve_local = false;
  EXPECT_FALSE(allow_silent_pairing(f));
  f = local_cli(PairingReason::not_paired);
  f.existing_record = true;
  f.role = "node";
  EXPECT_FALSE(allow_silent_pairing(f)) << "a node role is never added silently";
}

TEST(PairingPolicy, ScopeUpgradesNeedTheSharedSecretOrModeNone) {
  SilentPairingFacts f = local_cli(PairingReason::scope_upgrade);
  EXPECT_TRUE(allow_silent_pairing(f));
  f.auth_method = "none";
  EXPECT_TRUE(allow_silent_pairing(f));
  f.auth_method = "device-token";
  EXPECT_FALSE(allow_silent_pairing(f)) << "a device token cannot widen itself";
}

TEST(PairingPolicy, BrowsersPairSilentlyOnlyAsOurOwnWebChatOrControlUi) {
  SilentPairingFacts f = local_cli(PairingReason::not_paired);
  f.browser = true;
  f.own_page = true;
  EXPECT_FALSE(allow_silent_pairing(f)) << "a page claiming to be the CLI";
  f.kind = classify_client("webchat-ui", "webchat");
  EXPECT_TRUE(allow_silent_pairing(f));
  f.own_page = false;
  EXPECT_FALSE(allow_silent_pairing(f)) << "another origin, even an allowed one";
}

TEST(PairingPolicy, MetadataUpgradesAreSilentOnlyForLocalNativeApps) {
  SilentPairingFacts f = local_cli(PairingReason::metadata_upgrade);
  EXPECT_FALSE(allow_silent_pairing(f));
  f.kind = classify_client("openclaw-macos", "ui");
  EXPECT_TRUE(allow_silent_pairing(f));
  f.auto_approve_local = false;
  EXPECT_TRUE(allow_silent_pairing(f)) << "metadata refreshes ignore autoApproveLocal";
  f.browser = true;
  EXPECT_FALSE(allow_silent_pairing(f));
}

TEST(PairingPolicy, PlatformPin) {
  EXPECT_FALSE(pin_client_metadata("cli", "cli", "linux", std::nullopt, "linux", "").mismatch);
  EXPECT_FALSE(pin_client_metadata("cli", "cli", " Linux ", std::nullopt, "linux", "").mismatch);
  EXPECT_TRUE(pin_client_metadata("cli", "cli", "darwin", std::nullopt, "linux", "").mismatch);
  EXPECT_FALSE(pin_client_metadata("cli", "cli", "darwin", std::nullopt, "", "").mismatch)
      << "nothing pinned";
  EXPECT_TRUE(pin_client_metadata("cli", "cli", "linux", "desktop", "linux", "laptop").mismatch);
  EXPECT_TRUE(pin_client_metadata("cli", "cli", "linux", std::nullopt, "linux", "laptop").mismatch);
  // A native app's OS update is a refresh, not a change.
  MetadataPin p =
      pin_client_metadata("openclaw-macos", "ui", "macOS 15.1", std::nullopt, "macos 14.6", "");
  EXPECT_FALSE(p.mismatch);
  EXPECT_EQ(p.refresh_platform, "macOS 15.1");
  EXPECT_FALSE(pin_client_metadata("openclaw-ios", "ui", "iPadOS 18", std::nullopt, "ios 17.2", "")
                   .mismatch);
  EXPECT_TRUE(
      pin_client_metadata("openclaw-ios", "ui", "android 14", std::nullopt, "ios 17", "").mismatch);
  EXPECT_FALSE(
      pin_client_metadata("node-host", "node", "darwin", std::nullopt, "macos 14.5", "").mismatch);
  EXPECT_TRUE(
      pin_client_metadata("node-host", "node", "linux", std::nullopt, "macos 14.5", "").mismatch);
}

TEST(PairingPolicy, PairingFailureDetails) {
  PairingFailure f;
  f.reason = PairingReason::scope_upgrade;
  f.request_id = "req-1";
  f.device_id = "dev";
  f.role = "operator";
  f.requested_scopes = {"operator.admin", " "};
  f.approved_roles = {"operator"};
  const Error e = pairing_error(f);
  EXPECT_EQ(e.code, ErrorCode::NOT_PAIRED);
  EXPECT_EQ(e.message,
            "pairing required: device is asking for more scopes than currently approved");
  EXPECT_EQ(e.details["code"], "PAIRING_REQUIRED");
  EXPECT_EQ(e.details["reason"], "scope-upgrade");
  EXPECT_EQ(e.details["remediationHint"],
            "Review the requested scopes, then approve the pending upgrade.");
  EXPECT_EQ(e.details["requestedScopes"], nlohmann::json{"operator.admin"});
  EXPECT_FALSE(e.details.contains("approvedScopes")) << "empty lists are left out";
  EXPECT_FALSE(e.details.contains("pauseReconnect"));
  EXPECT_EQ(pairing_close_reason(f),
            "pairing required: device is asking for more scopes than currently approved "
            "(requestId: req-1)");
  f.retry_hint = true;
  const Error ui = pairing_error(f);
  EXPECT_EQ(ui.details["recommendedNextStep"], "wait_then_retry");
  EXPECT_EQ(ui.details["retryable"], true);
  EXPECT_EQ(ui.details["pauseReconnect"], false);
}

TEST(PairingPolicy, UnauthorizedDetails) {
  AuthFailure f;
  f.reason = "device_token_mismatch";
  f.has_device = true;
  f.device_token_sent = true;
  Error e = unauthorized_error(f);
  EXPECT_EQ(e.message, "unauthorized: device token mismatch (rotate/reissue device token)");
  EXPECT_EQ(e.details["code"], "AUTH_DEVICE_TOKEN_MISMATCH");
  EXPECT_EQ(e.details["recommendedNextStep"], "update_auth_credentials");
  EXPECT_EQ(e.details["canRetryWithDeviceToken"], false);
  f.reason = "scope_mismatch";
  e = unauthorized_error(f);
  EXPECT_EQ(e.details["code"], "AUTH_SCOPE_MISMATCH");
  EXPECT_EQ(e.details["recommendedNextStep"], "review_auth_configuration");
  AuthFailure shared{
      "token_mismatch", "unauthorized: gateway token mismatch (x)", true, true, false, false, 0};
  e = unauthorized_error(shared);
  EXPECT_EQ(e.message, "unauthorized: gateway token mismatch (x)");
  EXPECT_EQ(e.details["canRetryWithDeviceToken"], true);
  EXPECT_EQ(e.details["recommendedNextStep"], "retry_with_device_token");
  shared.device_token_sent = true;
  EXPECT_EQ(unauthorized_error(shared).details["canRetryWithDeviceToken"], false);
  AuthFailure limited{"rate_limited", "", false, false, false, false, 4200};
  e = unauthorized_error(limited);
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(e.retry_after_ms, 4200);
  EXPECT_EQ(e.details["code"], "AUTH_RATE_LIMITED");
}

}  // namespace
}  // namespace clawgate::front
