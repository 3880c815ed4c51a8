// The `nodes` tool: see node_tool.hpp.
#include "node_tool.hpp"

#include <algorithm>
#include <set>

#include "contract.hpp"
#include "names.hpp"
#include "utf8.hpp"

namespace clawgate::workers {

using Json = nlohmann::json;

namespace {

constexpr int kMaxParamsDepth = 64;
constexpr uint32_t kGraceMs = 30'000;  // upstream's margin over an operation's own timeout

// An action that runs one command (upstream's names; the params they map to the command's).
struct Shortcut {
  const char* action;
  const char* command;
  std::vector<std::pair<const char*, const char*>> params;  // tool argument -> command param
  std::vector<std::pair<const char*, const char*>> fixed;   // always sent
  const char* required = nullptr;                           // an argument it cannot do without
  const char* operation_ms = nullptr;  // an argument that is the operation's own duration
};

const std::vector<Shortcut>& shortcuts() {
  static const std::vector<Shortcut> kShortcuts = {
      {"location_get",
       "location.get",
       {{"maxAgeMs", "maxAgeMs"},
        {"desiredAccuracy", "desiredAccuracy"},
        {"locationTimeoutMs", "timeoutMs"}},
       {},
       nullptr,
       "locationTimeoutMs"},
      {"camera_snap",
       "camera.snap",
       {{"facing", "facing"},
        {"maxWidth", "maxWidth"},
        {"quality", "quality"},
        {"delayMs", "delayMs"},
        {"deviceId", "deviceId"}},
       {{"format", "jpg"}}},
      {"camera_list", "camera.list", {}, {}},
      {"screen_record",
       "screen.record",
       {{"durationMs", "durationMs"},
        {"fps", "fps"},
        {"screenIndex", "screenIndex"},
        {"includeAudio", "includeAudio"}},
       {{"format", "mp4"}},
       nullptr,
       "durationMs"},
      {"screen_snapshot",
       "screen.snapshot",
       {{"screenIndex", "screenIndex"}, {"maxWidth", "maxWidth"}},
       {}},
      {"which", "system.which", {{"bins", "bins"}}, {}, "bins"},
      {"notify",
       "system.notify",
       {{"title", "title"},
        {"body", "body"},
        {"sound", "sound"},
        {"priority", "priority"},
        {"delivery", "delivery"}},
       {}},
      {"device_status", "device.status", {}, {}},
      {"device_info", "device.info", {}, {}},
  };
  return kShortcuts;
}

const Shortcut* find_shortcut(const std::string& action) {
  for (const auto& s : shortcuts())
    if (action == s.action) return &s;
  return nullptr;
}

Json enum_of(std::initializer_list<const char*> words) {
  Json e = Json::array();
  for (const char* w : words) e.push_back(w);
  return {{"type", "string"}, {"enum", e}};
}

// The JSON Schema of each argument a shortcut reads.
Json argument_schema(const std::string& name) {
  static const Json kSchemas = {
      {"maxAgeMs", {{"type", "integer"}, {"minimum", 0}}},
      {"desiredAccuracy", enum_of({"coarse", "balanced", "precise"})},
      {"locationTimeoutMs", {{"type", "integer"}, {"minimum", 1}}},
      {"facing", enum_of({"front", "back"})},
      {"maxWidth", {{"type", "integer"}, {"minimum", 1}}},
      {"quality", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
      {"delayMs", {{"type", "integer"}, {"minimum", 0}}},
      {"deviceId", {{"type", "string"}}},
      {"durationMs", {{"type", "integer"}, {"minimum", 1}, {"maximum", 300000}}},
      {"fps", {{"type", "number"}, {"exclusiveMinimum", 0}}},
      {"screenIndex", {{"type", "integer"}, {"minimum", 0}}},
      {"includeAudio", {{"type", "boolean"}}},
      {"bins",
       {{"type", "array"},
        {"items", {{"type", "string"}, {"minLength", 1}}},
        {"minItems", 1},
        {"maxItems", 64},
        {"description", "which: executable names to resolve on the node."}}},
      {"title", {{"type", "string"}}},
      {"body", {{"type", "string"}}},
      {"sound", {{"type", "string"}}},
      {"priority", enum_of({"passive", "active", "timeSensitive"})},
      {"delivery", enum_of({"system", "overlay", "auto"})},
  };
  return kSchemas.value(name, Json::object());
}

// The shortcuts some offered node can run.
std::vector<const Shortcut*> offered_shortcuts(const std::vector<NodeOffer>& nodes) {
  std::set<std::string> commands;
  for (const auto& n : nodes) commands.insert(n.commands.begin(), n.commands.end());
  std::vector<const Shortcut*> out;
  for (const auto& s : shortcuts())
    if (commands.count(s.command)) out.push_back(&s);
  return out;
}

Json tool_parameters(const std::vector<const Shortcut*>& offered) {
  Json actions = {"status", "describe", "invoke"};
  Json props = {
      {"node",
       {{"type", "string"},
        {"description",
         "Node id or display name; may be left out when only one node is connected."}}},
      {"invokeCommand",
       {{"type", "string"}, {"description", "invoke: the node command, e.g. \"system.which\"."}}},
      {"invokeParamsJson",
       {{"type", "string"},
        {"description", "invoke: the command's params as JSON text, e.g. {\"bins\":[\"git\"]}."}}},
      {"invokeTimeoutMs", {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxTimeoutMs}}},
  };
  for (const Shortcut* s : offered) {
    actions.push_back(s->action);
    for (const auto& [arg, _] : s->params) props[arg] = argument_schema(arg);
  }
  props["action"] = {{"type", "string"}, {"enum", actions}};
  return {{"type", "object"}, {"properties", props}, {"required", {"action"}}};
}

std::string node_line(const NodeOffer& n) {
  std::string line = "- " + (n.display_name.empty() ? n.node_id : n.display_name) + " (id " +
                     n.node_id + (n.platform.empty() ? "" : ", " + n.platform) + "): ";
  for (size_t i = 0; i < n.commands.size(); ++i) line += (i ? ", " : "") + n.commands[i];
  return line + "\n";
}

std::string tool_description(const std::vector<NodeOffer>& nodes,
                             const std::vector<const Shortcut*>& offered) {
  std::string d =
      "Paired devices (nodes) connected to this gateway. Actions: status (list nodes), describe "
      "(one node's details), invoke (run invokeCommand with invokeParamsJson on a node)";
  for (const Shortcut* s : offered) d += std::string(", ") + s->action + " (" + s->command + ")";
  d += ". Pass node by id or name; it may be left out when only one node is connected. "
       "Connected nodes and the commands you may run:\n";
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string line = node_line(nodes[i]);
    if (d.size() + line.size() > kMaxDescriptionBytes - 96) {
      d += "- ... and " + std::to_string(nodes.size() - i) + " more (action=status lists them)\n";
      break;
    }
    d += line;
  }
  return d;
}

Error bad(std::string message) {
  return Error::invalid(std::move(message));
}

Result<Json> parse_json(const std::string& text, const char* what) {
  if (!nesting_within(text, kMaxParamsDepth))
    return bad(std::string(what) + " nests deeper than " + std::to_string(kMaxParamsDepth));
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return bad(std::string(what) + " must be valid JSON: " + e.what());
  }
}

// An optional string argument; a value of another type is an error.
Result<std::string> string_arg(const Json& args, const char* key, size_t max) {
  const auto it = args.find(key);
  if (it == args.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad(std::string(key) + " must be a string");
  const std::string s(utf8::trim(it->get_ref<const std::string&>()));
  if (s.size() > max) return bad(std::string(key) + " is too long");
  return s;
}

Result<uint32_t> timeout_arg(const Json& args, const char* key) {
  const auto it = args.find(key);
  if (it == args.end() || it->is_null()) return uint32_t{0};
  if (!it->is_number_integer() || it->get<int64_t>() < 1)
    return bad(std::string(key) + " must be a positive integer");
  return static_cast<uint32_t>(std::min<int64_t>(it->get<int64_t>(), kMaxTimeoutMs));
}

Result<NodeCall> read_invoke(const Json& args, NodeCall call) {
  auto command = string_arg(args, "invokeCommand", ipc::contract::tools::kMaxIdBytes);
  if (!command) return std::move(command).error();
  if (command->empty()) return bad("invokeCommand required for action=invoke");
  call.command = *command;
  auto text = string_arg(args, "invokeParamsJson", ipc::contract::tools::kMaxParamsBytes);
  if (!text) return std::move(text).error();
  if (!text->empty()) {
    auto params = parse_json(*text, "invokeParamsJson");
    if (!params) return std::move(params).error();
    call.params_json = dump_json(*params);
  }
  auto timeout = timeout_arg(args, "invokeTimeoutMs");
  if (!timeout) return std::move(timeout).error();
  call.timeout_ms = *timeout;
  return call;
}

Result<NodeCall> read_shortcut(const Json& args, const Shortcut& s, NodeCall call) {
  call.action = ipc::NodeToolAction::INVOKE;
  call.command = s.command;
  Json params = Json::object();
  for (const auto& [arg, param] : s.params)
    if (auto it = args.find(arg); it != args.end() && !it->is_null()) params[param] = *it;
  if (s.required && !params.contains(s.required))
    return bad(std::string(s.required) + " required for action=" + s.action);
  for (const auto& [key, value] : s.fixed) params[key] = value;
  call.params_json = dump_json(params);
  if (call.params_json.size() > ipc::contract::tools::kMaxParamsBytes)
    return bad(std::string("the arguments of action=") + s.action + " are too large");
  auto timeout = timeout_arg(args, "invokeTimeoutMs");
  if (!timeout) return std::move(timeout).error();
  call.timeout_ms = *timeout;
  // An operation with its own duration gets upstream's margin on top, unless told otherwise.
  if (!call.timeout_ms && s.operation_ms) {
    auto op = timeout_arg(args, s.operation_ms);
    if (!op) return std::move(op).error();
    if (*op) call.timeout_ms = std::min(*op + kGraceMs, kMaxTimeoutMs);
  }
  return call;
}

}  // namespace

ToolSpec nodes_tool(const std::vector<NodeOffer>& nodes) {
  if (nodes.empty()) return {};
  const auto offered = offered_shortcuts(nodes);
  return {kNodesToolName, tool_description(nodes, offered), tool_parameters(offered)};
}

Result<NodeCall> read_nodes_call(const std::string& arguments) {
  const std::string text = utf8::trim(arguments).empty() ? "{}" : arguments;
  auto parsed = parse_json(text, "the arguments");
  if (!parsed) return std::move(parsed).error();
  const Json& args = *parsed;
  if (!args.is_object()) return bad("the arguments must be a JSON object");
  auto action = string_arg(args, "action", 64);
  if (!action) return std::move(action).error();
  if (action->empty()) return bad("action required");
  NodeCall call;
  auto node = string_arg(args, "node", ipc::contract::tools::kMaxIdBytes);
  if (!node) return std::move(node).error();
  call.node = *node;
  if (const auto a = ipc::parse_node_tool_action(*action)) {
    call.action = *a;
    if (*a == ipc::NodeToolAction::INVOKE) return read_invoke(args, std::move(call));
    return call;
  }
  if (const Shortcut* s = find_shortcut(*action)) return read_shortcut(args, *s, std::move(call));
  std::string known = "status, describe, invoke";
  for (const auto& s : shortcuts()) known += std::string(", ") + s.action;
  return bad("unknown action \"" + utf8::preview(*action, 64) + "\" (one of: " + known + ")");
}

}  // namespace clawgate::workers
