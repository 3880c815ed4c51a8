// Places: what the Discord worker knows of where messages are written, so the front can match
// config keys written as names and route a thread by its parent: guild names, channel and
// thread names, each thread's parent. Learnt from GUILD_CREATE/UPDATE, CHANNEL_* and THREAD_*
// dispatches (THREAD_LIST_SYNC too) and from GET /channels/{id} for a channel no event named.
// Bounded: past kMaxPlaces / kMaxGuilds nothing more is learnt and full() says so (messages from
// places not learnt route by id only). Never throws except std::bad_alloc.
#pragma once
#include <map>
#include <string>

#include "discord_payload.hpp"

namespace clawgate::workers::discord {

class Places {
 public:
  static constexpr size_t kMaxPlaces = 50'000;  // channels and threads, all guilds together
  static constexpr size_t kMaxGuilds = 5'000;

  // Learns from a dispatch when it says something about places; other events are ignored.
  // GUILD_CREATE also names the bot's managed role there (found by me.user_id, kept in `me`).
  // GUILD_DELETE forgets nothing: an outage keeps the guild, and a guild left is never heard of
  // again (the bound holds either way).
  void on_dispatch(const Frame& f, Me& me);
  void learn(const ChannelFacts& c);
  // Whether messages in this channel can be routed with what is known.
  bool knows(const std::string& channel_id) const { return places_.count(channel_id) > 0; }
  bool full() const { return places_.size() >= kMaxPlaces; }
  // Fills the message's guild and channel names, and its parent (and the parent's name) when
  // its channel is a thread.
  void fill(Message& m) const;
  size_t size() const { return places_.size(); }

 private:
  struct Place {
    std::string name, parent_id;  // parent_id: threads only
  };
  void forget(const std::string& id) { places_.erase(id); }
  std::string name_of(const std::string& id) const;

  std::map<std::string, Place> places_;
  std::map<std::string, std::string> guild_names_;
};

}  // namespace clawgate::workers::discord
