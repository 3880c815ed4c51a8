// RunManager's sessions.* methods: list and preview (the sessions index and transcripts, read
// only), patch, reset and delete (a session's runs and compaction are stopped first), and
// compact (a summary by the agent worker, compaction.cpp, or with maxLines a plain cut).
// Params arrive validated against their schema; handlers apply meaning.
// Fails: a malformed key is INVALID_REQUEST (preview: for the whole request, as upstream); a
// transcript that cannot be read or written is UNAVAILABLE, retryable; the main session cannot
// be deleted.
#include "core/runs.hpp"

#include <algorithm>
#include <cstdint>

#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::core {

void RunManager::m_sessions_list(const schema::params::SessionsList& p, const ReplyFn& reply) {
  const int64_t now = clock_.wall_ms();
  std::vector<Json> rows;
  const std::string search = p.search.value_or("");
  const int64_t active = p.active_minutes.value_or(0);
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
      std::clamp<int64_t>(p.limit.value_or(int64_t(rows.size())), 0, int64_t(rows.size())));
  if (rows.size() > limit) rows.resize(limit);
  const std::string& model = agent_.model_label();
  const size_t slash = model.find('/');
  reply(Reply::ok({{"ts", now},
                   {"path", sessions_.path()},
                   {"count", rows.size()},
                   {"defaults",
                    {{"modelProvider", slash == std::string::npos ? model : model.substr(0, slash)},
                     {"model", slash == std::string::npos ? model : model.substr(slash + 1)},
                     {"contextTokens", window_tokens()}}},
                   {"sessions", rows}}));
}

void RunManager::m_sessions_preview(const schema::params::SessionsPreview& p,
                                    const ReplyFn& reply) {
  const int64_t now = clock_.wall_ms();
  // Clamped, not refused (upstream sets no maximum): a preview is a glance, not a history.
  const size_t limit = static_cast<size_t>(std::clamp<int64_t>(p.limit, 1, 100));
  const size_t max_chars = static_cast<size_t>(std::clamp<int64_t>(p.max_chars, 20, 4096));
  Json previews = Json::array();
  // Every key is read first: upstream refuses the whole request for one malformed key.
  std::vector<SessionKey> keys;
  for (const std::string& k : p.keys) {
    std::string why;
    auto key = SessionKey::parse(k, &why);
    if (!key) return reply(Reply::invalid(why));
    keys.push_back(std::move(*key));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    // The key as the client gave it, as upstream answers.
    Json preview = {{"key", p.keys[i]}, {"items", Json::array()}};
    if (!sessions_.exists(keys[i])) {
      preview["status"] = "missing";
    } else {
      for (const auto& e : sessions_.read(keys[i], limit, true)) {
        const std::string role = e.value("role", "user");
        preview["items"].push_back({{"role", role == "toolResult" ? "tool" : role},
                                    {"text", utf8::preview(e.value("text", ""), max_chars)}});
      }
      preview["status"] = preview["items"].empty() ? "empty" : "ok";
    }
    previews.push_back(preview);
  }
  reply(Reply::ok({{"ts", now}, {"previews", previews}}));
}

void RunManager::m_sessions_patch(const schema::params::SessionsPatch& p, const Json& params,
                                  const ReplyFn& reply) {
  const auto key = key_param(p.key, reply);
  if (!key) return;
  Json fields = Json::object();
  for (auto& [k, v] : params.items())
    if (k != "key" && k != "agentId" && k.rfind("expected", 0) != 0) fields[k] = v;
  sessions_.patch(*key, fields);
  reply(Reply::ok({{"ok", true},
                   {"path", sessions_.path()},
                   {"key", key->str()},
                   {"entry", sessions_.entry(*key)}}));
}

void RunManager::m_sessions_reset(const schema::params::SessionsReset& p, const ReplyFn& reply) {
  const auto key = key_param(p.key, reply);
  if (!key) return;
  abort_session(*key, "session reset");
  stop_compaction(*key, "the session was reset");
  sessions_.reset(*key, clock_.wall_ms());
  reply(Reply::ok({{"ok", true}, {"key", key->str()}, {"entry", sessions_.entry(*key)}}));
}

void RunManager::m_sessions_delete(const schema::params::SessionsDelete& p, const ReplyFn& reply) {
  const auto key = key_param(p.key, reply);
  if (!key) return;
  if (*key == SessionKey::main())
    return reply(Reply::invalid("the main session cannot be deleted"));
  if (!sessions_.exists(*key))
    return reply(Reply::ok(
        {{"ok", true}, {"key", key->str()}, {"deleted", false}, {"archived", Json::array()}}));
  abort_session(*key, "session deleted");
  stop_compaction(*key, "the session was deleted");
  const auto archived = sessions_.remove(*key, p.delete_transcript, clock_.wall_ms());
  reply(Reply::ok({{"ok", true}, {"key", key->str()}, {"deleted", true}, {"archived", archived}}));
}

void RunManager::m_sessions_compact(const schema::params::SessionsCompact& p,
                                    const ReplyFn& reply) {
  const auto key = key_param(p.key, reply);
  if (!key) return;
  const std::string session = key->str();
  // Upstream's answers: a session without an id or transcript is not an error.
  if (!sessions_.exists(*key))
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
    h = &sessions_.history(*key);
  } catch (const std::exception& e) {
    return reply(Reply::unavailable(std::string("cannot read the transcript: ") + e.what(), true));
  }
  if (h->turns.empty())
    return reply(Reply::ok(
        {{"ok", true}, {"key", session}, {"compacted", false}, {"reason", "no transcript"}}));
  if (p.max_lines) return reply(trim_history(*key, *h, *p.max_lines));
  bool nothing = false;
  const std::string why = start_compaction(*key, "manual", "", &nothing);
  if (nothing)
    return reply(
        Reply::ok({{"ok", false}, {"key", session}, {"compacted", false}, {"reason", why}}));
  if (!why.empty()) return reply(Reply::unavailable(why, true));
  compactions_.at(session).replies.push_back(reply);
}

// Only the newest maxLines messages stay visible to the model, with no summary; the transcript
// keeps every line (chat.history shows them all).
Reply RunManager::trim_history(const SessionKey& key, const SessionHistory& h, int64_t max_lines) {
  const std::string session = key.str();
  const size_t keep = static_cast<size_t>(std::clamp<int64_t>(max_lines, 1, kMaxTrimLines));
  const auto cut = trim_cut(h, keep);
  if (!cut)
    return Reply::ok(
        {{"ok", true}, {"key", session}, {"compacted", false}, {"kept", h.turns.size()}});
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
    return Reply::unavailable(std::string("cannot store the cut: ") + ex.what(), true);
  }
  return Reply::ok({{"ok", true}, {"key", session}, {"compacted", true}, {"kept", keep}});
}

}  // namespace clawgate::core
