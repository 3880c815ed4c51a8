// Node command policy: see node_policy.hpp. The lists are upstream's, by name, so a diff
// against node-command-policy.ts stays readable.
#include "core/node_policy.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {

using List = std::initializer_list<const char*>;

// src/infra/node-commands.ts
const List kSystemRun = {"system.run.prepare", "system.run", "system.which"};
const List kExecApprovals = {"system.execApprovals.get", "system.execApprovals.set"};
const List kFile = {"fs.listDir", "terminal.upload"};
const List kBrowserProxy = {"browser.proxy", "browser.proxy.upload.v1"};
constexpr const char* kSystemNotify = "system.notify";
constexpr const char* kMcpToolsCall = "mcp.tools.call.v1";
constexpr const char* kClaudeRun = "agent.cli.claude.run.v1";
constexpr const char* kDeviceApps = "device.apps";
constexpr const char* kDesktopStream = "desktop.stream";
const List kPrivate = {"worker.bundle.install.v1",
                       "worker.launch.v1",
                       "worker.status.v1",
                       "worker.cancel.v1",
                       "worker.environment.stop.v1",
                       "worker.workspace.exec.v1",
                       "worker.workspace.prepare.v1",
                       "worker.workspace.retain.v1",
                       "worker.desktop.stream.v1",
                       "worker.desktop.launch.v1",
                       "worker.desktop.computer.v1",
                       "worker.portal.stream.v1"};
const List kAdminOnlyInvoke = {"browser.proxy", "browser.proxy.upload.v1", "fs.listDir",
                               "terminal.upload"};

// src/gateway/node-command-policy.ts
const List kCamera = {"camera.list"};
const List kMacCamera = {"camera.ptz.status"};
const List kLocation = {"location.get"};
const List kDevice = {"device.info", "device.status"};
const List kAndroidNotification = {"notifications.list", "notifications.actions"};
const List kAndroidDevice = {"device.info", "device.status", "device.permissions", "device.health",
                             kDeviceApps};
const List kContacts = {"contacts.search"};
const List kCalendar = {"calendar.events"};
const List kCallLog = {"callLog.search"};
const List kReminders = {"reminders.list"};
const List kPhotos = {"photos.latest"};
const List kMotion = {"motion.activity", "motion.pedometer"};
const List kMobileUi = {"mobile.ui.observe", "mobile.ui.act"};
const List kDesktopScreen = {"screen.snapshot", kDesktopStream};
const List kComputer = {"computer.act"};
const List kTalkPtt = {"talk.ptt.start", "talk.ptt.stop", "talk.ptt.cancel", "talk.ptt.once"};
const List kWatchRelay = {"watch.status", "watch.notify"};
const List kDangerous = {"camera.snap",  "camera.clip",   "camera.ptz.control", "screen.record",
                         "contacts.add", "calendar.add",  "reminders.add",      "sms.send",
                         "sms.search",   "health.summary"};

bool in(const List& list, std::string_view s) {
  return std::any_of(list.begin(), list.end(), [&](const char* c) { return s == c; });
}

void add(CommandSet& set, const List& list) {
  for (const char* c : list) set.insert(c);
}

CommandSet system_commands() {
  CommandSet s;
  for (const List* l : {&kSystemRun, &kExecApprovals, &kFile, &kBrowserProxy}) add(s, *l);
  s.insert({kSystemNotify, kMcpToolsCall, kClaudeRun});
  return s;
}

bool desktop_host(std::string_view c) {
  return in(kSystemRun, c) || in(kExecApprovals, c) || in(kFile, c) || in(kBrowserProxy, c) ||
         c == kMcpToolsCall || c == kClaudeRun || c == "screen.snapshot" || c == kDesktopStream;
}

CommandSet platform_defaults(const std::string& id) {
  CommandSet s;
  if (id == "ios") {
    for (const List* l :
         {&kCamera, &kLocation, &kDevice, &kContacts, &kCalendar, &kReminders, &kPhotos, &kMotion})
      add(s, *l);
    s.insert(kSystemNotify);
  } else if (id == "watchos") {
    add(s, kDevice);
    s.insert(kSystemNotify);
  } else if (id == "android") {
    for (const List* l : {&kCamera, &kLocation, &kAndroidNotification, &kAndroidDevice, &kContacts,
                          &kCalendar, &kCallLog, &kReminders, &kPhotos, &kMotion, &kMobileUi})
      add(s, *l);
    s.insert(kSystemNotify);
  } else if (id == "macos") {
    for (const List* l : {&kCamera, &kMacCamera, &kLocation, &kDevice, &kContacts, &kCalendar,
                          &kReminders, &kPhotos, &kMotion, &kDesktopScreen, &kComputer})
      add(s, *l);
    s.insert(kDeviceApps);
    s.merge(system_commands());
  } else if (id == "linux") {
    s = system_commands();
    add(s, kDesktopScreen);
    add(s, kComputer);
  } else if (id == "windows") {
    s = system_commands();
    for (const List* l : {&kCamera, &kLocation, &kDevice, &kDesktopScreen, &kComputer}) add(s, *l);
  } else {  // unknown
    add(s, kCamera);
    add(s, kLocation);
    s.insert(kSystemNotify);
  }
  return s;
}

bool desktop_platform(const std::string& id) {
  return id == "macos" || id == "windows" || id == "linux";
}

std::string metadata(std::string_view s) {
  return utf8::lower(utf8::trim(s));
}

std::string trimmed(std::string_view s) {
  return std::string(utf8::trim(s));
}

// "<name> <d>[.<d>[.<d>]]": a native app's platform label ("ios 17.2", "macos 15").
bool versioned(std::string_view s, std::string_view name) {
  if (s.size() <= name.size() + 1 || s.substr(0, name.size()) != name || s[name.size()] != ' ')
    return false;
  std::string_view v = s.substr(name.size() + 1);
  int parts = 0;
  while (true) {
    size_t n = 0;
    while (n < v.size() && std::isdigit(static_cast<unsigned char>(v[n]))) ++n;
    if (n == 0 || ++parts > 3) return false;
    v.remove_prefix(n);
    if (v.empty()) return true;
    if (v[0] != '.') return false;
    v.remove_prefix(1);
  }
}

// "android <d>" or "android <d> (sdk <d>)".
bool android_label(std::string_view s) {
  constexpr std::string_view kPrefix = "android ";
  if (s.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view v = s.substr(kPrefix.size());
  size_t n = 0;
  while (n < v.size() && std::isdigit(static_cast<unsigned char>(v[n]))) ++n;
  if (n == 0) return false;
  v.remove_prefix(n);
  if (v.empty()) return true;
  constexpr std::string_view kSdk = " (sdk ";
  if (v.substr(0, kSdk.size()) != kSdk) return false;
  v.remove_prefix(kSdk.size());
  n = 0;
  while (n < v.size() && std::isdigit(static_cast<unsigned char>(v[n]))) ++n;
  return n > 0 && v.substr(n) == ")";
}

bool ios_family(const std::string& f) {
  return f == "iphone" || f == "ipad" || f == "ios";
}

bool family_matches(const std::string& id, const std::string& f) {
  if (id == "ios") return f.empty() || ios_family(f);
  if (id == "watchos") return f == "apple watch" || f == "watchos";
  if (id == "android") return f.empty() || f == "android";
  if (id == "macos") return f == "mac";
  if (id == "windows") return f == "windows";
  if (id == "linux") return f == "linux";
  return false;
}

bool has_talk_surface(const PolicyNode& node) {
  for (const auto& c : node.caps)
    if (metadata(c) == "talk") return true;
  for (const auto& c : node.commands)
    if (metadata(c).rfind("talk.", 0) == 0) return true;
  return false;
}

CommandSet allowlist(const NodeCommandConfig& cfg, const PolicyNode& node, bool pairing) {
  const std::string id = normalize_platform_id(node.platform, node.device_family);
  CommandSet wanted = platform_defaults(id);
  if (!pairing && desktop_platform(id))
    for (auto it = wanted.begin(); it != wanted.end();)
      it = desktop_host(*it) ? wanted.erase(it) : std::next(it);
  if (id == "ios" && metadata(node.device_family) == "iphone") add(wanted, kWatchRelay);
  if (has_talk_surface(node)) add(wanted, kTalkPtt);
  if (desktop_platform(id) && node.approved_commands)
    for (const auto& c : *node.approved_commands)
      if (desktop_host(trimmed(c))) wanted.insert(c);
  for (const auto& c : cfg.allow) wanted.insert(c);

  CommandSet out;
  for (const auto& c : wanted) {
    std::string t = trimmed(c);
    if (!t.empty() && (pairing || !in(kDangerous, t))) out.insert(std::move(t));
  }
  for (const auto& c : cfg.allow)  // an explicit allow re-admits a dangerous command
    if (auto t = trimmed(c); !t.empty()) out.insert(std::move(t));
  for (const auto& c : cfg.deny) {
    const std::string t = trimmed(c);
    if (!t.empty() && !(pairing && in(kDangerous, t))) out.erase(t);
  }
  for (const char* c : kPrivate) out.erase(c);
  return out;
}

Error guard_error(const char* code, const char* message) {
  return Error::invalid(message, Json{{"code", code}});
}

std::optional<std::string> nonblank_string(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  std::string t = trimmed(it->get_ref<const std::string&>());
  if (t.empty()) return std::nullopt;
  return t;
}

}  // namespace

std::string normalize_platform_id(std::string_view platform, std::string_view device_family) {
  const std::string raw = metadata(platform), family = metadata(device_family);
  for (const char* id : {"ios", "watchos", "android", "macos", "windows", "linux"})
    if (raw == id) return family_matches(raw, family) ? raw : "unknown";
  if (versioned(raw, "ios") || versioned(raw, "ipados"))
    return ios_family(family) ? "ios" : "unknown";
  if (versioned(raw, "watchos"))
    return family == "apple watch" || family == "watchos" ? "watchos" : "unknown";
  if (versioned(raw, "macos")) return family == "mac" ? "macos" : "unknown";
  if (android_label(raw)) return family == "android" ? "android" : "unknown";
  if (!raw.empty()) return "unknown";
  const auto has = [&](const char* token) { return family.find(token) != std::string::npos; };
  if (has("iphone") || has("ipad") || has("ios")) return "ios";
  if (has("apple watch") || has("watchos")) return "watchos";
  if (has("android")) return "android";
  if (has("mac")) return "macos";
  if (has("windows")) return "windows";
  if (has("linux")) return "linux";
  return "unknown";
}

CommandSet command_allowlist(const NodeCommandConfig& cfg, const PolicyNode& node) {
  return allowlist(cfg, node, false);
}

CommandSet pairing_command_allowlist(const NodeCommandConfig& cfg, const PolicyNode& node) {
  return allowlist(cfg, node, true);
}

Strings normalize_surface_list(const Strings& items) {
  Strings out;
  std::set<std::string> seen;
  for (const auto& item : items) {
    std::string t = trimmed(item);
    if (!t.empty() && seen.insert(t).second) out.push_back(std::move(t));
  }
  return out;
}

Strings normalize_declared_commands(const Strings& declared, const CommandSet& allowlist) {
  Strings out;
  for (auto& c : normalize_surface_list(declared))
    if (!is_private_node_command(c) && allowlist.count(c)) out.push_back(std::move(c));
  return out;
}

Strings retain_fulfilled_caps(const Strings& caps, const Strings& admitted,
                              const Strings& withheld) {
  const auto family_of = [](const std::string& cap) -> std::optional<CommandSet> {
    if (cap == "camera")
      return CommandSet{"camera.list", "camera.ptz.status", "camera.snap", "camera.clip",
                        "camera.ptz.control"};
    if (cap == "computer") return CommandSet{"computer.act"};
    if (cap == "location") return CommandSet{"location.get"};
    if (cap == "screen") return CommandSet{"screen.snapshot", kDesktopStream, "screen.record"};
    return std::nullopt;
  };
  Strings out;
  for (const auto& cap : caps) {
    const auto family = family_of(cap);
    const auto member = [&](const std::string& c) { return family->count(c) > 0; };
    if (!family || std::none_of(withheld.begin(), withheld.end(), member) ||
        std::any_of(admitted.begin(), admitted.end(), member))
      out.push_back(cap);
  }
  return out;
}

bool is_private_node_command(std::string_view command) {
  return in(kPrivate, utf8::trim(command));
}

bool is_admin_only_invoke_command(std::string_view command) {
  return in(kAdminOnlyInvoke, command);
}

bool is_dangerous_node_command(std::string_view command) {
  return in(kDangerous, command);
}

CommandCheck check_node_command(const std::string& command, const Strings& effective,
                                const CommandSet& allowlist) {
  const std::string c = trimmed(command);
  if (c.empty()) return {false, "command required"};
  if (is_private_node_command(c) || !allowlist.count(c)) return {false, "command not allowlisted"};
  if (effective.empty()) return {false, "node did not declare commands"};
  if (std::find(effective.begin(), effective.end(), c) == effective.end())
    return {false, "command not declared by node"};
  return {true, ""};
}

std::string command_rejection_hint(const std::string& reason, const std::string& command,
                                   const std::string& platform, const Strings& declared,
                                   const NodeCommandConfig& cfg) {
  const std::string p = platform.empty() ? "unknown" : platform;
  const std::string q = "\"" + command + "\"";
  if (reason == "command not declared by node")
    return "node command not allowed: the node (platform: " + p + ") does not support " + q;
  if (reason == "command not allowlisted") {
    if (command.rfind("talk.", 0) == 0)
      return "node command not allowed: " + q + " requires a trusted Talk-capable node";
    for (const auto& d : cfg.deny)
      if (trimmed(d) == command)
        return "node command not allowed: " + q + " is blocked by gateway.nodes.commands.deny";
    if (is_dangerous_node_command(command))
      return "node command not allowed: " + q +
             " requires explicit gateway.nodes.commands.allow opt-in";
    return "node command not allowed: " + q + " is not in the allowlist for platform \"" + p + "\"";
  }
  if (reason == "node did not declare commands") {
    if (std::find(declared.begin(), declared.end(), command) != declared.end())
      return "node command not allowed: the node's declared command surface is pending "
             "approval; run `openclaw nodes pending`, then `openclaw nodes approve <requestId>`";
    return "node command not allowed: the node did not declare any supported commands";
  }
  return "node command not allowed: " + reason;
}

Strings approve_scopes(const Strings& commands) {
  const bool admin = std::any_of(commands.begin(), commands.end(), [](const std::string& c) {
    return is_admin_only_invoke_command(c) || in(kSystemRun, c) || in(kExecApprovals, c);
  });
  if (admin) return {"operator.pairing", "operator.admin"};
  if (!commands.empty()) return {"operator.pairing", "operator.write"};
  return {"operator.pairing"};
}

Result<Json> sanitize_system_run_params(const Json& params) {
  if (!params.is_object()) return params;
  const auto present = [&](const char* key) { return params.contains(key); };
  const auto value = [&](const char* key) -> const Json& {
    static const Json kNull;
    auto it = params.find(key);
    return it == params.end() ? kNull : *it;
  };
  const Json& source = value("approvalSource");
  if (!source.is_null() && source != "ask-fallback")
    return guard_error("INVALID_APPROVAL_SOURCE", "approval source invalid");
  const bool ask_fallback = source == "ask-fallback";
  if (ask_fallback && (present("approved") || present("approvalDecision")))
    return guard_error("APPROVAL_SOURCE_MISMATCH",
                       "approval source cannot be combined with explicit approval");
  const auto decision = nonblank_string(params, "approvalDecision");
  const bool wants_override =
      value("approved") == true ||
      (decision && (*decision == "allow-once" || *decision == "allow-always")) || ask_fallback;
  Json next = Json::object();
  for (const char* key :
       {"command", "rawCommand", "systemRunPlan", "cwd", "env", "timeoutMs", "needsScreenRecording",
        "agentId", "sessionKey", "runId", "suppressNotifyOnExit"})
    if (present(key)) next[key] = params.at(key);
  if (!wants_override) {
    const Json& command = value("command");
    const bool has_command = command.is_array() && !command.empty();
    if (!has_command && nonblank_string(params, "rawCommand"))
      return guard_error("MISSING_COMMAND", "rawCommand requires params.command");
    return next;
  }
  if (!nonblank_string(params, "runId"))
    return guard_error("MISSING_RUN_ID", "approval override requires params.runId");
  // Upstream checks the override against its exec approval record here; clawgate has none.
  return guard_error("APPROVALS_UNAVAILABLE", "exec approvals unavailable");
}

}  // namespace clawgate::core
