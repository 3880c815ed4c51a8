// AgentTools: what the model's tools reach in the gateway, as RunManager sees it. RunManager
// asks it which nodes to offer a run and hands it each node request the agent worker read from
// the model; the front implements it over its node service (node_tools.hpp), so the core needs
// no knowledge of connections. No AgentTools attached: no tools are offered.
// Fails: call_node answers every request exactly once through `done` (an error outcome for a
// refusal, a timeout or a node that went away), never throws.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/agent_link.hpp"

namespace clawgate::core {

class AgentTools {
 public:
  virtual ~AgentTools() = default;
  // How a tool call ended, as the model reads it and tool events show it.
  struct Outcome {
    bool is_error = false;
    std::string text;  // JSON text of the result, or the error's message
    std::string meta;  // a short summary: "system.which on Kitchen Mac"
  };
  using Done = std::function<void(Outcome)>;

  // The nodes a run may use now, with the commands the agent may run on each.
  virtual std::vector<AgentLink::NodeOffer> node_offers() const = 0;
  // Runs one request of a run in `session_key`; `done` once, now or later.
  virtual void call_node(const AgentLink::NodeRequest& rq, const std::string& session_key,
                         Done done) = 0;
};

}  // namespace clawgate::core
