// The words of the IPC enums (ChatRole, RunKind, RunStream, RunPhase, ChildRole, ChatType,
// NodeToolAction) as the
// JSON protocol, transcripts, config and logs spell them, and back. The links carry the enums;
// words exist only on the far side of these functions. Every switch is exhaustive (-Wswitch), so
// a new enumerant does not build until it has its word.
// Fails: name_of() returns nullptr for a value this build does not know (capnp lets a peer send
// any 16-bit value): the caller treats that message as garbage (refuses it, or ends the link),
// never guesses. parse_*() return nullopt for a word that is not one of them.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "agent.capnp.h"
#include "common.capnp.h"
#include "data.capnp.h"

namespace clawgate::ipc {

const char* name_of(ChatRole r);        // user | assistant | system
const char* name_of(RunKind k);         // chat | agent | channel | cron | heartbeat
const char* name_of(RunStream s);       // lifecycle | assistant
const char* name_of(RunPhase p);        // "" (none) | start
const char* name_of(ChildRole r);       // front | agent | channel
const char* name_of(ChatType t);        // direct | group | channel
const char* name_of(NodeToolAction a);  // status | describe | invoke (the nodes tool's actions)

std::optional<ChatRole> parse_chat_role(std::string_view word);
std::optional<RunKind> parse_run_kind(std::string_view word);
std::optional<ChildRole> parse_child_role(std::string_view word);
std::optional<NodeToolAction> parse_node_tool_action(std::string_view word);

// "unknown <what> <number>", for the error that refuses a value name_of() does not know.
template <typename E>
std::string unknown_value(const char* what, E value) {
  return std::string("unknown ") + what + " " + std::to_string(static_cast<unsigned>(value));
}

}  // namespace clawgate::ipc
