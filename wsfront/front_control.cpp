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

const char* child_hold_name(ipc::ChildHold h) {
  switch (h) {
    case ipc::ChildHold::NONE:
      return "";
    case ipc::ChildHold::STOPPED:
      return "stopped";
    case ipc::ChildHold::LOGGED_OUT:
      return "logged-out";
  }
  return nullptr;
}

namespace {
const char* start_outcome_name(ipc::StartOutcome o) {
  switch (o) {
    case ipc::StartOutcome::HANDED_OFF:
      return "handed-off";
    case ipc::StartOutcome::RETRY:
      return "retry";
    case ipc::StartOutcome::SKIPPED:
      return "skipped";
  }
  return nullptr;
}
}  // namespace

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
  core_.channels().child_lifecycle =
      [this](const std::string& child, core::ChannelHub::Lifecycle action, LifecycleDone done) {
        child_lifecycle(child, action, std::move(done));
      };
}

FrontControl::~FrontControl() {
  core_.channels().restart_child = nullptr;
  core_.channels().child_lifecycle = nullptr;
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
    if (msg.isLifecycleResult()) return on_lifecycle_result(msg.getLifecycleResult());
  };
  h.on_lost = [this](const std::string& reason) {
    // Nobody will answer the restarts still waiting.
    for (auto& [_, done] : std::exchange(restarts_, {})) {
      done(core::Reply::unavailable("the supervisor went away before the restart finished", true));
    }
    for (auto& [_, done] : std::exchange(lifecycles_, {}))
      done(Error{ErrorCode::UNAVAILABLE, "the supervisor went away before answering", true});
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

void FrontControl::child_lifecycle(const std::string& child, core::ChannelHub::Lifecycle action,
                                   LifecycleDone done) {
  capnp::MallocMessageBuilder b;
  auto rq = b.initRoot<ipc::Control>().initLifecycle();
  rq.setRequestId(++next_request_);
  rq.setName(child);
  using L = core::ChannelHub::Lifecycle;
  rq.setAction(action == L::stop    ? ipc::LifecycleAction::STOP
               : action == L::start ? ipc::LifecycleAction::START
                                    : ipc::LifecycleAction::LOGOUT);
  if (!control_->send(b))
    return done(Error{ErrorCode::UNAVAILABLE, "the supervisor is not reachable", true});
  lifecycles_[next_request_] = std::move(done);
}

void FrontControl::on_lifecycle_result(ipc::ChildLifecycleResult::Reader r) {
  auto it = lifecycles_.find(r.getRequestId());
  if (it == lifecycles_.end()) return;
  auto done = std::move(it->second);
  lifecycles_.erase(it);
  if (!r.getOk()) {
    // A name the supervisor does not run is the caller's mistake; anything else is the
    // supervisor's trouble (stopping, a state file it cannot write), worth retrying.
    Error e = ipc::read_error(r.getError());
    e.retryable =
        e.retryable || (e.code != ErrorCode::NOT_FOUND && e.code != ErrorCode::INVALID_REQUEST);
    if (e.code == ErrorCode::NOT_FOUND) e.code = ErrorCode::INVALID_REQUEST;
    return done(std::move(e));
  }
  core::ChannelHub::LifecycleAnswer a;
  a.running = r.getRunning();
  const char* outcome = start_outcome_name(r.getOutcome());
  if (!outcome) {  // a newer supervisor's word: garbage here, ChildControl ends the link
    done(Error{ErrorCode::UNAVAILABLE, "the supervisor answered in words this front lacks", true});
    throw std::runtime_error("lifecycle result refused: " +
                             ipc::unknown_value("start outcome", r.getOutcome()));
  }
  a.outcome = outcome;
  a.reason = ipc::contract::text_within(r.getReason().cStr(), r.getReason().size(), 4096,
                                        "lifecycle reason");
  for (auto v : ipc::contract::bounded(r.getCredentialEnv(), ipc::contract::lists::kCredentialEnv,
                                       "lifecycle credentialEnv"))
    a.env.push_back(ipc::contract::text_within(v.cStr(), v.size(), 256, "credential variable"));
  done(std::move(a));
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
    const char* hold = child_hold_name(c.getHold());
    if (!hold)  // garbage from the supervisor: ChildControl ends the link
      throw std::runtime_error("children table refused: " +
                               ipc::unknown_value("child hold", c.getHold()));
    r.hold = hold;
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
