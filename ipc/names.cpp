// IPC enum names: see names.hpp.
#include "names.hpp"

#include <capnp/schema.h>

namespace clawgate::ipc {

const char* name_of(ChatRole r) {
  switch (r) {
    case ChatRole::USER:
      return "user";
    case ChatRole::ASSISTANT:
      return "assistant";
    case ChatRole::SYSTEM:
      return "system";
  }
  return nullptr;
}

const char* name_of(RunKind k) {
  switch (k) {
    case RunKind::CHAT:
      return "chat";
    case RunKind::AGENT:
      return "agent";
    case RunKind::CHANNEL:
      return "channel";
    case RunKind::CRON:
      return "cron";
    case RunKind::HEARTBEAT:
      return "heartbeat";
  }
  return nullptr;
}

const char* name_of(RunStream s) {
  switch (s) {
    case RunStream::LIFECYCLE:
      return "lifecycle";
    case RunStream::ASSISTANT:
      return "assistant";
  }
  return nullptr;
}

const char* name_of(RunPhase p) {
  switch (p) {
    case RunPhase::NONE:
      return "";
    case RunPhase::START:
      return "start";
  }
  return nullptr;
}

const char* name_of(ChildRole r) {
  switch (r) {
    case ChildRole::FRONT:
      return "front";
    case ChildRole::AGENT:
      return "agent";
    case ChildRole::CHANNEL:
      return "channel";
  }
  return nullptr;
}

const char* name_of(ChatType t) {
  switch (t) {
    case ChatType::DIRECT:
      return "direct";
    case ChatType::GROUP:
      return "group";
    case ChatType::CHANNEL:
      return "channel";
  }
  return nullptr;
}

const char* name_of(NodeToolAction a) {
  switch (a) {
    case NodeToolAction::STATUS:
      return "status";
    case NodeToolAction::DESCRIBE:
      return "describe";
    case NodeToolAction::INVOKE:
      return "invoke";
  }
  return nullptr;
}

namespace {
// The enumerant whose name_of() is `word`, among every one the schema has.
template <typename E>
std::optional<E> parse(std::string_view word) {
  const unsigned count = capnp::Schema::from<E>().getEnumerants().size();
  for (unsigned v = 0; v < count; ++v) {
    const char* n = name_of(static_cast<E>(v));
    if (n && word == n) return static_cast<E>(v);
  }
  return std::nullopt;
}
}  // namespace

std::optional<ChatRole> parse_chat_role(std::string_view word) {
  return parse<ChatRole>(word);
}

std::optional<RunKind> parse_run_kind(std::string_view word) {
  return parse<RunKind>(word);
}

std::optional<ChildRole> parse_child_role(std::string_view word) {
  return parse<ChildRole>(word);
}

std::optional<NodeToolAction> parse_node_tool_action(std::string_view word) {
  return parse<NodeToolAction>(word);
}

}  // namespace clawgate::ipc
