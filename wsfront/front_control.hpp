// FrontControl: the front's end of its control channel to the supervisor. It hands the worker
// links the supervisor passes over to the core, keeps the core's children table current, carries
// channels.restart and channels.stop/start/logout requests to the supervisor and back, passes the
// config snapshots the supervisor sends (config.get's answer after a reload) on, and reports stop
// requests and the loss of the supervisor to the runner. Fails: a request outstanding when the
// supervisor goes away is answered UNAVAILABLE, retryable; garbage on the channel ends it
// (ChildControl), which the runner treats as a lost supervisor.
#pragma once
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "child_control.hpp"
#include "core/core.hpp"
#include "sandbox.hpp"

namespace clawgate::front {

class FrontControl {
 public:
  // `stop` runs once, with why the front should stop (asked to, or the supervisor is gone).
  // `on_snapshot` gets every config snapshot the supervisor sends (Control.reload's front
  // settings: config.get's answer after each reload).
  FrontControl(std::unique_ptr<ipc::ChildControl> control, core::Core& core,
               std::function<void(const std::string& why)> stop,
               std::function<void(nlohmann::json snapshot)> on_snapshot = nullptr);
  ~FrontControl();

  // Starts reading; tells the supervisor how the front is sandboxed, and that it is ready.
  void start(const sandbox::Report& sandboxed);

 private:
  void on_children(ipc::Control::Reader msg);
  void on_restart_result(ipc::RestartResult::Reader r);
  void restart_child(const std::string& child, core::ReplyFn done);
  using LifecycleDone = std::function<void(Result<core::ChannelHub::LifecycleAnswer>)>;
  void child_lifecycle(const std::string& child, core::ChannelHub::Lifecycle action,
                       LifecycleDone done);
  void on_lifecycle_result(ipc::ChildLifecycleResult::Reader r);

  std::unique_ptr<ipc::ChildControl> control_;
  core::Core& core_;
  std::function<void(const std::string&)> stop_;
  std::function<void(nlohmann::json)> on_snapshot_;
  std::map<uint64_t, core::ReplyFn> restarts_;    // channels.restart calls awaiting an answer
  std::map<uint64_t, LifecycleDone> lifecycles_;  // channels.stop/start/logout awaiting one
  uint64_t next_request_ = 0;
};

// The supervisor's child state as channels.status and status name it.
const char* child_state_name(ipc::ChildState s);
// An operator's hold as channels.status names it: "" (none), "stopped", "logged-out"; nullptr
// for a value this build does not know.
const char* child_hold_name(ipc::ChildHold h);

}  // namespace clawgate::front
