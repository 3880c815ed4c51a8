// ChannelHub: see channels.hpp.
#include "core/channels.hpp"

#include <capnp/message.h>

#include <algorithm>

#include "channel_kinds.hpp"
#include "contract.hpp"
#include "data.capnp.h"
#include "error.hpp"
#include "names.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

Json nullable_ms(int64_t v) {
  return v > 0 ? Json(v) : Json(nullptr);
}

}  // namespace

ChannelHub::ChannelHub(boost::asio::io_context& io, const Clock& clock, Logger& log,
                       const GatewaySettings& settings, SessionStore* sessions,
                       InboundSink* inbound)
    : io_(io),
      clock_(clock),
      log_(log),
      settings_(settings),
      inbound_(inbound),
      queue_(settings.state_dir + "/outbound", kMaxPending),
      router_(settings.state_dir, settings, sessions),
      retry_timer_(io) {
  if (inbound_)
    router_.turn_waits = [this](const SessionKey& key) { return inbound_->turn_waits(key); };
  for (const auto& w : queue_.load(clock_.wall_ms())) log_.warn("outbound", w);
  if (queue_.pending_count())
    log_.info("outbound", std::to_string(queue_.pending_count()) +
                              " message(s) from before the restart wait for delivery");
}

ChannelHub::~ChannelHub() {
  for (auto& [_, w] : workers_)
    if (w.link) w.link->close("front stopping");
}

void ChannelHub::changed() {
  if (on_change) on_change();
}

// ---------------------------------------------------------------------------------------------
// Worker links

void ChannelHub::attach_worker(int fd, const std::string& name, const std::string& channel,
                               const std::string& account_id, uint32_t generation) {
  const std::string key = name + "#" + std::to_string(generation);
  if (workers_.count(key)) {
    ::close(fd);  // a repeat of a generation we already have
    return;
  }
  Worker w;
  w.name = name;
  w.channel = channel;
  w.account_id = account_id.empty() ? "default" : account_id;
  w.generation = generation;
  w.link = ipc::Link::create(io_, fd, ipc::contract::data_link("data:" + key));
  auto link = w.link;
  workers_[key] = std::move(w);
  link->start([this, key](capnp::MessageReader& r) { on_data(key, r); },
              [this, key](const std::string& reason) { on_link_closed(key, reason); });
  log_.info("channels", name + ": data link up (generation " + std::to_string(generation) + ")");
}

ChannelHub::Worker* ChannelHub::worker_for(const std::string& channel,
                                           const std::string& account_id) {
  Worker* best = nullptr;
  for (auto& [_, w] : workers_)
    if (w.channel == channel && w.account_id == account_id && w.hello && w.link &&
        w.link->is_open() && (!best || w.generation > best->generation))
      best = &w;
  return best;
}

void ChannelHub::on_link_closed(const std::string& key, const std::string& reason) {
  auto it = workers_.find(key);
  if (it == workers_.end()) return;
  const std::string channel = it->second.channel, account = it->second.account_id,
                    name = it->second.name;
  const uint32_t generation = it->second.generation;
  if (it->second.last_error.is_object())
    gone_errors_[channel + "/" + account] = it->second.last_error.value("message", "");
  workers_.erase(it);
  fail_webhooks(key);
  size_t again = 0;
  for (OutboundEntry* e : queue_.pending(channel, account)) {
    if (!e->in_flight || e->in_flight_to != key) continue;
    e->in_flight = false;  // no result came: the next generation sends it again...
    try {
      if (queue_.lost(e->id) >= kMaxLostDeliveries) {  // ...unless it is what kills the link
        set_aside(*e, "the " + name + " worker went away " + std::to_string(kMaxLostDeliveries) +
                          " times while delivering it (last: " + reason + ")");
        continue;
      }
    } catch (const std::exception& ex) {
      log_.error("outbound", std::string("cannot record a lost delivery: ") + ex.what());
    }
    ++again;
  }
  log_.warn(
      "channels",
      key + ": data link closed (" + reason + ")" +
          (again ? "; " + std::to_string(again) + " message(s) in flight will be sent again" : ""));
  changed();
  pump(channel, account);
  watch_orphan(name, channel, account, generation);
}

// A link the front closed (garbage from the worker, a stuck link) leaves a live worker without a
// front: the supervisor connects a pair only when a process starts. A worker that died is
// restarted by the supervisor anyway; one that still runs the same generation after a grace
// period without a new link is restarted through it, so its inbound (journaled or not yet
// acknowledged to the platform) reaches a front again.
void ChannelHub::watch_orphan(const std::string& name, const std::string& channel,
                              const std::string& account, uint32_t generation) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  timer->expires_after(std::chrono::milliseconds(kOrphanGraceMs));
  std::weak_ptr<int> alive = alive_;  // the hub may be gone when the timer fires
  timer->async_wait([this, alive, timer, name, channel, account,
                     generation](const boost::system::error_code& ec) {
    if (ec || alive.expired() || worker_for(channel, account) || !restart_child) return;
    const auto row = std::find_if(children_.begin(), children_.end(), [&](const ChildRow& c) {
      return c.name == name && c.state == "running" && c.generation == generation;
    });
    if (row == children_.end()) return;  // gone, restarting or held: the supervisor has it
    log_.warn("channels", name + ": running without a data link for " +
                              std::to_string(kOrphanGraceMs) + " ms; restarting it");
    restart_child(name, [this, alive, name](Reply r) {
      if (r.error && !alive.expired())
        log_.error("channels", name + ": restart without a data link failed: " + r.error->message);
    });
  });
}

void ChannelHub::on_data(const std::string& key, capnp::MessageReader& r) {
  auto wit = workers_.find(key);
  if (wit == workers_.end()) return;
  Worker& w = wit->second;
  auto msg = r.getRoot<ipc::Data>();
  if (!w.hello && msg.which() != ipc::Data::HELLO)
    throw std::runtime_error("first data message must be hello");
  switch (msg.which()) {
    case ipc::Data::HELLO:
      return on_hello(w, msg.getHello());
    case ipc::Data::INBOUND:
      return on_inbound(w, msg.getInbound());
    case ipc::Data::DELIVERY:
      return on_delivery(w, msg.getDelivery());
    case ipc::Data::STATUS:
      return on_status(w, msg.getStatus());
    case ipc::Data::HTTP_RESPONSE:
      return on_http_response(key, msg.getHttpResponse());
    default:
      throw std::runtime_error("unexpected data message " +
                               std::to_string(static_cast<int>(msg.which())));
  }
}

void ChannelHub::on_hello(Worker& w, ipc::DataHello::Reader h) {
  if (std::string(h.getChannel().cStr()) != w.channel)
    throw std::runtime_error("hello from channel " + std::string(h.getChannel().cStr()));
  // The supervisor said which account this link serves; a worker claiming another is
  // broken (or not the one started for it), and gets nothing of that account's.
  if (std::string(h.getAccountId().cStr()) != w.account_id)
    throw std::runtime_error("hello from account " + utf8::preview(h.getAccountId().cStr(), 64) +
                             ", expected " + w.account_id);
  w.hello = true;
  gone_errors_.erase(w.channel + "/" + w.account_id);  // a new worker speaks for the account
  changed();
  pump(w.channel, w.account_id);
}

void ChannelHub::on_inbound(Worker& w, ipc::Inbound::Reader in) {
  const int64_t now = clock_.wall_ms();
  InboundMessage m;
  m.channel = w.channel;
  m.account_id = w.account_id;
  m.id = in.getId();
  const char* chat_type = ipc::name_of(in.getChatType());
  if (!chat_type) {  // garbage: refused, and acknowledged so that it is not offered again
    log_.error("channels", w.name + " inbound " + utf8::preview(m.id, 64) +
                               " refused: " + ipc::unknown_value("chat type", in.getChatType()));
    return ack_inbound(w, m.id);
  }
  m.chat_id = in.getChatId();
  m.chat_type = chat_type;
  m.sender_id = in.getSenderId();
  m.sender_name = in.getSenderName();
  m.sender_username = in.getSenderUsername();
  m.text = in.getText();
  m.message_id = in.getMessageId();
  m.ts_ms = in.getTsMs();
  m.was_mentioned = in.getWasMentioned();
  m.reply_to_bot = in.getReplyToBot();
  m.bot_command = in.getBotCommand();
  m.group_id = in.getGroupId();
  m.thread_id = in.getThreadId();
  m.parent_chat_id = in.getParentChatId();
  // Names only ever match config keys (Discord's are at most 100 code points): a longer one is
  // cut on a code point and simply matches nothing.
  auto name = [](capnp::Text::Reader t) {
    std::string s = t.cStr();
    s.resize(utf8::cut_bytes(s, kMaxPlaceNameBytes));
    return s;
  };
  m.group_name = name(in.getGroupName());
  m.chat_name = name(in.getChatName());
  m.parent_chat_name = name(in.getParentChatName());
  m.sender_is_bot = in.getSenderIsBot();
  for (auto r : ipc::contract::bounded(in.getSenderRoles(), ipc::contract::lists::kSenderRoles,
                                       "inbound senderRoles"))
    m.sender_roles.emplace_back(r.cStr());
  w.last_inbound_ms = now;
  InboundVerdict v;
  try {
    v = router_.handle(m, now);
  } catch (const std::exception& e) {
    // Not acknowledged: the worker keeps it and offers it again.
    log_.error("channels", "cannot store inbound " + m.id + ": " + e.what());
    return;
  }
  switch (v.kind) {
    case InboundVerdict::accepted:
      log_.info("channels",
                w.name + " message from " + m.sender_id + " -> " + v.session_key->str());
      if (inbound_) inbound_->on_inbound(*v.session_key, m);
      break;
    case InboundVerdict::context:
      log_.debug("channels", v.reason + " -> " + v.session_key->str());
      break;
    case InboundVerdict::duplicate:
      break;
    case InboundVerdict::pairing_sent:
      log_.info("channels", v.reason);
      enqueue_reply(m, v.reply);
      break;
    default:
      if (v.quiet)
        log_.debug("channels", v.reason);
      else
        log_.info("channels", v.reason);
  }
  ack_inbound(w, m.id);
}

void ChannelHub::ack_inbound(Worker& w, const std::string& id) {
  capnp::MallocMessageBuilder b;
  b.initRoot<ipc::Data>().setInboundAck(id);
  w.link->send(b);
}

void ChannelHub::on_delivery(Worker& w, ipc::Delivery::Reader d) {
  const int64_t now = clock_.wall_ms();
  const std::string id = d.getDeliveryId();
  OutboundEntry* e = queue_.find(id);
  if (w.in_flight) --w.in_flight;
  log_.debug("outbound", w.name + " reports " + id + (d.getOk() ? " delivered" : " failed"));
  // A result from any generation counts (an older one may report what it did before
  // dying); one for an entry already completed is stale, and one for an entry of another
  // account is not this worker's to report.
  if (!e) return;
  if (e->channel != w.channel || e->account_id != w.account_id) {
    log_.warn("outbound", w.name + " reported delivery " + id + " of another account; ignored");
    return;
  }
  e->in_flight = false;
  const std::string idem = e->idempotency_key, channel = e->channel, account = e->account_id;
  if (d.getOk()) {
    Json ids = Json::array();
    for (auto x : ipc::contract::bounded(d.getMessageIds(), ipc::contract::lists::kMessageIds,
                                         "delivery messageIds"))
      ids.push_back(std::string(x.cStr()));
    w.last_outbound_ms = now;
    queue_.complete(id, true, {{"messageIds", ids}, {"to", e->to}}, now);
    if (const OutboundOutcome* o = queue_.outcome_for_key(idem, now))
      finish(id, idem, reply_for(*o));
  } else {
    auto err = d.getError();
    if (err.getRetryable() && e->attempts < 10) {
      const int64_t wait = std::max<int64_t>(err.getRetryAfterMs(), 1000L * e->attempts);
      e->not_before_ms = now + wait;
      log_.warn("outbound", channel + ": delivery " + id + " will be retried in " +
                                std::to_string(wait) + " ms: " + err.getMessage().cStr());
      arm_retry(wait);
    } else {
      Json detail = {{"code", ipc::error_name(err.getCode())},
                     {"message", std::string(err.getMessage().cStr())}};
      queue_.complete(id, false, detail, now);
      log_.warn("outbound", channel + ": delivery " + id + " failed: " + err.getMessage().cStr());
      if (const OutboundOutcome* o = queue_.outcome_for_key(idem, now)) {
        finish(id, idem, reply_for(*o));
      } else {
        finish(id, idem, Reply::unavailable(channel + ": " + err.getMessage().cStr()));
      }
    }
  }
  pump(channel, account);
}

void ChannelHub::on_status(Worker& w, ipc::WorkerStatus::Reader s) {
  w.connected = s.getConnected();
  w.detail = s.getDetail();
  w.bot_username = s.getBotUsername();
  w.latency_ms = s.getLatencyMs();
  w.last_event_ms = std::max<int64_t>(0, s.getLastEventMs());
  w.rate_limited_until_ms = std::max<int64_t>(0, s.getRateLimitedUntilMs());
  w.status_ms = clock_.wall_ms();
  if (s.hasLastError()) {
    w.last_error = {{"code", ipc::error_name(s.getLastError().getCode())},
                    {"message", std::string(s.getLastError().getMessage().cStr())}};
  } else {
    w.last_error = nullptr;
  }
  changed();
}

// ---------------------------------------------------------------------------------------------
// Delivery

void ChannelHub::set_aside(OutboundEntry& e, const std::string& why) {
  const std::string id = e.id, key = e.idempotency_key, channel = e.channel;
  const std::string message = "message set aside, not sent again: " + why;
  log_.error("outbound", channel + ": " + id + ": " + message);
  SetAside& s = set_aside_[channel + "/" + e.account_id];
  ++s.count;
  s.last_error = message;
  queue_.complete(id, false, {{"code", "UNAVAILABLE"}, {"message", message}}, clock_.wall_ms());
  finish(id, key, Reply::unavailable(channel + ": " + message));
  changed();
}

void ChannelHub::pump(const std::string& channel, const std::string& account_id) {
  Worker* w = worker_for(channel, account_id);
  if (!w) return;
  const int64_t now = clock_.wall_ms();
  int64_t soonest = 0;
  for (OutboundEntry* e : queue_.pending(channel, account_id)) {
    if (w->in_flight >= kWindow) break;
    if (e->in_flight) continue;
    if (e->lost >= kMaxLostDeliveries) {  // counted before a front restart
      set_aside(*e,
                "its worker went away " + std::to_string(e->lost) + " times while delivering it");
      continue;
    }
    if (e->not_before_ms > now) {
      const int64_t wait = e->not_before_ms - now;
      soonest = soonest ? std::min(soonest, wait) : wait;
      continue;
    }
    capnp::MallocMessageBuilder b;
    auto o = b.initRoot<ipc::Data>().initOutbound();
    o.setDeliveryId(e->id);
    o.setTo(e->to);
    o.setText(e->text);
    if (!w->link->send(b)) return;
    e->in_flight = true;
    e->in_flight_to = w->name + "#" + std::to_string(w->generation);
    log_.debug("outbound", "to " + e->in_flight_to + ": " + e->id + " (" +
                               utf8::truncate_bytes(e->text, 12) + ")");
    ++e->attempts;
    ++w->in_flight;
  }
  if (soonest) arm_retry(soonest);
}

void ChannelHub::arm_retry(int64_t delay_ms) {
  if (retry_armed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(std::chrono::milliseconds(delay_ms));
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    retry_armed_ = false;
    if (ec) return;
    for (const auto& c : settings_.channels) pump(c.name, c.account_id);
  });
}

bool ChannelHub::deliver(const std::string& channel, const std::string& account_id,
                         const std::string& to, const std::string& text,
                         const std::string& idempotency_key) {
  const ChannelSettings* c = find_account(settings_.channels, channel, account_id);
  if (!c || text.empty()) return false;
  InboundMessage m;
  m.channel = channel;
  m.account_id = c->account_id;
  m.chat_id = to;
  return enqueue_reply(m, text, idempotency_key);
}

void ChannelHub::typing(const std::string& channel, const std::string& account_id,
                        const std::string& to, bool active) {
  const ChannelSettings* c = find_account(settings_.channels, channel, account_id);
  Worker* w = c ? worker_for(channel, c->account_id) : nullptr;
  if (!w) return;
  capnp::MallocMessageBuilder b;
  auto t = b.initRoot<ipc::Data>().initTyping();
  t.setTo(to);
  t.setActive(active);
  w->link->send(b);
}

bool ChannelHub::enqueue_reply(const InboundMessage& m, const std::string& text,
                               const std::string& idempotency_key) {
  try {
    const int64_t now = clock_.wall_ms();
    size_t part = 0;
    // A reply longer than one outbound entry may carry goes out in parts, each cut on a line
    // or at least a code-point boundary (the worker then chunks each to the platform's limit).
    for (std::string_view rest = text; !rest.empty();) {
      size_t cut = utf8::cut_bytes(rest, kMaxOutboundBytes);
      if (cut < rest.size()) {
        const size_t nl = rest.rfind('\n', cut);
        if (nl != std::string_view::npos && nl > cut / 2) cut = nl + 1;
      }
      OutboundEntry e;
      e.channel = m.channel;
      e.account_id = m.account_id;
      e.to = m.chat_id;
      e.text = std::string(rest.substr(0, cut));
      rest.remove_prefix(cut);
      // Part n of a keyed text has the key "<key>#n" (the first, the key itself): a part the
      // queue knows was queued before, by this front or the one before it.
      if (!idempotency_key.empty()) {
        e.idempotency_key = part ? idempotency_key + "#" + std::to_string(part) : idempotency_key;
        ++part;
        if (queue_.pending_for_key(e.idempotency_key) ||
            queue_.outcome_for_key(e.idempotency_key, now)) {
          log_.info("outbound", "reply " + e.idempotency_key + " is queued already; not again");
          continue;
        }
      }
      queue_.enqueue(std::move(e), now);
    }
  } catch (const std::exception& ex) {
    log_.error("outbound", std::string("cannot queue a reply: ") + ex.what());
    return false;
  }
  pump(m.channel, m.account_id);
  return true;
}

Reply ChannelHub::reply_for(const OutboundOutcome& o) const {
  if (!o.ok) {
    return Reply::unavailable(o.channel +
                              ": delivery failed: " + o.detail.value("message", "unknown error"));
  }
  const Json ids = o.detail.value("messageIds", Json::array());
  Json p = {{"runId", o.idempotency_key},
            {"channel", o.channel},
            {"queueId", o.id},
            {"status", "sent"},
            {"messageIds", ids}};
  if (!ids.empty()) p["messageId"] = ids.back();
  if (o.detail.contains("to")) p["chatId"] = o.detail["to"];
  return Reply::ok(p);
}

void ChannelHub::finish(const std::string& queue_id, const std::string& key, Reply r) {
  if (key.empty()) return;
  auto it = dedupe_.find(key);
  if (it == dedupe_.end() || it->second.queue_id != queue_id) return;
  it->second.outcome = r;
  auto waiters = std::move(it->second.waiters);
  it->second.waiters.clear();
  for (auto& w : waiters) w(r);
  sweep_dedupe();
}

void ChannelHub::wait_for(const std::string& key, ReplyFn done) {
  Dedupe& d = dedupe_[key];
  if (d.outcome) return done(*d.outcome);
  // Callers retrying one key while it is undelivered: bounded (answered ones stay counted until
  // the delivery ends, so this is a cap on retries, not on clients).
  if (d.waiters.size() >= kMaxSendWaiters)
    return done(
        Reply::unavailable("this message is still being delivered; ask again later", true, 1000));
  auto cb = std::make_shared<ReplyFn>(std::move(done));
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  d.waiters.push_back([cb, timer](Reply r) {
    timer->cancel();
    if (!*cb) return;
    auto f = std::move(*cb);
    *cb = nullptr;
    f(std::move(r));
  });
  timer->expires_after(std::chrono::milliseconds(kSendWaitMs));
  timer->async_wait([this, cb, key](const boost::system::error_code& ec) {
    if (ec || !*cb) return;
    auto f = std::move(*cb);
    *cb = nullptr;
    // Still durable and still going out; the caller learns it was accepted, not delivered.
    const OutboundEntry* e = queue_.pending_for_key(key);
    Json p = {{"runId", key}, {"status", "queued"}};
    if (e) {
      p["channel"] = e->channel;
      p["queueId"] = e->id;
    }
    f(Reply::ok(p));
  });
}

void ChannelHub::sweep_dedupe() {
  const int64_t now = clock_.wall_ms();
  for (auto it = dedupe_.begin(); it != dedupe_.end();) {
    const bool expired =
        it->second.outcome && now - it->second.created_ms >= OutboundQueue::kDedupeWindowMs;
    it = expired ? dedupe_.erase(it) : std::next(it);
  }
  while (dedupe_.size() > kMaxDedupe) {  // oldest finished entries go first
    auto oldest = dedupe_.end();
    for (auto it = dedupe_.begin(); it != dedupe_.end(); ++it)
      if (it->second.outcome &&
          (oldest == dedupe_.end() || it->second.created_ms < oldest->second.created_ms))
        oldest = it;
    if (oldest == dedupe_.end()) break;
    dedupe_.erase(oldest);
  }
}

// ---------------------------------------------------------------------------------------------
// Views

void ChannelHub::set_children(std::vector<ChildRow> rows) {
  children_ = std::move(rows);
  changed();
}

Json ChannelHub::account_json(const ChannelSettings& c) {
  const ChildRow* row = nullptr;  // this account's worker process
  for (const auto& r : children_)
    if (r.role == "channel" && r.channel == c.name && r.account_id == c.account_id) row = &r;
  const Worker* w = nullptr;  // the newest generation speaks for the account
  for (const auto& [_, x] : workers_)
    if (x.channel == c.name && x.account_id == c.account_id && (!w || x.generation > w->generation))
      w = &x;
  std::string state = !c.enabled ? "stopped" : row ? row->state : "stopped";
  // An operator's hold names the state: "stopped" by channels.stop, "logged-out" by
  // channels.logout (upstream's linked: false), with the supervisor's why and how to undo it.
  const std::string hold = row && c.enabled ? row->hold : "";
  if (hold == "logged-out") state = "logged-out";
  Json a = {{"accountId", c.account_id},
            {"enabled", c.enabled},
            {"configured", true},
            {"running", state == "running"},
            {"connected", w && w->connected},
            {"reconnectAttempts", row ? row->restarts : 0},
            // Slack's HTTP-mode accounts say so (the kind's mode is Socket Mode's).
            {"mode", !c.webhook_path.empty() ? "http"
                     : channel_kind(c.name)  ? channel_kind(c.name)->mode
                                             : ""},
            {"dmPolicy", c.dm_policy},
            {"allowFrom", c.allow_from},
            {"state", state},
            {"restarts", row ? row->restarts : 0},
            {"lastStartAt", nullable_ms(row ? row->last_start_ms : 0)},
            {"lastStopAt", nullable_ms(row ? row->last_exit_ms : 0)},
            {"lastInboundAt", nullable_ms(w ? w->last_inbound_ms : 0)},
            {"lastOutboundAt", nullable_ms(w ? w->last_outbound_ms : 0)},
            {"since", nullable_ms(row ? row->since_ms : 0)}};
  std::string err = row ? row->last_error : "";
  if (w && w->last_error.is_object()) err = w->last_error.value("message", err);
  // No worker speaks for the account now: what the last one said before it went (why it
  // exited), then how it ended.
  if (auto g = gone_errors_.find(c.name + "/" + c.account_id);
      !w && g != gone_errors_.end() && !g->second.empty())
    err = g->second + (err.empty() ? "" : " (" + err + ")");
  if (!supervised_ && c.enabled) err = "not supervised: run `clawgate gateway` to start workers";
  if (!hold.empty()) err = row->last_error;  // the hold is why it does not run, nothing older
  a["lastError"] = err.empty() ? Json(nullptr) : Json(err);
  if (hold == "logged-out") a["linked"] = false;
  if (row && row->next_restart_ms) a["nextRestartAt"] = row->next_restart_ms;
  if (w && !w->detail.empty()) a["detail"] = w->detail;
  if (w && !w->bot_username.empty()) a["name"] = "@" + w->bot_username;
  if (w && w->status_ms) {  // the worker's live probe, as of its last status
    a["lastProbeAt"] = w->status_ms;
    a["lastTransportActivityAt"] = nullable_ms(w->last_event_ms);
    Json probe = {{"ok", w->connected},
                  {"latencyMs", w->latency_ms >= 0 ? Json(w->latency_ms) : Json(nullptr)},
                  {"lastEventAt", nullable_ms(w->last_event_ms)},
                  {"rateLimited", w->rate_limited_until_ms > clock_.wall_ms()},
                  {"rateLimitedUntil", nullable_ms(w->rate_limited_until_ms)}};
    probe["lastError"] =
        w->last_error.is_object() ? Json(w->last_error.value("message", "")) : Json(nullptr);
    a["probe"] = probe;
  }
  a["pendingOutbound"] = queue_.pending(c.name, c.account_id).size();
  if (auto s = set_aside_.find(c.name + "/" + c.account_id); s != set_aside_.end()) {
    a["setAsideOutbound"] = s->second.count;
    a["lastSetAsideError"] = s->second.last_error;
    if (a["lastError"].is_null()) a["lastError"] = s->second.last_error;
  }
  return a;
}

Json ChannelHub::status_json() {
  Json order = Json::array(), labels = Json::object(), details = Json::object(),
       meta = Json::array(), channels = Json::object(), accounts = Json::object(),
       defaults = Json::object();
  for (const auto& c : settings_.channels) {
    const Json a = account_json(c);
    if (!accounts.contains(c.name)) {  // the channel's first account: its entries once
      order.push_back(c.name);
      labels[c.name] = channel_label(c.name);
      details[c.name] = channel_detail_label(c.name);
      meta.push_back({{"id", c.name},
                      {"label", channel_label(c.name)},
                      {"detailLabel", channel_detail_label(c.name)}});
      accounts[c.name] = Json::array();
      defaults[c.name] = c.default_account_id;
    }
    accounts[c.name].push_back(a);
    // The channel's summary is its default account's (each account has its own entry).
    if (c.account_id == c.default_account_id)
      channels[c.name] = {{"configured", true},
                          {"running", a["running"]},
                          {"connected", a["connected"]},
                          {"state", a["state"]},
                          {"lastError", a["lastError"]}};
  }
  return {{"ts", clock_.wall_ms()},      {"channelOrder", order},
          {"channelLabels", labels},     {"channelDetailLabels", details},
          {"channelMeta", meta},         {"channels", channels},
          {"channelAccounts", accounts}, {"channelDefaultAccountId", defaults}};
}

Json ChannelHub::health_channels() {
  // Liveness only: health needs no scope and is pushed to every connection, so nothing from
  // the config (DM policy, allowFrom, bot name) and no error text (it can quote URLs and ids).
  // Per channel: its default account's figures, and every account's in `accounts`.
  Json out = Json::object();
  for (const auto& c : settings_.channels) {
    const Json a = account_json(c);
    Json live = {{"configured", true},
                 {"running", a["running"]},
                 {"connected", a["connected"]},
                 {"state", a["state"]},
                 {"restarts", a["restarts"]}};
    Json account = live;
    account["accountId"] = c.account_id;
    account["enabled"] = c.enabled;
    Json& entry = out[c.name];
    const Json listed = entry.is_object() ? entry["accounts"] : Json::array();
    if (!entry.is_object() || c.account_id == c.default_account_id) entry = live;
    entry["accounts"] = listed;
    entry["accounts"].push_back(std::move(account));
  }
  return out;
}

Json ChannelHub::children_json() const {
  Json out = Json::array();
  for (const auto& r : children_)
    out.push_back({{"name", r.name},
                   {"role", r.role},
                   {"state", r.state},
                   {"pid", r.pid},
                   {"generation", r.generation},
                   {"restarts", r.restarts},
                   {"rssBytes", r.rss},
                   {"sandbox", r.sandbox},
                   {"hold", r.hold.empty() ? Json(nullptr) : Json(r.hold)},
                   {"lastError", r.last_error}});
  return out;
}

}  // namespace clawgate::core
