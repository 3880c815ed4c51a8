// Supervisor: owns the children (the front and one worker per enabled channel), their control
// links, restarts and the data-socket handoff between the front and each worker. It never
// parses client traffic or message content; it only reads control messages.
// Fails: nothing a child does (crash, hang, garbage, exit 78) takes the supervisor down; each
// is logged, shown in the children table the front serves, and handled by the restart policy.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "child_config.hpp"
#include "clock.hpp"
#include "control.capnp.h"
#include "lifecycle.hpp"
#include "link.hpp"
#include "log.hpp"
#include "logouts.hpp"
#include "restart_policy.hpp"
#include "sandbox.hpp"
#include "spawn.hpp"

namespace clawgate::supervisor {

struct ChildSpec {
  std::string name;  // "front", "telegram"
  ipc::ChildRole role = ipc::ChildRole::CHANNEL;
  std::string channel, account_id;
  std::string exe;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  // The child's part of the config (child_config.hpp), sent first; a change restarts the
  // child on reload. None for the front, which gets start_text.
  ipc::ReloadMessage config;
  // The front only: what it reads from contract::kConfigFd at start (its settings, secrets
  // redacted, and config.get's snapshot). Not compared: restart_key is; a reload keeps it
  // current for the front's next start.
  std::string start_text;
  // What else restarts the child when it changes: the front's settings as it reads them.
  // Compared, never sent.
  std::string restart_key;
  // Sent after `config`, and again whenever a reload changes it, to the running child: what it
  // shows but does not run on (the front: config.get's snapshot). Not compared.
  ipc::ReloadMessage live;
  // A channel worker's tokens (logouts.hpp): read at each spawn, checked against a logout mark
  // and recorded by the next logout.
  std::vector<TokenSource> tokens;
  std::vector<std::string> credential_env;  // the variables among them (logout says so)
  // The tokens' fingerprints when the config was read. Compared: new content in its token file
  // restarts it, as a new token in the config does.
  std::string credentials;
  bool operator==(const ChildSpec& o) const {
    return name == o.name && role == o.role && exe == o.exe && args == o.args && env == o.env &&
           config == o.config && restart_key == o.restart_key && tokens == o.tokens &&
           credentials == o.credentials;
  }
};

struct SupervisorOptions {
  RestartPolicy policy;
  int64_t heartbeat_interval_ms = 5000;
  int64_t stop_timeout_ms = 5000;  // SIGTERM -> SIGKILL for each child
  int listen_fd = -1;              // handed to the front as fd 4
  // channels.start waits this long for the worker to say ready before it answers.
  int64_t start_wait_ms = 5000;
  LogoutStore logouts;  // loaded by the caller (a bad file stops the gateway before any child)
};

class Supervisor {
 public:
  Supervisor(boost::asio::io_context& io, const Clock& clock, Logger& log, SupervisorOptions opts);
  ~Supervisor();

  void start(std::vector<ChildSpec> specs);
  // Restarts children whose spec changed, starts new ones, stops removed ones; a running
  // child whose `live` alone changed gets it sent.
  void reload(std::vector<ChildSpec> specs);
  // Sets one child's `live` and sends it if the child is up (a refused reload's snapshot).
  void update_live(const std::string& name, ipc::ReloadMessage live);
  // Stops every child (front first: it says `shutdown` to clients); `done` runs when all exited.
  void stop(std::function<void()> done);

  std::function<void()> on_front_ready;               // every time a front generation reports ready
  std::function<void(const std::string&)> on_status;  // one-line summary for STATUS=

 private:
  // A channels.start waiting for a generation at least `min_generation` to be ready or gone.
  struct StartWaiter {
    uint64_t id = 0;
    uint32_t min_generation = 0;
    std::function<void(bool running)> done;
    std::shared_ptr<boost::asio::steady_timer> deadline;
  };
  struct Child {
    explicit Child(boost::asio::io_context& io) : restart_timer(io) {}
    ChildSpec spec;
    ChildHistory history;
    ChildState state = ChildState::starting;
    std::unique_ptr<Process> proc;
    int pid = 0;
    std::shared_ptr<ipc::Link> link;
    bool hello = false;  // the current generation said hello (its first message must be that)
    bool ready = false;
    bool stop_requested = false;  // the coming exit is one we asked for
    bool remove_on_exit = false;  // dropped by a reload
    bool restart_on_exit = true;
    int64_t started_steady = 0, last_beat_steady = 0, kill_at_steady = 0;
    int64_t since_wall = 0, next_restart_wall = 0, last_start_wall = 0, last_exit_wall = 0;
    uint64_t rss = 0, rss_pushed = 0;        // the latest heartbeat's; the one the front has
    std::optional<sandbox::Report> sandbox;  // as the current generation reported it
    std::string last_error;                  // shown in status until a newer one
    std::string kill_reason;                 // why we killed the current generation, if we did
    std::string lost_reason;  // control socket closed; killed at lost_kill_at_steady if alive
    int64_t lost_kill_at_steady = 0;
    boost::asio::steady_timer restart_timer;
    Hold hold = Hold::none;      // an operator's stop or logout: never started by the supervisor
    TokenPrints spawned_tokens;  // what the latest generation was given (a logout marks them)
    std::vector<StartWaiter> start_waiters;
    std::vector<std::function<void()>> exit_waiters;  // a stop or logout: answered once reaped
  };

  void spawn(Child& c);
  void on_exit(const std::string& name, uint32_t generation, int native_status);
  void on_control(Child& c, uint32_t generation, capnp::MessageReader& r);
  void on_hello(Child& c, uint32_t generation, ipc::Hello::Reader h);
  void on_restart_child(Child& c, ipc::RestartChild::Reader rq);  // from the front only
  void on_lifecycle(Child& c, ipc::ChildLifecycle::Reader rq);    // from the front only
  // Stops `t` and holds it (its hold is set by the caller); `done` once it has no process.
  void lifecycle_stop(Child& t, std::function<void()> done);
  // channels.start: `done` with the plan's outcome and whether the worker then runs.
  void lifecycle_start(Child& t, std::function<void(const StartPlan&, bool running)> done);
  // Applies a logged-out mark to `c` as its tokens are now: holds, or cleared (a login).
  // Returns the tokens' fingerprints now (nullopt: one cannot be read).
  std::optional<TokenPrints> settle_logout(Child& c);
  // A held child: stopped, with why and how to undo it in its status.
  void park(Child& c);
  void answer_start_waiters(Child& c, uint32_t generation, bool running);
  void drop_waiters(Child& c);  // the child goes away: every waiter is answered now
  void on_link_closed(const std::string& name, uint32_t generation, const std::string& reason);
  void request_stop(Child& c, bool restart_after);
  void kill_now(Child& c, const std::string& why);
  void set_state(Child& c, ChildState s, const std::string& error = "");
  void connect_worker(Child& worker);  // fresh socketpair between the front and `worker`
  void send_live(Child& c);            // its spec's `live`, if it is up
  void push_children();
  void arm_watch();
  void check_stopping();
  Child* find(const std::string& name);
  Child* front();

  boost::asio::io_context& io_;
  const Clock& clock_;
  Logger& log_;
  SupervisorOptions opts_;
  std::map<std::string, std::unique_ptr<Child>> children_;
  boost::asio::steady_timer watch_timer_;
  std::mt19937_64 rng_;
  bool stopping_ = false;
  std::function<void()> stop_done_;
  uint64_t next_waiter_ = 0;
};

}  // namespace clawgate::supervisor
