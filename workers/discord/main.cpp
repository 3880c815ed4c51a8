// clawgate-discord: the Discord channel worker. main only wires: control channel from the
// supervisor (its settings first, then data sockets to the front), the worker, signals.
// Exit codes: 0 stopped, 78 configuration error (no, rejected or refused token or intents),
// 1 anything else.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "child_config.hpp"
#include "child_control.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "contract.hpp"
#include "discord_worker.hpp"
#include "log.hpp"
#include "sandbox.hpp"

int main() {
  using namespace clawgate;
  namespace dc = workers::discord;
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;
  Logger log(clock, nullptr);
  boost::asio::io_context io(1);
  auto control = ipc::ChildControl::from_environment(io, ipc::ChildRole::CHANNEL);
  if (!control) {
    std::cerr << "clawgate-discord: run by `clawgate gateway`, not directly\n";
    return 2;
  }
  const char* state = std::getenv(ipc::contract::env::kStateDir);
  const char* account = std::getenv(ipc::contract::env::kAccountId);
  std::unique_ptr<dc::DiscordWorker> worker;
  int exit_code = 0;
  auto quit = [&](int code) {
    exit_code = code;
    if (worker) worker->stop();
    io.stop();
  };

  ipc::ChildControl::Handlers h;
  h.on_config = [&](ipc::Reload::Reader config) {
    if (worker) return;  // config changes restart us; a repeat is ignored
    dc::DiscordConfig cfg;
    try {
      const std::string account_id = account && *account ? account : "default";
      // Bounded and checked as the config file was (child_config.hpp).
      Result<cfg::DiscordChannel> section =
          ipc::discord_settings(config, dc::discord_section_path(account_id));
      if (!section) throw std::runtime_error(section.error().message);
      cfg = dc::discord_config(*section, state ? state : ".", account_id);
      worker = std::make_unique<dc::DiscordWorker>(io, log, cfg);
    } catch (const std::exception& e) {
      log.error("discord", std::string("configuration error: ") + e.what());
      return quit(kExitConfig);
    }
    // The token is read: from here on, only this account's directory, and the ports of the API
    // root and of the Gateway (wss://, 443; an emulator serves both on the API root's port).
    // Before start(), so the resolver thread inherits the ruleset.
    const auto report = sandbox::apply(sandbox::channel_policy(
        cfg.state_dir, "discord", cfg.account_id, {sandbox::url_port(cfg.api_root), 443}));
    sandbox::log_report(log, control->name(), report);
    control->send_sandbox(report);
    worker->on_fatal = [&](int code, const std::string& why) {
      log.error("discord", why);
      quit(code);
    };
    worker->start();
    control->send_ready();
  };
  h.on_peer = [&](int fd, ipc::Peer::Reader p) {
    if (!worker) {
      ::close(fd);
      return;
    }
    worker->attach_front(fd, p.getGeneration());
  };
  h.on_stop = [&] { quit(0); };
  h.on_lost = [&](const std::string& reason) {
    log.error("discord", "lost the supervisor (" + reason + ")");
    quit(1);
  };
  control->start(std::move(h));

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) quit(0);
  });
  io.run();
  return exit_code;
}
