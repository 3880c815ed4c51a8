// The contract between the supervisor and the processes it starts, in one place: the file
// descriptors a child inherits, the environment variables that carry its identity and settings,
// and the limits of each kind of link. Both sides include this; nothing else spells these.
// Fails: nothing here fails; a child that finds its environment incomplete says which name
// is missing (ChildControl::from_environment, the workers' mains).
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>

#include "link.hpp"

namespace clawgate::ipc::contract {

// Descriptors every child inherits (the supervisor dup2()s them into place before exec).
inline constexpr int kControlFd = 3;  // the child's control socket to the supervisor
inline constexpr int kListenFd = 4;   // the front only: the listening socket the supervisor holds
// The front only: a sealed memfd it reads once at start, so it never opens the config file
// (which holds every channel's token and every provider's key): {"config": the file's settings
// with each secret redacted, "snapshot": config.get's answer}.
inline constexpr int kConfigFd = 5;
inline constexpr size_t kMaxFrontConfigBytes = 32u << 20;

// Environment the supervisor sets for a child (supervisor/child_env.cpp builds the rest of it,
// with only that child's own secrets).
namespace env {
inline constexpr const char* kControlFd = "CLAWGATE_CONTROL_FD";
inline constexpr const char* kChildName = "CLAWGATE_CHILD_NAME";  // "front", "telegram:work"
inline constexpr const char* kGeneration = "CLAWGATE_GENERATION";
inline constexpr const char* kHeartbeatMs = "CLAWGATE_HEARTBEAT_MS";
inline constexpr const char* kListenFd = "CLAWGATE_LISTEN_FD";
inline constexpr const char* kConfigFd = "CLAWGATE_CONFIG_FD";
inline constexpr const char* kStateDir = "CLAWGATE_STATE_DIR";
inline constexpr const char* kAccountId = "CLAWGATE_ACCOUNT_ID";  // channel workers
}  // namespace env

// Link limits per kind: the largest message a peer may send (in 8-byte words) and how many
// unsent bytes may wait before the peer counts as stuck. Both ends of a link use the same,
// except the control link (control_link_in_child).
// Supervisor <-> child: small messages (hello, heartbeats, the children table): 1 MiB.
inline Link::Options control_link(std::string name) {
  return {128 * 1024, 16u << 20, std::move(name)};
}
// The child's end of the same link reads larger messages: the supervisor sends a child its
// settings and the front config.get's snapshot (a 1 MiB file shows up several times over,
// JSON-escaped): 32 MiB. The supervisor is the trusted end; what it reads from children stays
// bounded at 1 MiB.
inline Link::Options control_link_in_child(std::string name) {
  return {4 * 1024 * 1024, 16u << 20, std::move(name)};
}
// Front <-> channel worker: 2 MiB (an outbound message is at most 256 KiB of text).
inline Link::Options data_link(std::string name) {
  return {256 * 1024, 64u << 20, std::move(name)};
}
// Front <-> agent worker: 32 MiB (a run carries its history window, a few MiB at most).
inline Link::Options agent_link(std::string name) {
  return {4 * 1024 * 1024, 256u << 20, std::move(name)};
}

// Lists a peer may send, bounded by count as well as by the message size: a list of empty
// structs costs a word per entry, so 128 Ki words could still be 128 Ki entries.
namespace lists {
inline constexpr size_t kChildren = 1024;      // control: the children table
inline constexpr size_t kNotApplied = 64;      // control: a sandbox report's missing parts
inline constexpr size_t kMessageIds = 4096;    // data: one id per chunk of one send
inline constexpr size_t kSenderRoles = 256;    // data: an inbound sender's roles (Discord: 250)
inline constexpr size_t kRunMessages = 65536;  // agent: one run's history window
inline constexpr size_t kNodeOffers = 256;     // agent: the nodes a run's tools name
inline constexpr size_t kNodeCommands = 512;   // agent: one node's commands in its offer
inline constexpr size_t kToolCalls = 64;       // agent: the calls of one tool round
inline constexpr size_t kCredentialEnv = 8;    // control: a logout's credential variables
}  // namespace lists

// Texts of the agent link's tool messages (agent.capnp ToolRound, ToolResult), in bytes. The
// sender keeps within them (cutting or refusing what the model or a node produced); a receiver
// that meets a longer one closes the link as garbage (text_within).
namespace tools {
inline constexpr size_t kMaxRunIdBytes = 4096;          // a run id (a client's idempotencyKey)
inline constexpr size_t kMaxIdBytes = 256;              // a tool call id, a node id, a name
inline constexpr size_t kMaxArgumentsBytes = 64 << 10;  // one call's arguments (JSON text)
inline constexpr size_t kMaxParamsBytes = 64 << 10;     // one node command's params (JSON)
inline constexpr size_t kMaxResultBytes = 64 << 10;     // one result as the model reads it
inline constexpr size_t kMaxRoundTextBytes = 1 << 20;   // a round's text (an answer's bound)
}  // namespace tools

// A text read from a peer, refused (the link closes as garbage) when longer than `max` bytes.
inline std::string text_within(const char* data, size_t size, size_t max, const char* what) {
  if (size > max)
    throw std::length_error(std::string(what) + ": " + std::to_string(size) + " bytes, at most " +
                            std::to_string(max));
  return std::string(data, size);
}

// A list read from a peer, refused whole when longer than `max`: the throw reaches Link, which
// closes the link as garbage (a peer that sends this is broken or hostile).
// Returned by value (a reader is a view): a range-for over a reference to the getter's
// temporary would dangle.
template <typename List>
List bounded(List list, size_t max, const char* what) {
  if (list.size() > max)
    throw std::length_error(std::string(what) + ": " + std::to_string(list.size()) +
                            " entries, at most " + std::to_string(max));
  return list;
}

}  // namespace clawgate::ipc::contract
