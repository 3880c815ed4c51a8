// Reload messages: see child_config.hpp.
#include "child_config.hpp"

#include <capnp/message.h>

#include "child_config_support.hpp"
#include "utf8.hpp"

namespace clawgate::ipc {

namespace {

template <class Fill>
std::vector<uint64_t> canonical(Fill&& fill) {
  capnp::MallocMessageBuilder b;
  auto root = b.initRoot<Reload>();
  fill(root);
  const kj::Array<capnp::word> words = capnp::canonicalize(root.asReader());
  const auto* begin = reinterpret_cast<const uint64_t*>(words.begin());
  return {begin, begin + words.size()};
}

Error wrong_kind(const char* want) {
  return Error::invalid(
      std::string("the supervisor sent another kind of child's settings (this is ") + want + ")");
}

}  // namespace

ReloadMessage ReloadMessage::agent(const cfg::Config& config) {
  ReloadMessage m;
  m.words_ = canonical([&](Reload::Builder r) { write_AgentConfig(config, r.initAgent()); });
  return m;
}

ReloadMessage ReloadMessage::telegram(const cfg::TelegramChannel& account) {
  ReloadMessage m;
  m.words_ = canonical([&](Reload::Builder r) { write_TelegramConfig(account, r.initTelegram()); });
  return m;
}

ReloadMessage ReloadMessage::channel(const ChannelSettings& account) {
  // Each kind's section, read back into its typed settings (they came from them: nothing is
  // refused here) and written as its Reload member. One row per kind with a worker.
  using Write = void (*)(const cfg::Json& section, Reload::Builder r);
  static const std::pair<const char*, Write> kKinds[] = {
      {"telegram",
       [](const cfg::Json& s, Reload::Builder r) {
         cfg::Issues is;
         write_TelegramConfig(cfg::parse_TelegramChannel(s, "", is), r.initTelegram());
       }},
      {"discord",
       [](const cfg::Json& s, Reload::Builder r) {
         cfg::Issues is;
         write_DiscordConfig(cfg::parse_DiscordChannel(s, "", is), r.initDiscord());
       }},
      {"slack",
       [](const cfg::Json& s, Reload::Builder r) {
         cfg::Issues is;
         write_SlackConfig(cfg::parse_SlackChannel(s, "", is), r.initSlack());
       }},
  };
  ReloadMessage m;
  for (const auto& [kind, write] : kKinds)
    if (account.name == kind)
      m.words_ = canonical([&](Reload::Builder r) { write(account.section, r); });
  return m;
}

ReloadMessage ReloadMessage::front(const std::string& config_snapshot) {
  ReloadMessage m;
  m.words_ = canonical([&](Reload::Builder r) {
    r.initFront().setConfigSnapshot(link_config::text_of(config_snapshot));
  });
  return m;
}

void ReloadMessage::copy_to(Control::Builder msg) const {
  const kj::ArrayPtr<const capnp::word> segment(reinterpret_cast<const capnp::word*>(words_.data()),
                                                words_.size());
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&segment, 1));
  msg.setReload(reader.getRoot<Reload>());
}

Result<cfg::Config> agent_settings(Reload::Reader r) {
  if (!r.isAgent()) return wrong_kind("the agent worker");
  return read_AgentConfig(r.getAgent(), "");
}

Result<cfg::TelegramChannel> telegram_settings(Reload::Reader r, std::string_view where) {
  if (!r.isTelegram()) return wrong_kind("a Telegram worker");
  return read_TelegramConfig(r.getTelegram(), where);
}

Result<cfg::DiscordChannel> discord_settings(Reload::Reader r, std::string_view where) {
  if (!r.isDiscord()) return wrong_kind("a Discord worker");
  return read_DiscordConfig(r.getDiscord(), where);
}

Result<cfg::SlackChannel> slack_settings(Reload::Reader r, std::string_view where) {
  if (!r.isSlack()) return wrong_kind("a Slack worker");
  return read_SlackConfig(r.getSlack(), where);
}

Result<std::string> front_snapshot(Reload::Reader r) {
  if (!r.isFront()) return wrong_kind("the front");
  const capnp::Text::Reader t = r.getFront().getConfigSnapshot();
  const std::string_view s(t.begin(), t.size());
  if (s.size() > kMaxConfigSnapshotBytes)
    return Error::invalid("the config snapshot is larger than " +
                          std::to_string(kMaxConfigSnapshotBytes) + " bytes");
  if (!utf8::valid(s)) return Error::invalid("the config snapshot is not UTF-8 text");
  return std::string(s);
}

}  // namespace clawgate::ipc
