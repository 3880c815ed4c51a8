// Unit tests: resolve_model: the default model from the agents/models config sections
// (provider defaults, object form, baseUrl and apiKey overrides, ${ENV} keys, the
// <PROVIDER>_API_KEY fallback) and the errors naming the offending key; StreamDecoder: both
// providers' stream events to deltas, token counts and errors, and garbage that must not throw.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "providers.hpp"

namespace clawgate::workers {
namespace {

using Json = nlohmann::json;

// Sets (or unsets, with nullptr) an environment variable for one test, restoring it after.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvVar() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

Json with_model(Json model) {
  return Json{{"agents", {{"defaults", {{"model", std::move(model)}}}}}};
}

// The message of the runtime_error resolve_model throws, or "" when it does not throw one.
std::string error_of(const Json& config) {
  try {
    resolve_model(config);
  } catch (const std::runtime_error& e) {
    return e.what();
  } catch (...) {
    return "<not a std::runtime_error>";
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ResolveModel, NothingConfiguredIsNullopt) {
  EXPECT_FALSE(resolve_model(Json::object()).has_value());
  EXPECT_FALSE(resolve_model(Json{{"models", {{"providers", Json::object()}}}}).has_value());
  EXPECT_FALSE(resolve_model(Json{{"agents", Json::object()}}).has_value());
  EXPECT_FALSE(resolve_model(Json{{"agents", {{"defaults", Json::object()}}}}).has_value());
  EXPECT_FALSE(resolve_model(with_model(Json{{"fallbacks", {"openai/x"}}})).has_value());
  // null is not "unset": OpenClaw's schema refuses it, and so does the shared parser.
  EXPECT_TRUE(contains(error_of(with_model(nullptr)), "agents.defaults.model"));
}

TEST(ResolveModel, OpenAiDefaults) {
  EnvVar k("OPENAI_API_KEY", nullptr);
  const auto p = resolve_model(with_model("openai/gpt-4o-mini"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->id, "openai");
  EXPECT_EQ(p->model, "gpt-4o-mini");
  EXPECT_EQ(p->api, "openai-completions");
  EXPECT_EQ(p->base_url, "https://api.openai.com/v1");
  EXPECT_EQ(p->api_key, "");
  EXPECT_EQ(p->max_tokens, 4096);
  EXPECT_EQ(p->label(), "openai/gpt-4o-mini");
}

TEST(ResolveModel, AnthropicDefaults) {
  EnvVar k("ANTHROPIC_API_KEY", nullptr);
  const auto p = resolve_model(with_model("anthropic/claude-x"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->id, "anthropic");
  EXPECT_EQ(p->model, "claude-x");
  EXPECT_EQ(p->api, "anthropic-messages");
  EXPECT_EQ(p->base_url, "https://api.anthropic.com");
  EXPECT_EQ(p->api_key, "");
}

TEST(ResolveModel, ObjectFormWithPrimaryOllama) {
  EnvVar k("OLLAMA_API_KEY", nullptr);
  const auto p =
      resolve_model(with_model(Json{{"primary", "ollama/llama3"}, {"fallbacks", {"openai/x"}}}));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->id, "ollama");
  EXPECT_EQ(p->model, "llama3");
  EXPECT_EQ(p->api, "openai-completions");
  EXPECT_EQ(p->base_url, "http://127.0.0.1:11434/v1");
}

TEST(ResolveModel, OpenRouterKeepsTheRestOfTheRefAsModel) {
  const auto p = resolve_model(with_model("openrouter/anthropic/claude-3.5"));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->id, "openrouter");
  EXPECT_EQ(p->model, "anthropic/claude-3.5");
  EXPECT_EQ(p->base_url, "https://openrouter.ai/api/v1");
}

TEST(ResolveModel, ProviderBaseUrlAndLiteralApiKey) {
  EnvVar k("OPENAI_API_KEY", "from-env");
  Json cfg = with_model("openai/gpt-4o");
  cfg["models"]["providers"]["openai"] = {{"baseUrl", "http://localhost:8080/v1/"},
                                          {"apiKey", "sk-literal"}};
  const auto p = resolve_model(cfg);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->base_url, "http://localhost:8080/v1");  // trailing slash stripped
  EXPECT_EQ(p->api_key, "sk-literal");                 // the literal wins over the env
}

TEST(ResolveModel, AllTrailingSlashesStripped) {
  Json cfg = with_model("local/m");
  cfg["models"]["providers"]["local"] = {{"baseUrl", "http://127.0.0.1:1/v1///"}};
  EXPECT_EQ(resolve_model(cfg)->base_url, "http://127.0.0.1:1/v1");
}

TEST(ResolveModel, CustomProviderWithAnthropicApi) {
  EnvVar k("PROXY_API_KEY", nullptr);
  Json cfg = with_model("proxy/claude");
  cfg["models"]["providers"]["proxy"] = {{"api", "anthropic-messages"}};
  const auto p = resolve_model(cfg);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->api, "anthropic-messages");
  EXPECT_EQ(p->base_url, "https://api.anthropic.com");
}

TEST(ResolveModel, OpenAiResponsesApiIsSpokenAsCompletions) {
  Json cfg = with_model("openai/gpt-4o");
  cfg["models"]["providers"]["openai"] = {{"api", "openai-responses"}};
  EXPECT_EQ(resolve_model(cfg)->api, "openai-completions");
}

TEST(ResolveModel, ApiKeyFromEnvironmentReference) {
  EnvVar k("MY_KEY", "sk-from-my-key");
  EnvVar fallback("OPENAI_API_KEY", "sk-fallback");
  Json cfg = with_model("openai/gpt-4o");
  cfg["models"]["providers"]["openai"] = {{"apiKey", "${MY_KEY}"}};
  EXPECT_EQ(resolve_model(cfg)->api_key, "sk-from-my-key");
}

TEST(ResolveModel, UnsetEnvironmentReferenceFallsBackToProviderEnv) {
  EnvVar k("MY_KEY", nullptr);
  Json cfg = with_model("openai/gpt-4o");
  cfg["models"]["providers"]["openai"] = {{"apiKey", "${MY_KEY}"}};
  {
    EnvVar fallback("OPENAI_API_KEY", nullptr);
    EXPECT_EQ(resolve_model(cfg)->api_key, "");
  }
  EnvVar fallback("OPENAI_API_KEY", "sk-fallback");
  EXPECT_EQ(resolve_model(cfg)->api_key, "sk-fallback");
}

TEST(ResolveModel, FallbackProviderEnvWhenNoApiKey) {
  {
    EnvVar k("OPENAI_API_KEY", "sk-openai-env");
    EXPECT_EQ(resolve_model(with_model("openai/gpt-4o-mini"))->api_key, "sk-openai-env");
  }
  {
    EnvVar k("ANTHROPIC_API_KEY", "sk-ant-env");
    EXPECT_EQ(resolve_model(with_model("anthropic/claude-x"))->api_key, "sk-ant-env");
  }
  {
    // Provider ids are upper-cased with '-' as '_'.
    EnvVar k("MY_PROV_API_KEY", "sk-custom");
    EXPECT_EQ(resolve_model(with_model("my-prov/m"))->api_key, "sk-custom");
  }
}

TEST(ResolveModel, MaxTokensFromDefaults) {
  Json cfg = with_model("openai/gpt-4o");
  cfg["agents"]["defaults"]["maxTokens"] = 1234;
  EXPECT_EQ(resolve_model(cfg)->max_tokens, 1234);
  cfg["agents"]["defaults"].erase("maxTokens");
  EXPECT_EQ(resolve_model(cfg)->max_tokens, 4096) << "the default";
  // Not an integer, or out of range: an error naming the key, never a silent default.
  for (const Json& bad : {Json("lots"), Json(0), Json(1e12)}) {
    cfg["agents"]["defaults"]["maxTokens"] = bad;
    EXPECT_TRUE(contains(error_of(cfg), "agents.defaults.maxTokens"))
        << bad << ": " << error_of(cfg);
  }
}

TEST(ResolveModel, BadRefsThrowNamingTheKey) {
  for (const char* ref : {"gpt-4", "/x", "x/", "/", ""}) {
    const std::string msg = error_of(with_model(ref));
    EXPECT_TRUE(contains(msg, "agents.defaults.model")) << "ref \"" << ref << "\": " << msg;
  }
  EXPECT_TRUE(contains(error_of(with_model(42)), "agents.defaults.model"));
  EXPECT_TRUE(contains(error_of(with_model(Json{{"primary", 42}})), "agents.defaults.model"));
  EXPECT_TRUE(contains(error_of(with_model(Json{{"primary", "gpt-4"}})), "agents.defaults.model"));
}

TEST(ResolveModel, UnsupportedApiThrowsNamingTheKey) {
  Json cfg = with_model("openai/gpt-4o");
  cfg["models"]["providers"]["openai"] = {{"api", "google-gemini"}};
  const std::string msg = error_of(cfg);
  EXPECT_TRUE(contains(msg, "models.providers.openai.api")) << msg;
  EXPECT_TRUE(contains(msg, "google-gemini")) << msg;
}

// BUG: workers/agent/providers.cpp resolve_model: a provider entry of the wrong JSON type
// (baseUrl/apiKey/api not a string, or the provider not an object) escapes as
// nlohmann::json::type_error ("type must be string, but is number"), which is not a
// std::runtime_error and does not name the key, contrary to providers.hpp.
TEST(ResolveModel, WrongTypesThrowRuntimeErrorNamingTheKey) {
  Json cfg = with_model("openai/gpt-4o");
  cfg["models"]["providers"]["openai"] = {{"baseUrl", 42}};
  EXPECT_TRUE(contains(error_of(cfg), "models.providers.openai.baseUrl")) << error_of(cfg);
  cfg["models"]["providers"]["openai"] = {{"apiKey", 42}};
  EXPECT_TRUE(contains(error_of(cfg), "models.providers.openai.apiKey")) << error_of(cfg);
  cfg["models"]["providers"]["openai"] = "https://example.test";
  EXPECT_TRUE(contains(error_of(cfg), "models.providers.openai")) << error_of(cfg);
}

// --- StreamDecoder

// Runs `events` ({event, data}) through a decoder: the text, the first error ("" for none).
struct Decoded {
  std::string text, error;
  int in = 0, out = 0;
};
Decoded decode(bool anthropic, const std::vector<std::pair<std::string, std::string>>& events) {
  StreamDecoder d(anthropic);
  Decoded r;
  for (const auto& [ev, data] : events) {
    const StreamDecoder::Step s = d.on_event(ev, data);
    r.text += s.delta;
    if (s.error && r.error.empty()) r.error = *s.error;
  }
  r.in = d.input_tokens();
  r.out = d.output_tokens();
  return r;
}

TEST(StreamDecoder, OpenAiChunks) {
  const Decoded r = decode(false, {{"message", R"({"choices":[{"delta":{"role":"assistant"}}]})"},
                                   {"message", R"({"choices":[{"delta":{"content":"Hel"}}]})"},
                                   {"message", R"({"choices":[{"delta":{"content":"lo"}}]})"},
                                   {"message", R"({"choices":[],"usage":{"prompt_tokens":9,)"
                                               R"("completion_tokens":2}})"},
                                   {"message", "[DONE]"}});
  EXPECT_EQ(r.text, "Hello");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.in, 9);
  EXPECT_EQ(r.out, 2);
  EXPECT_EQ(decode(false, {{"message", R"({"error":{"message":"overloaded"}})"}}).error,
            "overloaded");
}

TEST(StreamDecoder, AnthropicEvents) {
  const Decoded r = decode(
      true,
      {{"message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":12}}})"},
       {"ping", R"({"type":"ping"})"},
       {"content_block_delta",
        R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}})"},
       {"message_delta", R"({"type":"message_delta","usage":{"output_tokens":5}})"},
       {"message_stop", R"({"type":"message_stop"})"}});
  EXPECT_EQ(r.text, "Hi");
  EXPECT_EQ(r.in, 12);
  EXPECT_EQ(r.out, 5);
  EXPECT_EQ(decode(true, {{"error", R"({"type":"error","error":{"message":"Overloaded"}})"}}).error,
            "Overloaded");
}

// Found by fuzz_anthropic_stream ({"type":{}}): fields of another type than the provider
// documents threw nlohmann::json::type_error out of the decoder, inside the HTTP client's read
// callback where nothing catches, so the agent worker died. They are ignored now, and token
// counts that do not fit an int are clamped instead of converted with undefined behaviour.
TEST(StreamDecoder, WrongTypesAreIgnoredNotThrown) {
  for (const bool anthropic : {false, true}) {
    for (const char* data :
         {R"({"type":{}})", R"({"type":"content_block_delta","delta":"x"})",
          R"({"type":"content_block_delta","delta":{"type":1,"text":2}})",
          R"({"type":"content_block_delta","delta":{"type":"text_delta","text":[]}})",
          R"({"type":"message_start","message":"x"})",
          R"({"type":"message_start","message":{"usage":{"input_tokens":"12"}}})",
          R"({"type":"message_start","message":{"usage":{"input_tokens":1e300}}})",
          R"({"type":"message_delta","usage":[]})", R"({"choices":"abc"})",
          R"({"choices":{"0":1}})", R"({"choices":[[]]})", R"({"choices":[{"delta":[]}]})",
          R"({"usage":{"prompt_tokens":"x","completion_tokens":-5}})",
          R"({"usage":{"prompt_tokens":99999999999999999999}})", R"({"error":{"message":7}})",
          R"({"error":null})"}) {
      Decoded r;
      EXPECT_NO_THROW(r = decode(anthropic, {{"message", data}})) << data;
      EXPECT_GE(r.in, 0) << data;
      EXPECT_GE(r.out, 0) << data;
    }
  }
  EXPECT_EQ(decode(false, {{"message", R"({"usage":{"prompt_tokens":99999999999}})"}}).in,
            2147483647);
  EXPECT_EQ(decode(false, {{"message", R"({"error":{"message":7}})"}}).error, R"({"message":7})");
}

}  // namespace
}  // namespace clawgate::workers
