// Model providers spoken with their own streaming protocols: OpenAI-compatible Chat
// Completions with SSE (OpenAI, OpenRouter, Ollama, llama.cpp server, vLLM) and Anthropic
// Messages with SSE. The model is configuration, as OpenClaw names it: `agents.defaults.model`
// ("provider/model") and `models.providers.<id>.{baseUrl, apiKey, api}`.
// Tools (tool_calls.hpp, request_body.hpp): a stream may be offered tools, and its end then
// carries the tool calls the model made.
// Fails: ModelStream reports exactly one outcome: done, or a typed RunError (retryable for
// 429/5xx/network before any text streamed, with retryAfterMs when the provider said so).
#pragma once
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config_gen.hpp"
#include "error.hpp"
#include "http_client.hpp"
#include "tool_calls.hpp"

namespace clawgate::workers {

struct ProviderConfig {
  std::string id;        // "openai", "anthropic", "ollama", any name
  std::string api;       // "openai-completions" | "anthropic-messages"
  std::string base_url;  // e.g. https://api.openai.com/v1
  std::string api_key;
  std::string model;  // as the provider names it
  int max_tokens = 4096;
  std::string label() const { return id + "/" + model; }
};

// Reads the `agents`/`models` config sections (a JSON object with those two keys) with the
// generated parser. Throws std::runtime_error naming the key of the first bad value.
cfg::Config parse_agent_config(const nlohmann::json& config);

// Resolves the default model. Nothing configured: std::nullopt (the offline agent answers).
// Throws std::runtime_error naming the key when the configuration is unusable.
std::optional<ProviderConfig> resolve_model(const cfg::Config& config);
std::optional<ProviderConfig> resolve_model(const nlohmann::json& config);

// Every TCP port the agent may connect to: the default model's base URL and each configured
// provider's baseUrl (its sandbox allows these and no other). Empty when no model is configured.
std::vector<uint16_t> provider_ports(const cfg::Config& config);
std::vector<uint16_t> provider_ports(const nlohmann::json& config);

// One message of the conversation a model is sent.
struct ChatTurn {
  ChatTurn() = default;
  ChatTurn(std::string r, std::string t) : role(std::move(r)), text(std::move(t)) {}
  std::string role, text;            // user | assistant | system | tool
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made (text may be empty)
  std::string tool_call_id;          // tool: the call this answers...
  bool is_error = false;             // ...and whether it failed
};

// A tool as a provider is offered it: name, description, JSON Schema of its arguments.
struct ToolSpec {
  std::string name, description;
  nlohmann::json parameters;
};

// A failed run, as the front gets it over the link (ipc/error.hpp).
using RunError = Error;

// Decodes one provider's stream events (OpenAI-compatible chat.completion.chunk, or Anthropic
// Messages events) into text deltas, token counts and a mid-stream error. Pure: no I/O, so
// tests and the fuzz targets drive it without a server.
class StreamDecoder {
 public:
  explicit StreamDecoder(bool anthropic) : anthropic_(anthropic) {}
  struct Step {
    std::string delta;                 // the text this event added; "" for none
    std::optional<std::string> error;  // the provider reported a failure mid-stream
  };
  Step on_event(const std::string& event, const std::string& data);
  int input_tokens() const { return in_tokens_; }
  int output_tokens() const { return out_tokens_; }
  const ToolCallCollector& tool_calls() const { return tools_; }

 private:
  void anthropic_event(const nlohmann::json& j, const std::string& event, Step& step);
  void openai_event(const nlohmann::json& j, Step& step);

  bool anthropic_;
  int in_tokens_ = 0, out_tokens_ = 0;
  ToolCallCollector tools_;
};

// How a stream ended well: its token counts and the tool calls the model made (none: the text
// is its answer).
struct StreamEnd {
  int input_tokens = 0, output_tokens = 0;
  std::vector<ToolCall> tool_calls;
  bool too_many_calls = false;  // past ToolCallCollector::kMaxCalls: the turn is unusable
};

class ModelStream {
 public:
  struct Callbacks {
    std::function<void(const std::string& delta)> on_delta;
    // The error, or nullopt and how it ended.
    std::function<void(std::optional<RunError> error, StreamEnd end)> on_done;
  };
  // `http` is a client for p.base_url (a pooled one keeps its keep-alive connection, and TLS
  // session, from run to run); take_http() hands it back once the stream is over. `tools`:
  // what the model is offered (none: a plain answer).
  ModelStream(const ProviderConfig& p, std::unique_ptr<HttpClient> http,
              std::vector<ChatTurn> turns, std::string system_prompt, Callbacks cb,
              std::vector<ToolSpec> tools = {});
  ~ModelStream();
  void start();
  void cancel();  // no callback after this
  std::unique_ptr<HttpClient> take_http();

 private:
  void on_event(const std::string& event, const std::string& data);
  void finish(std::optional<RunError> e);

  const ProviderConfig& p_;
  std::vector<ChatTurn> turns_;
  std::string system_;
  std::vector<ToolSpec> tools_;
  Callbacks cb_;
  std::unique_ptr<HttpClient> http_;
  bool anthropic_ = false, finished_ = false, streamed_ = false;
  StreamDecoder decoder_;
  std::optional<RunError> stream_error_;
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace clawgate::workers
