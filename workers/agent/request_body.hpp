// The JSON body of one streamed model request, in each provider's protocol: the system prompt,
// the conversation (tool calls and their results included) and the tools offered.
// OpenAI Chat Completions: assistant messages carry `tool_calls` ({id, type: "function",
// function: {name, arguments}}), each result is a `role: "tool"` message with `tool_call_id`;
// tools go as {type: "function", function: {name, description, parameters}}.
// Anthropic Messages: an assistant turn's calls are `tool_use` blocks ({id, name, input}), the
// results that follow are `tool_result` blocks of one user message; tools go as {name,
// description, input_schema}; system turns are not messages there.
// Fails: nothing; a call whose arguments are not a JSON object is sent with `{}` as its
// Anthropic input (its result already told the model why it was not run).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "providers.hpp"

namespace clawgate::workers {

// Both take the turns' texts by move: a window may hold thousands of turns.
nlohmann::json openai_body(const ProviderConfig& p, std::vector<ChatTurn>&& turns,
                           const std::string& system, const std::vector<ToolSpec>& tools);
nlohmann::json anthropic_body(const ProviderConfig& p, std::vector<ChatTurn>&& turns,
                              const std::string& system, const std::vector<ToolSpec>& tools);

}  // namespace clawgate::workers
