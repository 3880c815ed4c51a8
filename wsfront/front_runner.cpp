// Front runner: see front_runner.hpp.
#include "front_runner.hpp"

#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>

#include "gateway.hpp"
#include "state.hpp"
#include "ws_transport.hpp"

namespace clawgate::front {

namespace {
const char* kVersion = "0.1.0";
}

int run_front(const GatewayFlags& flags, const Environment& env) {
  SystemClock clock;
  LogRing ring;
  Logger log(clock, &ring);
  if (auto it = env.find("OPENCLAW_LOG_LEVEL"); it != env.end())
    log.set_min_level(parse_log_level(it->second, LogLevel::info));

  FrontSettings settings;
  try {
    settings.gateway = resolve_gateway_settings(flags, env);
    if (settings.gateway.auth_mode == AuthMode::token && settings.gateway.token.empty()) {
      const TokenLoad t = load_or_create_token(settings.gateway.state_dir);
      settings.gateway.token = t.token;
      if (t.created) {
        // Printed once, on the run that created it; later runs read it from the file.
        std::cout << "Generated a gateway token (saved to " << t.path << "):\n  " << t.token << "\n"
                  << std::flush;
      }
    }
  } catch (const ConfigError& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "clawgate: " << e.what() << "\n";
    return kExitConfig;
  }
  settings.version = kVersion;
  // Tuning knob for operators and tests: the per-client send buffer limit (default 50 MiB).
  if (auto it = env.find("CLAWGATE_MAX_BUFFERED_BYTES"); it != env.end()) {
    const long long v = std::atoll(it->second.c_str());
    if (v > 0) settings.limits.max_buffered_bytes = static_cast<size_t>(v);
  }
  for (const auto& w : settings.gateway.warnings) log.warn("config", w);

  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  Gateway gateway(io, clock, log, ring, settings);
  WsTransport ws(io, gateway, log);
  gateway.attach(&ws.transport());

  uint16_t port = 0;
  try {
    // systemd socket activation: a socket named "gateway" (or the only one) is ours.
    const int n = sd_listen_fds(1);
    if (n >= 1) {
      port = ws.adopt(SD_LISTEN_FDS_START);
      log.info("front", "using the listening socket passed by systemd");
    } else {
      port = ws.listen(settings.gateway.bind_address, static_cast<uint16_t>(settings.gateway.port));
    }
  } catch (const std::exception& e) {
    std::cerr << "clawgate: cannot listen on " << settings.gateway.bind_address << ":"
              << settings.gateway.port << ": " << e.what()
              << " (is another gateway already running? `clawgate status` asks it)\n";
    return 1;
  }
  const std::string host = settings.gateway.bind_address.find(':') != std::string::npos
                               ? "[" + settings.gateway.bind_address + "]"
                               : settings.gateway.bind_address;
  log.info("front", "listening on ws://" + host + ":" + std::to_string(port) + " (clawgate " +
                        kVersion + ")");
  gateway.start();
  sd_notify(0, "READY=1\nSTATUS=accepting connections");

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log.info("front", std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                          ", shutting down");
    sd_notify(0, "STOPPING=1");
    gateway.shutdown("gateway stopping", std::nullopt, [&io] { io.stop(); });
  });
  io.run();
  log.info("front", "stopped");
  return 0;
}

}  // namespace clawgate::front
