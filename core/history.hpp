// History: what the model sees of a session, kept in memory so a turn costs the same at any
// transcript length. TranscriptIndex holds, per session, the turns the model may still be sent
// (message lines newer than the latest compaction's cut, at most a context window of them) with
// their byte offsets in the transcript, the latest compaction summary and a running token
// count. It is filled once from the transcript's tail (reading backwards, never more than the
// window plus one block) and then kept current by the store's appends, so starting a run reads
// nothing from disk. Sessions held are bounded (count and bytes), least recently used go first.
// build_window() picks what one request carries: the summary, then the newest turns that fit a
// token budget, the newest turn always (cut on a code-point boundary when it alone is too big).
// plan_compaction() picks what a compaction summarizes and where the kept tail begins.
// Tokens are estimated, not counted: four ASCII characters a token (upstream's chars/4), one
// token for any other code point and two past U+FFFF (CJK, Arabic, emoji cost more than a
// quarter token each in every tokenizer), plus a few per message.
// Fails: a transcript that cannot be read throws std::system_error (callers answer UNAVAILABLE
// or end the run with an error); lines that are not JSON objects are skipped.
#pragma once
#include <cstdint>
#include <deque>
#include <list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace clawgate::core {

using Json = nlohmann::json;

// Estimated tokens of `text` as a message's content (kMessageTokens for its framing included).
size_t estimate_tokens(std::string_view text);
// The largest byte offset of `text` whose prefix is at most `tokens` estimated tokens (framing
// not counted) and splits no code point.
size_t cut_to_tokens(std::string_view text, size_t tokens);
inline constexpr size_t kMessageTokens = 4;

struct HistoryTurn {
  std::string role;      // "user" | "assistant"
  std::string text;      // as the agent reads it (group context labelled with its sender)
  bool context = false;  // a group message not addressed to the bot (historyLimit applies)
  uint64_t offset = 0;   // of its line in the transcript
  size_t tokens = 0;     // estimate_tokens(text)
};

struct SessionHistory {
  std::string summary;            // the latest compaction's, "" for none (or a trim)
  uint64_t cut_offset = 0;        // lines before this offset are replaced by the summary
  size_t summary_tokens = 0;      // estimate_tokens of the summary as the model gets it (0: none)
  std::deque<HistoryTurn> turns;  // oldest first
  size_t tokens = 0;              // over turns
  // False when older visible turns exist on disk than are held (more than the window).
  bool complete = true;
  size_t bytes() const { return bytes_; }
  // Adds a turn at the newest end, then drops the oldest while over `max_tokens`.
  void push(HistoryTurn t, size_t max_tokens);
  // A compaction: its summary replaces every turn before `cut`.
  void compacted(std::string summary, uint64_t cut);
  size_t visible_tokens() const { return summary_tokens + tokens; }

 private:
  friend class TranscriptIndex;
  size_t bytes_ = 0;
};

// How the summary reaches the model: as upstream words it, a user message ahead of the turns.
std::string summary_message(const std::string& summary);

// What the agent reads for one transcript message entry: its text, and for a group message the
// bot was not addressed in, the text labelled with its sender, so the model takes it as
// background, not as a request.
std::string agent_text(const Json& entry);
// What the agent reads for a tool round's lines in a later turn: an assistant turn with
// toolCalls as its text plus "[called tool <name> <arguments>]" per call, a toolResult line as
// "[tool <name> result: <text>]" (each cut at kToolResultHistoryBytes).
inline constexpr size_t kToolResultHistoryBytes = 2048;
std::string tool_text(const Json& entry);

class TranscriptIndex {
 public:
  struct Limits {
    size_t session_tokens = 200'000;  // turns held per session (the context window)
    size_t total_bytes = 64u << 20;   // text held across sessions
    size_t max_sessions = 512;
  };
  explicit TranscriptIndex(Limits limits) : limits_(limits) {}
  TranscriptIndex() : TranscriptIndex(Limits{}) {}

  // The session's history; loaded from `path` on a miss (the file may not exist: empty).
  const SessionHistory& get(const std::string& key, const std::string& path);
  // The store appended `entry` at `offset` of the session's transcript. Only sessions held
  // are updated: a session not held reads the line from disk when it is next asked for.
  void appended(const std::string& key, const Json& entry, uint64_t offset);
  void forget(const std::string& key);  // the transcript was moved away (reset, delete)
  void set_limits(Limits l);            // forgets everything held
  const Limits& limits() const { return limits_; }
  uint64_t bytes_read() const { return bytes_read_; }  // from transcripts, since the start
  size_t sessions_held() const { return held_.size(); }

 private:
  struct Held {
    SessionHistory h;
    std::list<std::string>::iterator lru;
  };
  SessionHistory load(const std::string& path);
  void evict(const std::string& keep);

  Limits limits_;
  std::list<std::string> lru_;  // most recently used first
  std::unordered_map<std::string, Held> held_;
  size_t total_bytes_ = 0;
  uint64_t bytes_read_ = 0;
};

// One request's messages, oldest first: the summary (when there is one), the newest turns
// that fit `budget_tokens` (the summary counted), at most `context_limit` of the group context
// messages among them, and always the newest turn. `cut` says the newest turn alone was over
// the budget and was cut; `dropped` counts turns held but left out.
struct ModelWindow {
  std::vector<std::pair<std::string, std::string>> messages;  // role, text
  size_t tokens = 0;
  size_t dropped = 0;
  bool cut = false;
};
ModelWindow build_window(const SessionHistory& h, size_t budget_tokens, size_t context_limit);

// What a compaction summarizes: the turns older than the newest `keep_recent_tokens` (the kept
// tail begins at a user message when one is near), at most `max_input_tokens` of them (the
// newest), with the previous summary. Empty `turns`: nothing to summarize.
struct CompactionPlan {
  std::vector<const HistoryTurn*> turns;
  uint64_t cut_offset = 0;  // the first kept turn's offset
  size_t tokens_before = 0, kept_tokens = 0;
};
CompactionPlan plan_compaction(const SessionHistory& h, size_t keep_recent_tokens,
                               size_t max_input_tokens);
// The cut that keeps only the newest `keep` turns (sessions.compact maxLines): nullopt when the
// session has no more than that.
std::optional<uint64_t> trim_cut(const SessionHistory& h, size_t keep);

}  // namespace clawgate::core
