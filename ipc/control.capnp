# Supervisor <-> child control channel (one Unix socketpair per child, inherited at spawn).
# Every child says `hello` first, then `ready`, then `heartbeat`s; the supervisor ignores any
# message whose generation is not the child's current one.
@0xbb4875b3f2e2e688;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("clawgate::ipc");

using Common = import "common.capnp";
using ChildConfig = import "/clawgate/child_config.capnp";  # generated: ipc/CMakeLists.txt

struct Hello {
  role @0 :Common.ChildRole;  # as the supervisor started it, or the link ends
  name @1 :Text;          # child name: "front", "telegram", "telegram:work"
  generation @2 :UInt32;  # as given by the supervisor at spawn
  pid @3 :Int32;
}

struct Heartbeat {
  seq @0 :UInt64;
  rssBytes @1 :UInt64;
}

# A worker's data socket for the front; the fd travels as SCM_RIGHTS with this message.
struct Peer {
  name @0 :Text;
  channel @1 :Text;
  accountId @2 :Text;
  generation @3 :UInt32;
}

struct RestartChild {
  requestId @0 :UInt64;
  name @1 :Text;
}

struct RestartResult {
  requestId @0 :UInt64;
  ok @1 :Bool;
  error @2 :Common.IpcError;
}

# channels.stop / channels.start / channels.logout for one channel worker (front -> supervisor).
# The supervisor owns the answer: it holds the worker's process and its logged-out mark.
enum LifecycleAction {
  stop @0;    # stop it, and keep it stopped (runtime only) until start, a config change or restart
  start @1;   # start it now: also the override for a failed or exit-78 worker
  logout @2;  # stop it and remember, in the state directory, the credentials it was logged out with
}

struct ChildLifecycle {
  requestId @0 :UInt64;
  name @1 :Text;
  action @2 :LifecycleAction;
}

# What a start decided (upstream's `outcome.status`).
enum StartOutcome {
  handedOff @0;  # a worker was started (`running` says whether it got as far as ready)
  retry @1;      # another start or stop owns it (`reason`: start-in-flight, task-owned, ...)
  skipped @2;    # not started (`reason`: logged-out, gateway-stopping)
}

struct ChildLifecycleResult {
  requestId @0 :UInt64;
  ok @1 :Bool;
  error @2 :Common.IpcError;   # when not ok
  running @3 :Bool;            # after the action: the worker runs (its current generation is ready)
  outcome @4 :StartOutcome;    # start only
  reason @5 :Text;             # start: why retry or skipped
  credentialEnv @6 :List(Text);  # logout: variables that still hold its credentials (at most 8)
}

# What a child is sent of the configuration: the part its job needs and nothing else (the keys
# of each kind: schema/child_config.json). Sent first; a change to a worker's restarts it.
struct Reload {
  union {
    front @0 :FrontConfig;
    agent @1 :ChildConfig.AgentConfig;
    telegram @2 :ChildConfig.TelegramConfig;  # one account's worker
    discord @3 :ChildConfig.DiscordConfig;    # one account's worker
    slack @4 :ChildConfig.SlackConfig;        # one account's worker
  }
}

# The front reads the config file itself; it is sent what it shows but does not run on.
struct FrontConfig {
  configSnapshot @0 :Text;  # config.get's answer (JSON, secrets redacted), after every reload
}

struct Control {
  union {
    hello @0 :Hello;                            # child -> supervisor, first message
    ready @1 :Void;                             # child -> supervisor
    heartbeat @2 :Heartbeat;                    # child -> supervisor
    stop @3 :Void;                              # supervisor -> child: finish and exit 0
    reload @4 :Reload;                          # supervisor -> child: its settings
    peer @5 :Peer;                              # supervisor -> front (+ fd)
    children @6 :List(Common.ChildStatus);      # supervisor -> front: the whole table
    restartChild @7 :RestartChild;              # front -> supervisor (channels.restart)
    restartResult @8 :RestartResult;            # supervisor -> front
    error @9 :Common.IpcError;                  # either way: a typed failure
    sandbox @10 :Common.SandboxReport;          # child -> supervisor, once it is sandboxed
    lifecycle @11 :ChildLifecycle;              # front -> supervisor (channels.stop|start|logout)
    lifecycleResult @12 :ChildLifecycleResult;  # supervisor -> front
  }
}
