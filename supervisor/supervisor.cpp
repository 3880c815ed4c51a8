// Supervisor: see supervisor.hpp.
#include "supervisor.hpp"

#include <capnp/message.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "contract.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "names.hpp"

namespace clawgate::supervisor {

namespace env = ipc::contract::env;

namespace {
constexpr int64_t kMinWatchMs = 10;  // deadlines closer than this are handled together
// A heartbeat's RSS reaches the front (health, channels.status) when it moved this much since
// the last children table sent: not on every beat, which would wake the front for nothing.
constexpr uint64_t kRssPushStep = 512 * 1024;
// Control EOF -> kill, unless it exits by itself first: a process exiting closes its socket
// before it can be reaped, and on a loaded machine (or with a leak check at exit) that gap can
// pass a second; its own exit status (78, say) must win.
constexpr int64_t kLostGraceMs = 3000;

ipc::ChildState to_wire(ChildState s) {
  switch (s) {
    case ChildState::starting:
      return ipc::ChildState::STARTING;
    case ChildState::running:
      return ipc::ChildState::RUNNING;
    case ChildState::backoff:
      return ipc::ChildState::BACKOFF;
    case ChildState::failed:
      return ipc::ChildState::FAILED;
    case ChildState::stopped:
      return ipc::ChildState::STOPPED;
  }
  return ipc::ChildState::STOPPED;
}

ipc::ChildHold to_wire(Hold h) {
  switch (h) {
    case Hold::none:
      return ipc::ChildHold::NONE;
    case Hold::stopped:
      return ipc::ChildHold::STOPPED;
    case Hold::logged_out:
      return ipc::ChildHold::LOGGED_OUT;
  }
  return ipc::ChildHold::NONE;
}

}  // namespace

Supervisor::Supervisor(boost::asio::io_context& io, const Clock& clock, Logger& log,
                       SupervisorOptions opts)
    : io_(io),
      clock_(clock),
      log_(log),
      opts_(std::move(opts)),
      watch_timer_(io),
      rng_(std::random_device{}()) {}

Supervisor::~Supervisor() = default;

Supervisor::Child* Supervisor::find(const std::string& name) {
  auto it = children_.find(name);
  return it == children_.end() ? nullptr : it->second.get();
}

Supervisor::Child* Supervisor::front() {
  for (auto& [_, c] : children_)
    if (c->spec.role == ipc::ChildRole::FRONT) return c.get();
  return nullptr;
}

void Supervisor::start(std::vector<ChildSpec> specs) {
  for (auto& s : specs) {
    auto c = std::make_unique<Child>(io_);
    c->spec = std::move(s);
    Child& ref = *c;
    children_[ref.spec.name] = std::move(c);
    spawn(ref);
  }
  arm_watch();
}

void Supervisor::reload(std::vector<ChildSpec> specs) {
  if (stopping_) return;
  std::map<std::string, ChildSpec> wanted;
  for (auto& s : specs) wanted[s.name] = std::move(s);
  for (auto& [name, c] : children_) {
    auto it = wanted.find(name);
    if (it == wanted.end()) {
      log_.info("supervisor", name + ": removed from the configuration, stopping it");
      c->remove_on_exit = true;
      if (c->proc) {
        request_stop(*c, false);
      } else {
        c->restart_timer.cancel();
      }
      continue;
    }
    if (it->second == c->spec) {
      c->spec.start_text = std::move(it->second.start_text);
      if (it->second.live != c->spec.live) {
        c->spec.live = std::move(it->second.live);
        send_live(*c);
      }
      wanted.erase(it);
      continue;
    }
    log_.info("supervisor", name + ": configuration changed, restarting it");
    c->spec = std::move(it->second);
    wanted.erase(it);
    if (c->hold == Hold::stopped) c->hold = Hold::none;  // a change for it ends an operator stop
    c->history = ChildHistory{c->history.generation, c->history.restarts, 0, {}};
    request_stop(*c, true);
  }
  // Children removed while not running go now.
  for (auto it = children_.begin(); it != children_.end();) {
    if (it->second->remove_on_exit && !it->second->proc) {
      drop_waiters(*it->second);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, spec] : wanted) {
    log_.info("supervisor", name + ": added by the configuration, starting it");
    auto c = std::make_unique<Child>(io_);
    c->spec = std::move(spec);
    Child& ref = *c;
    children_[name] = std::move(c);
    spawn(ref);
  }
  push_children();
}

void Supervisor::update_live(const std::string& name, ipc::ReloadMessage live) {
  if (Child* c = find(name)) {
    c->spec.live = std::move(live);
    send_live(*c);
  }
}

void Supervisor::send_live(Child& c) {
  if (c.spec.live.empty() || !c.link || !c.link->is_open()) return;
  capnp::MallocMessageBuilder b;
  c.spec.live.copy_to(b.initRoot<ipc::Control>());
  c.link->send(b);
}

void Supervisor::stop(std::function<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  for (auto& [_, c] : children_) {
    c->restart_timer.cancel();
    if (c->proc) request_stop(*c, false);
  }
  check_stopping();
}

void Supervisor::check_stopping() {
  if (!stopping_ || !stop_done_) return;
  for (auto& [_, c] : children_)
    if (c->proc) return;
  watch_timer_.cancel();
  auto done = std::move(stop_done_);
  stop_done_ = nullptr;
  done();
}

void Supervisor::spawn(Child& c) {
  if (stopping_) return;
  // The one place a child is started: a held one is not, so a logged-out worker's credentials
  // reach no process, whatever asked for the start.
  std::optional<TokenPrints> tokens = settle_logout(c);
  if (c.hold != Hold::none) return park(c);
  // What this generation is given (read now, as the worker reads its tokenFile at start): what
  // a logout of it marks. Unreadable: the worker cannot read it either, and the previous
  // generation's tokens stay the ones a logout marks.
  if (tokens) c.spawned_tokens = std::move(*tokens);
  c.restart_timer.cancel();
  c.next_restart_wall = 0;
  if (c.history.generation > 0) ++c.history.restarts;
  const uint32_t gen = ++c.history.generation;
  c.stop_requested = false;
  c.restart_on_exit = true;
  c.ready = false;
  c.hello = false;
  c.sandbox.reset();
  c.kill_at_steady = c.lost_kill_at_steady = 0;

  int ctl[2] = {-1, -1};
  SpawnRequest req;
  req.exe = c.spec.exe;
  req.args = c.spec.args;
  req.env = c.spec.env;
  req.env[env::kControlFd] = std::to_string(ipc::contract::kControlFd);
  req.env[env::kChildName] = c.spec.name;
  req.env[env::kGeneration] = std::to_string(gen);
  req.env[env::kHeartbeatMs] = std::to_string(opts_.heartbeat_interval_ms);
  if (c.spec.role == ipc::ChildRole::FRONT && opts_.listen_fd >= 0) {
    req.env[env::kListenFd] = std::to_string(ipc::contract::kListenFd);
    req.fds[4] = opts_.listen_fd;
  }
  int config_fd = -1;  // ours closes once the child has its copy
  if (c.spec.role == ipc::ChildRole::FRONT && !c.spec.start_text.empty()) {
    try {
      config_fd = sealed_memfd("clawgate-front-config", c.spec.start_text);
    } catch (const std::exception& e) {
      log_.error("supervisor", c.spec.name + ": cannot hand over its config: " + e.what());
      c.kill_reason = std::string("cannot start: ") + e.what();
      boost::asio::post(io_, [this, name = c.spec.name, gen] { on_exit(name, gen, 127 << 8); });
      return;
    }
    req.env[env::kConfigFd] = std::to_string(ipc::contract::kConfigFd);
    req.fds[ipc::contract::kConfigFd] = config_fd;
  }
  c.started_steady = c.last_beat_steady = clock_.steady_ms();
  c.last_start_wall = clock_.wall_ms();
  try {
    // Here, not earlier: out of descriptors (EMFILE) is one more failure to start this child,
    // never an exception out of the link handler or io.run().
    ipc::make_socketpair(ctl);
    req.fds[3] = ctl[1];
    c.proc = spawn_child(io_, req);
  } catch (const std::exception& e) {
    if (ctl[0] >= 0) ::close(ctl[0]);
    if (ctl[1] >= 0) ::close(ctl[1]);
    if (config_fd >= 0) ::close(config_fd);
    log_.error("supervisor", c.spec.name + ": cannot start " + c.spec.exe + ": " + e.what());
    c.kill_reason = std::string("cannot start: ") + e.what();
    // Treated as an immediate exit with 127 (command not runnable), under the same policy.
    boost::asio::post(io_, [this, name = c.spec.name, gen] { on_exit(name, gen, 127 << 8); });
    return;
  }
  ::close(ctl[1]);
  if (config_fd >= 0) ::close(config_fd);
  c.pid = c.proc->id();
  if (c.state != ChildState::failed) set_state(c, ChildState::starting);
  log_.info("supervisor", c.spec.name + ": started pid " + std::to_string(c.pid) + " (generation " +
                              std::to_string(gen) + ")");

  const std::string name = c.spec.name;
  c.link = ipc::Link::create(io_, ctl[0], ipc::contract::control_link(name));
  c.link->start(
      [this, name, gen](capnp::MessageReader& r) {
        if (Child* ch = find(name)) on_control(*ch, gen, r);
      },
      [this, name, gen](const std::string& reason) { on_link_closed(name, gen, reason); });
  // The child's configuration goes first; a worker starts its work once it has it.
  if (!c.spec.config.empty()) {
    capnp::MallocMessageBuilder b;
    c.spec.config.copy_to(b.initRoot<ipc::Control>());
    c.link->send(b);
  }
  send_live(c);

  c.proc->async_wait([this, name, gen](boost::system::error_code, int) {
    Child* ch = find(name);
    if (!ch || ch->history.generation != gen || !ch->proc) return;
    on_exit(name, gen, ch->proc->native_exit_code());
  });
}

void Supervisor::on_exit(const std::string& name, uint32_t generation, int status) {
  Child* cp = find(name);
  if (!cp || cp->history.generation != generation) return;
  Child& c = *cp;
  ChildExit e;
  e.started_ms = c.started_steady;
  e.exited_ms = clock_.steady_ms();
  e.signaled = WIFSIGNALED(status);
  e.signal = e.signaled ? WTERMSIG(status) : 0;
  e.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  e.requested = c.stop_requested;
  c.proc.reset();  // reaped: the pid is forgotten and may be reused by anyone
  c.lost_kill_at_steady = 0;
  c.pid = 0;
  if (c.link) c.link->close("child exited");
  c.link.reset();
  c.ready = false;
  c.hello = false;
  c.sandbox.reset();
  c.last_exit_wall = clock_.wall_ms();
  const std::string how = describe_exit(e);
  log_.info("supervisor", name + ": " + how);
  // Waiters (a stop, a logout, a start that ends here) are answered once the new state went to
  // the front, on every path below: a caller's next channels.status already shows it.
  struct AnswerWaiters {
    Supervisor& self;
    const std::string& name;
    uint32_t generation;
    ~AnswerWaiters() {
      Child* ch = self.find(name);
      if (!ch) return;  // removed: drop_waiters answered them
      for (auto& done : std::exchange(ch->exit_waiters, {})) done();
      self.answer_start_waiters(*ch, generation, false);
    }
  } answer_waiters{*this, name, generation};

  if (stopping_) {
    set_state(c, ChildState::stopped);
    check_stopping();
    return;
  }
  if (c.remove_on_exit) {
    drop_waiters(c);
    children_.erase(name);
    push_children();
    return;
  }
  settle_logout(c);  // a new token while its logout was stopping it: a login
  if (c.hold != Hold::none) {
    c.kill_reason.clear();
    return park(c);
  }
  if (e.requested && !c.restart_on_exit) {
    set_state(c, ChildState::stopped, "stopped by request");
    return;
  }
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const RestartDecision d = decide_restart(opts_.policy, c.history, e, uni(rng_));
  // A reason found before the exit (hung, garbage) says more than the signal it got.
  const std::string error = c.kill_reason.empty() ? d.reason : c.kill_reason + "; " + d.reason;
  c.kill_reason.clear();
  if (!d.restart) {
    log_.warn("supervisor", name + ": " + d.reason);
    set_state(c, ChildState::stopped, error);
    return;
  }
  c.next_restart_wall = clock_.wall_ms() + d.delay_ms;
  if (!e.requested)
    log_.warn("supervisor",
              name + ": restarting in " + std::to_string(d.delay_ms) + " ms" +
                  (d.state == ChildState::failed ? " (failed: " + d.reason + ")" : ""));
  const ChildState shown =
      d.state == ChildState::backoff && d.delay_ms == 0 ? ChildState::starting : d.state;
  set_state(c, shown, e.requested ? "" : error);
  c.restart_timer.expires_after(std::chrono::milliseconds(d.delay_ms));
  c.restart_timer.async_wait([this, name](const boost::system::error_code& ec) {
    if (ec) return;
    if (Child* ch = find(name); ch && !ch->proc) spawn(*ch);
  });
}

void Supervisor::on_control(Child& c, uint32_t generation, capnp::MessageReader& r) {
  if (generation != c.history.generation) return;  // a message from a dead generation
  auto msg = r.getRoot<ipc::Control>();
  // The order every child keeps: hello first and once, then ready once; anything else only
  // after hello. A child out of order is broken (or not ours): its link ends and it restarts.
  const bool is_hello = msg.which() == ipc::Control::HELLO;
  if (!c.hello && !is_hello) throw std::runtime_error("a message before hello");
  switch (msg.which()) {
    case ipc::Control::HELLO:
      return on_hello(c, generation, msg.getHello());
    case ipc::Control::READY:
      if (c.ready) throw std::runtime_error("a second ready");
      c.ready = true;  // lastError stays: why it last restarted is worth seeing while it runs
      set_state(c, ChildState::running);
      answer_start_waiters(c, generation, true);
      if (c.spec.role == ipc::ChildRole::FRONT) {
        for (auto& [_, w] : children_)
          if (w->spec.role != ipc::ChildRole::FRONT) connect_worker(*w);
        if (on_front_ready) on_front_ready();
      } else {
        connect_worker(c);
      }
      return;
    case ipc::Control::HEARTBEAT:
      c.last_beat_steady = clock_.steady_ms();
      c.rss = msg.getHeartbeat().getRssBytes();
      if ((c.rss > c.rss_pushed ? c.rss - c.rss_pushed : c.rss_pushed - c.rss) >= kRssPushStep)
        push_children();
      return;
    case ipc::Control::RESTART_CHILD:
      return on_restart_child(c, msg.getRestartChild());
    case ipc::Control::LIFECYCLE:
      return on_lifecycle(c, msg.getLifecycle());
    case ipc::Control::SANDBOX: {
      auto sb = msg.getSandbox();
      sandbox::Report rep;
      rep.no_new_privs = sb.getNoNewPrivs();
      rep.seccomp = sb.getSeccomp();
      rep.landlock_abi = static_cast<int>(sb.getLandlockAbi());
      rep.landlock = sb.getLandlock();
      for (auto t : ipc::contract::bounded(sb.getNotApplied(), ipc::contract::lists::kNotApplied,
                                           "sandbox notApplied"))
        rep.not_applied.emplace_back(t.cStr());
      c.sandbox = std::move(rep);
      push_children();
      return;
    }
    case ipc::Control::ERROR: {
      auto err = msg.getError();
      log_.warn("supervisor", c.spec.name + " reports " + ipc::error_name(err.getCode()) + ": " +
                                  err.getMessage().cStr());
      return;
    }
    default:
      throw std::runtime_error("unexpected control message " +
                               std::to_string(static_cast<int>(msg.which())));
  }
}

void Supervisor::on_hello(Child& c, uint32_t generation, ipc::Hello::Reader h) {
  if (c.hello) throw std::runtime_error("a second hello");
  if (h.getGeneration() != generation)
    throw std::runtime_error("hello with generation " + std::to_string(h.getGeneration()) +
                             ", expected " + std::to_string(generation));
  // A child is what it was started as; one that says otherwise (or names a role this build
  // does not know) is broken, or not ours.
  if (h.getRole() != c.spec.role) {
    const char* said = ipc::name_of(h.getRole());
    throw std::runtime_error("hello as " +
                             (said ? std::string(said) : ipc::unknown_value("role", h.getRole())) +
                             ", started as " + ipc::name_of(c.spec.role));
  }
  c.hello = true;
}

void Supervisor::on_restart_child(Child& c, ipc::RestartChild::Reader rq) {
  const std::string target = rq.getName();
  capnp::MallocMessageBuilder b;
  auto res = b.initRoot<ipc::Control>().initRestartResult();
  res.setRequestId(rq.getRequestId());
  Child* t = find(target);
  if (c.spec.role != ipc::ChildRole::FRONT) throw std::runtime_error("restartChild from a worker");
  if (t) settle_logout(*t);
  if (!t || t->spec.role == ipc::ChildRole::FRONT) {
    res.setOk(false);
    auto err = res.initError();
    err.setCode(ipc::ErrorCode::NOT_FOUND);
    err.setMessage("no such channel: " + target);
  } else if (t->hold == Hold::logged_out) {
    res.setOk(false);
    auto err = res.initError();
    err.setCode(ipc::ErrorCode::INVALID_REQUEST);
    err.setMessage(target +
                   " is logged out (channels.logout): set a new token in the config to "
                   "log in again");
  } else {
    log_.info("supervisor", target + ": restart requested by an operator");
    t->hold = Hold::none;
    t->history.consecutive_failures = 0;
    t->history.deaths.clear();
    request_stop(*t, true);
    res.setOk(true);
  }
  c.link->send(b);
}

void Supervisor::on_link_closed(const std::string& name, uint32_t generation,
                                const std::string& reason) {
  Child* c = find(name);
  if (!c || c->history.generation != generation || !c->proc || c->stop_requested) return;
  if (!c->kill_reason.empty()) return;  // we killed it: its socket closing is no news
  const std::string why = "control channel lost: " + reason;
  if (reason.rfind("peer closed", 0) == 0) {  // EOF or a reset (link.cpp)
    // A child exiting on its own closes the socket a moment before it can be reaped; its own
    // exit status (78, say) must win, so it gets a grace period before being killed.
    c->lost_reason = why;
    c->lost_kill_at_steady = clock_.steady_ms() + kLostGraceMs;
    arm_watch();
    return;
  }
  kill_now(*c, why);  // garbage or a broken socket from a live child
}

void Supervisor::request_stop(Child& c, bool restart_after) {
  if (!c.proc) {
    if (restart_after && !stopping_) spawn(c);
    return;
  }
  if (c.stop_requested) {
    c.restart_on_exit = restart_after;
    return;
  }
  c.stop_requested = true;
  c.restart_on_exit = restart_after;
  c.kill_at_steady = clock_.steady_ms() + opts_.stop_timeout_ms;
  arm_watch();
  if (c.link && c.link->is_open()) {
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::Control>().setStop();
    c.link->send(b);
  }
  signal_group(c.pid, SIGTERM);
  signal_group(c.pid, SIGCONT);  // a stopped (SIGSTOP) child must run to act on SIGTERM
}

void Supervisor::kill_now(Child& c, const std::string& why) {
  log_.warn("supervisor", c.spec.name + ": " + why + "; killing pid " + std::to_string(c.pid));
  c.kill_reason = why;
  signal_group(c.pid, SIGKILL);
}

// The watch wakes only when something is due: a kill deadline, a grace period ending, or the
// first moment a child's heartbeat could be overdue (each beat moves that later, so an idle
// tree of healthy children wakes it once per heartbeat timeout, not ten times a second).
// Called again whenever a new deadline appears (spawn, stop, a lost link).
void Supervisor::arm_watch() {
  const int64_t now = clock_.steady_ms();
  int64_t due = now + opts_.policy.heartbeat_timeout_ms;
  for (auto& [name, c] : children_) {
    if (!c->proc) continue;
    if (c->lost_kill_at_steady) due = std::min(due, c->lost_kill_at_steady);
    if (c->kill_at_steady) due = std::min(due, c->kill_at_steady);
    if (!c->stop_requested)
      due = std::min(due, c->last_beat_steady + opts_.policy.heartbeat_timeout_ms + 1);
  }
  watch_timer_.expires_after(std::chrono::milliseconds(std::max<int64_t>(due - now, kMinWatchMs)));
  watch_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: re-armed for an earlier deadline, or stopped
    const int64_t now = clock_.steady_ms();
    for (auto& [name, c] : children_) {
      if (!c->proc) continue;
      if (c->lost_kill_at_steady && now >= c->lost_kill_at_steady) {
        c->lost_kill_at_steady = 0;
        kill_now(*c, c->lost_reason);
      } else if (c->kill_at_steady && now >= c->kill_at_steady) {
        c->kill_at_steady = 0;
        kill_now(*c, "did not stop within " + std::to_string(opts_.stop_timeout_ms) + " ms");
      } else if (!c->stop_requested &&
                 now - c->last_beat_steady > opts_.policy.heartbeat_timeout_ms) {
        c->last_beat_steady = now;  // one kill per silence
        kill_now(*c, "hung: no heartbeat for " + std::to_string(opts_.policy.heartbeat_timeout_ms) +
                         " ms");
      }
    }
    arm_watch();
  });
}

void Supervisor::set_state(Child& c, ChildState s, const std::string& error) {
  c.state = s;
  c.since_wall = clock_.wall_ms();
  if (!error.empty()) c.last_error = error;
  push_children();
  if (on_status) {
    std::string line;
    for (auto& [name, ch] : children_)
      line += (line.empty() ? "" : ", ") + name + " " + to_string(ch->state);
    on_status(line);
  }
}

void Supervisor::connect_worker(Child& w) {
  Child* f = front();
  if (!f || !f->ready || !f->link || !w.ready || !w.link) return;
  int pair[2];
  ipc::make_socketpair(pair);
  for (int side = 0; side < 2; ++side) {
    capnp::MallocMessageBuilder b;
    auto p = b.initRoot<ipc::Control>().initPeer();
    p.setName(w.spec.name);
    p.setChannel(w.spec.channel);
    p.setAccountId(w.spec.account_id);
    p.setGeneration(w.history.generation);
    (side == 0 ? f : &w)->link->send(b, pair[side]);
  }
  ::close(pair[0]);
  ::close(pair[1]);
}

void Supervisor::push_children() {
  Child* f = front();
  if (!f || !f->link || !f->ready) return;
  capnp::MallocMessageBuilder b;
  auto list = b.initRoot<ipc::Control>().initChildren(static_cast<unsigned>(children_.size()));
  unsigned i = 0;
  for (auto& [name, c] : children_) {
    auto s = list[i++];
    s.setName(name);
    s.setRole(c->spec.role);
    s.setChannel(c->spec.channel);
    s.setAccountId(c->spec.account_id);
    s.setState(to_wire(c->state));
    s.setPid(c->pid);
    s.setGeneration(c->history.generation);
    s.setRestarts(c->history.restarts);
    s.setLastError(c->last_error);
    s.setSinceMs(c->since_wall);
    s.setNextRestartMs(c->next_restart_wall);
    s.setLastStartMs(c->last_start_wall);
    s.setLastExitMs(c->last_exit_wall);
    s.setRssBytes(c->rss);
    s.setHold(to_wire(c->hold));
    c->rss_pushed = c->rss;
    if (c->sandbox) {
      auto sb = s.initSandbox();
      sb.setReported(true);
      sb.setNoNewPrivs(c->sandbox->no_new_privs);
      sb.setSeccomp(c->sandbox->seccomp);
      sb.setLandlockAbi(static_cast<uint32_t>(c->sandbox->landlock_abi));
      sb.setLandlock(c->sandbox->landlock);
      auto na = sb.initNotApplied(static_cast<unsigned>(c->sandbox->not_applied.size()));
      for (unsigned k = 0; k < na.size(); ++k) na.set(k, c->sandbox->not_applied[k]);
    }
  }
  f->link->send(b);
}

}  // namespace clawgate::supervisor
