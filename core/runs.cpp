// RunManager: see runs.hpp.
#include "core/runs.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <cstdint>

#include "agent.capnp.h"
#include "contract.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

HubReply ok(Json payload) {
  HubReply r;
  r.payload = std::move(payload);
  return r;
}

HubReply fail(std::string code, std::string message, bool retryable = false) {
  HubReply r;
  r.code = std::move(code);
  r.message = std::move(message);
  r.retryable = retryable;
  return r;
}

std::string session_kind(const std::string& key) {
  if (key == SessionStore::kMainKey) return "direct";
  if (key.find(":group:") != std::string::npos) return "group";
  if (key.find(":direct:") != std::string::npos) return "direct";
  return "unknown";
}

}  // namespace

RunManager::RunManager(boost::asio::io_context& io, const Clock& clock, Logger& log,
                       SessionStore& sessions, ChannelHub* hub, Emit emit)
    : io_(io), clock_(clock), log_(log), sessions_(sessions), hub_(hub), emit_(std::move(emit)) {}

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
      std::string error;
      if (!d.getOk() && !d.getAborted()) {
        error = d.hasError() ? std::string(d.getError().getMessage().cStr()) : "the run failed";
        if (error.empty()) error = "the run failed";
      }
      finish(d.getRunId(), d.getOk(), d.getAborted(), d.getText(), error, d.getModel());
      return;
    }
    default:
      throw std::runtime_error("unexpected message from the agent worker");
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

std::string RunManager::start(const std::string& session_key, const std::string& message,
                              const std::string& run_id, Origin origin, DoneHook on_done,
                              bool is_heartbeat) {
  std::string key;
  try {
    key = SessionStore::canonical(session_key);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  if (queue_.size() >= kMaxQueued)
    return "too many runs waiting for the agent (" + std::to_string(kMaxQueued) + ")";
  const int64_t now = clock_.wall_ms();
  // Channel messages are already in the transcript (the inbound router wrote them).
  if (origin.kind != "channel" && !is_heartbeat) {
    try {
      sessions_.append(key, {{"type", "message"},
                             {"role", "user"},
                             {"text", message},
                             {"ts", now},
                             {"runId", run_id},
                             {"source", origin.kind}});
    } catch (const std::exception& e) {
      return std::string("cannot store the message: ") + e.what();
    }
  }
  auto r = std::make_unique<Run>(io_);
  r->id = run_id;
  r->session_key = key;
  r->user_text = message;
  r->origin = std::move(origin);
  r->heartbeat = is_heartbeat;
  r->started_ms = now;
  r->on_done = std::move(on_done);
  runs_[run_id] = std::move(r);
  queue_.push_back(run_id);
  pump();
  return "";
}

void RunManager::pump() {
  while (agent_connected() && !queue_.empty()) {
    const std::string id = queue_.front();
    queue_.pop_front();
    auto it = runs_.find(id);
    if (it == runs_.end()) continue;
    dispatch(*it->second);
    // A link that refuses a run is going away (its close is on the way, with on_agent_lost):
    // the run is back at the head of the queue for the next agent, and nothing spins.
    if (!it->second->sent) return;
  }
}

// What the agent reads for one transcript entry. Group messages the bot was not addressed in
// are labelled, with their sender, so the model takes them as background, not as requests.
std::string RunManager::agent_text(const Json& entry) {
  std::string text = entry.value("text", "");
  if (!entry.value("context", false)) return text;
  const Json from = entry.value("from", Json::object());
  std::string who = from.is_object() ? from.value("name", "") : "";
  const std::string user = from.is_object() ? from.value("username", "") : "";
  if (!user.empty()) who += (who.empty() ? "@" : " (@") + user + (who.empty() ? "" : ")");
  if (who.empty()) who = from.is_object() ? from.value("id", "someone") : "someone";
  return "[group message not addressed to you, for context only] " + who + ": " + text;
}

void RunManager::dispatch(Run& r) {
  std::vector<Json> history = sessions_.read(r.session_key, kHistoryMessages);
  // Only the newest `context_limit` unaddressed group messages go along (historyLimit).
  size_t context_seen = 0;
  for (size_t k = history.size(); k-- > 0;)
    if (history[k].value("context", false) && ++context_seen > r.origin.context_limit)
      history.erase(history.begin() + static_cast<std::ptrdiff_t>(k));
  // The newest turns first, within the character budget.
  size_t chars = 0, first = history.size();
  while (first > 0) {
    const size_t n = history[first - 1].value("text", "").size();
    if (chars + n > kHistoryChars && first < history.size()) break;
    chars += n;
    --first;
  }
  capnp::MallocMessageBuilder b;
  auto rq = b.initRoot<ipc::AgentMsg>().initRun();
  rq.setRunId(r.id);
  rq.setSessionKey(r.session_key);
  rq.setIsHeartbeat(r.heartbeat);
  const size_t count = history.size() - first + (r.heartbeat ? 1 : 0);
  auto msgs = rq.initMessages(static_cast<unsigned>(count));
  unsigned i = 0;
  for (size_t k = first; k < history.size(); ++k, ++i) {
    msgs[i].setRole(history[k].value("role", "user"));
    msgs[i].setText(agent_text(history[k]));
  }
  if (r.heartbeat) {  // the heartbeat prompt is not part of the transcript
    msgs[i].setRole("user");
    msgs[i].setText(r.user_text);
  }
  r.sent = agent_->send(b);
  r.sent_generation = agent_generation_;
  if (!r.sent) queue_.push_front(r.id);
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
             {"sessionKey", r.session_key},
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

void RunManager::finish(const std::string& run_id, bool ok_, bool aborted, const std::string& text,
                        const std::string& error, const std::string& model) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  std::unique_ptr<Run> r = std::move(it->second);
  runs_.erase(it);
  queue_.erase(std::remove(queue_.begin(), queue_.end(), run_id), queue_.end());
  r->delta_timer.cancel();
  if (!r->agent_delta.empty()) flush_delta(*r);  // the last pieces before the end
  const int64_t now = clock_.wall_ms();
  std::string err = error;
  bool ok = ok_ && !aborted;

  if (ok && !text.empty() && !r->heartbeat) {  // heartbeats stay out of the conversation
    try {
      sessions_.append(r->session_key, {{"type", "message"},
                                        {"role", "assistant"},
                                        {"text", text},
                                        {"ts", now},
                                        {"runId", r->id},
                                        {"model", model}});
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
    Json ev = {{"runId", r->id}, {"sessionKey", r->session_key}, {"seq", r->seq}};
    if (ok) {
      ev["state"] = "final";
      if (!text.empty()) ev["message"] = chat_message("assistant", text, now);
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
  if (hub_ && !r->origin.channel.empty() && !r->origin.to.empty()) {
    const std::string out = ok ? text : aborted ? "" : "⚠️ The agent failed: " + err;
    if (!out.empty() && !hub_->deliver(r->origin.channel, r->origin.account_id, r->origin.to, out))
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
                     {"meta", {{"durationMs", now - r->started_ms}, {"model", model}}}};
      f(HubReply{p, "", "", nullptr, false, 0});
    } else {
      f(HubReply{payload, "UNAVAILABLE", snap.json["error"].get<std::string>(), nullptr, !aborted,
                 0});
    }
  }
  remember(r->id, snap);
  if (r->on_done) r->on_done(ok, text, err);
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
      reply(ok(snap));
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
  if (it->second->sent && agent_) {
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setAbort(run_id);
    agent_->send(b);
  }
  log_.info("runs", "run " + run_id + " aborted (" + reason + ")");
  finish(run_id, false, true, "", "", "");
  return true;
}

// ---------------------------------------------------------------------------------------------
// Methods

bool RunManager::call(const std::string& method, const Json& params, const Reply& reply) {
  if (method == "agent") return m_agent(params, reply), true;
  if (method == "agent.wait") return m_agent_wait(params, reply), true;
  if (method == "chat.send") return m_chat_send(params, reply), true;
  if (method == "chat.history") return m_chat_history(params, reply), true;
  if (method == "chat.abort") return m_chat_abort(params, reply), true;
  if (method.rfind("sessions.", 0) == 0) return m_sessions(method, params, reply), true;
  return false;
}

void RunManager::m_agent(const Json& params, const Reply& reply) {
  const std::string run_id = params.at("idempotencyKey");
  const int64_t now = clock_.wall_ms();
  if (auto it = runs_.find(run_id); it != runs_.end()) {  // a retry: the same run
    reply(ok({{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", now}}));
    // Retries share the run; past the cap a retry gets the acknowledgement only (agent.wait
    // still tells it the end), so retrying cannot grow memory without bound.
    if (it->second->finals.size() < kMaxFinalsPerRun) it->second->finals.push_back(reply);
    return;
  }
  if (auto d = done_.find(run_id); d != done_.end()) {
    Json p = d->second.json;
    p["summary"] = d->second.ok ? "completed" : p.value("error", "failed");
    if (d->second.ok) return reply(ok(p));
    return reply(HubReply{p, "UNAVAILABLE", p.value("error", "failed"), nullptr, false, 0});
  }
  std::string key = params.value("sessionKey", "main");
  Origin origin;
  origin.kind = "agent";
  if (params.value("deliver", false)) {
    origin.channel = params.value("channel", params.value("replyChannel", ""));
    origin.to = params.value("to", params.value("replyTo", ""));
    origin.account_id = params.value("accountId", "");
    if (origin.channel.empty() || origin.to.empty()) {  // the session's last channel
      Json e;
      try {
        e = sessions_.entry(key);
      } catch (const std::exception&) {
      }
      if (e.is_object()) {
        if (origin.channel.empty()) origin.channel = e.value("lastChannel", "");
        if (origin.to.empty()) origin.to = e.value("lastTo", "");
        if (origin.account_id.empty()) origin.account_id = e.value("lastAccountId", "");
      }
    }
    if (origin.channel.empty() || origin.to.empty())
      return reply(fail("INVALID_REQUEST",
                        "deliver: no channel/to given and the session has no last channel"));
  }
  const std::string err = start(key, params.at("message"), run_id, origin);
  if (!err.empty())
    return reply(fail(err.rfind("not a session key", 0) == 0 ? "INVALID_REQUEST" : "UNAVAILABLE",
                      err, true));
  reply(ok({{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", now}}));
  runs_[run_id]->finals.push_back(reply);
}

void RunManager::m_agent_wait(const Json& params, const Reply& reply) {
  const std::string run_id = params.at("runId");
  if (auto d = done_.find(run_id); d != done_.end()) return reply(ok(d->second.json));
  // Clamped: milliseconds past a day overflow the timer's nanoseconds, and no client waits that
  // long.
  const int64_t timeout =
      std::clamp<int64_t>(params.value("timeoutMs", kAgentWaitDefaultMs), 0, kAgentWaitMaxMs);
  auto existing = waiters_.find(run_id);
  if (waiter_count_ >= kMaxWaiters ||
      (existing != waiters_.end() && existing->second.size() >= kMaxWaitersPerRun))
    return reply(fail("UNAVAILABLE", "too many agent.wait calls waiting; try again later", true));
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
      Reply rp = it->second;
      list.erase(it);
      --waiter_count_;
      if (list.empty()) waiters_.erase(w);
      rp(ok({{"runId", run_id}, {"status", "timeout"}}));
      return;
    }
  });
}

void RunManager::m_chat_send(const Json& params, const Reply& reply) {
  const std::string run_id = params.at("idempotencyKey");
  const std::string key = params.at("sessionKey");
  const std::string message = params.value("message", "");
  const bool attachments = params.contains("attachments") && !params["attachments"].empty();
  if (runs_.count(run_id)) return reply(ok({{"runId", run_id}, {"status", "in_flight"}}));
  if (auto d = done_.find(run_id); d != done_.end())
    return reply(ok({{"runId", run_id}, {"status", d->second.ok ? "ok" : "error"}}));
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return reply(fail("INVALID_REQUEST", attachments ? "attachments are not supported yet"
                                                     : "message or attachment required"));
  }
  std::string canon;
  try {
    canon = SessionStore::canonical(key);
  } catch (const std::invalid_argument& e) {
    return reply(fail("INVALID_REQUEST", e.what()));
  }
  if (message == "/stop") {  // upstream: aborts the session's runs
    Json ids = Json::array();
    std::vector<std::string> targets;
    for (auto& [id, r] : runs_)
      if (r->session_key == canon) targets.push_back(id);
    for (const auto& id : targets)
      if (abort(id, "/stop")) ids.push_back(id);
    return reply(ok({{"ok", true}, {"aborted", !ids.empty()}, {"runIds", ids}}));
  }
  Origin origin;
  origin.kind = "chat";
  if (params.value("deliver", false)) {
    const Json e = sessions_.entry(canon);
    if (e.is_object()) {
      origin.channel = e.value("lastChannel", "");
      origin.to = e.value("lastTo", "");
      origin.account_id = e.value("lastAccountId", "");
    }
  }
  const std::string err = start(canon, message, run_id, origin);
  if (!err.empty()) return reply(fail("UNAVAILABLE", err, true));
  reply(ok({{"runId", run_id}, {"status", "started"}}));
}

void RunManager::m_chat_history(const Json& params, const Reply& reply) {
  const std::string key = params.at("sessionKey");
  std::string canon;
  try {
    canon = SessionStore::canonical(key);
  } catch (const std::invalid_argument& e) {
    return reply(fail("INVALID_REQUEST", e.what()));
  }
  const size_t limit = params.value("limit", 200);
  std::vector<Json> entries = sessions_.read(canon, limit);
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
  Json out = {{"sessionKey", key}, {"messages", messages}};
  const Json e = sessions_.entry(canon);
  if (e.is_object() && e.contains("sessionId")) out["sessionId"] = e["sessionId"];
  reply(ok(out));
}

void RunManager::m_chat_abort(const Json& params, const Reply& reply) {
  std::string canon;
  try {
    canon = SessionStore::canonical(params.at("sessionKey"));
  } catch (const std::invalid_argument& e) {
    return reply(fail("INVALID_REQUEST", e.what()));
  }
  Json ids = Json::array();
  if (params.contains("runId")) {
    const std::string id = params["runId"];
    auto it = runs_.find(id);
    if (it != runs_.end() && it->second->session_key != canon)
      return reply(fail("INVALID_REQUEST", "runId " + id + " does not belong to " + canon));
    if (abort(id, "chat.abort")) ids.push_back(id);
  } else {
    std::vector<std::string> targets;
    for (auto& [id, r] : runs_)
      if (r->session_key == canon) targets.push_back(id);
    for (const auto& id : targets)
      if (abort(id, "chat.abort")) ids.push_back(id);
  }
  reply(ok({{"ok", true}, {"aborted", !ids.empty()}, {"runIds", ids}}));
}

void RunManager::m_sessions(const std::string& method, const Json& params, const Reply& reply) {
  const int64_t now = clock_.wall_ms();
  auto canonical = [&](const std::string& key, std::string& out) {
    try {
      out = SessionStore::canonical(key);
      return true;
    } catch (const std::invalid_argument& e) {
      reply(fail("INVALID_REQUEST", e.what()));
      return false;
    }
  };
  if (method == "sessions.list") {
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
      row["kind"] = session_kind(key);
      rows.push_back(std::move(row));
    }
    std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) {
      return a.value("updatedAt", int64_t{0}) > b.value("updatedAt", int64_t{0});
    });
    const size_t limit = static_cast<size_t>(
        std::clamp<int64_t>(params.value("limit", int64_t(rows.size())), 0, int64_t(rows.size())));
    if (rows.size() > limit) rows.resize(limit);
    const size_t slash = model_label_.find('/');
    return reply(
        ok({{"ts", now},
            {"path", sessions_.path()},
            {"count", rows.size()},
            {"defaults",
             {{"modelProvider",
               slash == std::string::npos ? model_label_ : model_label_.substr(0, slash)},
              {"model", slash == std::string::npos ? model_label_ : model_label_.substr(slash + 1)},
              {"contextTokens", nullptr}}},
            {"sessions", rows}}));
  }
  if (method == "sessions.preview") {
    // Clamped, not refused (upstream sets no maximum): a preview is a glance, not a history.
    const size_t limit =
        static_cast<size_t>(std::clamp<int64_t>(params.value("limit", int64_t{12}), 1, 100));
    const size_t max_chars =
        static_cast<size_t>(std::clamp<int64_t>(params.value("maxChars", int64_t{240}), 20, 4096));
    Json previews = Json::array();
    for (const auto& k : params.at("keys")) {
      Json p = {{"key", k}, {"items", Json::array()}};
      std::string canon;
      try {
        canon = SessionStore::canonical(k);
      } catch (const std::invalid_argument&) {
        p["status"] = "missing";
        previews.push_back(p);
        continue;
      }
      if (!sessions_.exists(canon)) {
        p["status"] = "missing";
      } else {
        for (const auto& e : sessions_.read(canon, limit)) {
          p["items"].push_back({{"role", e.value("role", "user")},
                                {"text", utf8::preview(e.value("text", ""), max_chars)}});
        }
        p["status"] = p["items"].empty() ? "empty" : "ok";
      }
      previews.push_back(p);
    }
    return reply(ok({{"ts", now}, {"previews", previews}}));
  }
  std::string key;
  if (!canonical(params.at("key"), key)) return;
  if (method == "sessions.patch") {
    Json fields = Json::object();
    for (auto& [k, v] : params.items())
      if (k != "key" && k != "agentId" && k.rfind("expected", 0) != 0) fields[k] = v;
    sessions_.patch(key, fields);
    return reply(ok(
        {{"ok", true}, {"path", sessions_.path()}, {"key", key}, {"entry", sessions_.entry(key)}}));
  }
  std::vector<std::string> targets;
  for (auto& [id, r] : runs_)
    if (r->session_key == key) targets.push_back(id);
  if (method == "sessions.reset") {
    for (const auto& id : targets) abort(id, "session reset");
    sessions_.reset(key, now);
    return reply(ok({{"ok", true}, {"key", key}, {"entry", sessions_.entry(key)}}));
  }
  if (method == "sessions.delete") {
    if (key == SessionStore::kMainKey)
      return reply(fail("INVALID_REQUEST", "the main session cannot be deleted"));
    if (!sessions_.exists(key))
      return reply(
          ok({{"ok", true}, {"key", key}, {"deleted", false}, {"archived", Json::array()}}));
    for (const auto& id : targets) abort(id, "session deleted");
    const auto archived = sessions_.remove(key, params.value("deleteTranscript", false), now);
    return reply(ok({{"ok", true}, {"key", key}, {"deleted", true}, {"archived", archived}}));
  }
  reply(fail("INVALID_REQUEST", "unknown method: " + method));
}

}  // namespace clawgate::core
