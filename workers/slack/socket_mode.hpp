// SocketMode: Slack's Socket Mode for one app (its app-level token), on the worker's Asio loop.
// Asks apps.connections.open for a URL, connects (WsConnection), waits for hello, acknowledges
// every envelope the moment it arrives (before anything reads it: Slack re-sends what is not
// acknowledged within 3 s) and hands each events_api payload on.
// A `disconnect` (refresh_requested, warning, ...) opens a NEW connection first and drops the
// old one only once the new one said hello, so no event falls between them. A connection that
// goes quiet (no pong within the ping timeout) or drops is replaced after a jittered
// exponential backoff (about 1 s doubling to 30 s; the first retry after a healthy connection
// is immediate).
// Fails: a token Slack refuses (invalid_auth, not_allowed_token_type, revoked) is fatal
// (on_fatal: configuration, exit 78, naming appToken); everything else is retried and shown
// in the state (last error, rate limit).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "error.hpp"
#include "http_client.hpp"
#include "log.hpp"
#include "ws_connection.hpp"

namespace clawgate::workers::slack {

class SocketMode {
 public:
  struct Options {
    std::string api_root;  // https://slack.com/api (or an emulator's)
    std::string app_token;
    int ping_timeout_ms = 30'000;  // pings after half of it; closes when no reply
    int hello_timeout_ms = 15'000;
    int max_backoff_ms = 30'000;
  };
  struct State {
    bool connected = false;  // a connection said hello and is open
    int connections = 0;     // open ones (2 while one replaces another)
    std::optional<Error> last_error;
    int64_t reconnects = 0;  // connections opened after the first
  };
  struct Handlers {
    // Each events_api payload, after its ack went out. retry_attempt > 0: Slack sent it before.
    std::function<void(const nlohmann::json& payload, int retry_attempt)> on_event;
    std::function<void(const State&)> on_state;            // on every change
    std::function<void(const std::string& why)> on_fatal;  // the app token was refused
  };

  SocketMode(boost::asio::io_context& io, Logger& log, Options o, Handlers h);
  ~SocketMode();
  SocketMode(const SocketMode&) = delete;
  SocketMode& operator=(const SocketMode&) = delete;

  void start();
  void stop();
  const State& state() const { return state_; }

 private:
  struct Conn {
    uint64_t id = 0;
    std::shared_ptr<WsConnection> ws;
    bool hello = false;    // ready: events may come
    bool leaving = false;  // Slack asked us to move; replaced as soon as a new one is ready
    std::chrono::steady_clock::time_point ready_at;
  };

  void open_connection();
  void connect(const std::string& url);
  void on_text(uint64_t id, const std::string& text);
  void on_hello(uint64_t id, int num_connections);
  void on_disconnect(uint64_t id, const std::string& reason);
  void on_closed(uint64_t id, uint16_t code, const std::string& reason, const std::string& error);
  void retry_later(const Error& why, int64_t min_wait_ms = 0);
  Conn* find(uint64_t id);
  int64_t backoff_ms();
  void publish();

  boost::asio::io_context& io_;
  Logger& log_;
  Options opt_;
  Handlers h_;
  HttpClient http_;
  boost::asio::steady_timer retry_timer_, hello_timer_;
  std::vector<Conn> conns_;
  uint64_t next_id_ = 1;
  uint64_t opening_ = 0;  // the connection being opened (0: none); also set while asking for a URL
  bool asking_ = false;   // apps.connections.open in flight
  bool stopping_ = false;
  int failures_ = 0;
  State state_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace clawgate::workers::slack
