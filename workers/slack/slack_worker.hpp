// SlackWorker: one Slack app account (a bot token for the Web API, an app token for Socket
// Mode), turning message events into typed inbound messages for the front and delivering the
// front's outbound messages with chat.postMessage.
// Inbound: auth.test first (who the bot is: mentions, own messages); each event is read at the
// edge (slack_events.hpp), repeats are dropped (the same event_id, channel+ts or client_msg_id:
// envelope retries, and a channel mention that comes as both message and app_mention), the
// bot's own messages are dropped, other bots' are marked for the front's allowBots. A channel
// whose kind the event does not say (G…: private channel or group DM) is looked up once with
// conversations.info. Each message stays in a bounded queue until the front acknowledges it,
// and in a journal in the account's state dir (inbound_journal.hpp): Slack was told it arrived
// before the front knew, so a worker killed in between must not be where it ends.
// HTTP mode (mode "http"): no Socket Mode; the front hands over the requests Slack POSTs to the
// account's webhookPath and this worker checks and answers them (http_events.hpp).
// Outbound: escaped and cut at textChunkLimit (slack_text.hpp), one chat.postMessage per chunk
// in order (thread_ts for a thread target "<channel>:thread:<ts>"); ratelimited/429 waits the
// Retry-After; each delivery's result is remembered so a front that re-sends a delivery it never
// heard back about gets the result instead of a second message.
// Fails: a bot token Slack refuses is a configuration error (on_fatal 78 naming botToken); the
// app token's refusal likewise (appToken); everything else is retried with backoff and shown in
// the status the front reads for channels.status.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <capnp/message.h>

#include "channel_main.hpp"
#include "channel_worker.hpp"
#include "error.hpp"
#include "http_client.hpp"
#include "http_events.hpp"
#include "log.hpp"
#include "slack_api.hpp"
#include "slack_events.hpp"
#include "socket_mode.hpp"

namespace clawgate::workers::slack {

struct SlackConfig {
  std::string bot_token, app_token;
  // HTTP mode (Request URLs): events come from the front (http_events.hpp), signed with this
  // secret; no Socket Mode and no app token. webhook_path is for status and logs only.
  bool http_mode = false;
  std::string signing_secret, webhook_path;
  std::string api_root = "https://slack.com/api";
  std::string state_dir;
  std::string account_id = "default";
  size_t chunk_limit = 4000;
  int ping_timeout_ms = 30'000;
};

// Where a delivery goes: a channel (or a user id: the app's DM with them), and a thread.
struct Target {
  std::string channel, thread_ts;
};
// "C123", "channel:C123", "user:U123", "<@U123>", "C123:thread:1700000000.000100"; nullopt
// when it names no valid id.
std::optional<Target> parse_target(const std::string& to);

// The data-link message that hands one Slack message to the front (id = channel:ts).
void write_inbound(capnp::MessageBuilder& b, const SlackMessage& m);

// A bounded set of recently seen keys, oldest forgotten first.
class SeenKeys {
 public:
  explicit SeenKeys(size_t capacity) : capacity_(capacity) {}
  // True when `key` was seen before (and now is); false for a new one, which is remembered.
  bool seen(const std::string& key);

 private:
  size_t capacity_;
  std::unordered_set<std::string> set_;
  std::deque<std::string> order_;
};

class SlackWorker : public ChannelProcess {
 public:
  static constexpr size_t kMaxInbound = 1000;  // unacknowledged messages held

  SlackWorker(boost::asio::io_context& io, Logger& log, SlackConfig cfg);

  void start() override;
  void stop() override;
  void attach_front(int fd, uint32_t generation) override;

 private:
  void call(HttpClient& http, const std::string& method, const nlohmann::json& params,
            std::function<void(const ApiAnswer&)> done);
  void auth_test();
  void on_event(const nlohmann::json& payload, int retry_attempt);
  void on_http_request(const HttpEvent& req);  // HTTP mode (http_events.cpp)
  void resolve_kinds();
  std::optional<Error> prepare(Outbox::Delivery& d, std::string_view text);
  void send(Outbox::Delivery& d);
  void send_status() { front_.send_status(); }
  void fill_status(ipc::WorkerStatus::Builder s);
  int64_t backoff_ms(int failures);

  boost::asio::io_context& io_;
  Logger& log_;
  SlackConfig cfg_;
  HttpClient api_http_, send_http_;
  std::unique_ptr<SocketMode> socket_;
  FrontLink front_;
  BotIdentity me_;
  // Queued for the front but held there while their channel's kind is looked up, in order.
  std::deque<SlackMessage> held_;
  SeenKeys seen_{4096};
  std::map<std::string, ConvKind> kinds_;  // channel id -> kind (conversations.info), bounded
  bool resolving_ = false;
  boost::asio::steady_timer start_timer_;
  bool stopping_ = false;
  int start_failures_ = 0;
  std::string detail_;
  std::optional<Error> last_error_;
  int64_t last_inbound_ms_ = 0, last_outbound_ms_ = 0, last_event_ms_ = 0, last_status_ms_ = 0;
  int64_t http_warned_ms_ = 0;         // the last refused HTTP request logged as a warning
  int64_t latency_ms_ = -1;            // the last Web API call's round trip
  int64_t rate_limited_until_ms_ = 0;  // chat.postMessage waits for a rate limit until then
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace clawgate::workers::slack
