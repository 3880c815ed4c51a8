// Rest: Discord's REST API (v10) through one keep-alive HttpClient, requests one at a time in
// the order queued, with Discord's rate limits honoured: each route's remaining budget and reset
// (X-RateLimit-* headers), a 429's retry_after for its route or, when global, for every route,
// and a request that met a 429 is sent again after the wait (up to kMax429 times).
// Fails: every request ends in its callback exactly once: a status and a parsed body, or a
// transport error (status 0); cancel_all() ends the queued ones with error "cancelled".
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <string>

#include "discord_payload.hpp"
#include "http_client.hpp"

namespace clawgate::workers::discord {

// Per-route and global waits from what Discord said, keyed by route ("POST /channels/1/messages":
// the method and path, so a channel's messages are one bucket, as its major parameter makes them).
// Times are steady-clock milliseconds.
class RateLimits {
 public:
  static constexpr size_t kMaxRoutes = 4096;
  int64_t wait_ms(const std::string& route, int64_t now_ms) const;
  void update(const std::string& route, const RateLimit& r, int64_t now_ms);
  // The latest time any known limit ends (for status), 0 when none is in force.
  int64_t limited_until(int64_t now_ms) const;

 private:
  struct Bucket {
    int64_t remaining = -1, reset_at_ms = 0;
  };
  std::map<std::string, Bucket> routes_;
  int64_t global_until_ms_ = 0;
};

class Rest {
 public:
  struct Result {
    int status = 0;  // 0: transport error
    Json body;       // parsed (discarded when not JSON; null for an empty body)
    RateLimit limit;
    std::string error;  // transport error, or Discord's message for a non-2xx
  };
  using Done = std::function<void(Result)>;
  static constexpr size_t kMaxQueued = 256;
  static constexpr int kMax429 = 5;

  Rest(boost::asio::io_context& io, const std::string& api_root, const std::string& token);
  // Queues GET or POST `path` (below the API root) with a JSON body (POST). False, with nothing
  // queued, when the queue is full.
  bool call(const std::string& method, const std::string& path, const Json& body, Done done,
            int timeout_ms = 15'000);
  void cancel_all();
  size_t queued() const { return queue_.size(); }
  const RateLimits& limits() const { return limits_; }
  int64_t steady_ms() const;

 private:
  struct Item {
    std::string method, path, body;
    Done done;
    int timeout_ms = 0, limited = 0;
  };
  void pump();

  HttpClient http_;
  std::string auth_;
  std::deque<Item> queue_;
  bool busy_ = false;
  RateLimits limits_;
  boost::asio::steady_timer wait_timer_;
};

}  // namespace clawgate::workers::discord
