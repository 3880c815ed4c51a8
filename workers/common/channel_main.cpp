// run_channel_main: see channel_main.hpp.
#include "channel_main.hpp"

#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "child_control.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "contract.hpp"

namespace clawgate::workers {

int run_channel_main(const std::string& channel, const MakeChannel& make) {
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;
  Logger log(clock, nullptr);
  boost::asio::io_context io(1);
  auto control = ipc::ChildControl::from_environment(io, ipc::ChildRole::CHANNEL);
  if (!control) {
    std::cerr << "clawgate-" << channel << ": run by `clawgate gateway`, not directly\n";
    return 2;
  }
  const char* state = std::getenv(ipc::contract::env::kStateDir);
  const char* account = std::getenv(ipc::contract::env::kAccountId);
  std::unique_ptr<ChannelProcess> worker;
  int exit_code = 0;
  auto quit = [&](int code) {
    exit_code = code;
    if (worker) worker->stop();
    io.stop();
  };

  ipc::ChildControl::Handlers h;
  h.on_config = [&](ipc::Reload::Reader config) {
    if (worker) return;  // config changes restart us; a repeat is ignored
    ChannelSetup setup;
    try {
      setup = make(config, state ? state : ".", account && *account ? account : "default", io, log);
    } catch (const std::system_error& e) {
      // The disk (the journal in the state dir), not the configuration: exit 1, retried.
      log.error(channel, std::string("cannot start: ") + e.what());
      return quit(1);
    } catch (const std::exception& e) {
      log.error(channel, std::string("configuration error: ") + e.what());
      return quit(kExitConfig);
    }
    worker = std::move(setup.worker);
    // The credentials are read: from here on, only this account's directory and the ports the
    // policy names. Before start(), so the resolver thread inherits the ruleset.
    const auto report = sandbox::apply(setup.sandbox);
    sandbox::log_report(log, control->name(), report);
    control->send_sandbox(report);
    worker->on_fatal = [&](int code, const std::string& why) {
      log.error(channel, why);
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
    log.error(channel, "lost the supervisor (" + reason + ")");
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

}  // namespace clawgate::workers
