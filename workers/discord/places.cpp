// Places: see places.hpp.
#include "places.hpp"

namespace clawgate::workers::discord {

void Places::learn(const ChannelFacts& c) {
  auto it = places_.find(c.id);
  if (it == places_.end()) {
    if (full()) return;
    it = places_.emplace(c.id, Place{}).first;
  }
  it->second.name = c.name;
  it->second.parent_id = c.thread ? c.parent_id : "";
}

void Places::on_dispatch(const Frame& f, Me& me) {
  const std::string& t = f.t;
  if (t == "GUILD_CREATE" || t == "GUILD_UPDATE") {
    auto g = read_guild(f.d, me.user_id);
    if (!g) return;
    if (!g->bot_role_id.empty()) me.role_by_guild[g->id] = g->bot_role_id;
    // GUILD_UPDATE carries the guild without its channels: only the name changes then.
    if (!g->name.empty() && (guild_names_.count(g->id) || guild_names_.size() < kMaxGuilds))
      guild_names_[g->id] = g->name;
    for (const ChannelFacts& c : g->channels) learn(c);
  } else if (t == "CHANNEL_CREATE" || t == "CHANNEL_UPDATE" || t == "THREAD_CREATE" ||
             t == "THREAD_UPDATE") {
    if (auto c = read_channel(f.d); c && !c->guild_id.empty()) learn(*c);
  } else if (t == "CHANNEL_DELETE" || t == "THREAD_DELETE") {
    if (auto id = snowflake_at(f.d, "id")) forget(*id);
  } else if (t == "THREAD_LIST_SYNC") {
    // Sent when the bot gains access to a channel: the active threads there.
    const auto guild = snowflake_at(f.d, "guild_id");
    const auto threads = f.d.find("threads");
    if (!guild || threads == f.d.end() || !threads->is_array()) return;
    size_t n = 0;
    for (const Json& item : *threads) {
      if (++n > kMaxGuildChannels) break;
      if (auto c = read_channel(item)) {
        if (c->guild_id.empty()) c->guild_id = *guild;
        learn(*c);
      }
    }
  }
}

std::string Places::name_of(const std::string& id) const {
  const auto it = places_.find(id);
  return it != places_.end() ? it->second.name : "";
}

void Places::fill(Message& m) const {
  if (m.guild_id.empty()) return;  // a DM: no place to name
  if (auto g = guild_names_.find(m.guild_id); g != guild_names_.end()) m.guild_name = g->second;
  const auto it = places_.find(m.channel_id);
  if (it == places_.end()) return;
  m.channel_name = it->second.name;
  if (!it->second.parent_id.empty()) {
    m.parent_id = it->second.parent_id;
    m.parent_name = name_of(m.parent_id);
  }
}

}  // namespace clawgate::workers::discord
