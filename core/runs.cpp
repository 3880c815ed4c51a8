// RunManager: see runs.hpp.
#include "core/runs.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <cstdint>

#include "agent.capnp.h"
#include "contract.hpp"
#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

// Reads a key from request params; on refusal answers INVALID_REQUEST with the reason.
std::optional<SessionKey> key_param(const Json& params, const char* field, const ReplyFn& reply) {
  std::string why;
  auto key = SessionKey::parse(params.at(field).get<std::string>(), &why);
  if (!key) reply(Reply::invalid(why));
  return key;
}

// What a run that failed says went wrong ("" when it did not fail).
std::string done_error(ipc::RunDone::Reader d) {
  if (d.getOk() || d.getAborted()) return "";
  std::string error = d.hasError() ? std::string(d.getError().getMessage().cStr()) : "";
  return error.empty() ? "the run failed" : error;
}

}  // namespace

RunManager::RunManager(boost::asio::io_context& io, const Clock& clock, Logger& log,
                       SessionStore& sessions, ChannelHub* hub, Emit emit,
                       const QueueSettings& queue, const HistorySettings& history)
    : io_(io),
      clock_(clock),
      log_(log),
      sessions_(sessions),
      hub_(hub),
      emit_(std::move(emit)),
      queue_settings_(queue),
      history_settings_(history),
      lanes_(LaneOptions{static_cast<size_t>(std::max(queue.cap, 1)), queue.drop,
                         static_cast<size_t>(std::max(queue.max_concurrent, 1))}),
      lane_timer_(io),
      started_ms_(clock.wall_ms()) {
  // The index holds what a run may be sent: one window per session.
  auto limits = sessions_.history_index().limits();
  limits.session_tokens = window_tokens();
  sessions_.history_index().set_limits(limits);
}

size_t RunManager::window_tokens() const {
  return static_cast<size_t>(
      std::clamp<int64_t>(history_settings_.context_window, 1, int64_t{kMaxWindowTokens}));
}

size_t RunManager::input_budget() const {
  // The window less the reply's budget (at most a quarter of it, as upstream clamps output to
  // the window) and the system prompt; a window too small for that still gets a little.
  const size_t w = window_tokens();
  const size_t reply =
      std::min(static_cast<size_t>(std::max<int64_t>(history_settings_.reply_tokens, 0)), w / 4);
  return w > reply + kSystemTokens + 64 ? w - reply - kSystemTokens : 64;
}

size_t RunManager::compaction_threshold() const {
  const size_t w = window_tokens();
  return w - std::min(kCompactionReserveTokens, w / 4);
}

RunManager::~RunManager() {
  if (agent_) agent_->close("front stopping");
}

// ---------------------------------------------------------------------------------------------
// The agent worker

void RunManager::attach_agent(int fd, uint32_t generation) {
  if (agent_) agent_->close("replaced");
  agent_generation_ = generation;
  agent_hello_ = false;
  agent_ = ipc::Link::create(io_, fd, ipc::contract::agent_link("agent"));
  agent_->start(
      [this](capnp::MessageReader& m) { on_agent(m); },
      [this, generation](const std::string& reason) { on_agent_lost(generation, reason); });
  log_.info("runs", "agent link up (generation " + std::to_string(generation) + ")");
}

void RunManager::on_agent_lost(uint32_t generation, const std::string& reason) {
  if (generation == agent_generation_) {
    agent_.reset();
    agent_hello_ = false;
  }
  // Runs that generation had are gone with it (a replacement may already be attached).
  std::vector<std::string> lost;
  for (auto& [id, r] : runs_)
    if (r->sent && r->sent_generation == generation) lost.push_back(id);
  if (!lost.empty())
    log_.warn("runs", "agent link lost (" + reason + "); ending " + std::to_string(lost.size()) +
                          " run(s) in flight with an error");
  for (const auto& id : lost)
    finish(id, false, false, "", "the agent worker stopped before the run ended; try again", "");
  std::vector<std::string> orphaned;
  for (const auto& [session, c] : compactions_)
    if (c.generation == generation) orphaned.push_back(session);
  for (const auto& session : orphaned)
    end_compaction(session, false, "", "the agent worker stopped before the summary was written");
}

void RunManager::on_agent(capnp::MessageReader& m) {
  auto msg = m.getRoot<ipc::AgentMsg>();
  switch (msg.which()) {
    case ipc::AgentMsg::HELLO:
      agent_hello_ = true;
      model_label_ = msg.getHello();
      log_.info("runs", "agent ready, model " + model_label_);
      pump();
      return;
    case ipc::AgentMsg::EVENT: {
      auto ev = msg.getEvent();
      auto it = runs_.find(ev.getRunId());
      if (it == runs_.end()) return;  // aborted or ended meanwhile
      Run& r = *it->second;
      const std::string stream = ev.getStream();
      if (stream == "lifecycle") {
        agent_event(r, "lifecycle", {{"phase", "start"}, {"startedAt", r.started_ms}});
      } else if (stream == "assistant") {
        // Only the delta crosses the link (the worker caps the answer); the text accumulates
        // here, and agent and chat updates both go out at most once per kDeltaIntervalMs, so
        // an answer of many small pieces costs linear, not quadratic, work.
        const std::string d = ev.getDelta();
        r.text += d;
        r.agent_delta += d;
        const int64_t now = clock_.steady_ms();
        if (now - r.last_delta_ms >= kDeltaIntervalMs) {
          flush_delta(r);
        } else if (!r.delta_pending) {
          r.delta_pending = true;
          r.delta_timer.expires_after(
              std::chrono::milliseconds(kDeltaIntervalMs - (now - r.last_delta_ms)));
          const std::string id = r.id;
          r.delta_timer.async_wait([this, id](const boost::system::error_code& ec) {
            if (ec) return;
            if (auto x = runs_.find(id); x != runs_.end()) flush_delta(*x->second);
          });
        }
      }
      return;
    }
    case ipc::AgentMsg::DONE: {
      auto d = msg.getDone();
      const std::string run_id = d.getRunId();
      for (const auto& [session, c] : compactions_) {
        if (c.id != run_id) continue;
        const std::string key = session;  // a copy: end_compaction erases the entry
        ack_done(run_id);
        return end_compaction(key, d.getOk(), d.getText(),
                              d.getAborted() ? "the compaction was stopped" : done_error(d));
      }
      finish(run_id, d.getOk(), d.getAborted(), d.getText(), done_error(d), d.getModel());
      // Stored (or ended here before, e.g. aborted): either way the worker may forget it.
      ack_done(run_id);
      return;
    }
    case ipc::AgentMsg::RESUME:
      return on_resume(m);
    case ipc::AgentMsg::RESUMED:
      return recover_waiting();
    default:
      throw std::runtime_error("unexpected message from the agent worker");
  }
}

void RunManager::ack_done(const std::string& run_id) {
  if (!agent_) return;
  capnp::MallocMessageBuilder b;
  b.initRoot<ipc::AgentMsg>().setDoneAck(run_id);
  agent_->send(b);
}

// A run from before this link: adopted as if this front had started it, so clients can wait
// for it and its outcome is stored and delivered here (exactly once: see finish()).
void RunManager::on_resume(capnp::MessageReader& m) {
  auto rs = m.getRoot<ipc::AgentMsg>().getResume();
  const std::string run_id = rs.getRunId();
  const bool ended = rs.getEnded() && rs.hasDone();
  auto end_here = [&] {
    auto d = rs.getDone();
    finish(run_id, d.getOk(), d.getAborted(), d.getText(), done_error(d), d.getModel());
    ack_done(run_id);
  };
  if (run_id.empty() || run_id.size() > kMaxResumeFieldBytes) {
    log_.warn("runs", "agent resumed a run with an unusable id; ignored");
    return;
  }
  if (auto it = runs_.find(run_id); it != runs_.end()) {  // this front knows it already
    if (ended) return end_here();
    it->second->sent = true;
    it->second->sent_generation = agent_generation_;
    return;
  }
  auto abort_there = [&] {
    if (!agent_) return;
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setAbort(run_id);
    agent_->send(b);
  };
  if (done_.count(run_id)) {  // ended here already (aborted, say): nothing more to store
    return ended ? ack_done(run_id) : abort_there();
  }
  if (runs_.size() >= SessionLanes::kMaxQueuedTotal) {  // a worker flooding resumes
    log_.warn("runs", "agent resumed run " + run_id + " past the run limit; dropped");
    return ended ? ack_done(run_id) : abort_there();
  }
  std::string why;
  const auto raw_key = rs.getSessionKey();
  auto key = SessionKey::parse({raw_key.cStr(), raw_key.size()}, &why);
  if (!key || !refusal(*key).empty()) {
    log_.warn("runs", "agent resumed run " + run_id + " for an unusable session key; dropped");
    return ended ? ack_done(run_id) : abort_there();
  }
  auto field = [](capnp::Text::Reader t) {
    return std::string(t.cStr(), utf8::cut_bytes({t.cStr(), t.size()}, kMaxResumeFieldBytes));
  };
  auto r = std::make_unique<Run>(io_, *key);
  r->id = run_id;
  r->resumed = true;
  r->heartbeat = rs.getIsHeartbeat();
  r->started_ms = clock_.wall_ms();
  if (rs.hasOrigin()) {
    auto o = rs.getOrigin();
    r->origin.kind = field(o.getKind());
    r->origin.channel = field(o.getChannel());
    r->origin.account_id = field(o.getAccountId());
    r->origin.to = field(o.getTo());
    if (o.getStartedAtMs() > 0 && o.getStartedAtMs() <= r->started_ms)
      r->started_ms = o.getStartedAtMs();
  }
  // Its user message was stored before it was sent to the worker (start, adopt): only the
  // answer is left to write.
  r->line_written = true;
  r->adopted = true;
  r->sent = true;
  r->sent_generation = agent_generation_;
  r->text = rs.getText();
  r->emitted_text = "";
  const std::string session = key->str();
  const bool background = r->heartbeat || r->origin.kind == "cron";
  runs_[run_id] = std::move(r);
  log_.info("runs", "run " + run_id + " in " + session + " resumed from the agent worker" +
                        (ended ? " (ended)" : ""));
  // It holds its session's lane, as it did in the old front, so a new message there waits
  // for it. One that came in before the worker did already holds the lane: both then run.
  if (!lanes_.busy(session)) {
    LaneMessage lm;
    lm.run_id = run_id;
    lm.background = background;
    lm.debounce_ms = 0;
    apply(lanes_.submit(session, std::move(lm), clock_.steady_ms()).actions);
  }
  if (ended) end_here();
}

void RunManager::recover_waiting() {
  if (recovered_) return;
  recovered_ = true;
  std::vector<std::pair<int64_t, std::string>> recent;
  for (auto& [key, e] : sessions_.index().items())
    recent.push_back({e.is_object() ? e.value("updatedAt", int64_t{0}) : 0, key});
  std::sort(recent.rbegin(), recent.rend());
  if (recent.size() > kRecoverSessions) recent.resize(kRecoverSessions);
  size_t started = 0;
  const int64_t now = clock_.wall_ms();
  for (const auto& [_, name] : recent) {
    const auto key = SessionKey::parse(name);
    if (!key || !refusal(*key).empty()) continue;
    std::vector<Json> waiting;
    try {
      waiting = sessions_.read(*key, kResumeScanMessages, true);
    } catch (const std::exception& e) {
      log_.warn("runs", "cannot read " + name + " back: " + e.what());
      continue;
    }
    for (const Json& rec : waiting) {
      try {
        if (rec.value("type", "") != "queued" || started >= kMaxRecovered) continue;
        const Json ts = rec.value("ts", Json());
        const int64_t at = ts.is_number_integer() ? ts.get<int64_t>() : 0;
        if (at <= 0 || now - at > kRecoverMaxAgeMs) continue;
        // Queued by this front (a message that came before the agent link did): it is in its
        // lane already, whatever id it has. Only an earlier front's records are restarted.
        if (at >= started_ms_) continue;
        Origin o;
        o.recovered = true;
        o.entry = rec;
        o.entry["type"] = "message";
        const Json id = rec.value("runId", Json());
        std::string run_id = id.is_string() ? id.get<std::string>() : "";
        if (rec.contains("inboundId")) {  // a channel message: its answer goes back there
          o.kind = "channel";
          o.channel = rec.value("channel", "");
          o.account_id = rec.value("accountId", "");
          o.to = rec.value("chatId", "");
          const Json from = rec.value("from", Json::object());
          if (from.is_object()) o.sender = from.value("name", from.value("id", ""));
        } else {
          o.kind = rec.value("source", "chat");
          if (o.kind == "channel") o.kind = "chat";
        }
        if (!run_id.empty() && (runs_.count(run_id) || done_.count(run_id))) continue;
        if (run_id.empty()) run_id = uuid_v4();
        const std::string err = start(*key, rec.value("text", ""), run_id, o);
        if (!err.empty()) {
          log_.warn("runs", "message " + run_id + " queued before the restart not started: " + err);
          continue;
        }
        ++started;
      } catch (const Json::exception& e) {  // a record edited by hand: skipped, not fatal
        log_.warn("runs", "unreadable queued record in " + name + ": " + e.what());
      }
    }
  }
  if (started)
    log_.info("runs", std::to_string(started) + " message(s) queued before the restart started");
}

bool RunManager::answered(const Run& r) const {
  try {
    for (const Json& e : sessions_.read(r.session_key, kResumeScanMessages))
      if (e.value("role", "") == "assistant" && e.value("runId", "") == r.id) return true;
  } catch (const std::exception& e) {  // unreadable: writing it again beats losing it
    log_.warn("runs", "cannot read " + r.session_key.str() + " back: " + e.what());
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Runs

bool RunManager::turn_waits(const SessionKey& session_key) const {
  return lanes_.busy(session_key.str());
}

std::string RunManager::refusal(const SessionKey& key) {
  if (key.agent_id() == SessionKey::kDefaultAgent) return "";
  return "unknown agent \"" + key.agent_id() + "\" in session key \"" + key.str() +
         "\" (this gateway runs one agent, \"" + std::string(SessionKey::kDefaultAgent) + "\")";
}

std::string RunManager::start(const SessionKey& key, const std::string& message,
                              const std::string& run_id, Origin origin, DoneHook on_done,
                              bool is_heartbeat) {
  if (std::string why = refusal(key); !why.empty()) return why;
  if (runs_.count(run_id)) return "run " + run_id + " is already in flight";
  const int64_t now = clock_.wall_ms();
  const bool background = is_heartbeat || origin.kind == "cron";
  // Decided before anything is written, by the same rule the inbound router used for a
  // channel message: a session that is free adopts this message at once (lanes.hpp).
  const bool waits = lanes_.busy(key.str());
  Json line = {{"type", "message"}, {"role", "user"},  {"text", message},
               {"ts", now},         {"runId", run_id}, {"source", origin.kind}};
  if ((origin.kind == "channel" || origin.recovered) && origin.entry.is_object()) {
    line = origin.entry;
    line["type"] = "message";
    line["runId"] = run_id;
  }
  // The message is on disk before its sender hears back: as the session's next turn when the
  // session is free, else as a queued record, written again as the turn when it begins (so
  // the transcript reads user, assistant, user, ... whatever the arrival order). Channel
  // messages were written by the inbound router; the heartbeat prompt is never written.
  if (origin.kind != "channel" && !is_heartbeat && !origin.recovered) {
    Json record = line;
    if (waits) record["type"] = "queued";
    try {
      sessions_.append(key, record);
    } catch (const std::exception& e) {
      return std::string("cannot store the message: ") + e.what();
    }
  }
  // Where the run's answer goes decides its queue mode: chat.send is the WebChat surface.
  const std::string surface = origin.kind == "chat" ? "webchat" : origin.channel;
  LaneMessage lm;
  lm.run_id = run_id;
  lm.text = message;
  lm.sender = origin.sender;
  lm.route = origin.channel + "\n" + origin.account_id + "\n" + origin.to;
  lm.mode = origin.mode ? *origin.mode : queue_settings_.mode_for(surface);
  lm.debounce_ms = queue_settings_.debounce_ms_for(surface);
  lm.background = background;

  auto r = std::make_unique<Run>(io_, key);
  r->id = run_id;
  r->origin = std::move(origin);
  r->origin.entry = Json();  // kept in `line`
  r->heartbeat = is_heartbeat;
  r->started_ms = now;
  r->on_done = std::move(on_done);
  r->line = std::move(line);
  // A recovered message is on disk as a queued record: its turn writes it as a message.
  r->line_written = (!waits || is_heartbeat) && !r->origin.recovered;
  // While it waits, the lane holds the only copy of the text (lanes.hpp bounds those bytes);
  // the turn hands it back.
  if (!r->line_written) r->line.erase("text");
  runs_[run_id] = std::move(r);
  auto sub = lanes_.submit(key.str(), std::move(lm), clock_.steady_ms());
  if (!sub.refused.empty()) {
    auto it = runs_.find(run_id);
    if (waits && !is_heartbeat) withdraw(key, run_id, it->second->line, sub.refused);
    runs_.erase(it);
    log_.warn("runs", "message for " + key.str() + " not taken: " + sub.refused);
    return sub.refused;
  }
  apply(std::move(sub.actions));
  return "";
}

// Carries out what the lanes decided, in their order. Ending a run may decide more (the next
// turn of its session): that is applied at once, inside, and this loop carries on with what
// is left, every step looking its run up again.
void RunManager::apply(LaneActions a) {
  for (const auto& d : a.dropped) {
    auto it = runs_.find(d.run_id);
    if (it == runs_.end()) continue;
    log_.info("runs", "run " + d.run_id + " in " + it->second->session_key.str() +
                          " will not run: " + d.reason);
    finish(d.run_id, Outcome{false, d.aborted, "", d.reason, ""}, EndKind::unrun);
  }
  for (const auto& id : a.interrupt) abort(id, "interrupted by a newer message");
  for (const auto& t : a.adopted) adopt(t);
  bool started = false;
  for (const auto& id : a.started) {
    auto it = runs_.find(id);
    // A resumed run holds its slot but is in the worker already.
    if (it == runs_.end() || it->second->sent) continue;
    queue_.push_back(id);
    started = true;
  }
  if (started) pump();
  arm_lanes();
}

void RunManager::adopt(const LaneTurn& t) {
  auto it = runs_.find(t.run_id);
  if (it == runs_.end()) {  // the lanes and the runs disagree: free the session, never wedge it
    log_.error("runs", "lane turn for unknown run " + t.run_id + " in " + t.session);
    apply(lanes_.ended(t.session, t.run_id, clock_.steady_ms()));
    return;
  }
  Run& r = *it->second;
  r.adopted = true;
  if (r.heartbeat) r.user_text = t.text;  // the heartbeat prompt: sent, never written
  for (const auto& id : t.merged) {
    auto m = runs_.find(id);
    if (m == runs_.end()) continue;
    m->second->carrier = r.id;
    m->second->adopted = true;
    r.merged.push_back(id);
  }
  if (t.combined) {  // a collected or summary turn: one user message for all of them
    // It takes the queued records of every message in it (sessions.hpp, read).
    Json ids = Json::array();
    for (const auto& id : r.merged)
      if (auto m = runs_.find(id); m != runs_.end()) ids.push_back(record_id(*m->second));
    ids.push_back(record_id(r));
    r.line["ts"] = clock_.wall_ms();
    r.line["queued"] = ids;
    r.line_written = false;
  }
  if (r.line_written) return;
  r.line["text"] = t.text;
  try {
    sessions_.append(r.session_key, r.line);
    r.line_written = true;
  } catch (const std::exception& e) {
    finish(r.id, false, false, "", std::string("cannot store the message: ") + e.what(), "");
  }
}

std::string RunManager::record_id(const Run& r) {
  const Json v = r.line.value("inboundId", Json());
  return v.is_string() && !v.get<std::string>().empty() ? v.get<std::string>() : r.id;
}

void RunManager::withdraw(const SessionKey& key, const std::string& run_id, const Json& line,
                          const std::string& reason) {
  Json marker = {
      {"type", "withdrawn"}, {"runId", run_id}, {"ts", clock_.wall_ms()}, {"reason", reason}};
  if (line.contains("inboundId")) marker["inboundId"] = line["inboundId"];
  try {
    sessions_.append(key, std::move(marker));
  } catch (const std::exception& e) {  // the message then shows as still waiting; no harm
    log_.warn("runs", "cannot mark " + run_id + " withdrawn: " + e.what());
  }
}

void RunManager::arm_lanes() {
  const std::optional<int64_t> wake = lanes_.next_wake_ms();
  if (wake == lane_wake_) return;
  lane_wake_ = wake;
  if (!wake) {
    lane_timer_.cancel();
    return;
  }
  const int64_t delay = std::max<int64_t>(0, *wake - clock_.steady_ms());
  lane_timer_.expires_after(std::chrono::milliseconds(delay));
  lane_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    lane_wake_.reset();
    apply(lanes_.poll(clock_.steady_ms()));
  });
}

void RunManager::pump() {
  while (agent_connected() && !queue_.empty()) {
    const std::string id = queue_.front();
    queue_.pop_front();
    auto it = runs_.find(id);
    if (it == runs_.end()) continue;
    // A link that refuses a run is going away (its close is on the way, with on_agent_lost):
    // the run is back at the head of the queue for the next agent, and nothing spins.
    if (dispatch(*it->second) == Dispatch::refused) return;
  }
}

RunManager::Dispatch RunManager::dispatch(Run& r) {
  const std::string session = r.session_key.str();
  if (auto c = compactions_.find(session); c != compactions_.end()) {
    c->second.deferred.push_back(r.id);  // its history changes: the turn goes after it
    return Dispatch::deferred;
  }
  const SessionHistory* h = nullptr;
  try {
    h = &sessions_.history(r.session_key);
  } catch (const std::exception& e) {
    finish(r.id, false, false, "", std::string("cannot read the transcript: ") + e.what(), "");
    return Dispatch::ended;
  }
  // Near the window: a summary of the older turns first (once per turn; when it cannot be
  // had, the newest turns that fit go as they are).
  if (!r.heartbeat && !r.compaction_tried && history_settings_.compaction_enabled &&
      (h->visible_tokens() > compaction_threshold() || !h->complete)) {
    r.compaction_tried = true;
    bool nothing = false;
    const std::string why = start_compaction(r.session_key, "auto-threshold", r.id, &nothing);
    if (why.empty()) {
      compactions_.at(session).deferred.push_back(r.id);
      return Dispatch::deferred;
    }
    if (!nothing) log_.warn("runs", "no compaction for " + session + ": " + why);
    h = &sessions_.history(r.session_key);  // held still: start_compaction read it
  }
  const size_t prompt_tokens = r.heartbeat ? estimate_tokens(r.user_text) : 0;
  const size_t budget = input_budget() > prompt_tokens + 64 ? input_budget() - prompt_tokens : 64;
  const ModelWindow w = build_window(*h, budget, r.origin.context_limit);
  capnp::MallocMessageBuilder b;
  auto rq = b.initRoot<ipc::AgentMsg>().initRun();
  rq.setRunId(r.id);
  rq.setSessionKey(session);
  rq.setIsHeartbeat(r.heartbeat);
  {  // handed back by the worker if this front dies before the run ends
    auto o = rq.initOrigin();
    o.setKind(r.heartbeat ? "heartbeat" : r.origin.kind);
    o.setChannel(r.origin.channel);
    o.setAccountId(r.origin.account_id);
    o.setTo(r.origin.to);
    o.setStartedAtMs(r.started_ms);
  }
  auto msgs = rq.initMessages(static_cast<unsigned>(w.messages.size() + (r.heartbeat ? 1 : 0)));
  unsigned i = 0;
  for (const auto& [role, text] : w.messages) {
    msgs[i].setRole(role);
    msgs[i].setText(text);
    ++i;
  }
  if (r.heartbeat) {  // the heartbeat prompt is not part of the transcript
    msgs[i].setRole("user");
    msgs[i].setText(r.user_text);
  }
  r.sent = agent_->send(b);
  r.sent_generation = agent_generation_;
  if (!r.sent) {
    queue_.push_front(r.id);
    return Dispatch::refused;
  }
  return Dispatch::sent;
}

std::string RunManager::start_compaction(const SessionKey& key, const std::string& reason,
                                         const std::string& trigger, bool* nothing) {
  *nothing = false;
  if (!agent_connected()) return "the agent worker is not connected";
  const std::string session = key.str();
  if (compactions_.count(session)) return "a compaction of this session is running";
  const SessionHistory* h = nullptr;
  try {
    h = &sessions_.history(key);
  } catch (const std::exception& e) {
    return std::string("cannot read the transcript: ") + e.what();
  }
  // The summarizing request holds the older turns, the previous summary, upstream's prompt and
  // the summary itself: it must fit the same window.
  const size_t w = window_tokens();
  const size_t reserve = std::min(kCompactionReserveTokens, w / 4) + kSummaryPromptTokens;
  // The kept tail is at most half of what a run may be sent, so that a compaction always
  // makes room (upstream's keepRecentTokens default, 20,000, is most of a small window).
  const size_t keep =
      std::min(static_cast<size_t>(std::max<int64_t>(history_settings_.keep_recent_tokens, 1)),
               std::max<size_t>(input_budget() / 2, 1));
  const CompactionPlan plan = plan_compaction(*h, keep, w > reserve + 64 ? w - reserve : 64);
  if (plan.turns.empty()) {
    *nothing = true;
    return "nothing to compact: the history is within keepRecentTokens";
  }
  Compaction c{};
  c.id = "compact-" + uuid_v4();
  c.key = key;
  c.reason = reason;
  c.cut_offset = plan.cut_offset;
  c.tokens_before = plan.tokens_before;
  c.kept_tokens = plan.kept_tokens;
  c.generation = agent_generation_;
  c.trigger = trigger;
  capnp::MallocMessageBuilder b;
  auto rq = b.initRoot<ipc::AgentMsg>().initRun();
  rq.setRunId(c.id);
  rq.setSessionKey(session);
  rq.setSummarize(true);
  rq.setPreviousSummary(h->summary);
  rq.setTimeoutMs(static_cast<uint32_t>(
      std::clamp<int64_t>(history_settings_.compaction_timeout_ms, 1000, 86'400'000)));
  auto msgs = rq.initMessages(static_cast<unsigned>(plan.turns.size()));
  for (unsigned i = 0; i < plan.turns.size(); ++i) {
    msgs[i].setRole(plan.turns[i]->role);
    msgs[i].setText(plan.turns[i]->text);
  }
  if (!agent_->send(b)) return "the agent worker is not connected";
  log_.info("runs", "compacting " + session + " (" + reason +
                        "): " + std::to_string(plan.turns.size()) + " turn(s), ~" +
                        std::to_string(plan.tokens_before) + " tokens");
  compactions_.emplace(session, std::move(c));
  if (auto it = runs_.find(trigger); it != runs_.end())
    agent_event(*it->second, "compaction", {{"phase", "start"}});
  return "";
}

void RunManager::end_compaction(const std::string& session, bool succeeded, const std::string& text,
                                const std::string& why) {
  auto node = compactions_.extract(session);
  if (node.empty()) return;
  Compaction c = std::move(node.mapped());
  // The summary as stored: trimmed, valid UTF-8 (it came from a provider), at most upstream's
  // length.
  std::string summary = utf8::repair(utf8::trim(text));
  if (utf8::utf16_length(summary) > kMaxSummaryUnits) {
    summary.resize(utf8::cut_utf16(summary, kMaxSummaryUnits));
    summary += "\n\n[Compaction summary truncated to fit budget]";
  }
  std::string error = why;
  if (succeeded && summary.empty()) error = "the model wrote an empty summary";
  const bool completed = succeeded && !summary.empty();
  const size_t tokens_after = estimate_tokens(summary_message(summary)) + c.kept_tokens;
  Json result;
  if (completed) {
    const Json e = sessions_.entry(c.key);
    const int64_t count = e.is_object() ? e.value("compactionCount", int64_t{0}) : 0;
    try {
      sessions_.append(c.key,
                       {{"type", "compaction"},
                        {"id", c.id},
                        {"summary", summary},
                        {"cutOffset", c.cut_offset},
                        {"tokensBefore", c.tokens_before},
                        {"tokensAfter", tokens_after},
                        {"reason", c.reason},
                        {"ts", clock_.wall_ms()}},
                       {{"compactionCount", count + 1}});
      result = {
          {"summary", summary}, {"tokensBefore", c.tokens_before}, {"tokensAfter", tokens_after}};
    } catch (const std::exception& e) {
      error = std::string("cannot store the summary: ") + e.what();
    }
  }
  const bool stored = result.is_object();
  if (stored) {
    log_.info("runs", "compacted " + session + " (" + c.reason + "): ~" +
                          std::to_string(c.tokens_before) + " -> ~" + std::to_string(tokens_after) +
                          " tokens");
  } else {
    log_.warn("runs", "compaction of " + session + " failed: " + error);
  }
  for (const auto& reply : c.replies) {
    Json p = {{"ok", stored}, {"key", session}, {"compacted", stored}};
    if (stored) {
      p["result"] = result;
    } else {
      p["reason"] = error;
    }
    reply(Reply::ok(std::move(p)));
  }
  if (auto it = runs_.find(c.trigger); it != runs_.end()) {
    Json data = {{"phase", "end"}, {"completed", stored}, {"willRetry", false}};
    if (!stored) data["reason"] = error;
    agent_event(*it->second, "compaction", std::move(data));
  }
  // The session's turns go now, in the order they came, ahead of what was queued since.
  for (auto it = c.deferred.rbegin(); it != c.deferred.rend(); ++it)
    if (runs_.count(*it)) queue_.push_front(*it);
  pump();
}

void RunManager::m_compact(const SessionKey& key, const Json& params, const ReplyFn& reply) {
  const std::string session = key.str();
  // Upstream's answers: a session without an id or transcript is not an error.
  if (!sessions_.exists(key))
    return reply(Reply::ok(
        {{"ok", true}, {"key", session}, {"compacted", false}, {"reason", "no sessionId"}}));
  if (compactions_.count(session))
    return reply(
        Reply::invalid("Session " + session + " is being compacted; retry after it finishes."));
  if (lanes_.busy(session))
    return reply(
        Reply::invalid("Session " + session + " has an active run; retry after it finishes."));
  const SessionHistory* h = nullptr;
  try {
    h = &sessions_.history(key);
  } catch (const std::exception& e) {
    return reply(Reply::unavailable(std::string("cannot read the transcript: ") + e.what(), true));
  }
  if (h->turns.empty())
    return reply(Reply::ok(
        {{"ok", true}, {"key", session}, {"compacted", false}, {"reason", "no transcript"}}));
  if (params.contains("maxLines")) {
    // Only the newest maxLines messages stay visible to the model, with no summary; the
    // transcript keeps every line (chat.history shows them all).
    const size_t keep = static_cast<size_t>(
        std::clamp<int64_t>(params["maxLines"].get<int64_t>(), 1, kMaxTrimLines));
    const auto cut = trim_cut(*h, keep);
    if (!cut)
      return reply(Reply::ok(
          {{"ok", true}, {"key", session}, {"compacted", false}, {"kept", h->turns.size()}}));
    const Json e = sessions_.entry(key);
    const int64_t count = e.is_object() ? e.value("compactionCount", int64_t{0}) : 0;
    try {
      sessions_.append(key,
                       {{"type", "compaction"},
                        {"id", "trim-" + uuid_v4()},
                        {"summary", ""},
                        {"cutOffset", *cut},
                        {"reason", "manual"},
                        {"ts", clock_.wall_ms()}},
                       {{"compactionCount", count + 1}});
    } catch (const std::exception& ex) {
      return reply(Reply::unavailable(std::string("cannot store the cut: ") + ex.what(), true));
    }
    return reply(Reply::ok({{"ok", true}, {"key", session}, {"compacted", true}, {"kept", keep}}));
  }
  bool nothing = false;
  const std::string why = start_compaction(key, "manual", "", &nothing);
  if (nothing)
    return reply(
        Reply::ok({{"ok", false}, {"key", session}, {"compacted", false}, {"reason", why}}));
  if (!why.empty()) return reply(Reply::unavailable(why, true));
  compactions_.at(session).replies.push_back(reply);
}

void RunManager::agent_event(Run& r, const std::string& stream, Json data) {
  Json ev = {{"runId", r.id},
             {"seq", ++r.seq},
             {"stream", stream},
             {"ts", clock_.wall_ms()},
             {"data", std::move(data)}};
  if (r.heartbeat) ev["isHeartbeat"] = true;
  // Assistant updates carry the whole text so far: a slow client may skip some (and is not
  // closed for it); lifecycle events always go out.
  emit_("agent", ev, stream == "assistant");
}

Json RunManager::chat_message(const std::string& role, const std::string& text, int64_t ts) const {
  return {{"role", role},
          {"content", Json::array({{{"type", "text"}, {"text", text}}})},
          {"timestamp", ts}};
}

void RunManager::flush_delta(Run& r) {
  r.delta_pending = false;
  r.last_delta_ms = clock_.steady_ms();
  if (!r.agent_delta.empty()) {
    agent_event(r, "assistant", {{"text", r.text}, {"delta", r.agent_delta}});
    r.agent_delta.clear();
  }
  if (r.heartbeat || r.text == r.emitted_text) return;
  Json ev = {{"runId", r.id},
             {"sessionKey", r.session_key.str()},
             {"seq", r.seq},
             {"state", "delta"},
             {"message", chat_message("assistant", r.text, clock_.wall_ms())}};
  if (r.text.compare(0, r.emitted_text.size(), r.emitted_text) == 0) {
    ev["deltaText"] = r.text.substr(r.emitted_text.size());
  } else {  // not a continuation: the whole text replaces what was shown
    ev["deltaText"] = r.text;
    ev["replace"] = true;
  }
  r.emitted_text = r.text;
  emit_("chat", ev, true);  // a slow client may miss deltas, never the final
}

void RunManager::finish(const std::string& run_id, const Outcome& o, EndKind kind) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  std::unique_ptr<Run> r = std::move(it->second);
  runs_.erase(it);
  queue_.erase(std::remove(queue_.begin(), queue_.end(), run_id), queue_.end());
  r->delta_timer.cancel();
  if (!r->agent_delta.empty()) flush_delta(*r);  // the last pieces before the end
  const int64_t now = clock_.wall_ms();
  const std::string& text = o.text;
  const bool aborted = o.aborted;
  std::string err = o.error;
  bool ok = o.ok && !aborted;
  // Only a run's own turn has an answer to keep and to send back; a run merged into another's
  // turn is answered there, and one that never ran has nothing.
  const bool own = kind == EndKind::own;

  // heartbeats stay out of the conversation; a resumed run's answer may be stored already
  if (own && ok && !text.empty() && !r->heartbeat && !(r->resumed && answered(*r))) {
    try {
      sessions_.append(r->session_key, {{"type", "message"},
                                        {"role", "assistant"},
                                        {"text", text},
                                        {"ts", now},
                                        {"runId", r->id},
                                        {"model", o.model}});
    } catch (const std::exception& e) {
      ok = false;
      err = std::string("cannot store the answer: ") + e.what();
    }
  }

  if (ok) {
    agent_event(*r, "lifecycle", {{"phase", "end"}, {"endedAt", now}});
  } else if (aborted) {
    agent_event(*r, "lifecycle", {{"phase", "end"}, {"endedAt", now}, {"aborted", true}});
  } else {
    agent_event(*r, "lifecycle", {{"phase", "error"}, {"error", err}, {"endedAt", now}});
  }
  if (!r->heartbeat) {
    Json ev = {{"runId", r->id}, {"sessionKey", r->session_key.str()}, {"seq", r->seq}};
    if (ok) {
      ev["state"] = "final";
      // A merged run's final carries no message: the answer is shown once, with the run that
      // carried the turn.
      if (own && !text.empty()) ev["message"] = chat_message("assistant", text, now);
    } else if (aborted) {
      ev["state"] = "aborted";
      ev["seq"] = r->seq + 1;
      ev["stopReason"] = "rpc";
    } else {
      ev["state"] = "error";
      ev["errorMessage"] = err;
    }
    emit_("chat", ev, false);
  }

  // An answer to a channel message goes back where it came from.
  if (own && hub_ && !r->origin.channel.empty() && !r->origin.to.empty()) {
    const std::string out = ok ? text : aborted ? "" : "⚠️ The agent failed: " + err;
    // Keyed by the run: an outcome reported again after a front restart is queued once.
    if (!out.empty() &&
        !hub_->deliver(r->origin.channel, r->origin.account_id, r->origin.to, out, "run:" + r->id))
      log_.warn("runs", "run " + r->id + ": could not queue the answer for " + r->origin.channel);
  }

  Snapshot snap;
  snap.ok = ok;
  snap.at_ms = now;
  snap.json = {{"runId", r->id},
               {"status", ok ? "ok" : "error"},
               {"startedAt", r->started_ms},
               {"endedAt", now}};
  if (!ok) snap.json["error"] = aborted ? "aborted" : err;
  for (auto& f : r->finals) {
    const Json payload = {{"runId", r->id},
                          {"status", ok ? "ok" : "error"},
                          {"summary", ok ? "completed" : snap.json["error"].get<std::string>()}};
    if (ok) {
      Json p = payload;
      p["result"] = {{"payloads", Json::array({{{"text", text}}})},
                     {"meta", {{"durationMs", now - r->started_ms}, {"model", o.model}}}};
      f(Reply::ok(p));
    } else {
      f(Reply::fail(Error::unavailable(snap.json["error"].get<std::string>(), !aborted), payload));
    }
  }
  remember(r->id, snap);
  if (r->on_done) r->on_done(ok, text, err);
  if (kind == EndKind::unrun && !r->line_written && !r->heartbeat)
    withdraw(r->session_key, r->id, r->line, aborted ? "aborted" : err);
  // The runs this turn answered end with it, with the same outcome.
  Outcome shared = o;
  shared.ok = ok;
  shared.error = err;
  for (const auto& id : r->merged) finish(id, shared, EndKind::merged);
  // Its session is free: the next turn there, and its slot, may go now.
  if (kind != EndKind::merged) apply(lanes_.ended(r->session_key.str(), r->id, clock_.steady_ms()));
}

void RunManager::remember(const std::string& run_id, Snapshot s) {
  const Json snap = s.json;
  done_[run_id] = std::move(s);
  if (auto w = waiters_.find(run_id); w != waiters_.end()) {
    auto list = std::move(w->second);
    waiters_.erase(w);
    waiter_count_ -= list.size();
    for (auto& [timer, reply] : list) {
      timer->cancel();
      reply(Reply::ok(snap));
    }
  }
  const int64_t now = clock_.wall_ms();
  for (auto it = done_.begin(); it != done_.end();)
    it = now - it->second.at_ms > kSnapshotTtlMs ? done_.erase(it) : std::next(it);
  while (done_.size() > kMaxSnapshots) {
    auto oldest = std::min_element(done_.begin(), done_.end(), [](const auto& a, const auto& b) {
      return a.second.at_ms < b.second.at_ms;
    });
    done_.erase(oldest);
  }
}

bool RunManager::abort(const std::string& run_id, const std::string& reason) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  Run& r = *it->second;
  // A message answered by another run's turn stops that turn (and every message in it). A
  // copy: ending the turn ends this run too, and its strings with it.
  if (!r.carrier.empty()) {
    const std::string carrier = r.carrier;
    return abort(carrier, reason);
  }
  if (r.sent && agent_) {
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setAbort(run_id);
    agent_->send(b);
  }
  log_.info("runs", "run " + run_id + " aborted (" + reason + ")");
  finish(run_id, Outcome{false, true, "", "", ""}, r.adopted ? EndKind::own : EndKind::unrun);
  return true;
}

Json RunManager::abort_session(const SessionKey& key, const std::string& reason) {
  std::vector<std::string> order = lanes_.waiting_runs(key.str()), all;
  for (auto& [id, r] : runs_)
    if (r->session_key == key) all.push_back(id);
  for (auto& [id, r] : runs_)
    if (r->session_key == key && r->adopted && r->carrier.empty()) order.push_back(id);
  for (const auto& id : order) abort(id, reason);
  Json ids = Json::array();
  for (const auto& id : all)
    if (!runs_.count(id)) ids.push_back(id);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Methods

bool RunManager::call(schema::Method m, const Json& params, const ReplyFn& reply) {
  using M = schema::Method;
  switch (m) {
    case M::agent:
      return m_agent(params, reply), true;
    case M::agent_wait:
      return m_agent_wait(params, reply), true;
    case M::chat_send:
      return m_chat_send(params, reply), true;
    case M::chat_history:
      return m_chat_history(params, reply), true;
    case M::chat_abort:
      return m_chat_abort(params, reply), true;
    case M::sessions_list:
    case M::sessions_preview:
    case M::sessions_patch:
    case M::sessions_reset:
    case M::sessions_delete:
    case M::sessions_compact:
      return m_sessions(m, params, reply), true;
    default:
      return false;
  }
}

void RunManager::m_agent(const Json& params, const ReplyFn& reply) {
  const std::string run_id = params.at("idempotencyKey");
  const int64_t now = clock_.wall_ms();
  if (auto it = runs_.find(run_id); it != runs_.end()) {  // a retry: the same run
    reply(Reply::ok({{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", now}}));
    // Retries share the run; past the cap a retry gets the acknowledgement only (agent.wait
    // still tells it the end), so retrying cannot grow memory without bound.
    if (it->second->finals.size() < kMaxFinalsPerRun) it->second->finals.push_back(reply);
    return;
  }
  if (auto d = done_.find(run_id); d != done_.end()) {
    Json p = d->second.json;
    p["summary"] = d->second.ok ? "completed" : p.value("error", "failed");
    if (d->second.ok) return reply(Reply::ok(p));
    return reply(Reply::fail(Error::unavailable(p.value("error", "failed")), p));
  }
  std::string why;
  const auto key = SessionKey::parse(params.value("sessionKey", "main"), &why);
  if (!key) return reply(Reply::invalid(why));
  if (std::string no = refusal(*key); !no.empty()) return reply(Reply::invalid(no));
  Origin origin;
  origin.kind = "agent";
  if (params.value("deliver", false)) {
    origin.channel = params.value("channel", params.value("replyChannel", ""));
    origin.to = params.value("to", params.value("replyTo", ""));
    origin.account_id = params.value("accountId", "");
    if (origin.channel.empty() || origin.to.empty()) {  // the session's last channel
      const Json e = sessions_.entry(*key);
      if (e.is_object()) {
        if (origin.channel.empty()) origin.channel = e.value("lastChannel", "");
        if (origin.to.empty()) origin.to = e.value("lastTo", "");
        if (origin.account_id.empty()) origin.account_id = e.value("lastAccountId", "");
      }
    }
    if (origin.channel.empty() || origin.to.empty())
      return reply(
          Reply::invalid("deliver: no channel/to given and the session has no last channel"));
  }
  const std::string err = start(*key, params.at("message"), run_id, origin);
  if (!err.empty()) return reply(Reply::unavailable(err, true));
  reply(Reply::ok({{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", now}}));
  if (auto it = runs_.find(run_id); it != runs_.end()) return it->second->finals.push_back(reply);
  // Ended already (its message could not be written when its turn began): the second answer.
  if (auto d = done_.find(run_id); d != done_.end()) {
    Json p = d->second.json;
    p["summary"] = d->second.ok ? "completed" : p.value("error", "failed");
    if (d->second.ok) return reply(Reply::ok(p));
    reply(Reply::fail(Error::unavailable(p.value("error", "failed"), true), p));
  }
}

void RunManager::m_agent_wait(const Json& params, const ReplyFn& reply) {
  const std::string run_id = params.at("runId");
  if (auto d = done_.find(run_id); d != done_.end()) return reply(Reply::ok(d->second.json));
  // Clamped: milliseconds past a day overflow the timer's nanoseconds, and no client waits that
  // long.
  const int64_t timeout =
      std::clamp<int64_t>(params.value("timeoutMs", kAgentWaitDefaultMs), 0, kAgentWaitMaxMs);
  auto existing = waiters_.find(run_id);
  if (waiter_count_ >= kMaxWaiters ||
      (existing != waiters_.end() && existing->second.size() >= kMaxWaitersPerRun))
    return reply(Reply::unavailable("too many agent.wait calls waiting; try again later", true));
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  waiters_[run_id].push_back({timer, reply});
  ++waiter_count_;
  timer->expires_after(std::chrono::milliseconds(timeout));
  timer->async_wait([this, run_id, timer](const boost::system::error_code& ec) {
    if (ec) return;
    auto w = waiters_.find(run_id);
    if (w == waiters_.end()) return;
    auto& list = w->second;
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (it->first != timer) continue;
      ReplyFn rp = it->second;
      list.erase(it);
      --waiter_count_;
      if (list.empty()) waiters_.erase(w);
      rp(Reply::ok({{"runId", run_id}, {"status", "timeout"}}));
      return;
    }
  });
}

void RunManager::m_chat_send(const Json& params, const ReplyFn& reply) {
  const std::string run_id = params.at("idempotencyKey");
  const std::string message = params.value("message", "");
  const bool attachments = params.contains("attachments") && !params["attachments"].empty();
  if (runs_.count(run_id)) return reply(Reply::ok({{"runId", run_id}, {"status", "in_flight"}}));
  if (auto d = done_.find(run_id); d != done_.end())
    return reply(Reply::ok({{"runId", run_id}, {"status", d->second.ok ? "ok" : "error"}}));
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return reply(Reply::invalid(attachments ? "attachments are not supported yet"
                                            : "message or attachment required"));
  }
  const auto canon = key_param(params, "sessionKey", reply);
  if (!canon) return;
  if (std::string no = refusal(*canon); !no.empty()) return reply(Reply::invalid(no));
  if (message == "/stop") {  // upstream: aborts the session's runs
    const Json ids = abort_session(*canon, "/stop");
    return reply(Reply::ok({{"ok", true}, {"aborted", !ids.empty()}, {"runIds", ids}}));
  }
  Origin origin;
  origin.kind = "chat";
  if (params.contains("queueMode") && params["queueMode"].is_string()) {  // schema: the 4 modes
    const std::string m = params["queueMode"];
    origin.mode = m == "followup"    ? QueueMode::followup
                  : m == "collect"   ? QueueMode::collect
                  : m == "interrupt" ? QueueMode::interrupt
                                     : QueueMode::steer;
  }
  if (params.value("deliver", false)) {
    const Json e = sessions_.entry(*canon);
    if (e.is_object()) {
      origin.channel = e.value("lastChannel", "");
      origin.to = e.value("lastTo", "");
      origin.account_id = e.value("lastAccountId", "");
    }
  }
  const std::string err = start(*canon, message, run_id, origin);
  if (!err.empty()) return reply(Reply::unavailable(err, true));
  reply(Reply::ok({{"runId", run_id}, {"status", "started"}}));
}

void RunManager::m_chat_history(const Json& params, const ReplyFn& reply) {
  const auto canon = key_param(params, "sessionKey", reply);
  if (!canon) return;
  const size_t limit = params.value("limit", 200);
  // Waiting messages too, where they came: the sender sees them (and, after a restart, the
  // ones never answered).
  std::vector<Json> entries = sessions_.read(*canon, limit, true);
  // Newest first within the byte budget, then back in order.
  Json messages = Json::array();
  size_t bytes = 0, first = entries.size();
  while (first > 0) {
    const size_t n = entries[first - 1].value("text", "").size() + 128;
    if (bytes + n > kHistoryMaxBytes) break;
    bytes += n;
    --first;
  }
  for (size_t i = first; i < entries.size(); ++i)
    messages.push_back(chat_message(entries[i].value("role", "user"), entries[i].value("text", ""),
                                    entries[i].value("ts", int64_t{0})));
  // The key as the client gave it, as upstream answers ("main", not "agent:main:main").
  Json out = {{"sessionKey", params.at("sessionKey")}, {"messages", messages}};
  const Json e = sessions_.entry(*canon);
  if (e.is_object() && e.contains("sessionId")) out["sessionId"] = e["sessionId"];
  reply(Reply::ok(out));
}

void RunManager::m_chat_abort(const Json& params, const ReplyFn& reply) {
  const auto canon = key_param(params, "sessionKey", reply);
  if (!canon) return;
  Json ids = Json::array();
  if (params.contains("runId")) {
    const std::string id = params["runId"];
    auto it = runs_.find(id);
    if (it != runs_.end() && it->second->session_key != *canon)
      return reply(Reply::invalid("runId " + id + " does not belong to " + canon->str()));
    if (abort(id, "chat.abort")) ids.push_back(id);
  } else {
    ids = abort_session(*canon, "chat.abort");
  }
  reply(Reply::ok({{"ok", true}, {"aborted", !ids.empty()}, {"runIds", ids}}));
}

void RunManager::m_sessions(schema::Method method, const Json& params, const ReplyFn& reply) {
  using M = schema::Method;
  if (method == M::sessions_list) return reply(m_sessions_list(params));
  if (method == M::sessions_preview) return reply(m_sessions_preview(params));
  const auto parsed = key_param(params, "key", reply);
  if (!parsed) return;
  const SessionKey& key = *parsed;
  switch (method) {
    case M::sessions_patch:
      return reply(m_sessions_patch(key, params));
    case M::sessions_compact:
      return m_compact(key, params, reply);
    case M::sessions_reset:
      return reply(m_sessions_reset(key));
    case M::sessions_delete:
      return reply(m_sessions_delete(key, params));
    default:
      return reply(Reply::invalid("unknown method: " + std::string(schema::method_name(method))));
  }
}

Reply RunManager::m_sessions_list(const Json& params) const {
  const int64_t now = clock_.wall_ms();
  std::vector<Json> rows;
  const std::string search = params.value("search", "");
  const int64_t active = params.value("activeMinutes", int64_t{0});
  for (auto& [key, e] : sessions_.index().items()) {
    if (!search.empty() && key.find(search) == std::string::npos &&
        e.value("displayName", "").find(search) == std::string::npos)
      continue;
    // A window past INT64_MAX ms (active * 60'000 would overflow) holds every session.
    if (active > 0 && active <= INT64_MAX / 60'000 &&
        now - e.value("updatedAt", int64_t{0}) > active * 60'000)
      continue;
    Json row = e;
    row.erase("messages");
    row["key"] = key;
    // Index keys are canonical (SessionStore moves any other on open); one that still is
    // not (its move failed) is listed as it is.
    if (const auto k = SessionKey::parse(key)) {
      const std::string chat_type = e.is_object() ? e.value("chatType", "") : "";
      row["kind"] =
          chat_type == "group" || chat_type == "channel" ? "group" : std::string(k->list_kind());
      row["classification"] = SessionKey::kind_name(k->kind());
      row["agentId"] = k->agent_id();
      row["isMain"] = k->is_main();
      row["isBackground"] = k->background();
    }
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) {
    return a.value("updatedAt", int64_t{0}) > b.value("updatedAt", int64_t{0});
  });
  const size_t limit = static_cast<size_t>(
      std::clamp<int64_t>(params.value("limit", int64_t(rows.size())), 0, int64_t(rows.size())));
  if (rows.size() > limit) rows.resize(limit);
  const size_t slash = model_label_.find('/');
  return Reply::ok(
      {{"ts", now},
       {"path", sessions_.path()},
       {"count", rows.size()},
       {"defaults",
        {{"modelProvider",
          slash == std::string::npos ? model_label_ : model_label_.substr(0, slash)},
         {"model", slash == std::string::npos ? model_label_ : model_label_.substr(slash + 1)},
         {"contextTokens", window_tokens()}}},
       {"sessions", rows}});
}

Reply RunManager::m_sessions_preview(const Json& params) const {
  const int64_t now = clock_.wall_ms();
  // Clamped, not refused (upstream sets no maximum): a preview is a glance, not a history.
  const size_t limit =
      static_cast<size_t>(std::clamp<int64_t>(params.value("limit", int64_t{12}), 1, 100));
  const size_t max_chars =
      static_cast<size_t>(std::clamp<int64_t>(params.value("maxChars", int64_t{240}), 20, 4096));
  Json previews = Json::array();
  // Every key is read first: upstream refuses the whole request for one malformed key.
  std::vector<SessionKey> keys;
  for (const auto& k : params.at("keys")) {
    std::string why;
    auto key = SessionKey::parse(k.get<std::string>(), &why);
    if (!key) return Reply::invalid(why);
    keys.push_back(std::move(*key));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    // The key as the client gave it, as upstream answers.
    Json p = {{"key", params["keys"][i]}, {"items", Json::array()}};
    if (!sessions_.exists(keys[i])) {
      p["status"] = "missing";
    } else {
      for (const auto& e : sessions_.read(keys[i], limit, true)) {
        p["items"].push_back({{"role", e.value("role", "user")},
                              {"text", utf8::preview(e.value("text", ""), max_chars)}});
      }
      p["status"] = p["items"].empty() ? "empty" : "ok";
    }
    previews.push_back(p);
  }
  return Reply::ok({{"ts", now}, {"previews", previews}});
}

Reply RunManager::m_sessions_patch(const SessionKey& key, const Json& params) {
  Json fields = Json::object();
  for (auto& [k, v] : params.items())
    if (k != "key" && k != "agentId" && k.rfind("expected", 0) != 0) fields[k] = v;
  sessions_.patch(key, fields);
  return Reply::ok({{"ok", true},
                    {"path", sessions_.path()},
                    {"key", key.str()},
                    {"entry", sessions_.entry(key)}});
}

// A compaction of a transcript that goes away would store its summary in the next one.
void RunManager::stop_compaction(const SessionKey& key, const char* why) {
  auto c = compactions_.find(key.str());
  if (c == compactions_.end()) return;
  if (agent_) {
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setAbort(c->second.id);
    agent_->send(b);
  }
  end_compaction(key.str(), false, "", why);
}

Reply RunManager::m_sessions_reset(const SessionKey& key) {
  abort_session(key, "session reset");
  stop_compaction(key, "the session was reset");
  sessions_.reset(key, clock_.wall_ms());
  return Reply::ok({{"ok", true}, {"key", key.str()}, {"entry", sessions_.entry(key)}});
}

Reply RunManager::m_sessions_delete(const SessionKey& key, const Json& params) {
  if (key == SessionKey::main()) return Reply::invalid("the main session cannot be deleted");
  if (!sessions_.exists(key))
    return Reply::ok(
        {{"ok", true}, {"key", key.str()}, {"deleted", false}, {"archived", Json::array()}});
  abort_session(key, "session deleted");
  stop_compaction(key, "the session was deleted");
  const auto archived =
      sessions_.remove(key, params.value("deleteTranscript", false), clock_.wall_ms());
  return Reply::ok({{"ok", true}, {"key", key.str()}, {"deleted", true}, {"archived", archived}});
}

}  // namespace clawgate::core
