// FrontControl: see front_control.hpp.
#include "front_control.hpp"

#include "child_config.hpp"
#include "contract.hpp"
#include "error.hpp"
#include "names.hpp"

#include <capnp/message.h>

#include <stdexcept>

namespace clawgate::front {

const char* child_state_name(ipc::ChildState s) {
  switch (s) {
    case ipc::ChildState::STARTING:
      return "starting";
    case ipc::ChildState::RUNNING:
      return "running";
    case ipc::ChildState::BACKOFF:
      return "backoff";
    case ipc::ChildState::FAILED:
      return "failed";
    case ipc::ChildState::STOPPED:
      return "stopped";
  }
  return "unknown";  // a newer supervisor's state
}

FrontControl::FrontControl(std::unique_ptr<ipc::ChildControl> control, core::Core& core,
                           std::function<void(const std::string& why)> stop,
                           std::function<void(nlohmann::json snapshot)> on_snapshot)
    : control_(std::move(control)),
      core_(core),
      stop_(std::move(stop)),
      on_snapshot_(std::move(on_snapshot)) {
  core_.channels().set_supervised(true);
  core_.channels().restart_child = [this](const std::string& child, core::ReplyFn done) {
    restart_child(child, std::move(done));
  };
}

FrontControl::~FrontControl() {
  core_.channels().restart_child = nullptr;
}

void FrontControl::start(const sandbox::Report& sandboxed) {
  ipc::ChildControl::Handlers h;
  h.on_stop = [this] { stop_("asked to stop by the supervisor"); };
  h.on_config = [this](ipc::Reload::Reader config) {
    // Another kind's settings, or a snapshot no client could be sent, is a broken supervisor:
    // the link ends (ChildControl), as for any other garbage on it.
    Result<std::string> text = ipc::front_snapshot(config);
    if (!text) throw std::runtime_error(text.error().message);
    if (!on_snapshot_) return;
    // config.get's answer is JSON on the client protocol; the front keeps it as such.
    nlohmann::json snapshot = nlohmann::json::parse(*text, nullptr, false);
    if (snapshot.is_object()) on_snapshot_(std::move(snapshot));
  };
  h.on_peer = [this](int fd, ipc::Peer::Reader p) {
    core_.attach_peer(fd, p.getName(), p.getChannel(), p.getAccountId(), p.getGeneration());
  };
  h.on_other = [this](ipc::Control::Reader msg) {
    if (msg.isChildren()) return on_children(msg);
    if (msg.isRestartResult()) return on_restart_result(msg.getRestartResult());
  };
  h.on_lost = [this](const std::string& reason) {
    // Nobody will answer the restarts still waiting.
    for (auto& [_, done] : std::exchange(restarts_, {})) {
      done(core::Reply::unavailable("the supervisor went away before the restart finished", true));
    }
    stop_("lost the supervisor (" + reason + ")");
  };
  control_->start(std::move(h));
  control_->send_sandbox(sandboxed);
  control_->send_ready();
}

void FrontControl::restart_child(const std::string& child, core::ReplyFn done) {
  capnp::MallocMessageBuilder b;
  auto rq = b.initRoot<ipc::Control>().initRestartChild();
  rq.setRequestId(++next_request_);
  rq.setName(child);
  restarts_[next_request_] = std::move(done);
  control_->send(b);
}

void FrontControl::on_children(ipc::Control::Reader msg) {
  std::vector<core::ChannelHub::ChildRow> rows;
  for (auto c : ipc::contract::bounded(msg.getChildren(), ipc::contract::lists::kChildren,
                                       "children table")) {
    core::ChannelHub::ChildRow r;
    r.name = c.getName();
    const char* role = ipc::name_of(c.getRole());
    if (!role)  // garbage from the supervisor: ChildControl ends the link
      throw std::runtime_error("children table refused: " +
                               ipc::unknown_value("child role", c.getRole()));
    r.role = role;
    r.channel = c.getChannel();
    r.account_id = c.getAccountId();
    r.state = child_state_name(c.getState());
    r.last_error = c.getLastError();
    r.pid = c.getPid();
    r.generation = c.getGeneration();
    r.restarts = c.getRestarts();
    r.since_ms = c.getSinceMs();
    r.next_restart_ms = c.getNextRestartMs();
    r.last_start_ms = c.getLastStartMs();
    r.last_exit_ms = c.getLastExitMs();
    r.rss = c.getRssBytes();
    if (auto sb = c.getSandbox(); sb.getReported()) {
      core::Json missing = core::Json::array();
      for (auto t : ipc::contract::bounded(sb.getNotApplied(), ipc::contract::lists::kNotApplied,
                                           "sandbox notApplied"))
        missing.push_back(t.cStr());
      r.sandbox = {{"noNewPrivs", sb.getNoNewPrivs()},
                   {"seccomp", sb.getSeccomp()},
                   {"landlockAbi", sb.getLandlockAbi()},
                   {"landlock", sb.getLandlock()},
                   {"notApplied", std::move(missing)}};
    }
    rows.push_back(std::move(r));
  }
  core_.channels().set_children(std::move(rows));
}

void FrontControl::on_restart_result(ipc::RestartResult::Reader r) {
  auto it = restarts_.find(r.getRequestId());
  if (it == restarts_.end()) return;
  core::Reply reply = core::Reply::ok(core::Json::object());
  if (!r.getOk()) {
    // The supervisor refuses a name it does not run (the caller's mistake); anything else is
    // the supervisor's trouble, worth retrying.
    Error e = ipc::read_error(r.getError());
    e.retryable =
        e.retryable || (e.code != ErrorCode::NOT_FOUND && e.code != ErrorCode::INVALID_REQUEST);
    reply = core::Reply::fail(std::move(e));
  }
  auto done = std::move(it->second);
  restarts_.erase(it);
  done(std::move(reply));
}

}  // namespace clawgate::front
