// The `nodes` tool, as the model is offered it: upstream's one tool for paired devices
// (src/agents/tools/nodes-tool.ts), named and shaped as there, with the actions clawgate can
// serve: status, describe, invoke (any command by invokeCommand + invokeParamsJson), and
// upstream's shortcuts for single commands (location_get, camera_snap, which, notify, ...),
// each offered only when some connected node has its command. The description names the
// connected nodes and their commands, so the model needs no status call first.
// read_nodes_call() turns a call's arguments (hostile text from the model) into the typed
// request the front runs; anything it cannot read is an INVALID_REQUEST whose message the model
// gets as the call's error result.
// Fails: nothing throws; bounds: the description stays under kMaxDescriptionBytes, params under
// contract::tools::kMaxParamsBytes, timeouts at most kMaxTimeoutMs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "agent.capnp.h"
#include "error.hpp"
#include "providers.hpp"

namespace clawgate::workers {

inline constexpr const char* kNodesToolName = "nodes";

// A connected node the front offers (agent.capnp NodeOffer).
struct NodeOffer {
  std::string node_id, display_name, platform;
  std::vector<std::string> commands;
};

// What the front is asked to run (agent.capnp NodeToolRequest).
struct NodeCall {
  ipc::NodeToolAction action = ipc::NodeToolAction::STATUS;
  std::string node, command, params_json;
  uint32_t timeout_ms = 0;  // 0: node.invoke's default
};

inline constexpr size_t kMaxDescriptionBytes = 8192;
inline constexpr uint32_t kMaxTimeoutMs = 600'000;

// The tool for these nodes; no nodes, no tool (an empty name).
ToolSpec nodes_tool(const std::vector<NodeOffer>& nodes);
// A `nodes` call's arguments ("" counts as {}) read into the request, or why not.
Result<NodeCall> read_nodes_call(const std::string& arguments);

}  // namespace clawgate::workers
