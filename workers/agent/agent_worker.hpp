// AgentWorker: the agent process's run engine. Takes run requests from the front, answers each
// with a model provider's stream (or the offline agent when no model is configured), and
// reports events and exactly one `done` per run. Runs are independent; at most max_runs go at
// once (the front's agents.defaults.maxConcurrent plus its cron and heartbeat runs) and
// kMaxQueued wait, beyond that a run is refused at once (typed, retryable).
// Retries 429/5xx/network failures before any text streamed (backoff 1 s, 2 s, 4 s, bounded by
// the run's deadline); a run past its timeout or aborted stops its HTTP stream.
// A run may instead ask for a compaction's summary (summarize.hpp): the same provider stream with
// the summarizing prompt, no assistant events, the summary as the done's text.
// Fails: never throws into the loop; a lost front link keeps nothing (the front ends those
// runs itself when it sees the link drop).
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

  AgentWorker(boost::asio::io_context& io, Logger& log, std::optional<ProviderConfig> model,
              std::string system_prompt, uint32_t default_timeout_ms = kDefaultTimeoutMs,
              size_t max_runs = kDefaultMaxRuns);
  ~AgentWorker();
  void attach_front(int fd);
  std::string model_label() const { return model_ ? model_->label() : "offline"; }

 private:
  struct Run {
    explicit Run(boost::asio::io_context& io) : deadline(io), step(io) {}
    std::string id, session_key;
    std::vector<ChatTurn> turns;
    bool summarize = false;  // a compaction's summary (summarize.hpp), not an answer
    std::string text;
    int attempts = 0;
    size_t offline_pos = 0;
    std::unique_ptr<ModelStream> stream;
    boost::asio::steady_timer deadline, step;
    bool finished = false;
  };

  void on_front(capnp::MessageReader& r);
  void admit(std::shared_ptr<Run> run);
  void begin(const std::shared_ptr<Run>& run);
  void attempt(const std::shared_ptr<Run>& run);
  void offline_step(const std::shared_ptr<Run>& run);
  void delta(const std::shared_ptr<Run>& run, const std::string& d);
  void finish(const std::shared_ptr<Run>& run, bool ok, bool aborted, const RunError* error,
              int in_tokens = 0, int out_tokens = 0);
  void send(capnp::MessageBuilder& b);
  std::unique_ptr<HttpClient> borrow_http();
  void retire(std::unique_ptr<ModelStream> stream);  // back to the pool, destroyed later

  boost::asio::io_context& io_;
  Logger& log_;
  std::optional<ProviderConfig> model_;
  std::string system_;
  uint32_t default_timeout_ms_;
  size_t max_runs_;
  std::shared_ptr<ipc::Link> front_;
  std::vector<std::unique_ptr<HttpClient>> idle_http_;  // at most max_runs_, for the model
  std::map<std::string, std::shared_ptr<Run>> running_;
  std::deque<std::shared_ptr<Run>> queued_;
};

}  // namespace clawgate::workers
