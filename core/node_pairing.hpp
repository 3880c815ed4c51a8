// Node command-surface pairing, as OpenClaw 2026.9 does it (node-connect-reconcile.ts,
// device-pairing-node.records.ts, device-pairing-node.worker.ts; docs/gateway/pairing.md):
// a node that is device-paired with role "node" declares caps, commands and permissions at
// connect; the declared surface (declared ∩ the platform's pairing allowlist) waits for an
// operator's approval as a pending surface request, one per device, that never expires.
// Until approved the node's effective surface is empty; later it is approved ∩ declared, and a
// wider declaration opens a new request while the approved part stays usable.
// Both surfaces live on the paired device record ("nodeSurface", "pendingNodeSurface"), behind
// NodeSurfaceStore, so removing a device removes its surfaces and `openclaw devices list`
// shows a pending surface.
// Fails: store writes throw std::system_error (the disk refused; nothing changed); every
// policy refusal is a value. Every field is bounded (kMax*): over-long text is cut on a code
// point boundary, surplus list entries are dropped.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "core/node_policy.hpp"
#include "error.hpp"

namespace clawgate::core {

// The approved surface ("nodeSurface").
struct NodeSurface {
  std::string display_name, version, core_version, ui_version, model_identifier;
  Strings caps, commands;
  std::optional<Permissions> permissions;
  int64_t created_at_ms = 0, approved_at_ms = 0;
  std::optional<int64_t> last_connected_at_ms, last_disconnected_at_ms;
  nlohmann::json last_host_stats;  // null when none
};

// A surface waiting for approval ("pendingNodeSurface"). Text fields are "" when absent.
struct PendingNodeSurface {
  std::string request_id, revision;  // revision changes on every refresh
  std::string client_id, client_mode, display_name, platform, version, core_version, ui_version,
      device_family, model_identifier, remote_ip;
  Strings caps, commands;
  std::optional<Permissions> permissions;
  bool silent = false;  // the device itself was approved silently (local)
  int64_t ts = 0;
};

nlohmann::json surface_json(const NodeSurface& s);
nlohmann::json pending_surface_json(const PendingNodeSurface& p);
// nullopt (and `problem` set) when the stored value is not a well-formed, bounded record.
std::optional<NodeSurface> surface_from_json(const nlohmann::json& j, std::string* problem);
std::optional<PendingNodeSurface> pending_surface_from_json(const nlohmann::json& j,
                                                            std::string* problem);

// What node pairing reads from a paired device record. Text fields are "" when absent.
struct NodeDevice {
  std::string device_id, display_name, platform, device_family, client_id, client_mode, remote_ip;
  std::optional<int64_t> last_seen_at_ms;
  std::string last_seen_reason;
  int64_t approved_at_ms = 0;
  bool node_role = false;          // holds an effective node role (approved, token not revoked)
  bool approved_silently = false;  // the device pairing was approved silently (local)
  std::optional<NodeSurface> surface;
  std::optional<PendingNodeSurface> pending;
};

// Where the surfaces are kept: the paired device records.
class NodeSurfaceStore {
 public:
  virtual ~NodeSurfaceStore() = default;
  virtual std::optional<NodeDevice> device(const std::string& device_id) const = 0;
  virtual std::vector<NodeDevice> devices() const = 0;
  // Replaces both surfaces of a paired device (nullopt clears one). False: no such device.
  // Throws std::system_error when the disk refuses; nothing changes then.
  virtual bool save_surfaces(const std::string& device_id,
                             const std::optional<NodeSurface>& surface,
                             const std::optional<PendingNodeSurface>& pending) = 0;
  // Takes the node role from a device, with its surfaces and node token; a device whose only
  // role was node is removed. nullopt: no such device, or it is not a node; else whether the
  // whole record went. Throws like save_surfaces.
  virtual std::optional<bool> remove_node_role(const std::string& device_id) = 0;
};

// A node's declarations at connect (client.* fields, caps, commands, permissions).
struct NodeDeclaration {
  std::string node_id;  // the device id
  std::string client_id, client_mode, display_name, platform, version, core_version, ui_version,
      device_family, model_identifier, remote_ip;
  Strings caps, commands;
  std::optional<Permissions> permissions;
};

// node.pair.resolved: approved | rejected | removed.
struct SurfaceResolved {
  std::string request_id, node_id, decision;
  int64_t ts = 0;
  nlohmann::json json() const;
};

struct SurfaceReconcile {
  Strings declared_caps, declared_commands, withheld_commands;
  std::optional<Permissions> declared_permissions;
  Strings effective_caps, effective_commands;
  std::optional<Permissions> effective_permissions;
  std::string pending_request_id;           // "" when nothing waits for approval
  std::optional<nlohmann::json> requested;  // node.pair.requested, when a request was created
  std::vector<SurfaceResolved> resolved;    // superseded or no longer needed: "rejected"
};

struct SurfaceApproval {
  enum Status { unknown, forbidden, approved } status = unknown;
  std::string missing_scope;  // forbidden
  std::string node_id;
  NodeSurface surface;  // approved
  nlohmann::json node;  // approved: the PairedNode row
};

class NodePairing {
 public:
  static constexpr size_t kMaxCaps = 64;
  static constexpr size_t kMaxCommands = 1024;
  static constexpr size_t kMaxPermissions = 64;
  static constexpr size_t kMaxItemBytes = 256;   // a cap, command or permission name
  static constexpr size_t kMaxTextBytes = 1024;  // display name: 256 code points of any script
  static constexpr size_t kMaxShortBytes = 256;  // versions, platform, family, model, ids, IP
  static constexpr size_t kMaxHostStatsBytes = 4096;

  using IdSource = std::function<std::string()>;
  NodePairing(NodeSurfaceStore& store, const Clock& clock, IdSource new_id);

  // At connect, after device pairing: what the node declares against what was approved.
  // Opens, refreshes or reuses the device's surface request as needed; clears it when the
  // declaration no longer needs it. Errors: UNAVAILABLE when the device is not paired.
  Result<SurfaceReconcile> reconcile(const NodeDeclaration& d, const NodeCommandConfig& cfg);

  // node.pair.approve: the caller's scopes must cover approve_scopes(commands).
  SurfaceApproval approve(const std::string& request_id, const Strings& caller_scopes);
  // node.pair.reject: nullopt when unknown.
  std::optional<SurfaceResolved> reject(const std::string& request_id);
  // node.rename (display name trimmed, non-empty, cut to kMaxTextBytes): the PairedNode row,
  // nullopt when the node has no approved surface.
  std::optional<nlohmann::json> rename(const std::string& node_id, const std::string& name);
  // The node id a pending request belongs to.
  std::optional<std::string> request_owner(const std::string& request_id) const;
  // node.pair.list: {pending (newest first), paired (most recently approved first)}.
  nlohmann::json list() const;

  // Connection bookkeeping on the approved surface (no-ops without one).
  void record_connection(const std::string& node_id, int64_t at_ms);
  void record_disconnection(const std::string& node_id, int64_t connected_at_ms, int64_t at_ms,
                            const nlohmann::json& host_stats);

  static nlohmann::json public_pending(const NodeDevice& d, const PendingNodeSurface& p);
  static std::optional<nlohmann::json> paired_node(const NodeDevice& d);

 private:
  struct Requested {
    PendingNodeSurface pending;
    bool created = false;
    std::optional<std::string> superseded;  // the request it replaced
  };
  Requested request(const NodeDevice& device, const NodeDeclaration& d, const Strings& caps,
                    const Strings& commands, const std::optional<Permissions>& permissions,
                    bool silent);
  std::optional<NodeDevice> owner_of(const std::string& request_id) const;

  NodeSurfaceStore& store_;
  const Clock& clock_;
  IdSource new_id_;
};

// Bounded, trimmed copies of connect's lists and map (kMax* above).
Strings bounded_list(const Strings& items, size_t max_items);
std::optional<Permissions> bounded_permissions(const std::optional<Permissions>& p);

}  // namespace clawgate::core
