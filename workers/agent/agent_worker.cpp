// AgentWorker: see agent_worker.hpp.
#include "agent_worker.hpp"
#include "contract.hpp"
#include "names.hpp"
#include "summarize.hpp"
#include "utf8.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <boost/asio/post.hpp>

namespace clawgate::workers {

const char* const kOfflineAnswer =
    "No model is configured, so this is clawgate's offline agent answering. To get real "
    "answers, set agents.defaults.model (for example \"openai/gpt-4o-mini\" or "
    "\"anthropic/claude-sonnet-4-5\") and the provider's key (models.providers.<id>.apiKey, or "
    "OPENAI_API_KEY / ANTHROPIC_API_KEY) in the gateway config, then reload it (SIGHUP).";

namespace {
constexpr int kOfflineStepMs = 25;  // one word per step: streams like a model would
}

AgentWorker::AgentWorker(boost::asio::io_context& io, Logger& log,
                         std::optional<ProviderConfig> model, std::string system_prompt,
                         uint32_t default_timeout_ms, size_t max_runs, uint32_t max_tool_rounds)
    : io_(io),
      log_(log),
      model_(std::move(model)),
      system_(std::move(system_prompt)),
      default_timeout_ms_(default_timeout_ms),
      max_runs_(std::max<size_t>(max_runs, 1)),
      max_tool_rounds_(max_tool_rounds) {}

AgentWorker::~AgentWorker() {
  for (auto& [_, r] : running_) {
    r->finished = true;
    if (r->stream) r->stream->cancel();
  }
  if (front_) front_->close("agent stopping");
}

void AgentWorker::attach_front(int fd) {
  if (front_) front_->close("replaced by a new front");
  front_ = ipc::Link::create(io_, fd, ipc::contract::agent_link("front"));
  front_->start([this](capnp::MessageReader& r) { on_front(r); },
                [this](const std::string& reason) {
                  // The runs go on: the next front adopts them (resume_all). No front will
                  // answer the tool calls this one had: the model hears so and carries on.
                  log_.warn("agent", "front link lost (" + reason + "); " +
                                         std::to_string(running_.size() + queued_.size()) +
                                         " run(s) keep going for the next front");
                  std::vector<std::shared_ptr<Run>> waiting;
                  for (auto& [_, r] : running_)
                    if (r->waiting) waiting.push_back(r);
                  for (auto& r : waiting)
                    give_up_calls(r,
                                  "the gateway went away during the call; its outcome is unknown");
                });
  capnp::MallocMessageBuilder b;
  b.initRoot<ipc::AgentMsg>().setHello(model_label());
  send(b);
  resume_all();
}

namespace {
void write_origin(ipc::RunOrigin::Builder o, ipc::RunKind kind, const std::string& channel,
                  const std::string& account_id, const std::string& to, int64_t started_ms) {
  o.setKind(kind);
  o.setChannel(channel);
  o.setAccountId(account_id);
  o.setTo(to);
  o.setStartedAtMs(started_ms);
}
}  // namespace

void AgentWorker::resume_all() {
  size_t going = 0;
  // What a resume says of any run, going or ended.
  auto init_resume = [](capnp::MessageBuilder& b, const auto& r) {
    auto rs = b.initRoot<ipc::AgentMsg>().initResume();
    rs.setRunId(r.id);
    rs.setSessionKey(r.session_key);
    write_origin(rs.initOrigin(), r.origin.kind, r.origin.channel, r.origin.account_id, r.origin.to,
                 r.origin.started_ms);
    rs.setIsHeartbeat(r.heartbeat);
    return rs;
  };
  auto resume_run = [&](const Run& r) {
    capnp::MallocMessageBuilder b;
    init_resume(b, r).setText(r.text);
    send(b);
    ++going;
  };
  // A compaction's summary is not resumed: the front that asked is gone, and the next one
  // compacts again when it needs to.
  for (const auto& [_, r] : running_)
    if (!r->summarize) resume_run(*r);
  for (const auto& r : queued_)
    if (!r->summarize) resume_run(*r);
  for (const auto& id : ended_order_) {
    const Ended& e = ended_.at(id);
    capnp::MallocMessageBuilder b;
    auto rs = init_resume(b, e);
    rs.setEnded(true);
    write_done(rs.initDone(), e);
    send(b);
  }
  {
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setResumed();
    send(b);
  }
  if (going || !ended_.empty())
    log_.info("agent", "front link up: resuming " + std::to_string(going) + " run(s) going and " +
                           std::to_string(ended_.size()) + " ended unacknowledged");
}

void AgentWorker::hold(Ended e) {
  forget(e.id);
  ended_bytes_ += e.text.size();
  ended_order_.push_back(e.id);
  ended_[e.id] = std::move(e);
  // A front that never acknowledges (or none for a long time) costs bounded memory: the oldest
  // outcome goes first.
  while (ended_order_.size() > kMaxUnacked || ended_bytes_ > kMaxUnackedBytes) {
    const std::string oldest = ended_order_.front();
    log_.warn("agent", "run " + oldest +
                           ": no front acknowledged its outcome; dropped to stay within bounds");
    forget(oldest);
  }
}

void AgentWorker::forget(const std::string& run_id) {
  auto it = ended_.find(run_id);
  if (it == ended_.end()) return;
  ended_bytes_ -= std::min(ended_bytes_, it->second.text.size());
  ended_.erase(it);
  ended_order_.erase(std::remove(ended_order_.begin(), ended_order_.end(), run_id),
                     ended_order_.end());
}

void AgentWorker::send_done(const Ended& e) {
  capnp::MallocMessageBuilder b;
  write_done(b.initRoot<ipc::AgentMsg>().initDone(), e);
  send(b);
}

void AgentWorker::write_done(ipc::RunDone::Builder d, const Ended& e) const {
  d.setRunId(e.id);
  d.setOk(e.ok);
  d.setAborted(e.aborted);
  d.setText(e.text);
  d.setModel(model_label());
  d.setInputTokens(e.in_tokens);
  d.setOutputTokens(e.out_tokens);
  if (e.error) ipc::write_error(*e.error, d.initError());
}

std::unique_ptr<HttpClient> AgentWorker::borrow_http() {
  if (idle_http_.empty()) return std::make_unique<HttpClient>(io_, model_->base_url);
  auto h = std::move(idle_http_.back());
  idle_http_.pop_back();
  return h;
}

void AgentWorker::retire(std::unique_ptr<ModelStream> stream) {
  auto http = stream->take_http();
  if (http && idle_http_.size() < max_runs_) idle_http_.push_back(std::move(http));
  // Possibly inside that stream's own callback: destroy it once the stack unwinds.
  boost::asio::post(io_, [s = std::move(stream)] {});
}

void AgentWorker::send(capnp::MessageBuilder& b) {
  if (front_) front_->send(b);
}

void AgentWorker::on_front(capnp::MessageReader& r) {
  auto msg = r.getRoot<ipc::AgentMsg>();
  if (msg.isRun()) {
    on_run(msg.getRun());
  } else if (msg.isAbort()) {
    const std::string id = msg.getAbort();
    if (auto it = running_.find(id); it != running_.end()) {
      finish(it->second, false, true, nullptr);
      return;
    }
    for (auto it = queued_.begin(); it != queued_.end(); ++it) {
      if ((*it)->id != id) continue;
      auto run = *it;
      queued_.erase(it);
      finish(run, false, true, nullptr);
      return;
    }
  } else if (msg.isDoneAck()) {
    forget(msg.getDoneAck());
  } else if (msg.isToolResult()) {
    on_tool_result(msg.getToolResult());
  } else {
    throw std::runtime_error("unexpected message from the front");
  }
}

void AgentWorker::on_run(ipc::RunRequest::Reader rq) {
  auto run = std::make_shared<Run>(io_);
  run->id = rq.getRunId();
  run->session_key = rq.getSessionKey();
  run->heartbeat = rq.getIsHeartbeat();
  std::string refused;   // why, when the request carries a value this build does not know
  if (rq.hasOrigin()) {  // kept only to be handed back, and bounded like any input
    auto o = rq.getOrigin();
    auto field = [](capnp::Text::Reader t) {
      return std::string(t.cStr(), utf8::cut_bytes({t.cStr(), t.size()}, kMaxOriginBytes));
    };
    run->origin = {o.getKind(), field(o.getChannel()), field(o.getAccountId()), field(o.getTo()),
                   o.getStartedAtMs()};
    if (!ipc::name_of(o.getKind())) {
      refused = ipc::unknown_value("origin kind", o.getKind());
      run->origin.kind = ipc::RunKind::CHAT;  // handed back in resume: a value the front reads
    }
  }
  if (running_.count(run->id)) return;  // a repeat of a run already going
  for (const auto& q : queued_)
    if (q->id == run->id) return;
  if (auto e = ended_.find(run->id); e != ended_.end()) return send_done(e->second);
  auto messages = rq.getMessages();
  ipc::contract::bounded(messages, ipc::contract::lists::kRunMessages, "run messages");
  run->turns.reserve(messages.size());
  for (auto m : messages) {
    const char* role = ipc::name_of(m.getRole());
    if (!role) refused = ipc::unknown_value("message role", m.getRole());
    if (!refused.empty()) break;
    ChatTurn t;
    t.role = role;
    t.text = m.getText();
    run->turns.push_back(std::move(t));
  }
  if (!refused.empty()) {
    log_.warn("agent", "run " + utf8::preview(run->id, 64) + " refused: " + refused);
    const RunError e{ipc::ErrorCode::INVALID_REQUEST, "run request refused: " + refused, false, 0};
    return finish(run, false, false, &e);
  }
  if (rq.getSummarize()) {
    run->summarize = true;
    run->turns = {{"user", summary_request(run->turns, rq.getPreviousSummary())}};
  } else if (model_) {
    const ToolSpec nodes = nodes_tool(read_offers(rq));
    if (!nodes.name.empty()) run->tools.push_back(nodes);
  }
  const uint32_t timeout = rq.getTimeoutMs() ? rq.getTimeoutMs() : default_timeout_ms_;
  run->deadline.expires_after(std::chrono::milliseconds(timeout));
  admit(std::move(run));
}

void AgentWorker::admit(std::shared_ptr<Run> run) {
  if (running_.size() < max_runs_) return begin(run);
  if (queued_.size() >= kMaxQueued) {
    RunError e{ipc::ErrorCode::UNAVAILABLE, "agent busy: too many runs waiting", true, 2000};
    return finish(run, false, false, &e);
  }
  queued_.push_back(std::move(run));
}

void AgentWorker::begin(const std::shared_ptr<Run>& run) {
  running_[run->id] = run;
  {
    capnp::MallocMessageBuilder b;
    auto ev = b.initRoot<ipc::AgentMsg>().initEvent();
    ev.setRunId(run->id);
    ev.setStream(ipc::RunStream::LIFECYCLE);
    ev.setPhase(ipc::RunPhase::START);
    send(b);
  }
  std::weak_ptr<Run> weak = run;
  run->deadline.async_wait([this, weak](const boost::system::error_code& ec) {
    auto r = weak.lock();
    if (ec || !r || r->finished) return;
    RunError e{ipc::ErrorCode::TIMEOUT, "the run timed out", false, 0};
    finish(r, false, false, &e);
  });
  if (!model_ && run->summarize) {
    // The offline agent's words are no summary: the front keeps the history as it is.
    const RunError e{ipc::ErrorCode::UNAVAILABLE,
                     "no model is configured, so nothing can write a summary", false, 0};
    return finish(run, false, false, &e);
  }
  if (!model_) return offline_step(run);
  attempt(run);
}

void AgentWorker::attempt(const std::shared_ptr<Run>& run) {
  ++run->attempts;
  std::weak_ptr<Run> weak = run;
  ModelStream::Callbacks cb;
  cb.on_delta = [this, weak](const std::string& d) {
    if (auto r = weak.lock()) delta(r, d);
  };
  cb.on_done = [this, weak](std::optional<RunError> e, StreamEnd end) {
    auto r = weak.lock();
    if (!r || r->finished) return;
    if (!e) return turn_ended(r, std::move(end));
    if (e->retryable && r->attempts < kMaxAttempts) {
      const int64_t wait = std::max<int64_t>(e->retry_after_ms, 1000LL << (r->attempts - 1));
      log_.warn("agent", "run " + r->id + ": " + e->message + "; retrying in " +
                             std::to_string(wait) + " ms");
      r->step.expires_after(std::chrono::milliseconds(wait));
      r->step.async_wait([this, weak](const boost::system::error_code& ec) {
        auto rr = weak.lock();
        if (!ec && rr && !rr->finished) attempt(rr);
      });
      return;
    }
    finish(r, false, false, &*e);
  };
  if (run->stream) retire(std::move(run->stream));
  run->stream = std::make_unique<ModelStream>(*model_, borrow_http(), run->turns,
                                              run->summarize ? kSummarySystemPrompt : system_,
                                              std::move(cb), run->tools);
  run->stream->start();
}

void AgentWorker::turn_ended(const std::shared_ptr<Run>& run, StreamEnd end) {
  run->in_tokens += end.input_tokens;
  run->out_tokens += end.output_tokens;
  if (!run->tools.empty() && (!end.tool_calls.empty() || end.too_many_calls))
    return tool_round(run, std::move(end));
  finish(run, true, false, nullptr, run->in_tokens, run->out_tokens);
}

void AgentWorker::offline_step(const std::shared_ptr<Run>& run) {
  const std::string all = kOfflineAnswer;
  if (run->offline_pos >= all.size()) return finish(run, true, false, nullptr);
  size_t end = all.find(' ', run->offline_pos + 1);
  end = end == std::string::npos ? all.size() : end;
  delta(run, all.substr(run->offline_pos, end - run->offline_pos));
  run->offline_pos = end;
  std::weak_ptr<Run> weak = run;
  run->step.expires_after(std::chrono::milliseconds(kOfflineStepMs));
  run->step.async_wait([this, weak](const boost::system::error_code& ec) {
    auto r = weak.lock();
    if (!ec && r && !r->finished) offline_step(r);
  });
}

void AgentWorker::delta(const std::shared_ptr<Run>& run, const std::string& piece) {
  if (run->finished) return;
  // A model turn after a tool round reads as a new paragraph of the answer.
  const bool apart = run->fresh_turn && !run->text.empty() && run->text.back() != '\n';
  run->fresh_turn = false;
  const std::string& d = apart ? "\n\n" + piece : piece;
  if (run->text.size() + d.size() > kMaxAnswerBytes) {
    // A runaway or hostile stream: what arrived so far is the answer, and the run says why
    // it stopped, instead of growing until the link or the front gives out.
    run->text.resize(utf8::cut_bytes(run->text, kMaxAnswerBytes));
    const RunError e{ipc::ErrorCode::UNAVAILABLE,
                     "the model's answer passed " + std::to_string(kMaxAnswerBytes >> 20) +
                         " MiB; the rest was cut off",
                     false, 0};
    return finish(run, false, false, &e);
  }
  run->text += d;
  if (run->summarize) return;  // a summary is not shown as it streams: the done carries it
  capnp::MallocMessageBuilder b;
  auto ev = b.initRoot<ipc::AgentMsg>().initEvent();
  ev.setRunId(run->id);
  ev.setStream(ipc::RunStream::ASSISTANT);
  ev.setDelta(d);  // only what is new: the front keeps the whole text
  send(b);
}

void AgentWorker::finish(const std::shared_ptr<Run>& run, bool ok, bool aborted,
                         const RunError* error, int in_tokens, int out_tokens) {
  const auto keep = run;  // `run` may be the map's own entry, erased below
  if (run->finished) return;
  run->finished = true;
  run->deadline.cancel();
  run->step.cancel();
  run->tool_timer.cancel();
  run->waiting.reset();
  if (run->stream) retire(std::move(run->stream));
  Ended e;
  e.id = run->id;
  e.session_key = run->session_key;
  e.origin = run->origin;
  e.heartbeat = run->heartbeat;
  e.ok = ok;
  e.aborted = aborted;
  e.text = std::move(run->text);
  if (error) e.error = *error;
  e.in_tokens = static_cast<uint32_t>(std::max(in_tokens, 0));
  e.out_tokens = static_cast<uint32_t>(std::max(out_tokens, 0));
  send_done(e);
  // Sent or not, it is kept until the front says it stored it: a front may die between. A
  // summary is not (see resume_all).
  if (!run->summarize) hold(std::move(e));
  running_.erase(keep->id);
  while (running_.size() < max_runs_ && !queued_.empty()) {
    auto next = queued_.front();
    queued_.pop_front();
    begin(next);
  }
}

}  // namespace clawgate::workers
