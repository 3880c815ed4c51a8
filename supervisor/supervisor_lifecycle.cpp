// Supervisor: the operator's lifecycle of a channel worker (channels.stop, channels.start,
// channels.logout, asked by the front over the control link): holds, the logged-out marks they
// are checked against, and the waits for a stop to be reaped or a start to be ready. The
// decisions are lifecycle.hpp's; the marks logouts.hpp's.
// Fails: a request for a child that is not a channel worker is NOT_FOUND; a logout that cannot
// be recorded is UNAVAILABLE (retryable) and changes nothing; every request is answered, also
// when its child goes away (drop_waiters).
#include <capnp/message.h>

#include <algorithm>

#include "contract.hpp"
#include "error.hpp"
#include "names.hpp"
#include "supervisor.hpp"

namespace clawgate::supervisor {

namespace {

// How an operator names the worker on the command line.
std::string cli_target(const ChildSpec& s) {
  return s.channel + (s.account_id.empty() || s.account_id == "default"
                          ? std::string()
                          : " --account " + s.account_id);
}

ipc::ChildLifecycleResult::Builder lifecycle_result(capnp::MallocMessageBuilder& b, uint64_t id) {
  auto res = b.initRoot<ipc::Control>().initLifecycleResult();
  res.setRequestId(id);
  return res;
}

}  // namespace

void Supervisor::on_lifecycle(Child& c, ipc::ChildLifecycle::Reader rq) {
  if (c.spec.role != ipc::ChildRole::FRONT) throw std::runtime_error("lifecycle from a worker");
  const uint64_t id = rq.getRequestId();
  const std::string target = rq.getName();
  const auto action = rq.getAction();
  // Answered on the link of the front that asked: a newer front never gets an old answer.
  std::weak_ptr<ipc::Link> link = c.link;
  auto fail = [link, id](ErrorCode code, const std::string& message, bool retryable) {
    capnp::MallocMessageBuilder b;
    auto res = lifecycle_result(b, id);
    res.setOk(false);
    ipc::write_error(Error{code, message, retryable}, res.initError());
    if (auto l = link.lock()) l->send(b);
  };
  Child* t = find(target);
  if (!t || t->spec.role != ipc::ChildRole::CHANNEL)
    return fail(ErrorCode::NOT_FOUND, "no such channel worker: " + target, false);
  if (stopping_) return fail(ErrorCode::UNAVAILABLE, "the gateway is stopping", true);
  const std::string name = t->spec.name;
  auto answer_stopped = [this, link, id, name](std::vector<std::string> env) {
    capnp::MallocMessageBuilder b;
    auto res = lifecycle_result(b, id);
    res.setOk(true);
    const Child* now = find(name);
    res.setRunning(now && now->proc && now->ready);
    auto list = res.initCredentialEnv(
        static_cast<unsigned>(std::min(env.size(), ipc::contract::lists::kCredentialEnv)));
    for (unsigned i = 0; i < list.size(); ++i) list.set(i, env[i]);
    if (auto l = link.lock()) l->send(b);
  };
  switch (action) {
    case ipc::LifecycleAction::STOP:
      settle_logout(*t);
      if (t->hold == Hold::none) {
        log_.info("supervisor", name + ": stopped by an operator (channels.stop)");
        t->hold = Hold::stopped;
      }
      return lifecycle_stop(*t, [answer_stopped] { answer_stopped({}); });
    case ipc::LifecycleAction::LOGOUT: {
      // The tokens the running worker got and those it would get now (its tokenFile may have
      // changed since): either reaching a process again would undo the logout.
      // An earlier mark's tokens stay marked, after these (the bound drops the oldest); one made
      // with a lost key stays uncomparable.
      LogoutMark m{t->spec.channel, t->spec.account_id, {}, clock_.wall_ms()};
      TokenPrints all = t->spawned_tokens;
      if (auto now = token_fingerprints(t->spec.tokens, opts_.logouts.key()))
        all.insert(all.end(), now->begin(), now->end());
      if (const LogoutMark* old = opts_.logouts.find(name)) {
        all.insert(all.end(), old->tokens.begin(), old->tokens.end());
        m.key_matches = old->key_matches;
      }
      for (auto& p : all)
        if (std::find(m.tokens.begin(), m.tokens.end(), p) == m.tokens.end() &&
            m.tokens.size() < LogoutStore::kMaxTokens)
          m.tokens.push_back(std::move(p));
      try {
        opts_.logouts.mark(name, std::move(m));
      } catch (const std::exception& e) {
        log_.error("supervisor", name + ": cannot record the logout: " + e.what());
        return fail(ErrorCode::UNAVAILABLE,
                    std::string("cannot record the logout; nothing changed: ") + e.what(), true);
      }
      log_.info("supervisor", name + ": logged out by an operator (channels.logout)");
      t->hold = Hold::logged_out;
      std::vector<std::string> env = t->spec.credential_env;
      return lifecycle_stop(*t, [answer_stopped, env] { answer_stopped(env); });
    }
    case ipc::LifecycleAction::START:
      return lifecycle_start(*t, [link, id](const StartPlan& p, bool running) {
        capnp::MallocMessageBuilder b;
        auto res = lifecycle_result(b, id);
        res.setOk(true);
        res.setRunning(running);
        res.setOutcome(p.status == StartStatus::handed_off ? ipc::StartOutcome::HANDED_OFF
                       : p.status == StartStatus::retry    ? ipc::StartOutcome::RETRY
                                                           : ipc::StartOutcome::SKIPPED);
        res.setReason(p.reason);
        if (auto l = link.lock()) l->send(b);
      });
  }
  // A newer front's action: refused, the link stays.
  fail(ErrorCode::INVALID_REQUEST, ipc::unknown_value("lifecycle action", action), false);
}

void Supervisor::lifecycle_stop(Child& t, std::function<void()> done) {
  if (!t.proc) {
    park(t);
    return done();
  }
  t.exit_waiters.push_back(std::move(done));
  request_stop(t, false);
}

void Supervisor::lifecycle_start(Child& t,
                                 std::function<void(const StartPlan&, bool running)> done) {
  settle_logout(t);
  StartView v;
  v.gateway_stopping = stopping_;
  v.logged_out = t.hold == Hold::logged_out;
  v.has_process = t.proc != nullptr;
  v.stop_requested = t.stop_requested;
  v.ready = t.ready;
  StartPlan plan = plan_start(v);
  if (plan.status == StartStatus::skipped && plan.reason == "logged-out")
    plan.reason =
        "logged-out: set a new token for " + cli_target(t.spec) + " in the config to log in again";
  if (plan.step == StartStep::answer) return done(plan, t.proc && t.ready);
  uint32_t min_generation = t.history.generation;
  if (plan.step != StartStep::wait) {
    log_.info("supervisor", t.spec.name + ": started by an operator (channels.start)");
    t.hold = Hold::none;
    // A manual start overrides the crash-loop breaker: earlier deaths no longer count.
    t.history.consecutive_failures = 0;
    t.history.deaths.clear();
    min_generation = t.history.generation + 1;
    if (plan.step == StartStep::spawn) {
      spawn(t);
    } else {
      request_stop(t, true);
    }
  }
  StartWaiter w;
  w.id = ++next_waiter_;
  w.min_generation = min_generation;
  w.done = [done, plan](bool running) { done(plan, running); };
  w.deadline = std::make_shared<boost::asio::steady_timer>(io_);
  w.deadline->expires_after(std::chrono::milliseconds(opts_.start_wait_ms));
  w.deadline->async_wait(
      [this, name = t.spec.name, id = w.id](const boost::system::error_code& ec) {
        if (ec) return;
        Child* c = find(name);
        if (!c) return;
        for (auto it = c->start_waiters.begin(); it != c->start_waiters.end(); ++it) {
          if (it->id != id) continue;
          StartWaiter w = std::move(*it);  // keeps this timer alive until its handler returns
          c->start_waiters.erase(it);
          return w.done(c->proc && c->ready);  // not ready yet: started stays false, honestly
        }
      });
  t.start_waiters.push_back(std::move(w));
}

void Supervisor::answer_start_waiters(Child& c, uint32_t generation, bool running) {
  std::vector<StartWaiter> due;
  for (auto it = c.start_waiters.begin(); it != c.start_waiters.end();) {
    if (it->min_generation <= generation) {
      due.push_back(std::move(*it));
      it = c.start_waiters.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& w : due) {
    w.deadline->cancel();
    w.done(running);
  }
}

void Supervisor::drop_waiters(Child& c) {
  for (auto& done : std::exchange(c.exit_waiters, {})) done();
  for (auto& w : std::exchange(c.start_waiters, {})) {
    w.deadline->cancel();
    w.done(false);
  }
}

std::optional<TokenPrints> Supervisor::settle_logout(Child& c) {
  if (c.spec.role != ipc::ChildRole::CHANNEL) return TokenPrints{};
  std::optional<TokenPrints> now = token_fingerprints(c.spec.tokens, opts_.logouts.key());
  const LogoutMark* mark = opts_.logouts.find(c.spec.name);
  const auto marked = mark ? std::optional<TokenPrints>(mark->tokens) : std::nullopt;
  switch (check_logout_mark(marked, mark && mark->key_matches, now)) {
    case MarkCheck::none:
      if (c.hold == Hold::logged_out) c.hold = Hold::none;  // the mark went another way
      return now;
    case MarkCheck::holds:
      if (c.hold != Hold::logged_out) {
        if (!mark->key_matches)
          log_.error("supervisor", c.spec.name + ": " + opts_.logouts.path() +
                                       " was written with another config-hash-key; its logout "
                                       "holds until that file is removed");
        else if (!now)
          log_.warn("supervisor",
                    c.spec.name + ": its token file cannot be read: it stays logged out");
      }
      c.hold = Hold::logged_out;
      return now;
    case MarkCheck::cleared:
      log_.info("supervisor", c.spec.name +
                                  ": its tokens changed since channels.logout: "
                                  "logged in again");
      try {
        opts_.logouts.clear(c.spec.name);
      } catch (const std::exception& e) {
        // The stale mark names the old credentials only: it cannot hold the new ones back.
        log_.warn("supervisor", c.spec.name + ": cannot update the logout file: " + e.what());
      }
      if (c.hold == Hold::logged_out) c.hold = Hold::none;
      return now;
  }
  return now;
}

void Supervisor::park(Child& c) {
  c.restart_timer.cancel();
  c.next_restart_wall = 0;
  const std::string target = cli_target(c.spec);
  if (c.hold == Hold::logged_out) {
    set_state(c, ChildState::stopped,
              "logged out (channels.logout): set a new token for " + target +
                  " in the config to log in again");
  } else {
    set_state(c, ChildState::stopped,
              "stopped by an operator (channels.stop): `clawgate channels start " + target +
                  "` starts it");
  }
}

}  // namespace clawgate::supervisor
