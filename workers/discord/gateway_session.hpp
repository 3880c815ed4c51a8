// GatewaySession: the Discord Gateway v10 protocol on one bot's connections, as a state machine
// without a socket or a clock of its own (the worker wires it to a WsConnection and timers; the
// unit tests to a fake clock). It owns: HELLO, heartbeats at the interval Discord gives (the
// first one after a random fraction of it, as the docs ask), ACK tracking (a beat whose ACK has
// not come by the next is a zombied connection: close and resume), IDENTIFY with the intents,
// READY, RESUME with the session id, sequence and resume_gateway_url, INVALID_SESSION
// (resumable or not), RECONNECT, the close codes, and the delay before each new connection:
// jittered exponential backoff while connections keep failing, never a fixed interval; an
// identify waits for the identify budget (session_start_limit) and 5 s after the previous one.
// Fails: closes that no retry can mend (4004 bad token, 4010-4014) end in `fatal` with exit
// code 78 and a message naming what to fix; everything else reconnects.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "discord_payload.hpp"

namespace clawgate::workers::discord {

// Intents the features need: GUILDS (1 << 0), GUILD_MESSAGES (1 << 9), DIRECT_MESSAGES
// (1 << 12), MESSAGE_CONTENT (1 << 15, privileged: the Developer Portal switch).
inline constexpr int kIntents = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15);

class GatewaySession {
 public:
  struct Hooks {
    std::function<void(std::string frame)> send;                   // to the open connection
    std::function<void(uint16_t code, std::string reason)> close;  // then on_closed follows
    std::function<void(int64_t delay_ms)> arm_heartbeat;           // on_heartbeat after it
    std::function<void(const Frame& dispatch)> dispatch;           // op 0, after READY's handling
    std::function<void()> on_ready;                                // READY or RESUMED
  };
  // What to do after a connection ended (on_closed).
  struct Next {
    bool fatal = false;
    int exit_code = 0;
    std::string why;       // for the log and the status
    bool resume = false;   // RESUME on `url`; else a fresh IDENTIFY on the /gateway/bot URL
    std::string url;       // resume: resume_gateway_url
    int64_t delay_ms = 0;  // wait this long before connecting
  };

  // `token_key` names the token's config key in fatal messages; `random01` returns [0, 1).
  GatewaySession(Hooks hooks, std::string token, std::string token_key,
                 std::function<double()> random01, int intents = kIntents);

  // A new connection is open (its first frame will be HELLO).
  void on_open(int64_t now_ms);
  // One text message from it.
  void on_text(const std::string& text, int64_t now_ms);
  // The heartbeat timer armed through arm_heartbeat fired.
  void on_heartbeat(int64_t now_ms);
  // The connection ended: the peer's close code (0 none) and reason, or a transport error.
  Next on_closed(uint16_t code, const std::string& reason, const std::string& error,
                 int64_t now_ms);
  // GET /gateway/bot's identify budget, for the next fresh identify.
  void set_identify_budget(int64_t remaining, int64_t reset_after_ms, int64_t now_ms);
  // The delay before a fresh connection may identify (budget, 5 s spacing): 0 when it may now.
  int64_t identify_wait_ms(int64_t now_ms) const;
  // A resume point kept from an earlier process (state dir): the next connection resumes it.
  void restore(const std::string& session_id, int64_t seq, const std::string& resume_url);
  // Forget the session: the next connection identifies.
  void forget();

  bool ready() const { return ready_; }
  const std::string& session_id() const { return session_id_; }
  const std::string& resume_url() const { return resume_url_; }
  int64_t seq() const { return seq_; }
  int64_t latency_ms() const { return latency_ms_; }  // -1 until an ACK came
  int64_t last_event_ms() const { return last_event_ms_; }
  int failures() const { return failures_; }
  const Ready& identity() const { return identity_; }

  static constexpr int64_t kIdentifySpacingMs = 5'000;
  static constexpr int64_t kMaxBackoffMs = 60'000;

 private:
  void heartbeat(int64_t now_ms);
  void hello(const Frame& f, int64_t now_ms);
  void invalid_session(const Frame& f);
  std::string identify_frame() const;
  std::string resume_frame() const;
  int64_t backoff_ms();

  Hooks hooks_;
  std::string token_, token_key_;
  std::function<double()> random01_;
  int intents_;
  // Per connection.
  bool open_ = false, hello_ = false, awaiting_ack_ = false, ready_ = false;
  bool closing_fresh_ = false;  // we closed it and the session is over (op 9 false)
  int64_t interval_ms_ = 0, beat_sent_ms_ = 0;
  // Per session.
  std::string session_id_, resume_url_;
  int64_t seq_ = 0;
  Ready identity_;
  // Across connections.
  int failures_ = 0;  // connections since the last READY/RESUMED
  int64_t latency_ms_ = -1, last_event_ms_ = 0, last_identify_ms_ = -1;
  int64_t budget_remaining_ = 1, budget_reset_at_ms_ = 0;
};

}  // namespace clawgate::workers::discord
