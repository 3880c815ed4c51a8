// SessionStore: the front's sessions: an index (sessions/sessions.json, written atomically) and
// one append-only transcript per session (sessions/<escaped key>.jsonl, each line fdatasync'ed), so
// a kill -9 at any moment leaves every transcript readable (a torn last line is skipped). The index
// is rewritten lazily (at most once a second, and on flush()), so a message costs one fdatasync'ed
// line, not a rewrite of every session's entry. Keys are upstream's: "agent:main:main" (alias
// "main"), "agent:main:<channel>:direct:<peer>", "agent:main:<channel>:group:<chat>", ... Fails:
// std::system_error when the disk refuses a write (callers answer UNAVAILABLE);
// std::invalid_argument for a key that is not a session key.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace clawgate::core {

using Json = nlohmann::json;

class SessionStore {
 public:
  static constexpr const char* kMainKey = "agent:main:main";
  explicit SessionStore(std::string state_dir);

  // "main" and "agent:main" name the main session; anything else must look like a key.
  static std::string canonical(const std::string& key);
  // The transcript's file name for a key: injective, at most ~270 bytes (see sessions.cpp).
  static std::string file_name(const std::string& key);
  static constexpr size_t kPreviewChars = 160;  // lastMessagePreview, in code points

  // Appends one transcript entry ({type, role, text, ts, ...}) and updates the index with
  // `meta` (lastChannel, lastTo, ...). Creates the session on first use.
  void append(const std::string& key, Json entry, const Json& meta = Json::object());
  // The last `limit` message entries, oldest first. With `waiting`, also the messages a client
  // sent that no turn has taken yet: "queued" records (runs.hpp) with no later message line,
  // collected turn or "withdrawn" marker naming them (by runId or inboundId), where they came;
  // after a restart these are the messages that were never answered.
  std::vector<Json> read(const std::string& key, size_t limit, bool waiting = false) const;
  bool exists(const std::string& key) const;
  Json entry(const std::string& key) const;  // index entry or null
  const Json& index() const { return index_; }
  void patch(const std::string& key, const Json& fields);  // null values clear a field
  // Starts a fresh transcript; the old one is kept as <key>.jsonl.reset.<ts>. Returns its path.
  std::string reset(const std::string& key, int64_t now_ms);
  // Forgets the session; the transcript is archived unless delete_transcript. Returns the paths
  // of archived files.
  std::vector<std::string> remove(const std::string& key, bool delete_transcript, int64_t now_ms);
  std::string path() const { return dir_ + "/sessions.json"; }
  // The index is written at most once per kIndexSaveMs on appends (transcripts, fdatasync'ed
  // line by line, are the durable record); flush() writes a pending change now. Structural
  // changes (patch, reset, remove) are written at once.
  static constexpr int64_t kIndexSaveMs = 1000;
  void flush();
  bool dirty() const { return dirty_; }

 private:
  std::string file_for(const std::string& key) const;
  void migrate_file_names();
  void save_index();

  std::string dir_;
  Json index_;
  bool dirty_ = false;
  int64_t last_save_ms_ = 0;
};

}  // namespace clawgate::core
