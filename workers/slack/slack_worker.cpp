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
      start_timer_(io),
      send_timer_(io) {
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
  // Everything of this account lives in state/slack/<account>/, the only directory its sandbox
  // lets it see. What a killed predecessor had not handed over comes first.
  const std::string dir = sandbox::channel_state_dir(cfg_.state_dir, "slack", cfg_.account_id);
  make_dirs(dir);
  journal_ = std::make_unique<InboundJournal>(dir + "/inbound.jsonl", kMaxInbound);
  for (SlackMessage& m : journal_->take_loaded()) {
    seen_.seen("m:" + message_key(m));
    inbound_.push_back({std::move(m), true, false});
  }
  if (!inbound_.empty())
    log_.info("slack",
              std::to_string(inbound_.size()) +
                  " message(s) not yet handed to the front by the last run: offered again");
}

SlackWorker::~SlackWorker() {
  if (front_) front_->close("worker stopping");
}

void SlackWorker::start() {
  auth_test();
}

void SlackWorker::stop() {
  stopping_ = true;
  start_timer_.cancel();
  send_timer_.cancel();
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
  if (inbound_.size() >= kMaxInbound) {
    // Acknowledged to Slack already: dropping is all that is left; say so loudly.
    log_.error("slack", "inbound queue full (front away?); message " + message_key(m) + " dropped");
    return;
  }
  if (m.original_bytes)
    log_.warn("slack", message_key(m) + ": text of " + std::to_string(m.original_bytes) +
                           " bytes cut to " + std::to_string(m.text.size()));
  Pending p;
  p.message = std::move(m);
  if (p.message.kind == ConvKind::unknown) {
    auto it = kinds_.find(p.message.channel);
    if (it != kinds_.end()) p.message.kind = it->second;
  }
  p.ready = p.message.kind != ConvKind::unknown;
  // On disk before anything else: Slack has its ack already.
  if (!journal_->add(p.message))
    log_.error("slack", "cannot write the inbound journal; " + message_key(p.message) +
                            " is held in memory only");
  inbound_.push_back(std::move(p));
  last_inbound_ms_ = now_ms();
  resolve_kinds();
  flush_inbound();
}

void SlackWorker::resolve_kinds() {
  if (resolving_ || stopping_) return;
  auto it =
      std::find_if(inbound_.begin(), inbound_.end(), [](const Pending& p) { return !p.ready; });
  if (it == inbound_.end()) return;
  resolving_ = true;
  const std::string channel = it->message.channel;
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
        for (Pending& p : inbound_)
          if (!p.ready && p.message.channel == channel) {
            p.message.kind = kind;
            p.ready = true;
          }
        flush_inbound();
        resolve_kinds();
      });
}

void SlackWorker::acknowledged(const std::string& id) {
  auto it = std::find_if(inbound_.begin(), inbound_.end(),
                         [&](const Pending& p) { return message_key(p.message) == id; });
  if (it == inbound_.end()) return;
  inbound_.erase(it);
  std::vector<const SlackMessage*> pending;
  for (const Pending& p : inbound_) pending.push_back(&p.message);
  if (!journal_->ack(id, pending)) log_.error("slack", "cannot update the inbound journal");
}

void SlackWorker::flush_inbound() {
  if (!front_ || !front_->is_open()) return;
  for (Pending& p : inbound_) {
    if (!p.ready) return;  // in order: later messages wait for an earlier one's lookup
    if (p.sent) continue;
    capnp::MallocMessageBuilder b;
    write_inbound(b, p.message);
    if (!front_->send(b)) return;
    p.sent = true;
  }
}

void SlackWorker::attach_front(int fd, uint32_t generation) {
  if (front_) front_->close("replaced");
  front_generation_ = generation;
  front_ = ipc::Link::create(io_, fd, ipc::contract::data_link("front"));
  for (Pending& p : inbound_) p.sent = false;  // the new front hears everything unacknowledged
  // Deliveries not yet started are the new front's to send again; one in progress finishes
  // and its result goes to the new front (which re-sends it; done_ answers).
  std::deque<Delivery> keep;
  if (!outbound_.empty() && (sending_ || outbound_.front().next > 0))
    keep.push_back(std::move(outbound_.front()));
  outbound_ = std::move(keep);
  front_->start([this](capnp::MessageReader& r) { on_front(r); },
                [this, generation](const std::string& reason) {
                  if (generation != front_generation_) return;
                  log_.warn("slack", "front link lost (" + reason +
                                         "); holding inbound messages until it returns");
                });
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<ipc::Data>().initHello();
  h.setChannel("slack");
  h.setAccountId(cfg_.account_id);
  h.setGeneration(generation);
  front_->send(b);
  send_status();
  flush_inbound();
}

void SlackWorker::on_front(capnp::MessageReader& r) {
  auto msg = r.getRoot<ipc::Data>();
  switch (msg.which()) {
    case ipc::Data::INBOUND_ACK: {
      const std::string id = msg.getInboundAck();
      return acknowledged(id);
    }
    case ipc::Data::HTTP_REQUEST:
      return on_http_request(read_http_event(msg.getHttpRequest()));
    case ipc::Data::OUTBOUND: {
      auto o = msg.getOutbound();
      Delivery d;
      d.id = o.getDeliveryId();
      d.to = o.getTo();
      if (auto it = done_.find(d.id); it != done_.end()) {
        d.message_ids = it->second;
        return report(d);
      }
      for (const auto& x : outbound_)
        if (x.id == d.id) return;  // already queued here
      const std::optional<Target> t = parse_target(d.to);
      if (!t)
        return report(d, Error::invalid("not a Slack channel, user or thread: " +
                                        utf8::truncate_bytes(d.to, 64)));
      d.target = *t;
      // The agent's text may carry invalid UTF-8 from a model; Slack's markup characters are
      // escaped so "a < b" stays text.
      d.chunks = chunk_text(
          escape_text(utf8::repair(std::string_view(o.getText().cStr(), o.getText().size()))),
          cfg_.chunk_limit);
      if (d.chunks.empty()) return report(d, Error::invalid("empty message"));
      outbound_.push_back(std::move(d));
      send_next();
      return;
    }
    default:
      return;  // a message kind this worker has no use for (e.g. a typing indicator)
  }
}

void SlackWorker::send_next() {
  if (sending_ || stopping_ || outbound_.empty()) return;
  sending_ = true;
  const Delivery& d = outbound_.front();
  Json params = {
      {"channel", d.target.channel}, {"text", d.chunks[d.next]}, {"unfurl_links", false}};
  if (!d.target.thread_ts.empty()) params["thread_ts"] = d.target.thread_ts;
  call(send_http_, "chat.postMessage", params, [this](const ApiAnswer& a) {
    sending_ = false;
    if (outbound_.empty()) return;
    Delivery& d = outbound_.front();
    auto retry_in = [this](int64_t ms) {
      sending_ = true;  // nothing else goes out meanwhile: order is kept
      send_timer_.expires_after(std::chrono::milliseconds(ms));
      send_timer_.async_wait([this](const boost::system::error_code& ec) {
        sending_ = false;
        if (!ec) send_next();
      });
    };
    if (a.ok) {
      d.message_ids.push_back(slack_ts(a.body, "ts").value_or(""));
      last_outbound_ms_ = now_ms();
      d.attempts = 0;
      if (rate_limited_until_ms_) {
        rate_limited_until_ms_ = 0;
        send_status();
      }
      if (++d.next < d.chunks.size()) return send_next();
      Delivery done = std::move(d);
      outbound_.pop_front();
      done_[done.id] = done.message_ids;
      done_order_.push_back(done.id);
      if (done_order_.size() > kMaxRemembered) {
        done_.erase(done_order_.front());
        done_order_.pop_front();
      }
      report(done);
      return send_next();
    }
    if (a.auth_failure()) {
      report(d, Error::unavailable("chat.postMessage: " + a.error, true, 5000));
      if (on_fatal) on_fatal(78, "Slack refused the bot token (botToken): " + a.error);
      return;
    }
    ++d.attempts;
    if (a.error == "ratelimited" && d.attempts <= kMaxSendAttempts) {
      const int64_t wait = std::max(1, a.retry_after_s) * 1000LL;
      rate_limited_until_ms_ = now_ms() + wait;
      send_status();
      log_.warn("slack", "rate limited; retrying in " + std::to_string(a.retry_after_s) + " s");
      return retry_in(wait);
    }
    if (a.transient() && d.attempts <= kMaxSendAttempts) return retry_in(backoff_ms(d.attempts));
    Delivery failed = std::move(d);
    outbound_.pop_front();
    // Permanent (channel_not_found, not_in_channel, is_archived): the front records it.
    const bool transient = a.transient();
    report(failed, Error{transient ? ErrorCode::UNAVAILABLE : ErrorCode::INVALID_REQUEST,
                         "chat.postMessage: " + a.error, transient, transient ? 5000 : 0});
    send_next();
  });
}

void SlackWorker::report(const Delivery& d, std::optional<Error> error) {
  if (!front_ || !front_->is_open()) return;  // the next front sends it again; done_ answers
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<ipc::Data>().initDelivery();
  r.setDeliveryId(d.id);
  r.setOk(!error);
  auto ids = r.initMessageIds(static_cast<unsigned>(d.message_ids.size()));
  for (unsigned i = 0; i < d.message_ids.size(); ++i) ids.set(i, d.message_ids[i]);
  if (error) ipc::write_error(*error, r.initError());
  front_->send(b);
}

void SlackWorker::send_status() {
  if (!front_ || !front_->is_open()) return;
  last_status_ms_ = now_ms();
  capnp::MallocMessageBuilder b;
  auto s = b.initRoot<ipc::Data>().initStatus();
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
  front_->send(b);
}

}  // namespace clawgate::workers::slack
