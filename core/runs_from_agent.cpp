// RunManager, what the agent worker says (AgentLink::Listener): hello (queued runs go), the
// stream of a run (into agent and chat events, deltas batched per kDeltaIntervalMs), a run's
// outcome, the loss of the link (its runs and compactions end with an error), and after a
// front restart the runs the worker still has (adopted here, their outcomes stored once) and
// then the messages the old front had queued but never started (restarted, once per front).
// Fails: a resumed run that cannot be used (bad id or key, past the run limit) is dropped with
// a warning and the worker told (abort, or doneAck when it has ended); a queued record that
// cannot be read is skipped, logged; nothing throws into the loop.
#include <algorithm>
#include <cstdint>

#include "core/runs.hpp"
#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::core {

void RunManager::on_agent_hello() {
  pump();
}

void RunManager::on_agent_event(const AgentLink::Event& ev) {
  auto it = runs_.find(ev.run_id);
  if (it == runs_.end()) return;  // aborted or ended meanwhile
  Run& r = *it->second;
  if (ev.stream == ipc::RunStream::LIFECYCLE) {  // its end comes as the done
    if (ev.phase == ipc::RunPhase::START)
      agent_event(r, "lifecycle", {{"phase", "start"}, {"startedAt", r.started_ms}});
    return;
  }
  if (ev.stream != ipc::RunStream::ASSISTANT) return;  // AgentLink refuses any other
  // Only the delta crosses the link (the worker caps the answer); the text accumulates here,
  // and agent and chat updates both go out at most once per kDeltaIntervalMs, so an answer of
  // many small pieces costs linear, not quadratic, work.
  r.text += ev.delta;
  r.agent_delta += ev.delta;
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

void RunManager::on_agent_done(const AgentLink::Done& d) {
  for (const auto& [session, c] : compactions_) {
    if (c.id != d.run_id) continue;
    const std::string key = session;  // a copy: end_compaction erases the entry
    agent_.ack_done(d.run_id);
    return end_compaction(key, d.ok, d.text, d.aborted ? "the compaction was stopped" : d.error);
  }
  finish(d.run_id, d.ok, d.aborted, d.text, d.error, d.model);
  // Stored (or ended here before, e.g. aborted): either way the worker may forget it.
  agent_.ack_done(d.run_id);
}

void RunManager::on_agent_lost(uint32_t generation, const std::string& reason) {
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

// ---------------------------------------------------------------------------------------------
// After a front restart

// A run from before this link: adopted as if this front had started it, so clients can wait
// for it and its outcome is stored and delivered here (exactly once: see finish()).
void RunManager::on_agent_resume(const AgentLink::Resume& rs) {
  const std::string& run_id = rs.run_id;
  const bool ended = rs.done.has_value();
  auto end_here = [&] {
    const AgentLink::Done& d = *rs.done;
    finish(run_id, d.ok, d.aborted, d.text, d.error, d.model);
    agent_.ack_done(run_id);
  };
  if (run_id.empty() || run_id.size() > kMaxResumeFieldBytes) {
    log_.warn("runs", "agent resumed a run with an unusable id; ignored");
    return;
  }
  if (auto it = runs_.find(run_id); it != runs_.end()) {  // this front knows it already
    if (ended) return end_here();
    it->second->sent = true;
    it->second->sent_generation = agent_.generation();
    return;
  }
  // Not to be adopted: the worker forgets it (ended) or stops it (going).
  auto drop = [&] { return ended ? agent_.ack_done(run_id) : agent_.abort(run_id); };
  if (done_.count(run_id)) return drop();  // ended here already (aborted, say): nothing to store
  if (runs_.size() >= SessionLanes::kMaxQueuedTotal) {  // a worker flooding resumes
    log_.warn("runs", "agent resumed run " + run_id + " past the run limit; dropped");
    return drop();
  }
  std::string why;
  auto key = SessionKey::parse(rs.session_key, &why);
  if (!key || !refusal(*key).empty()) {
    log_.warn("runs", "agent resumed run " + run_id + " for an unusable session key; dropped");
    return drop();
  }
  adopt_resumed(rs, *key);
  if (ended) end_here();
}

void RunManager::adopt_resumed(const AgentLink::Resume& rs, const SessionKey& key) {
  auto field = [](const std::string& t) {
    return t.substr(0, utf8::cut_bytes(t, kMaxResumeFieldBytes));
  };
  // Its kind is one this build knows (AgentLink refuses others).
  auto r = std::make_unique<Run>(io_, key);
  r->id = rs.run_id;
  r->resumed = true;
  r->heartbeat = rs.heartbeat;
  r->started_ms = clock_.wall_ms();
  if (rs.origin) {
    r->origin.kind = rs.origin->kind;
    r->origin.channel = field(rs.origin->channel);
    r->origin.account_id = field(rs.origin->account_id);
    r->origin.to = field(rs.origin->to);
    if (rs.origin->started_at_ms > 0 && rs.origin->started_at_ms <= r->started_ms)
      r->started_ms = rs.origin->started_at_ms;
  }
  // Its user message was stored before it was sent to the worker (start, adopt): only the
  // answer is left to write.
  r->line_written = true;
  r->adopted = true;
  r->sent = true;
  r->sent_generation = agent_.generation();
  r->text = rs.text;
  r->emitted_text = "";
  const std::string session = key.str();
  const bool background = r->heartbeat || r->origin.kind == ipc::RunKind::CRON;
  if (background && adopt_hook_)
    r->on_done = adopt_hook_(r->id, r->origin, r->heartbeat, r->started_ms);
  runs_[rs.run_id] = std::move(r);
  log_.info("runs", "run " + rs.run_id + " in " + session + " resumed from the agent worker" +
                        (rs.done ? " (ended)" : ""));
  // It holds its session's lane, as it did in the old front, so a new message there waits
  // for it. One that came in before the worker did already holds the lane: both then run.
  if (!lanes_.busy(session)) {
    LaneMessage lm;
    lm.run_id = rs.run_id;
    lm.background = background;
    lm.debounce_ms = 0;
    apply(lanes_.submit(session, std::move(lm), clock_.steady_ms()).actions);
  }
}

bool RunManager::answered(const Run& r) const {
  try {
    for (const Json& e : sessions_.read(r.session_key, kResumeScanMessages))
      if (e.value("role", "") == "assistant" && e.value("runId", "") == r.id &&
          !e.contains("toolCalls"))  // a tool round's line is no answer
        return true;
  } catch (const std::exception& e) {  // unreadable: writing it again beats losing it
    log_.warn("runs", "cannot read " + r.session_key.str() + " back: " + e.what());
  }
  return false;
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
      if (started >= kMaxRecovered) break;
      try {
        if (restart_queued(*key, rec, now)) ++started;
      } catch (const Json::exception& e) {  // a record edited by hand: skipped, not fatal
        log_.warn("runs", "unreadable queued record in " + name + ": " + e.what());
      }
    }
  }
  if (started)
    log_.info("runs", std::to_string(started) + " message(s) queued before the restart started");
}

bool RunManager::restart_queued(const SessionKey& key, const Json& rec, int64_t now) {
  if (rec.value("type", "") != "queued") return false;
  const Json ts = rec.value("ts", Json());
  const int64_t at = ts.is_number_integer() ? ts.get<int64_t>() : 0;
  if (at <= 0 || now - at > kRecoverMaxAgeMs) return false;
  // Queued by this front (a message that came before the agent link did): it is in its lane
  // already, whatever id it has. Only an earlier front's records are restarted.
  if (at >= started_ms_) return false;
  Origin o;
  o.recovered = true;
  o.entry = rec;
  o.entry["type"] = "message";
  const Json id = rec.value("runId", Json());
  std::string run_id = id.is_string() ? id.get<std::string>() : "";
  if (rec.contains("inboundId")) {  // a channel message: its answer goes back there
    o.kind = ipc::RunKind::CHANNEL;
    o.channel = rec.value("channel", "");
    o.account_id = rec.value("accountId", "");
    o.to = rec.value("chatId", "");
    const Json from = rec.value("from", Json::object());
    if (from.is_object()) o.sender = from.value("name", from.value("id", ""));
  } else {
    // What started it, as start() wrote it; a channel message carries an inboundId, and a
    // word this build does not know (a record edited by hand) is a chat message's.
    const auto kind = ipc::parse_run_kind(rec.value("source", "chat"));
    o.kind = kind && *kind != ipc::RunKind::CHANNEL ? *kind : ipc::RunKind::CHAT;
  }
  if (!run_id.empty() && (runs_.count(run_id) || done_.count(run_id))) return false;
  if (run_id.empty()) run_id = uuid_v4();
  const std::string err = start(key, rec.value("text", ""), run_id, o);
  if (!err.empty()) {
    log_.warn("runs", "message " + run_id + " queued before the restart not started: " + err);
    return false;
  }
  return true;
}

}  // namespace clawgate::core
