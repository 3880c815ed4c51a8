// Gateway configuration: OpenClaw's `openclaw.json` key names (JSON with comments), command-line
// flags and environment, resolved into one settings struct with the upstream precedence
// (flag > env > file > default).
// Fails: ConfigError naming the offending key; callers exit 78 (EX_CONFIG). Unknown keys are
// warnings, never errors, so an existing OpenClaw config can be pointed at clawgate.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace clawgate {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kExitConfig = 78;

struct RateLimitSettings {
  int max_attempts = 10;
  int64_t window_ms = 60'000;
  int64_t lockout_ms = 300'000;
  bool exempt_loopback = true;
};

enum class AuthMode { token, password, none };

// messages.queue.mode: what a message does when its session already has a run going.
enum class QueueMode { steer, followup, collect, interrupt };
// messages.queue.drop: what gives when a session's queue is full ("summarize" | "old" | "new").
enum class QueueDrop { summarize, old, newest };
const char* queue_mode_name(QueueMode m);
const char* queue_drop_name(QueueDrop d);

// agents.defaults.maxConcurrent when unset: upstream's max(8, 4 x the CPUs this process may use).
int default_max_concurrent();

// messages.queue and agents.defaults.maxConcurrent: how runs share a session and the agent.
struct QueueSettings {
  static constexpr int64_t kDefaultDebounceMs = 500;  // upstream's built-in quiet window
  static constexpr int64_t kMaxDebounceMs = 600'000;
  static constexpr int kDefaultCap = 20;
  static constexpr int kMaxCap = 1000;
  static constexpr int kMaxConcurrentLimit = 1024;
  static constexpr size_t kMaxChannelKeys = 64;  // entries in byChannel / debounceMsByChannel
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

// `channels.<name>.groups.<chatId | "*">`. Unset fields fall back as wsfront/access.hpp says.
struct GroupEntry {
  std::optional<bool> enabled;
  std::optional<bool> require_mention;
  std::optional<std::string> group_policy;             // overrides the channel's groupPolicy
  std::optional<std::vector<std::string>> allow_from;  // replaces groupAllowFrom in this group
};

// One `channels.<name>` section. Only channels with a worker in this build are listed.
// Sender lists hold sender ids exactly as the channel reports them (Telegram: numeric user ids,
// "telegram:"/"tg:" prefixes stripped) or "*"; other entries are kept but never match.
struct ChannelSettings {
  std::string name;  // "telegram"
  std::string account_id = "default";
  bool enabled = true;
  std::string dm_policy = "pairing";  // pairing | allowlist | open | disabled
  std::vector<std::string> allow_from;
  std::string group_policy = "allowlist";                    // allowlist | open | disabled
  std::optional<std::vector<std::string>> group_allow_from;  // unset: allowFrom
  std::map<std::string, GroupEntry> groups;                  // chat id or "*"
  // historyLimit: unaddressed group messages shown to the agent as context on a turn (0: none).
  int history_limit = 50;
  std::string section_json;  // the whole section: handed to the worker, compared on reload
};

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
  std::string agent_config_json = "{}";   // {"agents": ..., "models": ...} for the agent worker
  std::string dm_scope = "main";      // session.dmScope: main | per-peer | per-channel-peer | ...
  QueueSettings queue;                // messages.queue.*, agents.defaults.maxConcurrent
  std::vector<std::string> warnings;  // unknown keys and other non-fatal findings
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

// Parses config text (JSON with comments) into settings; `path` is used in messages only.
void apply_config_text(const std::string& text, const std::string& path, GatewaySettings& out,
                       std::string* token_from_file, std::string* password_from_file);

std::string resolve_state_dir(const Environment& env);

// Credentials go to `url` (a Bot API root, a model provider's baseUrl): plain http:// is
// accepted for loopback hosts only, unless the operator set `allow_key` (a clawgate key named
// dangerouslyAllowInsecureHttp). Throws ConfigError naming `key` otherwise.
void require_secure_url(const std::string& url, const std::string& key, bool allowed_insecure,
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
// Every environment variable the agent section ({"agents", "models"} JSON) may read a key from.
std::vector<std::string> provider_key_variables(const std::string& agent_config_json);

std::string resolve_bind_address(const std::string& bind);  // loopback|lan|<addr>

}  // namespace clawgate
