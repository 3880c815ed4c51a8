// NodeRegistry: the nodes connected right now, one session per node id (a newer connection of
// the same node replaces the older one, as upstream's node-registry.ts does), and the
// node.invoke calls waiting for a node's node.invoke.result, each with its deadline in the
// injected clock's steady time. It decides nothing about policy (node_policy.hpp) or pairing
// (node_pairing.hpp) and does no I/O: the caller sends the node.invoke.request it returns and
// arms a timer for next_deadline().
// Outcomes: a result from the same node on the same connection settles an invoke once; a
// late, repeated or foreign result is "ignored"; a closing (or replaced) connection fails its
// invokes DISCONNECTED; expire() fails overdue ones TIMEOUT. Done callbacks run after the
// registry's state is updated, so they may call back in.
// Fails: never throws except std::bad_alloc; over a bound (kMax*) a call is refused with an
// Error, never queued.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "clock.hpp"
#include "core/node_policy.hpp"
#include "error.hpp"

namespace clawgate::core {

using NodeConn = uint64_t;  // the front's connection id

struct NodeSession {
  NodeConn conn = 0;
  std::string node_id;  // the device id
  std::string client_id, client_mode, display_name, platform, version, core_version, ui_version,
      device_family, model_identifier, remote_ip, path_env;
  Strings declared_caps, declared_commands;  // declared ∩ the pairing allowlist
  std::optional<Permissions> declared_permissions;
  Strings caps, commands;  // effective: approved ∩ declared
  std::optional<Permissions> permissions;
  int64_t connected_at_ms = 0;
  nlohmann::json host_stats;  // the last node.host.stats with updatedAtMs; null before
};

// How a node.invoke ended.
struct InvokeOutcome {
  bool ok = false;
  nlohmann::json payload;  // null when absent
  std::optional<std::string> payload_json;
  nlohmann::json error;     // the node's {code?, message?}, or null
  bool dispatched = false;  // the request reached the node's socket
};
using InvokeDone = std::function<void(const InvokeOutcome&)>;

class NodeRegistry {
 public:
  static constexpr size_t kMaxNodes = 4096;
  static constexpr size_t kMaxPendingPerNode = 256;
  static constexpr size_t kMaxPending = 8192;
  static constexpr int64_t kDefaultTimeoutMs = 30'000;
  static constexpr int64_t kMaxTimeoutMs = 2'147'000'000;  // upstream's timer ceiling

  explicit NodeRegistry(const Clock& clock) : clock_(clock) {}

  // Makes `s` its node's current session. The connection it replaces (if any) is returned; its
  // invokes have failed DISCONNECTED. Errors: UNAVAILABLE when kMaxNodes are connected.
  Result<std::optional<NodeConn>> add(NodeSession s);
  // The session `conn` held, if it was its node's current one; its invokes fail DISCONNECTED.
  std::optional<NodeSession> remove(NodeConn conn);

  const NodeSession* by_node(const std::string& node_id) const;
  const NodeSession* by_conn(NodeConn conn) const;
  std::vector<const NodeSession*> sessions() const;  // by node id
  size_t size() const { return nodes_.size(); }

  // After an approval: the live session's effective surface becomes approved ∩ declared.
  // Returns the updated session, nullptr when the node is not connected.
  const NodeSession* approve_surface(const std::string& node_id, const Strings& caps,
                                     const Strings& commands,
                                     const std::optional<Permissions>& permissions);

  // A node.invoke to send: the node.invoke.request payload (id is a fresh invoke id) and its
  // deadline. `params` absent: no paramsJSON (upstream's null is not valid on the wire).
  // timeout_ms 0 waits up to kMaxTimeoutMs. Errors: UNAVAILABLE (node not connected, bounds).
  struct Dispatch {
    std::string id;
    nlohmann::json request;  // NodeInvokeRequestEvent
    NodeConn conn = 0;
  };
  Result<Dispatch> begin_invoke(const std::string& node_id, const std::string& command,
                                const std::optional<nlohmann::json>& params, int64_t timeout_ms,
                                const std::string& idempotency_key, const std::string& id,
                                InvokeDone done);
  // The request was handed to the socket (or not: then it fails UNAVAILABLE at once).
  void dispatched(const std::string& id, bool sent);

  // node.invoke.result from `conn`: true when it settled a waiting invoke of that node and
  // connection, false when there was none (late, repeated, foreign).
  bool settle(NodeConn conn, const std::string& id, const std::string& node_id, bool ok,
              nlohmann::json payload, std::optional<std::string> payload_json,
              nlohmann::json error);
  // Fails every invoke whose deadline has passed; returns how many.
  size_t expire();
  std::optional<int64_t> next_deadline() const;  // steady ms
  size_t pending() const { return invokes_.size(); }

  // node.event {event, payloadJSON} from `conn` -> NodeEventResult. node.host.stats is checked
  // (upstream's closed schema) and kept as the session's host_stats; every other event is
  // "unsupported_event".
  nlohmann::json handle_event(NodeConn conn, const std::string& event,
                              const std::optional<std::string>& payload_json);

 private:
  struct Invoke {
    std::string node_id, command;
    NodeConn conn = 0;
    int64_t deadline = 0;  // steady ms
    bool dispatched = false;
    InvokeDone done;
  };
  void fail(std::vector<std::pair<InvokeDone, InvokeOutcome>>& out, const std::string& id,
            const char* code, const std::string& message);
  void drop_conn_invokes(NodeConn conn, std::vector<std::pair<InvokeDone, InvokeOutcome>>& out);
  static void run(std::vector<std::pair<InvokeDone, InvokeOutcome>>& done);

  const Clock& clock_;
  std::map<std::string, NodeSession> nodes_;           // by node id
  std::unordered_map<NodeConn, std::string> by_conn_;  // current sessions only
  std::unordered_map<std::string, Invoke> invokes_;    // by invoke id
  std::multimap<int64_t, std::string> deadlines_;      // deadline -> invoke id
};

// node.invoke's answer from an outcome: {ok, nodeId, command, payload, payloadJSON} or
// UNAVAILABLE "<code>: <message>" with details {nodeError, nodeCommandDispatched}.
struct InvokeAnswer {
  bool ok = false;
  nlohmann::json payload;  // ok
  Error error;             // !ok
};
InvokeAnswer invoke_answer(const std::string& node_id, const std::string& command,
                           const InvokeOutcome& outcome);

// Parses a node's JSON text with a nesting bound; nullopt when it is not JSON or too deep.
std::optional<nlohmann::json> parse_node_json(const std::string& text, int max_depth = 64);

}  // namespace clawgate::core
