// Discord payloads: see discord_payload.hpp.
#include "discord_payload.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "json_text.hpp"
#include "utf8.hpp"

namespace clawgate::workers::discord {

namespace {

constexpr int64_t kDayMs = 86'400'000;

const Json& field(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

const Json& object_at(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  const Json& v = field(j, key);
  return v.is_object() ? v : kEmpty;
}

std::optional<std::string> string_at(const Json& j, const char* key) {
  const Json& v = field(j, key);
  if (!v.is_string()) return std::nullopt;
  return v.get<std::string>();
}

// Text for a name or a message: valid UTF-8 (the parser made it so), bounded in code points.
std::string bounded_text(const Json& j, const char* key, size_t max_chars) {
  const auto s = string_at(j, key);
  return s ? utf8::preview(*s, max_chars) : "";
}

std::optional<int64_t> int_at(const Json& j, const char* key) {
  const Json& v = field(j, key);
  if (!v.is_number_integer()) return std::nullopt;
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) return std::nullopt;
  return v.get<int64_t>();
}

bool bool_at(const Json& j, const char* key) {
  const Json& v = field(j, key);
  return v.is_boolean() && v.get<bool>();
}

// Seconds (a JSON number or a numeric header) as milliseconds in [0, a day].
int64_t seconds_to_ms(double s) {
  if (!std::isfinite(s) || s <= 0) return 0;
  return static_cast<int64_t>(std::ceil(std::min(s, 86400.0) * 1000));
}

std::optional<double> number_text(const std::string& s) {
  if (s.empty() || s.size() > 32 || s.find_first_not_of("0123456789.") != std::string::npos)
    return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

bool ws_url(const std::string& s) {
  return (s.rfind("wss://", 0) == 0 || s.rfind("ws://", 0) == 0) && s.size() <= 2048 &&
         utf8::valid(s) &&
         std::none_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x21 || c == 0x7f; });
}

// <@id>, <@!id> or <@&id> for `id` in `text`.
bool mentions_in_text(std::string_view text, std::string_view prefix, const std::string& id) {
  if (id.empty()) return false;
  const std::string needle = std::string(prefix) + id + ">";
  return text.find(needle) != std::string_view::npos;
}

bool listed(const Json& list, const std::string& id, bool objects) {
  if (!list.is_array() || id.empty()) return false;
  size_t n = 0;
  for (const Json& x : list) {
    if (++n > kMaxListItems) break;
    const Json& v = objects ? field(x, "id") : x;
    if (v.is_string() && v.get<std::string>() == id) return true;
  }
  return false;
}

// JSON with nesting beyond kMaxDepth dropped while parsing (nothing Discord sends is that
// deep), so no later walk or destructor recurses without bound.
constexpr int kMaxDepth = 32;
Json parse_shallow(const std::string& text) {
  const Json::parser_callback_t shallow = [](int depth, Json::parse_event_t, Json&) {
    return depth <= kMaxDepth;
  };
  return Json::parse(text, shallow, false);
}

}  // namespace

bool is_snowflake(std::string_view s) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (uint64_t{INT64_MAX} - d) / 10) return false;  // past 2^63 - 1
    v = v * 10 + d;
  }
  return v > 0;
}

std::optional<std::string> snowflake_at(const Json& obj, const char* key) {
  auto s = string_at(obj, key);
  if (!s || !is_snowflake(*s)) return std::nullopt;
  return s;
}

int64_t snowflake_ms(std::string_view id) {
  if (!is_snowflake(id)) return 0;
  const uint64_t v = std::stoull(std::string(id));
  return static_cast<int64_t>(v >> 22) + kDiscordEpochMs;
}

std::optional<Frame> parse_frame(std::string_view text, std::string* why) {
  Json j = parse_shallow(std::string(text));
  if (j.is_discarded()) j = parse_shallow(repair_json_text(std::string(text)));
  if (!j.is_object()) {
    if (why) *why = "not a JSON object";
    return std::nullopt;
  }
  const auto op = int_at(j, "op");
  if (!op || *op < 0 || *op > 64) {
    if (why) *why = "no integer op";
    return std::nullopt;
  }
  Frame f;
  f.op = static_cast<int>(*op);
  f.s = int_at(j, "s");
  if (f.s && *f.s < 0) f.s.reset();
  f.t = bounded_text(j, "t", 64);
  if (auto it = j.find("d"); it != j.end()) f.d = std::move(*it);
  return f;
}

std::optional<int64_t> hello_interval(const Json& d) {
  const auto ms = int_at(d, "heartbeat_interval");
  if (!ms || *ms < 1000 || *ms > 600'000) return std::nullopt;
  return ms;
}

std::optional<Ready> read_ready(const Json& d, std::string* why) {
  Ready r;
  const auto sid = string_at(d, "session_id");
  if (!sid || sid->empty() || sid->size() > 256 ||
      !std::all_of(sid->begin(), sid->end(),
                   [](unsigned char c) { return c > 0x20 && c < 0x7f; })) {
    if (why) *why = "READY without a usable session_id";
    return std::nullopt;
  }
  r.session_id = *sid;
  const Json& user = object_at(d, "user");
  const auto uid = snowflake_at(user, "id");
  if (!uid) {
    if (why) *why = "READY without the bot's user id";
    return std::nullopt;
  }
  r.user_id = *uid;
  r.username = bounded_text(user, "username", kMaxNameChars);
  if (const auto url = string_at(d, "resume_gateway_url"); url && ws_url(*url)) r.resume_url = *url;
  r.application_id = snowflake_at(object_at(d, "application"), "id").value_or("");
  return r;
}

std::optional<GuildFacts> read_guild(const Json& d, const std::string& bot_user_id) {
  GuildFacts g;
  const auto id = snowflake_at(d, "id");
  if (!id) return std::nullopt;
  g.id = *id;
  g.name = bounded_text(d, "name", kMaxPlaceNameChars);
  size_t n = 0;
  const Json& roles = field(d, "roles");
  if (roles.is_array())
    for (const Json& r : roles) {
      if (++n > 1000) break;
      // A bot's managed role carries tags.bot_id.
      const auto rid = snowflake_at(r, "id");
      const auto bot = snowflake_at(object_at(r, "tags"), "bot_id");
      if (rid && bot && *bot == bot_user_id) g.bot_role_id = *rid;
    }
  for (const char* list : {"channels", "threads"}) {
    const Json& items = field(d, list);
    if (!items.is_array()) continue;
    for (const Json& item : items) {
      if (g.channels.size() >= kMaxGuildChannels) break;
      if (auto c = read_channel(item)) {
        if (c->guild_id.empty()) c->guild_id = g.id;  // GUILD_CREATE's channels omit it
        g.channels.push_back(std::move(*c));
      }
    }
  }
  return g;
}

std::optional<ChannelFacts> read_channel(const Json& d) {
  ChannelFacts c;
  const auto id = snowflake_at(d, "id");
  if (!id) return std::nullopt;
  c.id = *id;
  c.guild_id = snowflake_at(d, "guild_id").value_or("");
  c.name = bounded_text(d, "name", kMaxPlaceNameChars);
  const auto type = int_at(d, "type");
  c.thread = type && (*type == 10 || *type == 11 || *type == 12);
  c.parent_id = snowflake_at(d, "parent_id").value_or("");
  if (c.thread && c.parent_id.empty()) c.thread = false;  // a thread names its parent
  if (!c.thread) c.parent_id.clear();                     // a channel's parent is its category
  return c;
}

std::optional<Message> read_message(const Json& d, const Me& me, std::string* why) {
  Message m;
  const auto id = snowflake_at(d, "id");
  const auto channel = snowflake_at(d, "channel_id");
  const Json& author = object_at(d, "author");
  const auto author_id = snowflake_at(author, "id");
  if (!id || !channel || !author_id) {
    if (why) *why = "a message without a valid id, channel_id or author id";
    return std::nullopt;
  }
  m.id = *id;
  m.channel_id = *channel;
  m.author_id = *author_id;
  m.guild_id = snowflake_at(d, "guild_id").value_or("");
  m.author_username = bounded_text(author, "username", kMaxNameChars);
  m.author_name = bounded_text(author, "global_name", kMaxNameChars);
  const Json& member = object_at(d, "member");
  if (const std::string nick = bounded_text(member, "nick", kMaxNameChars); !nick.empty())
    m.author_name = nick;
  m.author_bot = bool_at(author, "bot");
  m.own = !me.user_id.empty() && m.author_id == me.user_id;
  const Json& roles = field(member, "roles");
  if (roles.is_array())
    for (const Json& r : roles) {
      if (m.roles.size() >= kMaxListItems) break;
      if (r.is_string() && is_snowflake(r.get<std::string>()))
        m.roles.push_back(r.get<std::string>());
    }
  std::string text = string_at(d, "content").value_or("");
  if (text.size() > kMaxInboundTextBytes) {
    m.original_bytes = text.size();
    text.resize(utf8::cut_bytes(text, kMaxInboundTextBytes));
  }
  m.text = std::move(text);
  m.ts_ms = snowflake_ms(m.id);
  // Addressed: the bot in mentions (or its mention syntax in the text), its role, a reply.
  const auto role = me.role_by_guild.find(m.guild_id);
  const std::string bot_role = role == me.role_by_guild.end() ? "" : role->second;
  m.mentioned = listed(field(d, "mentions"), me.user_id, true) ||
                mentions_in_text(m.text, "<@", me.user_id) ||
                mentions_in_text(m.text, "<@!", me.user_id) ||
                listed(field(d, "mention_roles"), bot_role, false) ||
                mentions_in_text(m.text, "<@&", bot_role);
  const Json& ref = object_at(d, "referenced_message");
  m.reply_to_bot =
      !me.user_id.empty() && snowflake_at(object_at(ref, "author"), "id") == me.user_id;
  return m;
}

std::optional<GatewayBot> read_gateway_bot(const Json& j, std::string* why) {
  GatewayBot g;
  const auto url = string_at(j, "url");
  if (!url || !ws_url(*url)) {
    if (why) *why = "GET /gateway/bot: no ws:// or wss:// url";
    return std::nullopt;
  }
  g.url = *url;
  const Json& limit = object_at(j, "session_start_limit");
  g.remaining = std::clamp<int64_t>(int_at(limit, "remaining").value_or(1), 0, 1'000'000);
  g.reset_after_ms = std::clamp<int64_t>(int_at(limit, "reset_after").value_or(0), 0, kDayMs);
  g.max_concurrency = std::clamp<int64_t>(int_at(limit, "max_concurrency").value_or(1), 1, 1024);
  return g;
}

RateLimit read_rate_limit(int status,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const std::string& body) {
  RateLimit r;
  r.limited = status == 429;
  for (const auto& [k, v] : headers) {
    const std::string name = utf8::lower(k);
    if (name == "x-ratelimit-bucket") {
      if (v.size() <= 64 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '_' || c == ':';
          }))
        r.bucket = v;
    } else if (name == "x-ratelimit-remaining") {
      if (auto n = number_text(v)) r.remaining = static_cast<int64_t>(std::min(*n, 1e9));
    } else if (name == "x-ratelimit-reset-after") {
      if (auto n = number_text(v)) r.reset_after_ms = seconds_to_ms(*n);
    } else if (name == "x-ratelimit-global") {
      r.global = r.global || utf8::lower(v) == "true";
    } else if (name == "retry-after" && r.limited) {
      if (auto n = number_text(v)) r.retry_after_ms = std::max(r.retry_after_ms, seconds_to_ms(*n));
    }
  }
  if (r.limited) {
    const Json j = parse_body(body);
    const Json& after = field(j, "retry_after");
    if (after.is_number())
      r.retry_after_ms = std::max(r.retry_after_ms, seconds_to_ms(after.get<double>()));
    r.global = r.global || bool_at(j, "global");
    // A 429 that says nothing still waits: a second, rather than hammering.
    if (r.retry_after_ms == 0) r.retry_after_ms = std::max<int64_t>(r.reset_after_ms, 1000);
  }
  return r;
}

Json parse_body(const std::string& body) {
  Json j = parse_shallow(body);
  if (j.is_discarded()) j = parse_shallow(repair_json_text(body));
  return j;
}

std::string error_message(int status, const Json& body) {
  if (const auto m = string_at(body, "message"); m && !m->empty()) return utf8::preview(*m, 200);
  return "HTTP " + std::to_string(status);
}

}  // namespace clawgate::workers::discord
