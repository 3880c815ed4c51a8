// Rest: see discord_rest.hpp.
#include "discord_rest.hpp"

#include <algorithm>
#include <chrono>

#include "utf8.hpp"

namespace clawgate::workers::discord {

int64_t RateLimits::wait_ms(const std::string& route, int64_t now_ms) const {
  int64_t until = global_until_ms_;
  if (const auto it = routes_.find(route); it != routes_.end() && it->second.remaining == 0)
    until = std::max(until, it->second.reset_at_ms);
  return std::max<int64_t>(0, until - now_ms);
}

void RateLimits::update(const std::string& route, const RateLimit& r, int64_t now_ms) {
  if (r.limited && r.global) {
    global_until_ms_ = std::max(global_until_ms_, now_ms + r.retry_after_ms);
    return;
  }
  if (!r.limited && r.remaining < 0) return;  // nothing said about this route
  if (!routes_.count(route) && routes_.size() >= kMaxRoutes) {
    // Forget the routes whose limits are over; if none is, the oldest entry by key goes.
    for (auto it = routes_.begin(); it != routes_.end();)
      it = it->second.reset_at_ms <= now_ms ? routes_.erase(it) : std::next(it);
    if (routes_.size() >= kMaxRoutes) routes_.erase(routes_.begin());
  }
  Bucket& b = routes_[route];
  if (r.limited) {
    b.remaining = 0;
    b.reset_at_ms = now_ms + std::max(r.retry_after_ms, r.reset_after_ms);
  } else {
    b.remaining = r.remaining;
    b.reset_at_ms = now_ms + r.reset_after_ms;
  }
}

int64_t RateLimits::limited_until(int64_t now_ms) const {
  int64_t until = global_until_ms_ > now_ms ? global_until_ms_ : 0;
  for (const auto& [_, b] : routes_)
    if (b.remaining == 0 && b.reset_at_ms > now_ms) until = std::max(until, b.reset_at_ms);
  return until;
}

Rest::Rest(boost::asio::io_context& io, const std::string& api_root, const std::string& token)
    : http_(io, api_root), auth_("Bot " + token), wait_timer_(io) {}

int64_t Rest::steady_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Rest::call(const std::string& method, const std::string& path, const Json& body, Done done,
                int timeout_ms) {
  if (queue_.size() >= kMaxQueued) return false;
  queue_.push_back(
      {method, path, method == "GET" ? "" : dump_json(body), std::move(done), timeout_ms, 0});
  pump();
  return true;
}

void Rest::cancel_all() {
  // Emptied first: the cancelled request's callback then finds nothing to finish or start.
  std::deque<Item> gone = std::move(queue_);
  queue_.clear();
  wait_timer_.cancel();
  http_.cancel();
  busy_ = false;
  for (auto& i : gone) {
    Result r;
    r.error = "cancelled";
    if (i.done) i.done(std::move(r));
  }
}

void Rest::pump() {
  if (busy_ || queue_.empty()) return;
  Item& head = queue_.front();
  const std::string route = head.method + " " + head.path;
  if (const int64_t wait = limits_.wait_ms(route, steady_ms()); wait > 0) {
    busy_ = true;
    wait_timer_.expires_after(std::chrono::milliseconds(wait));
    wait_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      busy_ = false;
      pump();
    });
    return;
  }
  busy_ = true;
  const HttpClient::Headers headers = {{"Authorization", auth_},
                                       {"User-Agent", "DiscordBot (https://clawgate.local, 0.1)"}};
  http_.request(
      head.method, head.path, head.body, head.timeout_ms,
      [this, route](HttpResponse res) {
        busy_ = false;
        if (queue_.empty()) return;  // cancelled meanwhile
        Result r;
        r.status = res.status;
        if (!res.error.empty()) {
          r.error = res.error;
        } else {
          r.limit = read_rate_limit(res.status, res.headers, res.body);
          limits_.update(route, r.limit, steady_ms());
          r.body = res.body.empty() ? Json() : parse_body(res.body);
          if (res.status == 429 && queue_.front().limited < kMax429) {
            ++queue_.front().limited;  // sent again once the wait is over
            return pump();
          }
          if (res.status / 100 != 2) r.error = error_message(res.status, r.body);
        }
        Item done = std::move(queue_.front());
        queue_.pop_front();
        if (done.done) done.done(std::move(r));
        pump();
      },
      headers);
}

}  // namespace clawgate::workers::discord
