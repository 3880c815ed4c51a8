// SessionLanes: see lanes.hpp.
#include "core/lanes.hpp"

#include <algorithm>

#include "utf8.hpp"

namespace clawgate::core {

namespace {

bool ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string plural(size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

SessionLanes::SessionLanes(LaneOptions options) : options_(std::move(options)) {
  options_.cap = std::max<size_t>(options_.cap, 1);
  options_.max_concurrent = std::max<size_t>(options_.max_concurrent, 1);
}

bool SessionLanes::busy(const std::string& session) const {
  auto it = lanes_.find(session);
  if (it == lanes_.end()) return false;
  const Lane& l = it->second;
  return l.active || !l.waiting.empty() || !l.summary_runs.empty();
}

// Upstream's summary line: whitespace runs become one space, and a long message keeps its
// beginning, cut between user-perceived characters, with "…".
std::string SessionLanes::summary_line(const std::string& text) {
  std::string out;
  out.reserve(std::min(text.size(), kSummaryLineChars * 4));
  bool space = false;
  for (char c : text) {
    if (ascii_space(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
    if (out.size() > kSummaryLineChars * 4 + 8) break;  // enough to decide the cut
  }
  if (utf8::code_points(out) <= kSummaryLineChars) return out;
  return utf8::preview(out, kSummaryLineChars - 1);
}

std::string SessionLanes::collect_prompt(const std::vector<const LaneMessage*>& items) {
  std::string out = kCollectTitle;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string block = "---\nQueued #" + std::to_string(i + 1);
    if (!items[i]->sender.empty()) block += " (from " + items[i]->sender + ")";
    block += "\n" + items[i]->text;
    while (!block.empty() && ascii_space(block.back())) block.pop_back();
    out += "\n\n" + block;
  }
  return out;
}

void SessionLanes::forget_waiting(const Waiting& w) {
  --queued_total_;
  queued_bytes_ -= std::min(queued_bytes_, weight(w.m));
}

// drop "summarize": the message leaves the queue as one line of the next summary turn. Its run
// waits on, answered by that turn; lines past the cap go (oldest first) and their runs with them.
void SessionLanes::summarize(Lane& l, Waiting w, LaneActions& a) {
  forget_waiting(w);
  std::string line = summary_line(w.m.text);
  queued_total_ += 1;
  queued_bytes_ += line.size() + w.m.run_id.size();
  l.summary_lines.push_back(std::move(line));
  l.summary_runs.push_back(w.m.run_id);
  ++l.summarized;
  while (l.summary_lines.size() > options_.cap) {
    --queued_total_;
    queued_bytes_ -=
        std::min(queued_bytes_, l.summary_lines.front().size() + l.summary_runs.front().size());
    a.dropped.push_back({l.summary_runs.front(), false,
                         "dropped: too many messages were waiting in this session (cap " +
                             std::to_string(options_.cap) + ")"});
    l.summary_lines.pop_front();
    l.summary_runs.pop_front();
  }
}

SessionLanes::Submitted SessionLanes::submit(const std::string& session, LaneMessage m,
                                             int64_t now_ms) {
  Submitted out;
  if (!busy(session)) {
    Lane& l = lanes_[session];
    l.active = Active{m.run_id, m.background, false, ++seq_};
    out.actions.adopted.push_back(
        LaneTurn{session, m.run_id, {}, std::move(m.text), false, m.background});
    pump(now_ms, out.actions);
    return out;
  }
  Lane& l = lanes_[session];
  // The totals protect the process whatever a lane's policy says.
  if (queued_total_ >= kMaxQueuedTotal || queued_bytes_ + weight(m) > kMaxQueuedBytes) {
    out.refused = "too many messages are waiting across sessions (" +
                  std::to_string(queued_total_) + "); try again later";
    return out;
  }
  if (m.background) {  // cron and heartbeat wait their turn, outside the cap and the modes
    queued_total_ += 1;
    queued_bytes_ += weight(m);
    l.waiting.push_back(Waiting{std::move(m), false});
    return out;
  }
  const QueueMode mode = m.mode == QueueMode::steer ? QueueMode::followup : m.mode;
  m.mode = mode;
  if (mode == QueueMode::interrupt) {
    // Upstream clears the session's queue and aborts the active run; the newest message runs
    // next. Background prompts keep their place after it.
    for (const auto& run : l.summary_runs)
      out.actions.dropped.push_back({run, true, "superseded by a newer message"});
    for (size_t i = 0; i < l.summary_runs.size(); ++i) {
      --queued_total_;
      queued_bytes_ -=
          std::min(queued_bytes_, l.summary_lines[i].size() + l.summary_runs[i].size());
    }
    l.summary_lines.clear();
    l.summary_runs.clear();
    l.summarized = 0;
    for (auto it = l.waiting.begin(); it != l.waiting.end();) {
      if (it->m.background) {
        ++it;
        continue;
      }
      out.actions.dropped.push_back({it->m.run_id, true, "superseded by a newer message"});
      forget_waiting(*it);
      it = l.waiting.erase(it);
    }
    if (l.active) out.actions.interrupt.push_back(l.active->run_id);
    queued_total_ += 1;
    queued_bytes_ += weight(m);
    l.waiting.push_front(Waiting{std::move(m), true});
    l.last_enqueued_ms = now_ms;
    return out;
  }
  size_t pending = 0;
  for (const auto& w : l.waiting) pending += w.m.background ? 0 : 1;
  if (pending >= options_.cap) {
    if (options_.drop == QueueDrop::newest) {
      out.refused = "too many messages are waiting in this session (cap " +
                    std::to_string(options_.cap) + "); this one was dropped";
      return out;
    }
    // old / summarize: room is made at the front. An interrupting message about to run is
    // never the one to go.
    for (auto it = l.waiting.begin(); pending >= options_.cap && it != l.waiting.end();) {
      if (it->m.background || it->immediate) {
        ++it;
        continue;
      }
      Waiting w = std::move(*it);
      it = l.waiting.erase(it);
      --pending;
      if (options_.drop == QueueDrop::summarize) {
        summarize(l, std::move(w), out.actions);
      } else {
        out.actions.dropped.push_back(
            {w.m.run_id, false,
             "dropped: too many messages were waiting in this session (cap " +
                 std::to_string(options_.cap) + ")"});
        forget_waiting(w);
      }
    }
    if (pending >= options_.cap) {
      out.refused = "too many messages are waiting in this session (cap " +
                    std::to_string(options_.cap) + ")";
      return out;
    }
  }
  queued_total_ += 1;
  queued_bytes_ += weight(m);
  l.last_enqueued_ms = now_ms;
  l.debounce_ms = std::max<int64_t>(0, m.debounce_ms);
  l.waiting.push_back(Waiting{std::move(m), false});
  return out;
}

// The turn that should own an idle lane now, if any (and takes it off the queue).
std::optional<LaneTurn> SessionLanes::next_turn(const std::string& session, Lane& l,
                                                int64_t now_ms) {
  if (!l.waiting.empty() && l.waiting.front().immediate) {
    Waiting w = std::move(l.waiting.front());
    l.waiting.pop_front();
    forget_waiting(w);
    return LaneTurn{session, w.m.run_id, {}, std::move(w.m.text), false, false};
  }
  // The quiet window counts from the newest message, as upstream's debounce: a burst is
  // waited out before anything leaves the queue.
  const bool quiet = now_ms - l.last_enqueued_ms >= l.debounce_ms;
  if (!l.summary_runs.empty()) {
    if (!quiet) return std::nullopt;
    LaneTurn t;
    t.session = session;
    t.combined = true;
    t.text = "[Queue overflow] Dropped " + plural(l.summarized, "message") + " due to cap.";
    if (!l.summary_lines.empty()) t.text += "\nSummary:";
    for (const auto& line : l.summary_lines) t.text += "\n- " + line;
    t.merged.assign(l.summary_runs.begin(), l.summary_runs.end());
    t.run_id = t.merged.back();  // the newest carries the turn, as in a collected one
    t.merged.pop_back();
    for (size_t i = 0; i < l.summary_runs.size(); ++i) {
      --queued_total_;
      queued_bytes_ -=
          std::min(queued_bytes_, l.summary_lines[i].size() + l.summary_runs[i].size());
    }
    l.summary_lines.clear();
    l.summary_runs.clear();
    l.summarized = 0;
    return t;
  }
  if (l.waiting.empty()) return std::nullopt;
  const Waiting& head = l.waiting.front();
  if (!head.m.background && !quiet) return std::nullopt;
  if (head.m.background || head.m.mode != QueueMode::collect) {
    Waiting w = std::move(l.waiting.front());
    l.waiting.pop_front();
    forget_waiting(w);
    return LaneTurn{session, w.m.run_id, {}, std::move(w.m.text), false, w.m.background};
  }
  // collect: the messages at the front for the same destination, within kMaxTurnBytes.
  size_t n = 0, bytes = 0;
  for (const auto& w : l.waiting) {
    if (w.m.background || w.immediate || w.m.mode != QueueMode::collect ||
        w.m.route != head.m.route)
      break;
    if (n > 0 && bytes + w.m.text.size() > kMaxTurnBytes) break;
    bytes += w.m.text.size();
    ++n;
  }
  LaneTurn t;
  t.session = session;
  if (n > 1) {
    std::vector<const LaneMessage*> items;
    for (size_t i = 0; i < n; ++i) items.push_back(&l.waiting[i].m);
    t.text = collect_prompt(items);
    t.combined = true;
    for (size_t i = 0; i + 1 < n; ++i) t.merged.push_back(l.waiting[i].m.run_id);
  } else {
    t.text = std::move(l.waiting.front().m.text);
  }
  t.run_id = l.waiting[n - 1].m.run_id;  // the newest carries the turn (upstream's choice)
  for (size_t i = 0; i < n; ++i) {
    forget_waiting(l.waiting.front());
    l.waiting.pop_front();
  }
  return t;
}

void SessionLanes::pump(int64_t now_ms, LaneActions& a) {
  for (auto it = lanes_.begin(); it != lanes_.end();) {
    Lane& l = it->second;
    if (!l.active) {
      if (auto t = next_turn(it->first, l, now_ms)) {
        l.active = Active{t->run_id, t->background, false, ++seq_};
        a.adopted.push_back(std::move(*t));
      }
    }
    if (!l.active && l.waiting.empty() && l.summary_runs.empty()) {
      it = lanes_.erase(it);
    } else {
      ++it;
    }
  }
  // Slots: background turns from their own budget; foreground ones oldest first.
  std::vector<std::pair<uint64_t, Active*>> want;
  for (auto& [_, l] : lanes_)
    if (l.active && !l.active->slot) want.emplace_back(l.active->seq, &*l.active);
  std::sort(want.begin(), want.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& [_, act] : want) {
    size_t& used = act->background ? background_running_ : running_;
    const size_t limit = act->background ? kBackgroundSlots : options_.max_concurrent;
    if (used >= limit) continue;
    ++used;
    act->slot = true;
    a.started.push_back(act->run_id);
  }
}

LaneActions SessionLanes::ended(const std::string& session, const std::string& run_id,
                                int64_t now_ms) {
  LaneActions a;
  auto it = lanes_.find(session);
  if (it == lanes_.end()) return a;
  Lane& l = it->second;
  if (l.active && l.active->run_id == run_id) {
    if (l.active->slot) {
      size_t& used = l.active->background ? background_running_ : running_;
      if (used > 0) --used;
    }
    l.active.reset();
  } else {
    for (auto w = l.waiting.begin(); w != l.waiting.end(); ++w) {
      if (w->m.run_id != run_id) continue;
      forget_waiting(*w);
      l.waiting.erase(w);
      break;
    }
    for (size_t i = 0; i < l.summary_runs.size(); ++i) {
      if (l.summary_runs[i] != run_id) continue;
      --queued_total_;
      queued_bytes_ -=
          std::min(queued_bytes_, l.summary_lines[i].size() + l.summary_runs[i].size());
      l.summary_runs.erase(l.summary_runs.begin() + static_cast<std::ptrdiff_t>(i));
      l.summary_lines.erase(l.summary_lines.begin() + static_cast<std::ptrdiff_t>(i));
      if (l.summarized > 0) --l.summarized;
      break;
    }
  }
  pump(now_ms, a);
  return a;
}

LaneActions SessionLanes::poll(int64_t now_ms) {
  LaneActions a;
  pump(now_ms, a);
  return a;
}

std::optional<int64_t> SessionLanes::next_wake_ms() const {
  std::optional<int64_t> wake;
  for (const auto& [_, l] : lanes_) {
    if (l.active || (l.waiting.empty() && l.summary_runs.empty())) continue;
    const int64_t at = l.last_enqueued_ms + l.debounce_ms;
    if (!wake || at < *wake) wake = at;
  }
  return wake;
}

std::vector<std::string> SessionLanes::waiting_runs(const std::string& session) const {
  std::vector<std::string> out;
  auto it = lanes_.find(session);
  if (it == lanes_.end()) return out;
  out.assign(it->second.summary_runs.begin(), it->second.summary_runs.end());
  for (const auto& w : it->second.waiting) out.push_back(w.m.run_id);
  return out;
}

}  // namespace clawgate::core
