// Telegram text helpers: see telegram_text.hpp.
#include "telegram_text.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "utf8.hpp"

namespace clawgate::workers {

using Json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The part of `text` an entity covers; Bot API offsets and lengths are UTF-16 code units.
std::string entity_text(const std::string& text, const Json& e) {
  const int64_t off = e.value("offset", int64_t{-1}), len = e.value("length", int64_t{-1});
  if (off < 0 || len <= 0) return "";
  const size_t start = utf8::cut_utf16(text, static_cast<size_t>(off));
  const std::string_view rest = std::string_view(text).substr(start);
  return std::string(rest.substr(0, utf8::cut_utf16(rest, static_cast<size_t>(len))));
}

}  // namespace

int64_t int_field(const Json& obj, const char* key) {
  if (!obj.is_object()) return 0;
  const auto it = obj.find(key);
  if (it == obj.end()) return 0;
  if (it->is_number_unsigned())
    return it->get<uint64_t>() <= uint64_t(INT64_MAX) ? static_cast<int64_t>(it->get<uint64_t>())
                                                      : 0;
  return it->is_number_integer() ? it->get<int64_t>() : 0;
}

namespace {
// Ids that say who a message is from or where it goes: absent reads as 0, but an id of another
// type (a string, a float, past int64) makes the message unreadable — wrong is worse than absent.
int64_t required_id(const Json& obj, const char* what) {
  if (!obj.is_object() || !obj.contains("id")) return 0;
  const Json& id = obj["id"];
  if (id.is_number_unsigned() && id.get<uint64_t>() <= uint64_t(INT64_MAX))
    return static_cast<int64_t>(id.get<uint64_t>());
  if (id.is_number_integer() && !id.is_number_unsigned()) return id.get<int64_t>();
  throw std::invalid_argument(std::string(what) + ".id is not an integer id");
}
}  // namespace

InboundFacts read_message(const Json& m, int64_t bot_id, const std::string& bot_username,
                          size_t max_text_bytes) {
  InboundFacts f;
  const Json chat = m.value("chat", Json::object());
  const Json from = m.value("from", Json::object());
  f.chat_id = std::to_string(required_id(chat, "chat"));
  const std::string type = chat.value("type", "private");
  f.chat_type = type == "private" ? "direct" : "group";
  f.sender_id = std::to_string(required_id(from, "from"));
  // Names are labels: bounded (Telegram's own limits are 64 and 32 characters), so no answer
  // can make one message too large for the link to the front.
  f.sender_name = utf8::truncate_bytes(from.value("first_name", ""), 256);
  if (from.contains("last_name"))
    f.sender_name += " " + utf8::truncate_bytes(from.value("last_name", ""), 256);
  f.sender_username = utf8::truncate_bytes(from.value("username", ""), 128);
  f.message_id = std::to_string(int_field(m, "message_id"));
  const Json& date = m.contains("date") ? m["date"] : Json();
  const int64_t secs = date.is_number_integer() ? date.get<int64_t>() : 0;
  f.ts_ms = std::clamp<int64_t>(secs, 0, int64_t{1} << 40) * 1000;  // no overflow
  const std::string text = m.value("text", "");

  const std::string handle = "@" + lower(bot_username);
  if (m.contains("entities") && m["entities"].is_array()) {
    for (const Json& e : m["entities"]) {
      if (!e.is_object()) continue;
      const std::string kind = e.value("type", "");
      if (kind == "mention" && !bot_username.empty()) {
        if (lower(entity_text(text, e)) == handle) f.was_mentioned = true;
      } else if (kind == "text_mention") {
        const Json user = e.value("user", Json::object());
        if (user.is_object() && int_field(user, "id") == bot_id) f.was_mentioned = true;
      } else if (kind == "bot_command" && e.value("offset", -1) == 0) {
        // "/cmd" goes to every bot in the chat; "/cmd@other_bot" is someone else's.
        const std::string cmd = entity_text(text, e);
        const auto at = cmd.find('@');
        if (at == std::string::npos || lower(cmd.substr(at)) == handle) f.bot_command = true;
      }
    }
  }
  if (m.contains("reply_to_message") && m["reply_to_message"].is_object()) {
    const Json r = m["reply_to_message"].value("from", Json::object());
    if (r.is_object() && int_field(r, "id") == bot_id && bot_id != 0) f.reply_to_bot = true;
  }
  if (text.size() > max_text_bytes) {
    f.original_bytes = text.size();
    f.text = text.substr(0, utf8::cut_bytes(text, max_text_bytes));
  } else {
    f.text = text;
  }
  return f;
}

std::vector<std::string> chunk_text(const std::string& text, size_t limit) {
  std::vector<std::string> out;
  limit = std::max<size_t>(limit, 1);
  const std::string_view sv(text);
  size_t pos = 0;
  while (pos < sv.size()) {
    size_t end = pos + utf8::cut_utf16(sv.substr(pos), limit);
    if (end == pos) end = pos + std::max<size_t>(1, utf8::cut_utf16(sv.substr(pos), 2));
    size_t cut = end, next = end;
    if (end < sv.size()) {
      // The absolute index of the last `ch` in (pos, end] (one right at the limit counts).
      const auto last = [&](char ch) {
        if (sv[end] == ch) return end;
        const size_t r = sv.substr(pos, end - pos).rfind(ch);
        return r == std::string_view::npos || r == 0 ? std::string_view::npos : pos + r;
      };
      size_t at = last('\n');
      if (at == std::string_view::npos) at = last(' ');
      if (at != std::string_view::npos) {
        cut = at;
        next = at + 1;
      }
    }
    const std::string piece(sv.substr(pos, cut - pos));
    if (piece.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(piece);
    pos = next;
  }
  return out;
}

}  // namespace clawgate::workers
