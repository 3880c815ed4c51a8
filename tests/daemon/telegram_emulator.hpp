// Test harnesses for the local emulators in tests/emulators (Python children on ephemeral
// ports): PyServer starts one and speaks JSON over HTTP to it; TelegramEmulator (Bot API) and
// FakeModels (OpenAI-compatible + Anthropic streaming) wrap their /_emu/ controls.
// Fails: std::runtime_error when a server does not start or a control call fails.
#pragma once
#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace clawgate::test {

class PyServer {
 public:
  explicit PyServer(std::vector<std::string> args);  // python3 <args...>
  ~PyServer();
  PyServer(const PyServer&) = delete;
  PyServer& operator=(const PyServer&) = delete;
  const std::string& url() const { return url_; }
  nlohmann::json request(const std::string& method, const std::string& target,
                         const std::string& body, int timeout_ms = 5000);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string url_, host_;
  int port_ = 0;
};

class FakeModels {
 public:
  FakeModels() : server_({FAKE_MODELS}) {}
  const std::string& url() const { return server_.url(); }
  void script(const nlohmann::json& s) { server_.request("POST", "/_emu/script", s.dump()); }
  nlohmann::json stats() { return server_.request("GET", "/_emu/stats", ""); }
  nlohmann::json requests() { return server_.request("GET", "/_emu/requests", ""); }
  // The gateway config that makes this server the default model.
  nlohmann::json config(const std::string& api = "openai-completions") const;

 private:
  PyServer server_;
};

class TelegramEmulator {
 public:
  explicit TelegramEmulator(const std::string& token = "123456:test-token");
  // One emulator serving several bots (one per token, on one port); this object is the first.
  explicit TelegramEmulator(const std::vector<std::string>& tokens);
  ~TelegramEmulator() = default;
  TelegramEmulator(const TelegramEmulator&) = delete;
  TelegramEmulator& operator=(const TelegramEmulator&) = delete;
  // The same emulator as the bot with `token` (one it serves): injects, sent and stats of that
  // bot only. Shares the server, which lives as long as any of them.
  TelegramEmulator bot(const std::string& token) const { return TelegramEmulator(server_, token); }

  const std::string& url() const { return server_->url(); }  // the apiRoot
  const std::string& token() const { return token_; }
  // Queues a private-chat text message from user `from` (chat id = from); returns update_id.
  int64_t inject(int64_t from, const std::string& text, const std::string& username = "");
  // Queues any message (/_emu/inject body: chat_id, chat_type, from_id, text or text_hex,
  // reply_to_message_id, ...); returns {update_id, message_id}.
  nlohmann::json inject(nlohmann::json body);
  // The bot's @username as getMe reports it.
  std::string bot_username() const;
  nlohmann::json sent();   // {messages:[{chat_id, text, message_id, ...}]}
  nlohmann::json stats();  // {getUpdates, sendMessage, conflicts, rate_limited, ...}
  void faults(const nlohmann::json& f);
  // A Bot API call made as another client would (e.g. a second poller).
  nlohmann::json bot_call(const std::string& method, const nlohmann::json& params,
                          int timeout_ms = 5000);
  // Config section for channels.telegram pointing at this emulator.
  nlohmann::json channel_config(int poll_timeout_s = 1) const;

 private:
  TelegramEmulator(std::shared_ptr<PyServer> server, std::string token)
      : token_(std::move(token)), server_(std::move(server)) {}
  nlohmann::json request(const std::string& method, const std::string& target,
                         const std::string& body, int timeout_ms = 5000) {
    return server_->request(method, target, body, timeout_ms);
  }
  std::string token_;
  std::shared_ptr<PyServer> server_;
};

}  // namespace clawgate::test
