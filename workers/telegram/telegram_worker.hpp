// TelegramWorker: one Telegram bot account over the Bot API (getMe, getUpdates long polling,
// sendMessage), turning updates into typed inbound messages for the front and delivering the
// front's outbound messages.
// Inbound is at-least-once: an update stays in a bounded queue until the front acknowledges it,
// and the getUpdates offset persisted in the state dir only moves past acknowledged updates, so
// neither a front nor a worker crash loses a message (the front dedupes by update id).
// Text is repaired and bounded at this edge (telegram_text.hpp): invalid UTF-8 in a response
// becomes U+FFFD, inbound text is cut at 64 KiB, and one update that cannot be parsed at all is
// skipped (logged) instead of stalling the poll loop on it forever.
// Outbound: sendMessage per chunk of at most `chunk_limit` UTF-16 code units; 429 honours
// retry_after; each delivery's result is remembered so a front that re-sends a delivery it
// never heard back about gets the result instead of a second message.
// Fails: 401 (bad token) and missing token are configuration errors (exit 78); 409 Conflict
// (another poller) is a typed retryable error with a slow retry, never a crash; network and 5xx
// errors back off with jitter.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "channel_main.hpp"
#include "channel_worker.hpp"
#include "config_gen.hpp"
#include "error.hpp"
#include "http_client.hpp"
#include "log.hpp"
#include "telegram_text.hpp"

namespace clawgate::workers {

using Json = nlohmann::json;

struct TelegramConfig {
  std::string token;
  std::string api_root = "https://api.telegram.org";
  std::string state_dir;
  std::string account_id = "default";
  int poll_timeout_s = 30;
  size_t chunk_limit = 4096;
};

// Resolves token (botToken, tokenFile, and TELEGRAM_BOT_TOKEN for the account named default
// only) and options from one account's settings (the root merged with the account, as the
// supervisor sends them). Throws std::runtime_error naming the missing or bad key.
TelegramConfig telegram_config(const cfg::TelegramChannel& section, const std::string& state_dir,
                               const std::string& account_id = "default");
// Where an account's section is in the file, for messages: channels.telegram for the account
// named default, channels.telegram.accounts.<id> for another.
std::string telegram_section_path(const std::string& account_id);

// state/telegram/<account>/: the account's offset file; its sandbox sees nothing else.
std::string telegram_account_dir(const TelegramConfig& c);

// A Bot API answer: {"ok": true, "result": ...}, or {"ok": false, "error_code", "description",
// "parameters": {"retry_after"}}. A body that does not parse is repaired first
// (repair_json_text). Never throws: fields of another type are ignored.
struct ApiAnswer {
  bool ok = false;
  bool malformed = false;  // a 200 whose body is not JSON even once repaired
  Json result;
  int code = 0;  // error_code, else the HTTP status (-1 when malformed)
  std::string description;
  int retry_after_s = 0;
};
ApiAnswer parse_api_answer(const std::string& method, int http_status, const std::string& body);

// One text message of a getUpdates result.
struct InboundUpdate {
  int64_t update_id = 0;
  InboundFacts facts;
};
// The data-link message that hands one update to the front.
void write_inbound(capnp::MessageBuilder& b, int64_t update_id, const InboundFacts& f);
// getUpdates' result -> its text messages, in order. `offset` moves past every update seen
// (text or not; older ones are skipped). An update whose message cannot be read is left out,
// with the reason in `skipped`. Never throws except std::bad_alloc.
std::vector<InboundUpdate> parse_updates(const Json& result, int64_t& offset, int64_t bot_id,
                                         const std::string& bot_username,
                                         std::vector<std::string>* skipped = nullptr);

class TelegramWorker : public ChannelProcess {
 public:
  static constexpr size_t kMaxInbound = 1000;  // unacknowledged updates held

  TelegramWorker(boost::asio::io_context& io, Logger& log, TelegramConfig cfg);

  void start() override;
  void stop() override;
  void attach_front(int fd, uint32_t generation) override;

 private:
  void call(HttpClient& http, const std::string& method, const Json& params, int timeout_ms,
            std::function<void(bool ok, const Json& result, int code, const std::string& desc,
                               int retry_after_s)>
                done);
  void get_me();
  void poll();
  void poll_later(int64_t ms);
  void on_updates(const Json& updates);
  bool skip_malformed_update();  // true: poll again now
  void send(Outbox::Delivery& d);
  void persist_offset();
  std::string offset_path() const;
  void send_status() { front_.send_status(); }
  void fill_status(ipc::WorkerStatus::Builder s);
  int64_t backoff_ms();

  Logger& log_;
  TelegramConfig cfg_;
  HttpClient poll_http_, send_http_;
  FrontLink front_;
  int64_t poll_offset_ = 0, persisted_offset_ = -1;
  boost::asio::steady_timer poll_timer_;
  bool stopping_ = false, connected_ = false, polling_ = false;
  int failures_ = 0;
  // getUpdates answers that do not parse: the first retry asks for one update, and if that
  // still fails the update named in the body is skipped.
  int malformed_ = 0;
  std::string malformed_body_;
  int64_t bot_id_ = 0;
  std::string bot_username_, detail_;
  std::optional<Error> last_error_;  // shown in channels.status until polling works
  int64_t last_inbound_ms_ = 0, last_outbound_ms_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace clawgate::workers
