// What the gateway knows about each kind of messaging channel: how the UI names it and, for a
// kind this build runs a worker for, how its config section becomes accounts and what its
// worker is given. One table, so the core, the front and the supervisor never name a
// particular channel. A new channel is its config schema definition (config.schema.json), its
// child_config.json entry and Reload member (ipc/control.capnp, ipc/child_config.cpp), a row
// here with its section reader (channel_config.hpp), its worker folder and its emulator.
// Fails: nothing; an unknown kind gets its own name as its label and has no worker.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config_gen.hpp"

namespace clawgate {

struct ChannelSettings;

// Where an account's value of a key is written ("channels.telegram.accounts.work.allowFrom",
// or the root's key when the account inherits it), for messages.
using PathOf = std::function<std::string(const char* key)>;
// A kind's section reader: the account's merged section (the root with the account's keys laid
// over it; checked by the schema already), where it is in the file, the whole config (for
// channels.defaults) -> the account's settings. Adds its warnings and errors to `is`.
using ChannelReader = ChannelSettings (*)(const cfg::Json& merged, const std::string& where,
                                          const PathOf& path_of, const cfg::Config& c,
                                          cfg::Issues& is);

struct ChannelKind {
  const char* name;          // config key under channels.*, and the worker's channel name
  const char* label;         // channels.status channelLabels / channelMeta[].label
  const char* detail_label;  // channelDetailLabels: how it connects
  const char* mode = "";     // channels.status accounts' mode: "polling", "gateway", ...
  // Null for a channel this build has no worker for (its section is accepted and ignored).
  ChannelReader read = nullptr;
  // The credentials: keys a named account never inherits from the root (the root's serve the
  // account named "default" only), each with the environment variable that stands in for it
  // in the default account when its section names none of them (`keys`: any one suffices).
  struct Credential {
    std::vector<std::string> keys;  // {"botToken", "tokenFile"}
    std::string env;                // "TELEGRAM_BOT_TOKEN"; "" for none
    // Needed only when the section's `mode` is this ("" always): Slack's appToken serves Socket
    // Mode, its signingSecret HTTP mode.
    std::string mode = "";
  };
  std::vector<Credential> credentials;
};

// The kind called `name`, or nullptr for a channel this build does not know.
const ChannelKind* channel_kind(const std::string& name);
// Every kind, in the UI's order.
const std::vector<ChannelKind>& channel_kinds();
// The label to show for `name` (its own name when unknown).
std::string channel_label(const std::string& name);
std::string channel_detail_label(const std::string& name);

}  // namespace clawgate
