// Telegram text at the worker's edges, as pure functions: what the front needs from an incoming
// message (text, sender, the facts mention gating needs), the Bot API response body made safe
// to parse, and outbound text cut into messages Telegram accepts (lengths in UTF-16 code units,
// as the Bot API counts them).
// Never throw except std::bad_alloc; bad input is repaired or cut, never passed on.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "json_text.hpp"  // repair_json_text

namespace clawgate::workers {

// Inbound text above this is cut (on a code-point boundary) before it reaches the front.
inline constexpr size_t kMaxInboundTextBytes = 64 * 1024;

struct InboundFacts {
  std::string chat_id, chat_type, sender_id, sender_name, sender_username, text, message_id;
  int64_t ts_ms = 0;
  bool was_mentioned = false;  // @bot_username, or a text_mention of the bot
  bool reply_to_bot = false;   // reply_to_message was sent by the bot
  bool bot_command = false;    // starts with /cmd or /cmd@bot_username
  size_t original_bytes = 0;   // set when `text` was cut: how long it was
};

// The integer at obj[key], or 0 when it is missing, not an integer, or outside int64 (a float
// such as -3.3e90 is never converted: that is undefined behaviour). Ids are integers in the
// Bot API; anything else is a malformed answer.
int64_t int_field(const nlohmann::json& obj, const char* key);

// Reads a Bot API Message. A chat or sender id that is not an int64 integer makes the message
// unreadable: throws std::invalid_argument (its update is skipped, never misattributed).
// `bot_id`/`bot_username` come from getMe.
InboundFacts read_message(const nlohmann::json& message, int64_t bot_id,
                          const std::string& bot_username,
                          size_t max_text_bytes = kMaxInboundTextBytes);

// Splits text into messages of at most `limit` UTF-16 code units, never inside a code point,
// preferring to break at a newline, then a space (the separator is dropped). Chunks that would
// be only whitespace are left out: Telegram refuses them.
std::vector<std::string> chunk_text(const std::string& text, size_t limit);

}  // namespace clawgate::workers
