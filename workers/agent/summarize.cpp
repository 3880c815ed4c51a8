// Summarizing requests: see summarize.hpp. The prompts are OpenClaw's (MIT), word for word,
// from its compaction module; the system prompt is upstream's without its note on sender
// attribution (clawgate's turns carry no sender={...} lines).
#include "summarize.hpp"

namespace clawgate::workers {

namespace {

const char* const kSummaryPrompt =
    "The messages above are a conversation to summarize. Create a structured context checkpoint summary that another LLM will use to continue the work.\n"
    "\n"
    "Use this EXACT format:\n"
    "\n"
    "## Goal\n"
    "[What is the user trying to accomplish? Can be multiple items if the session covers different tasks.]\n"
    "\n"
    "## Constraints & Preferences\n"
    "- [Any constraints, preferences, or requirements mentioned by user]\n"
    "- [Or \"(none)\" if none were mentioned]\n"
    "\n"
    "## Progress\n"
    "### Done\n"
    "- [x] [Completed tasks/changes]\n"
    "\n"
    "### In Progress\n"
    "- [ ] [Current work]\n"
    "\n"
    "### Blocked\n"
    "- [Issues preventing progress, if any]\n"
    "\n"
    "## Key Decisions\n"
    "- **[Decision]**: [Brief rationale]\n"
    "\n"
    "## Next Steps\n"
    "1. [Ordered list of what should happen next]\n"
    "\n"
    "## Critical Context\n"
    "- [Any data, examples, or references needed to continue]\n"
    "- [Or \"(none)\" if not applicable]\n"
    "\n"
    "Keep each section concise. Preserve exact file paths, function names, and error messages.";

const char* const kUpdatePrompt =
    "The messages above are NEW conversation messages to incorporate into the existing summary provided in <previous-summary> tags.\n"
    "\n"
    "Update the existing structured summary with new information. RULES:\n"
    "- PRESERVE all existing information from the previous summary\n"
    "- ADD new progress, decisions, and context from the new messages\n"
    "- UPDATE the Progress section: move items from \"In Progress\" to \"Done\" when completed\n"
    "- UPDATE \"Next Steps\" based on what was accomplished\n"
    "- PRESERVE exact file paths, function names, and error messages\n"
    "- If something is no longer relevant, you may remove it\n"
    "\n"
    "Use this EXACT format:\n"
    "\n"
    "## Goal\n"
    "[Preserve existing goals, add new ones if the task expanded]\n"
    "\n"
    "## Constraints & Preferences\n"
    "- [Preserve existing, add new ones discovered]\n"
    "\n"
    "## Progress\n"
    "### Done\n"
    "- [x] [Include previously done items AND newly completed items]\n"
    "\n"
    "### In Progress\n"
    "- [ ] [Current work - update based on progress]\n"
    "\n"
    "### Blocked\n"
    "- [Current blockers - remove if resolved]\n"
    "\n"
    "## Key Decisions\n"
    "- **[Decision]**: [Brief rationale] (preserve all previous, add new)\n"
    "\n"
    "## Next Steps\n"
    "1. [Update based on current state]\n"
    "\n"
    "## Critical Context\n"
    "- [Preserve important context, add new if needed]\n"
    "\n"
    "Keep each section concise. Preserve exact file paths, function names, and error messages.";

}  // namespace

const char* const kSummarySystemPrompt =
    "You are a context summarization assistant. Your task is to read a conversation between a user and an AI assistant, then produce a structured summary following the exact format specified.\n"
    "\n"
    "Do NOT continue the conversation. Do NOT respond to any questions in the conversation. ONLY output the structured summary.";

std::string summary_request(const std::vector<ChatTurn>& turns,
                            const std::string& previous_summary) {
  std::string out = "<conversation>\n";
  bool first = true;
  for (const auto& t : turns) {
    if (t.text.empty()) continue;
    if (!first) out += "\n\n";
    first = false;
    out += t.role == "assistant" ? "[Assistant]: " : "[User]: ";
    out += t.text;
  }
  out += "\n</conversation>\n\n";
  if (!previous_summary.empty())
    out += "<previous-summary>\n" + previous_summary + "\n</previous-summary>\n\n";
  out += previous_summary.empty() ? kSummaryPrompt : kUpdatePrompt;
  return out;
}

}  // namespace clawgate::workers
