// DiscordWorker: one Discord bot account. The Gateway (v10, over WsConnection) brings messages
// in; REST (discord_rest.hpp) sends replies, opens DM channels and shows typing. It turns
// MESSAGE_CREATE into typed inbound messages for the front (guild, thread parent, the places'
// names from places.hpp, roles, mention facts) and delivers the front's outbound messages,
// chunked (discord_text.hpp). Inbound is at-least-once toward the front: a message stays in a
// bounded queue until the front acknowledges it, and in a journal in the account's state dir
// (inbound_journal.hpp): the Gateway does not send it again to the next worker's new session,
// so a worker killed in between must not be where it ends. A message id seen again (a resume
// replaying what came before, a duplicate dispatch) is dropped here, as the front drops it too.
// The bot's own messages never leave the worker; other bots' go with senderIsBot (allowBots is
// the front's decision).
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

#include "channel_main.hpp"
#include "channel_worker.hpp"
#include "config_gen.hpp"
#include "discord_payload.hpp"
#include "discord_rest.hpp"
#include "discord_text.hpp"
#include "error.hpp"
#include "gateway_session.hpp"
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

class DiscordWorker : public ChannelProcess {
 public:
  static constexpr size_t kMaxInbound = 1000;  // unacknowledged messages held
  static constexpr size_t kMaxSeen = 5000;     // message ids remembered against duplicates
  static constexpr int kLookupTimeoutMs = 5'000;
  static constexpr int64_t kTypingRefreshMs = 8'000;  // Discord shows typing for 10 s
  static constexpr int64_t kTypingMaxMs = 600'000;    // never longer than this per chat

  DiscordWorker(boost::asio::io_context& io, Logger& log, DiscordConfig cfg);
  ~DiscordWorker() override;

  void start() override;
  void stop() override;
  void attach_front(int fd, uint32_t generation) override;

 private:
  // Gateway
  void fetch_gateway();
  void connect(const std::string& url);
  void reconnect_after(int64_t ms, bool resume, const std::string& url);
  void on_dispatch(const Frame& f);
  void on_message(const Json& d);
  void look_up_place(const std::string& channel_id);  // GET /channels/{id}, then its messages
  void fatal(int code, const std::string& why);
  void exit_after(int64_t ms);  // on_fatal with the fatal code, after `ms`
  // Front
  void remember(const std::string& id);  // seen_: a repeat of `id` is dropped
  void send_status() { front_.send_status(); }
  void fill_status(ipc::WorkerStatus::Builder s);
  // The live probe stays fresh in channels.status (latency, last event) without a change.
  void start_status_timer();
  // Delivery
  std::optional<Error> prepare(Outbox::Delivery& d, std::string_view text);
  void send(Outbox::Delivery& d);
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
  boost::asio::steady_timer heartbeat_timer_, connect_timer_, typing_timer_, status_timer_;
  FrontLink front_;
  std::set<std::string> seen_;
  std::deque<std::string> seen_order_;
  Me me_;
  Places places_;
  std::map<std::string, std::vector<Message>> unplaced_;  // held for a look-up, by channel id
  std::map<std::string, int64_t> typing_until_;           // channel id -> steady ms
  bool stopping_ = false;
  int fatal_code_ = 0;  // set once fatal: the exit code on_fatal gets
  std::string fatal_why_;
  std::string detail_;
  std::optional<Error> last_error_;
  int64_t last_inbound_ms_ = 0, last_outbound_ms_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace clawgate::workers::discord
