# Front <-> agent worker (a data socket handed over like a channel worker's). The front owns
# sessions and transcripts; the worker only turns a run request (the conversation so far) into
# a streamed answer from a model provider, and can be killed at any moment without losing
# anything but the runs in flight (which the front ends with an error).
@0x8e05f2985f3c254b;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("clawgate::ipc");

using Common = import "common.capnp";

struct RunMessage {
  role @0 :Text;  # "user" | "assistant" | "system"
  text @1 :Text;
}

struct RunRequest {
  runId @0 :Text;
  sessionKey @1 :Text;
  messages @2 :List(RunMessage);  # oldest first; the last one is the new user message
  timeoutMs @3 :UInt32;           # 0: the worker's default
  isHeartbeat @4 :Bool;
  # A compaction: the worker asks the model for a summary of `messages` (and of
  # previousSummary, which it updates) instead of an answer; no assistant events, the summary
  # is the done's text. Refused when no model is configured.
  summarize @5 :Bool;
  previousSummary @6 :Text;
}

struct RunEvent {
  runId @0 :Text;
  stream @1 :Text;  # "lifecycle" | "assistant"
  phase @2 :Text;   # lifecycle: "start"
  text @3 :Text;    # unused: the front accumulates the deltas (kept for the wire layout)
  delta @4 :Text;   # assistant: what this event added
}

struct RunDone {
  runId @0 :Text;
  ok @1 :Bool;
  aborted @2 :Bool;
  text @3 :Text;    # the whole answer (also when aborted: what had streamed)
  error @4 :Common.IpcError;
  model @5 :Text;   # "provider/model" or "offline"
  inputTokens @6 :UInt32;
  outputTokens @7 :UInt32;
}

struct AgentMsg {
  union {
    hello @0 :Text;          # worker -> front: "provider/model" or "offline"
    run @1 :RunRequest;      # front -> worker
    abort @2 :Text;          # front -> worker: runId
    event @3 :RunEvent;      # worker -> front
    done @4 :RunDone;        # worker -> front, exactly once per run
  }
}
