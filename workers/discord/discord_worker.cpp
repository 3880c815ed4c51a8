// DiscordWorker: see discord_worker.hpp.
#include "discord_worker.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "contract.hpp"
#include "data.capnp.h"
#include "fs.hpp"
#include "net.hpp"
#include "sandbox.hpp"
#include "utf8.hpp"

namespace clawgate::workers::discord {

namespace {

constexpr int kMaxSendAttempts = 5;
constexpr int64_t kStatusEveryMs = 15'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The host of a URL, without port or credentials.
std::string url_host(const std::string& url) {
  const size_t scheme = url.find("://");
  std::string authority = scheme == std::string::npos ? url : url.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  return authority;
}

// The Gateway URL with the version and encoding the worker speaks.
std::string gateway_query(std::string url) {
  const size_t scheme = url.find("://");
  const size_t path = url.find_first_of("/?", scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) url += "/";
  if (url.find('?') != std::string::npos) url = url.substr(0, url.find('?'));
  return url + "?v=10&encoding=json";
}

// state/discord/<account>/, made: the only directory its sandbox lets it see.
std::string account_dir(const DiscordConfig& c) {
  const std::string dir = sandbox::channel_state_dir(c.state_dir, "discord", c.account_id);
  make_dirs(dir);
  return dir;
}

}  // namespace

std::string discord_section_path(const std::string& account_id) {
  return account_id == "default" ? "channels.discord"
                                 : "channels.discord.accounts." + cfg::render_key(account_id);
}

bool secure_enough(const std::string& url, bool allow_insecure) {
  if (url.rfind("https://", 0) == 0 || url.rfind("wss://", 0) == 0) return true;
  return allow_insecure || is_local_host(url_host(url));
}

DiscordConfig discord_config(const cfg::DiscordChannel& s, const std::string& state_dir,
                             const std::string& account_id) {
  // The id names this account's state directory and sandbox: checked again here, not trusted.
  if (const std::string bad = cfg::check_account_id(account_id); !bad.empty())
    throw std::runtime_error(bad);
  const bool is_default = account_id == "default";
  const std::string where = discord_section_path(account_id);
  DiscordConfig c;
  c.state_dir = state_dir;
  c.account_id = account_id;
  c.token = s.token.value_or("");
  c.token_key = where + ".token";
  // The variable serves the default account only (the supervisor does not even hand it to
  // another account's worker).
  if (c.token.empty() && is_default)
    if (const char* env = std::getenv("DISCORD_BOT_TOKEN"); env && *env) {
      c.token = env;
      c.token_key = "DISCORD_BOT_TOKEN";
    }
  if (c.token.empty())
    throw std::runtime_error(is_default ? "no Discord bot token: set channels.discord.token or "
                                          "DISCORD_BOT_TOKEN"
                                        : "no Discord bot token for account " + account_id +
                                              ": set " + where +
                                              ".token (the root's and DISCORD_BOT_TOKEN serve "
                                              "the default account only)");
  // A token is "<base64>.<base64>.<base64>"; anything with spaces or control characters would
  // break the Authorization header.
  if (c.token.size() > 256 || !std::all_of(c.token.begin(), c.token.end(),
                                           [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; }))
    throw std::runtime_error(c.token_key + ": not a Discord bot token (printable ASCII only)");
  c.api_root = s.api_root;
  while (!c.api_root.empty() && c.api_root.back() == '/') c.api_root.pop_back();
  c.allow_insecure = s.dangerously_allow_insecure_http;
  if (!secure_enough(c.api_root, c.allow_insecure))
    throw std::runtime_error(where +
                             ".apiRoot: plain http:// to a host that is not loopback "
                             "would send the token in clear");
  c.application_id = s.application_id.value_or("");
  c.chunk_limit = static_cast<size_t>(s.text_chunk_limit);
  c.max_lines = static_cast<size_t>(s.max_lines_per_message);
  return c;
}

void write_inbound(capnp::MessageBuilder& b, const Message& m) {
  auto in = b.initRoot<ipc::Data>().initInbound();
  in.setId(m.id);
  in.setChatId(m.channel_id);
  in.setChatType(m.guild_id.empty() ? ipc::ChatType::DIRECT : ipc::ChatType::CHANNEL);
  in.setSenderId(m.author_id);
  in.setSenderName(m.author_name);
  in.setSenderUsername(m.author_username);
  in.setText(m.text);
  in.setMessageId(m.id);
  in.setTsMs(m.ts_ms);
  in.setWasMentioned(m.mentioned);
  in.setReplyToBot(m.reply_to_bot);
  in.setGroupId(m.guild_id);
  if (!m.parent_id.empty()) {
    in.setThreadId(m.channel_id);
    in.setParentChatId(m.parent_id);
  }
  in.setGroupName(m.guild_name);
  in.setChatName(m.channel_name);
  in.setParentChatName(m.parent_name);
  in.setSenderIsBot(m.author_bot);
  auto roles = in.initSenderRoles(static_cast<unsigned>(m.roles.size()));
  for (unsigned i = 0; i < m.roles.size(); ++i) roles.set(i, m.roles[i]);
}

DiscordWorker::DiscordWorker(boost::asio::io_context& io, Logger& log, DiscordConfig cfg)
    : io_(io),
      log_(log),
      cfg_(std::move(cfg)),
      rest_(io, cfg_.api_root, cfg_.token),
      aux_(io, cfg_.api_root, cfg_.token),
      heartbeat_timer_(io),
      connect_timer_(io),
      typing_timer_(io),
      status_timer_(io),
      // The Gateway never sends a message again to a new session (a killed worker's successor
      // IDENTIFYs afresh; only a RESUME of the same session replays): journaled until the front
      // acknowledges it.
      front_(io, log,
             {"discord", cfg_.account_id, account_dir(cfg_) + "/inbound.jsonl", kMaxInbound},
             {[this](ipc::WorkerStatus::Builder s) { fill_status(s); },
              {[this](Outbox::Delivery& d, std::string_view text) { return prepare(d, text); },
               [this](Outbox::Delivery& d) { send(d); }, nullptr},
              nullptr,
              [this](ipc::Typing::Reader t) { typing(t.getTo(), t.getActive()); },
              nullptr}) {
  // What a killed predecessor had not handed over is offered first; a repeat of it is dropped.
  for (const std::string& id : front_.pending_ids()) remember(id);
  GatewaySession::Hooks h;
  h.send = [this](std::string frame) {
    if (ws_) ws_->send(std::move(frame));
  };
  h.close = [this](uint16_t code, std::string reason) {
    if (ws_) ws_->close(code, std::move(reason));
  };
  h.arm_heartbeat = [this](int64_t ms) {
    heartbeat_timer_.expires_after(std::chrono::milliseconds(ms));
    heartbeat_timer_.async_wait([this, gen = ws_gen_](const boost::system::error_code& ec) {
      if (!ec && gen == ws_gen_) session_->on_heartbeat(now_ms());
    });
  };
  h.dispatch = [this](const Frame& f) { on_dispatch(f); };
  h.on_ready = [this] {
    last_error_.reset();
    detail_ = "connected as " + session_->identity().username;
    send_status();
  };
  session_ = std::make_unique<GatewaySession>(std::move(h), cfg_.token, cfg_.token_key, [this] {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  });
}

DiscordWorker::~DiscordWorker() {
  stopping_ = true;
  if (ws_) ws_->abort();
}

int64_t DiscordWorker::now_ms() const {
  return rest_.steady_ms();
}

int64_t DiscordWorker::backoff_ms(int failures) {
  const int64_t base = std::min<int64_t>(60'000, 1000LL << std::min(std::max(failures, 1) - 1, 6));
  return std::uniform_int_distribution<int64_t>(base * 8 / 10, base * 12 / 10)(rng_);
}

void DiscordWorker::start() {
  fetch_gateway();
  start_status_timer();
}

void DiscordWorker::start_status_timer() {
  status_timer_.expires_after(std::chrono::milliseconds(kStatusEveryMs));
  status_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    send_status();
    start_status_timer();
  });
}

void DiscordWorker::stop() {
  stopping_ = true;
  for (auto* t : {&heartbeat_timer_, &connect_timer_, &typing_timer_, &status_timer_}) t->cancel();
  front_.outbox().stop();
  rest_.cancel_all();
  aux_.cancel_all();
  if (ws_) ws_->close(1000, "stopping");
}

void DiscordWorker::fatal(int code, const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  front_.outbox().stop();
  last_error_ = Error{ipc::ErrorCode::INVALID_REQUEST, why, false, 0};
  fatal_code_ = code;
  fatal_why_ = why;
  // channels.status should say why: the front hears it first (a front still to attach gets a
  // moment to), and the status is written before the process goes.
  const bool front = front_.is_open();
  if (front) send_status();
  exit_after(front ? 200 : 2000);
}

void DiscordWorker::exit_after(int64_t ms) {
  connect_timer_.expires_after(std::chrono::milliseconds(ms));
  connect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted && fatal_code_ && front_.is_open())
      return;  // re-armed by attach_front
    if (on_fatal) on_fatal(fatal_code_, fatal_why_);
  });
}

// ---------------------------------------------------------------------------------------------
// Gateway

void DiscordWorker::fetch_gateway() {
  if (stopping_) return;
  aux_.call("GET", "/gateway/bot", Json(), [this](Rest::Result r) {
    if (stopping_) return;
    if (r.status == 401)
      return fatal(78,
                   "Discord rejected the bot token (GET /gateway/bot: 401 Unauthorized): check " +
                       cfg_.token_key);
    std::string why = r.error;
    std::optional<GatewayBot> g;
    if (r.status == 200) g = read_gateway_bot(r.body, &why);
    if (!g) {
      const int64_t wait = std::max(backoff_ms(++fetch_failures_), r.limit.retry_after_ms);
      last_error_ = Error{ipc::ErrorCode::UNAVAILABLE, "GET /gateway/bot: " + why, true, wait};
      send_status();
      log_.warn("discord", "GET /gateway/bot failed (" + why + "); retrying in " +
                               std::to_string(wait) + " ms");
      connect_timer_.expires_after(std::chrono::milliseconds(wait));
      connect_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) fetch_gateway();
      });
      return;
    }
    if (!secure_enough(g->url, cfg_.allow_insecure))
      return fatal(78, "the Gateway URL from " + cfg_.api_root +
                           " is plain ws:// to a host that "
                           "is not loopback (" +
                           utf8::preview(g->url, 100) + "): the token would travel in clear");
    fetch_failures_ = 0;
    gateway_url_ = g->url;
    session_->set_identify_budget(g->remaining, g->reset_after_ms, now_ms());
    const int64_t wait = session_->identify_wait_ms(now_ms());
    if (wait > 0) log_.info("discord", "identify budget: waiting " + std::to_string(wait) + " ms");
    reconnect_after(wait, false, gateway_url_);
  });
}

void DiscordWorker::reconnect_after(int64_t ms, bool resume, const std::string& url) {
  connect_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, ms)));
  connect_timer_.async_wait([this, resume, url](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    // A fresh session asks /gateway/bot again (its URL and the identify budget) unless the
    // budget says it may go now.
    if (!resume && session_->identify_wait_ms(now_ms()) > 0) return fetch_gateway();
    connect(url.empty() ? gateway_url_ : url);
  });
}

void DiscordWorker::connect(const std::string& url) {
  if (stopping_) return;
  if (url.empty()) return fetch_gateway();
  const uint64_t gen = ++ws_gen_;
  WsConnection::Handlers h;
  h.on_open = [this, gen] {
    if (gen != ws_gen_) return;
    session_->on_open(now_ms());
  };
  h.on_text = [this, gen](std::string text) {
    if (gen != ws_gen_) return;
    session_->on_text(text, now_ms());
  };
  h.on_closed = [this, gen](uint16_t code, std::string reason, std::string error) {
    if (gen != ws_gen_ || stopping_) return;
    heartbeat_timer_.cancel();
    const GatewaySession::Next n = session_->on_closed(code, reason, error, now_ms());
    if (n.fatal) return fatal(n.exit_code, n.why);
    last_error_ = Error{ipc::ErrorCode::UNAVAILABLE, n.why, true, n.delay_ms};
    send_status();
    log_.warn("discord", n.why + "; " + (n.resume ? "resuming" : "identifying") + " in " +
                             std::to_string(n.delay_ms) + " ms");
    std::string next = n.resume ? n.url : gateway_url_;
    if (!next.empty() && !secure_enough(next, cfg_.allow_insecure)) next = gateway_url_;
    reconnect_after(n.delay_ms, n.resume, next);
  };
  WsConnection::Options o;
  o.max_message_bytes = 4u << 20;  // READY and GUILD_CREATE of a large guild
  ws_ = WsConnection::create(io_, std::move(h), o);
  ws_->connect(gateway_query(url));
}

void DiscordWorker::on_dispatch(const Frame& f) {
  const std::string& t = f.t;
  if (t == "READY") {
    me_.user_id = session_->identity().user_id;
    const std::string& app = session_->identity().application_id;
    log_.info("discord", "connected as " + session_->identity().username + " (" + me_.user_id +
                             "), session " + session_->session_id().substr(0, 8) + "…");
    if (!cfg_.application_id.empty() && !app.empty() && app != cfg_.application_id)
      log_.warn("discord", discord_section_path(cfg_.account_id) + ".applicationId is " +
                               cfg_.application_id + " but the token belongs to application " +
                               app);
  } else if (t == "RESUMED") {
    log_.info("discord", "session resumed at sequence " + std::to_string(session_->seq()));
  } else if (t == "MESSAGE_CREATE") {
    on_message(f.d);
  } else {
    places_.on_dispatch(f, me_);
  }
}

void DiscordWorker::on_message(const Json& d) {
  std::string why;
  auto m = read_message(d, me_, &why);
  if (!m) {
    log_.warn("discord", "MESSAGE_CREATE skipped: " + why);
    return;
  }
  if (m->own) return;  // the bot's own message, as Discord echoes every send
  if (seen_.count(m->id)) {
    log_.debug("discord", "message " + m->id + " seen already (a resume replayed it); dropped");
    return;
  }
  remember(m->id);
  if (front_.full()) {
    log_.error("discord", "front away and " + std::to_string(kMaxInbound) +
                              " messages waiting: message " + m->id + " dropped");
    return;
  }
  if (m->original_bytes)
    log_.warn("discord", "message " + m->id + ": text of " + std::to_string(m->original_bytes) +
                             " bytes cut to " + std::to_string(m->text.size()));
  last_inbound_ms_ = wall_ms();
  places_.fill(*m);
  capnp::MallocMessageBuilder b;
  write_inbound(b, *m);
  // A guild channel no event has named (a thread the Gateway did not list): its parent decides
  // its access, so ask Discord before it goes on (journaled and held meanwhile; later messages
  // wait behind it, in order).
  if (!m->guild_id.empty() && !places_.knows(m->channel_id) && !places_.full()) {
    auto [it, first] = unplaced_.try_emplace(m->channel_id);
    it->second.push_back(std::move(*m));
    front_.offer(b, /*held=*/true);
    if (first) look_up_place(it->first);
    return;
  }
  front_.offer(b);
}

void DiscordWorker::look_up_place(const std::string& channel_id) {
  auto done = [this, channel_id](Rest::Result r) {
    if (stopping_) return;  // held messages stay in the journal for the next worker
    if (r.status == 200) {
      if (auto c = read_channel(r.body); c && c->id == channel_id) places_.learn(*c);
    } else {
      // Routed by id only. Learnt as nameless only when Discord says it never will answer (no
      // access, no such channel), so that the next message does not ask again; after a
      // transient failure the next message asks again.
      log_.warn("discord", "channel " + channel_id + " not found out (" +
                               (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error) +
                               "): these messages route by id only");
      if (r.status == 403 || r.status == 404)
        places_.learn(ChannelFacts{channel_id, "", "", "", false});
    }
    auto it = unplaced_.find(channel_id);
    if (it == unplaced_.end()) return;
    std::vector<Message> held = std::move(it->second);
    unplaced_.erase(it);
    for (Message& m : held) {
      places_.fill(m);
      capnp::MallocMessageBuilder b;
      write_inbound(b, m);
      front_.release(b);
    }
  };
  if (!aux_.call("GET", "/channels/" + channel_id, nullptr, done, kLookupTimeoutMs)) {
    Rest::Result busy;
    busy.error = "request queue full";
    done(std::move(busy));
  }
}

void DiscordWorker::remember(const std::string& id) {
  seen_.insert(id);
  seen_order_.push_back(id);
  if (seen_order_.size() > kMaxSeen) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

// ---------------------------------------------------------------------------------------------
// Front

void DiscordWorker::attach_front(int fd, uint32_t generation) {
  front_.attach(fd, generation);
  if (fatal_code_) exit_after(200);  // it has heard why: now go
}

void DiscordWorker::fill_status(ipc::WorkerStatus::Builder s) {
  s.setConnected(session_->ready());
  s.setDetail(detail_);
  s.setBotUsername(session_->identity().username);
  s.setLastInboundMs(last_inbound_ms_);
  s.setLastOutboundMs(last_outbound_ms_);
  s.setLatencyMs(session_->latency_ms());
  const int64_t steady = now_ms(), wall = wall_ms();
  if (session_->last_event_ms() > 0) s.setLastEventMs(wall - (steady - session_->last_event_ms()));
  const int64_t limited =
      std::max(rest_.limits().limited_until(steady), aux_.limits().limited_until(steady));
  if (limited > 0) s.setRateLimitedUntilMs(wall + (limited - steady));
  if (last_error_) ipc::write_error(*last_error_, s.initLastError());
}

// ---------------------------------------------------------------------------------------------
// Delivery

std::optional<Error> DiscordWorker::prepare(Outbox::Delivery& d, std::string_view text) {
  const std::optional<Target> target = parse_target(d.to);
  if (!target)
    return Error{ipc::ErrorCode::INVALID_REQUEST,
                 "not a Discord target: " + utf8::preview(d.to, 64) +
                     " (channel:<id>, user:<id> or a channel id)",
                 false, 0};
  if (target->kind == Target::channel) d.route = target->id;  // a user's DM channel: opened first
  d.chunks = chunk_text(text, cfg_.chunk_limit, cfg_.max_lines);
  return std::nullopt;
}

void DiscordWorker::send(Outbox::Delivery& d) {
  Outbox& out = front_.outbox();
  if (d.route.empty()) {  // a DM: the channel Discord keeps for the bot and that user
    const std::string user = parse_target(d.to)->id;
    const bool queued = aux_.call(
        "POST", "/users/@me/channels", Json{{"recipient_id", user}},
        [this, &out, user](Rest::Result r) {
          Outbox::Delivery* d = out.landed();
          if (stopping_ || !d) return;
          const auto id = r.status == 200 ? snowflake_at(r.body, "id") : std::nullopt;
          if (id) {
            d->route = *id;
            return out.next();
          }
          if (r.status == 401)
            return fatal(78, "Discord rejected the bot token: check " + cfg_.token_key);
          const bool transient = r.status == 0 || r.status >= 500 || r.status == 429;
          if (transient && ++d->attempts <= kMaxSendAttempts)
            return out.retry_in(backoff_ms(d->attempts));
          out.fail(Error{transient ? ipc::ErrorCode::UNAVAILABLE : ipc::ErrorCode::INVALID_REQUEST,
                         "cannot open a DM with " + user + ": " +
                             (r.error.empty() ? "no channel id" : r.error),
                         transient, transient ? 5000 : 0});
        });
    if (!queued) out.retry_in(1000);  // the request queue is full: this step again, in order
    return;
  }
  const Json body = {{"content", d.chunks[d.next]},
                     // The model's text pings users it names, never @everyone or roles.
                     {"allowed_mentions", {{"parse", Json::array({"users"})}}}};
  const bool queued =
      rest_.call("POST", "/channels/" + d.route + "/messages", body, [this, &out](Rest::Result r) {
        Outbox::Delivery* d = out.landed();
        if (stopping_ || !d) return;
        if (r.status / 100 == 2) {
          last_outbound_ms_ = wall_ms();
          return out.sent(snowflake_at(r.body, "id").value_or(""));
        }
        if (r.status == 401)
          return fatal(78, "Discord rejected the bot token: check " + cfg_.token_key);
        // 429s were waited out and sent again by Rest; one still here means it kept coming.
        const bool transient = r.status == 0 || r.status >= 500 || r.status == 429;
        if (transient && ++d->attempts <= kMaxSendAttempts)
          return out.retry_in(std::max(backoff_ms(d->attempts), r.limit.retry_after_ms));
        // Permanent (400 invalid body, 403 missing access, 404 unknown channel): the front records
        // it.
        out.fail(Error{transient ? ipc::ErrorCode::UNAVAILABLE : ipc::ErrorCode::INVALID_REQUEST,
                       "create message: " + r.error, transient, transient ? 5000 : 0});
      });
  if (!queued) out.retry_in(1000);
}

void DiscordWorker::typing(const std::string& to, bool active) {
  const auto t = parse_target(to);
  if (!t || t->kind != Target::channel) return;  // DMs are answered where they came from
  if (!active) {
    typing_until_.erase(t->id);
    return;
  }
  if (!typing_until_.count(t->id) && typing_until_.size() >= 256) return;
  const bool fresh = !typing_until_.count(t->id);
  typing_until_[t->id] = now_ms() + kTypingMaxMs;
  if (fresh) {
    aux_.call("POST", "/channels/" + t->id + "/typing", Json::object(), [](Rest::Result) {});
    if (typing_until_.size() == 1) refresh_typing();
  }
}

void DiscordWorker::refresh_typing() {
  typing_timer_.expires_after(std::chrono::milliseconds(kTypingRefreshMs));
  typing_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    const int64_t now = now_ms();
    for (auto it = typing_until_.begin(); it != typing_until_.end();) {
      if (it->second <= now) {
        it = typing_until_.erase(it);
        continue;
      }
      if (aux_.queued() < 16)
        aux_.call("POST", "/channels/" + it->first + "/typing", Json::object(),
                  [](Rest::Result) {});
      ++it;
    }
    if (!typing_until_.empty()) refresh_typing();
  });
}

}  // namespace clawgate::workers::discord
