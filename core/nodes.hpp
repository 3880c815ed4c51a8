// NodeService: nodes as the gateway serves them. It admits a connecting node (its declared
// surface reconciled against the approved one, node_pairing.hpp), keeps it in the registry
// (node_registry.hpp), and answers the node methods: node.list, node.describe, node.rename,
// node.pair.list/approve/reject/remove (operators), node.invoke (operators: policy, then a
// node.invoke.request to the one node connection, then its result or TIMEOUT/DISCONNECTED),
// node.invoke.result and node.event (nodes). What clients hear goes out through a NodeSink.
// Error texts and shapes are upstream's (src/gateway/server-methods/nodes*.ts).
// Fails: a method error is a Reply; a store write refused by the disk is UNAVAILABLE and
// changes nothing; nothing throws into the loop.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "clock.hpp"
#include "core/node_pairing.hpp"
#include "core/node_policy.hpp"
#include "core/node_registry.hpp"
#include "core/reply.hpp"
#include "log.hpp"
#include "protocol_gen.hpp"

namespace clawgate::core {

// Who is calling, as the front authenticated it.
struct NodeCaller {
  NodeConn conn = 0;
  int protocol = 4;
  std::string role;  // operator | node
  Strings scopes;
  std::string device_id;           // the verified device, "" without one
  bool device_token_auth = false;  // authenticated by its device token (not a shared secret)
};

// Where node news goes: the front's connections.
class NodeSink {
 public:
  virtual ~NodeSink() = default;
  // An event to one connection, without seq (node.invoke.request, node.pair.resolved to the
  // node). False when it could not be queued (gone, over its buffer).
  virtual bool send_to(NodeConn conn, const std::string& event, const nlohmann::json& payload) = 0;
  // node.pair.requested/resolved to the operators allowed to see them (dropped when slow).
  virtual void broadcast(const std::string& event, const nlohmann::json& payload) = 0;
  // Closes every node-role connection of a device (node.pair.remove).
  virtual void close_node_connections(const std::string& device_id, uint16_t code,
                                      const std::string& reason) = 0;
};

class NodeService {
 public:
  using IdSource = NodePairing::IdSource;
  NodeService(boost::asio::io_context& io, const Clock& clock, Logger& log, NodeSurfaceStore& store,
              NodeSink& sink, NodeCommandConfig commands, IdSource new_id);
  ~NodeService();
  NodeService(const NodeService&) = delete;
  NodeService& operator=(const NodeService&) = delete;

  // gateway.nodes.commands after a reload.
  void set_commands(NodeCommandConfig commands) { commands_ = std::move(commands); }

  // Connect, after device pairing: reconciles the surface (node.pair.requested/resolved go out)
  // and registers the session. Errors: UNAVAILABLE (device not paired, disk, bounds).
  Result<const NodeSession*> admit(NodeConn conn, const NodeDeclaration& d,
                                   const std::string& path_env);
  // The connection closed: its invokes fail DISCONNECTED, the surface records the time.
  void disconnect(NodeConn conn);

  // Operator methods (typed params, read from schema-checked JSON).
  Reply list(const NodeCaller& c) const;
  Reply describe(const NodeCaller& c, const schema::params::NodeDescribe& p) const;
  Reply rename(const NodeCaller& c, const schema::params::NodeRename& p);
  Reply pair_list(const NodeCaller& c) const;
  Reply pair_approve(const NodeCaller& c, const schema::params::NodePairApprove& p);
  Reply pair_reject(const NodeCaller& c, const schema::params::NodePairReject& p);
  Reply pair_remove(const NodeCaller& c, const schema::params::NodePairRemove& p);
  // Answers through `reply` once: at once on a refusal, else on the node's result, TIMEOUT or
  // DISCONNECTED.
  void invoke(const NodeCaller& c, const schema::params::NodeInvoke& p, const ReplyFn& reply);
  // The commands of `s` that node.invoke would run for `c` now (public, sorted): what the
  // agent's node tools offer (node_tools.hpp).
  Strings invocable(const NodeCaller& c, const NodeSession& s) const;
  // Node methods.
  Reply invoke_result(const NodeCaller& c, const schema::params::NodeInvokeResult& p);
  Reply event(const NodeCaller& c, const schema::params::NodeEvent& p);

  // node.invoke.result params as upstream reads them before validating: payloadJSON null
  // dropped, a non-string payloadJSON moved to payload, error null dropped.
  static nlohmann::json normalize_invoke_result(nlohmann::json params);

  // Fails overdue invokes now (the timer does this too).
  void expire_invokes();
  NodeRegistry& registry() { return registry_; }
  NodePairing& pairing() { return pairing_; }

 private:
  nlohmann::json catalog(const NodeCaller& c, const std::string* only) const;
  // node.invoke's checks, in upstream's order: the command for this caller, then for the node
  // (surface approval, the platform allowlist, what the node declared).
  Result<void> check_command(const NodeCaller& c, const std::string& command) const;
  Result<void> check_on_node(const NodeSession& s, const std::string& command) const;
  void arm_timer();
  void announce(const SurfaceReconcile& r);

  const Clock& clock_;
  Logger& log_;
  NodeSurfaceStore& store_;
  NodeSink& sink_;
  NodeCommandConfig commands_;
  IdSource new_id_;
  NodePairing pairing_;
  NodeRegistry registry_;
  boost::asio::steady_timer timer_;
  std::optional<int64_t> armed_for_;
  // Set while alive; the timer's handler checks it (the service may be gone when it fires).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clawgate::core
