// SlackWorker: see slack_worker.hpp.
#include "slack_worker.hpp"

#include <algorithm>
#include <chrono>

#include "contract.hpp"
#include "data.capnp.h"
#include "fs.hpp"
#include "sandbox.hpp"
#include "slack_text.hpp"
#include "utf8.hpp"

namespace clawgate::workers::slack {

namespace {

constexpr int kApiTimeoutMs = 15'000;
constexpr int kSendTimeoutMs = 30'000;
constexpr int kMaxSendAttempts = 5;
constexpr size_t kMaxKinds = 4096;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool valid_id(std::string_view s) {
  return !s.empty() && s.size() <= kMaxIdBytes && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

ipc::ChatType chat_type(ConvKind k) {
  // Upstream: DMs route as direct, group DMs as group, channels (public or private) as channel.
  switch (k) {
    case ConvKind::im:
      return ipc::ChatType::DIRECT;
    case ConvKind::mpim:
      return ipc::ChatType::GROUP;
    default:
      return ipc::ChatType::CHANNEL;
  }
}

// state/slack/<account>/, made: everything of the account lives there, the only directory its
// sandbox lets it see.
std::string account_dir(const SlackConfig& c) {
  const std::string dir = sandbox::channel_state_dir(c.state_dir, "slack", c.account_id);
  make_dirs(dir);
  return dir;
}

}  // namespace

std::optional<Target> parse_target(const std::string& to) {
  std::string_view s(to);
  if (s.size() > 128) return std::nullopt;
  for (std::string_view prefix : {"channel:", "user:", "slack:"})
    if (s.substr(0, prefix.size()) == prefix) s.remove_prefix(prefix.size());
  if (s.size() > 3 && s.substr(0, 2) == "<@" && s.back() == '>') s = s.substr(2, s.size() - 3);
  Target t;
  const size_t thread = s.find(":thread:");
  if (thread != std::string_view::npos) {
    const Json j = {{"ts", std::string(s.substr(thread + 8))}};
    const auto ts = slack_ts(j, "ts");
    if (!ts) return std::nullopt;
    t.thread_ts = *ts;
    s = s.substr(0, thread);
  }
  if (!valid_id(s)) return std::nullopt;
  t.channel = std::string(s);
  return t;
}

void write_inbound(capnp::MessageBuilder& b, const SlackMessage& m) {
  auto in = b.initRoot<ipc::Data>().initInbound();
  in.setId(message_key(m));
  // A channel's thread is its own conversation (upstream's <channel>:thread:<ts> sessions) and
  // replies go back into it; a DM's threads are a UI affordance on the one DM session.
  const bool thread = !m.thread_ts.empty() && m.kind != ConvKind::im;
  in.setChatId(thread ? m.channel + ":thread:" + m.thread_ts : m.channel);
  in.setChatType(chat_type(m.kind));
  in.setSenderId(m.user);
  in.setSenderName(m.user);
  in.setSenderUsername("");
  in.setText(m.text);
  in.setMessageId(m.ts);
  in.setTsMs(m.ts_ms);
  in.setWasMentioned(m.mentioned);
  in.setReplyToBot(m.reply_to_bot);
  in.setBotCommand(false);
  in.setGroupId(m.team);
  if (thread) {
    in.setThreadId(m.thread_ts);
    in.setParentChatId(m.channel);  // its access follows the channel's entry
  }
  in.setSenderIsBot(m.from_bot);
}

bool SeenKeys::seen(const std::string& key) {
  if (key.empty()) return false;
  if (!set_.insert(key).second) return true;
  order_.push_back(key);
  if (order_.size() > capacity_) {
    set_.erase(order_.front());
    order_.pop_front();
  }
  return false;
}

SlackWorker::SlackWorker(boost::asio::io_context& io, Logger& log, SlackConfig cfg)
    : io_(io),
      log_(log),
      cfg_(std::move(cfg)),
      api_http_(io, cfg_.api_root),
      send_http_(io, cfg_.api_root),
      // Slack was told each message arrived before the front knew: journaled until acknowledged.
      front_(io, log, {"slack", cfg_.account_id, account_dir(cfg_) + "/inbound.jsonl", kMaxInbound},
             {[this](ipc::WorkerStatus::Builder s) { fill_status(s); },
              {[this](Outbox::Delivery& d, std::string_view text) { return prepare(d, text); },
               [this](Outbox::Delivery& d) { send(d); }, nullptr},
              nullptr,
              nullptr,
              [this](ipc::Data::Reader msg) {
                if (msg.which() != ipc::Data::HTTP_REQUEST) return false;
                on_http_request(read_http_event(msg.getHttpRequest()));  // HTTP mode
                return true;
              }}),
      start_timer_(io) {
  SocketMode::Options o;
  o.api_root = cfg_.api_root;
  o.app_token = cfg_.app_token;
  o.ping_timeout_ms = cfg_.ping_timeout_ms;
  SocketMode::Handlers h;
  h.on_event = [this](const Json& payload, int retry) { on_event(payload, retry); };
  h.on_state = [this](const SocketMode::State& s) {
    last_error_ = s.last_error;
    if (s.last_error && s.last_error->code == ErrorCode::RATE_LIMITED)
      rate_limited_until_ms_ = now_ms() + s.last_error->retry_after_ms;
    send_status();
  };
  h.on_fatal = [this](const std::string& why) {
    if (on_fatal) on_fatal(78, why);
  };
  socket_ = std::make_unique<SocketMode>(io, log, std::move(o), std::move(h));
  // What a killed predecessor had not handed over comes first (FrontLink's journal): a repeat
  // from Slack is dropped.
  for (const std::string& id : front_.pending_ids()) seen_.seen("m:" + id);
}

void SlackWorker::start() {
  auth_test();
}

void SlackWorker::stop() {
  stopping_ = true;
  start_timer_.cancel();
  front_.outbox().stop();
  api_http_.cancel();
  send_http_.cancel();
  socket_->stop();
}

int64_t SlackWorker::backoff_ms(int failures) {
  const int64_t base = std::min<int64_t>(30'000, 500LL << std::min(failures, 6));
  std::uniform_int_distribution<int64_t> jitter(base * 8 / 10, base * 12 / 10);
  return jitter(rng_);
}

void SlackWorker::call(HttpClient& http, const std::string& method, const Json& params,
                       std::function<void(const ApiAnswer&)> done) {
  const auto started = std::chrono::steady_clock::now();
  // Read methods take their arguments as a query (Slack does not read JSON bodies for them).
  std::string path = "/" + method, body = "{}";
  if (method == "chat.postMessage") {
    body = dump_json(params);
  } else {
    for (const auto& [k, v] : params.items())
      path += (path.find('?') == std::string::npos ? "?" : "&") + k + "=" + v.get<std::string>();
  }
  http.request("POST", path, body, method == "chat.postMessage" ? kSendTimeoutMs : kApiTimeoutMs,
               [this, started, done = std::move(done)](HttpResponse r) {
                 if (stopping_) return;
                 if (r.error.empty())
                   latency_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count();
                 done(read_api_answer(r.status, retry_after_of(r.headers), r.body, r.error));
               },
               {{"Authorization", "Bearer " + cfg_.bot_token}});
}

void SlackWorker::auth_test() {
  call(api_http_, "auth.test", Json::object(), [this](const ApiAnswer& a) {
    std::optional<BotIdentity> me = a.ok ? read_auth_test(a.body) : std::nullopt;
    if (!me) {
      if (a.auth_failure()) {
        if (on_fatal) on_fatal(78, "Slack refused the bot token (botToken): " + a.error);
        return;
      }
      const std::string why = a.ok ? "auth.test answered no user_id" : "auth.test: " + a.error;
      const int64_t wait =
          std::max<int64_t>(backoff_ms(start_failures_++), a.retry_after_s * 1000LL);
      last_error_ =
          Error{a.error == "ratelimited" ? ErrorCode::RATE_LIMITED : ErrorCode::UNAVAILABLE, why,
                true, wait};
      send_status();
      log_.warn("slack", why + "; retrying in " + std::to_string(wait) + " ms");
      start_timer_.expires_after(std::chrono::milliseconds(wait));
      start_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) auth_test();
      });
      return;
    }
    me_ = *me;
    const std::string how =
        cfg_.http_mode ? "HTTP Request URLs at " + cfg_.webhook_path : std::string("socket mode");
    detail_ = how + " as @" + me_.user_name + " (" + me_.user_id + ", team " + me_.team_id + ")";
    log_.info("slack", "bot @" + me_.user_name + " (" + me_.user_id + ") ready; " + how);
    last_error_.reset();
    send_status();
    if (!cfg_.http_mode) socket_->start();
  });
}

void SlackWorker::on_event(const Json& payload, int retry_attempt) {
  const bool first = last_event_ms_ == 0;
  last_event_ms_ = now_ms();
  // channels.status shows the last event: refreshed with the first, then every few seconds.
  if (first || last_event_ms_ - last_status_ms_ > 5000) send_status();
  EventRead r = read_event(payload, me_);
  if (!r.message) {
    if (!r.skipped.empty()) log_.warn("slack", "event skipped: " + r.skipped);
    return;
  }
  SlackMessage& m = *r.message;
  // Envelope retries repeat the event id; a mention comes as message and app_mention (same
  // channel and ts); a client re-send keeps its client_msg_id. All three are checked, so
  // each key is remembered whether or not an earlier one matched.
  const bool dup_event = seen_.seen(m.event_id.empty() ? "" : "e:" + m.event_id);
  const bool dup_message = seen_.seen("m:" + message_key(m));
  const bool dup_client =
      seen_.seen(m.client_msg_id.empty() ? "" : "c:" + m.channel + ":" + m.client_msg_id);
  if (dup_event || dup_message || dup_client) {
    log_.debug("slack", "repeat of " + message_key(m) + " dropped (retry " +
                            std::to_string(retry_attempt) + ")");
    return;
  }
  if (m.own) return;  // the bot's own posts come back as events
  if (front_.full()) {
    // Acknowledged to Slack already: dropping is all that is left; say so loudly.
    log_.error("slack", "inbound queue full (front away?); message " + message_key(m) + " dropped");
    return;
  }
  if (m.original_bytes)
    log_.warn("slack", message_key(m) + ": text of " + std::to_string(m.original_bytes) +
                           " bytes cut to " + std::to_string(m.text.size()));
  if (m.kind == ConvKind::unknown) {
    auto it = kinds_.find(m.channel);
    if (it != kinds_.end()) m.kind = it->second;
  }
  // Journaled as it is (an unknown kind reads as a group's stricter rules if the worker dies
  // before the lookup), held until its kind is known.
  const bool held = m.kind == ConvKind::unknown;
  capnp::MallocMessageBuilder b;
  write_inbound(b, m);
  front_.offer(b, held);
  if (held) held_.push_back(std::move(m));
  last_inbound_ms_ = now_ms();
  resolve_kinds();
}

void SlackWorker::resolve_kinds() {
  if (resolving_ || stopping_ || held_.empty()) return;
  resolving_ = true;
  const std::string channel = held_.front().channel;
  call(
      api_http_, "conversations.info", {{"channel", channel}}, [this, channel](const ApiAnswer& a) {
        resolving_ = false;
        ConvKind kind =
            a.ok ? conv_kind_from_info(a.body.value("channel", Json::object())) : ConvKind::unknown;
        if (kind == ConvKind::unknown) {
          // Cannot tell (no scope, not found, network): a private channel is the likelier, and a
          // group counts as one for access (the stricter rules apply either way).
          log_.warn("slack", "conversations.info " + channel + ": " + (a.ok ? "no kind" : a.error) +
                                 "; treated as a channel");
          kind = ConvKind::group;
        } else {
          if (kinds_.size() >= kMaxKinds) kinds_.clear();
          kinds_[channel] = kind;
        }
        for (auto it = held_.begin(); it != held_.end();) {
          if (it->channel != channel) {
            ++it;
            continue;
          }
          it->kind = kind;
          capnp::MallocMessageBuilder b;
          write_inbound(b, *it);
          front_.release(b);
          it = held_.erase(it);
        }
        resolve_kinds();
      });
}

void SlackWorker::attach_front(int fd, uint32_t generation) {
  front_.attach(fd, generation);
}

std::optional<Error> SlackWorker::prepare(Outbox::Delivery& d, std::string_view text) {
  if (!parse_target(d.to))
    return Error::invalid("not a Slack channel, user or thread: " + utf8::truncate_bytes(d.to, 64));
  // The agent's text may carry invalid UTF-8 from a model; Slack's markup characters are
  // escaped so "a < b" stays text.
  d.chunks = chunk_text(escape_text(utf8::repair(text)), cfg_.chunk_limit);
  return std::nullopt;
}

void SlackWorker::send(Outbox::Delivery& d) {
  const Target target = *parse_target(d.to);  // prepare() checked it
  Json params = {{"channel", target.channel}, {"text", d.chunks[d.next]}, {"unfurl_links", false}};
  if (!target.thread_ts.empty()) params["thread_ts"] = target.thread_ts;
  call(send_http_, "chat.postMessage", params, [this](const ApiAnswer& a) {
    Outbox& out = front_.outbox();
    Outbox::Delivery* d = out.landed();
    if (!d) return;
    if (a.ok) {
      last_outbound_ms_ = now_ms();
      if (rate_limited_until_ms_) {
        rate_limited_until_ms_ = 0;
        send_status();
      }
      return out.sent(slack_ts(a.body, "ts").value_or(""));
    }
    if (a.auth_failure()) {
      front_.report(*d, Error::unavailable("chat.postMessage: " + a.error, true, 5000));
      if (on_fatal) on_fatal(78, "Slack refused the bot token (botToken): " + a.error);
      return;
    }
    ++d->attempts;
    if (a.error == "ratelimited" && d->attempts <= kMaxSendAttempts) {
      const int64_t wait = std::max(1, a.retry_after_s) * 1000LL;
      rate_limited_until_ms_ = now_ms() + wait;
      send_status();
      log_.warn("slack", "rate limited; retrying in " + std::to_string(a.retry_after_s) + " s");
      return out.retry_in(wait);
    }
    if (a.transient() && d->attempts <= kMaxSendAttempts)
      return out.retry_in(backoff_ms(d->attempts));
    // Permanent (channel_not_found, not_in_channel, is_archived): the front records it.
    const bool transient = a.transient();
    out.fail(Error{transient ? ErrorCode::UNAVAILABLE : ErrorCode::INVALID_REQUEST,
                   "chat.postMessage: " + a.error, transient, transient ? 5000 : 0});
  });
}

void SlackWorker::fill_status(ipc::WorkerStatus::Builder s) {
  last_status_ms_ = now_ms();
  // HTTP mode has no connection of its own: ready to take events once the bot is known.
  s.setConnected(cfg_.http_mode ? !me_.user_id.empty() : socket_->state().connected);
  s.setDetail(detail_);
  s.setBotUsername(me_.user_name);
  s.setLastInboundMs(last_inbound_ms_);
  s.setLastOutboundMs(last_outbound_ms_);
  s.setLatencyMs(latency_ms_);
  s.setLastEventMs(last_event_ms_);
  s.setRateLimitedUntilMs(rate_limited_until_ms_ > now_ms() ? rate_limited_until_ms_ : 0);
  if (last_error_) ipc::write_error(*last_error_, s.initLastError());
}

}  // namespace clawgate::workers::slack
