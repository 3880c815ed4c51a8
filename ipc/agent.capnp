# Front <-> agent worker (a data socket handed over like a channel worker's). The front owns
# sessions and transcripts; the worker only turns a run request (the conversation so far) into
# a streamed answer from a model provider, and can be killed at any moment without losing
# anything but the runs in flight (which the front ends with an error).
#
# Either side may die; the two cases differ:
# - The worker dies: its runs are gone; the front ends them with an error.
# - The front dies (kill -9): the worker keeps its runs going and keeps every outcome until a
#   front acknowledges it (`doneAck`). When the supervisor hands it a link to the next front, it
#   says `hello`, then one `resume` per run it still has: running ones with the text so far,
#   ended ones with their `done`, then `resumed`. The new front adopts them (agent.wait, chat.history, the
#   channel reply) and acknowledges each `done` once its outcome is stored (transcript line and
#   outbound entry, both keyed by the run id, so an outcome reported twice is stored once).
#   What the worker holds is bounded (AgentWorker::kMaxUnacked runs, kMaxUnackedBytes of text;
#   past that the oldest outcome is dropped, logged).
@0x8e05f2985f3c254b;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("clawgate::ipc");

using Common = import "common.capnp";

# The enums below are read with exhaustive switches at both ends; a value this build does not
# know (capnp lets a peer send any) is garbage: the message is refused (agent_link.hpp,
# agent_worker.hpp say how), never guessed at.

enum ChatRole {
  user @0;
  assistant @1;
  system @2;
}

struct RunMessage {
  role @0 :ChatRole;
  text @1 :Text;
}

# What started a run (runs.hpp Origin): decides its queue lane's mode and whether it runs in the
# background (cron, heartbeat).
enum RunKind {
  chat @0;       # chat.send
  agent @1;      # the agent method
  channel @2;    # a channel message
  cron @3;
  heartbeat @4;
}

# What a run answers, as the front that started it knew it: the worker does not read it, it
# only hands it back in `resume`, so a front that never saw the run can deliver its answer.
struct RunOrigin {
  kind @0 :RunKind;
  channel @1 :Text;     # deliver the answer here when channel and to are set
  accountId @2 :Text;
  to @3 :Text;
  startedAtMs @4 :Int64;  # wall clock, when the front accepted the run
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
  origin @7 :RunOrigin;           # kept by the worker for `resume`
  # The node tools to offer the model: the connected nodes with commands the agent may run
  # (core/node_tools.hpp). Empty: no tools. At most contract::lists::kNodeOffers.
  nodes @8 :List(NodeOffer);
}

struct NodeOffer {
  nodeId @0 :Text;
  displayName @1 :Text;
  platform @2 :Text;
  commands @3 :List(Text);  # what node.invoke would run for the agent now
}

# Model tools. The worker reads the model's tool calls (hostile text: parsed in the sandbox)
# into typed requests; the front runs them (the same node.invoke policy operators meet), records
# them in the transcript and answers each with a ToolResult. The worker never talks to nodes.
enum NodeToolAction {
  status @0;    # the nodes (node.list)
  describe @1;  # one node (node.describe)
  invoke @2;    # one command on one node (node.invoke)
}

struct NodeToolRequest {
  action @0 :NodeToolAction;
  node @1 :Text;        # id or display name as the model gave it; "": the only connected node
  command @2 :Text;     # invoke
  paramsJson @3 :Text;  # invoke: a JSON value, "" for none
  timeoutMs @4 :UInt32; # invoke: 0 for the node.invoke default
}

struct ToolCall {
  callId @0 :Text;         # the provider's id (unique within the run); the result names it
  name @1 :Text;           # as the model named the tool
  argumentsJson @2 :Text;  # as the model sent them (for events and the transcript)
  union {
    # The worker could not read the call (unknown tool, malformed or oversized arguments): the
    # front records it and answers with this error, without running anything.
    refused @3 :Common.IpcError;
    node @4 :NodeToolRequest;
  }
}

# One model turn that asked for tools: its text and its calls, in the model's order.
struct ToolRound {
  runId @0 :Text;
  round @1 :UInt32;  # 1, 2, ...
  text @2 :Text;     # what the model said in this turn before asking
  calls @3 :List(ToolCall);
}

struct ToolResult {
  runId @0 :Text;
  callId @1 :Text;
  isError @2 :Bool;
  text @3 :Text;  # what the model reads (JSON text, or the error's message)
}

enum RunStream {
  lifecycle @0;  # phase says which
  assistant @1;  # delta says what
}

enum RunPhase {
  none @0;   # an assistant event
  start @1;  # the run began (its end is the `done`)
}

struct RunEvent {
  runId @0 :Text;
  stream @1 :RunStream;
  phase @2 :RunPhase;
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

# A run the worker still has when a (new) front link comes up, sent right after `hello`.
struct RunResume {
  runId @0 :Text;
  sessionKey @1 :Text;
  origin @2 :RunOrigin;
  isHeartbeat @3 :Bool;
  text @4 :Text;        # running: the answer so far (what follows comes as `event`s)
  ended @5 :Bool;       # the run is over and `done` is its outcome
  done @6 :RunDone;
}

struct AgentMsg {
  union {
    hello @0 :Text;          # worker -> front: "provider/model" or "offline"
    run @1 :RunRequest;      # front -> worker
    abort @2 :Text;          # front -> worker: runId
    event @3 :RunEvent;      # worker -> front
    done @4 :RunDone;        # worker -> front, once per run per link (again in `resume` on a
                             # new link until acknowledged)
    resume @5 :RunResume;    # worker -> front, after hello: a run it still has
    doneAck @6 :Text;        # front -> worker: runId whose outcome is stored; forget it
    resumed @7 :Void;        # worker -> front, after the last `resume`: the front may now
                             # start the messages the old front had queued (runs.hpp)
    toolRound @8 :ToolRound;    # worker -> front: run these, answer each with a toolResult
    toolResult @9 :ToolResult;  # front -> worker, once per call
  }
}
