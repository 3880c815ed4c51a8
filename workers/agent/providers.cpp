// Model providers: see providers.hpp.
#include "providers.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "config.hpp"
#include "request_body.hpp"
#include "sandbox.hpp"
#include "sse.hpp"

namespace clawgate::workers {

using Json = nlohmann::json;

namespace {

constexpr int kIdleTimeoutMs = 120'000;  // a stream silent this long is dead

std::string default_base_url(const std::string& id, const std::string& api) {
  if (api == "anthropic-messages") return "https://api.anthropic.com";
  if (id == "openrouter") return "https://openrouter.ai/api/v1";
  if (id == "ollama") return "http://127.0.0.1:11434/v1";
  return "https://api.openai.com/v1";
}

// "${NAME}" reads the environment; anything else is the key itself.
std::string expand_key(const std::string& v) {
  if (auto name = key_reference(v)) {
    const char* e = std::getenv(name->c_str());
    return e ? e : "";
  }
  return v;
}

RunError http_error(int status, const std::string& body, const std::string& transport) {
  RunError e;
  if (status == 0) {
    e.code = ipc::ErrorCode::UNAVAILABLE;
    e.message = "model provider unreachable: " + transport;
    e.retryable = true;
    return e;
  }
  const Json j = Json::parse(body, nullptr, false);
  std::string detail;
  if (j.is_object() && j.contains("error")) {
    const Json& err = j["error"];
    detail = err.is_object() ? err.value("message", err.dump()) : err.dump();
  }
  e.message = "model provider answered HTTP " + std::to_string(status) +
              (detail.empty() ? "" : ": " + detail);
  if (status == 429) {
    e.code = ipc::ErrorCode::RATE_LIMITED;
    e.retryable = true;
    e.retry_after_ms = 1000;
  } else if (status >= 500 || status == 408) {
    e.code = ipc::ErrorCode::UNAVAILABLE;
    e.retryable = true;
  } else {
    e.code = status == 401 || status == 403 ? ipc::ErrorCode::UNAUTHORIZED
                                            : ipc::ErrorCode::INVALID_REQUEST;
  }
  return e;
}

}  // namespace

cfg::Config parse_agent_config(const Json& config) {
  // The same generated parser the supervisor checked the file with: a bad value fails here
  // with its key path, never with a guess.
  cfg::Issues issues;
  const cfg::Config c = cfg::parse_config(config.is_object() ? config : Json::object(), issues);
  for (const auto& i : issues.items())
    if (i.kind == cfg::Issue::Kind::error) throw std::runtime_error(i.text());
  return c;
}

std::optional<ProviderConfig> resolve_model(const cfg::Config& config) {
  const cfg::AgentsDefaults& defaults = config.agents.defaults;
  if (!defaults.model || !defaults.model->primary) return std::nullopt;
  const std::string& ref = *defaults.model->primary;
  const size_t slash = ref.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == ref.size())
    throw std::runtime_error("agents.defaults.model must be \"provider/model\", got \"" + ref +
                             "\"");
  ProviderConfig p;
  p.id = ref.substr(0, slash);
  p.model = ref.substr(slash + 1);
  const auto it = config.models.providers.find(p.id);
  const cfg::ModelProvider prov =
      it != config.models.providers.end() ? it->second : cfg::ModelProvider{};
  const std::string where = "models.providers." + cfg::render_key(p.id);
  p.api = prov.api.value_or(p.id == "anthropic" ? "anthropic-messages" : "openai-completions");
  if (p.api != "openai-completions" && p.api != "anthropic-messages" && p.api != "openai-responses")
    throw std::runtime_error(where + ".api: unsupported \"" + p.api +
                             "\" (openai-completions or anthropic-messages)");
  if (p.api == "openai-responses") p.api = "openai-completions";
  p.base_url = prov.base_url.value_or(default_base_url(p.id, p.api));
  while (!p.base_url.empty() && p.base_url.back() == '/') p.base_url.pop_back();
  require_secure_url(p.base_url, where + ".baseUrl", prov.dangerously_allow_insecure_http,
                     where + ".dangerouslyAllowInsecureHttp");
  p.api_key = expand_key(prov.api_key.value_or(""));
  if (p.api_key.empty()) {
    if (const char* e = std::getenv(provider_key_variable(p.id).c_str())) p.api_key = e;
  }
  p.max_tokens = defaults.max_tokens;
  return p;
}

std::optional<ProviderConfig> resolve_model(const Json& config) {
  return resolve_model(parse_agent_config(config));
}

std::vector<uint16_t> provider_ports(const cfg::Config& config) {
  std::vector<uint16_t> ports;
  auto add = [&ports](const std::string& url) {
    const uint16_t p = sandbox::url_port(url);
    if (p && std::find(ports.begin(), ports.end(), p) == ports.end()) ports.push_back(p);
  };
  if (auto model = resolve_model(config)) add(model->base_url);
  for (const auto& [id, prov] : config.models.providers)
    if (prov.base_url) add(*prov.base_url);
  return ports;
}

std::vector<uint16_t> provider_ports(const Json& config) {
  return provider_ports(parse_agent_config(config));
}

struct ModelStream::Parser {
  explicit Parser(ModelStream* s)
      : sse([s](const std::string& ev, const std::string& data) { s->on_event(ev, data); }) {}
  SseParser sse;
};

ModelStream::ModelStream(const ProviderConfig& p, std::unique_ptr<HttpClient> http,
                         std::vector<ChatTurn> turns, std::string system_prompt, Callbacks cb,
                         std::vector<ToolSpec> tools)
    : p_(p),
      turns_(std::move(turns)),
      system_(std::move(system_prompt)),
      tools_(std::move(tools)),
      cb_(std::move(cb)),
      http_(std::move(http)),
      anthropic_(p.api == "anthropic-messages"),
      decoder_(anthropic_),
      parser_(std::make_unique<Parser>(this)) {}

ModelStream::~ModelStream() {
  cancel();
}

void ModelStream::start() {
  // A window may hold thousands of turns: their texts are moved into the body, not copied (a
  // stream starts once; a retry is a new ModelStream with its own turns).
  HttpClient::Headers headers;
  std::string path;
  Json body;
  if (anthropic_) {
    body = anthropic_body(p_, std::move(turns_), system_, tools_);
    headers = {{"x-api-key", p_.api_key}, {"anthropic-version", "2023-06-01"}};
    path = "/v1/messages";
  } else {
    body = openai_body(p_, std::move(turns_), system_, tools_);
    if (!p_.api_key.empty()) headers = {{"authorization", "Bearer " + p_.api_key}};
    path = "/chat/completions";
  }
  http_->post_stream(
      path, body.dump(-1, ' ', false, Json::error_handler_t::replace), headers, kIdleTimeoutMs,
      [this](std::string_view chunk) {
        parser_->sse.feed(chunk);
        if (parser_->sse.error() && !finished_) {
          stream_error_ = RunError{ipc::ErrorCode::UNAVAILABLE,
                                   "model stream: an event exceeded 1 MiB", false, 0};
          http_->cancel();
        }
      },
      [this](HttpResponse r) {
        if (finished_) return;
        if (stream_error_) return finish(stream_error_);  // we cut a stream that reported one
        if (r.status / 100 != 2 || !r.error.empty())
          return finish(http_error(r.status, r.body, r.error));
        finish(std::nullopt);  // the stream ended; [DONE]/message_stop already seen or not
      });
}

namespace {

// Fields read only when they have the type the provider documents: a provider, or a proxy in
// front of one, that sends another type must not take the worker down (nlohmann's value() and
// operator[] throw on a type mismatch, and nothing catches inside the HTTP read callback).
const Json& object_at(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  if (!j.is_object()) return kEmpty;
  const auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::string string_at(const Json& j, const char* key, const std::string& fallback = "") {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// A token count: an integer in [0, INT_MAX] (larger ones are clamped), else `fallback`.
int count_at(const Json& j, const char* key, int fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  if (it->is_number_unsigned())
    return static_cast<int>(std::min<uint64_t>(it->get<uint64_t>(), INT_MAX));
  return static_cast<int>(std::clamp<int64_t>(it->get<int64_t>(), 0, INT_MAX));
}

}  // namespace

StreamDecoder::Step StreamDecoder::on_event(const std::string& event, const std::string& data) {
  Step step;
  if (!anthropic_ && data == "[DONE]") return step;
  const Json j = Json::parse(data, nullptr, false);
  if (!j.is_object()) return step;  // keep-alive noise
  if (j.contains("error") || event == "error") {
    const Json err = j.contains("error") ? j["error"] : Json::object();
    step.error = err.is_object() ? string_at(err, "message", err.dump()) : err.dump();
    return step;
  }
  if (anthropic_) {
    anthropic_event(j, event, step);
  } else {
    openai_event(j, step);
  }
  return step;
}

void StreamDecoder::anthropic_event(const Json& j, const std::string& event, Step& step) {
  const std::string type = string_at(j, "type", event);
  const auto index = [&j]() -> int64_t {
    const auto it = j.find("index");
    return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
  };
  if (type == "content_block_delta") {
    const Json& d = object_at(j, "delta");
    const std::string kind = string_at(d, "type");
    if (kind == "text_delta") step.delta = string_at(d, "text");
    if (kind == "input_json_delta") tools_.anthropic_delta(index(), string_at(d, "partial_json"));
  } else if (type == "content_block_start") {
    tools_.anthropic_start(index(), object_at(j, "content_block"));
  } else if (type == "message_start") {
    in_tokens_ = count_at(object_at(object_at(j, "message"), "usage"), "input_tokens", 0);
  } else if (type == "message_delta") {
    out_tokens_ = count_at(object_at(j, "usage"), "output_tokens", out_tokens_);
  }
}

void StreamDecoder::openai_event(const Json& j, Step& step) {
  const auto choices = j.find("choices");
  if (choices != j.end() && choices->is_array() && !choices->empty()) {
    const Json& delta = object_at((*choices)[0], "delta");
    step.delta = string_at(delta, "content");
    const auto calls = delta.find("tool_calls");
    if (calls != delta.end() && calls->is_array())
      for (const Json& entry : *calls) tools_.openai_fragment(entry);
  }
  const Json& usage = object_at(j, "usage");
  in_tokens_ = count_at(usage, "prompt_tokens", in_tokens_);
  out_tokens_ = count_at(usage, "completion_tokens", out_tokens_);
}

void ModelStream::on_event(const std::string& event, const std::string& data) {
  if (finished_) return;
  StreamDecoder::Step step = decoder_.on_event(event, data);
  if (step.error) {
    stream_error_ =
        RunError{ipc::ErrorCode::UNAVAILABLE, "model stream failed: " + *step.error, !streamed_, 0};
    http_->cancel();  // completes through the done callback above, with stream_error_
    return;
  }
  if (!step.delta.empty()) {
    streamed_ = true;
    cb_.on_delta(step.delta);
  }
}

void ModelStream::finish(std::optional<RunError> e) {
  if (finished_) return;
  finished_ = true;
  if (e && streamed_) e->retryable = false;  // text already went out: no silent retry
  StreamEnd end;
  end.input_tokens = decoder_.input_tokens();
  end.output_tokens = decoder_.output_tokens();
  if (!e) {
    end.tool_calls = decoder_.tool_calls().calls();
    end.too_many_calls = decoder_.tool_calls().overflow();
  }
  if (cb_.on_done) cb_.on_done(std::move(e), std::move(end));
}

void ModelStream::cancel() {
  finished_ = true;
  if (http_) http_->cancel();
}

std::unique_ptr<HttpClient> ModelStream::take_http() {
  cancel();  // a stream still going is cut; a finished one keeps its idle connection
  return std::move(http_);
}

}  // namespace clawgate::workers
