// Slack's inbound side read as pure functions: a Socket Mode frame (hello, events_api envelope,
// disconnect), an Events API payload's message into the facts the front needs (who, where,
// which thread, mentioned or not), and the keys that tell a repeat from a new message.
// Every field is bounded and checked here, at the edge: ids must look like Slack ids (upper-case
// letters and digits), timestamps like "seconds.micros", text is repaired UTF-8 cut at 64 KiB.
// Fails: never throws except std::bad_alloc; what cannot be read is `malformed` (frames) or
// skipped with a reason (events), never passed on half-read.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace clawgate::workers::slack {

using Json = nlohmann::json;

inline constexpr size_t kMaxInboundTextBytes = 64 * 1024;
inline constexpr size_t kMaxIdBytes = 32;  // Slack ids are 9-12 characters today

// One Socket Mode message from Slack.
struct SocketFrame {
  enum class Kind { hello, events_api, disconnect, other, malformed };
  Kind kind = Kind::malformed;
  std::string type;         // the frame's type, bounded (for logs)
  std::string envelope_id;  // non-empty: Slack waits for {"envelope_id": ...} back
  std::string reason;       // disconnect: refresh_requested, warning, link_disabled, ...
  int num_connections = 0;  // hello
  std::string app_id;       // hello: connection_info.app_id
  int retry_attempt = 0;    // events_api: 0 the first time
  Json payload;             // events_api: the Events API body (an object), else null
};
SocketFrame read_socket_frame(std::string_view text);

// A bounded Slack id (channel, user, team, bot, app): 1-32 of [A-Z0-9], or nullopt.
std::optional<std::string> slack_id(const Json& obj, const char* key);
// A message timestamp "1700000000.000100" (digits, one dot, digits; at most 32), or nullopt.
std::optional<std::string> slack_ts(const Json& obj, const char* key);
// Milliseconds since the epoch of a message timestamp (0 when it does not parse).
int64_t ts_to_ms(std::string_view ts);

// Slack's conversation kinds (event channel_type, conversations.info's is_* flags).
enum class ConvKind { unknown, im, mpim, channel, group };
ConvKind conv_kind_from_type(std::string_view channel_type);
// What a channel id alone says: D... is a DM, C... a public channel; anything else (G... is a
// private channel or a group DM) needs conversations.info.
ConvKind conv_kind_from_id(std::string_view channel_id);
// conversations.info's channel object -> its kind (unknown when no flag is set).
ConvKind conv_kind_from_info(const Json& channel);

// Who this app is, from auth.test.
struct BotIdentity {
  std::string user_id, bot_id, team_id, user_name;
};

// One message the front may see.
struct SlackMessage {
  std::string event_id;       // the Events API event_id ("" when absent)
  std::string channel, user;  // user: the author (a bot's bot_id when it has no user)
  std::string ts, thread_ts;  // thread_ts: the thread root when in a thread ("" otherwise)
  std::string client_msg_id;
  std::string team;
  ConvKind kind = ConvKind::unknown;
  std::string text;           // repaired, unescaped (&lt; &gt; &amp;), cut at 64 KiB
  size_t original_bytes = 0;  // set when `text` was cut: how long it was
  bool from_bot = false;      // bot_id set, or subtype bot_message
  bool own = false;           // written by this app's bot (never handed on)
  bool mentioned = false;     // <@bot user id> in the text, or an app_mention event
  bool reply_to_bot = false;  // a thread reply whose root the bot wrote
  bool app_mention = false;   // came as app_mention (a message event usually comes too)
  int64_t ts_ms = 0;
};

// The result of reading one Events API payload.
struct EventRead {
  std::optional<SlackMessage> message;  // nullopt: nothing for the front
  std::string skipped;                  // why not, for a debug log ("" for ignored kinds)
};
// payload: the Events API body ({type: event_callback, event_id, event: {...}}). Reads message
// events (plain, thread_broadcast, file_share, me_message, bot_message) and app_mention; edits,
// deletions, joins and other kinds are ignored.
EventRead read_event(const Json& payload, const BotIdentity& me);

// Whether `text` mentions Slack user `user_id` (<@U123> or <@U123|name>).
bool mentions(std::string_view text, std::string_view user_id);
// Slack escapes &, < and > in message text; the person wrote the characters.
std::string unescape_text(std::string_view text);

// The key that names one message across event kinds and retries: channel + ts (a message and
// its app_mention share it; a re-sent envelope repeats it).
inline std::string message_key(const SlackMessage& m) {
  return m.channel + ":" + m.ts;
}

}  // namespace clawgate::workers::slack
