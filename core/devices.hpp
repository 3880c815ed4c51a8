// DeviceStore: the gateway's device pairing state, as OpenClaw 2026.9 keeps it — pending
// pairing requests (one per device, 5 minutes from their last refresh), paired devices with
// their approved roles and scope baseline, and one bearer token per device and role.
// Files: <dir>/pending.json (requestId -> request) and <dir>/paired.json (deviceId -> record,
// tokens included), each rewritten whole with atomic_write_file (0600), so a kill -9 leaves the
// old or the new file, never a torn one. Approvals, token mints, rotations, revocations and
// removals are on disk before they return; last-used / last-seen stamps are kept in memory and
// written by flush() (losing them to a crash loses nothing that authorises).
// Rules (upstream file:function): requests and refresh-vs-supersede
// (device-pairing-core.kernel: requestDevicePairingInWorker), approval with the caller-scope
// check (approveDevicePairingInWorker), token verify/ensure/rotate/revoke
// (device-pairing-tokens.kernel).
// Fails: load() never throws on bad content: a damaged file is renamed aside
// (<file>.damaged-<ms>) and reported, a malformed record is skipped and reported. Mutations
// throw std::system_error when the disk refuses a write, and then change nothing in memory.
// Policy refusals are values (outcome structs), never exceptions. Every string and list is
// bounded (kMax*), every count too.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "core/scopes.hpp"
#include "error.hpp"

namespace clawgate::core {

inline constexpr int64_t kPairingPendingTtlMs = 300'000;

struct DeviceToken {
  std::string token;  // 32 random bytes, base64url
  std::string role;
  Scopes scopes;
  int64_t created_at_ms = 0;
  std::optional<int64_t> rotated_at_ms, revoked_at_ms, last_used_at_ms;
};

// Optional text fields are "" when absent (they are never sent empty).
// What a device says about itself: kept alike on its pairing request and its paired record.
struct DeviceIdentity {
  std::string device_id, public_key;
  std::string display_name, platform, device_family, client_id, client_mode, browser_origin;
  std::string role;
  Scopes roles;
  std::string remote_ip;
};

struct PendingDevice : DeviceIdentity {
  std::string request_id;
  Scopes scopes;
  bool silent = false, is_repair = false;
  int64_t ts = 0;
  std::optional<int64_t> refreshed_at_ms;  // internal, never published
};

struct PairedDevice : DeviceIdentity {
  Scopes approved_scopes;  // the baseline ("scopes" and "approvedScopes" on disk)
  std::map<std::string, DeviceToken> tokens;  // by role
  std::string approved_via;                   // owner | silent | ""
  std::string operator_label;
  // Node command-surface pairing state: kept opaque here, owned by the node registry.
  nlohmann::json node_surface, pending_node_surface;  // null when absent
  int64_t created_at_ms = 0, approved_at_ms = 0;
  std::optional<int64_t> last_seen_at_ms;
  std::string last_seen_reason;
};

// Approved roles (roles ∪ role).
Scopes approved_roles(const PairedDevice& d);
// Roles holding a non-revoked token that are also approved (listEffectivePairedDeviceRoles).
Scopes effective_roles(const PairedDevice& d);

// What a connecting device asks for.
struct DevicePairingRequest {
  std::string device_id, public_key;  // verified, normalized
  std::string display_name, platform, device_family, client_id, client_mode, browser_origin;
  std::string role;
  Scopes scopes;
  std::string remote_ip;
  bool silent = false;
};

struct DevicePairingRequested {
  PendingDevice request;
  bool created = false;  // false: an existing request was refreshed
  int64_t expires_at_ms = 0;
  struct Superseded {
    std::string request_id, device_id;
  };
  std::vector<Superseded> superseded;  // each is resolved as "rejected"
};

// What a connect records about a paired device (touch), and what a silent (inline) approval
// records about the connection that caused it. "" / nullopt: unchanged.
struct DeviceAccess {
  std::string display_name, remote_ip, last_seen_reason;
  std::optional<int64_t> last_seen_at_ms;
  std::string platform;  // touch only: a native app's OS version moved (metadata pin refresh)
};

struct DeviceApproval {
  enum Status { unknown, forbidden, approved } status = unknown;
  std::string message;  // forbidden: "missing scope: x", "invalid scope for requested roles: x"
  std::string request_id;
  PairedDevice device;  // approved
};

struct DeviceTokenCheck {
  bool ok = false;
  // device-not-paired | role-missing | token-missing | token-revoked | token-mismatch |
  // scope-mismatch
  std::string reason;
};

struct DeviceTokenChange {
  bool ok = false;
  // unknown-device-or-role | scope-outside-approved-baseline | caller-missing-scope
  std::string reason;
  std::string scope;  // caller-missing-scope: which
  DeviceToken token;
};

class DeviceStore {
 public:
  static constexpr size_t kMaxPending = 256;
  static constexpr size_t kMaxPaired = 1024;
  static constexpr size_t kMaxScopes = 64;
  static constexpr size_t kMaxScopeBytes = 128;
  static constexpr size_t kMaxIdBytes = 128;    // device ids are 64 hex chars
  static constexpr size_t kMaxKeyBytes = 128;   // a normalized key is 43 chars
  static constexpr size_t kMaxTextBytes = 256;  // display name (cut), platform, family
  static constexpr size_t kMaxOriginBytes = 512;
  static constexpr size_t kMaxLabelBytes = 256;  // 64 code points by the schema
  static constexpr size_t kMaxFileBytes = 16u << 20;

  // `dir` is <state>/devices (created 0700 on the first write).
  DeviceStore(std::string dir, const Clock& clock);

  // Reads both files; returns what was set aside or skipped (for the log).
  std::vector<std::string> load();

  // A pending request for a verified device: refreshes the device's single request when it
  // covers this one, else replaces all of the device's requests by one asking for the union.
  // Errors: INVALID_REQUEST for out-of-bounds input (too many scopes, a field too long);
  // UNAVAILABLE (retryable) when kMaxPending requests are waiting.
  Result<DevicePairingRequested> request(const DevicePairingRequest& req);

  // Approves `request_id` with the caller's scopes (nullopt: none were given, so an operator
  // token with scopes is refused). `approved_via` is "owner" or "silent".
  DeviceApproval approve(const std::string& request_id, const std::optional<Scopes>& caller_scopes,
                         const std::string& approved_via = "owner",
                         const std::optional<DeviceAccess>& access = std::nullopt);
  // The removed request, or nullopt when unknown.
  std::optional<PendingDevice> reject(const std::string& request_id);
  // Removes the paired device and its pending requests; false when unknown.
  bool remove(const std::string& device_id);
  // Sets operatorLabel (trimmed, non-empty, bounded); false when unknown.
  bool rename(const std::string& device_id, const std::string& label);
  // Node command-surface state (core/node_pairing.hpp owns its shape; null clears a value):
  // replaces both values of a paired device and writes paired.json. False: no such device.
  bool set_node_surfaces(const std::string& device_id, nlohmann::json surface,
                         nlohmann::json pending);
  // Takes `role` from a device: its token, that role in its pending requests, and for "node"
  // both node surfaces. A device left with no role is removed with its pending requests.
  // nullopt: no such device, or the role is not approved; else whether the record went.
  std::optional<bool> remove_role(const std::string& device_id, const std::string& role);
  // Merges connect metadata into a paired record (not written until flush()).
  void touch(const std::string& device_id, const DeviceAccess& access);

  // Device-token auth: the token for `role`, not revoked, equal (constant time), within the
  // approved baseline, covering `scopes`. Stamps lastUsedAtMs (not written until flush()).
  DeviceTokenCheck verify_token(const std::string& device_id, const std::string& token,
                                const std::string& role, const Scopes& scopes);
  // The token hello-ok hands out: the existing one when it still fits the baseline and covers
  // `scopes`, else a new one for exactly `scopes` (normalized). nullopt: the role is not
  // approved or the scopes leave the baseline.
  std::optional<DeviceToken> ensure_token(const std::string& device_id, const std::string& role,
                                          const Scopes& scopes);
  // A new token for `role` (scopes default to the old token's), inside the baseline and, when
  // caller_scopes is given, covered by them.
  DeviceTokenChange rotate_token(const std::string& device_id, const std::string& role,
                                 const std::optional<Scopes>& scopes,
                                 const std::optional<Scopes>& caller_scopes);
  DeviceTokenChange revoke_token(const std::string& device_id, const std::string& role,
                                 const std::optional<Scopes>& caller_scopes);

  // Lookups (expired requests pruned first).
  std::optional<PendingDevice> pending(const std::string& request_id);
  const PairedDevice* paired(const std::string& device_id) const;
  std::vector<PendingDevice> list_pending();      // newest first
  std::vector<PairedDevice> list_paired() const;  // most recently approved first

  // Writes the in-memory stamps (touch, verify_token) if any changed. Throws like mutations.
  void flush();
  bool dirty() const { return paired_dirty_; }

  // Wire views. The public request (no refreshedAtMs); a paired record without its bearer
  // tokens and approvedScopes, tokens summarised (sorted by role), `connected` when given.
  static nlohmann::json public_pending(const PendingDevice& p);
  static nlohmann::json redacted_paired(const PairedDevice& d,
                                        std::optional<bool> connected = std::nullopt);

  const std::string& dir() const { return dir_; }

 private:
  using PendingMap = std::map<std::string, PendingDevice>;
  using PairedMap = std::map<std::string, PairedDevice>;
  void prune();
  void write_pending(const PendingMap& m);
  void write_paired(const PairedMap& m);
  std::vector<std::string> load_file(const std::string& name, bool pending);

  std::string dir_;
  const Clock& clock_;
  PendingMap pending_;
  PairedMap paired_;
  bool paired_dirty_ = false;
};

}  // namespace clawgate::core
