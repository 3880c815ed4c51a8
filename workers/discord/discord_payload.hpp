// Discord payloads at the worker's edge, as pure functions: Gateway frames (op, s, t, d), the
// READY and MESSAGE_CREATE events the worker acts on, the guild and thread facts it keeps, and
// REST answers (GET /gateway/bot, a created message, rate-limit headers and 429 bodies).
// Everything from Discord is hostile here: fields are read only with their documented type,
// ids only as snowflakes (1 to 20 digits, within 63 bits, not 0), numbers range-checked, texts
// repaired to UTF-8 and bounded, lists bounded.
// Never throw except std::bad_alloc: what cannot be read is nullopt with the reason.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clawgate::workers::discord {

using Json = nlohmann::json;

inline constexpr size_t kMaxInboundTextBytes = 64 * 1024;  // longer inbound text is cut
inline constexpr size_t kMaxNameChars = 128;               // user names, in code points
inline constexpr size_t kMaxListItems = 256;               // roles, mentions read per message
inline constexpr int64_t kDiscordEpochMs = 1420070400000;  // snowflake timestamps start here

// A Discord id: decimal digits only, 1 to 20 of them, a value in (0, 2^63).
bool is_snowflake(std::string_view s);
// The snowflake at obj[key] (a string, as Discord sends ids), else nullopt.
std::optional<std::string> snowflake_at(const Json& obj, const char* key);
// When the snowflake was made, in Unix milliseconds (0 for a non-snowflake).
int64_t snowflake_ms(std::string_view id);

// Opcodes of Gateway v10.
enum Op : int {
  kDispatch = 0,
  kHeartbeat = 1,
  kIdentify = 2,
  kResume = 6,
  kReconnect = 7,
  kInvalidSession = 9,
  kHello = 10,
  kHeartbeatAck = 11,
};

struct Frame {
  int op = -1;
  std::optional<int64_t> s;  // dispatches only
  std::string t;             // dispatch event name, bounded
  Json d;
};
// One Gateway message (a JSON text). Nullopt when it is not an object with an integer op.
std::optional<Frame> parse_frame(std::string_view text, std::string* why = nullptr);

// HELLO's heartbeat_interval, in ms: within [1000, 600000], else nullopt.
std::optional<int64_t> hello_interval(const Json& d);

struct Ready {
  std::string session_id;  // 1..256 printable ASCII
  std::string resume_url;  // resume_gateway_url: ws:// or wss://, "" when absent or bad
  std::string user_id, username, application_id;
};
std::optional<Ready> read_ready(const Json& d, std::string* why = nullptr);

// A channel or thread (CHANNEL_CREATE/UPDATE, THREAD_CREATE/UPDATE, GUILD_CREATE's lists, or
// GET /channels/{id}): its id, name and, for a thread (types 10, 11, 12), its parent; nullopt
// when unreadable.
struct ChannelFacts {
  std::string id, guild_id, parent_id;
  std::string name;  // bounded to kMaxPlaceNameChars, "" when absent (a DM)
  bool thread = false;
};
std::optional<ChannelFacts> read_channel(const Json& d);

inline constexpr size_t kMaxPlaceNameChars = 100;    // Discord's limit for guild and channel names
inline constexpr size_t kMaxGuildChannels = 10'000;  // channels and threads read per GUILD_CREATE

// What the worker keeps of a guild (GUILD_CREATE, GUILD_UPDATE): its name, the bot's own
// managed role there (a mention of it addresses the bot), and its channels and active threads.
struct GuildFacts {
  std::string id, name;
  std::string bot_role_id;             // "" when none seen
  std::vector<ChannelFacts> channels;  // channels, then threads
};
std::optional<GuildFacts> read_guild(const Json& d, const std::string& bot_user_id);

// One MESSAGE_CREATE, as the front needs it. The worker adds what it knows of the place: the
// guild's and channel's names, and the parent channel when the channel is a thread. Mention facts:
// the bot user in `mentions` or <@id>/<@!id> in the text, the bot's role in `mention_roles` (or
// <@&role>), a reply to one of its messages.
struct Message {
  std::string id, channel_id, guild_id, parent_id;
  std::string guild_name, channel_name, parent_name;  // "" when unknown
  std::string author_id, author_name, author_username, text;
  std::vector<std::string> roles;  // member.roles (guild messages)
  bool author_bot = false, own = false, mentioned = false, reply_to_bot = false;
  int64_t ts_ms = 0;
  size_t original_bytes = 0;  // set when `text` was cut
};
struct Me {
  std::string user_id;
  std::map<std::string, std::string> role_by_guild;  // the bot's managed role per guild
};
std::optional<Message> read_message(const Json& d, const Me& me, std::string* why = nullptr);

// GET /gateway/bot: the URL to connect to and the identify budget.
struct GatewayBot {
  std::string url;              // ws:// or wss://
  int64_t remaining = 1;        // identifies left in this window
  int64_t reset_after_ms = 0;   // when the window resets
  int64_t max_concurrency = 1;  // identify buckets (one identify per 5 s each)
};
std::optional<GatewayBot> read_gateway_bot(const Json& j, std::string* why = nullptr);

// A REST answer's rate-limit facts, from its headers (names in any case) and, for a 429, its
// body {message, retry_after (seconds), global}. Times are clamped to a day.
struct RateLimit {
  std::string bucket;          // X-RateLimit-Bucket, bounded
  int64_t remaining = -1;      // X-RateLimit-Remaining, -1 unknown
  int64_t reset_after_ms = 0;  // X-RateLimit-Reset-After
  bool limited = false;        // the answer was a 429
  bool global = false;         // ... for every route (X-RateLimit-Global or the body)
  int64_t retry_after_ms = 0;  // how long to wait before this route (or all) may go again
};
RateLimit read_rate_limit(int status,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const std::string& body);

// A REST body parsed leniently: invalid UTF-8 and lone surrogate escapes repaired first.
// Discarded JSON (is_discarded()) when it still does not parse.
Json parse_body(const std::string& body);
// A REST error's message ("message" of the body, else "HTTP <status>"), bounded.
std::string error_message(int status, const Json& body);

}  // namespace clawgate::workers::discord
