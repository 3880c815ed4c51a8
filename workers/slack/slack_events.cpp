// Slack event readers: see slack_events.hpp.
#include "slack_events.hpp"

#include <algorithm>

#include "json_text.hpp"
#include "utf8.hpp"

namespace clawgate::workers::slack {

namespace {

const Json& object_at(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  const auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

// A string field, cut (on a code point) at max_bytes; nullopt when absent or not a string.
std::optional<std::string> string_at(const Json& j, const char* key, size_t max_bytes) {
  const auto it = j.is_object() ? j.find(key) : j.end();
  if (it == j.end() || !it->is_string()) return std::nullopt;
  const std::string& s = it->get_ref<const std::string&>();
  return utf8::truncate_bytes(utf8::repair(std::string_view(s).substr(0, max_bytes + 4)),
                              max_bytes);
}

bool is_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::optional<std::string> slack_id(const Json& obj, const char* key) {
  const auto it = obj.is_object() ? obj.find(key) : obj.end();
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > kMaxIdBytes || !std::all_of(s.begin(), s.end(), is_id_char))
    return std::nullopt;
  return s;
}

std::optional<std::string> slack_ts(const Json& obj, const char* key) {
  const auto it = obj.is_object() ? obj.find(key) : obj.end();
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  const std::string& s = it->get_ref<const std::string&>();
  const size_t dot = s.find('.');
  if (s.size() > 32 || dot == 0 || dot == std::string::npos || dot + 1 == s.size()) return {};
  for (size_t i = 0; i < s.size(); ++i)
    if (i != dot && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  return s;
}

int64_t ts_to_ms(std::string_view ts) {
  const size_t dot = ts.find('.');
  if (dot == std::string_view::npos || dot > 12) return 0;  // seconds beyond year 33658: no
  int64_t ms = 0;
  for (size_t i = 0; i < dot; ++i) ms = ms * 10 + (ts[i] - '0');
  ms *= 1000;
  int64_t frac = 0;
  for (size_t i = dot + 1; i < ts.size() && i < dot + 4; ++i) frac = frac * 10 + (ts[i] - '0');
  for (size_t i = ts.size(); i < dot + 4; ++i) frac *= 10;  // ".5" is 500 ms
  return ms + frac;
}

SocketFrame read_socket_frame(std::string_view text) {
  SocketFrame f;
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) j = Json::parse(repair_json_text(std::string(text)), nullptr, false);
  if (!j.is_object()) return f;
  f.type = string_at(j, "type", 64).value_or("");
  f.envelope_id = string_at(j, "envelope_id", 128).value_or("");
  if (f.type == "hello") {
    f.kind = SocketFrame::Kind::hello;
    const auto n = j.find("num_connections");
    if (n != j.end() && n->is_number_integer())
      f.num_connections = static_cast<int>(std::clamp<int64_t>(n->get<int64_t>(), 0, 1000));
    f.app_id = slack_id(object_at(j, "connection_info"), "app_id").value_or("");
  } else if (f.type == "disconnect") {
    f.kind = SocketFrame::Kind::disconnect;
    f.reason = string_at(j, "reason", 64).value_or("");
  } else if (f.type == "events_api") {
    const Json& payload = object_at(j, "payload");
    // Without its envelope id an event cannot be acknowledged; Slack would send it again.
    f.kind = f.envelope_id.empty() || payload.empty() ? SocketFrame::Kind::malformed
                                                      : SocketFrame::Kind::events_api;
    const auto r = j.find("retry_attempt");
    if (r != j.end() && r->is_number_integer())
      f.retry_attempt = static_cast<int>(std::clamp<int64_t>(r->get<int64_t>(), 0, 100));
    f.payload = payload;
  } else {
    f.kind = f.type.empty() ? SocketFrame::Kind::malformed : SocketFrame::Kind::other;
  }
  return f;
}

ConvKind conv_kind_from_type(std::string_view t) {
  if (t == "im") return ConvKind::im;
  if (t == "mpim") return ConvKind::mpim;
  if (t == "channel") return ConvKind::channel;
  if (t == "group") return ConvKind::group;
  return ConvKind::unknown;
}

ConvKind conv_kind_from_id(std::string_view id) {
  if (id.empty()) return ConvKind::unknown;
  if (id[0] == 'D') return ConvKind::im;
  if (id[0] == 'C') return ConvKind::channel;
  return ConvKind::unknown;
}

ConvKind conv_kind_from_info(const Json& c) {
  const auto flag = [&](const char* key) {
    const auto it = c.is_object() ? c.find(key) : c.end();
    return it != c.end() && it->is_boolean() && it->get<bool>();
  };
  if (flag("is_im")) return ConvKind::im;
  if (flag("is_mpim")) return ConvKind::mpim;
  if (flag("is_channel")) return ConvKind::channel;
  if (flag("is_group") || flag("is_private")) return ConvKind::group;
  return ConvKind::unknown;
}

bool mentions(std::string_view text, std::string_view user_id) {
  if (user_id.empty()) return false;
  for (size_t at = text.find("<@"); at != std::string_view::npos; at = text.find("<@", at + 2)) {
    const std::string_view rest = text.substr(at + 2);
    if (rest.substr(0, user_id.size()) != user_id) continue;
    const std::string_view after = rest.substr(user_id.size());
    if (!after.empty() && (after[0] == '>' || after[0] == '|')) return true;
  }
  return false;
}

std::string unescape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '&') {
      const std::string_view rest = text.substr(i);
      if (rest.substr(0, 4) == "&lt;") {
        out += '<';
        i += 4;
        continue;
      }
      if (rest.substr(0, 4) == "&gt;") {
        out += '>';
        i += 4;
        continue;
      }
      if (rest.substr(0, 5) == "&amp;") {
        out += '&';
        i += 5;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

EventRead read_event(const Json& payload, const BotIdentity& me) {
  EventRead r;
  if (string_at(payload, "type", 64).value_or("") != "event_callback") {
    r.skipped = "not an event_callback";
    return r;
  }
  const Json& e = object_at(payload, "event");
  const std::string type = string_at(e, "type", 64).value_or("");
  if (type != "message" && type != "app_mention") return r;  // other kinds: not for the front
  const std::string subtype = string_at(e, "subtype", 64).value_or("");
  // New text from someone; edits, deletions, joins and topic changes are not messages to answer.
  static const char* const kAccepted[] = {"", "bot_message", "thread_broadcast", "file_share",
                                          "me_message"};
  if (std::find(std::begin(kAccepted), std::end(kAccepted), subtype) == std::end(kAccepted))
    return r;
  SlackMessage m;
  m.event_id = string_at(payload, "event_id", 64).value_or("");
  m.app_mention = type == "app_mention";
  const auto channel = slack_id(e, "channel");
  const auto ts = slack_ts(e, "ts");
  if (!channel || !ts) {
    r.skipped = type + " event without a valid channel or ts";
    return r;
  }
  m.channel = *channel;
  m.ts = *ts;
  m.ts_ms = ts_to_ms(m.ts);
  m.thread_ts = slack_ts(e, "thread_ts").value_or("");
  if (m.thread_ts == m.ts) m.thread_ts.clear();  // a root names itself; it is not in a thread
  m.client_msg_id = string_at(e, "client_msg_id", 64).value_or("");
  m.team = slack_id(e, "team").value_or(slack_id(payload, "team_id").value_or(""));
  const auto user = slack_id(e, "user");
  const auto bot_id = slack_id(e, "bot_id");
  m.from_bot = bot_id.has_value() || subtype == "bot_message";
  m.own = (user && !me.user_id.empty() && *user == me.user_id) ||
          (bot_id && !me.bot_id.empty() && *bot_id == me.bot_id);
  if (user) {
    m.user = *user;
  } else if (bot_id) {
    m.user = *bot_id;
  } else {
    r.skipped = type + " event without a valid user";
    return r;
  }
  const std::string_view ctype =
      e.contains("channel_type") && e["channel_type"].is_string()
          ? std::string_view(e["channel_type"].get_ref<const std::string&>())
          : std::string_view();
  m.kind = conv_kind_from_type(ctype);
  if (m.kind == ConvKind::unknown) m.kind = conv_kind_from_id(m.channel);
  const auto it = e.find("text");
  const std::string raw = utf8::repair(it != e.end() && it->is_string()
                                           ? std::string_view(it->get_ref<const std::string&>())
                                           : std::string_view());
  // On the wire form: "&lt;@U1&gt;" is someone typing the characters, not a mention.
  m.mentioned = m.app_mention || mentions(raw, me.user_id);
  std::string text = unescape_text(raw);
  if (text.size() > kMaxInboundTextBytes) {
    m.original_bytes = text.size();
    text.resize(utf8::cut_bytes(text, kMaxInboundTextBytes));
  }
  m.text = std::move(text);
  const auto parent = slack_id(e, "parent_user_id");
  m.reply_to_bot = !m.thread_ts.empty() && parent && !me.user_id.empty() && *parent == me.user_id;
  r.message = std::move(m);
  return r;
}

}  // namespace clawgate::workers::slack
