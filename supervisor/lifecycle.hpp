// Operator lifecycle of a channel worker (channels.stop / start / logout) as plain data and pure
// functions, beside the restart policy and tested the same way. A worker can be held: stopped by
// an operator (runtime only) or logged out (persisted with a fingerprint of the credentials it
// was logged out with; logouts.hpp). A held worker is never started by the supervisor itself (not
// at start, on reload or after an exit); a logged-out one not even by channels.start, until its
// credentials change.
// Fails: never; these only decide.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace clawgate::supervisor {

enum class Hold { none, stopped, logged_out };
const char* to_string(Hold h);

// A logged-out mark against the tokens a worker has now.
enum class MarkCheck {
  none,     // no mark
  holds,    // one of its tokens is marked, or they cannot be known: stays logged out
  cleared,  // every token is new: a login, the mark goes
};
using TokenPrints = std::vector<std::string>;
// `marked`: the mark's token fingerprints, nullopt for no mark; `key_matches`: the mark was made
// with this fingerprint key (else nothing can be compared and it holds). `current`: the tokens'
// fingerprints now, nullopt when one cannot be read.
MarkCheck check_logout_mark(const std::optional<TokenPrints>& marked, bool key_matches,
                            const std::optional<TokenPrints>& current);

// How channels.start finds the worker.
struct StartView {
  bool gateway_stopping = false;
  bool logged_out = false;      // a mark that holds
  bool has_process = false;     // a generation is alive (not reaped)
  bool stop_requested = false;  // ... and was asked to stop
  bool ready = false;           // ... and said ready
};

enum class StartStep {
  answer,              // nothing to do: reply with the outcome now
  spawn,               // start a generation, then wait for it to be ready
  restart_after_stop,  // a stop is under way: start again once it exited, then wait
  wait,                // a generation is starting: wait for it to be ready
};
enum class StartStatus { handed_off, retry, skipped };
const char* to_string(StartStatus s);  // handed-off | retry | skipped

struct StartPlan {
  StartStep step = StartStep::answer;
  StartStatus status = StartStatus::handed_off;
  std::string reason;  // retry and skipped: upstream's words (task-owned, start-in-flight, ...)
};

// channels.start is the manual override of every automatic-start suppression (an operator's
// stop, the intensity window, exit 78), but not of a logout: that needs a new token.
StartPlan plan_start(const StartView& v);

}  // namespace clawgate::supervisor
