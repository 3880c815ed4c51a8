// What the supervisor sends a child of the configuration (Control.reload, control.capnp): a
// Reload message with the part that kind of child needs and nothing else. The keys each kind
// gets are schema/child_config.json's and the code that copies them is generated from it
// (child_config_gen.hpp); the front is sent config.get's snapshot. A ReloadMessage holds one
// in canonical form, so a reload can tell whether a child's part changed by comparing bytes.
// Fails: building does not fail for settings the config parser produced. Reading refuses
// another kind's message and any value config.schema.json refuses (INVALID_REQUEST naming the
// key), whoever wrote it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "child_config_gen.hpp"
#include "config.hpp"
#include "control.capnp.h"
#include "error.hpp"

namespace clawgate::ipc {

// The largest config.get snapshot a front takes: larger could not reach a client in one frame
// (the front's own limit for a client's frame is 25 MiB).
inline constexpr size_t kMaxConfigSnapshotBytes = 24u << 20;

class ReloadMessage {
 public:
  ReloadMessage() = default;  // nothing to send

  // The agent worker's part of `config` (agents.defaults.model and limits, the providers).
  static ReloadMessage agent(const cfg::Config& config);
  // One Telegram account's worker: its section as merged from the root and the account.
  static ReloadMessage telegram(const cfg::TelegramChannel& account);
  // One channel account's worker, of any kind: its section (ChannelSettings::section) in its
  // kind's message. Empty for a kind this build has no worker message for.
  static ReloadMessage channel(const ChannelSettings& account);
  // The front: config.get's answer, as JSON text.
  static ReloadMessage front(const std::string& config_snapshot);

  bool empty() const { return words_.empty(); }
  // Sets msg's reload to this message.
  void copy_to(Control::Builder msg) const;
  // Every byte a child is sent in it (for tests that look for what a child could read).
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(words_.data()), words_.size() * sizeof(uint64_t)};
  }
  bool operator==(const ReloadMessage& o) const { return words_ == o.words_; }
  bool operator!=(const ReloadMessage& o) const { return !(*this == o); }

 private:
  std::vector<uint64_t> words_;  // canonical form: one segment, root pointer first
};

// The receiving side: the settings of the kind the child is, or INVALID_REQUEST for another
// kind's message or a value the schema refuses. `where` is the section's path in the file.
Result<cfg::Config> agent_settings(Reload::Reader r);
Result<cfg::TelegramChannel> telegram_settings(Reload::Reader r, std::string_view where);
Result<cfg::DiscordChannel> discord_settings(Reload::Reader r, std::string_view where);
Result<cfg::SlackChannel> slack_settings(Reload::Reader r, std::string_view where);
// The snapshot's text: UTF-8, at most kMaxConfigSnapshotBytes (the front parses it as JSON).
Result<std::string> front_snapshot(Reload::Reader r);

}  // namespace clawgate::ipc
