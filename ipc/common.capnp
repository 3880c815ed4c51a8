# Types shared by every process boundary.
@0xa6a9f28e0932e357;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("clawgate::ipc");

# Errors cross process boundaries typed, never flattened to a string.
# Why something failed, the same word on every link. ipc/error.hpp names each (as status shows
# it) and maps it to the protocol's ErrorShape.code for clients.
enum ErrorCode {
  unavailable @0;     # the peer or a platform cannot do it now (UNAVAILABLE)
  invalidRequest @1;  # the request itself is wrong; retrying will not help (INVALID_REQUEST)
  rateLimited @2;     # a platform said slow down; see retryAfterMs (UNAVAILABLE, retryable)
  conflict @3;        # someone else holds the resource, e.g. another poller (UNAVAILABLE)
  timeout @4;         # it took longer than allowed (AGENT_TIMEOUT)
  notFound @5;        # the named thing does not exist (INVALID_REQUEST)
  unauthorized @6;    # credentials refused by a platform or provider (UNAVAILABLE)
  internal @7;        # a bug on the peer's side (UNAVAILABLE)
  notPaired @8;       # a device that must be paired first (NOT_PAIRED)
  forbidden @9;       # authenticated, but without the scope it needs (FORBIDDEN, protocol 4)
}

struct IpcError {
  code @0 :ErrorCode;
  message @1 :Text;
  retryable @2 :Bool;
  retryAfterMs @3 :UInt32;
}

# What a supervised child is (its hello says it; the children table shows it). A value this
# build does not know is garbage: the supervisor ends that child's link, the front refuses the
# children table it came in.
enum ChildRole {
  front @0;
  agent @1;
  channel @2;   # a channel account's worker
}

enum ChildState {
  starting @0;
  running @1;
  backoff @2;
  failed @3;    # intensity window exceeded: still retried, at the slowest rate
  stopped @4;   # exit 78 (config) or stopped by the operator: not retried until reload
}

# An operator's hold on a channel worker (channels.stop, channels.logout).
enum ChildHold {
  none @0;
  stopped @1;    # channels.stop: until channels.start, a config change for it, or a gateway restart
  loggedOut @2;  # channels.logout: until its credentials change (persisted in the state directory)
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
  role @1 :ChildRole;
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
  hold @15 :ChildHold;       # why a stopped worker is not started again
}

# Slack HTTP mode's requests on the front <-> worker data link (data.capnp), here because that
# file's own struct Data shadows the built-in Data type.
# Front -> worker: one HTTP request the front took on the account's webhook path (Slack HTTP
# mode), raw: the worker holds the signing secret and checks it; the front never reads the body.
struct HttpRequest {
  requestId @0 :UInt64;     # the front's; the answer names it
  contentType @1 :Text;
  timestamp @2 :Text;       # X-Slack-Request-Timestamp ("" when absent)
  signature @3 :Text;       # X-Slack-Signature ("" when absent)
  retryNum @4 :Int32 = -1;  # X-Slack-Retry-Num (-1 when absent; for logs only)
  body @5 :Data;            # at most 1 MiB
}

# Worker -> front: the answer to send back. The front answers 503 itself when none comes in time.
struct HttpResponse {
  requestId @0 :UInt64;
  status @1 :UInt16;
  contentType @2 :Text;
  body @3 :Data;            # small: a challenge, "" or an error word
}
