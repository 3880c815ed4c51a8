// Test harness: the local Telegram Bot API emulator (tests/emulators/telegram/emulator.py) as a
// child process on an ephemeral port, with its /_emu/ controls as C++ calls.
// Fails: std::runtime_error when it does not start or a control call fails.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>

namespace clawgate::test {

class TelegramEmulator {
 public:
  explicit TelegramEmulator(const std::string& token = "123456:test-token");
  ~TelegramEmulator();
  TelegramEmulator(const TelegramEmulator&) = delete;
  TelegramEmulator& operator=(const TelegramEmulator&) = delete;

  const std::string& url() const { return url_; }  // the apiRoot
  const std::string& token() const { return token_; }
  // Queues a private-chat text message from user `from` (chat id = from); returns update_id.
  int64_t inject(int64_t from, const std::string& text, const std::string& username = "");
  nlohmann::json sent();   // {messages:[{chat_id, text, message_id, ...}]}
  nlohmann::json stats();  // {getUpdates, sendMessage, conflicts, rate_limited, ...}
  void faults(const nlohmann::json& f);
  // A Bot API call made as another client would (e.g. a second poller).
  nlohmann::json bot_call(const std::string& method, const nlohmann::json& params,
                          int timeout_ms = 5000);
  // Config section for channels.telegram pointing at this emulator.
  nlohmann::json channel_config(int poll_timeout_s = 1) const;

 private:
  nlohmann::json request(const std::string& method, const std::string& target,
                         const std::string& body, int timeout_ms = 5000);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string url_, host_, token_;
  int port_ = 0;
};

}  // namespace clawgate::test
