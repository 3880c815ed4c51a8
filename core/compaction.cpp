// RunManager, compaction: the agent worker summarizes a session's older turns (asked by a turn
// whose history nears the window, or by sessions.compact); the summary is stored as the
// session's compaction entry and replaces those turns for later runs, while the session's
// runs wait for it and then go in their order. One compaction per session at a time.
// Fails: no worker, nothing to summarize or an unreadable transcript refuse it (why, as text);
// a summary that is empty or cannot be stored, or a worker lost meanwhile, end it failed, and
// the waiting runs go with the history as it is.
#include "core/runs.hpp"

#include <algorithm>
#include <cstdint>

#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::core {

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
  c.generation = agent_.generation();
  c.trigger = trigger;
  AgentLink::Request rq;
  rq.run_id = c.id;
  rq.session_key = session;
  rq.summarize = true;
  rq.previous_summary = h->summary;
  rq.timeout_ms = static_cast<uint32_t>(
      std::clamp<int64_t>(history_settings_.compaction_timeout_ms, 1000, 86'400'000));
  rq.messages.reserve(plan.turns.size());
  for (const HistoryTurn* t : plan.turns) rq.messages.push_back({turn_role(t->role), t->text});
  if (!agent_.send_run(rq)) return "the agent worker is not connected";
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
  const Json result = completed ? store_summary(c, summary, tokens_after, &error) : Json();
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

Json RunManager::store_summary(const Compaction& c, const std::string& summary, size_t tokens_after,
                               std::string* error) {
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
  } catch (const std::exception& ex) {
    *error = std::string("cannot store the summary: ") + ex.what();
    return Json();
  }
  return {{"summary", summary}, {"tokensBefore", c.tokens_before}, {"tokensAfter", tokens_after}};
}

void RunManager::stop_compaction(const SessionKey& key, const char* why) {
  auto c = compactions_.find(key.str());
  if (c == compactions_.end()) return;
  agent_.abort(c->second.id);
  end_compaction(key.str(), false, "", why);
}

}  // namespace clawgate::core
