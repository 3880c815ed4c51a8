// ChildControl: a supervised child's end of its control channel. Reads its fd, name and
// generation from the environment the supervisor set (CLAWGATE_CONTROL_FD, CLAWGATE_CHILD_NAME,
// CLAWGATE_GENERATION, CLAWGATE_HEARTBEAT_MS), says hello, then ready when told, and sends a
// heartbeat with its RSS on a timer from the loop it shares with the child's real work, so a
// wedged loop stops the heartbeats and the supervisor restarts the child.
// Fails: losing the supervisor (EOF, garbage) calls on_lost; children exit then.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "control.capnp.h"
#include "link.hpp"
#include "sandbox.hpp"

namespace clawgate::ipc {

class ChildControl {
 public:
  struct Handlers {
    std::function<void()> on_stop;
    // Its settings (Control.reload); child_config.hpp reads the kind the child is.
    std::function<void(Reload::Reader config)> on_config;
    // A data socket (owned by the callee) for `peer`.
    std::function<void(int fd, Peer::Reader peer)> on_peer;
    std::function<void(Control::Reader msg)> on_other;  // children, restartResult, ...
    std::function<void(const std::string& reason)> on_lost;
  };

  // Not supervised (no CLAWGATE_CONTROL_FD): returns nothing.
  // Its name defaults to its role's word ("front", "agent", "channel").
  static std::unique_ptr<ChildControl> from_environment(boost::asio::io_context& io,
                                                        ChildRole role);
  ChildControl(boost::asio::io_context& io, int fd, ChildRole role, std::string name,
               uint32_t generation, int64_t heartbeat_ms);

  void start(Handlers h);
  void send_ready();
  // What this child's sandbox enforces, for the supervisor's children table (`status`).
  void send_sandbox(const sandbox::Report& r);
  bool send(capnp::MessageBuilder& msg) { return link_->send(msg); }
  const std::string& name() const { return name_; }
  uint32_t generation() const { return generation_; }

 private:
  void beat();

  std::shared_ptr<Link> link_;
  ChildRole role_;
  std::string name_;
  uint32_t generation_;
  int64_t heartbeat_ms_;
  uint64_t seq_ = 0;
  boost::asio::steady_timer timer_;
  Handlers h_;
};

// Resident set size of this process in bytes (0 when /proc is unavailable).
uint64_t self_rss_bytes();

}  // namespace clawgate::ipc
