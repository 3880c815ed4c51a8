// Channel kinds: see channel_kinds.hpp. Labels as OpenClaw's UI shows them.
#include "channel_kinds.hpp"

#include <array>

namespace clawgate {

namespace {
constexpr std::array<ChannelKind, 7> kKinds = {{
    {"telegram", "Telegram", "Bot API"},
    {"whatsapp", "WhatsApp", "WhatsApp Web"},
    {"discord", "Discord", "Bot"},
    {"slack", "Slack", "Socket Mode"},
    {"signal", "Signal", "signal-cli"},
    {"imessage", "iMessage", "imsg"},
    {"webchat", "WebChat", "Gateway WebSocket"},
}};
}  // namespace

const ChannelKind* channel_kind(const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return &k;
  return nullptr;
}

std::string channel_label(const std::string& name) {
  const ChannelKind* k = channel_kind(name);
  return k ? k->label : name;
}

std::string channel_detail_label(const std::string& name) {
  const ChannelKind* k = channel_kind(name);
  return k ? k->detail_label : "";
}

}  // namespace clawgate
