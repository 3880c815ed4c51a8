// NodeTools: the agent's `nodes` tool served by the node service. The agent acts as an operator
// with operator.read and operator.write (never admin): status is node.list, describe is
// node.describe, invoke is node.invoke with every check operators meet (the command policy,
// the node's approved surface, the system.run parameter gate, the timeout, DISCONNECTED when
// the node goes). The node is named by id or display name (case-insensitive) or left out when
// exactly one node can be offered. Results reach the model as JSON text of at most
// contract::tools::kMaxResultBytes, strings longer than kMaxStringBytes (media in base64)
// replaced by a note saying how long they were.
// Fails: every request ends in one Outcome; refusals and node errors are error outcomes with
// the message an operator would get.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/agent_tools.hpp"
#include "core/nodes.hpp"

namespace clawgate::core {

class NodeTools final : public AgentTools {
 public:
  static constexpr size_t kMaxStringBytes = 16 << 10;
  using IdSource = std::function<std::string()>;

  NodeTools(NodeService& nodes, IdSource new_id) : nodes_(nodes), new_id_(std::move(new_id)) {}

  std::vector<AgentLink::NodeOffer> node_offers() const override;
  void call_node(const AgentLink::NodeRequest& rq, const std::string& session_key,
                 Done done) override;

  // The caller the agent is to the node service.
  static NodeCaller agent_caller();
  // A result as the model reads it: long strings elided, the whole cut to the bound.
  static std::string model_text(const nlohmann::json& result);

 private:
  // The connected node `query` names, or why none does.
  Result<const NodeSession*> resolve(const std::string& query) const;
  void invoke(const AgentLink::NodeRequest& rq, const NodeSession& s,
              const std::string& session_key, Done done);

  NodeService& nodes_;
  IdSource new_id_;
};

}  // namespace clawgate::core
