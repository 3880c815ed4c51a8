// Gateway configuration: see config.hpp.
#include "config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "fs.hpp"
#include "net.hpp"

extern char** environ;

namespace clawgate {
namespace {

using Json = nlohmann::json;

// Top-level sections OpenClaw knows. Sections clawgate does not implement yet are accepted
// silently; anything else is reported as an unknown key.
const std::set<std::string> kKnownSections = {
    "gateway",     "channels", "agents",   "session",   "models",    "logging", "cron",
    "hooks",       "messages", "commands", "tools",     "skills",    "plugins", "browser",
    "canvasHost",  "talk",     "ui",       "wizard",    "meta",      "auth",    "env",
    "diagnostics", "update",   "web",      "discovery", "broadcast", "audio",   "media",
    "approvals",   "bindings", "secrets",  "memory",    "nodeHost",  "$schema"};

std::string where(const std::string& path, const std::string& key) {
  return (path.empty() ? std::string("config") : path) + ": " + key;
}

int get_port(const Json& v, const std::string& path, const std::string& key) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 65535)
    throw ConfigError(where(path, key) + " must be an integer port between 0 and 65535");
  return v.get<int>();
}

std::string get_string(const Json& v, const std::string& path, const std::string& key) {
  if (!v.is_string()) throw ConfigError(where(path, key) + " must be a string");
  return v.get<std::string>();
}

int64_t get_positive(const Json& v, const std::string& path, const std::string& key) {
  if (!v.is_number_integer() || v.get<int64_t>() < 1)
    throw ConfigError(where(path, key) + " must be a positive integer");
  return v.get<int64_t>();
}

bool get_bool(const Json& v, const std::string& path, const std::string& key) {
  if (!v.is_boolean()) throw ConfigError(where(path, key) + " must be true or false");
  return v.get<bool>();
}

void require_object(const Json& v, const std::string& path, const std::string& key) {
  if (!v.is_object()) throw ConfigError(where(path, key) + " must be an object");
}

AuthMode parse_auth_mode(const std::string& s, const std::string& path) {
  if (s == "token") return AuthMode::token;
  if (s == "password") return AuthMode::password;
  if (s == "none") return AuthMode::none;
  throw ConfigError(where(path, "gateway.auth.mode") +
                    " must be one of token, password, none (got \"" + s + "\")");
}

std::optional<std::string> env_get(const Environment& env, const char* key) {
  auto it = env.find(key);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

const std::set<std::string> kDmPolicies = {"pairing", "allowlist", "open", "disabled"};
const std::set<std::string> kDmScopes = {"main", "per-peer", "per-channel-peer",
                                         "per-account-channel-peer"};
// Channels OpenClaw has that this build has no worker for yet: accepted with a warning.
const std::set<std::string> kOtherChannels = {"whatsapp", "discord", "slack",      "signal",
                                              "imessage", "webchat", "googlechat", "msteams"};

const std::set<std::string> kGroupPolicies = {"allowlist", "open", "disabled"};

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A Telegram sender list (allowFrom, groupAllowFrom, groups.*.allowFrom): numeric user ids or
// "*". "telegram:"/"tg:" prefixes are stripped. Anything else (an @username, a chat id) is kept
// so the list still counts as configured, but it never matches: a username can change hands.
std::vector<std::string> parse_sender_list(const Json& v, const std::string& path,
                                           const std::string& k,
                                           std::vector<std::string>& warnings) {
  if (!v.is_array()) throw ConfigError(where(path, k) + " must be an array");
  std::vector<std::string> out;
  for (const auto& e : v) {
    std::string id =
        e.is_number_integer() ? std::to_string(e.get<int64_t>()) : get_string(e, path, k);
    while (!id.empty() && id.back() == ' ') id.pop_back();
    while (!id.empty() && id.front() == ' ') id.erase(0, 1);
    std::string lower = id;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    for (const char* prefix : {"telegram:", "tg:"})
      if (lower.rfind(prefix, 0) == 0) {
        id = id.substr(std::string(prefix).size());
        break;
      }
    if (id != "*" && !all_digits(id)) {
      if (id.rfind('-', 0) == 0 && all_digits(id.substr(1)))
        warnings.push_back(k + ": \"" + id +
                           "\" is a group chat id; it never matches a sender (allow groups under "
                           "channels.telegram.groups)");
      else
        warnings.push_back(
            k + ": \"" + id +
            "\" is not a numeric Telegram user id and never matches (usernames can "
            "change hands; use the numeric id from the pairing reply or getUpdates)");
    }
    out.push_back(id);
  }
  return out;
}

std::string parse_group_policy(const Json& v, const std::string& path, const std::string& k) {
  std::string p = get_string(v, path, k);
  if (!kGroupPolicies.count(p))
    throw ConfigError(where(path, k) + " must be one of allowlist, open, disabled");
  return p;
}

GroupEntry parse_group_entry(const Json& v, const std::string& path, const std::string& k,
                             std::vector<std::string>& warnings) {
  require_object(v, path, k);
  GroupEntry g;
  for (auto& [key, x] : v.items()) {
    const std::string kk = k + "." + key;
    if (key == "enabled")
      g.enabled = get_bool(x, path, kk);
    else if (key == "requireMention")
      g.require_mention = get_bool(x, path, kk);
    else if (key == "groupPolicy")
      g.group_policy = parse_group_policy(x, path, kk);
    else if (key == "allowFrom")
      g.allow_from = parse_sender_list(x, path, kk, warnings);
    else
      warnings.push_back("unknown or unsupported config key: " + kk);
  }
  return g;
}

// Who may reach the agent: the keys OpenClaw accepts both at the channel root and per account.
// Returns false for a key that is not one of them.
bool parse_access_key(const std::string& key, const Json& v, const std::string& path,
                      const std::string& k, ChannelSettings& c,
                      std::vector<std::string>& warnings) {
  if (key == "dmPolicy") {
    c.dm_policy = get_string(v, path, k);
    if (!kDmPolicies.count(c.dm_policy))
      throw ConfigError(where(path, k) + " must be one of pairing, allowlist, open, disabled");
  } else if (key == "allowFrom") {
    c.allow_from = parse_sender_list(v, path, k, warnings);
  } else if (key == "groupPolicy") {
    c.group_policy = parse_group_policy(v, path, k);
  } else if (key == "groupAllowFrom") {
    c.group_allow_from = parse_sender_list(v, path, k, warnings);
  } else if (key == "historyLimit") {
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      throw ConfigError(where(path, k) + " must be a non-negative integer");
    // OpenClaw: the JSON integer maximum selects the default; 200 is the hard ceiling.
    const int64_t n = v.get<int64_t>();
    c.history_limit = n == 9007199254740991 ? 50 : static_cast<int>(std::min<int64_t>(n, 200));
  } else if (key == "groups") {
    require_object(v, path, k);
    for (auto& [id, g] : v.items())
      c.groups[id] = parse_group_entry(g, path, k + "." + id, warnings);
  } else {
    return false;
  }
  return true;
}

void parse_telegram(const Json& sec, const std::string& path, ChannelSettings& c,
                    std::vector<std::string>& warnings) {
  const bool insecure_ok = sec.contains("dangerouslyAllowInsecureHttp") &&
                           get_bool(sec["dangerouslyAllowInsecureHttp"], path,
                                    "channels.telegram.dangerouslyAllowInsecureHttp");
  for (auto& [key, v] : sec.items()) {
    const std::string k = "channels.telegram." + key;
    if (parse_access_key(key, v, path, k, c, warnings)) continue;
    if (key == "enabled") {
      c.enabled = get_bool(v, path, k);
    } else if (key == "botToken" || key == "tokenFile") {
      get_string(v, path, k);
    } else if (key == "apiRoot") {
      const std::string root = get_string(v, path, k);
      if (root.rfind("http://", 0) != 0 && root.rfind("https://", 0) != 0)
        throw ConfigError(where(path, k) + " must start with http:// or https://");
      require_secure_url(root, where(path, k), insecure_ok,
                         "channels.telegram.dangerouslyAllowInsecureHttp");
    } else if (key == "dangerouslyAllowInsecureHttp") {
    } else if (key == "pollTimeoutSeconds") {
      if (get_positive(v, path, k) > 50) throw ConfigError(where(path, k) + " must be 1..50");
    } else if (key == "textChunkLimit") {
      if (get_positive(v, path, k) > 4096) throw ConfigError(where(path, k) + " must be 1..4096");
    } else {
      warnings.push_back("unknown or unsupported config key: " + k);
    }
  }
}

void parse_channels(const Json& root, const std::string& path, GatewaySettings& out) {
  if (root.contains("session")) {
    const Json& se = root["session"];
    require_object(se, path, "session");
    if (se.contains("dmScope")) {
      out.dm_scope = get_string(se["dmScope"], path, "session.dmScope");
      if (!kDmScopes.count(out.dm_scope))
        throw ConfigError(where(path, "session.dmScope") +
                          " must be one of main, per-peer, per-channel-peer, "
                          "per-account-channel-peer");
    }
  }
  if (!root.contains("channels")) return;
  const Json& chs = root["channels"];
  require_object(chs, path, "channels");
  // channels.defaults.groupPolicy: the default for channels that do not set their own.
  std::string default_group_policy = "allowlist";
  if (chs.contains("defaults")) {
    require_object(chs["defaults"], path, "channels.defaults");
    if (chs["defaults"].contains("groupPolicy"))
      default_group_policy =
          parse_group_policy(chs["defaults"]["groupPolicy"], path, "channels.defaults.groupPolicy");
  }
  for (auto& [name, sec] : chs.items()) {
    const std::string k = "channels." + name;
    if (name == "defaults") continue;
    require_object(sec, path, k);
    if (name == "telegram") {
      ChannelSettings c;
      c.name = name;
      c.group_policy = default_group_policy;
      parse_telegram(sec, path, c, out.warnings);
      if (c.dm_policy == "allowlist" && c.allow_from.empty())
        out.warnings.push_back(
            k + ".dmPolicy is allowlist but allowFrom is empty: every DM is refused");
      c.section_json = sec.dump();
      out.channels.push_back(std::move(c));
    } else if (kOtherChannels.count(name)) {
      out.warnings.push_back(k + ": this build has no worker for this channel yet; ignored");
    } else {
      out.warnings.push_back("unknown config key: " + k);
    }
  }
}

// Channel ids upstream's messages.queue.byChannel knows.
const std::set<std::string> kQueueChannels = {"whatsapp",   "telegram", "discord",    "irc",
                                              "googlechat", "slack",    "mattermost", "signal",
                                              "imessage",   "msteams",  "webchat",    "matrix"};

QueueMode parse_queue_mode(const Json& v, const std::string& path, const std::string& k) {
  const std::string m = v.is_string() ? v.get<std::string>() : std::string();
  if (m == "steer") return QueueMode::steer;
  if (m == "followup") return QueueMode::followup;
  if (m == "collect") return QueueMode::collect;
  if (m == "interrupt") return QueueMode::interrupt;
  throw ConfigError(where(path, k) + " must be one of steer, followup, collect, interrupt");
}

// Keys of the per-channel maps: channel ids, bounded; names upstream does not know are kept
// (they match nothing) but reported.
void check_channel_key(const std::string& name, const std::string& path, const std::string& k,
                       size_t count, std::vector<std::string>& warnings) {
  if (count >= QueueSettings::kMaxChannelKeys)
    throw ConfigError(where(path, k) + ": at most " +
                      std::to_string(QueueSettings::kMaxChannelKeys) + " channels");
  if (name.empty() || name.size() > 64)
    throw ConfigError(where(path, k) + ": a channel id is 1 to 64 characters");
  if (!kQueueChannels.count(name)) warnings.push_back("unknown channel in " + k + ": " + name);
}

// messages.queue: the queue mode, its per-channel overrides, the cap and the drop policy.
// agents.defaults.maxConcurrent: runs at once across sessions. Other messages.* keys belong to
// features clawgate does not have and stay silent, as the section always was.
void parse_queue(const Json& root, const std::string& path, GatewaySettings& out) {
  QueueSettings& q = out.queue;
  if (root.contains("agents") && root["agents"].is_object() &&
      root["agents"].contains("defaults") && root["agents"]["defaults"].is_object() &&
      root["agents"]["defaults"].contains("maxConcurrent")) {
    const std::string k = "agents.defaults.maxConcurrent";
    const Json& v = root["agents"]["defaults"]["maxConcurrent"];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 ||
        v.get<int64_t>() > QueueSettings::kMaxConcurrentLimit)
      throw ConfigError(where(path, k) + " must be an integer from 1 to " +
                        std::to_string(QueueSettings::kMaxConcurrentLimit));
    q.max_concurrent = static_cast<int>(v.get<int64_t>());
  }
  if (!root.contains("messages")) return;
  const Json& msgs = root["messages"];
  require_object(msgs, path, "messages");
  if (!msgs.contains("queue")) return;
  const Json& sec = msgs["queue"];
  require_object(sec, path, "messages.queue");
  for (auto& [key, v] : sec.items()) {
    const std::string k = "messages.queue." + key;
    if (key == "mode") {
      q.mode = parse_queue_mode(v, path, k);
    } else if (key == "byChannel") {
      require_object(v, path, k);
      for (auto& [ch, m] : v.items()) {
        check_channel_key(ch, path, k, q.by_channel.size(), out.warnings);
        q.by_channel[ch] = parse_queue_mode(m, path, k + "." + ch);
      }
    } else if (key == "debounceMsByChannel") {
      require_object(v, path, k);
      for (auto& [ch, ms] : v.items()) {
        check_channel_key(ch, path, k, q.debounce_ms_by_channel.size(), out.warnings);
        if (!ms.is_number_integer() || ms.get<int64_t>() < 0 ||
            ms.get<int64_t>() > QueueSettings::kMaxDebounceMs)
          throw ConfigError(where(path, k + "." + ch) + " must be an integer from 0 to " +
                            std::to_string(QueueSettings::kMaxDebounceMs) + " (milliseconds)");
        q.debounce_ms_by_channel[ch] = ms.get<int64_t>();
      }
    } else if (key == "cap") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 ||
          v.get<int64_t>() > QueueSettings::kMaxCap)
        throw ConfigError(where(path, k) + " must be an integer from 1 to " +
                          std::to_string(QueueSettings::kMaxCap));
      q.cap = static_cast<int>(v.get<int64_t>());
    } else if (key == "drop") {
      const std::string d = v.is_string() ? v.get<std::string>() : std::string();
      if (d == "summarize")
        q.drop = QueueDrop::summarize;
      else if (d == "old")
        q.drop = QueueDrop::old;
      else if (d == "new")
        q.drop = QueueDrop::newest;
      else
        throw ConfigError(where(path, k) + " must be one of summarize, old, new");
    } else {
      out.warnings.push_back("unknown config key: " + k);
    }
  }
}

}  // namespace

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

std::string resolve_bind_address(const std::string& bind) {
  if (bind == "loopback" || bind.empty()) return "127.0.0.1";
  if (bind == "lan") return "0.0.0.0";
  unsigned char buf[16];
  if (inet_pton(AF_INET, bind.c_str(), buf) == 1 || inet_pton(AF_INET6, bind.c_str(), buf) == 1)
    return bind;
  throw ConfigError("bind must be loopback, lan or an IP address (got \"" + bind + "\")");
}

void require_secure_url(const std::string& url, const std::string& key, bool allowed_insecure,
                        const std::string& allow_key) {
  if (url.rfind("http://", 0) != 0 || allowed_insecure) return;
  std::string authority = url.substr(7);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  if (is_local_host(authority)) return;
  const std::string host = split_host_port(authority).host;
  throw ConfigError(key + ": plain http:// to " + host +
                    " would send credentials in clear; use https:// (http:// is accepted for "
                    "loopback hosts only, or set " +
                    allow_key + ": true)");
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

std::vector<std::string> provider_key_variables(const std::string& agent_config_json) {
  const Json cfg = Json::parse(agent_config_json, nullptr, false);
  std::set<std::string> names;
  if (!cfg.is_object()) return {};
  const Json models = cfg.value("models", Json::object());
  const Json providers = models.is_object() ? models.value("providers", Json::object()) : Json();
  std::set<std::string> with_key;
  if (providers.is_object()) {
    for (auto& [id, prov] : providers.items()) {
      if (!prov.is_object()) continue;
      const Json key = prov.value("apiKey", Json());
      if (key.is_string() && !key.get<std::string>().empty()) {
        with_key.insert(id);
        if (auto ref = key_reference(key.get<std::string>())) names.insert(*ref);
      } else {
        names.insert(provider_key_variable(id));
      }
    }
  }
  // The default model's provider may have no section at all: its key comes from <ID>_API_KEY.
  const Json agents = cfg.value("agents", Json::object());
  const Json defaults = agents.is_object() ? agents.value("defaults", Json::object()) : Json();
  Json model = defaults.is_object() ? defaults.value("model", Json()) : Json();
  if (model.is_object()) model = model.value("primary", Json());
  if (model.is_string()) {
    const std::string ref = model;
    const size_t slash = ref.find('/');
    if (slash != std::string::npos && slash > 0 && !with_key.count(ref.substr(0, slash)))
      names.insert(provider_key_variable(ref.substr(0, slash)));
  }
  return {names.begin(), names.end()};
}

void apply_config_text(const std::string& text, const std::string& path, GatewaySettings& out,
                       std::string* token_from_file, std::string* password_from_file) {
  Json root;
  try {
    root = Json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for 1e999
    throw ConfigError((path.empty() ? std::string("config") : path) +
                      ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) throw ConfigError(where(path, "<root>") + " must be an object");
  for (auto& [key, _] : root.items())
    if (!kKnownSections.count(key)) out.warnings.push_back("unknown config key: " + key);
  parse_channels(root, path, out);
  parse_queue(root, path, out);
  {
    Json agent = Json::object();
    for (const char* k : {"agents", "models"}) {
      if (!root.contains(k)) continue;
      require_object(root[k], path, k);
      agent[k] = root[k];
    }
    // Provider keys travel to baseUrl: never in clear to another host.
    const Json providers = agent.contains("models") && agent["models"].is_object()
                               ? agent["models"].value("providers", Json::object())
                               : Json::object();
    if (providers.is_object()) {
      for (auto& [id, prov] : providers.items()) {
        if (!prov.is_object() || !prov.contains("baseUrl") || !prov["baseUrl"].is_string())
          continue;
        const std::string base = "models.providers." + id;
        const bool ok = prov.contains("dangerouslyAllowInsecureHttp") &&
                        get_bool(prov["dangerouslyAllowInsecureHttp"], path,
                                 base + ".dangerouslyAllowInsecureHttp");
        require_secure_url(prov["baseUrl"], where(path, base + ".baseUrl"), ok,
                           base + ".dangerouslyAllowInsecureHttp");
      }
    }
    out.agent_config_json = agent.dump();
  }
  if (!root.contains("gateway")) return;
  const Json& gw = root["gateway"];
  require_object(gw, path, "gateway");
  for (auto& [key, v] : gw.items()) {
    const std::string k = "gateway." + key;
    if (key == "port") {
      out.port = get_port(v, path, k);
    } else if (key == "bind") {
      const std::string b = get_string(v, path, k);
      try {
        out.bind_address = resolve_bind_address(b == "custom" ? "" : b);
      } catch (const ConfigError& e) {
        throw ConfigError(where(path, k) + ": " + e.what());
      }
    } else if (key == "auth") {
      require_object(v, path, k);
      for (auto& [ak, av] : v.items()) {
        const std::string akk = k + "." + ak;
        if (ak == "mode")
          out.auth_mode = parse_auth_mode(get_string(av, path, akk), path);
        else if (ak == "token")
          *token_from_file = get_string(av, path, akk);
        else if (ak == "password")
          *password_from_file = get_string(av, path, akk);
        else if (ak == "rateLimit") {
          require_object(av, path, akk);
          for (auto& [rk, rv] : av.items()) {
            const std::string rkk = akk + "." + rk;
            if (rk == "maxAttempts")
              out.rate_limit.max_attempts = static_cast<int>(get_positive(rv, path, rkk));
            else if (rk == "windowMs")
              out.rate_limit.window_ms = get_positive(rv, path, rkk);
            else if (rk == "lockoutMs")
              out.rate_limit.lockout_ms = get_positive(rv, path, rkk);
            else if (rk == "exemptLoopback")
              out.rate_limit.exempt_loopback = get_bool(rv, path, rkk);
            else
              out.warnings.push_back("unknown config key: " + rkk);
          }
        } else if (ak == "allowTailscale" || ak == "trustedProxy") {
          out.warnings.push_back(akk + " is not supported by clawgate; ignored");
        } else {
          out.warnings.push_back("unknown config key: " + akk);
        }
      }
    } else if (key == "controlUi") {
      require_object(v, path, k);
      for (auto& [ck, cv] : v.items()) {
        const std::string ckk = k + "." + ck;
        if (ck == "allowedOrigins") {
          if (!cv.is_array()) throw ConfigError(where(path, ckk) + " must be an array of strings");
          for (const auto& o : cv) out.allowed_origins.push_back(get_string(o, path, ckk));
        } else if (ck != "enabled" && ck != "basePath") {
          out.warnings.push_back("unknown config key: " + ckk);
        }
      }
    } else if (key == "trustedProxies") {
      if (!v.is_array()) throw ConfigError(where(path, k) + " must be an array of IPs or CIDRs");
      for (const auto& e : v) {
        const std::string range = get_string(e, path, k);
        if (!parse_ip_range(range))
          throw ConfigError(where(path, k) + ": not an IP address or CIDR range: \"" + range +
                            "\"");
        out.trusted_proxies.push_back(range);
      }
    } else if (key == "allowRealIpFallback") {
      out.allow_real_ip_fallback = get_bool(v, path, k);
    } else if (key == "mode" || key == "remote" || key == "reload" || key == "tls" ||
               key == "tailscale" || key == "nodes" || key == "http") {
      // Known OpenClaw keys for features clawgate does not implement yet.
    } else {
      out.warnings.push_back("unknown config key: " + k);
    }
  }
}

GatewaySettings resolve_gateway_settings(const GatewayFlags& flags, const Environment& env) {
  GatewaySettings s;
  std::string file_token, file_password;
  std::optional<std::string> path = flags.config_path;
  if (!path) path = env_get(env, "CLAWGATE_CONFIG_PATH");
  if (!path) path = env_get(env, "OPENCLAW_CONFIG_PATH");
  if (path) {
    auto text = read_file(*path);
    if (!text) throw ConfigError(*path + ": config file not found");
    s.config_path = *path;
    apply_config_text(*text, *path, s, &file_token, &file_password);
  }

  if (auto v = env_get(env, "OPENCLAW_GATEWAY_PORT")) {
    try {
      s.port = std::stoi(*v);
    } catch (...) {
      throw ConfigError("OPENCLAW_GATEWAY_PORT must be a port number");
    }
  }
  if (flags.port) s.port = *flags.port;
  if (s.port < 0 || s.port > 65535) throw ConfigError("port must be between 0 and 65535");
  if (flags.bind) s.bind_address = resolve_bind_address(*flags.bind);

  s.token = file_token;
  if (auto v = env_get(env, "CLAWGATE_GATEWAY_TOKEN")) s.token = *v;
  if (auto v = env_get(env, "OPENCLAW_GATEWAY_TOKEN")) s.token = *v;
  if (flags.token) s.token = *flags.token;
  s.password = file_password;
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

  s.state_dir = resolve_state_dir(env);
  if (auto v = env_get(env, "CLAWGATE_TICK_INTERVAL_MS"))
    s.tick_interval_ms = std::max(10L, std::stol(*v));
  if (auto v = env_get(env, "OPENCLAW_HANDSHAKE_TIMEOUT_MS"))
    s.handshake_timeout_ms = std::max(100L, std::stol(*v));
  return s;
}

void require_auth_unless_loopback(const GatewaySettings& s, const std::string& bound_address,
                                  const std::string& source) {
  if (s.auth_mode != AuthMode::none || is_loopback_ip(bound_address)) return;
  throw ConfigError("gateway.auth.mode none is only allowed on a loopback socket (" + source +
                    " is " + (bound_address.empty() ? std::string("unknown") : bound_address) +
                    "): set gateway.auth.mode to token or password");
}

}  // namespace clawgate
