// Group access: what happens to a message from a group chat on any channel, OpenClaw's model.
//   1. The group's entry: groups.<chatId>, else groups."*" (an exact entry replaces "*").
//      enabled: false drops the message; its allowFrom, when set, must list the sender.
//   2. groupPolicy (the entry's, else the channel's; default allowlist): disabled drops all;
//      with a non-empty `groups` map (or allowlist) only listed chats (or "*") pass.
//   3. allowlist: the sender must be in groups.<id>.allowFrom, else groupAllowFrom, else
//      allowFrom; a chat listed by its own id with no sender list at all lets everyone in.
//      DM pairing approvals never count here.
//   4. Mention gating: requireMention (exact entry, else "*", else true). A message that is not
//      addressed to the bot (mention, reply to the bot, command for the bot) is context only.
// Pure function of the settings and the message facts; never throws.
#pragma once
#include <string>

#include "config.hpp"

namespace clawgate::core {

struct GroupFacts {
  std::string chat_id, sender_id;
  bool addressed = false;  // mentioned, a reply to the bot, or a command for the bot
};

struct GroupDecision {
  enum Kind { drop, context, trigger } kind = drop;
  std::string reason;  // for drop and context: why, for the log
};

GroupDecision decide_group(const ChannelSettings& c, const GroupFacts& f);

// True when `list` names `sender_id` exactly or holds "*".
bool sender_listed(const std::vector<std::string>& list, const std::string& sender_id);

}  // namespace clawgate::core
