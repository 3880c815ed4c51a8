// Group access: what happens to a message from a group chat on any channel, OpenClaw's model.
//   1. The group's entry: groups.<key>, else groups."*" (an exact entry replaces "*"); the key is
//      the chat id (a thread without its own entry: its parent's), or, where groups are groups
//      of chats (Discord guilds), the group's id or else the slug of its name.
//      enabled: false drops the message. A group of chats with a `channels` map admits only
//      the chats listed there (by id, name or slug; a thread by its own id, else as its parent
//      chat; or "*"), each of which may be disabled too.
//   2. Senders: the chat entry's users, else the group entry's allowFrom/users or roles (either
//      one matching), when set, must list the sender.
//   3. groupPolicy (the entry's, else the channel's; default allowlist): disabled drops all;
//      with a non-empty `groups` map (or allowlist) only listed groups (or "*") pass.
//   4. allowlist, where the channel falls back to its DM lists (Telegram): the sender must be in
//      groupAllowFrom, else allowFrom, unless the entry has its own list; a chat listed by its
//      own id with no sender list at all lets everyone in. DM pairing approvals never count.
//   5. Mention gating: requireMention (the chat entry's, else the exact group entry's, else "*",
//      else true). A message that is not addressed to the bot (mention, reply to the bot,
//      command for the bot) is context only.
// Pure function of the settings and the message facts; never throws.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"

namespace clawgate::core {

struct GroupFacts {
  GroupFacts() = default;
  GroupFacts(std::string chat, std::string sender, bool addressed_)
      : chat_id(std::move(chat)), sender_id(std::move(sender)), addressed(addressed_) {}
  std::string chat_id, sender_id;
  bool addressed = false;      // mentioned, a reply to the bot, or a command for the bot
  std::string group_id;        // the chat's group (Discord guild), "" for none
  std::string parent_chat_id;  // a thread's parent chat, "" for none
  std::vector<std::string> sender_roles;
  // Names, where config keys may be names (Discord), "" when unknown.
  std::string group_name, chat_name, parent_chat_name;
};

struct GroupDecision {
  enum Kind { drop, context, trigger } kind = drop;
  std::string reason;  // for drop and context: why, for the log
};

GroupDecision decide_group(const ChannelSettings& c, const GroupFacts& f);

// The group's own entry (step 1 without "*"), nullptr when none; `key` gets the key it is under.
const GroupEntry* group_entry(const ChannelSettings& c, const GroupFacts& f,
                              std::string* key = nullptr);

// True when `list` names `sender_id` exactly or holds "*".
bool sender_listed(const std::vector<std::string>& list, const std::string& sender_id);

}  // namespace clawgate::core
