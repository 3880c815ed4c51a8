// DiscordWorker: one Discord bot account. The Gateway (v10, over WsConnection) brings messages
// in; REST (discord_rest.hpp) sends replies, opens DM channels and shows typing. It turns
// MESSAGE_CREATE into typed inbound messages for the front (guild, thread parent, the places'
// names from places.hpp, roles, mention facts) and delivers the front's outbound messages, chunked
// (discord_text.hpp). Inbound is at-least-once toward the front: a message stays in a bounded queue
// until the front acknowledges it, and a message id seen again (a resume replaying what came
// before, a duplicate dispatch) is dropped here, as the front drops it too. The bot's own messages
// never leave the worker; other bots' go with senderIsBot (allowBots is the front's decision).
// Fails: a rejected token (401, close 4004) or a refused intent (close 4014) ends the process
// with exit 78 (on_fatal) naming what to fix; a lost connection reconnects and resumes with
// jittered exponential backoff (gateway_session.hpp); REST 429s wait as Discord says.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "config_gen.hpp"
#include "discord_payload.hpp"
#include "discord_rest.hpp"
#include "discord_text.hpp"
#include "error.hpp"
#include "gateway_session.hpp"
#include "link.hpp"
#include "log.hpp"
#include "places.hpp"
#include "ws_connection.hpp"

namespace clawgate::workers::discord {

struct DiscordConfig {
  std::string token;
  std::string token_key = "channels.discord.token";  // for messages: where the token is set
  std::string api_root = "https://discord.com/api/v10";
  bool allow_insecure = false;  // dangerouslyAllowInsecureHttp: ws:// beyond loopback too
  std::string application_id;   // as configured; "" when not
  std::string state_dir;
  std::string account_id = "default";
  size_t chunk_limit = 2000;
  size_t max_lines = 17;
};

// Resolves the token (token, else DISCORD_BOT_TOKEN for the account named default only) and the
// options from one account's settings (the root merged with the account). Throws
// std::runtime_error naming the missing or bad key.
DiscordConfig discord_config(const cfg::DiscordChannel& section, const std::string& state_dir,
                             const std::string& account_id = "default");
// channels.discord for the account named default, channels.discord.accounts.<id> for another.
std::string discord_section_path(const std::string& account_id);
// Whether `url` (ws://, wss://, http://, https://) may carry the token: TLS, or a loopback host,
// or the operator allowed plain text.
bool secure_enough(const std::string& url, bool allow_insecure);

// The data-link message that hands one message to the front.
void write_inbound(capnp::MessageBuilder& b, const Message& m);

class DiscordWorker {
 public:
  static constexpr size_t kMaxInbound = 1000;     // unacknowledged messages held
  static constexpr size_t kMaxSeen = 5000;        // message ids remembered against duplicates
  static constexpr size_t kMaxRemembered = 2000;  // delivery results kept for re-sends
  static constexpr size_t kMaxUnplaced = 1000;    // messages held for a place look-up
  static constexpr int kLookupTimeoutMs = 5'000;
  static constexpr int64_t kTypingRefreshMs = 8'000;  // Discord shows typing for 10 s
  static constexpr int64_t kTypingMaxMs = 600'000;    // never longer than this per chat

  DiscordWorker(boost::asio::io_context& io, Logger& log, DiscordConfig cfg);
  ~DiscordWorker();

  void start();
  void stop();
  void attach_front(int fd, uint32_t generation);
  std::function<void(int exit_code, const std::string& why)> on_fatal;

 private:
  struct Pending {
    Message message;
    bool sent = false;  // on the current front link
  };
  struct Delivery {
    std::string id, to, channel_id;
    std::optional<Target> target;
    std::vector<std::string> chunks;
    size_t next = 0;
    std::vector<std::string> message_ids;
    int attempts = 0;
  };

  // Gateway
  void fetch_gateway();
  void connect(const std::string& url);
  void reconnect_after(int64_t ms, bool resume, const std::string& url);
  void on_dispatch(const Frame& f);
  void on_message(const Json& d);
  void look_up_place(const std::string& channel_id);  // GET /channels/{id}, then its messages
  void accept(Message m);                             // to the front, with its place filled
  void fatal(int code, const std::string& why);
  void exit_after(int64_t ms);  // on_fatal with the fatal code, after `ms`
  // Front
  void on_front(capnp::MessageReader& r);
  void flush_inbound();
  void send_status();
  // The live probe stays fresh in channels.status (latency, last event) without a change.
  void start_status_timer();
  // Delivery
  void send_next();
  void report(const Delivery& d, std::optional<Error> error = std::nullopt);
  void retry_in(int64_t ms);
  void typing(const std::string& to, bool active);
  void refresh_typing();
  int64_t now_ms() const;
  int64_t backoff_ms(int failures);

  boost::asio::io_context& io_;
  Logger& log_;
  DiscordConfig cfg_;
  Rest rest_;  // messages, one at a time, in order
  Rest aux_;   // /gateway/bot, DM channels, typing
  std::unique_ptr<GatewaySession> session_;
  std::shared_ptr<WsConnection> ws_;
  uint64_t ws_gen_ = 0;
  std::string gateway_url_;
  int fetch_failures_ = 0;
  boost::asio::steady_timer heartbeat_timer_, connect_timer_, send_timer_, typing_timer_,
      status_timer_;
  std::shared_ptr<ipc::Link> front_;
  uint32_t front_generation_ = 0;
  std::deque<Pending> inbound_;
  std::set<std::string> seen_;
  std::deque<std::string> seen_order_;
  Me me_;
  Places places_;
  std::map<std::string, std::vector<Message>> unplaced_;  // channel id -> messages, in order
  size_t unplaced_count_ = 0;
  std::deque<Delivery> outbound_;
  bool sending_ = false;
  std::map<std::string, std::vector<std::string>> done_;  // delivery id -> message ids
  std::deque<std::string> done_order_;
  std::map<std::string, int64_t> typing_until_;  // channel id -> steady ms
  bool stopping_ = false;
  int fatal_code_ = 0;  // set once fatal: the exit code on_fatal gets
  std::string fatal_why_;
  std::string detail_;
  std::optional<Error> last_error_;
  int64_t last_inbound_ms_ = 0, last_outbound_ms_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace clawgate::workers::discord
