// Test harness for the Slack emulator (tests/emulators/slack: Web API + Socket Mode on one
// port): starts it, wraps its /_emu/ controls and builds the channels.slack section that points
// a worker at it.
// Fails: std::runtime_error when it does not start or a control call fails.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "telegram_emulator.hpp"  // PyServer

namespace clawgate::test {

class SlackEmulator {
 public:
  static constexpr const char* kBotUser = "U0EMUBOT1";  // the app's bot user (auth.test)
  explicit SlackEmulator(const std::string& bot_token = "xoxb-test-bot",
                         const std::string& app_token = "xapp-1-test-app");
  const std::string& url() const { return server_.url(); }
  std::string api_root() const { return url() + "/api"; }
  const std::string& bot_token() const { return bot_token_; }
  const std::string& app_token() const { return app_token_; }

  // /_emu/inject: {channel, text, user?, thread_ts?, ...}; returns {ts, event_ids, ...}.
  nlohmann::json inject(const nlohmann::json& body);
  // A DM from `user` (U…) in its DM channel (D + the user id's rest).
  nlohmann::json dm(const std::string& user, const std::string& text);
  // Makes conversation `channel` exist (chat.postMessage refuses unknown ones).
  void add_channel(const std::string& channel, const std::string& type = "");
  nlohmann::json sent();   // {messages: [{channel, text, ts, thread_ts, ...}]}
  nlohmann::json stats();  // {connections_opened, envelopes_acked, chat.postMessage, ...}
  void faults(const nlohmann::json& f);
  nlohmann::json disconnect(const nlohmann::json& body);  // /_emu/disconnect
  nlohmann::json drop();                                  // /_emu/drop
  nlohmann::json hang();                                  // /_emu/hang
  // /_emu/http_event: Slack's side of HTTP mode; signs `body`'s event and POSTs it to `url`.
  // Returns {status, body, sent}.
  nlohmann::json http_event(const std::string& url, const std::string& signing_secret,
                            nlohmann::json body);
  // channels.slack pointing at this emulator (tokens, apiRoot).
  nlohmann::json channel_config() const;

 private:
  std::string bot_token_, app_token_;
  PyServer server_;
};

}  // namespace clawgate::test
