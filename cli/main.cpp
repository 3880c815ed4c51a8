// clawgate: the one command users type. `gateway` runs the gateway in the foreground; `call`,
// `health` and `status` are protocol clients. main only parses arguments and wires.
// Exit codes: 0 ok, 1 request/transport failure (or nothing at a `config get` path), 2 usage
// error, 78 config error.
#include <unistd.h>

#include <cctype>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_flags.hpp"
#include "config.hpp"
#include "config_command.hpp"
#include "crypto.hpp"
#include "fs.hpp"
#include "run.hpp"
#include "target.hpp"
#include "version.hpp"
#include "ws_client.hpp"

namespace {

using clawgate::Json;

constexpr const char* kUsage = R"(usage: clawgate <command> [options]

commands:
  gateway [run]   run the gateway in the foreground (logs to stdout)
                  --port N (18789)  --bind loopback|lan|<addr>  --token T  --password P  --config FILE
  call <method>   call a gateway method and print its result as JSON
                  --params JSON  --url URL  --token T  --password P  --timeout MS
                  --tls-fingerprint SHA256 (wss://: the gateway's certificate)
                  --dangerously-allow-insecure-ws (plain ws:// to another host)
  health          gateway health (--json for the raw payload)
  status          gateway status (--json for the raw payload)
  channels status             every channel worker: state, restarts, last error
  channels restart <channel> [--account ID]
                              restart one channel account's worker (e.g. telegram)
  channels stop <channel> [--account ID]
                              stop that worker and keep it stopped (until channels start, a
                              config change for it, or a gateway restart)
  channels start <channel> [--account ID]
                              start it again (also a worker parked after a crash loop)
  channels logout <channel> [--account ID]
                              stop it until its token in the config changes (kept across
                              restarts; the token is not revoked on the platform)
  pairing list [channel] [--account ID]
                              DM senders waiting for approval
  pairing approve <channel> <code> [--account ID]
                              let that sender talk to the agent (through that account)
  devices list                devices paired with this gateway and pairing requests waiting
  devices approve <requestId> let that device connect (with the role and scopes it asked for)
  devices reject <requestId>  refuse a pairing request
  devices remove <deviceId>   forget a paired device (its connections are closed)
  send --to ID --message TEXT [--channel NAME] [--account ID]
                              deliver a message through a channel (durable, deduplicated)
  config schema               the JSON Schema of openclaw.json as clawgate reads it
  config validate [FILE]      check a config file: every problem with its key path, exit 78
                              when there is one (unknown keys too, as OpenClaw); --json
  config get [PATH]           the effective value at PATH (or the whole config), secrets
                              redacted; --config FILE, --json

The client commands find the gateway at --url, $OPENCLAW_GATEWAY_URL or ws://127.0.0.1:18789 and
the token in --token, $OPENCLAW_GATEWAY_TOKEN, $CLAWGATE_GATEWAY_TOKEN or the local state
directory. A --url on another host gets only an explicit --token/--password, and plain ws:// to
another host is refused unless --dangerously-allow-insecure-ws is given. A wss:// gateway's
certificate must match --tls-fingerprint (sha256, as `clawgate status` and the gateway log show
it); without one, a local URL pins this machine's gateway certificate and any other is checked
against the system's CAs.
)";

struct ClientArgs {
  std::string method;
  Json params = Json::object();
  std::string url, token, password, tls_fingerprint;
  int timeout_ms = 10000;
  bool json = false;
  bool allow_insecure_ws = false;
};

bool parse_client_args(const std::vector<std::string>& args, ClientArgs& out, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) {
        error = a + " needs a value";
        return false;
      }
      dst = args[++i];
      return true;
    };
    std::string v;
    if (a == "--json")
      out.json = true;
    else if (a == "--dangerously-allow-insecure-ws")
      out.allow_insecure_ws = true;
    else if (a == "--url") {
      if (!value(out.url)) return false;
    } else if (a == "--token") {
      if (!value(out.token)) return false;
    } else if (a == "--password") {
      if (!value(out.password)) return false;
    } else if (a == "--tls-fingerprint") {
      if (!value(out.tls_fingerprint)) return false;
    } else if (a == "--timeout") {
      if (!value(v)) return false;
      out.timeout_ms = std::atoi(v.c_str());
      if (out.timeout_ms <= 0) {
        error = "--timeout must be a positive number of milliseconds";
        return false;
      }
    } else if (a == "--params") {
      if (!value(v)) return false;
      out.params = Json::parse(v, nullptr, false);
      if (out.params.is_discarded()) {
        error = "--params is not valid JSON: " + v;
        return false;
      }
    } else if (out.method.empty() && a.rfind("--", 0) != 0) {
      out.method = a;
    } else {
      error = "unexpected argument: " + a;
      return false;
    }
  }
  return true;
}

// The token the gateway on this machine saved in its state directory, if any.
std::optional<std::string> saved_token(const clawgate::Environment& env) {
  try {
    if (auto t = clawgate::read_file(clawgate::resolve_state_dir(env) + "/gateway-token")) {
      std::string token = *t;
      while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
      return token;
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

void print_human(const std::string& command, const Json& p) {
  if (command == "health") {
    std::cout << "ok: " << (p.value("ok", false) ? "yes" : "no") << "\n";
    if (p.contains("eventLoop")) {
      const Json& el = p["eventLoop"];
      std::cout << "event loop: delay p99 " << el.value("delayP99Ms", 0.0) << " ms, cpu "
                << el.value("cpuCoreRatio", 0.0) * 100 << "%"
                << (el.value("degraded", false) ? " (degraded)" : "") << "\n";
    }
    std::cout << "channels: "
              << (p.value("channelOrder", Json::array()).empty() ? "none configured"
                                                                 : p["channelOrder"].dump())
              << "\n";
    return;
  }
  if (command == "status") {
    const Json server = p.value("server", Json::object());
    std::cout << "gateway: " << server.value("name", "clawgate") << " "
              << server.value("version", "?") << " (pid " << p.value("pid", 0) << ", up "
              << p.value("uptimeMs", 0) / 1000 << " s)\n";
    const Json gw = p.value("gateway", Json::object());
    std::cout << "bind: " << gw.value("bind", "?") << ", auth: " << gw.value("authMode", "?")
              << "\n";
    const Json tls = gw.value("tls", Json::object());
    if (tls.value("enabled", false))
      std::cout << "tls: on, certificate sha256 " << tls.value("fingerprintSha256", "?")
                << " (clients pin it with --tls-fingerprint)\n";
    else
      std::cout << "tls: off\n";
    const Json c = p.value("connections", Json::object());
    std::cout << "connections: " << c.value("ready", 0) << " ready, " << c.value("handshaking", 0)
              << " handshaking\n";
    std::cout << "memory: " << p.value("processMemory", Json::object()).value("rssBytes", 0) / 1024
              << " KiB RSS\n";
    if (p.contains("stateDir")) std::cout << "state: " << p["stateDir"].get<std::string>() << "\n";
    return;
  }
  if (command == "channels status") {
    const Json accounts = p.value("channelAccounts", Json::object());
    if (accounts.empty()) std::cout << "no channels configured\n";
    for (auto& [name, list] : accounts.items()) {
      for (const auto& acc : list) {
        std::cout << name << " (" << acc.value("accountId", "default")
                  << "): " << acc.value("state", "?")
                  << (acc.value("connected", false) ? ", connected" : "") << ", restarts "
                  << acc.value("restarts", 0);
        if (acc.contains("detail")) std::cout << ", " << acc["detail"].get<std::string>();
        if (acc.contains("lastError") && acc["lastError"].is_string())
          std::cout << "\n  last error: " << acc["lastError"].get<std::string>();
        std::cout << "\n";
      }
    }
    return;
  }
  if (command == "pairing list") {
    const Json reqs = p.value("requests", Json::array());
    if (reqs.empty()) std::cout << "no pending pairing requests\n";
    for (const auto& r : reqs)
      std::cout << r.value("channel", "?") << " " << r.value("requestId", "?") << "  "
                << r.value("senderLabel", "?") << " (id " << r.value("senderId", "?") << ")"
                << (r.value("accountId", "default") == "default"
                        ? ""
                        : ", account " + r.value("accountId", std::string("?")))
                << ", expires " << r.value("expiresAt", "?") << "\n";
    return;
  }
  if (command == "pairing approve") {
    std::cout << "approved sender " << p.value("senderId", "?") << "\n";
    return;
  }
  if (command == "devices list") {
    const Json pending = p.value("pending", Json::array());
    const Json paired = p.value("paired", Json::array());
    auto list = [](const Json& a) {
      std::string out;
      for (const auto& v : a) out += (out.empty() ? "" : ",") + v.get<std::string>();
      return out.empty() ? std::string("-") : out;
    };
    std::cout << "pending: " << pending.size() << "\n";
    for (const auto& r : pending)
      std::cout << "  " << r.value("requestId", "?") << "  "
                << r.value("displayName", r.value("clientId", std::string("?"))) << " (device "
                << r.value("deviceId", "?").substr(0, 12) << ", " << r.value("platform", "?")
                << ")  role " << r.value("role", "?") << "  scopes "
                << list(r.value("scopes", Json::array())) << "  from " << r.value("remoteIp", "?")
                << (r.value("isRepair", false) ? "  (repair)" : "") << "\n";
    std::cout << "paired: " << paired.size() << "\n";
    for (const auto& d : paired)
      std::cout << "  " << d.value("deviceId", "?") << "  "
                << d.value("operatorLabel",
                           d.value("displayName", d.value("clientId", std::string("?"))))
                << "  roles " << list(d.value("roles", Json::array())) << "  scopes "
                << list(d.value("scopes", Json::array()))
                << (d.value("connected", false) ? "  connected" : "") << "\n";
    return;
  }
  if (command == "devices approve") {
    const Json d = p.value("device", Json::object());
    std::cout << "approved device " << d.value("deviceId", "?") << " (roles "
              << d.value("roles", Json::array()).dump() << ", scopes "
              << d.value("scopes", Json::array()).dump() << ")\n";
    return;
  }
  if (command == "devices reject") {
    std::cout << "rejected request " << p.value("requestId", "?") << " of device "
              << p.value("deviceId", "?") << "\n";
    return;
  }
  if (command == "devices remove") {
    std::cout << "removed device " << p.value("deviceId", "?") << "\n";
    return;
  }
  if (command == "channels restart") {
    std::cout << "restarting " << p.value("channel", "?") << "\n";
    return;
  }
  const std::string who = p.value("channel", "?") + " (" + p.value("accountId", "?") + ")";
  if (command == "channels stop") {
    std::cout << who << (p.value("stopped", false) ? ": stopped" : ": still running")
              << "; `clawgate channels start` starts it again\n";
    return;
  }
  if (command == "channels start") {
    const Json o = p.value("outcome", Json::object());
    const std::string status = o.value("status", "?");
    std::cout << who << ": " << (p.value("started", false) ? "running" : "not running");
    if (status == "handed-off")
      std::cout << " (started)";
    else
      std::cout << " (" << status << ": " << o.value("reason", "?") << ")";
    std::cout << "\n";
    return;
  }
  if (command == "channels logout") {
    std::cout << who << ": logged out; its worker stays stopped until its token in the config "
              << "changes. The token itself is still valid on the platform: revoke it there "
              << "if it should stop working.\n";
    for (const auto& v : p.value("envTokenVariables", Json::array()))
      std::cout << "note: " << v.get<std::string>()
                << " in the gateway's environment still holds the token; a new value there is "
                   "a login too\n";
    return;
  }
  if (command == "send") {
    std::cout << (p.value("status", "") == "queued" ? "queued " : "sent ")
              << p.value("messageId", p.value("queueId", "")) << "\n";
    return;
  }
  std::cout << p.dump(2) << "\n";
}

int run_method(const std::string& command, ClientArgs a);

int run_client(const std::string& command, const std::vector<std::string>& args) {
  ClientArgs a;
  std::string error;
  if (!parse_client_args(args, a, error)) {
    std::cerr << "clawgate " << command << ": " << error << "\n";
    return 2;
  }
  if (command == "call" && a.method.empty()) {
    std::cerr << "clawgate call: which method? (e.g. clawgate call health)\n";
    return 2;
  }
  if (command != "call") {
    if (!a.method.empty()) {
      std::cerr << "clawgate " << command << ": unexpected argument: " << a.method << "\n";
      return 2;
    }
    a.method = command;
  }
  return run_method(command, std::move(a));
}

// `channels ...`, `pairing ...`, `devices ...`, `send ...`: words first, then the usual client
// options.
int run_subcommand(const std::string& command, std::vector<std::string> args) {
  std::vector<std::string> words, rest;
  Json params = Json::object();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--to" || a == "--message" || a == "--channel" || a == "--account") &&
        i + 1 < args.size()) {
      const std::string key = a == "--account" ? "accountId" : a.substr(2);
      params[key] = args[++i];
    } else if (a.rfind("--", 0) == 0) {
      rest.assign(args.begin() + static_cast<long>(i), args.end());
      break;
    } else {
      words.push_back(a);
    }
  }
  ClientArgs c;
  std::string error;
  if (!parse_client_args(rest, c, error)) {
    std::cerr << "clawgate " << command << ": " << error << "\n";
    return 2;
  }
  const std::string sub = words.empty() ? "" : words[0];
  auto usage = [&](const char* text) {
    std::cerr << "usage: clawgate " << text << "\n";
    return 2;
  };
  if (command == "channels" && sub == "status" && words.size() == 1) {
    c.method = "channels.status";
  } else if (command == "channels" && sub == "restart" && words.size() == 2) {
    c.method = "channels.restart";
    params["channel"] = words[1];
  } else if (command == "channels" && (sub == "stop" || sub == "start" || sub == "logout") &&
             words.size() == 2) {
    // A blank --account is refused, as upstream does: an unset shell variable must not select
    // the default account.
    if (params.contains("accountId") && params["accountId"].get<std::string>().empty())
      return usage(("channels " + sub + " <channel> [--account ID] (ID not empty)").c_str());
    c.method = "channels." + sub;
    params["channel"] = words[1];
  } else if (command == "channels") {
    return usage("channels status | channels restart|stop|start|logout <channel> [--account ID]");
  } else if (command == "pairing" && sub == "list" && words.size() <= 2) {
    c.method = "channels.pairing.list";
    if (words.size() == 2) params["channel"] = words[1];
  } else if (command == "pairing" && sub == "approve" && words.size() == 3) {
    c.method = "channels.pairing.approve";
    params["channel"] = words[1];
    params["requestId"] = words[2];
    // Without --account, the account that issued the code (run_method asks which).
  } else if (command == "pairing") {
    return usage(
        "pairing list [channel] [--account ID] | pairing approve <channel> <code> [--account ID]");
  } else if (command == "devices" && sub == "list" && words.size() == 1) {
    c.method = "device.pair.list";
  } else if (command == "devices" && (sub == "approve" || sub == "reject") && words.size() == 2) {
    c.method = sub == "approve" ? "device.pair.approve" : "device.pair.reject";
    params["requestId"] = words[1];
  } else if (command == "devices" && sub == "remove" && words.size() == 2) {
    c.method = "device.pair.remove";
    params["deviceId"] = words[1];
  } else if (command == "devices") {
    return usage(
        "devices list | devices approve <requestId> | devices reject <requestId> | devices "
        "remove <deviceId>");
  } else if (command == "send" && words.empty() && params.contains("to") &&
             params.contains("message")) {
    c.method = "send";
    params["idempotencyKey"] = clawgate::uuid_v4();
  } else {
    return usage("send --to ID --message TEXT [--channel NAME] [--account ID]");
  }
  c.params = params;
  return run_method(command + (sub.empty() ? "" : " " + sub), std::move(c));
}

int run_method(const std::string& command, ClientArgs a) {
  const clawgate::Environment env = clawgate::current_environment();
  clawgate::cli::Target target;
  try {
    target = clawgate::cli::resolve_target(
        {a.url, a.token, a.password, a.allow_insecure_ws, a.tls_fingerprint}, env,
        [&env] { return saved_token(env); }, [&env] { return clawgate::cli::read_local_tls(env); });
  } catch (const clawgate::cli::TargetError& e) {
    std::cerr << "clawgate " << command << ": " << e.what() << "\n";
    return 2;
  }
  a.url = target.url;
  clawgate::WsClient ws;
  clawgate::GatewayClient client(ws);
  clawgate::ConnectOptions o;
  o.url = target.url;
  o.token = target.token;
  o.password = target.password;
  o.timeout_ms = a.timeout_ms;
  o.ws.tls_fingerprint = target.tls_fingerprint;
  try {
    client.connect(o);
    if (command == "pairing approve" && !a.params.contains("accountId")) {
      // Upstream's CLI: the account that issued the code; the code alone if none matches.
      a.params["accountId"] = "default";
      const Json list =
          client.call("channels.pairing.list", {{"channel", a.params["channel"]}}, a.timeout_ms);
      std::string code = a.params["requestId"];
      for (char& ch : code) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      for (const auto& r : list.value("requests", Json::array()))
        if (r.value("requestId", "") == code)
          a.params["accountId"] = r.value("accountId", "default");
    }
    const Json payload = client.call(a.method, a.params, a.timeout_ms);
    if (command == "call" || a.json)
      std::cout << payload.dump(2) << "\n";
    else
      print_human(command, payload);
    ws.close();
    // The worker is not in the state asked for (a skipped start, a stop still under way).
    if (command == "channels start" && !payload.value("started", false)) return 1;
    if (command == "channels stop" && !payload.value("stopped", false)) return 1;
    return 0;
  } catch (const clawgate::GatewayError& e) {
    std::cerr << "error: " << e.code << ": " << e.message;
    if (!e.details.is_null()) std::cerr << " " << e.details.dump();
    std::cerr << "\n";
  } catch (const clawgate::TimeoutError& e) {
    std::cerr << "error: timed out talking to " << a.url << " (" << e.what() << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "error: cannot reach the gateway at " << a.url << ": " << e.what() << "\n";
    if (!target.tls_pin_source.empty() && target.tls_pin_source != "--tls-fingerprint")
      std::cerr << "(the pin is this machine's gateway certificate, " << target.tls_pin_source
                << "; for another gateway, pass its --tls-fingerprint)\n";
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version" || command == "version") {
    std::cout << "clawgate " << clawgate::kVersion << "\n";
    return 0;
  }
  if (command == "gateway") {
    int first = 2;
    if (argc > 2 && std::string(argv[2]) == "run") first = 3;
    clawgate::GatewayFlags flags;
    std::string error;
    if (!clawgate::parse_gateway_flags(argc - first, argv + first, flags, error)) {
      std::cerr << "clawgate gateway: " << error << "\n";
      return 2;
    }
    return clawgate::supervisor::run_supervisor(flags, clawgate::current_environment());
  }
  if (command == "call" || command == "health" || command == "status") {
    return run_client(command, std::vector<std::string>(argv + 2, argv + argc));
  }
  if (command == "config") {
    return clawgate::cli::run_config_command(std::vector<std::string>(argv + 2, argv + argc),
                                             clawgate::current_environment(), std::cout, std::cerr);
  }
  if (command == "channels" || command == "pairing" || command == "devices" || command == "send") {
    return run_subcommand(command, std::vector<std::string>(argv + 2, argv + argc));
  }
  std::cerr << "clawgate: unknown command: " << command << "\n\n" << kUsage;
  return 2;
}
