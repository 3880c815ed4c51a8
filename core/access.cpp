// Group access: see access.hpp. The order of checks and their reasons follow OpenClaw's
// Telegram group access (group entry, then groupPolicy, then sender allowlist, then mentions)
// and its Discord guild access (guild entry, its channels map, users or roles, mentions).
#include "core/access.hpp"

#include <algorithm>

#include "channel_config.hpp"

namespace clawgate::core {

namespace {

const GroupChannelEntry* find_chat(const GroupEntry& g, const std::string& key) {
  if (key.empty()) return nullptr;
  const auto it = g.channels.find(key);
  return it != g.channels.end() ? &it->second : nullptr;
}

// A chat's entry in its group's channels map, as upstream looks it up: the chat by id, name or
// slug (a thread by its id only, as thread names are anyone's to choose), then its parent chat
// the same way, then "*".
const GroupChannelEntry* find_chat_entry(const GroupEntry& g, const GroupFacts& f) {
  const bool thread = !f.parent_chat_id.empty();
  const GroupChannelEntry* e = find_chat(g, f.chat_id);
  if (!e && !thread) e = find_chat(g, place_slug(f.chat_name));
  if (!e && !thread) e = find_chat(g, f.chat_name);
  if (!e && thread) e = find_chat(g, f.parent_chat_id);
  if (!e && thread) e = find_chat(g, place_slug(f.parent_chat_name));
  if (!e && thread) e = find_chat(g, f.parent_chat_name);
  if (!e) e = find_chat(g, "*");
  return e;
}

}  // namespace

bool sender_listed(const std::vector<std::string>& list, const std::string& sender_id) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& a) {
    return a == "*" || (!sender_id.empty() && a == sender_id);
  });
}

const GroupEntry* group_entry(const ChannelSettings& c, const GroupFacts& f, std::string* key) {
  auto at = [&](const std::string& k) -> const GroupEntry* {
    if (k.empty() || k == "*") return nullptr;
    const auto it = c.groups.find(k);
    if (it == c.groups.end()) return nullptr;
    if (key) *key = k;
    return &it->second;
  };
  if (c.groups_by_group_id) {
    const GroupEntry* g = at(f.group_id);
    return g ? g : at(place_slug(f.group_name));
  }
  // A thread that is its own chat (Slack: <channel>:thread:<ts>) follows its parent's entry.
  const GroupEntry* g = at(f.chat_id);
  return g ? g : at(f.parent_chat_id);
}

GroupDecision decide_group(const ChannelSettings& c, const GroupFacts& f) {
  GroupDecision d;
  std::string key;
  const std::string where = c.groups_by_group_id
                                ? c.name + " group " + f.group_id + " chat " + f.chat_id
                                : c.name + " group " + f.chat_id;
  const auto star_it = c.groups.find("*");
  const GroupEntry* exact = group_entry(c, f, &key);
  const GroupEntry* star = star_it != c.groups.end() ? &star_it->second : nullptr;
  const GroupEntry* entry = exact ? exact : star;
  const std::string entry_key = c.groups_key + "." + (exact ? key : "*");

  if (entry && entry->enabled == false) {
    d.reason = where + " is disabled (" + entry_key + ".enabled)";
    return d;
  }
  // A group of chats with a channels map: only the chats listed (a thread by its parent).
  const GroupChannelEntry* chat = nullptr;
  if (c.groups_by_group_id && entry && !entry->channels.empty()) {
    chat = find_chat_entry(*entry, f);
    if (!chat) {
      d.reason = where + " is not in " + entry_key + ".channels (add its id or name, or \"*\")";
      return d;
    }
    if (chat->enabled == false) {
      d.reason = where + " is disabled (" + entry_key + ".channels)";
      return d;
    }
  }
  if (chat && chat->allow_from) {
    if (!sender_listed(*chat->allow_from, f.sender_id)) {
      d.reason = "sender " + f.sender_id + " is not in the users of " + where;
      return d;
    }
  } else if (entry && (entry->allow_from || entry->roles)) {
    const bool by_user = entry->allow_from && sender_listed(*entry->allow_from, f.sender_id);
    const bool by_role = entry->roles && std::any_of(f.sender_roles.begin(), f.sender_roles.end(),
                                                     [&](const std::string& r) {
                                                       return sender_listed(*entry->roles, r);
                                                     });
    if (!by_user && !by_role) {
      d.reason = "sender " + f.sender_id + " is not in the allowFrom of " + where;
      return d;
    }
  }
  const std::string policy = entry && entry->group_policy ? *entry->group_policy : c.group_policy;
  if (policy == "disabled") {
    d.reason = where + ": groupPolicy is disabled";
    return d;
  }
  // The group allowlist is on with the channel's allowlist policy or any `groups` entry.
  const bool chat_list_on = c.group_policy == "allowlist" || !c.groups.empty();
  if (chat_list_on && !exact && !star) {
    d.reason = where + " is not in " + c.groups_key + " (add its id, or \"*\")";
    return d;
  }
  if (policy == "allowlist" && c.group_senders_from_allow_from) {
    const std::vector<std::string>* senders = entry && entry->allow_from ? &*entry->allow_from
                                              : c.group_allow_from       ? &*c.group_allow_from
                                                                         : &c.allow_from;
    const bool listed_by_id = chat_list_on && exact;
    if (senders->empty() && !listed_by_id) {
      d.reason = where + ": groupPolicy is allowlist but no sender is allowed (groupAllowFrom)";
      return d;
    }
    if (!senders->empty() && !sender_listed(*senders, f.sender_id)) {
      d.reason = "sender " + f.sender_id + " is not allowed in " + where + " (groupAllowFrom)";
      return d;
    }
  }
  bool require_mention = true;
  if (chat && chat->require_mention)
    require_mention = *chat->require_mention;
  else if (exact && exact->require_mention)
    require_mention = *exact->require_mention;
  else if (star && star->require_mention)
    require_mention = *star->require_mention;
  if (require_mention && !f.addressed) {
    d.kind = GroupDecision::context;
    d.reason = where + ": not addressed to the bot; kept as context";
    return d;
  }
  d.kind = GroupDecision::trigger;
  return d;
}

}  // namespace clawgate::core
