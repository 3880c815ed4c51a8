// Gateway flags: see cli_flags.hpp.
#include "cli_flags.hpp"

namespace clawgate {

bool parse_gateway_flags(int argc, char** argv, GatewayFlags& out, std::string& error) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const auto eq = arg.find('=');
    const bool inline_value = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto take = [&](std::string& dst) {
      if (inline_value) {
        dst = value;
        return true;
      }
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return false;
      }
      dst = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--port") {
      if (!take(v)) return false;
      try {
        size_t used = 0;
        const int p = std::stoi(v, &used);
        if (used != v.size() || p < 0 || p > 65535) throw std::out_of_range("port");
        out.port = p;
      } catch (...) {
        error = "--port must be a number between 0 and 65535";
        return false;
      }
    } else if (arg == "--bind") {
      if (!take(v)) return false;
      out.bind = v;
    } else if (arg == "--token") {
      if (!take(v)) return false;
      out.token = v;
    } else if (arg == "--password") {
      if (!take(v)) return false;
      out.password = v;
    } else if (arg == "--config") {
      if (!take(v)) return false;
      out.config_path = v;
    } else {
      error = "unknown flag: " + arg;
      return false;
    }
  }
  return true;
}

}  // namespace clawgate
