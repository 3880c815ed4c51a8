// Front runner: see front_runner.hpp.
#include "front_runner.hpp"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "canvas_host.hpp"
#include "config_view.hpp"
#include "contract.hpp"
#include "core/core.hpp"
#include "crypto.hpp"
#include "front_control.hpp"
#include "fs.hpp"
#include "gateway.hpp"
#include "net.hpp"
#include "sandbox.hpp"
#include "state.hpp"
#include "tls_server.hpp"
#include "utf8.hpp"
#include "version.hpp"
#include "webhooks.hpp"
#include "ws_transport.hpp"

extern const char kWebchatHtml[];  // wsfront/webchat/index.html, embedded by the build
extern const std::size_t kWebchatHtml_size;

namespace clawgate::front {

namespace {

// Under the supervisor, what it handed over on contract::kConfigFd: config.get's snapshot, whose
// `parsed` is the file with every secret redacted (the front never opens the file, which holds
// each worker's token and each provider's key; its own credentials come in its environment).
// Run alone, the file. Throws ConfigError for a config it must not run on.
GatewaySettings gateway_settings(const GatewayFlags& flags, const Environment& env,
                                 std::optional<Json>* snapshot) {
  const char* fd = std::getenv(ipc::contract::env::kConfigFd);
  if (!fd || !*fd) return resolve_gateway_settings(flags, env);
  if (std::string(fd) != std::to_string(ipc::contract::kConfigFd))
    throw ConfigError(std::string(ipc::contract::env::kConfigFd) + " is not " +
                      std::to_string(ipc::contract::kConfigFd));
  Json start = Json::parse(
      read_fd_whole(ipc::contract::kConfigFd, ipc::contract::kMaxFrontConfigBytes), nullptr, false);
  ::close(ipc::contract::kConfigFd);
  if (!start.is_object() || !start.value("valid", false))
    throw ConfigError("the supervisor handed over no valid configuration");
  *snapshot = start;
  if (!start.value("exists", false) || !start["path"].is_string())
    return resolve_gateway_settings(
        GatewayFlags{flags.port, flags.bind, flags.token, flags.password, std::nullopt}, env);
  return resolve_gateway_settings(flags, env, dump_json(start["parsed"]), start["path"]);
}

// The settings the front runs on, with the gateway token created on first start when none is
// configured; warnings are logged. Throws ConfigError.
FrontSettings front_settings(const GatewayFlags& flags, const Environment& env, Logger& log) {
  FrontSettings settings;
  std::optional<Json> snapshot;
  settings.gateway = gateway_settings(flags, env, &snapshot);
  if (settings.gateway.auth_mode == AuthMode::token && settings.gateway.token.empty()) {
    std::string fixed;
    const TokenLoad t = load_or_create_token(settings.gateway.state_dir, &fixed);
    settings.gateway.token = t.token;
    if (!fixed.empty()) settings.gateway.warnings.push_back(fixed);
    if (t.created) {
      // Shown once, and only to a person at a terminal: under systemd stdout is the journal,
      // which others may read. Later runs read it from the file.
      if (::isatty(STDOUT_FILENO)) {
        std::cout << "Generated a gateway token (saved to " << t.path << "):\n  " << t.token << "\n"
                  << std::flush;
      } else {
        std::cout << "Generated a gateway token; it is stored in " << t.path
                  << " (readable by this user only)\n"
                  << std::flush;
      }
    }
  }
  settings.version = kVersion;
  // config.get's answer until the supervisor sends a newer one. Alone, made here: the hash key
  // lives in the state directory (no key, no hash: the rest of the snapshot still answers).
  if (snapshot) {
    settings.config_snapshot = std::move(*snapshot);
  } else {
    std::string hash_key;
    try {
      hash_key = load_or_create_config_hash_key(settings.gateway.state_dir);
    } catch (const std::exception& e) {
      log.warn("config", std::string("config.get will carry no hash: ") + e.what());
    }
    settings.config_snapshot =
        config_snapshot(&settings.gateway, settings.gateway.file.get(), hash_key);
  }
  // Tuning knob for operators and tests: the per-client send buffer limit (default 50 MiB).
  if (auto it = env.find("CLAWGATE_MAX_BUFFERED_BYTES"); it != env.end()) {
    const long long v = std::atoll(it->second.c_str());
    if (v > 0) settings.limits.max_buffered_bytes = static_cast<size_t>(v);
  }
  for (const auto& w : settings.gateway.warnings) log.warn("config", w);
  return settings;
}

// The listening socket: the supervisor's (fd 4), systemd's, else bound here. The port (and in
// `address` an inherited socket's own address), or the exit code negated with the reason printed.
int listen(const GatewaySettings& g, WsTransport& ws, Logger& log, std::string* address) {
  try {
    const char* inherited = std::getenv(ipc::contract::env::kListenFd);
    int adopted = -1;
    if (inherited && *inherited) {
      adopted = std::atoi(inherited);
    } else if (sd_listen_fds(1) >= 1) {
      adopted = SD_LISTEN_FDS_START;  // systemd socket activation of the front alone
      log.info("front", "using the listening socket passed by systemd");
    }
    if (adopted < 0) return ws.listen(g.bind_address, static_cast<uint16_t>(g.port));
    // The bind address was checked with the config; an inherited socket may differ.
    *address = socket_local_address(adopted);
    require_auth_unless_loopback(g, *address, "the inherited listening socket's address");
    return ws.adopt(adopted);
  } catch (const ConfigError& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    return -kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "clawgate: cannot listen on " << g.bind_address << ":" << g.port << ": "
              << e.what() << " (is another gateway already running? `clawgate status` asks it)\n";
    return -1;
  }
}

// "listening on", after the certificate's fingerprint: whoever waits for that line (a harness,
// an operator) has the fingerprint by then.
void log_listening(Logger& log, const std::string& bind_address, int port, const ServerTls* tls) {
  const std::string host =
      bind_address.find(':') != std::string::npos ? "[" + bind_address + "]" : bind_address;
  if (tls)
    log.info("front", "TLS certificate SHA-256 fingerprint: " + tls->fingerprint +
                          " (clients pin it with --tls-fingerprint)");
  log.info("front", std::string("listening on ") + (tls ? "wss://" : "ws://") + host + ":" +
                        std::to_string(port) + " (clawgate " + kVersion + ")");
}

// A replaced certificate is served from the next connection on, without a restart.
std::unique_ptr<TlsRenewal> watch_certificate(boost::asio::io_context& io, Logger& log,
                                              const Environment& env, const tls::TlsPaths& paths,
                                              WsTransport& ws, Gateway& gateway) {
  int64_t poll_ms = 5000;  // CLAWGATE_TLS_POLL_MS: tests renew in a fraction of that
  if (auto it = env.find("CLAWGATE_TLS_POLL_MS"); it != env.end())
    poll_ms = std::clamp<int64_t>(std::atoll(it->second.c_str()), 10, 3'600'000);
  auto renewal =
      std::make_unique<TlsRenewal>(io, log, paths, poll_ms, [&ws, &gateway](ServerTls next) {
        ws.renew_tls(next.context);
        gateway.set_tls_fingerprint(next.fingerprint);
      });
  renewal->start();
  return renewal;
}

}  // namespace

int run_front(const GatewayFlags& flags, const Environment& env) {
  SystemClock clock;
  LogRing ring;
  Logger log(clock, &ring);
  if (auto it = env.find("OPENCLAW_LOG_LEVEL"); it != env.end())
    log.set_min_level(parse_log_level(it->second, LogLevel::info));

  FrontSettings settings;
  std::optional<ServerTls> tls;  // gateway.tls on: the context every connection handshakes with
  try {
    settings = front_settings(flags, env, log);
    if (settings.gateway.config.gateway.tls.enabled) {
      tls = prepare_server_tls(settings.gateway, env, log);
      settings.tls_fingerprint = tls->fingerprint;
    }
  } catch (const ConfigError& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "clawgate: " << e.what() << "\n";
    return kExitConfig;
  }

  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  Gateway gateway(io, clock, log, ring, settings);
  WsTransport ws(io, gateway, log, tls ? tls->context : nullptr);
  gateway.attach(&ws.transport());
  ws.serve("/", "text/html; charset=utf-8", std::string(kWebchatHtml, kWebchatHtml_size));
  ws.serve("/index.html", "text/html; charset=utf-8", std::string(kWebchatHtml, kWebchatHtml_size));
  std::unique_ptr<core::Core> core;
  try {
    core = std::make_unique<core::Core>(io, clock, log, settings.gateway, gateway);
  } catch (const std::exception& e) {
    std::cerr << "clawgate: cannot open the state directory " << settings.gateway.state_dir << ": "
              << e.what() << "\n";
    return 1;
  }
  gateway.attach_core(core.get());
  if (const auto missing = gateway.unserved_methods(); !missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    std::cerr << "clawgate: this build serves no handler for protocol method(s): " << list << "\n";
    return 70;  // EX_SOFTWARE
  }
  // Under the supervisor: a control channel, and the listening socket it holds for us.
  auto control = ipc::ChildControl::from_environment(io, ipc::ChildRole::FRONT);
  const bool supervised = control != nullptr;

  std::string listen_address = settings.gateway.bind_address;
  const int port = listen(settings.gateway, ws, log, &listen_address);
  if (port < 0) return -port;
  log_listening(log, settings.gateway.bind_address, port, tls ? &*tls : nullptr);
  // The canvas host's directory is created, opened and watched before the sandbox (it lies in
  // the state directory, which the sandbox keeps readable). Local requests are open only on a
  // loopback listener.
  CanvasSettings canvas_cfg = canvas_settings(settings.gateway, is_loopback_ip(listen_address));
  canvas_cfg.tls = tls.has_value();
  CanvasHost canvas(io, clock, log, canvas_cfg, gateway.auth_limiter());
  canvas.open();  // nothing when it is off: its paths then answer 404
  ws.attach_canvas(&canvas);
  gateway.attach_canvas(&canvas);
  // Slack HTTP mode: its webhook paths exist only while an account takes events that way.
  ChannelWebhooks webhooks(core->channels(), log);
  if (ChannelWebhooks::wanted(settings.gateway)) ws.attach_webhooks(&webhooks);
  // Config, token, listening socket and state files are open: from here on the state
  // directory only, and no outgoing TCP. Before any thread exists (Landlock is per thread).
  // A renewed certificate is read later, from inside the sandbox: its directories stay readable.
  const sandbox::Report sandboxed = sandbox::apply(sandbox::front_policy(
      settings.gateway.state_dir, tls ? tls_read_paths(tls->paths) : std::vector<std::string>{}));
  sandbox::log_report(log, "front", sandboxed);
  gateway.start();
  core->start();
  const std::unique_ptr<TlsRenewal> renewal =
      tls ? watch_certificate(io, log, env, tls->paths, ws, gateway) : nullptr;

  bool stopping = false;
  auto stop = [&](const std::string& why) {
    if (stopping) return;
    stopping = true;
    log.info("front", why + ", shutting down");
    if (!supervised) sd_notify(0, "STOPPING=1");
    canvas.stop();
    gateway.shutdown("gateway stopping", std::nullopt, [&io] { io.stop(); });
  };
  std::unique_ptr<FrontControl> front_control;
  if (supervised) {
    front_control = std::make_unique<FrontControl>(
        std::move(control), *core, stop,
        [&gateway](nlohmann::json snapshot) { gateway.set_config_snapshot(std::move(snapshot)); });
    front_control->start(sandboxed);
  } else {
    sd_notify(0, "READY=1\nSTATUS=accepting connections");
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    stop(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  });
  io.run();
  // The canvas host goes before the transport and the gateway that point at it.
  ws.attach_canvas(nullptr);
  ws.attach_webhooks(nullptr);
  gateway.attach_canvas(nullptr);
  core->flush();
  log.info("front", "stopped");
  return 0;
}

}  // namespace clawgate::front
