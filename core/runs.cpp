// RunManager, a run's life: started (its user message stored, a place in its session's lane),
// its turn (adopted, merged with others), sent to the agent worker with the history that fits,
// streamed to clients as `agent` and `chat` events, and ended once: answer stored, end events,
// channel reply, waiting callers answered, the session's next turn let go. See runs.hpp.
// Fails: a transcript that cannot be written ends the run with an error (or refuses it, at
// start); lanes and runs that disagree free the session rather than wedge it (logged).
#include "core/runs.hpp"

#include <algorithm>
#include <cstdint>

namespace clawgate::core {

RunManager::RunManager(boost::asio::io_context& io, const Clock& clock, Logger& log,
                       SessionStore& sessions, ChannelHub* hub, Emit emit,
                       const QueueSettings& queue, const HistorySettings& history)
    : io_(io),
      clock_(clock),
      log_(log),
      sessions_(sessions),
      hub_(hub),
      emit_(std::move(emit)),
      agent_(io, log, *this),
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

RunManager::~RunManager() {
  agent_.close("front stopping");
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

bool RunManager::turn_waits(const SessionKey& session_key) const {
  return lanes_.busy(session_key.str());
}

std::string RunManager::refusal(const SessionKey& key) {
  if (key.agent_id() == SessionKey::kDefaultAgent) return "";
  return "unknown agent \"" + key.agent_id() + "\" in session key \"" + key.str() +
         "\" (this gateway runs one agent, \"" + std::string(SessionKey::kDefaultAgent) + "\")";
}

// ---------------------------------------------------------------------------------------------
// Starting a run and its turn

std::string RunManager::start(const SessionKey& key, const std::string& message,
                              const std::string& run_id, Origin origin, DoneHook on_done,
                              bool is_heartbeat) {
  if (std::string why = refusal(key); !why.empty()) return why;
  if (runs_.count(run_id)) return "run " + run_id + " is already in flight";
  const int64_t now = clock_.wall_ms();
  const bool background = is_heartbeat || origin.kind == ipc::RunKind::CRON;
  // Decided before anything is written, by the same rule the inbound router used for a
  // channel message: a session that is free adopts this message at once (lanes.hpp).
  const bool waits = lanes_.busy(key.str());
  Json line = user_line(message, run_id, origin, now);
  // The message is on disk before its sender hears back: as the session's next turn when the
  // session is free, else as a queued record, written again as the turn when it begins (so
  // the transcript reads user, assistant, user, ... whatever the arrival order). Channel
  // messages were written by the inbound router; the heartbeat prompt is never written.
  if (origin.kind != ipc::RunKind::CHANNEL && !is_heartbeat && !origin.recovered) {
    Json record = line;
    if (waits) record["type"] = "queued";
    try {
      sessions_.append(key, record);
    } catch (const std::exception& e) {
      return std::string("cannot store the message: ") + e.what();
    }
  }
  LaneMessage lm = lane_message(message, run_id, origin, background);
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

// The user turn as the transcript keeps it: a channel message's (or recovered record's) own
// entry, else one made here.
Json RunManager::user_line(const std::string& message, const std::string& run_id,
                           const Origin& origin, int64_t now) const {
  if ((origin.kind == ipc::RunKind::CHANNEL || origin.recovered) && origin.entry.is_object()) {
    Json line = origin.entry;
    line["type"] = "message";
    line["runId"] = run_id;
    return line;
  }
  return {{"type", "message"}, {"role", "user"},  {"text", message},
          {"ts", now},         {"runId", run_id}, {"source", ipc::name_of(origin.kind)}};
}

LaneMessage RunManager::lane_message(const std::string& message, const std::string& run_id,
                                     const Origin& origin, bool background) const {
  // Where the run's answer goes decides its queue mode: chat.send is the WebChat surface.
  const std::string surface = origin.kind == ipc::RunKind::CHAT ? "webchat" : origin.channel;
  LaneMessage lm;
  lm.run_id = run_id;
  lm.text = message;
  lm.sender = origin.sender;
  lm.route = origin.channel + "\n" + origin.account_id + "\n" + origin.to;
  lm.mode = origin.mode ? *origin.mode : queue_settings_.mode_for(surface);
  lm.debounce_ms = queue_settings_.debounce_ms_for(surface);
  lm.background = background;
  return lm;
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

// ---------------------------------------------------------------------------------------------
// To the agent worker

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
  return send_run(r, *h);
}

RunManager::Dispatch RunManager::send_run(Run& r, const SessionHistory& h) {
  const size_t prompt_tokens = r.heartbeat ? estimate_tokens(r.user_text) : 0;
  const size_t budget = input_budget() > prompt_tokens + 64 ? input_budget() - prompt_tokens : 64;
  const ModelWindow w = build_window(h, budget, r.origin.context_limit);
  const std::string session = r.session_key.str();
  AgentLink::Request rq;
  rq.run_id = r.id;
  rq.session_key = session;
  rq.heartbeat = r.heartbeat;
  rq.origin = AgentLink::Origin{r.heartbeat ? ipc::RunKind::HEARTBEAT : r.origin.kind,
                                r.origin.channel, r.origin.account_id, r.origin.to, r.started_ms};
  rq.messages.reserve(w.messages.size() + 1);
  for (const auto& [role, text] : w.messages) rq.messages.push_back({turn_role(role), text});
  // The heartbeat prompt is not part of the transcript.
  if (r.heartbeat) rq.messages.push_back({ipc::ChatRole::USER, r.user_text});
  if (tools_ && !r.heartbeat) rq.nodes = tools_->node_offers();
  r.sent = agent_.send_run(rq);
  r.sent_generation = agent_.generation();
  if (!r.sent) {
    queue_.push_front(r.id);
    return Dispatch::refused;
  }
  show_typing(r, true);
  return Dispatch::sent;
}

// ---------------------------------------------------------------------------------------------
// What clients hear

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

// A transcript entry as chat.history shows it. Tool rounds take upstream's message shapes: the
// assistant's calls as toolCall parts after its text, each result a toolResult message.
Json RunManager::history_message(const Json& entry) const {
  const std::string role = entry.value("role", "user");
  const std::string text = entry.value("text", "");
  const int64_t ts = entry.value("ts", int64_t{0});
  if (role == "toolResult")
    return {{"role", "toolResult"},
            {"toolCallId", entry.value("toolCallId", "")},
            {"toolName", entry.value("toolName", "")},
            {"content", Json::array({{{"type", "text"}, {"text", text}}})},
            {"isError", entry.value("isError", false)},
            {"timestamp", ts}};
  Json m = chat_message(role, text, ts);
  const auto calls = entry.find("toolCalls");
  if (calls == entry.end() || !calls->is_array()) return m;
  if (text.empty()) m["content"] = Json::array();
  for (const Json& c : *calls)
    if (c.is_object())
      m["content"].push_back({{"type", "toolCall"},
                              {"id", c.value("id", "")},
                              {"name", c.value("name", "")},
                              {"arguments", c.value("arguments", Json::object())}});
  return m;
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

// ---------------------------------------------------------------------------------------------
// The end of a run

void RunManager::finish(const std::string& run_id, const Outcome& o, EndKind kind) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  std::unique_ptr<Run> r = std::move(it->second);
  runs_.erase(it);
  queue_.erase(std::remove(queue_.begin(), queue_.end(), run_id), queue_.end());
  r->delta_timer.cancel();
  if (!r->agent_delta.empty()) flush_delta(*r);  // the last pieces before the end
  const int64_t now = clock_.wall_ms();
  Outcome end = o;
  end.ok = o.ok && !o.aborted;
  // Only a run's own turn has an answer to keep and to send back; a run merged into another's
  // turn is answered there, and one that never ran has nothing.
  const bool own = kind == EndKind::own;
  // heartbeats stay out of the conversation; a resumed run's answer may be stored already
  if (own && end.ok && !end.text.empty() && !r->heartbeat && !(r->resumed && answered(*r)))
    store_answer(*r, end, now);
  emit_end(*r, end, own, now);
  show_typing(*r, false);
  if (own) deliver_answer(*r, end);
  answer_callers(*r, end, now);
  if (r->on_done) r->on_done(end.ok, end.text, end.error);
  if (kind == EndKind::unrun && !r->line_written && !r->heartbeat)
    withdraw(r->session_key, r->id, r->line, end.aborted ? "aborted" : end.error);
  // The runs this turn answered end with it, with the same outcome.
  for (const auto& id : r->merged) finish(id, end, EndKind::merged);
  // Its session is free: the next turn there, and its slot, may go now.
  if (kind != EndKind::merged) apply(lanes_.ended(r->session_key.str(), r->id, clock_.steady_ms()));
}

void RunManager::store_answer(const Run& r, Outcome& o, int64_t now) {
  // The tool rounds' lines hold the text before the last round; this line holds what follows.
  std::string text = o.text;
  if (r.text_recorded && r.text_recorded <= text.size() &&
      text.compare(0, r.text_recorded, r.text, 0, r.text_recorded) == 0) {
    text.erase(0, r.text_recorded);
    text.erase(0, std::min(text.size(), text.find_first_not_of(" \t\r\n")));
  }
  if (text.empty()) return;  // the words all went with the tool calls
  try {
    sessions_.append(r.session_key, {{"type", "message"},
                                     {"role", "assistant"},
                                     {"text", std::move(text)},
                                     {"ts", now},
                                     {"runId", r.id},
                                     {"model", o.model}});
  } catch (const std::exception& e) {
    o.ok = false;
    o.error = std::string("cannot store the answer: ") + e.what();
  }
}

void RunManager::emit_end(Run& r, const Outcome& o, bool own, int64_t now) {
  if (o.ok) {
    agent_event(r, "lifecycle", {{"phase", "end"}, {"endedAt", now}});
  } else if (o.aborted) {
    agent_event(r, "lifecycle", {{"phase", "end"}, {"endedAt", now}, {"aborted", true}});
  } else {
    agent_event(r, "lifecycle", {{"phase", "error"}, {"error", o.error}, {"endedAt", now}});
  }
  if (r.heartbeat) return;
  Json ev = {{"runId", r.id}, {"sessionKey", r.session_key.str()}, {"seq", r.seq}};
  if (o.ok) {
    ev["state"] = "final";
    // A merged run's final carries no message: the answer is shown once, with the run that
    // carried the turn.
    if (own && !o.text.empty()) ev["message"] = chat_message("assistant", o.text, now);
  } else if (o.aborted) {
    ev["state"] = "aborted";
    ev["seq"] = r.seq + 1;
    ev["stopReason"] = "rpc";
  } else {
    ev["state"] = "error";
    ev["errorMessage"] = o.error;
  }
  emit_("chat", ev, false);
}

// While a channel message's turn runs, its chat shows the bot typing (where the platform can).
void RunManager::show_typing(const Run& r, bool active) {
  if (!hub_ || r.heartbeat || r.origin.kind != ipc::RunKind::CHANNEL || r.origin.channel.empty() ||
      r.origin.to.empty())
    return;
  hub_->typing(r.origin.channel, r.origin.account_id, r.origin.to, active);
}

// An answer to a channel message goes back where it came from.
void RunManager::deliver_answer(const Run& r, const Outcome& o) {
  if (!hub_ || r.origin.channel.empty() || r.origin.to.empty()) return;
  const std::string out = o.ok ? o.text : o.aborted ? "" : "⚠️ The agent failed: " + o.error;
  // Keyed by the run: an outcome reported again after a front restart is queued once.
  if (!out.empty() &&
      !hub_->deliver(r.origin.channel, r.origin.account_id, r.origin.to, out, "run:" + r.id))
    log_.warn("runs", "run " + r.id + ": could not queue the answer for " + r.origin.channel);
}

// The `agent` callers' second answer, and the snapshot agent.wait reads.
void RunManager::answer_callers(Run& r, const Outcome& o, int64_t now) {
  Snapshot snap;
  snap.ok = o.ok;
  snap.at_ms = now;
  snap.json = {{"runId", r.id},
               {"status", o.ok ? "ok" : "error"},
               {"startedAt", r.started_ms},
               {"endedAt", now}};
  if (!o.ok) snap.json["error"] = o.aborted ? "aborted" : o.error;
  for (auto& f : r.finals) {
    const Json payload = {{"runId", r.id},
                          {"status", o.ok ? "ok" : "error"},
                          {"summary", o.ok ? "completed" : snap.json["error"].get<std::string>()}};
    if (o.ok) {
      Json p = payload;
      p["result"] = {{"payloads", Json::array({{{"text", o.text}}})},
                     {"meta", {{"durationMs", now - r.started_ms}, {"model", o.model}}}};
      f(Reply::ok(p));
    } else {
      f(Reply::fail(Error::unavailable(snap.json["error"].get<std::string>(), !o.aborted),
                    payload));
    }
  }
  remember(r.id, snap);
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
  if (r.sent) agent_.abort(run_id);
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

}  // namespace clawgate::core
