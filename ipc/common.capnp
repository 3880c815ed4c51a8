# Types shared by every process boundary.
@0xa6a9f28e0932e357;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("clawgate::ipc");

# Errors cross process boundaries typed, never flattened to a string.
struct IpcError {
  code @0 :Text;          # UNAVAILABLE | INVALID_REQUEST | CONFLICT | RATE_LIMITED | NOT_FOUND | INTERNAL
  message @1 :Text;
  retryable @2 :Bool;
  retryAfterMs @3 :UInt32;
}

enum ChildState {
  starting @0;
  running @1;
  backoff @2;
  failed @3;    # intensity window exceeded: still retried, at the slowest rate
  stopped @4;   # exit 78 (config) or stopped by the operator: not retried until reload
}

# What a child's sandbox enforces, as the child applied it (see common/sandbox.hpp).
struct SandboxReport {
  reported @0 :Bool;            # false until the child has applied its sandbox
  noNewPrivs @1 :Bool;
  seccomp @2 :Bool;             # the syscall filter is loaded
  landlockAbi @3 :UInt32;       # the kernel's Landlock ABI, 0 when it has none
  landlock @4 :Bool;            # a Landlock ruleset is enforced
  notApplied @5 :List(Text);    # what the policy wanted and the kernel could not do
}

struct ChildStatus {
  name @0 :Text;
  role @1 :Text;
  channel @2 :Text;
  accountId @3 :Text;
  state @4 :ChildState;
  pid @5 :Int32;
  generation @6 :UInt32;
  restarts @7 :UInt32;
  lastError @8 :Text;
  sinceMs @9 :Int64;         # wall clock of the last state change
  nextRestartMs @10 :Int64;  # wall clock, 0 when none is scheduled
  lastStartMs @11 :Int64;
  lastExitMs @12 :Int64;
  rssBytes @13 :UInt64;      # from the child's last heartbeat
  sandbox @14 :SandboxReport;
}
