// clawgate-slack: the Slack channel worker. main only wires: control channel from the
// supervisor (its settings first, then data sockets to the front), the worker, signals.
// Exit codes: 0 stopped, 78 configuration error (no or rejected token, naming the key), 1
// anything else.
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
#include "log.hpp"
#include "sandbox.hpp"
#include "slack_config.hpp"
#include "slack_worker.hpp"

int main() {
  using namespace clawgate;
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;
  Logger log(clock, nullptr);
  boost::asio::io_context io(1);
  auto control = ipc::ChildControl::from_environment(io, ipc::ChildRole::CHANNEL);
  if (!control) {
    std::cerr << "clawgate-slack: run by `clawgate gateway`, not directly\n";
    return 2;
  }
  const char* state = std::getenv(ipc::contract::env::kStateDir);
  const char* account = std::getenv(ipc::contract::env::kAccountId);
  std::unique_ptr<workers::slack::SlackWorker> worker;
  int exit_code = 0;
  auto quit = [&](int code) {
    exit_code = code;
    if (worker) worker->stop();
    io.stop();
  };

  ipc::ChildControl::Handlers h;
  h.on_config = [&](ipc::Reload::Reader config) {
    if (worker) return;  // config changes restart us; a repeat is ignored
    workers::slack::SlackConfig cfg;
    try {
      const std::string account_id = account && *account ? account : "default";
      // Bounded and checked as the config file was (child_config.hpp).
      Result<cfg::SlackChannel> section =
          ipc::slack_settings(config, workers::slack::slack_section_path(account_id));
      if (!section) throw std::runtime_error(section.error().message);
      cfg = workers::slack::slack_config(*section, state ? state : ".", account_id);
      worker = std::make_unique<workers::slack::SlackWorker>(io, log, cfg);
    } catch (const std::exception& e) {
      log.error("slack", std::string("configuration error: ") + e.what());
      return quit(kExitConfig);
    }
    // Tokens are read: from here on, only this account's directory and the API root's port
    // (Socket Mode's wss:// shares it: 443). Before start(), so the resolver thread inherits it.
    const auto report = sandbox::apply(sandbox::channel_policy(
        cfg.state_dir, "slack", cfg.account_id, {sandbox::url_port(cfg.api_root)}));
    sandbox::log_report(log, control->name(), report);
    control->send_sandbox(report);
    worker->on_fatal = [&](int code, const std::string& why) {
      log.error("slack", why);
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
    log.error("slack", "lost the supervisor (" + reason + ")");
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
