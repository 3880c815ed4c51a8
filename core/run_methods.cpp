// RunManager's protocol methods: the method table (the one list of what it serves; Core routes
// by it), and the methods that start, wait for, stop and show runs: agent, agent.wait,
// chat.send, chat.history, chat.abort (the sessions.* handlers are session_methods.cpp's).
// Params arrive validated against their schema; handlers apply meaning.
// Fails: a bad session key or another agent's session is INVALID_REQUEST; a run that cannot
// start (queue full, transcript not writable) and too many waiters are UNAVAILABLE, retryable.
#include "core/runs.hpp"

#include <algorithm>
#include <cstdint>

namespace clawgate::core {

const RunManager::Route* RunManager::route(schema::Method m) {
  using M = schema::Method;
  namespace P = schema::params;
  static const Route kRoutes[] = {
      {M::agent, &typed<P::Agent, &RunManager::m_agent>},
      {M::agent_wait, &typed<P::AgentWait, &RunManager::m_agent_wait>},
      {M::chat_send, &typed<P::ChatSend, &RunManager::m_chat_send>},
      {M::chat_history, &typed<P::ChatHistory, &RunManager::m_chat_history>},
      {M::chat_abort, &typed<P::ChatAbort, &RunManager::m_chat_abort>},
      {M::sessions_list, &typed<P::SessionsList, &RunManager::m_sessions_list>},
      {M::sessions_preview, &typed<P::SessionsPreview, &RunManager::m_sessions_preview>},
      {M::sessions_patch,
       [](RunManager& self, const Json& params, const ReplyFn& reply) {
         self.m_sessions_patch(params.get<P::SessionsPatch>(), params, reply);
       }},
      {M::sessions_reset, &typed<P::SessionsReset, &RunManager::m_sessions_reset>},
      {M::sessions_delete, &typed<P::SessionsDelete, &RunManager::m_sessions_delete>},
      {M::sessions_compact, &typed<P::SessionsCompact, &RunManager::m_sessions_compact>},
  };
  for (const Route& r : kRoutes)
    if (r.method == m) return &r;
  return nullptr;
}

bool RunManager::serves(schema::Method m) {
  return route(m) != nullptr;
}

bool RunManager::call(schema::Method m, const Json& params, const ReplyFn& reply) {
  const Route* r = route(m);
  if (!r) return false;
  r->handler(*this, params, reply);
  return true;
}

std::optional<SessionKey> RunManager::key_param(const std::string& text, const ReplyFn& reply) {
  std::string why;
  auto key = SessionKey::parse(text, &why);
  if (!key) reply(Reply::invalid(why));
  return key;
}

// ---------------------------------------------------------------------------------------------
// agent, agent.wait

void RunManager::m_agent(const schema::params::Agent& p, const ReplyFn& reply) {
  const std::string& run_id = p.idempotency_key;
  const int64_t now = clock_.wall_ms();
  if (auto it = runs_.find(run_id); it != runs_.end()) {  // a retry: the same run
    reply(Reply::ok({{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", now}}));
    // Retries share the run; past the cap a retry gets the acknowledgement only (agent.wait
    // still tells it the end), so retrying cannot grow memory without bound.
    if (it->second->finals.size() < kMaxFinalsPerRun) it->second->finals.push_back(reply);
    return;
  }
  if (auto d = done_.find(run_id); d != done_.end()) return agent_final(d->second, false, reply);
  const auto key = key_param(p.session_key, reply);
  if (!key) return;
  if (std::string no = refusal(*key); !no.empty()) return reply(Reply::invalid(no));
  const std::optional<Origin> origin = agent_origin(*key, p, reply);
  if (!origin) return;
  const std::string err = start(*key, p.message, run_id, *origin);
  if (!err.empty()) return reply(Reply::unavailable(err, true));
  reply(Reply::ok({{"runId", run_id}, {"status", "accepted"}, {"acceptedAt", now}}));
  if (auto it = runs_.find(run_id); it != runs_.end()) return it->second->finals.push_back(reply);
  // Ended already (its message could not be written when its turn began): the second answer.
  if (auto d = done_.find(run_id); d != done_.end()) agent_final(d->second, true, reply);
}

void RunManager::agent_final(const Snapshot& s, bool retryable, const ReplyFn& reply) const {
  Json p = s.json;
  p["summary"] = s.ok ? "completed" : p.value("error", "failed");
  if (s.ok) return reply(Reply::ok(p));
  reply(Reply::fail(Error::unavailable(p.value("error", "failed"), retryable), p));
}

// Where an `agent` run's answer goes: nowhere unless `deliver`, then to the channel and chat
// given, else the session's last one (none: refused, answered here).
std::optional<RunManager::Origin> RunManager::agent_origin(const SessionKey& key,
                                                           const schema::params::Agent& p,
                                                           const ReplyFn& reply) const {
  Origin origin;
  origin.kind = ipc::RunKind::AGENT;
  if (!p.deliver) return origin;
  origin.channel = p.channel.value_or(p.reply_channel.value_or(""));
  origin.to = p.to.value_or(p.reply_to.value_or(""));
  origin.account_id = p.account_id.value_or("");
  if (origin.channel.empty() || origin.to.empty()) {  // the session's last channel
    const Json e = sessions_.entry(key);
    if (e.is_object()) {
      if (origin.channel.empty()) origin.channel = e.value("lastChannel", "");
      if (origin.to.empty()) origin.to = e.value("lastTo", "");
      if (origin.account_id.empty()) origin.account_id = e.value("lastAccountId", "");
    }
  }
  if (origin.channel.empty() || origin.to.empty()) {
    reply(Reply::invalid("deliver: no channel/to given and the session has no last channel"));
    return std::nullopt;
  }
  return origin;
}

void RunManager::m_agent_wait(const schema::params::AgentWait& p, const ReplyFn& reply) {
  const std::string& run_id = p.run_id;
  if (auto d = done_.find(run_id); d != done_.end()) return reply(Reply::ok(d->second.json));
  // Clamped: milliseconds past a day overflow the timer's nanoseconds, and no client waits that
  // long.
  const int64_t timeout = std::min<int64_t>(p.timeout_ms, kAgentWaitMaxMs);
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

// ---------------------------------------------------------------------------------------------
// chat.*

void RunManager::m_chat_send(const schema::params::ChatSend& p, const ReplyFn& reply) {
  const std::string& run_id = p.idempotency_key;
  const std::string& message = p.message;
  const bool attachments = p.attachments && !p.attachments->empty();
  if (runs_.count(run_id)) return reply(Reply::ok({{"runId", run_id}, {"status", "in_flight"}}));
  if (auto d = done_.find(run_id); d != done_.end())
    return reply(Reply::ok({{"runId", run_id}, {"status", d->second.ok ? "ok" : "error"}}));
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return reply(Reply::invalid(attachments ? "attachments are not supported yet"
                                            : "message or attachment required"));
  }
  const auto canon = key_param(p.session_key, reply);
  if (!canon) return;
  if (std::string no = refusal(*canon); !no.empty()) return reply(Reply::invalid(no));
  if (message == "/stop") {  // upstream: aborts the session's runs
    const Json ids = abort_session(*canon, "/stop");
    return reply(Reply::ok({{"ok", true}, {"aborted", !ids.empty()}, {"runIds", ids}}));
  }
  Origin origin;
  origin.kind = ipc::RunKind::CHAT;
  if (p.queue_mode) {  // schema: the 4 modes
    const std::string& m = *p.queue_mode;
    origin.mode = m == "followup"    ? QueueMode::followup
                  : m == "collect"   ? QueueMode::collect
                  : m == "interrupt" ? QueueMode::interrupt
                                     : QueueMode::steer;
  }
  if (p.deliver) {
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

void RunManager::m_chat_history(const schema::params::ChatHistory& p, const ReplyFn& reply) {
  const auto canon = key_param(p.session_key, reply);
  if (!canon) return;
  const size_t limit = static_cast<size_t>(p.limit);  // schema: 1..1000
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
  for (size_t i = first; i < entries.size(); ++i) messages.push_back(history_message(entries[i]));
  // The key as the client gave it, as upstream answers ("main", not "agent:main:main").
  Json out = {{"sessionKey", p.session_key}, {"messages", messages}};
  const Json e = sessions_.entry(*canon);
  if (e.is_object() && e.contains("sessionId")) out["sessionId"] = e["sessionId"];
  reply(Reply::ok(out));
}

void RunManager::m_chat_abort(const schema::params::ChatAbort& p, const ReplyFn& reply) {
  const auto canon = key_param(p.session_key, reply);
  if (!canon) return;
  Json ids = Json::array();
  if (p.run_id) {
    const std::string& id = *p.run_id;
    auto it = runs_.find(id);
    if (it != runs_.end() && it->second->session_key != *canon)
      return reply(Reply::invalid("runId " + id + " does not belong to " + canon->str()));
    if (abort(id, "chat.abort")) ids.push_back(id);
  } else {
    ids = abort_session(*canon, "chat.abort");
  }
  reply(Reply::ok({{"ok", true}, {"aborted", !ids.empty()}, {"runIds", ids}}));
}

}  // namespace clawgate::core
