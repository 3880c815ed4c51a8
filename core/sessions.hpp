// SessionStore: the front's sessions: an index (sessions/sessions.json, written atomically) and
// one append-only transcript per session (sessions/<escaped key>.jsonl, each line fdatasync'ed), so
// a kill -9 at any moment leaves every transcript readable (a torn last line is skipped). The index
// is rewritten lazily (at most once a second, and on flush()), so a message costs one fdatasync'ed
// line, not a rewrite of every session's entry. Sessions are named by SessionKey (session_key.hpp),
// so everything stored is under its canonical key; an index written before keys were canonical
// is moved to canonical keys on open (see canonicalize_keys). Fails: std::system_error when the
// disk refuses a write (callers answer UNAVAILABLE).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/history.hpp"
#include "core/session_key.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

class SessionStore {
 public:
  explicit SessionStore(std::string state_dir);

  // The transcript's file name for a canonical key: injective, at most ~270 bytes (see
  // sessions.cpp).
  static std::string file_name(std::string_view key);
  static constexpr size_t kPreviewChars = 160;  // lastMessagePreview, in code points

  // Appends one transcript entry ({type, role, text, ts, ...}) and updates the index with
  // `meta` (lastChannel, lastTo, ...). Creates the session on first use.
  void append(const SessionKey& key, Json entry, const Json& meta = Json::object());
  // The last `limit` message entries, oldest first. With `waiting`, also the messages a client
  // sent that no turn has taken yet: "queued" records (runs.hpp) with no later message line,
  // collected turn or "withdrawn" marker naming them (by runId or inboundId), where they came;
  // after a restart these are the messages that were never answered.
  std::vector<Json> read(const SessionKey& key, size_t limit, bool waiting = false) const;
  // What the model may still be sent of the session (history.hpp): from memory, loaded from
  // the transcript's tail on first use and kept current by append().
  const SessionHistory& history(const SessionKey& key);
  TranscriptIndex& history_index() { return history_; }
  bool exists(const SessionKey& key) const;
  Json entry(const SessionKey& key) const;  // index entry or null
  // By canonical key; an entry moved from a key that was not canonical keeps it as "legacyKey".
  const Json& index() const { return index_; }
  void patch(const SessionKey& key, const Json& fields);  // null values clear a field
  // Starts a fresh transcript; the old one is kept as <key>.jsonl.reset.<ts>. Returns its path.
  std::string reset(const SessionKey& key, int64_t now_ms);
  // Forgets the session; the transcript is archived unless delete_transcript. Returns the paths
  // of archived files.
  std::vector<std::string> remove(const SessionKey& key, bool delete_transcript, int64_t now_ms);
  std::string path() const { return dir_ + "/sessions.json"; }
  // The index is written at most once per kIndexSaveMs on appends (transcripts, fdatasync'ed
  // line by line, are the durable record); flush() writes a pending change now. Structural
  // changes (patch, reset, remove) are written at once.
  static constexpr int64_t kIndexSaveMs = 1000;
  void flush();
  bool dirty() const { return dirty_; }
  // Called when the index goes from written to changed: the owner schedules its flush then,
  // instead of polling an index that is clean nearly all the time.
  std::function<void()> on_dirty;

 private:
  std::string file_for(std::string_view key) const;
  void migrate_file_names();
  void canonicalize_keys();
  void save_index();

  std::string dir_;
  Json index_;
  TranscriptIndex history_;
  bool dirty_ = false;
  int64_t last_save_ms_ = 0;
};

}  // namespace clawgate::core
