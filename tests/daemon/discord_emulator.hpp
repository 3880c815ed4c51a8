// Test harness for the Discord emulator (tests/emulators/discord/emulator.py): starts it on an
// ephemeral port and wraps its /_emu/ controls (inject, faults, gateway actions, sent, stats).
// Fails: std::runtime_error when the server does not start or a control call fails.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "telegram_emulator.hpp"  // PyServer

namespace clawgate::test {

class DiscordEmulator {
 public:
  static constexpr const char* kToken = "discord-test-token";
  static constexpr const char* kBotId = "900000000000000001";
  DiscordEmulator();
  const std::string& url() const { return server_->url(); }
  std::string api_root() const { return url() + "/api/v10"; }
  // MESSAGE_CREATE dispatched to the bot (/_emu/inject: author_id, content, guild_id,
  // channel_id, mention_bot, mention_role, bot, roles, thread_parent, reply_to, duplicate, raw);
  // returns {id, channel_id}.
  nlohmann::json inject(const nlohmann::json& body);
  // A DM from `author` saying `text`.
  nlohmann::json dm(const std::string& author, const std::string& text);
  nlohmann::json sent();    // {messages: [{id, channel_id, content, time}]}
  nlohmann::json stats();   // identify, resume, replayed, heartbeats, messages_created, ...
  nlohmann::json typing();  // {typing: [{channel_id, time}]}
  void faults(const nlohmann::json& f);
  nlohmann::json gateway(const nlohmann::json& action);  // reconnect, invalid_session, close, drop
  // channels.discord pointing at this emulator.
  nlohmann::json channel_config() const;

 private:
  std::shared_ptr<PyServer> server_;
};

}  // namespace clawgate::test
