// TelegramWorker: see telegram_worker.hpp.
#include "telegram_worker.hpp"

#include <capnp/message.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "config_gen.hpp"
#include "contract.hpp"
#include "data.capnp.h"
#include "fs.hpp"
#include "sandbox.hpp"
#include "utf8.hpp"

namespace clawgate::workers {

namespace {

constexpr int kSendTimeoutMs = 30'000;
constexpr int kMaxSendAttempts = 5;
constexpr int kMalformed = -1;  // `code` for an answer that is not JSON even once repaired

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Bot API fields are read only when they have the documented type: an API (or a proxy or
// emulator in front of it) that sends another type must not take the worker down (nlohmann's
// value() throws on a mismatch, inside the HTTP callback where nothing catches).
const Json& object_at(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  const auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::optional<std::string> string_at(const Json& j, const char* key) {
  const auto it = j.is_object() ? j.find(key) : j.end();
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// An integer that fits int64_t; floats and larger integers are absent.
std::optional<int64_t> int_at(const Json& j, const char* key) {
  const auto it = j.is_object() ? j.find(key) : j.end();
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX}) return std::nullopt;
  return it->get<int64_t>();
}

int clamp_int(int64_t v) {
  return static_cast<int>(std::clamp<int64_t>(v, INT_MIN, INT_MAX));
}

}  // namespace

ApiAnswer parse_api_answer(const std::string& method, int http_status, const std::string& body) {
  ApiAnswer a;
  // The parser refuses invalid UTF-8 and unpaired surrogates anywhere in the body; repaired,
  // one bad character costs a U+FFFD, not the response.
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) j = Json::parse(repair_json_text(body), nullptr, false);
  if (!j.is_object()) {
    // A 200 that does not parse is the content's fault; other statuses (an HTML 404 or 502
    // from a proxy) keep their meaning.
    a.malformed = http_status == 200;
    a.code = a.malformed ? kMalformed : http_status;
    a.description = method + ": HTTP " + std::to_string(http_status) + " (not JSON)";
    return a;
  }
  if (const auto ok = j.find("ok"); ok != j.end() && ok->is_boolean() && ok->get<bool>()) {
    a.ok = true;
    if (const auto r = j.find("result"); r != j.end()) a.result = std::move(*r);
    a.code = 200;
    return a;
  }
  a.retry_after_s = clamp_int(
      std::max<int64_t>(0, int_at(object_at(j, "parameters"), "retry_after").value_or(0)));
  a.code = clamp_int(int_at(j, "error_code").value_or(http_status));
  a.description = string_at(j, "description").value_or("HTTP " + std::to_string(http_status));
  return a;
}

std::vector<InboundUpdate> parse_updates(const Json& updates, int64_t& offset, int64_t bot_id,
                                         const std::string& bot_username,
                                         std::vector<std::string>* skipped) {
  std::vector<InboundUpdate> out;
  if (!updates.is_array()) return out;
  for (const Json& u : updates) {
    // No usable id: nothing to acknowledge or to move the offset past.
    const std::optional<int64_t> id = int_at(u, "update_id");
    if (!id || *id < offset || *id == INT64_MAX) continue;
    offset = *id + 1;
    const Json& m = object_at(u, "message");
    if (!m.contains("text")) continue;  // text only, for now
    try {
      out.push_back({*id, read_message(m, bot_id, bot_username)});
    } catch (const std::exception& e) {  // a field of an unexpected type: this update only
      if (skipped) skipped->push_back("update " + std::to_string(*id) + " skipped: " + e.what());
    }
  }
  return out;
}

std::string telegram_section_path(const std::string& account_id) {
  return account_id == "default" ? "channels.telegram"
                                 : "channels.telegram.accounts." + cfg::render_key(account_id);
}

TelegramConfig telegram_config(const cfg::TelegramChannel& t, const std::string& state_dir,
                               const std::string& account_id) {
  // The id names this account's state directory and sandbox: checked again here, not trusted.
  if (const std::string bad = cfg::check_account_id(account_id); !bad.empty())
    throw std::runtime_error(bad);
  const bool is_default = account_id == "default";
  const std::string where = telegram_section_path(account_id);
  TelegramConfig c;
  c.state_dir = state_dir;
  c.account_id = account_id;
  c.token = t.bot_token.value_or("");
  if (c.token.empty() && t.token_file) {
    auto text = read_file(*t.token_file);
    if (!text) throw std::runtime_error(where + ".tokenFile: cannot read " + *t.token_file);
    c.token = trim(*text);
  }
  // The variable serves the default account only (upstream's rule; the supervisor does not
  // even hand it to another account's worker).
  if (c.token.empty() && is_default) {
    if (const char* env = std::getenv("TELEGRAM_BOT_TOKEN")) c.token = env;
  }
  if (c.token.empty())
    throw std::runtime_error(
        is_default ? "no Telegram bot token: set channels.telegram.botToken, "
                     "channels.telegram.tokenFile or TELEGRAM_BOT_TOKEN"
                   : "no Telegram bot token for account " + account_id + ": set " + where +
                         ".botToken or " + where +
                         ".tokenFile (the root's and TELEGRAM_BOT_TOKEN serve the default "
                         "account only)");
  c.api_root = t.api_root;
  while (!c.api_root.empty() && c.api_root.back() == '/') c.api_root.pop_back();
  c.poll_timeout_s = t.poll_timeout_seconds;
  c.chunk_limit = static_cast<size_t>(t.text_chunk_limit);
  return c;
}

TelegramWorker::TelegramWorker(boost::asio::io_context& io, Logger& log, TelegramConfig cfg)
    : log_(log),
      cfg_(std::move(cfg)),
      poll_http_(io, cfg_.api_root),
      send_http_(io, cfg_.api_root),
      front_(io, log, {"telegram", cfg_.account_id, "", kMaxInbound},
             {[this](ipc::WorkerStatus::Builder s) { fill_status(s); },
              {[this](Outbox::Delivery& d, std::string_view text) -> std::optional<Error> {
                 // The agent's text may carry invalid UTF-8 from a model; Telegram would refuse
                 // it.
                 d.chunks = chunk_text(utf8::repair(text), cfg_.chunk_limit);
                 return std::nullopt;
               },
               [this](Outbox::Delivery& d) { send(d); }, nullptr},
              [this](const std::string&) { persist_offset(); },
              nullptr,
              nullptr}),
      poll_timer_(io) {
  // Everything of this account lives in state/telegram/<account>/, the only directory its
  // sandbox lets it see. Older versions kept state/telegram/<account>.offset: moved here once.
  const std::string dir = telegram_account_dir(cfg_);
  make_dirs(dir);
  const std::string legacy = cfg_.state_dir + "/telegram/" + cfg_.account_id + ".offset";
  if (auto old = read_file(legacy); old && !read_file(offset_path())) {
    atomic_write_file(offset_path(), *old);
    ::unlink(legacy.c_str());
    log_.info("telegram", "moved the update offset to " + offset_path());
  }
  if (auto text = read_file(offset_path())) {
    poll_offset_ = std::atoll(text->c_str());
    persisted_offset_ = poll_offset_;
  }
}

std::string TelegramWorker::offset_path() const {
  return telegram_account_dir(cfg_) + "/offset";
}

std::string telegram_account_dir(const TelegramConfig& c) {
  return sandbox::channel_state_dir(c.state_dir, "telegram", c.account_id);
}

void TelegramWorker::start() {
  get_me();
}

void TelegramWorker::stop() {
  stopping_ = true;
  poll_timer_.cancel();
  front_.outbox().stop();
  poll_http_.cancel();
  send_http_.cancel();
}

int64_t TelegramWorker::backoff_ms() {
  const int64_t base = std::min<int64_t>(30'000, 500LL << std::min(failures_, 6));
  std::uniform_int_distribution<int64_t> jitter(base * 8 / 10, base * 12 / 10);
  return jitter(rng_);
}

void TelegramWorker::call(
    HttpClient& http, const std::string& method, const Json& params, int timeout_ms,
    std::function<void(bool, const Json&, int, const std::string&, int)> done) {
  http.post_json("/bot" + cfg_.token + "/" + method, dump_json(params), timeout_ms,
                 [this, done = std::move(done), method](HttpResponse r) {
                   if (!r.error.empty()) return done(false, Json(), 0, r.error, 0);
                   ApiAnswer a = parse_api_answer(method, r.status, r.body);
                   if (a.malformed && method == "getUpdates") malformed_body_ = r.body;
                   if (a.ok) return done(true, a.result, 200, "", 0);
                   done(false, Json(), a.code, a.description, a.retry_after_s);
                 });
}

void TelegramWorker::get_me() {
  if (stopping_) return;
  call(poll_http_, "getMe", Json::object(), 15'000,
       [this](bool ok, const Json& res, int code, const std::string& desc, int) {
         if (stopping_) return;
         if (!ok) {
           if (code == 401 || code == 404) {
             // A wrong token never gets better by retrying: a configuration error.
             if (on_fatal) on_fatal(78, "Telegram rejected the bot token: " + desc);
             return;
           }
           ++failures_;
           last_error_ = Error{ipc::ErrorCode::UNAVAILABLE, "getMe: " + desc, true, 0};
           send_status();
           const int64_t wait = backoff_ms();
           log_.warn("telegram",
                     "getMe failed (" + desc + "), retrying in " + std::to_string(wait) + " ms");
           poll_timer_.expires_after(std::chrono::milliseconds(wait));
           poll_timer_.async_wait([this](const boost::system::error_code& ec) {
             if (!ec) get_me();
           });
           return;
         }
         failures_ = 0;
         connected_ = true;  // the API accepted the token; polling starts now
         last_error_.reset();
         bot_username_ = res.value("username", "");
         bot_id_ = int_field(res, "id");
         log_.info("telegram", "bot @" + bot_username_ + " ready; long polling");
         detail_ = "polling as @" + bot_username_;
         send_status();
         poll();
       });
}

void TelegramWorker::poll_later(int64_t ms) {
  polling_ = false;
  poll_timer_.expires_after(std::chrono::milliseconds(ms));
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) poll();
  });
}

void TelegramWorker::poll() {
  if (stopping_) return;
  // Backpressure: with the front away and the queue full, stop fetching (Telegram keeps them).
  if (front_.full()) return poll_later(1000);
  polling_ = true;
  const Json params = {{"offset", poll_offset_},
                       {"timeout", cfg_.poll_timeout_s},
                       {"limit", malformed_ ? 1 : 100},
                       {"allowed_updates", Json::array({"message"})}};
  call(poll_http_, "getUpdates", params, (cfg_.poll_timeout_s + 15) * 1000,
       [this](bool ok, const Json& res, int code, const std::string& desc, int retry_after) {
         if (stopping_) return;
         if (ok) {
           failures_ = 0;
           // One at a time until caught up, so a bad update further on is found alone too.
           if (res.is_array() && res.empty()) malformed_ = 0;
           if (!connected_ || last_error_) {
             connected_ = true;
             last_error_.reset();
             send_status();
           }
           on_updates(res);
           return poll();
         }
         if (code == 401) {
           if (on_fatal) on_fatal(78, "Telegram rejected the bot token: " + desc);
           return;
         }
         if (code == kMalformed && skip_malformed_update()) return poll();
         ++failures_;
         connected_ = false;
         int64_t wait = backoff_ms();
         ipc::ErrorCode error_code = ipc::ErrorCode::UNAVAILABLE;
         if (code == 409) {
           // Another process polls this bot (or a webhook is set): typed, retried slowly.
           error_code = ipc::ErrorCode::CONFLICT;
           wait = std::max<int64_t>(wait, 5000);
         } else if (code == 429) {
           error_code = ipc::ErrorCode::RATE_LIMITED;
           wait = std::max<int64_t>(wait, retry_after * 1000LL);
         }
         last_error_ = Error{error_code, "getUpdates: " + desc, true, wait};
         send_status();
         log_.warn("telegram",
                   "getUpdates failed (" + desc + "), retrying in " + std::to_string(wait) + " ms");
         poll_later(wait);
       });
}

bool TelegramWorker::skip_malformed_update() {
  // First time: ask again for one update only, so the bad one is alone in the answer.
  if (malformed_++ == 0) {
    log_.warn("telegram", "getUpdates answer does not parse; retrying one update at a time");
    return true;
  }
  // The id of the one update in the answer, read without a parser.
  size_t at = malformed_body_.find("\"update_id\"");
  if (at == std::string::npos) return false;  // back off and try again
  at += 11;
  while (at < malformed_body_.size() && (malformed_body_[at] == ' ' || malformed_body_[at] == ':'))
    ++at;
  int64_t id = 0;
  size_t digits = 0;
  for (; at < malformed_body_.size() && digits < 18 &&
         std::isdigit(static_cast<unsigned char>(malformed_body_[at]));
       ++at, ++digits)
    id = id * 10 + (malformed_body_[at] - '0');
  if (digits == 0 || id < poll_offset_) return false;
  log_.error("telegram",
             "update " + std::to_string(id) + " cannot be parsed even after repair; skipped");
  poll_offset_ = id + 1;
  malformed_ = 0;
  persist_offset();
  return true;
}

void TelegramWorker::on_updates(const Json& updates) {
  std::vector<std::string> skipped;
  for (InboundUpdate& u : parse_updates(updates, poll_offset_, bot_id_, bot_username_, &skipped)) {
    if (u.facts.original_bytes)
      log_.warn("telegram", "update " + std::to_string(u.update_id) + ": text of " +
                                std::to_string(u.facts.original_bytes) + " bytes cut to " +
                                std::to_string(u.facts.text.size()));
    capnp::MallocMessageBuilder b;
    write_inbound(b, u.update_id, u.facts);
    front_.offer(b);
    last_inbound_ms_ = now_ms();
  }
  for (const std::string& why : skipped) log_.error("telegram", why);
  persist_offset();
}

void TelegramWorker::persist_offset() {
  // Only past what the front has acknowledged: the rest is fetched again after a crash.
  const std::string oldest = front_.oldest_pending();
  const int64_t safe = oldest.empty() ? poll_offset_ : std::atoll(oldest.c_str());
  if (safe == persisted_offset_) return;
  try {
    atomic_write_file(offset_path(), std::to_string(safe) + "\n");
    persisted_offset_ = safe;
  } catch (const std::exception& e) {
    log_.error("telegram", std::string("cannot persist the update offset: ") + e.what());
  }
}

void write_inbound(capnp::MessageBuilder& b, int64_t update_id, const InboundFacts& f) {
  auto in = b.initRoot<ipc::Data>().initInbound();
  in.setId(std::to_string(update_id));
  in.setChatId(f.chat_id);
  // InboundFacts says "direct" for a private chat and "group" for any other (telegram_text.hpp).
  in.setChatType(f.chat_type == "direct" ? ipc::ChatType::DIRECT : ipc::ChatType::GROUP);
  in.setSenderId(f.sender_id);
  in.setSenderName(f.sender_name);
  in.setSenderUsername(f.sender_username);
  in.setText(f.text);
  in.setMessageId(f.message_id);
  in.setTsMs(f.ts_ms);
  in.setWasMentioned(f.was_mentioned);
  in.setReplyToBot(f.reply_to_bot);
  in.setBotCommand(f.bot_command);
}

void TelegramWorker::attach_front(int fd, uint32_t generation) {
  front_.attach(fd, generation);
}

void TelegramWorker::send(Outbox::Delivery& d) {
  Json params = {{"chat_id", d.to}, {"text", d.chunks[d.next]}};
  call(send_http_, "sendMessage", params, kSendTimeoutMs,
       [this](bool ok, const Json& res, int code, const std::string& desc, int retry_after) {
         Outbox& out = front_.outbox();
         Outbox::Delivery* d = out.landed();
         if (stopping_ || !d) return;
         if (ok) {
           last_outbound_ms_ = now_ms();
           return out.sent(std::to_string(int_field(res, "message_id")));
         }
         ++d->attempts;
         if (code == 429 && d->attempts <= kMaxSendAttempts) {
           log_.warn("telegram", "rate limited; retrying in " + std::to_string(retry_after) + " s");
           return out.retry_in(std::max(1, retry_after) * 1000LL);
         }
         const bool transient = code == 0 || code >= 500 || code == 429;
         if (transient && d->attempts <= kMaxSendAttempts)
           return out.retry_in(500LL << d->attempts);
         // Permanent (400 chat not found, 403 blocked): the front records the failure.
         out.fail(Error{transient ? ipc::ErrorCode::UNAVAILABLE : ipc::ErrorCode::INVALID_REQUEST,
                        "sendMessage: " + desc, transient, transient ? 5000 : 0});
       });
}

void TelegramWorker::fill_status(ipc::WorkerStatus::Builder s) {
  s.setConnected(connected_);
  s.setDetail(detail_);
  s.setBotUsername(bot_username_);
  s.setLastInboundMs(last_inbound_ms_);
  s.setLastOutboundMs(last_outbound_ms_);
  if (last_error_) ipc::write_error(*last_error_, s.initLastError());
}

}  // namespace clawgate::workers
