// The summarizing request of a compaction (core/history.hpp decides what is summarized; this
// says how the model is asked): upstream's prompts, so a summary reads the same as OpenClaw's.
// The turns go as one user message, `<conversation>` with a `[User]: ` / `[Assistant]: ` line
// each, then the previous summary when there is one (the model updates it), then the
// instructions; the system prompt tells the model to summarize, not to answer.
// Fails: nothing; pure text.
#pragma once
#include <string>
#include <vector>

#include "providers.hpp"

namespace clawgate::workers {

extern const char* const kSummarySystemPrompt;

std::string summary_request(const std::vector<ChatTurn>& turns,
                            const std::string& previous_summary);

}  // namespace clawgate::workers
