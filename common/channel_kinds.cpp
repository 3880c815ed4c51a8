// Channel kinds: see channel_kinds.hpp. Labels as OpenClaw's UI shows them; credentials and
// their environment variables as upstream's docs name them.
#include "channel_kinds.hpp"

#include "channel_config.hpp"

namespace clawgate {

const std::vector<ChannelKind>& channel_kinds() {
  static const std::vector<ChannelKind> kKinds = {
      {"telegram",
       "Telegram",
       "Bot API",
       "polling",
       &read_telegram_section,
       {{{"botToken", "tokenFile"}, "TELEGRAM_BOT_TOKEN"}}},
      {"whatsapp", "WhatsApp", "WhatsApp Web", "", nullptr, {}},
      {"discord",
       "Discord",
       "Bot",
       "gateway",
       &read_discord_section,
       {{{"token"}, "DISCORD_BOT_TOKEN"}}},
      {"slack",
       "Slack",
       "Socket Mode",
       "socket",
       &read_slack_section,
       {{{"botToken"}, "SLACK_BOT_TOKEN"},
        {{"appToken"}, "SLACK_APP_TOKEN", "socket"},
        {{"signingSecret"}, "", "http"}}},
      {"signal", "Signal", "signal-cli", "", nullptr, {}},
      {"imessage", "iMessage", "imsg", "", nullptr, {}},
      {"webchat", "WebChat", "Gateway WebSocket", "", nullptr, {}},
  };
  return kKinds;
}

const ChannelKind* channel_kind(const std::string& name) {
  for (const auto& k : channel_kinds())
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
