// SessionLanes: when a run may start. One lane per session: at most one run at a time works on
// a session (reads its history, writes its transcript), as upstream's session lanes. A message
// that arrives while its session is busy waits in the lane and leaves it as its queue mode says:
//   followup   one turn per message, in order, once the lane has been quiet for its debounce
//   collect    the waiting messages for one destination as a single combined turn
//   interrupt  the active run is aborted, the other waiting messages are dropped, the newest
//              message runs next
//   steer      as followup: the agent worker takes no input while a run streams, so there is no
//              active run to steer into (upstream falls back the same way)
// A lane holds at most `cap` waiting messages; past it the drop policy decides (summarize: the
// oldest become one summary turn; old: the oldest go; new: the newest is refused).
// Across sessions at most max_concurrent foreground runs hold a slot (the others wait, oldest
// turn first); cron and heartbeat runs have their own budget of kBackgroundSlots, as upstream's
// cron lane, so background work never holds up replies.
// Pure policy: no I/O and no timers. Time comes in as arguments; the owner (RunManager) carries
// out the returned LaneActions and calls poll() when next_wake_ms() comes.
// Fails: never throws but std::bad_alloc. What does not fit (a full lane with drop "new", the
// process-wide kMaxQueuedTotal / kMaxQueuedBytes) is refused with a reason a user can read.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"

namespace clawgate::core {

struct LaneOptions {
  size_t cap = QueueSettings::kDefaultCap;  // waiting messages per session
  QueueDrop drop = QueueDrop::summarize;
  size_t max_concurrent = 8;  // foreground runs holding a slot, across sessions
};

// One message (or cron/heartbeat prompt) asking for a turn in its session.
struct LaneMessage {
  std::string run_id;
  std::string text;    // what the agent reads
  std::string sender;  // shown in a collected turn ("Queued #2 (from Bob)"); "" for none
  std::string route;   // where the answer goes: a combined turn never mixes two routes
  QueueMode mode = QueueMode::followup;
  int64_t debounce_ms = QueueSettings::kDefaultDebounceMs;
  bool background = false;  // cron, heartbeat: own budget, never combined, never interrupts
};

// A turn that now owns its session. `merged` are waiting runs answered by this same turn
// (collected, or summarised after an overflow), oldest first.
struct LaneTurn {
  std::string session, run_id;
  std::vector<std::string> merged;
  // What the agent reads and the transcript keeps as the user's turn: the message itself, or
  // (combined) the text of a collected or summary turn. Moved out of the lane, never copied.
  std::string text;
  bool combined = false;
  bool background = false;  // a cron/heartbeat prompt: takes a background slot
};

// What the owner must do, in this order.
struct LaneActions {
  struct Drop {
    std::string run_id;
    bool aborted = false;  // superseded by an interrupting message (else: dropped by the cap)
    std::string reason;
  };
  std::vector<Drop> dropped;           // waiting runs that will never run: end them
  std::vector<std::string> interrupt;  // active runs to abort; their end comes back via ended()
  std::vector<LaneTurn> adopted;       // write each turn's user message to its transcript
  std::vector<std::string> started;    // runs that now hold a slot: send them to the agent
  bool empty() const {
    return dropped.empty() && interrupt.empty() && adopted.empty() && started.empty();
  }
};

class SessionLanes {
 public:
  static constexpr size_t kBackgroundSlots = QueueSettings::kBackgroundRuns;
  // Waiting messages across sessions, and their bytes: a flood over many sessions cannot grow
  // memory past these, whatever each lane's cap.
  static constexpr size_t kMaxQueuedTotal = 4096;
  static constexpr size_t kMaxQueuedBytes = 64u << 20;
  // A collected turn stops taking messages past this much text; the rest wait for the next.
  static constexpr size_t kMaxTurnBytes = 1u << 20;
  static constexpr size_t kSummaryLineChars = 160;  // code points, "…" included
  static constexpr const char* kCollectTitle = "[Queued messages while agent was busy]";

  explicit SessionLanes(LaneOptions options);

  // True when a message for `session` would wait: a turn owns the session or messages wait.
  // When false, submit() adopts the message at once and never refuses it.
  bool busy(const std::string& session) const;

  struct Submitted {
    std::string refused;  // empty: taken
    LaneActions actions;
  };
  Submitted submit(const std::string& session, LaneMessage m, int64_t now_ms);
  // `run_id` ended, or will never run: forgotten wherever it is. When it owned its session the
  // next turn there may be adopted, and its slot goes to the oldest turn waiting for one.
  LaneActions ended(const std::string& session, const std::string& run_id, int64_t now_ms);
  // Lanes whose quiet window has passed adopt their next turn.
  LaneActions poll(int64_t now_ms);
  // When poll() has something to do next (steady ms), if ever.
  std::optional<int64_t> next_wake_ms() const;

  // Runs waiting in `session` (not yet adopted), oldest first: summarised ones, then queued.
  std::vector<std::string> waiting_runs(const std::string& session) const;
  size_t running() const { return running_; }  // foreground slots taken
  size_t background_running() const { return background_running_; }
  size_t queued() const { return queued_total_; }
  size_t queued_bytes() const { return queued_bytes_; }
  const LaneOptions& options() const { return options_; }

  // The text of a summary line and a collected turn (exposed for tests).
  static std::string summary_line(const std::string& text);
  static std::string collect_prompt(const std::vector<const LaneMessage*>& items);

 private:
  struct Waiting {
    LaneMessage m;
    bool immediate = false;  // an interrupting message: next, with no quiet window
  };
  struct Active {
    std::string run_id;
    bool background = false;
    bool slot = false;  // holds a slot (started); else adopted, waiting for one
    uint64_t seq = 0;   // adoption order: slots go to the oldest turn first
  };
  struct Lane {
    std::optional<Active> active;
    std::deque<Waiting> waiting;
    // drop "summarize": what fell off the front of the queue, told to the agent as one turn.
    std::deque<std::string> summary_lines, summary_runs;  // aligned
    size_t summarized = 0;  // dropped since the last summary turn (lines keep the newest cap)
    int64_t last_enqueued_ms = 0;
    int64_t debounce_ms = QueueSettings::kDefaultDebounceMs;
  };

  static size_t weight(const LaneMessage& m) {
    return m.text.size() + m.sender.size() + m.route.size() + m.run_id.size();
  }
  void forget_waiting(const Waiting& w);
  void summarize(Lane& l, Waiting w, LaneActions& a);
  std::optional<LaneTurn> next_turn(const std::string& session, Lane& l, int64_t now_ms);
  void pump(int64_t now_ms, LaneActions& a);

  LaneOptions options_;
  std::map<std::string, Lane> lanes_;  // only sessions with a turn or waiting messages
  size_t running_ = 0, background_running_ = 0;
  size_t queued_total_ = 0, queued_bytes_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace clawgate::core
