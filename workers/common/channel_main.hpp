// The main() of every channel worker process: the control link from the supervisor (the
// account's settings first, then the front's data sockets), the sandbox applied once the
// credentials are read, SIGTERM/SIGINT, and the exit code. A worker's main.cpp names its channel
// and says how its settings become a worker and a sandbox policy.
// Exit codes: 0 stopped, 78 configuration error (what make() throws, or the worker's on_fatal
// code), 1 the supervisor lost, 2 not started by the gateway.
#pragma once
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "control.capnp.h"
#include "log.hpp"
#include "sandbox.hpp"

namespace clawgate::workers {

// A channel worker as main drives it.
class ChannelProcess {
 public:
  virtual ~ChannelProcess() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual void attach_front(int fd, uint32_t generation) = 0;
  // The worker cannot go on (a rejected token: 78): the process ends with `exit_code`.
  std::function<void(int exit_code, const std::string& why)> on_fatal;
};

struct ChannelSetup {
  std::unique_ptr<ChannelProcess> worker;
  sandbox::Policy sandbox;  // applied before start(), so the resolver thread inherits it
};

// `settings`: the supervisor's Reload message; `account_id` is "default" when unnamed. Throws
// std::runtime_error (or any std::exception) for a configuration error, naming the key.
using MakeChannel = std::function<ChannelSetup(
    ipc::Reload::Reader settings, const std::string& state_dir, const std::string& account_id,
    boost::asio::io_context& io, Logger& log)>;

// Runs the process until it is stopped or fails; returns its exit code.
int run_channel_main(const std::string& channel, const MakeChannel& make);

}  // namespace clawgate::workers
