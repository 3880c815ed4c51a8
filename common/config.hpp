// Gateway configuration: OpenClaw's `openclaw.json` (JSON with comments) read once by the
// parser generated from schema/config.schema.json (config_gen.hpp: typed structs, every key's
// path in every message), then command-line flags and environment, resolved into one settings
// struct with the upstream precedence (flag > env > file > default).
// Fails: ConfigError naming the file and each offending key path; callers exit 78 (EX_CONFIG).
// Unknown keys are warnings, never errors, so an existing OpenClaw config can be pointed at
// clawgate; `clawgate config validate` reports them as errors, as OpenClaw does.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config_gen.hpp"

namespace clawgate {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kExitConfig = 78;
inline constexpr size_t kMaxConfigBytes = 1 << 20;  // a larger file is refused unread
inline constexpr int kMaxConfigDepth = 64;          // JSON nesting; deeper is refused

// One config file, read and checked against the schema. Nothing is thrown for its content:
// every problem (not JSON, too large, a bad key) is an issue with its key path.
struct ConfigFile {
  std::string path;  // "" when running without a file
  bool exists = false;
  std::string raw;                         // the text as read
  cfg::Json parsed = cfg::Json::object();  // the file as JSON; null when it is not JSON
  cfg::Config config;                      // typed, defaults filled in
  cfg::Issues issues;                      // the schema's findings, then the cross-key checks'
};

// `path` names the file in messages only.
ConfigFile check_config_text(std::string text, const std::string& path);
ConfigFile read_config_file(const std::string& path);  // a missing file is an error issue

// gateway.auth.rateLimit, as the schema declares it (maxAttempts, windowMs, lockoutMs,
// exemptLoopback).
using RateLimitSettings = cfg::GatewayAuthRateLimit;

enum class AuthMode { token, password, none };

// messages.queue.mode: what a message does when its session already has a run going.
enum class QueueMode { steer, followup, collect, interrupt };
// messages.queue.drop: what gives when a session's queue is full ("summarize" | "old" | "new").
enum class QueueDrop { summarize, old, newest };
const char* queue_mode_name(QueueMode m);
const char* queue_drop_name(QueueDrop d);

// agents.defaults.maxConcurrent when unset: upstream's max(8, 4 x the CPUs this process may use).
int default_max_concurrent();

// messages.queue and agents.defaults.maxConcurrent as the lanes use them (core/lanes.hpp): the
// schema's keys (cfg::MessagesQueue, cfg::AgentsDefaults::max_concurrent) with the enums
// decoded and the defaults filled in.
struct QueueSettings {
  static constexpr int64_t kDefaultDebounceMs = 500;  // upstream's built-in quiet window
  static constexpr int kDefaultCap = 20;              // = the schema's messages.queue.cap default
  static constexpr int kMaxCap = 1000;                // = its maximum
  // = the schema's agents.defaults.maxConcurrent maximum; also the default's ceiling.
  static constexpr int kMaxConcurrentLimit = 1024;
  // Cron and heartbeat runs at once, besides max_concurrent (upstream's cron lane, built in).
  static constexpr size_t kBackgroundRuns = 8;
  QueueMode mode = QueueMode::steer;
  std::map<std::string, QueueMode> by_channel;            // messages.queue.byChannel
  std::map<std::string, int64_t> debounce_ms_by_channel;  // messages.queue.debounceMsByChannel
  int cap = kDefaultCap;                                  // queued messages per session
  QueueDrop drop = QueueDrop::summarize;
  int max_concurrent = default_max_concurrent();  // runs across sessions (cron aside)

  // The mode and quiet window for a message from `channel` ("" for none): the channel's
  // override, else the global value.
  QueueMode mode_for(const std::string& channel) const;
  int64_t debounce_ms_for(const std::string& channel) const;
};

// How much history a turn sends the model and when it is compacted (core/history.hpp): the
// default model's window, models.providers.<id>.models[].contextTokens, else .contextWindow,
// else upstream's default; the reply's budget (agents.defaults.maxTokens); and
// agents.defaults.compaction.*.
struct HistorySettings {
  static constexpr int64_t kDefaultContextWindow = 200'000;  // upstream's DEFAULT_CONTEXT_TOKENS
  int64_t context_window = kDefaultContextWindow;            // tokens
  int64_t reply_tokens = 4096;
  bool compaction_enabled = true;
  int64_t keep_recent_tokens = 20'000;
  int64_t compaction_timeout_ms = 180'000;
};
HistorySettings history_settings(const cfg::Config& c);

// One entry of a channel's group map, as the front applies it (core/access.hpp): a chat
// (Telegram `groups.<chatId>`, Slack `channels.<channelId>`) or a group of chats (Discord
// `guilds.<guildId>`), keyed by id or "*". Unset fields fall back as access.hpp says.
struct GroupChannelEntry {      // one chat of a group: Discord guilds.<id>.channels.<id | "*">
  std::optional<bool> enabled;  // false: the bot is silent there
  std::optional<bool> require_mention;
  std::optional<std::vector<std::string>> allow_from;  // users: replaces the group's senders here
};
struct GroupEntry {
  std::optional<bool> enabled;
  std::optional<bool> require_mention;
  std::optional<std::string> group_policy;             // overrides the channel's groupPolicy
  std::optional<std::vector<std::string>> allow_from;  // Telegram allowFrom; Discord, Slack users
  std::optional<std::vector<std::string>> roles;       // Discord: role ids that may also trigger
  std::optional<bool> allow_bots;                      // Slack: other bots' messages here
  // Discord: the guild's channels by id, or "*". Non-empty: only these channels (a thread falls
  // back to its parent's entry).
  std::map<std::string, GroupChannelEntry> channels;
};

// One account of a `channels.<name>` section: the section itself when it has no `accounts`
// (account "default"), else one per `accounts.<id>` with the root's keys inherited. Only
// channels with a worker in this build are listed (the kind table, channel_kinds.hpp; each
// kind's reader fills the fields below from its section, common/channel_config.cpp).
// Sender lists hold sender ids exactly as the channel reports them (Telegram: numeric user ids,
// "telegram:"/"tg:" prefixes stripped) or "*"; other entries are kept but never match.
struct ChannelSettings {
  std::string name;                    // "telegram"
  std::string account_id = "default";  // [a-z0-9][a-z0-9_-]{0,63} (checked by the schema)
  // The channel's default account (defaultAccount, else "default", else the first id): the one
  // that sends when a send or a delivery names no account. The same in every account's entry.
  std::string default_account_id = "default";
  bool enabled = true;
  std::string dm_policy = "pairing";  // pairing | allowlist | open | disabled
  std::vector<std::string> allow_from;
  std::string group_policy = "allowlist";                    // allowlist | open | disabled
  std::optional<std::vector<std::string>> group_allow_from;  // unset: allowFrom
  std::map<std::string, GroupEntry> groups;                  // chat (or guild) id, or "*"
  // How `groups` is keyed: by the chat (Telegram, Slack), or by the group a chat belongs to
  // (Discord: guilds, each with its channels). The key's name, for messages: "groups", "guilds".
  bool groups_by_group_id = false;
  std::string groups_key = "groups";
  // In an allowlisted group without a sender list of its own: true, the channel's
  // groupAllowFrom, else allowFrom, decides (Telegram); false, every member may (Discord).
  bool group_senders_from_allow_from = true;
  // Messages other bots write: "off" (ignored), "on", or "mentions" (only those that address this
  // bot). The bot's own messages never reach the front.
  std::string allow_bots = "off";
  // historyLimit: unaddressed group messages shown to the agent as context on a turn (0: none).
  int history_limit = 50;
  // Slack HTTP mode (channels.slack.mode "http"): the path on the gateway port where the front
  // takes this account's signed events and hands them to its worker; "" for every other account.
  std::string webhook_path;
  // The account's section (the root merged with the account, without `accounts`), as the
  // typed settings in JSON: what its worker is sent of it (schema/child_config.json, built by
  // ipc::ReloadMessage::channel), compared on reload.
  cfg::Json section = cfg::Json::object();
};

// The settings of `account_id` on `channel` ("" for the channel's default account), or null
// when no such account is configured.
const ChannelSettings* find_account(const std::vector<ChannelSettings>& channels,
                                    const std::string& channel, const std::string& account_id);
// The child process that runs an account's worker: "telegram" for the account named default,
// "telegram:<id>" for any other.
std::string worker_name(const ChannelSettings& c);

struct GatewaySettings {
  int port = 18789;
  std::string bind_address = "127.0.0.1";
  AuthMode auth_mode = AuthMode::token;
  std::string token;     // empty: generate one in the state dir
  std::string password;  // required when auth_mode == password
  RateLimitSettings rate_limit;
  std::vector<std::string> allowed_origins;  // gateway.controlUi.allowedOrigins
  // gateway.trustedProxies: peers (IPs or CIDRs) whose X-Forwarded-For names the client.
  std::vector<std::string> trusted_proxies;
  bool allow_real_ip_fallback = false;  // gateway.allowRealIpFallback: X-Real-IP without XFF
  std::string config_path;              // "" when running without a file
  std::string state_dir;
  int64_t tick_interval_ms = 30'000;
  int64_t handshake_timeout_ms = 15'000;
  std::vector<ChannelSettings> channels;  // enabled or not, in config order
  std::string agent_config_json = "{}";   // {"agents": ..., "models": ...} as written (cron)
  std::string dm_scope = "main";  // session.dmScope: main | per-peer | per-channel-peer | ...
  QueueSettings queue;            // messages.queue.*, agents.defaults.maxConcurrent
  HistorySettings history;        // the model's window, agents.defaults.compaction.*
  // The canvas host in the front (plugins.entries.canvas.enabled and .config.host.enabled, off
  // with OPENCLAW_SKIP_CANVAS_HOST=1); it serves <state_dir>/canvas.
  bool canvas_host = true;
  std::vector<std::string> warnings;  // unknown keys and other non-fatal findings
  // Every key as typed settings, with the environment's and the flags' overrides applied
  // (gateway.port, gateway.bind, gateway.auth.*): what `config get` and config.get show.
  cfg::Config config;
  std::shared_ptr<const ConfigFile> file;  // null when running without a file
};

// What the command line said; unset fields fall through to env, file, default.
struct GatewayFlags {
  std::optional<int> port;
  std::optional<std::string> bind;
  std::optional<std::string> token;
  std::optional<std::string> password;
  std::optional<std::string> config_path;
};

using Environment = std::map<std::string, std::string>;
Environment current_environment();

// Resolves settings. Does not touch the filesystem except to read the config file.
GatewaySettings resolve_gateway_settings(const GatewayFlags& flags, const Environment& env);
// The same from config text the caller has (the front's redacted copy); `path` names it in
// messages and config.get. Touches no file.
GatewaySettings resolve_gateway_settings(const GatewayFlags& flags, const Environment& env,
                                         std::string text, const std::string& path);

// Parses config text (JSON with comments) into settings; `path` is used in messages only.
// Throws ConfigError listing every error; warnings go to out.warnings.
void apply_config_text(const std::string& text, const std::string& path, GatewaySettings& out,
                       std::string* token_from_file, std::string* password_from_file);

// What `clawgate config validate` reports for one file: the schema's issues, the checks that
// span keys (credentials over plain http://), and what the gateway would refuse at start in
// this environment (auth mode none on a non-loopback bind, password mode with no password).
ConfigFile validate_config_file(const std::string& path, const Environment& env);
// The config file the gateway reads: --config, else $CLAWGATE_CONFIG_PATH, else
// $OPENCLAW_CONFIG_PATH; nullopt when none is named.
std::optional<std::string> config_path_for(const GatewayFlags& flags, const Environment& env);

std::string resolve_state_dir(const Environment& env);

// Credentials go to `url` (a Bot API root, a model provider's baseUrl): plain http:// is
// accepted for loopback hosts only, unless the operator set `allow_key` (a clawgate key named
// dangerouslyAllowInsecureHttp). Throws ConfigError naming `key` otherwise.
void require_secure_url(const std::string& url, const std::string& key, bool allowed_insecure,
                        const std::string& allow_key);
// The same check as a message ("" when the url is fine), for the config's issue list.
std::string insecure_url_problem(const std::string& url, bool allowed_insecure,
                                 const std::string& allow_key);

// gateway.auth.mode none is served only on a loopback socket. `bound_address` is the address
// the listening socket really has (bound here, or handed over by systemd or the supervisor);
// `source` says where it came from, for the message. Throws ConfigError naming the key.
void require_auth_unless_loopback(const GatewaySettings& s, const std::string& bound_address,
                                  const std::string& source);

// Model provider keys: "${NAME}" in models.providers.<id>.apiKey names an environment variable;
// without an apiKey, <ID>_API_KEY is read (dashes become underscores).
std::optional<std::string> key_reference(const std::string& api_key);
std::string provider_key_variable(const std::string& provider_id);
// Every environment variable the agent worker may read a key from (models.providers and the
// default model's provider).
std::vector<std::string> provider_key_variables(const cfg::Config& config);

std::string resolve_bind_address(const std::string& bind);  // loopback|lan|<addr>

}  // namespace clawgate
