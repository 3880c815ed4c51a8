// Model tool calls as the two provider protocols stream them, gathered into whole calls: OpenAI
// Chat Completions sends `choices[0].delta.tool_calls` entries keyed by `index` (the id and name
// in the first, the arguments in string fragments after), Anthropic Messages opens a
// `tool_use` content block (`content_block_start`, id and name) and streams its input as
// `input_json_delta` fragments keyed by the block's index. Arguments are kept as the text the
// model produced: whether it is JSON is decided later, per call (node_tool.hpp), so a malformed
// call becomes an error result for the model, never a failed run.
// Bounds: at most kMaxCalls calls per turn (more sets overflow(): the turn is refused whole),
// ids and names cut at kMaxIdBytes, arguments past kMaxArgumentsBytes dropped and the call
// marked oversized (it is answered with an error).
// Fails: never throws on any input (fields of another type than documented are ignored).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "contract.hpp"

namespace clawgate::workers {

// One tool call of a model turn.
struct ToolCall {
  std::string id, name;
  std::string arguments;   // JSON text as streamed; "" means no arguments ({})
  bool oversized = false;  // the arguments passed the bound and were dropped
};

class ToolCallCollector {
 public:
  static constexpr size_t kMaxCalls = ipc::contract::lists::kToolCalls;
  static constexpr size_t kMaxIdBytes = ipc::contract::tools::kMaxIdBytes;
  static constexpr size_t kMaxArgumentsBytes = ipc::contract::tools::kMaxArgumentsBytes;

  // OpenAI: one entry of choices[0].delta.tool_calls.
  void openai_fragment(const nlohmann::json& entry);
  // Anthropic: a content_block_start's block at `index` (only tool_use blocks count), and an
  // input_json_delta's text for the block at `index`.
  void anthropic_start(int64_t index, const nlohmann::json& block);
  void anthropic_delta(int64_t index, const std::string& partial_json);

  const std::vector<ToolCall>& calls() const { return calls_; }
  bool overflow() const { return overflow_; }

 private:
  // The call streamed under `key`, created on first sight (nullptr past kMaxCalls).
  ToolCall* slot(int64_t key);
  ToolCall* find(int64_t key);
  void append_arguments(ToolCall& c, const std::string& fragment);
  static void set_once(std::string& field, const nlohmann::json& j, const char* key);

  std::vector<ToolCall> calls_;
  std::vector<int64_t> keys_;  // the provider's index of each call
  bool overflow_ = false;
  int64_t next_synthetic_ = -1;  // keys for OpenAI-style entries without an index
};

// True when JSON text nests no deeper than `max` (strings skipped). Deeper values are not
// parsed: their dump, and nlohmann's recursion over them, would go that deep on the stack.
bool nesting_within(std::string_view text, int max);

}  // namespace clawgate::workers
