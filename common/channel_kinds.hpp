// What the gateway knows about each kind of messaging channel that is not configuration: how
// the UI names it. One table, so the core and the front never name a particular channel; a new
// channel adds its row here, its worker folder, its config section and its emulator.
// Fails: nothing; an unknown kind gets its own name as its label.
#pragma once
#include <string>

namespace clawgate {

struct ChannelKind {
  const char* name;          // config key under channels.*, and the worker's channel name
  const char* label;         // channels.status channelLabels / channelMeta[].label
  const char* detail_label;  // channelDetailLabels: how it connects
};

// The kind called `name`, or nullptr for a channel this build does not know.
const ChannelKind* channel_kind(const std::string& name);
// The label to show for `name` (its own name when unknown).
std::string channel_label(const std::string& name);
std::string channel_detail_label(const std::string& name);

}  // namespace clawgate
