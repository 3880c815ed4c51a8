// RunManager: agent runs as clients see them. Serves agent / agent.wait / chat.send /
// chat.history / chat.abort and sessions.*, turns the agent worker's stream into `agent` events
// (seq per run, from 1) and `chat` events (deltas at most one per 150 ms per run carrying the
// whole text so far; final / error / aborted always sent), writes both sides of every run to
// the session transcript, and delivers answers to channel messages back through the channel.
// Every run asks its session's lane (lanes.hpp) for its turn: one run at a time per session,
// messages meanwhile per messages.queue, at most maxConcurrent across sessions. A caller hears
// back at once either way; its final comes when its run, or the turn that took its message in
// (collected, summarised), ends. Started runs wait in a queue while the agent worker is away;
// a worker that dies mid-run ends its runs with an `error` (lifecycle and chat), never a silent
// hang.
// History: a run is sent the session's summary and newest turns that fit the model's context
// window (history.hpp; from memory, so starting a run costs the same at any transcript length).
// When the history nears the window a compaction runs first (the agent worker writes a summary
// that replaces the older turns for later runs; the transcript keeps every line), as does
// sessions.compact; the session's turns wait for it, and the turn that asked for one gets
// `agent` events on the "compaction" stream (phase start, then end with completed).
// A front that dies mid-run loses nothing: the agent worker keeps the run and, on this front's
// link, resumes it (agent.capnp): the run is adopted here with the text so far (agent.wait,
// chat events, the session's lane), and its outcome is stored exactly once, because the answer
// is written only when the transcript's tail has no answer with its runId, and its channel
// reply is queued under the idempotency key "run:<runId>" (outbound_queue.hpp), which the
// durable queue already knows when the old front queued it. The worker forgets an outcome once
// it is stored here (doneAck).
// Tools: a run is offered the nodes its AgentTools names (node_tools.hpp); each tool round the
// worker sends is written to the transcript (the assistant turn with its toolCalls, then one
// toolResult line per call), shown as `agent` events on the "tool" stream (phase start, then
// result; to clients that asked for tool-events), run through AgentTools, and answered to the
// worker once per call. A run's answer line then holds only the text after its last round.
// Where it lives: runs.cpp (a run's life: start, its lane turn, dispatch, events, finish,
// abort), run_tools.cpp (tool rounds), runs_from_agent.cpp (what the agent worker says, resumed
// runs, restarting the messages an earlier front queued), run_methods.cpp (the method table; agent,
// agent.wait, chat.*), session_methods.cpp (sessions.*), compaction.cpp (summaries); the link
// itself is agent_link.hpp. Fails: every method error is typed (INVALID_REQUEST, UNAVAILABLE +
// retryable); transcript write failures end the run with an error; nothing throws into the loop.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "core/agent_link.hpp"
#include "core/agent_tools.hpp"
#include "core/channels.hpp"
#include "core/lanes.hpp"
#include "core/sessions.hpp"
#include "log.hpp"
#include "protocol_gen.hpp"

namespace clawgate::core {

class RunManager final : private AgentLink::Listener {
 public:
  static constexpr int64_t kDeltaIntervalMs = 150;
  // Windows past this many tokens count as this many: a run carries at most ~8 MiB of history
  // over the agent link (32 MiB per message) and to the provider.
  static constexpr size_t kMaxWindowTokens = 2'000'000;
  // What the agent worker's system prompt and request framing may take of the window.
  static constexpr size_t kSystemTokens = 512;
  // The summarizing request's own words (upstream's prompt and system prompt): ~600 tokens.
  static constexpr size_t kSummaryPromptTokens = 1024;
  // Upstream's compaction reserve: the history is compacted once it passes the window less
  // min(this, window / 4).
  static constexpr size_t kCompactionReserveTokens = 20'000;
  // A summary longer than this (UTF-16 units, as upstream's MAX_COMPACTION_SUMMARY_CHARS) is cut.
  static constexpr size_t kMaxSummaryUnits = 16'000;
  static constexpr int64_t kMaxTrimLines = 1'000'000;
  static constexpr int64_t kSnapshotTtlMs = 10 * 60 * 1000;
  static constexpr size_t kMaxSnapshots = 2000;
  static constexpr int64_t kAgentWaitMaxMs = 24 * 3600 * 1000;
  // Bounds on callers waiting for runs: per run (retries of `agent`, agent.wait) and in all.
  static constexpr size_t kMaxFinalsPerRun = 16;
  static constexpr size_t kMaxWaitersPerRun = 64;
  static constexpr size_t kMaxWaiters = 4096;
  static constexpr size_t kHistoryMaxBytes = 6 * 1024 * 1024;
  // How far back a resumed run's answer is looked for: the turns of the few seconds between
  // the old front storing it and this one adopting the run.
  static constexpr size_t kResumeScanMessages = 64;
  static constexpr size_t kMaxResumeFieldBytes = 1024;  // runId, origin fields from the worker
  // recover_waiting() looks at the most recently updated sessions only, and restarts at most
  // so many messages: a front restart costs bounded reading, whatever the state dir holds.
  static constexpr size_t kRecoverSessions = 1000;
  static constexpr size_t kMaxRecovered = 1000;
  // ...and only messages younger than this: one queued long ago (an old crash, an upgrade from
  // a version that did not recover them) is history now, not a question to answer.
  static constexpr int64_t kRecoverMaxAgeMs = 60 * 60 * 1000;
  // Tool calls one run may make (the worker bounds its rounds; this bounds a worker that does
  // not): past it a call is answered with an error and nothing runs.
  static constexpr size_t kMaxToolCallsPerRun = 1024;

  using Emit = std::function<void(const std::string& event, const Json& payload, bool droppable)>;

  RunManager(boost::asio::io_context& io, const Clock& clock, Logger& log, SessionStore& sessions,
             ChannelHub* hub, Emit emit, const QueueSettings& queue = QueueSettings(),
             const HistorySettings& history = HistorySettings());
  ~RunManager();
  RunManager(const RunManager&) = delete;
  RunManager& operator=(const RunManager&) = delete;

  void attach_agent(int fd, uint32_t generation) { agent_.attach(fd, generation); }
  // Where tool-stream `agent` events go (only clients that asked for them); the tools runs may
  // use (nullptr: none offered; calls then fail).
  using ToolEmit = std::function<void(const Json& payload)>;
  void set_tool_events(ToolEmit emit) { tool_emit_ = std::move(emit); }
  void set_tools(AgentTools* tools) { tools_ = tools; }
  // The protocol methods it serves (its method table, run_methods.cpp: the one list of them).
  static bool serves(schema::Method m);
  bool call(schema::Method m, const Json& params, const ReplyFn& reply);  // false: not its method

  // What starts a run besides a client: a channel message, cron, the heartbeat.
  struct Origin {
    ipc::RunKind kind = ipc::RunKind::CHAT;
    std::string channel, account_id, to;  // deliver the answer here when set
    size_t context_limit = 50;            // group context messages the agent sees (historyLimit)
    std::string sender;                   // who sent it, named in a collected turn
    // channel: the transcript entry the inbound router wrote (as a message, or as a queued
    // record when the session was busy); the run writes it as its turn when that begins.
    Json entry;
    std::optional<QueueMode> mode;  // chat.send's queueMode; else messages.queue by channel
    // The message is on disk as a queued record already (`entry`, from a front that died
    // before its turn): not written again; its turn writes it as a message, taking the record.
    bool recovered = false;
  };
  using DoneHook = std::function<void(bool ok, const std::string& text, const std::string& error)>;
  // Returns "", or an error message when refused (queue full, another agent's session, the
  // transcript cannot be written).
  std::string start(const SessionKey& session_key, const std::string& message,
                    const std::string& run_id, Origin origin, DoneHook on_done = nullptr,
                    bool is_heartbeat = false);
  // Who finishes a cron or heartbeat run that a restarted front adopts from the agent worker:
  // the DoneHook its starter gave died with the old front. Given the adopted run, returns the
  // hook to call when it ends (nullptr: nobody waits for it; its answer is stored all the same).
  using AdoptHook = std::function<DoneHook(const std::string& run_id, const Origin& origin,
                                           bool heartbeat, int64_t started_ms)>;
  void on_adopt_background(AdoptHook hook) { adopt_hook_ = std::move(hook); }
  bool agent_connected() const { return agent_.ready(); }
  const std::string& model_label() const { return agent_.model_label(); }
  size_t active_runs() const { return runs_.size(); }
  // True when a message for `session_key` would wait for an earlier turn.
  bool turn_waits(const SessionKey& session_key) const;
  const SessionLanes& lanes() const { return lanes_; }
  // The token budgets in effect (history settings, clamped): what a run's history may take,
  // and the size past which it is compacted first.
  size_t window_tokens() const;
  size_t input_budget() const;
  size_t compaction_threshold() const;
  bool compacting(const SessionKey& key) const { return compactions_.count(key.str()) > 0; }

 private:
  // Why a run cannot go to `key`, or "": clawgate runs one agent (SessionKey::kDefaultAgent);
  // another agent's key is refused as upstream refuses an agent it does not have.
  static std::string refusal(const SessionKey& key);
  // Parses a session key from request params; on refusal answers INVALID_REQUEST with the reason.
  static std::optional<SessionKey> key_param(const std::string& text, const ReplyFn& reply);

  struct Run {
    Run(boost::asio::io_context& io, SessionKey key)
        : session_key(std::move(key)), delta_timer(io) {}
    std::string id;
    SessionKey session_key;
    std::string user_text;
    Origin origin;
    bool heartbeat = false;
    bool sent = false;             // handed to the agent worker...
    uint32_t sent_generation = 0;  // ...of this generation
    uint64_t seq = 0;              // agent event seq
    std::string text, emitted_text;
    std::string agent_delta;  // streamed since the last agent assistant event
    int64_t started_ms = 0, last_delta_ms = 0;
    boost::asio::steady_timer delta_timer;
    bool delta_pending = false;
    std::vector<ReplyFn> finals;  // `agent` callers awaiting their second res
    DoneHook on_done;
    Json line;                        // the user turn as the transcript keeps it
    bool line_written = false;        // ...written already (the session was free when it came)
    bool adopted = false;             // its turn began (else it waits in its session's lane)
    std::string carrier;              // answered by that run's turn (collected or summarised)
    std::vector<std::string> merged;  // runs this run's turn answers too
    bool compaction_tried = false;    // its turn asked for a compaction already
    bool resumed = false;             // adopted from the agent worker after a front restart
    size_t tool_calls = 0;            // made so far
    size_t text_recorded = 0;         // bytes of `text` the tool rounds' lines hold already
  };
  // A compaction in flight: the agent worker writes the summary; the session's runs wait.
  struct Compaction {
    std::string id;  // on the agent link, as a run id
    SessionKey key = SessionKey::main();
    std::string reason;  // "manual" | "auto-threshold" (upstream's checkpoint reasons)
    uint64_t cut_offset = 0;
    size_t tokens_before = 0, kept_tokens = 0;
    uint32_t generation = 0;
    std::string trigger;                // the run whose turn asked for it ("" for sessions.compact)
    std::vector<ReplyFn> replies;       // sessions.compact callers
    std::vector<std::string> deferred;  // runs of the session waiting for it, in order
  };
  enum class Dispatch { sent, refused, deferred, ended };
  // How a run ends: on its own, as part of another run's turn, or without ever running.
  enum class EndKind { own, merged, unrun };
  struct Outcome {
    bool ok = false, aborted = false;
    std::string text, error, model;
  };
  struct Snapshot {
    Json json;  // agent.wait payload
    bool ok = false;
    int64_t at_ms = 0;
  };
  // One entry of the method table.
  struct Route {
    schema::Method method;
    void (*handler)(RunManager& self, const Json& params, const ReplyFn& reply);
  };
  // A route's handler: the validated params converted to the method's typed struct.
  template <class P, void (RunManager::*H)(const P&, const ReplyFn&)>
  static void typed(RunManager& self, const Json& params, const ReplyFn& reply) {
    (self.*H)(params.get<P>(), reply);
  }

  // --- a run's life (runs.cpp)
  Json user_line(const std::string& message, const std::string& run_id, const Origin& origin,
                 int64_t now) const;
  LaneMessage lane_message(const std::string& message, const std::string& run_id,
                           const Origin& origin, bool background) const;
  void apply(LaneActions a);
  void adopt(const LaneTurn& t);
  void arm_lanes();
  // What names a run's queued record: the inbound id of a channel message, else the runId.
  static std::string record_id(const Run& r);
  // A queued record that will never become a turn is marked so (sessions.hpp, read).
  void withdraw(const SessionKey& key, const std::string& run_id, const Json& line,
                const std::string& reason);
  void pump();
  Dispatch dispatch(Run& r);
  // Sends the run with the newest turns of `h` that fit its budget.
  Dispatch send_run(Run& r, const SessionHistory& h);
  void agent_event(Run& r, const std::string& stream, Json data);
  void flush_delta(Run& r);
  Json chat_message(const std::string& role, const std::string& text, int64_t ts) const;
  Json history_message(const Json& entry) const;  // a transcript entry for chat.history
  void finish(const std::string& run_id, bool ok, bool aborted, const std::string& text,
              const std::string& error, const std::string& model) {
    finish(run_id, Outcome{ok, aborted, text, error, model}, EndKind::own);
  }
  void finish(const std::string& run_id, const Outcome& o, EndKind kind);
  // The parts of finish(), in its order: the answer into the transcript (a failure to write
  // it turns `o` into an error), the end events, the channel reply, the callers waiting.
  void store_answer(const Run& r, Outcome& o, int64_t now);
  void emit_end(Run& r, const Outcome& o, bool own, int64_t now);
  void show_typing(const Run& r, bool active);
  void deliver_answer(const Run& r, const Outcome& o);
  void answer_callers(Run& r, const Outcome& o, int64_t now);
  void remember(const std::string& run_id, Snapshot s);
  bool abort(const std::string& run_id, const std::string& reason);
  // Every run of a session, waiting ones first (upstream's order for a session-wide abort:
  // the queue cannot then promote work into a half-stopped session); returns those ended.
  Json abort_session(const SessionKey& key, const std::string& reason);

  // --- what the agent worker says (runs_from_agent.cpp)
  void on_agent_hello() override;
  void on_agent_event(const AgentLink::Event& e) override;
  void on_agent_done(const AgentLink::Done& d) override;
  // A run the agent worker still has from before this front (or this link) came up.
  void on_agent_resume(const AgentLink::Resume& rs) override;
  void on_agent_resumed() override { recover_waiting(); }
  void on_agent_tools(const AgentLink::ToolRound& round) override;
  void on_agent_lost(uint32_t generation, const std::string& reason) override;
  // Makes a resumed run this front's own: a Run holding its session's lane.
  void adopt_resumed(const AgentLink::Resume& rs, const SessionKey& key);
  // The transcript's tail already has this run's answer (an earlier front stored it).
  bool answered(const Run& r) const;
  // Messages an earlier front accepted and queued but never started (queued records nothing
  // took, sessions.hpp read): started now, in their order, once per front, after the agent
  // worker resumed what it had (so none overtakes the run it was waiting for).
  void recover_waiting();
  // Starts one of them; false when it is not one to start (or could not be started).
  bool restart_queued(const SessionKey& key, const Json& rec, int64_t now);

  // --- tool rounds (run_tools.cpp)
  void record_round(Run& r, const AgentLink::ToolRound& round);
  void start_call(Run& r, const AgentLink::ToolCall& call);
  void end_call(const std::string& run_id, uint32_t generation, const std::string& call_id,
                const std::string& name, const AgentTools::Outcome& o);
  void tool_event(Run& r, Json data);

  // --- methods (run_methods.cpp, session_methods.cpp)
  static const Route* route(schema::Method m);
  void m_agent(const schema::params::Agent& p, const ReplyFn& reply);
  // The second answer of an `agent` call whose run ended already.
  void agent_final(const Snapshot& s, bool retryable, const ReplyFn& reply) const;
  std::optional<Origin> agent_origin(const SessionKey& key, const schema::params::Agent& p,
                                     const ReplyFn& reply) const;
  void m_agent_wait(const schema::params::AgentWait& p, const ReplyFn& reply);
  void m_chat_send(const schema::params::ChatSend& p, const ReplyFn& reply);
  void m_chat_history(const schema::params::ChatHistory& p, const ReplyFn& reply);
  void m_chat_abort(const schema::params::ChatAbort& p, const ReplyFn& reply);
  void m_sessions_list(const schema::params::SessionsList& p, const ReplyFn& reply);
  void m_sessions_preview(const schema::params::SessionsPreview& p, const ReplyFn& reply);
  // The fields to set are the params themselves (every one but the key and the expectations).
  void m_sessions_patch(const schema::params::SessionsPatch& p, const Json& fields,
                        const ReplyFn& reply);
  void m_sessions_reset(const schema::params::SessionsReset& p, const ReplyFn& reply);
  void m_sessions_delete(const schema::params::SessionsDelete& p, const ReplyFn& reply);
  void m_sessions_compact(const schema::params::SessionsCompact& p, const ReplyFn& reply);
  // sessions.compact with maxLines: only the newest lines stay visible to the model.
  Reply trim_history(const SessionKey& key, const SessionHistory& h, int64_t max_lines);

  // --- compaction (compaction.cpp)
  // Asks the agent worker for a summary of the session's older turns. "" when it went; else
  // why not (`nothing` set when there was nothing to summarize).
  std::string start_compaction(const SessionKey& key, const std::string& reason,
                               const std::string& trigger, bool* nothing);
  // Ends the session's compaction: with `summary` stored as its compaction entry when `ok`,
  // else with `why`; answers its callers and lets the session's runs go.
  void end_compaction(const std::string& session, bool succeeded, const std::string& summary,
                      const std::string& why);
  // Stores the summary as the session's compaction entry: its result, or null with `error`.
  Json store_summary(const Compaction& c, const std::string& summary, size_t tokens_after,
                     std::string* error);
  // A compaction of a transcript that goes away would store its summary in the next one.
  void stop_compaction(const SessionKey& key, const char* why);

  boost::asio::io_context& io_;
  const Clock& clock_;
  Logger& log_;
  SessionStore& sessions_;
  ChannelHub* hub_;
  Emit emit_;
  AdoptHook adopt_hook_;
  ToolEmit tool_emit_;
  AgentTools* tools_ = nullptr;
  // Set while alive: a tool's answer may come after the manager is gone (the node service
  // outlives it in the front).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  AgentLink agent_;
  QueueSettings queue_settings_;
  HistorySettings history_settings_;
  std::map<std::string, Compaction> compactions_;  // by session key
  SessionLanes lanes_;
  boost::asio::steady_timer lane_timer_;              // the lanes' next quiet window
  std::optional<int64_t> lane_wake_;                  // ...armed for this steady time
  std::map<std::string, std::unique_ptr<Run>> runs_;  // not ended (waiting or going), by runId
  std::deque<std::string> queue_;                     // started runs not yet sent to the worker
  std::map<std::string, Snapshot> done_;              // finished, for agent.wait and dedupe
  std::map<std::string, std::vector<std::pair<std::shared_ptr<boost::asio::steady_timer>, ReplyFn>>>
      waiters_;              // agent.wait callers by runId
  size_t waiter_count_ = 0;  // entries across waiters_
  bool recovered_ = false;   // recover_waiting() ran
  int64_t started_ms_;       // when this front started: later queued records are its own
};

}  // namespace clawgate::core
