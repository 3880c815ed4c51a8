// `clawgate config ...`: see config_command.hpp.
#include "config_command.hpp"

#include "config_view.hpp"
#include "utf8.hpp"

namespace clawgate::cli {
namespace {

using Json = cfg::Json;

constexpr const char* kUsage =
    "usage: clawgate config schema\n"
    "       clawgate config validate [FILE] [--json]\n"
    "       clawgate config get [PATH] [--json] [--config FILE]\n";

struct Args {
  std::vector<std::string> words;
  bool json = false;
  std::optional<std::string> config_path;
};

bool parse_args(const std::vector<std::string>& args, Args& out, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      out.json = true;
    } else if (a == "--config") {
      if (i + 1 >= args.size()) {
        error = "--config needs a file";
        return false;
      }
      out.config_path = args[++i];
    } else if (a.rfind("--", 0) == 0) {
      error = "unknown option " + a;
      return false;
    } else {
      out.words.push_back(a);
    }
  }
  return true;
}

std::string kind_name(cfg::Issue::Kind k) {
  switch (k) {
    case cfg::Issue::Kind::error:
      return "error";
    case cfg::Issue::Kind::unknown:
      return "unknown";
    case cfg::Issue::Kind::unsupported:
      return "unsupported";
    case cfg::Issue::Kind::warning:
      return "warning";
  }
  return "error";
}

// Unknown keys fail validation, as in OpenClaw (the gateway itself only warns about them).
bool fails(const cfg::Issue& i) {
  return i.kind == cfg::Issue::Kind::error || i.kind == cfg::Issue::Kind::unknown;
}

int validate(const Args& a, const Environment& env, std::ostream& out, std::ostream& err) {
  std::optional<std::string> path = a.config_path;
  if (a.words.size() == 1) path = a.words[0];
  if (!path) path = config_path_for(GatewayFlags{}, env);
  if (a.words.size() > 1 || !path) {
    err << "clawgate config validate: which file? (clawgate config validate FILE, or set "
           "CLAWGATE_CONFIG_PATH)\n";
    return 2;
  }
  const ConfigFile file = validate_config_file(*path, env);
  size_t problems = 0, warnings = 0;
  for (const auto& i : file.issues.items()) (fails(i) ? problems : warnings)++;
  const size_t dropped = file.issues.dropped();
  const bool valid = problems == 0 && dropped == 0;
  if (a.json) {
    Json issues = Json::array(), notes = Json::array();
    for (const auto& i : file.issues.items()) {
      Json e = {{"path", i.path},
                {"message", i.kind == cfg::Issue::Kind::unknown ? "unknown config key" : i.message},
                {"kind", kind_name(i.kind)}};
      (fails(i) ? issues : notes).push_back(std::move(e));
    }
    Json report = {{"valid", valid}, {"path", *path}, {"issues", issues}, {"warnings", notes}};
    if (dropped) report["more"] = dropped;
    out << dump_json(report, 2) << "\n";
    return valid ? 0 : kExitConfig;
  }
  for (const auto& i : file.issues.items()) {
    if (i.kind == cfg::Issue::Kind::unknown)
      err << *path << ": " << i.path
          << ": unknown key (OpenClaw refuses a config with it; the clawgate gateway ignores it "
             "with a warning)\n";
    else if (fails(i))
      err << *path << ": " << i.text() << "\n";
    else
      err << *path << ": warning: " << i.text() << "\n";
  }
  if (dropped) err << *path << ": " << dropped << " more problems not shown\n";
  if (!valid) {
    err << *path << ": invalid (" << problems + dropped
        << (problems + dropped == 1 ? " problem" : " problems") << ")\n";
    return kExitConfig;
  }
  out << *path << ": valid";
  if (warnings) out << " (" << warnings << (warnings == 1 ? " warning" : " warnings") << ")";
  out << "\n";
  return 0;
}

int get(const Args& a, const Environment& env, std::ostream& out, std::ostream& err) {
  if (a.words.size() > 1) {
    err << "clawgate config get: one path at most (e.g. gateway.port)\n";
    return 2;
  }
  GatewayFlags flags;
  flags.config_path = a.config_path;
  GatewaySettings s;
  try {
    s = resolve_gateway_settings(flags, env);
  } catch (const std::exception& e) {
    err << "clawgate config get: config error: " << e.what() << "\n";
    return kExitConfig;
  }
  const Json config = redact_config(effective_config(s));
  if (a.words.empty()) {
    out << dump_json(config, 2) << "\n";
    return 0;
  }
  const std::string& text = a.words[0];
  const auto path = parse_config_path(text);
  const std::string shown = utf8::preview(text, 120);
  if (!path) {
    err << "clawgate config get: not a config path: " << shown
        << " (keys joined by dots, [\"quoted key\"], [index])\n";
    return 2;
  }
  const Json* v = value_at(config, *path);
  if (!v) {
    switch (schema_place(*path)) {
      case SchemaPlace::read:
        err << "clawgate config get: " << shown << " is not set, and has no default\n";
        break;
      case SchemaPlace::ignored:
        err << "clawgate config get: " << shown
            << " is not set (an OpenClaw key clawgate does not use)\n";
        break;
      case SchemaPlace::unknown:
        err << "clawgate config get: " << shown
            << " is not a key clawgate knows (`clawgate config schema` lists them)\n";
        break;
    }
    return 1;
  }
  if (a.json || v->is_structured())
    out << dump_json(*v, 2) << "\n";
  else if (v->is_string())
    out << v->get<std::string>() << "\n";
  else
    out << dump_json(*v) << "\n";
  return 0;
}

}  // namespace

int run_config_command(const std::vector<std::string>& args, const Environment& env,
                       std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return 2;
  }
  Args a;
  std::string error;
  if (!parse_args(std::vector<std::string>(args.begin() + 1, args.end()), a, error)) {
    err << "clawgate config " << args[0] << ": " << error << "\n" << kUsage;
    return 2;
  }
  try {
    if (args[0] == "schema" && a.words.empty()) {
      out << cfg::schema_text();
      return 0;
    }
    if (args[0] == "validate") return validate(a, env, out, err);
    if (args[0] == "get") return get(a, env, out, err);
  } catch (const std::exception& e) {  // the edge: report, never crash
    err << "clawgate config " << args[0] << ": " << e.what() << "\n";
    return 1;
  }
  err << kUsage;
  return 2;
}

}  // namespace clawgate::cli
