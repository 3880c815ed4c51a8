// History: see history.hpp.
#include "core/history.hpp"

#include <algorithm>

#include "contract.hpp"
#include "fs.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

// The estimate's weight of the code point starting with lead byte `c` (continuation bytes
// weigh nothing), in quarter tokens: ASCII 1, other BMP 4, past U+FFFF 8.
size_t quarters(unsigned char c) {
  if (c < 0x80) return 1;
  if (c < 0xC0) return 0;
  return c >= 0xF0 ? 8 : 4;
}

// Fields of a transcript line, read so that a line someone edited by hand (a number where text
// was, an array for a flag) reads as absent instead of throwing out of the loop.
std::string str_at(const Json& j, const char* key, const char* dflt = "") {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}
bool flag_at(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

size_t estimate_tokens(std::string_view text) {
  size_t q = 0;
  for (unsigned char c : text) q += quarters(c);
  return (q + 3) / 4 + kMessageTokens;
}

size_t cut_to_tokens(std::string_view text, size_t tokens) {
  const size_t budget = tokens > SIZE_MAX / 4 ? SIZE_MAX : tokens * 4;
  size_t q = 0, i = 0;
  while (i < text.size()) {
    const size_t w = quarters(static_cast<unsigned char>(text[i]));
    if (q + w > budget) break;
    q += w;
    ++i;
  }
  return utf8::cut_bytes(text, i);  // i may sit inside a code point: back to its start
}

std::string summary_message(const std::string& summary) {
  return "The conversation history before this point was compacted into the following "
         "summary:\n\n<summary>\n" +
         summary + "\n</summary>";
}

std::string agent_text(const Json& entry) {
  std::string text = str_at(entry, "text");
  if (!flag_at(entry, "context")) return text;
  const auto f = entry.find("from");
  const Json from = f != entry.end() && f->is_object() ? *f : Json::object();
  std::string who = str_at(from, "name");
  const std::string user = str_at(from, "username");
  if (!user.empty()) who += (who.empty() ? "@" : " (@") + user + (who.empty() ? "" : ")");
  if (who.empty()) who = str_at(from, "id", "someone");
  return "[group message not addressed to you, for context only] " + who + ": " + text;
}

std::string tool_text(const Json& entry) {
  std::string text = str_at(entry, "text");
  if (str_at(entry, "role") == "toolResult") {
    const bool failed = flag_at(entry, "isError");
    std::string shown = text.substr(0, utf8::cut_bytes(text, kToolResultHistoryBytes));
    if (shown.size() < text.size()) shown += " ...";
    return "[tool " + str_at(entry, "toolName", "?") + (failed ? " failed" : " result") + ": " +
           shown + "]";
  }
  const auto calls = entry.find("toolCalls");
  if (calls == entry.end() || !calls->is_array()) return text;
  for (const Json& c : *calls) {
    if (!c.is_object()) continue;
    const auto args = c.find("arguments");
    const std::string shown = args == c.end() ? "{}" : dump_json(*args);
    text += (text.empty() ? "" : "\n") + std::string("[called tool ") + str_at(c, "name", "?") +
            " " + shown.substr(0, utf8::cut_bytes(shown, kToolResultHistoryBytes)) + "]";
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// SessionHistory

void SessionHistory::push(HistoryTurn t, size_t max_tokens) {
  tokens += t.tokens;
  bytes_ += t.text.size() + t.role.size();
  turns.push_back(std::move(t));
  while (tokens > max_tokens && turns.size() > 1) {
    tokens -= turns.front().tokens;
    bytes_ -= turns.front().text.size() + turns.front().role.size();
    turns.pop_front();
    complete = false;
  }
}

void SessionHistory::compacted(std::string s, uint64_t cut) {
  bytes_ -= summary.size();
  summary = std::move(s);
  bytes_ += summary.size();
  summary_tokens = summary.empty() ? 0 : estimate_tokens(summary_message(summary));
  cut_offset = cut;
  while (!turns.empty() && turns.front().offset < cut) {
    tokens -= turns.front().tokens;
    bytes_ -= turns.front().text.size() + turns.front().role.size();
    turns.pop_front();
  }
  complete = true;  // whatever was beyond the window is older than the cut now
}

// ---------------------------------------------------------------------------------------------
// TranscriptIndex

namespace {

std::optional<HistoryTurn> turn_of(const Json& j, uint64_t offset) {
  if (!j.is_object() || str_at(j, "type") != "message") return std::nullopt;
  HistoryTurn t;
  const std::string role = str_at(j, "role");
  // A tool round reads as part of the assistant's turn (tool_text): later requests may offer
  // no tools, and a provider refuses tool calls it was not offered.
  t.role = role == "assistant" || role == "toolResult" ? "assistant" : "user";
  t.text = j.contains("toolCalls") || role == "toolResult" ? tool_text(j) : agent_text(j);
  t.context = flag_at(j, "context");
  t.offset = offset;
  t.tokens = estimate_tokens(t.text);
  return t;
}

}  // namespace

SessionHistory TranscriptIndex::load(const std::string& path) {
  // Newest first: messages until the window is full; the newest compaction line met sets the
  // summary and the cut, and below the cut nothing is read. Older compaction lines inside the
  // kept part are superseded (the newer summary was written from theirs).
  SessionHistory h;
  std::vector<HistoryTurn> newest_first;
  size_t tokens = 0;
  bool have_compaction = false;
  std::string summary;
  uint64_t cut = 0;
  bytes_read_ += scan_lines_backwards(path, [&](uint64_t offset, const std::string& line) {
    if (have_compaction && offset < cut) return false;
    // Only lines that may matter are parsed: a cheap look for the two types first.
    const bool message = line.find("\"message\"") != std::string::npos;
    const bool compaction = !have_compaction && line.find("\"compaction\"") != std::string::npos;
    if (!message && !compaction) return true;
    const Json j = Json::parse(line, nullptr, false);
    if (!j.is_object()) return true;
    const std::string type = str_at(j, "type");
    if (type == "compaction" && compaction) {
      have_compaction = true;
      summary = str_at(j, "summary");
      const Json c = j.value("cutOffset", Json());
      // A cut past its own line would hide turns it never saw: clamped to the line.
      cut = c.is_number_unsigned() ? std::min<uint64_t>(c.get<uint64_t>(), offset) : offset;
      return true;
    }
    auto t = turn_of(j, offset);
    if (!t) return true;
    if (tokens + t->tokens > limits_.session_tokens && !newest_first.empty()) {
      h.complete = false;
      return false;
    }
    tokens += t->tokens;
    newest_first.push_back(std::move(*t));
    return true;
  });
  if (have_compaction) h.compacted(std::move(summary), cut);
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it)
    h.push(std::move(*it), SIZE_MAX);
  return h;
}

const SessionHistory& TranscriptIndex::get(const std::string& key, const std::string& path) {
  auto it = held_.find(key);
  if (it != held_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.h;
  }
  SessionHistory h = load(path);
  lru_.push_front(key);
  total_bytes_ += h.bytes();
  auto& held = held_[key];
  held.h = std::move(h);
  held.lru = lru_.begin();
  evict(key);
  return held.h;
}

void TranscriptIndex::appended(const std::string& key, const Json& entry, uint64_t offset) {
  auto it = held_.find(key);
  if (it == held_.end() || !entry.is_object()) return;
  SessionHistory& h = it->second.h;
  const size_t before = h.bytes();
  const std::string type = str_at(entry, "type");
  if (type == "compaction") {
    const Json c = entry.value("cutOffset", Json());
    h.compacted(str_at(entry, "summary"),
                c.is_number_unsigned() ? std::min<uint64_t>(c.get<uint64_t>(), offset) : offset);
  } else if (auto t = turn_of(entry, offset)) {
    h.push(std::move(*t), limits_.session_tokens);
  } else {
    return;
  }
  total_bytes_ = total_bytes_ - before + h.bytes();
  evict(key);
}

void TranscriptIndex::forget(const std::string& key) {
  auto it = held_.find(key);
  if (it == held_.end()) return;
  total_bytes_ -= it->second.h.bytes();
  lru_.erase(it->second.lru);
  held_.erase(it);
}

void TranscriptIndex::set_limits(Limits l) {
  limits_ = l;
  held_.clear();
  lru_.clear();
  total_bytes_ = 0;
}

void TranscriptIndex::evict(const std::string& keep) {
  while ((total_bytes_ > limits_.total_bytes || held_.size() > limits_.max_sessions) &&
         lru_.size() > 1) {
    const std::string& victim = lru_.back() == keep ? *std::next(lru_.rbegin()) : lru_.back();
    forget(std::string(victim));  // a copy: forget() erases the list node `victim` refers to
  }
}

// ---------------------------------------------------------------------------------------------
// Windows and compaction plans

ModelWindow build_window(const SessionHistory& h, size_t budget_tokens, size_t context_limit) {
  ModelWindow w;
  const auto& turns = h.turns;
  if (turns.empty() && h.summary.empty()) return w;
  // Newest first; the newest turn always goes (it is the message this turn answers).
  std::vector<std::pair<std::string, std::string>> picked;
  size_t used = h.summary_tokens;
  size_t context_seen = 0;
  size_t k = turns.size();
  if (k > 0) {
    const HistoryTurn& last = turns[k - 1];
    --k;
    if (used + last.tokens > budget_tokens) {
      // Too big even alone (the summary yields first): its beginning, cut on a code point.
      used = 0;
      const size_t room =
          budget_tokens > kMessageTokens + 16 ? budget_tokens - kMessageTokens - 16 : 0;
      static const std::string kMark = "\n[… cut to fit the model's context window]";
      std::string text = last.text.substr(0, cut_to_tokens(last.text, room)) + kMark;
      used += estimate_tokens(text);
      picked.emplace_back(last.role, std::move(text));
      w.cut = true;
      w.dropped = k;
      w.tokens = used;
      w.messages = std::move(picked);
      return w;
    }
    used += last.tokens;
    if (last.context) ++context_seen;
    picked.emplace_back(last.role, last.text);
  }
  while (k > 0) {
    const HistoryTurn& t = turns[k - 1];
    if (t.context && context_seen >= context_limit) {  // historyLimit: older context stays out
      ++w.dropped;
      --k;
      continue;
    }
    // The agent link takes at most kRunMessages (a window of tiny turns in a huge context).
    if (used + t.tokens > budget_tokens || picked.size() + 1 >= ipc::contract::lists::kRunMessages)
      break;
    used += t.tokens;
    if (t.context) ++context_seen;
    picked.emplace_back(t.role, t.text);
    --k;
  }
  w.dropped += k;
  if (!h.summary.empty()) picked.emplace_back("user", summary_message(h.summary));
  std::reverse(picked.begin(), picked.end());
  w.messages = std::move(picked);
  w.tokens = used;
  return w;
}

CompactionPlan plan_compaction(const SessionHistory& h, size_t keep_recent_tokens,
                               size_t max_input_tokens) {
  CompactionPlan p;
  const auto& turns = h.turns;
  p.tokens_before = h.visible_tokens();
  if (turns.size() < 2) return p;  // the newest turn is always kept
  // The first kept turn: walking back from the newest until keep_recent_tokens are kept.
  size_t i = turns.size() - 1, kept = turns[i].tokens;
  while (i > 0 && kept < keep_recent_tokens) kept += turns[--i].tokens;
  // The kept tail starts a turn (a user message): back to one if there is one before, else
  // forward to the next; none at all: the cut stays where the budget put it.
  size_t j = i;
  while (j > 0 && turns[j].role != "user") --j;
  if (j == 0) {
    j = i;
    while (j < turns.size() - 1 && turns[j].role != "user") ++j;
    if (turns[j].role != "user") j = i;
  }
  if (j == 0) return p;  // everything is within the kept budget: nothing to summarize
  p.cut_offset = turns[j].offset;
  for (size_t k = j; k < turns.size(); ++k) p.kept_tokens += turns[k].tokens;
  // The newest of the older turns that fit one summarizing request.
  size_t used = h.summary_tokens, first = j;
  while (first > 0 && used + turns[first - 1].tokens <= max_input_tokens)
    used += turns[--first].tokens;
  for (size_t k = first; k < j; ++k) p.turns.push_back(&turns[k]);
  return p;
}

std::optional<uint64_t> trim_cut(const SessionHistory& h, size_t keep) {
  if (h.turns.size() > keep) return h.turns[h.turns.size() - keep].offset;
  if (!h.complete && !h.turns.empty()) return h.turns.front().offset;
  return std::nullopt;
}

}  // namespace clawgate::core
