// ChannelHub's protocol methods: the method table (the one list of what it serves; Core routes
// by it), send, channels.restart, channels.stop/start/logout and the pairing list/approve of
// channel senders. Params arrive validated against their schema; handlers apply meaning.
// Fails: an unknown channel, account or pairing code, media or an oversize message is
// INVALID_REQUEST; a send that cannot be queued or persisted is UNAVAILABLE, retryable; so is a
// lifecycle call the supervisor cannot answer (gone, or the gateway stopping).
#include <capnp/message.h>

#include <algorithm>

#include "channel_kinds.hpp"
#include "contract.hpp"
#include "core/channels.hpp"
#include "data.capnp.h"
#include "error.hpp"
#include "names.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

// The answer to channels.stop, .start or .logout: upstream's shapes, from the supervisor's.
Json lifecycle_payload(ChannelHub::Lifecycle action, Json p, const ChannelHub::LifecycleAnswer& a) {
  switch (action) {
    case ChannelHub::Lifecycle::stop:
      p["stopped"] = !a.running;
      break;
    case ChannelHub::Lifecycle::start: {
      Json outcome = {{"status", a.outcome}};
      if (a.outcome != "handed-off") outcome["reason"] = a.reason;
      p["started"] = a.running;
      p["outcome"] = outcome;
      break;
    }
    case ChannelHub::Lifecycle::logout:
      // The mark is written and the worker stopped: its credentials reach no process until they
      // change (cleared, as upstream's CLI reads it). The config itself is not written: the
      // gateway may not (it can be read-only).
      p["cleared"] = true;
      p["loggedOut"] = true;
      p["envToken"] = !a.env.empty();
      if (!a.env.empty()) p["envTokenVariables"] = a.env;
      break;
  }
  return p;
}

}  // namespace

const ChannelHub::Route* ChannelHub::route(schema::Method m) {
  using M = schema::Method;
  namespace P = schema::params;
  static const Route kRoutes[] = {
      {M::send, [](ChannelHub& h, const Json& p,
                   ReplyFn done) { h.m_send(p.get<P::Send>(), std::move(done)); }},
      {M::channels_status,
       [](ChannelHub& h, const Json&, ReplyFn done) { done(Reply::ok(h.status_json())); }},
      {M::channels_restart,
       [](ChannelHub& h, const Json& p, ReplyFn done) {
         h.m_restart(p.get<P::ChannelsRestart>(), std::move(done));
       }},
      {M::channels_stop,
       [](ChannelHub& h, const Json& p, ReplyFn done) {
         const auto q = p.get<P::ChannelsStop>();
         h.m_lifecycle(Lifecycle::stop, q.channel, q.account_id, std::move(done));
       }},
      {M::channels_start,
       [](ChannelHub& h, const Json& p, ReplyFn done) {
         const auto q = p.get<P::ChannelsStart>();
         h.m_lifecycle(Lifecycle::start, q.channel, q.account_id, std::move(done));
       }},
      {M::channels_logout,
       [](ChannelHub& h, const Json& p, ReplyFn done) {
         const auto q = p.get<P::ChannelsLogout>();
         h.m_lifecycle(Lifecycle::logout, q.channel, q.account_id, std::move(done));
       }},
      {M::channels_pairing_list,
       [](ChannelHub& h, const Json& p, ReplyFn done) {
         h.m_pairing_list(p.get<P::ChannelsPairingList>(), std::move(done));
       }},
      {M::channels_pairing_approve,
       [](ChannelHub& h, const Json& p, ReplyFn done) {
         h.m_pairing_approve(p.get<P::ChannelsPairingApprove>(), std::move(done));
       }},
  };
  for (const Route& r : kRoutes)
    if (r.method == m) return &r;
  return nullptr;
}

bool ChannelHub::serves(schema::Method m) {
  return route(m) != nullptr;
}

bool ChannelHub::call(schema::Method m, const Json& params, ReplyFn done) {
  const Route* r = route(m);
  if (!r) return false;
  r->handler(*this, params, std::move(done));
  return true;
}

void ChannelHub::m_send(const schema::params::Send& req, ReplyFn done) {
  const std::string& key = req.idempotency_key;
  const int64_t now = clock_.wall_ms();
  if (auto it = dedupe_.find(key); it != dedupe_.end()) return wait_for(key, std::move(done));
  if (const OutboundOutcome* o = queue_.outcome_for_key(key, now)) return done(reply_for(*o));
  if (const OutboundEntry* e = queue_.pending_for_key(key)) {  // queued before a restart
    Dedupe& d = dedupe_[key];
    d.queue_id = e->id;
    d.created_ms = now;
    return wait_for(key, std::move(done));
  }
  std::vector<std::string> enabled;  // channels with an enabled account, each once
  for (const auto& c : settings_.channels)
    if (c.enabled && std::find(enabled.begin(), enabled.end(), c.name) == enabled.end())
      enabled.push_back(c.name);
  std::string channel = req.channel.value_or("");
  if (channel.empty()) {
    if (enabled.empty())
      return done(
          Reply::invalid("Error: Channel is required (no configured channels detected). Enable a "
                         "channel under channels.<name> in the config, or pass channel."));
    if (enabled.size() > 1)
      return done(
          Reply::invalid("Error: Channel is required when more than one channel "
                         "is configured; pass channel."));
    channel = enabled.front();
  }
  if (std::find(enabled.begin(), enabled.end(), channel) == enabled.end())
    return done(Reply::invalid("unsupported channel: " + channel));
  // No account named: the channel's default account sends (upstream's defaultAccount).
  const std::string account_id = req.account_id.value_or("");
  const ChannelSettings* account = find_account(settings_.channels, channel, account_id);
  if (!account)
    return done(Reply::invalid("unknown account for " + channel + ": " +
                               utf8::preview(account_id, 64) + " (not configured)"));
  if (!account->enabled)
    return done(Reply::invalid(channel + " account " + account->account_id +
                               " is disabled (enabled: false)"));
  const std::string text = req.message.value_or("");
  if (text.empty()) {
    const bool media = req.media_url || req.media_urls || req.buffer;
    return done(Reply::invalid(media ? "send: media is not supported yet; send text"
                                     : "send: message is required"));
  }
  if (text.size() > kMaxOutboundBytes)
    return done(Reply::invalid("send: message too long for " + channel + " (" +
                               std::to_string(text.size()) + " bytes; at most " +
                               std::to_string(kMaxOutboundBytes) + ")"));
  OutboundEntry e;
  e.channel = channel;
  e.account_id = account->account_id;
  e.to = req.to;
  e.text = text;
  e.idempotency_key = key;
  std::string id;
  try {
    id = queue_.enqueue(std::move(e), now).id;
  } catch (const QueueFull& ex) {
    return done(Reply::unavailable(ex.what(), true, 1000));
  } catch (const std::exception& ex) {
    log_.error("outbound", std::string("cannot persist a send: ") + ex.what());
    return done(Reply::unavailable("cannot persist the message; nothing was sent", true, 1000));
  }
  Dedupe& d = dedupe_[key];
  d.queue_id = id;
  d.created_ms = now;
  wait_for(key, std::move(done));
  pump(channel, account->account_id);
}

void ChannelHub::m_restart(const schema::params::ChannelsRestart& req, ReplyFn done) {
  const std::string& channel = req.channel;
  const std::string account = req.account_id.value_or("");
  // One account's worker: the one named, else the channel's default account.
  const ChannelSettings* c = find_account(settings_.channels, channel, account);
  const auto row = std::find_if(children_.begin(), children_.end(), [&](const ChildRow& r) {
    return c && r.role == "channel" && r.channel == channel && r.account_id == c->account_id;
  });
  if (row == children_.end())
    return done(Reply::invalid("unknown channel: " + channel +
                               (account.empty() ? "" : " account " + utf8::preview(account, 64)) +
                               " (not running here)"));
  const std::string child = row->name;
  if (!restart_child)
    return done(Reply::unavailable("not supervised: channels cannot be restarted", false));
  restart_child(child, [done, channel, account](Reply r) {
    if (!r.payload) return done(std::move(r));
    Json p = {{"ok", true}, {"channel", channel}};
    if (!account.empty()) p["accountId"] = account;
    done(Reply::ok(p));
  });
}

void ChannelHub::m_lifecycle(Lifecycle action, const std::string& channel,
                             const std::optional<std::string>& account_id, ReplyFn done) {
  const bool known = std::any_of(settings_.channels.begin(), settings_.channels.end(),
                                 [&](const ChannelSettings& c) { return c.name == channel; });
  if (!known) {
    const ChannelKind* kind = channel_kind(channel);
    return done(Reply::invalid(kind && !kind->read
                                   ? "channel " + channel + " has no worker in clawgate"
                                   : "unknown channel: " + utf8::preview(channel, 64) +
                                         " (not configured)"));
  }
  // No account named: the channel's default account (upstream's defaultAccount).
  const ChannelSettings* c = find_account(settings_.channels, channel, account_id.value_or(""));
  if (!c)
    return done(Reply::invalid("unknown account for " + channel + ": " +
                               utf8::preview(account_id.value_or(""), 64) + " (not configured)"));
  const std::string account = c->account_id;
  Json head = {{"channel", channel}, {"accountId", account}};
  if (!c->enabled) {  // no worker runs for it: nothing to stop, start or log out
    if (action == Lifecycle::stop) {
      head["stopped"] = true;
      return done(Reply::ok(head));
    }
    if (action == Lifecycle::start) {
      head["started"] = false;
      head["outcome"] = {{"status", "skipped"}, {"reason", "disabled"}};
      return done(Reply::ok(head));
    }
    return done(Reply::invalid(channel + " account " + account +
                               " is disabled (enabled: false): no worker to log out"));
  }
  if (!supervised_ || !child_lifecycle)
    return done(Reply::unavailable("not supervised: run `clawgate gateway` to manage workers"));
  child_lifecycle(worker_name(*c), action,
                  [done = std::move(done), head, action](Result<LifecycleAnswer> r) mutable {
                    if (!r) return done(Reply::fail(std::move(r).error()));
                    done(Reply::ok(lifecycle_payload(action, std::move(head), *r)));
                  });
}

void ChannelHub::m_pairing_list(const schema::params::ChannelsPairingList& req, ReplyFn done) {
  const std::string only = req.channel.value_or("");
  const std::string only_account = req.account_id.value_or("");
  Json accounts = Json::array(), requests = Json::array();
  for (const auto& c : settings_.channels) {
    if (!only.empty() && c.name != only) continue;
    if (!only_account.empty() && c.account_id != only_account) continue;
    accounts.push_back({{"channel", c.name},
                        {"channelLabel", channel_label(c.name)},
                        {"accountId", c.account_id},
                        {"notifySupported", true}});
  }
  auto iso = [](int64_t ms) {
    char buf[32];
    const time_t t = static_cast<time_t>(ms / 1000);
    tm g{};
    gmtime_r(&t, &g);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &g);
    return std::string(buf);
  };
  for (const auto& p : router_.pairing_requests(clock_.wall_ms())) {
    if (!only.empty() && p.channel != only) continue;
    if (!only_account.empty() && p.account_id != only_account) continue;
    requests.push_back({{"requestId", p.code},
                        {"channel", p.channel},
                        {"channelLabel", channel_label(p.channel)},
                        {"accountId", p.account_id},
                        {"senderId", p.sender_id},
                        {"senderLabel", p.sender_label},
                        {"createdAt", iso(p.created_ms)},
                        {"lastSeenAt", iso(p.last_seen_ms)},
                        {"expiresAt", iso(p.created_ms + InboundRouter::kPairingTtlMs)},
                        {"notifySupported", true}});
  }
  done(Reply::ok({{"accounts", accounts},
                  {"requests", requests},
                  {"commandOwnerConfigured", false},
                  {"limits",
                   {{"pendingPerAccount", InboundRouter::kPairingPerAccount},
                    {"ttlMs", InboundRouter::kPairingTtlMs}}}}));
}

void ChannelHub::m_pairing_approve(const schema::params::ChannelsPairingApprove& req,
                                   ReplyFn done) {
  const std::string& channel = req.channel;
  const std::string& account = req.account_id;
  const std::string& code = req.request_id;
  // Requests and approvals are per account (upstream: keyed by channel and account): a code
  // approves its sender on the account it was issued by, and only when that one is named.
  auto p = router_.approve(channel, account, code, clock_.wall_ms());
  if (!p)
    return done(Reply::invalid("no pending pairing request " + utf8::preview(code, 16) + " on " +
                               channel + " account " + utf8::preview(account, 64) + " (expired?)"));
  log_.info("channels", channel + ":" + p->account_id + ": approved sender " + p->sender_id + " (" +
                            p->sender_label + ")");
  std::string notification = "not-requested";
  if (req.notify) {
    InboundMessage m;
    m.channel = p->channel;
    m.account_id = p->account_id;
    m.chat_id = p->chat_id;
    enqueue_reply(m, "clawgate: access approved. Send a message to start.");
    notification = "sent";
  }
  done(Reply::ok({{"requestId", p->code},
                  {"senderId", p->sender_id},
                  {"notification", notification},
                  {"commandOwnerBootstrap", "not-requested"}}));
}

}  // namespace clawgate::core
