// Group access: see access.hpp. The order of checks and their reasons follow OpenClaw's
// Telegram group access (group entry, then groupPolicy, then sender allowlist, then mentions).
#include "core/access.hpp"

#include <algorithm>

namespace clawgate::core {

bool sender_listed(const std::vector<std::string>& list, const std::string& sender_id) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& a) {
    return a == "*" || (!sender_id.empty() && a == sender_id);
  });
}

GroupDecision decide_group(const ChannelSettings& c, const GroupFacts& f) {
  GroupDecision d;
  const std::string where = c.name + " group " + f.chat_id;
  const auto exact_it = c.groups.find(f.chat_id);
  const auto star_it = c.groups.find("*");
  const GroupEntry* exact = exact_it != c.groups.end() ? &exact_it->second : nullptr;
  const GroupEntry* star = star_it != c.groups.end() ? &star_it->second : nullptr;
  const GroupEntry* entry = exact ? exact : star;

  if (entry && entry->enabled == false) {
    d.reason = where + " is disabled (groups." + (exact ? f.chat_id : "*") + ".enabled)";
    return d;
  }
  if (entry && entry->allow_from && !sender_listed(*entry->allow_from, f.sender_id)) {
    d.reason = "sender " + f.sender_id + " is not in the allowFrom of " + where;
    return d;
  }
  const std::string policy = entry && entry->group_policy ? *entry->group_policy : c.group_policy;
  if (policy == "disabled") {
    d.reason = where + ": groupPolicy is disabled";
    return d;
  }
  // The chat allowlist is on with the channel's allowlist policy or any `groups` entry.
  const bool chat_list_on = c.group_policy == "allowlist" || !c.groups.empty();
  if (chat_list_on && !exact && !star) {
    d.reason = where + " is not in groups (add its chat id, or \"*\")";
    return d;
  }
  if (policy == "allowlist") {
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
  if (exact && exact->require_mention)
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
