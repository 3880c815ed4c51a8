// clawgate-agent: the agent worker. main only wires: control channel from the supervisor
// (its settings first, then the data socket to the front), the run engine, signals.
// Exit codes: 0 stopped, 78 configuration error (unusable agents/models section), 1 otherwise.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <iostream>
#include <memory>

#include "agent_worker.hpp"
#include "child_config.hpp"
#include "child_control.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "log.hpp"
#include "sandbox.hpp"

namespace {
const char* kSystemPrompt =
    "You are a helpful personal assistant reached through clawgate, an OpenClaw-compatible "
    "gateway, from chat apps and the web. Answer clearly and concisely.";
}

int main() {
  using namespace clawgate;
  std::signal(SIGPIPE, SIG_IGN);
  SystemClock clock;
  Logger log(clock, nullptr);
  boost::asio::io_context io(1);
  auto control = ipc::ChildControl::from_environment(io, ipc::ChildRole::AGENT);
  if (!control) {
    std::cerr << "clawgate-agent: run by `clawgate gateway`, not directly\n";
    return 2;
  }
  std::unique_ptr<workers::AgentWorker> worker;
  int exit_code = 0;
  auto quit = [&](int code) {
    exit_code = code;
    io.stop();
  };
  ipc::ChildControl::Handlers h;
  h.on_config = [&](ipc::Reload::Reader config) {
    if (worker) return;  // a changed config restarts this process
    std::vector<uint16_t> ports;
    try {
      // Bounded and checked as the config file was (child_config.hpp); other keys keep their
      // defaults, which this worker does not read.
      Result<cfg::Config> settings = ipc::agent_settings(config);
      if (!settings) throw std::runtime_error(settings.error().message);
      const cfg::Config& cfg = *settings;
      auto model = workers::resolve_model(cfg);
      ports = workers::provider_ports(cfg);
      // agents.defaults.timeoutSeconds bounds every run (0: the default, 600 s); at most a day,
      // so the milliseconds fit uint32.
      uint32_t timeout_ms = workers::AgentWorker::kDefaultTimeoutMs;
      if (const int64_t t = cfg.agents.defaults.timeout_seconds; t > 0)
        timeout_ms = static_cast<uint32_t>(std::min<int64_t>(t, 86'400) * 1000);
      // The front starts at most agents.defaults.maxConcurrent runs (bounded by the schema)
      // plus its cron and heartbeat runs: all of them stream at once here.
      const int max_concurrent =
          cfg.agents.defaults.max_concurrent.value_or(default_max_concurrent());
      worker = std::make_unique<workers::AgentWorker>(
          io, log, model, kSystemPrompt, timeout_ms,
          static_cast<size_t>(max_concurrent) + QueueSettings::kBackgroundRuns,
          static_cast<uint32_t>(cfg.agents.defaults.max_tool_rounds));
    } catch (const std::exception& e) {
      log.error("agent", std::string("configuration error: ") + e.what());
      return quit(kExitConfig);
    }
    log.info("agent", "answering with " + worker->model_label());
    // Keys are read: from here on no state files, TCP only to the providers' ports.
    const auto report = sandbox::apply(sandbox::agent_policy(ports));
    sandbox::log_report(log, control->name(), report);
    control->send_sandbox(report);
    control->send_ready();
  };
  h.on_peer = [&](int fd, ipc::Peer::Reader) {
    if (!worker) {
      ::close(fd);
      return;
    }
    worker->attach_front(fd);
  };
  h.on_stop = [&] { quit(0); };
  h.on_lost = [&](const std::string& reason) {
    log.error("agent", "lost the supervisor (" + reason + ")");
    quit(1);
  };
  control->start(std::move(h));
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) quit(0);
  });
  io.run();
  worker.reset();
  return exit_code;
}
