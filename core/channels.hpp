// ChannelHub: the front's side of every channel worker. Holds the data links the supervisor
// hands over (one per live worker generation), the supervisor's children table, the durable
// outbound queue and the inbound router, and serves channels.status, channels.restart,
// channels.stop/start/logout, send and channels.pairing.*.
// Accounts: a channel may run several accounts (one worker each). Everything here is per
// (channel, account): a message comes in through one account's worker and its answer goes out
// through the same one; a send or delivery that names no account uses the channel's default
// account; status, pairing and restarts are reported and done per account.
// Delivery: each worker gets at most kWindow messages in flight; an entry in flight when its
// worker dies is sent again to the next generation (at-least-once: a platform that cannot
// dedupe, like Telegram, may see the one message that was mid-request again).
// Slack HTTP mode: requests on an account's webhookPath go to its worker over the data link and
// its answer back to Slack (channel_webhooks.cpp); the front holds no signing secret.
// Fails: every method error is typed (INVALID_REQUEST, UNAVAILABLE with retryable, ...);
// garbage from a worker closes its link and is logged, except an inbound message with a chat
// type this build does not know: that one is refused (logged, acknowledged so the worker does
// not offer it again) and the link stays; nothing here throws into the loop.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "common.capnp.h"
#include "config.hpp"
#include "core/inbound.hpp"
#include "core/outbound_queue.hpp"
#include "core/reply.hpp"
#include "data.capnp.h"
#include "link.hpp"
#include "log.hpp"
#include "protocol_gen.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

// Where a channel message goes once it passed its channel's policy and is in its session
// (the core starts a run that answers it).
class InboundSink {
 public:
  virtual ~InboundSink() = default;
  virtual void on_inbound(const SessionKey& session_key, const InboundMessage& m) = 0;
  // True when a message for this session would wait for an earlier turn (inbound.hpp, step 4).
  virtual bool turn_waits(const SessionKey& /*session_key*/) const { return false; }
};

class ChannelHub {
 public:
  static constexpr size_t kWindow = 32;
  static constexpr size_t kMaxPending = 10'000;
  static constexpr int64_t kSendWaitMs = 15'000;  // then `send` answers "queued"
  static constexpr size_t kMaxDedupe = 1000;
  static constexpr size_t kMaxSendWaiters = 64;  // `send` calls waiting on one idempotency key
  // A message whose delivery died with its worker this many times is set aside (failed), so
  // one message can never keep a channel in a restart loop.
  static constexpr int kMaxLostDeliveries = 3;
  // The most one outbound entry carries over the worker link (whose messages are capped at
  // 1 MiB); `send` refuses more, and longer agent replies are queued in parts.
  static constexpr size_t kMaxOutboundBytes = 256 * 1024;
  static constexpr size_t kMaxPlaceNameBytes = 512;  // an inbound guild/channel name

  ChannelHub(boost::asio::io_context& io, const Clock& clock, Logger& log,
             const GatewaySettings& settings, SessionStore* sessions = nullptr,
             InboundSink* inbound = nullptr);
  ~ChannelHub();

  // Supervisor side.
  void attach_worker(int fd, const std::string& name, const std::string& channel,
                     const std::string& account_id, uint32_t generation);
  struct ChildRow {
    std::string name, role, channel, account_id, state, last_error;
    int pid = 0;
    uint32_t generation = 0, restarts = 0;
    int64_t since_ms = 0, next_restart_ms = 0, last_start_ms = 0, last_exit_ms = 0;
    uint64_t rss = 0;
    Json sandbox;  // {noNewPrivs, seccomp, landlockAbi, landlock, notApplied}; null until reported
    std::string hold;  // "" | "stopped" (channels.stop) | "logged-out" (channels.logout)
  };
  void set_children(std::vector<ChildRow> rows);
  bool supervised() const { return supervised_; }
  void set_supervised(bool s) { supervised_ = s; }
  // channels.restart goes to the supervisor through this (set by the runner).
  std::function<void(const std::string& child, ReplyFn)> restart_child;
  // channels.stop/start/logout go to the supervisor through this (set by the runner). The
  // supervisor owns the worker's process and its logged-out mark; it answers with this.
  enum class Lifecycle { stop, start, logout };
  struct LifecycleAnswer {
    bool running = false;          // the worker runs after the action
    std::string outcome, reason;   // start: "handed-off" | "retry" | "skipped", and why
    std::vector<std::string> env;  // logout: variables that still hold its credentials
  };
  std::function<void(const std::string& child, Lifecycle,
                     std::function<void(Result<LifecycleAnswer>)>)>
      child_lifecycle;
  std::function<void()> on_change;  // status changed: health is stale
  // Queues `text` for delivery to `to` through `account_id` of `channel` ("": its default
  // account; durable; chunked by the worker). False when no such account is configured or the
  // queue refused it. With an idempotency key, a text the queue already has under that key
  // (pending, or delivered within its dedupe window, also before a front restart) is not
  // queued again, part by part.
  bool deliver(const std::string& channel, const std::string& account_id, const std::string& to,
               const std::string& text, const std::string& idempotency_key = "");

  // A run answering `to` on that account is in progress (or over): its worker shows the
  // platform's typing indicator meanwhile. Best effort: nothing is queued for a worker away.
  void typing(const std::string& channel, const std::string& account_id, const std::string& to,
              bool active);

  // Methods (its route table is the one list of them). `done` may run now or later, always on
  // the loop.
  static bool serves(schema::Method m);
  bool call(schema::Method m, const Json& params, ReplyFn done);  // false: not its method

  // Slack HTTP mode (channel_webhooks.cpp): a request Slack POSTed to an account's webhookPath,
  // raw. The front never checks it: the signing secret is the worker's alone.
  struct WebhookRequest {
    std::string content_type, timestamp, signature;
    int retry_num = -1;  // X-Slack-Retry-Num, -1 absent
    std::string body;    // at most kMaxWebhookBodyBytes (the transport answers 413 beyond)
  };
  struct WebhookAnswer {
    int status = 503;
    std::string content_type = "text/plain; charset=utf-8", body;
  };
  using WebhookDone = std::function<void(WebhookAnswer)>;
  static constexpr size_t kMaxWebhookBodyBytes = 1024 * 1024;
  // Under Slack's 3 s: a late worker is a 503 Slack retries, not a timeout it counts as failure.
  static constexpr int64_t kWebhookWaitMs = 2500;
  static constexpr size_t kMaxWebhooksWaiting = 256;
  static constexpr size_t kMaxWebhookQueuedBytes = 4 * 1024 * 1024;  // unsent on a worker link
  static constexpr int64_t kOrphanGraceMs = 5'000;  // a live worker without a link, then restart
  // Whether `path` is an enabled HTTP-mode account's webhookPath.
  bool serves_webhook(const std::string& path) const;
  // Hands the request to that account's worker. `done` runs exactly once, on the loop: the
  // worker's answer, or 503 when no worker is up, it goes away, or it is silent for
  // kWebhookWaitMs (Slack sends the event again; the worker drops a repeat it already has).
  void webhook(const std::string& path, WebhookRequest req, WebhookDone done);

  Json status_json();          // channels.status payload
  Json health_channels();      // health.channels
  Json children_json() const;  // status.processes
  size_t pending_outbound() const { return queue_.pending_count(); }

 private:
  struct Route {
    schema::Method method;
    void (*handler)(ChannelHub& self, const Json& params, ReplyFn done);
  };
  static const Route* route(schema::Method m);

  struct Worker {
    std::string name, channel, account_id;
    uint32_t generation = 0;
    std::shared_ptr<ipc::Link> link;
    bool hello = false;
    bool connected = false;  // platform connection, from the worker's status
    std::string detail, bot_username;
    Json last_error;
    int64_t last_inbound_ms = 0, last_outbound_ms = 0;
    // The live probe the worker reports (WorkerStatus): heartbeat round trip (-1 unknown), last
    // platform event, when a rate limit ends; and when the front last heard a status.
    int64_t latency_ms = -1, last_event_ms = 0, rate_limited_until_ms = 0, status_ms = 0;
    size_t in_flight = 0;
  };
  struct SetAside {  // per account, for channels.status
    size_t count = 0;
    std::string last_error;
  };
  struct Dedupe {
    std::string queue_id;
    std::optional<Reply> outcome;
    std::vector<ReplyFn> waiters;
    int64_t created_ms = 0;
  };

  void m_send(const schema::params::Send& p, ReplyFn done);
  void m_restart(const schema::params::ChannelsRestart& p, ReplyFn done);
  // channels.stop, channels.start, channels.logout: one account's worker, by the supervisor.
  void m_lifecycle(Lifecycle action, const std::string& channel,
                   const std::optional<std::string>& account_id, ReplyFn done);
  void m_pairing_list(const schema::params::ChannelsPairingList& p, ReplyFn done);
  void m_pairing_approve(const schema::params::ChannelsPairingApprove& p, ReplyFn done);

  void on_data(const std::string& key, capnp::MessageReader& r);
  void on_hello(Worker& w, ipc::DataHello::Reader h);
  void on_inbound(Worker& w, ipc::Inbound::Reader in);
  void ack_inbound(Worker& w, const std::string& id);  // persisted (or refused): forget it
  void on_delivery(Worker& w, ipc::Delivery::Reader d);
  void on_status(Worker& w, ipc::WorkerStatus::Reader s);
  void on_link_closed(const std::string& key, const std::string& reason);
  void watch_orphan(const std::string& name, const std::string& channel, const std::string& account,
                    uint32_t generation);
  void on_http_response(const std::string& key, ipc::HttpResponse::Reader r);
  void finish_webhook(uint64_t id, WebhookAnswer a);
  void fail_webhooks(const std::string& key);  // the worker's link closed
  void pump(const std::string& channel, const std::string& account_id);
  void set_aside(OutboundEntry& e, const std::string& why);
  void arm_retry(int64_t delay_ms);
  void finish(const std::string& queue_id, const std::string& key, Reply r);
  Reply reply_for(const OutboundOutcome& o) const;
  void wait_for(const std::string& key, ReplyFn done);
  void sweep_dedupe();
  bool enqueue_reply(const InboundMessage& m, const std::string& text,
                     const std::string& idempotency_key = "");
  Worker* worker_for(const std::string& channel, const std::string& account_id);
  Json account_json(const ChannelSettings& c);
  void changed();

  boost::asio::io_context& io_;
  const Clock& clock_;
  Logger& log_;
  GatewaySettings settings_;
  bool supervised_ = false;
  InboundSink* inbound_;
  OutboundQueue queue_;
  InboundRouter router_;
  // By "name#generation": an old generation's link stays until its EOF, so delivery results it
  // wrote before dying are still read (and not sent again).
  std::map<std::string, Worker> workers_;
  std::map<std::string, SetAside> set_aside_;  // by "channel/account"
  // The last error a worker reported before its link closed (a fatal one says why it exited),
  // by "channel/account"; shown while no newer worker speaks for the account.
  std::map<std::string, std::string> gone_errors_;
  std::vector<ChildRow> children_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for timers that outlive the hub
  std::map<std::string, Dedupe> dedupe_;                   // idempotency key
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;
  struct WaitingWebhook {
    std::string worker_key;  // "name#generation": only that link's answer counts
    WebhookDone done;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  std::map<uint64_t, WaitingWebhook> webhooks_;  // by request id
  uint64_t next_webhook_id_ = 1;
};

}  // namespace clawgate::core
