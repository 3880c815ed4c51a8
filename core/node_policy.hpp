// Node command policy, as OpenClaw 2026.9 applies it (src/gateway/node-command-policy.ts,
// src/infra/node-commands.ts, node-pairing-authz.ts, the node.invoke handler's checks): which
// commands a node of a platform may declare (pairing) and run (invoke), the
// gateway.nodes.commands.allow/deny shaping, the operator scopes a surface approval needs, the
// operator-facing rejection hints, and the system.run parameter gate that keeps approval flags
// from being smuggled through node.invoke.
// Platform ids come from client.platform and client.deviceFamily, trimmed and lowercased.
// Upstream also NFKD-normalises them and strips marks; clawgate does not, so a platform spelt
// with accents or full-width letters is "unknown", whose list is the narrowest (fails closed).
// Pure functions; never throw except std::bad_alloc.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace clawgate::core {

using Strings = std::vector<std::string>;
using CommandSet = std::set<std::string>;
// A node's declared permissions (name -> granted), as connect sends them.
using Permissions = std::map<std::string, bool>;

// gateway.nodes.commands: extra commands allowed (dangerous ones need this), commands denied
// (deny always wins).
struct NodeCommandConfig {
  Strings allow, deny;
};

// What the policy looks at: the node's platform metadata, its caps and commands (talk
// detection), and at invoke time its approved effective commands.
struct PolicyNode {
  std::string platform, device_family;
  Strings caps, commands;
  // Invoke time: the effective commands (desktop host commands are allowed only when in it).
  std::optional<Strings> approved_commands;
};

// ios | watchos | android | macos | windows | linux | unknown.
std::string normalize_platform_id(std::string_view platform, std::string_view device_family);

// The commands a node may run (node.invoke): the platform's defaults without desktop host
// commands, talk and watch extras, the approved desktop host commands, plus allow, without
// dangerous commands not in allow, minus deny, minus private worker.* controls.
CommandSet command_allowlist(const NodeCommandConfig& cfg, const PolicyNode& node);
// The commands a node may declare for approval: as above, but keeping the platform's desktop
// host commands and the dangerous ones (an operator still approves them; allow/deny still
// gate invocation).
CommandSet pairing_command_allowlist(const NodeCommandConfig& cfg, const PolicyNode& node);

// Declared commands trimmed, blanks, duplicates and private controls dropped, first-seen order,
// kept only when in `allowlist`.
Strings normalize_declared_commands(const Strings& declared, const CommandSet& allowlist);
// Trimmed, blanks and duplicates dropped, first-seen order.
Strings normalize_surface_list(const Strings& items);
// Drops a capability (camera, computer, location, screen) whose family's commands were all
// withheld by policy.
Strings retain_fulfilled_caps(const Strings& caps, const Strings& admitted,
                              const Strings& withheld);

bool is_private_node_command(std::string_view command);  // worker.*.v1 controls
bool is_admin_only_invoke_command(std::string_view command);
bool is_dangerous_node_command(std::string_view command);

struct CommandCheck {
  bool ok = false;
  // command required | command not allowlisted | node did not declare commands |
  // command not declared by node
  std::string reason;
};
// `effective` is the node's effective (approved ∩ declared) command list.
CommandCheck check_node_command(const std::string& command, const Strings& effective,
                                const CommandSet& allowlist);
// The operator-facing message for a refused command (buildNodeCommandRejectionHint).
// `declared` is what the node declared (pending approval is told apart from unsupported).
std::string command_rejection_hint(const std::string& reason, const std::string& command,
                                   const std::string& platform, const Strings& declared,
                                   const NodeCommandConfig& cfg);

// The operator scopes approving a surface with these commands needs: operator.pairing, plus
// operator.admin for host commands (system.run, fs.listDir, browser.proxy, ...), else
// operator.write when there is any command.
Strings approve_scopes(const Strings& commands);

// system.run parameters as forwarded to the node: only the known keys. A request carrying
// approval flags (approved, approvalDecision, approvalSource) is refused: clawgate keeps no
// exec approval records, so nothing could vouch for them. Errors are INVALID_REQUEST with
// details.code (INVALID_APPROVAL_SOURCE, APPROVAL_SOURCE_MISMATCH, MISSING_RUN_ID,
// APPROVALS_UNAVAILABLE, MISSING_COMMAND).
Result<nlohmann::json> sanitize_system_run_params(const nlohmann::json& params);

}  // namespace clawgate::core
