// Gateway configuration: see config.hpp. The keys are read by the generated parser
// (cfg::parse_config); this file adds what spans keys or sources: credentials never in clear,
// channel sections as accounts (channel_config.cpp), and the environment's and flags' overrides.
#include "config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "channel_config.hpp"
#include "channel_kinds.hpp"
#include "fs.hpp"
#include "net.hpp"
#include "utf8.hpp"

extern char** environ;

namespace clawgate {
namespace {

using Json = nlohmann::json;
using cfg::Issue;

std::optional<std::string> env_get(const Environment& env, const char* key) {
  auto it = env.find(key);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// A decimal integer in [lo, hi], digits only (no sign, spaces or suffix), checked before it
// is converted.
std::optional<int64_t> parse_bounded(const std::string& s, int64_t lo, int64_t hi) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int64_t v = std::stoll(s);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::string file_label(const std::string& path) {
  return path.empty() ? std::string("config") : path;
}

std::string lower_ascii(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Channel ids upstream's messages.queue.byChannel knows.
const std::set<std::string> kQueueChannels = {"whatsapp",   "telegram", "discord",    "irc",
                                              "googlechat", "slack",    "mattermost", "signal",
                                              "imessage",   "msteams",  "webchat",    "matrix"};

// The schema admits only the four names.
QueueMode queue_mode_of(const std::string& m) {
  return m == "followup"    ? QueueMode::followup
         : m == "collect"   ? QueueMode::collect
         : m == "interrupt" ? QueueMode::interrupt
                            : QueueMode::steer;
}

// Per-channel keys upstream does not know are kept (they match nothing) but reported.
template <class T>
void warn_unknown_channels(const std::map<std::string, T>& m, const std::string& base,
                           cfg::Issues& is) {
  for (const auto& [ch, _] : m)
    if (!kQueueChannels.count(ch))
      is.add(
          Issue::Kind::warning, base + "." + cfg::render_key(ch),
          "unknown channel " + cfg::quote_text(utf8::preview(ch, 48)) + ": it matches no message");
}

// messages.queue and agents.defaults.maxConcurrent as the lanes take them.
QueueSettings queue_settings(const cfg::Config& c, cfg::Issues& is) {
  const cfg::MessagesQueue& q = c.messages.queue;
  QueueSettings out;
  out.mode = queue_mode_of(q.mode);
  for (const auto& [ch, m] : q.by_channel) out.by_channel[ch] = queue_mode_of(m);
  for (const auto& [ch, ms] : q.debounce_ms_by_channel) out.debounce_ms_by_channel[ch] = ms;
  out.cap = q.cap;
  out.drop = q.drop == "old"   ? QueueDrop::old
             : q.drop == "new" ? QueueDrop::newest
                               : QueueDrop::summarize;
  out.max_concurrent = c.agents.defaults.max_concurrent.value_or(default_max_concurrent());
  warn_unknown_channels(q.by_channel, "messages.queue.byChannel", is);
  warn_unknown_channels(q.debounce_ms_by_channel, "messages.queue.debounceMsByChannel", is);
  return out;
}

HistorySettings history_settings(const cfg::Config& c) {
  const cfg::AgentsDefaults& d = c.agents.defaults;
  HistorySettings out;
  out.reply_tokens = d.max_tokens;
  out.compaction_enabled = d.compaction.enabled;
  out.keep_recent_tokens = d.compaction.keep_recent_tokens;
  // At most a day, as a run's timeoutSeconds: the milliseconds then fit a uint32 on the link.
  out.compaction_timeout_ms = std::min<int64_t>(d.compaction.timeout_seconds, 86'400) * 1000;
  if (!d.model || !d.model->primary) return out;
  const std::string& ref = *d.model->primary;
  const size_t slash = ref.find('/');
  if (slash == std::string::npos) return out;
  const auto p = c.models.providers.find(ref.substr(0, slash));
  if (p == c.models.providers.end() || !p->second.models) return out;
  for (const cfg::ProviderModel& m : *p->second.models) {
    if (!m.id || *m.id != ref.substr(slash + 1)) continue;
    // contextTokens is the working budget when set (upstream: an effective cap below the
    // native window); the schema bounds both to [1, 1e9], so the cast is exact enough.
    if (m.context_window) out.context_window = static_cast<int64_t>(*m.context_window);
    if (m.context_tokens)
      out.context_window = std::min<int64_t>(out.context_window, *m.context_tokens);
    out.context_window = std::max<int64_t>(out.context_window, 1);
    break;
  }
  return out;
}

// Settings from a checked file: the typed keys, plus the checks that span keys. Adds its
// findings to file.issues.
void settings_from(ConfigFile& file, GatewaySettings& s) {
  const cfg::Config& c = file.config;
  cfg::Issues& is = file.issues;
  s.config = c;
  s.port = c.gateway.port;
  s.bind_address = resolve_bind_address(c.gateway.bind == "custom" ? "" : c.gateway.bind);
  if (c.gateway.auth.mode) {
    const std::string& m = *c.gateway.auth.mode;
    s.auth_mode = m == "password" ? AuthMode::password
                  : m == "none"   ? AuthMode::none
                                  : AuthMode::token;
  }
  s.rate_limit = c.gateway.auth.rate_limit;
  s.allowed_origins = c.gateway.control_ui.allowed_origins;
  s.trusted_proxies = c.gateway.trusted_proxies;
  s.allow_real_ip_fallback = c.gateway.allow_real_ip_fallback;
  s.dm_scope = c.session.dm_scope;
  s.queue = queue_settings(c, is);
  s.history = history_settings(c);
  // The default depends on the machine: shown at its value in effect.
  s.config.agents.defaults.max_concurrent = s.queue.max_concurrent;
  static const Json kNone = Json::object();
  const Json& root = file.parsed.is_object() ? file.parsed : kNone;
  // Every channel this build runs a worker for, as accounts (channel_config.hpp).
  const Json& channels = root.contains("channels") ? root.at("channels") : kNone;
  for (const ChannelKind& kind : channel_kinds()) {
    const auto section = channels.find(kind.name);
    if (!kind.read || section == channels.end() || !section->is_object()) continue;
    for (auto& a : channel_accounts(kind, *section, c, is)) s.channels.push_back(std::move(a));
  }
  check_webhook_paths(s.channels, is);
  // The agent sections as written, for cron's heartbeat settings (the agent worker is sent
  // its typed part of s.config instead: schema/child_config.json).
  Json agent = Json::object();
  for (const char* k : {"agents", "models"})
    if (root.contains(k)) agent[k] = root[k];
  s.agent_config_json = dump_json(agent);
  // Provider keys travel to baseUrl: never in clear to another host.
  for (const auto& [id, p] : c.models.providers) {
    if (!p.base_url) continue;
    const std::string base = "models.providers." + cfg::render_key(id);
    if (const std::string why = insecure_url_problem(*p.base_url, p.dangerously_allow_insecure_http,
                                                     base + ".dangerouslyAllowInsecureHttp");
        !why.empty())
      is.add(Issue::Kind::error, base + ".baseUrl", why);
  }
}

// Throws the file's errors as one ConfigError (one line each); keeps the rest as warnings.
void take_issues(const ConfigFile& file, GatewaySettings& s) {
  std::string errors;
  for (const auto& i : file.issues.items()) {
    if (i.kind == Issue::Kind::error)
      errors += (errors.empty() ? "" : "\n") + file_label(file.path) + ": " + i.text();
    else if (i.kind == Issue::Kind::unsupported)
      s.warnings.push_back(i.text() + "; ignored");
    else
      s.warnings.push_back(i.text());
  }
  if (file.issues.dropped()) {
    const std::string more = std::to_string(file.issues.dropped()) + " more problems in " +
                             file_label(file.path) + " (clawgate config validate lists them)";
    if (errors.empty())
      s.warnings.push_back(more);
    else
      errors += "\n" + more;
  }
  if (!errors.empty()) throw ConfigError(errors);
}

// The environment's and the flags' settings over the file's (flag > env > file > default),
// mirrored into s.config so `config get` shows what is in effect.
void apply_overrides(GatewaySettings& s, const GatewayFlags& flags, const Environment& env) {
  if (auto v = env_get(env, "OPENCLAW_GATEWAY_PORT")) {
    const auto port = parse_bounded(*v, 0, 65535);
    if (!port) throw ConfigError("OPENCLAW_GATEWAY_PORT must be a port number (0 to 65535)");
    s.port = static_cast<int>(*port);
  }
  if (flags.port) s.port = *flags.port;
  if (s.port < 0 || s.port > 65535) throw ConfigError("port must be between 0 and 65535");
  s.config.gateway.port = s.port;
  if (flags.bind) {
    s.bind_address = resolve_bind_address(*flags.bind);
    s.config.gateway.bind = *flags.bind;
  }

  s.token = s.config.gateway.auth.token.value_or("");
  if (auto v = env_get(env, "CLAWGATE_GATEWAY_TOKEN")) s.token = *v;
  if (auto v = env_get(env, "OPENCLAW_GATEWAY_TOKEN")) s.token = *v;
  if (flags.token) s.token = *flags.token;
  s.password = s.config.gateway.auth.password.value_or("");
  if (auto v = env_get(env, "OPENCLAW_GATEWAY_PASSWORD")) s.password = *v;
  if (flags.password) s.password = *flags.password;
  // Upstream default: password mode when only a password is configured.
  if (!s.password.empty() && s.token.empty() && s.auth_mode == AuthMode::token && !flags.token)
    s.auth_mode = AuthMode::password;
  if (s.auth_mode == AuthMode::password && s.password.empty())
    throw ConfigError(
        "gateway.auth.mode is password but no password is set (--password, "
        "OPENCLAW_GATEWAY_PASSWORD or gateway.auth.password)");
  require_auth_unless_loopback(s, s.bind_address, "bind address");
  if (!s.token.empty()) s.config.gateway.auth.token = s.token;
  if (!s.password.empty()) s.config.gateway.auth.password = s.password;
  s.config.gateway.auth.mode = s.auth_mode == AuthMode::token      ? "token"
                               : s.auth_mode == AuthMode::password ? "password"
                                                                   : "none";

  s.state_dir = resolve_state_dir(env);
  // Upstream's isCanvasHostEnabled: the plugin entry and host.enabled, and the environment's
  // OPENCLAW_SKIP_CANVAS_HOST (true, 1, yes or on) over both.
  const auto& canvas = s.config.plugins.entries.canvas;
  s.canvas_host = canvas.enabled && canvas.config.host.enabled;
  if (auto v = env_get(env, "OPENCLAW_SKIP_CANVAS_HOST")) {
    const std::string skip = lower_ascii(std::string(utf8::trim(*v)));
    if (skip == "true" || skip == "1" || skip == "yes" || skip == "on") s.canvas_host = false;
  }
  // Timers: at least 10 ms / 100 ms, at most a day.
  if (auto v = env_get(env, "CLAWGATE_TICK_INTERVAL_MS")) {
    const auto ms = parse_bounded(*v, 0, 86'400'000);
    if (!ms) throw ConfigError("CLAWGATE_TICK_INTERVAL_MS must be milliseconds (0 to 86400000)");
    s.tick_interval_ms = std::max<int64_t>(10, *ms);
  }
  if (auto v = env_get(env, "OPENCLAW_HANDSHAKE_TIMEOUT_MS")) {
    const auto ms = parse_bounded(*v, 0, 86'400'000);
    if (!ms)
      throw ConfigError("OPENCLAW_HANDSHAKE_TIMEOUT_MS must be milliseconds (0 to 86400000)");
    s.handshake_timeout_ms = std::max<int64_t>(100, *ms);
  }
}

enum class ReadResult { ok, missing, not_regular, too_large, failed };

// Reads a regular file of at most `max` bytes into `out` (on failure: the reason). A FIFO or
// a device (--config /dev/zero) is refused before anything is read.
ReadResult read_bounded(const std::string& path, size_t max, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return ReadResult::missing;
    out = std::strerror(errno);
    return ReadResult::failed;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return ReadResult::not_regular;
  }
  if (static_cast<uint64_t>(st.st_size) > max) {
    ::close(fd);
    return ReadResult::too_large;
  }
  out.clear();
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out = std::strerror(errno);
      ::close(fd);
      return ReadResult::failed;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max) {  // it grew while we read
      ::close(fd);
      return ReadResult::too_large;
    }
  }
  ::close(fd);
  return ReadResult::ok;
}

}  // namespace

ConfigFile check_config_text(std::string text, const std::string& path) {
  ConfigFile f;
  f.path = path;
  f.exists = true;
  f.raw = std::move(text);
  if (f.raw.size() > kMaxConfigBytes) {
    f.parsed = nullptr;
    f.issues.add(Issue::Kind::error, "",
                 "larger than " + std::to_string(kMaxConfigBytes >> 20) + " MiB; not read");
    return f;
  }
  // The parser itself is iterative; the depth is bounded for everything that walks the result
  // recursively afterwards (dump, redaction, the effective config).
  int depth = 0;
  const Json::parser_callback_t track = [&depth](int d, Json::parse_event_t, Json&) {
    depth = std::max(depth, d);
    return true;
  };
  try {
    f.parsed = Json::parse(f.raw, track, true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for 1e999
    f.parsed = nullptr;
    f.issues.add(Issue::Kind::error, "", std::string("not valid JSON: ") + e.what());
    return f;
  }
  if (depth > kMaxConfigDepth) {
    f.parsed = nullptr;
    f.issues.add(Issue::Kind::error, "",
                 "nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
    return f;
  }
  if (!f.parsed.is_object()) {
    f.issues.add(Issue::Kind::error, "", "must be a JSON object" + cfg::got(f.parsed));
    f.parsed = Json::object();
    return f;
  }
  f.config = cfg::parse_config(f.parsed, f.issues);
  return f;
}

ConfigFile read_config_file(const std::string& path) {
  ConfigFile f;
  f.path = path;
  f.parsed = nullptr;
  std::string text;
  switch (read_bounded(path, kMaxConfigBytes, text)) {
    case ReadResult::ok:
      return check_config_text(std::move(text), path);
    case ReadResult::missing:
      f.issues.add(Issue::Kind::error, "", "config file not found");
      return f;
    case ReadResult::not_regular:
      f.exists = true;
      f.issues.add(Issue::Kind::error, "", "not a regular file");
      return f;
    case ReadResult::too_large:
      f.exists = true;
      f.issues.add(Issue::Kind::error, "",
                   "larger than " + std::to_string(kMaxConfigBytes >> 20) + " MiB; not read");
      return f;
    case ReadResult::failed:
      break;
  }
  f.exists = true;
  f.issues.add(Issue::Kind::error, "", "cannot read the config file: " + text);
  return f;
}

const char* queue_mode_name(QueueMode m) {
  switch (m) {
    case QueueMode::steer:
      return "steer";
    case QueueMode::followup:
      return "followup";
    case QueueMode::collect:
      return "collect";
    case QueueMode::interrupt:
      return "interrupt";
  }
  return "steer";
}

const char* queue_drop_name(QueueDrop d) {
  switch (d) {
    case QueueDrop::summarize:
      return "summarize";
    case QueueDrop::old:
      return "old";
    case QueueDrop::newest:
      return "new";
  }
  return "summarize";
}

int default_max_concurrent() {
  // hardware_concurrency() may say 0 (unknown): then the floor of 8 holds.
  const unsigned cpus = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(cpus * 4, 8, QueueSettings::kMaxConcurrentLimit));
}

QueueMode QueueSettings::mode_for(const std::string& channel) const {
  auto it = by_channel.find(channel);
  return it == by_channel.end() ? mode : it->second;
}

int64_t QueueSettings::debounce_ms_for(const std::string& channel) const {
  auto it = debounce_ms_by_channel.find(channel);
  return it == debounce_ms_by_channel.end() ? kDefaultDebounceMs : it->second;
}

Environment current_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

const ChannelSettings* find_account(const std::vector<ChannelSettings>& channels,
                                    const std::string& channel, const std::string& account_id) {
  for (const auto& c : channels) {
    if (c.name != channel) continue;
    if (c.account_id == (account_id.empty() ? c.default_account_id : account_id)) return &c;
  }
  return nullptr;
}

std::string worker_name(const ChannelSettings& c) {
  return c.account_id == "default" ? c.name : c.name + ":" + c.account_id;
}

std::string resolve_bind_address(const std::string& bind) {
  if (bind == "loopback" || bind.empty()) return "127.0.0.1";
  if (bind == "lan") return "0.0.0.0";
  unsigned char buf[16];
  if (inet_pton(AF_INET, bind.c_str(), buf) == 1 || inet_pton(AF_INET6, bind.c_str(), buf) == 1)
    return bind;
  throw ConfigError("bind must be loopback, lan or an IP address (got " +
                    cfg::quote_text(utf8::preview(utf8::repair(bind), 48)) + ")");
}

std::string insecure_url_problem(const std::string& url, bool allowed_insecure,
                                 const std::string& allow_key) {
  if (url.rfind("http://", 0) != 0 || allowed_insecure) return "";
  std::string authority = url.substr(7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  if (is_local_host(authority)) return "";
  const std::string host = cfg::quote_text(utf8::preview(split_host_port(authority).host, 64));
  return "plain http:// to " + host +
         " would send credentials in clear; use https:// (http:// is accepted for loopback "
         "hosts only, or set " +
         allow_key + ": true)";
}

void require_secure_url(const std::string& url, const std::string& key, bool allowed_insecure,
                        const std::string& allow_key) {
  if (const std::string why = insecure_url_problem(url, allowed_insecure, allow_key); !why.empty())
    throw ConfigError(key + ": " + why);
}

std::string resolve_state_dir(const Environment& env) {
  if (auto v = env_get(env, "CLAWGATE_STATE_DIR")) return *v;
  if (auto v = env_get(env, "STATE_DIRECTORY")) {
    // systemd may pass several colon-separated directories; the first is ours.
    return v->substr(0, v->find(':'));
  }
  if (auto v = env_get(env, "HOME")) return *v + "/.local/state/clawgate";
  throw ConfigError("cannot find a state directory: set CLAWGATE_STATE_DIR or HOME");
}

std::optional<std::string> key_reference(const std::string& v) {
  if (v.size() > 3 && v.rfind("${", 0) == 0 && v.back() == '}') return v.substr(2, v.size() - 3);
  return std::nullopt;
}

std::string provider_key_variable(const std::string& provider_id) {
  std::string s = provider_id;
  for (char& c : s)
    c = static_cast<char>(c == '-' ? '_' : std::toupper(static_cast<unsigned char>(c)));
  return s + "_API_KEY";
}

std::vector<std::string> provider_key_variables(const cfg::Config& config) {
  std::set<std::string> names, with_key;
  for (const auto& [id, prov] : config.models.providers) {
    if (prov.api_key && !prov.api_key->empty()) {
      with_key.insert(id);
      if (auto ref = key_reference(*prov.api_key)) names.insert(*ref);
    } else {
      names.insert(provider_key_variable(id));
    }
  }
  // The default model's provider may have no section at all: its key comes from <ID>_API_KEY.
  const auto& model = config.agents.defaults.model;
  if (model && model->primary) {
    const std::string& ref = *model->primary;
    const size_t slash = ref.find('/');
    if (slash != std::string::npos && slash > 0 && !with_key.count(ref.substr(0, slash)))
      names.insert(provider_key_variable(ref.substr(0, slash)));
  }
  return {names.begin(), names.end()};
}

void apply_config_text(const std::string& text, const std::string& path, GatewaySettings& out,
                       std::string* token_from_file, std::string* password_from_file) {
  auto file = std::make_shared<ConfigFile>(check_config_text(text, path));
  if (!file->issues.has_errors()) settings_from(*file, out);
  take_issues(*file, out);
  if (token_from_file) *token_from_file = out.config.gateway.auth.token.value_or("");
  if (password_from_file) *password_from_file = out.config.gateway.auth.password.value_or("");
  out.config_path = path;
  out.file = std::move(file);
}

std::optional<std::string> config_path_for(const GatewayFlags& flags, const Environment& env) {
  if (flags.config_path) return flags.config_path;
  if (auto v = env_get(env, "CLAWGATE_CONFIG_PATH")) return v;
  return env_get(env, "OPENCLAW_CONFIG_PATH");
}

namespace {

GatewaySettings settings_with(std::shared_ptr<ConfigFile> file, const GatewayFlags& flags,
                              const Environment& env) {
  GatewaySettings s;
  if (file) {
    if (!file->issues.has_errors()) settings_from(*file, s);
    take_issues(*file, s);
    s.config_path = file->path;
    s.file = std::move(file);
  }
  apply_overrides(s, flags, env);
  return s;
}

}  // namespace

GatewaySettings resolve_gateway_settings(const GatewayFlags& flags, const Environment& env) {
  const auto path = config_path_for(flags, env);
  return settings_with(path ? std::make_shared<ConfigFile>(read_config_file(*path)) : nullptr,
                       flags, env);
}

GatewaySettings resolve_gateway_settings(const GatewayFlags& flags, const Environment& env,
                                         std::string text, const std::string& path) {
  return settings_with(std::make_shared<ConfigFile>(check_config_text(std::move(text), path)),
                       flags, env);
}

ConfigFile validate_config_file(const std::string& path, const Environment& env) {
  ConfigFile file = read_config_file(path);
  if (file.issues.has_errors()) return file;
  GatewaySettings s;
  settings_from(file, s);
  if (file.issues.has_errors()) return file;
  try {
    apply_overrides(s, GatewayFlags{}, env);
  } catch (const ConfigError& e) {
    file.issues.add(Issue::Kind::error, "", e.what());
  }
  return file;
}

void require_auth_unless_loopback(const GatewaySettings& s, const std::string& bound_address,
                                  const std::string& source) {
  if (s.auth_mode != AuthMode::none || is_loopback_ip(bound_address)) return;
  throw ConfigError("gateway.auth.mode none is only allowed on a loopback socket (" + source +
                    " is " + (bound_address.empty() ? std::string("unknown") : bound_address) +
                    "): set gateway.auth.mode to token or password");
}

}  // namespace clawgate
