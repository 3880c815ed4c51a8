// AgentWorker: the agent process's run engine. Takes run requests from the front, answers each
// with a model provider's stream (or the offline agent when no model is configured), and
// reports events and exactly one `done` per run. Runs are independent; at most max_runs go at
// once (the front's agents.defaults.maxConcurrent plus its cron and heartbeat runs) and
// kMaxQueued wait, beyond that a run is refused at once (typed, retryable).
// Retries 429/5xx/network failures before any text streamed (backoff 1 s, 2 s, 4 s, bounded by
// the run's deadline); a run past its timeout or aborted stops its HTTP stream.
// A run may instead ask for a compaction's summary (summarize.hpp): the same provider stream with
// the summarizing prompt, no assistant events, the summary as the done's text.
// Surviving the front: a lost front link stops nothing. Runs go on (their deltas go nowhere,
// the text accumulates), and every run's outcome is kept until a front acknowledges it
// (doneAck), in at most kMaxUnacked outcomes and kMaxUnackedBytes of text (past either, the
// oldest is dropped and logged: that answer is then lost, never the worker). A new front link
// (attach_front) hears `hello`, then one `resume` per run still going or ended unacknowledged
// (agent.capnp says how the front adopts them).
// Tools: a run the front offers nodes for (RunRequest.nodes) is offered the `nodes` tool
// (node_tool.hpp). A model turn that ends in tool calls is a tool round: the calls go to the
// front as one ToolRound (read into typed requests here, refused ones included), the run waits
// for a ToolResult per call (at most the calls' timeouts plus kToolGraceMs; a lost front link
// answers them at once with an error), then asks the model again with the calls and results
// appended. At most max_tool_rounds rounds: a model still calling tools after that ends the
// run with an error (the text so far kept). Tool code: agent_tools.cpp.
// Fails: never throws into the loop. A run request carrying an enum value this build does not
// know (a message's role, its origin's kind) is refused: its done says why (INVALID_REQUEST).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent.capnp.h"
#include "link.hpp"
#include "log.hpp"
#include "node_tool.hpp"
#include "providers.hpp"

namespace clawgate::workers {

// The answer a fresh install gives: no model configured, said plainly, with what to do.
extern const char* const kOfflineAnswer;

class AgentWorker {
 public:
  static constexpr size_t kDefaultMaxRuns = 8;
  static constexpr size_t kMaxAnswerBytes = 1 << 20;  // one answer; the run ends past it
  static constexpr size_t kMaxQueued = 64;
  static constexpr uint32_t kDefaultTimeoutMs = 600'000;
  static constexpr int kMaxAttempts = 4;
  // Outcomes kept until the front acknowledges them (a front that died before storing them
  // hears them again from resume): a few minutes of a busy gateway's runs, well under the
  // agent link's queue.
  static constexpr size_t kMaxUnacked = 256;
  static constexpr size_t kMaxUnackedBytes = 32u << 20;
  static constexpr size_t kMaxOriginBytes = 1024;       // each RunOrigin field kept for resume
  static constexpr uint32_t kDefaultMaxToolRounds = 8;  // agents.defaults.maxToolRounds
  static constexpr uint32_t kToolGraceMs = 15'000;      // over a round's longest call timeout
  static constexpr uint32_t kDefaultInvokeMs = 30'000;  // node.invoke's default timeout

  AgentWorker(boost::asio::io_context& io, Logger& log, std::optional<ProviderConfig> model,
              std::string system_prompt, uint32_t default_timeout_ms = kDefaultTimeoutMs,
              size_t max_runs = kDefaultMaxRuns, uint32_t max_tool_rounds = kDefaultMaxToolRounds);
  ~AgentWorker();
  void attach_front(int fd);
  std::string model_label() const { return model_ ? model_->label() : "offline"; }

 private:
  // RunOrigin as the front sent it: handed back in resume, never read here.
  struct Origin {
    ipc::RunKind kind = ipc::RunKind::CHAT;
    std::string channel, account_id, to;
    int64_t started_ms = 0;
  };
  // A tool round the front is running: the calls sent, the results in so far (by call id).
  struct ToolWait {
    std::vector<ToolCall> calls;
    std::map<std::string, ChatTurn> results;
  };
  struct Run {
    explicit Run(boost::asio::io_context& io) : deadline(io), step(io), tool_timer(io) {}
    std::string id, session_key;
    Origin origin;
    bool heartbeat = false;
    std::vector<ChatTurn> turns;
    bool summarize = false;  // a compaction's summary (summarize.hpp), not an answer
    std::string text;
    int attempts = 0;
    size_t offline_pos = 0;
    std::unique_ptr<ModelStream> stream;
    boost::asio::steady_timer deadline, step, tool_timer;
    bool finished = false;
    std::vector<ToolSpec> tools;  // offered to the model (empty: none)
    uint32_t rounds = 0;          // tool rounds so far
    size_t round_from = 0;        // where this model turn's text begins in `text`
    bool fresh_turn = false;      // a model turn after a tool round: its text is set apart
    std::optional<ToolWait> waiting;
    int in_tokens = 0, out_tokens = 0;  // over every model turn
  };
  // A run's outcome, kept until the front acknowledges it.
  struct Ended {
    std::string id, session_key;
    Origin origin;
    bool heartbeat = false;
    bool ok = false, aborted = false;
    std::string text;
    std::optional<RunError> error;
    uint32_t in_tokens = 0, out_tokens = 0;
  };

  void on_front(capnp::MessageReader& r);
  // A run request read: its turns, or why it is refused.
  void on_run(ipc::RunRequest::Reader rq);
  void admit(std::shared_ptr<Run> run);
  void begin(const std::shared_ptr<Run>& run);
  void attempt(const std::shared_ptr<Run>& run);
  void offline_step(const std::shared_ptr<Run>& run);
  // How a model turn ended well: the answer, or a tool round.
  void turn_ended(const std::shared_ptr<Run>& run, StreamEnd end);
  // --- tools (agent_tools.cpp)
  static std::vector<NodeOffer> read_offers(ipc::RunRequest::Reader rq);
  void tool_round(const std::shared_ptr<Run>& run, StreamEnd end);
  void send_round(const Run& run, const std::vector<ToolCall>& calls, const std::string& text);
  void arm_tool_timer(const std::shared_ptr<Run>& run, uint32_t longest_ms);
  void on_tool_result(ipc::ToolResult::Reader r);
  void tool_answered(const std::shared_ptr<Run>& run, const std::string& call_id, bool is_error,
                     std::string text);
  // Every call of the round still unanswered gets `why` as its error result.
  void give_up_calls(const std::shared_ptr<Run>& run, const std::string& why);
  void next_turn(const std::shared_ptr<Run>& run);
  void delta(const std::shared_ptr<Run>& run, const std::string& d);
  void finish(const std::shared_ptr<Run>& run, bool ok, bool aborted, const RunError* error,
              int in_tokens = 0, int out_tokens = 0);
  void send(capnp::MessageBuilder& b);
  void send_done(const Ended& e);
  void write_done(ipc::RunDone::Builder d, const Ended& e) const;
  void hold(Ended e);  // until doneAck, within the bounds
  void forget(const std::string& run_id);
  void resume_all();  // to a new front: what it has to adopt
  std::unique_ptr<HttpClient> borrow_http();
  void retire(std::unique_ptr<ModelStream> stream);  // back to the pool, destroyed later

  boost::asio::io_context& io_;
  Logger& log_;
  std::optional<ProviderConfig> model_;
  std::string system_;
  uint32_t default_timeout_ms_;
  size_t max_runs_;
  uint32_t max_tool_rounds_;
  std::shared_ptr<ipc::Link> front_;
  std::vector<std::unique_ptr<HttpClient>> idle_http_;  // at most max_runs_, for the model
  std::map<std::string, std::shared_ptr<Run>> running_;
  std::deque<std::shared_ptr<Run>> queued_;
  std::map<std::string, Ended> ended_;   // unacknowledged outcomes, by runId
  std::deque<std::string> ended_order_;  // ...oldest first
  size_t ended_bytes_ = 0;
};

}  // namespace clawgate::workers
