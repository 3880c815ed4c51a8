// Model request bodies: see request_body.hpp.
#include "request_body.hpp"

namespace clawgate::workers {

using Json = nlohmann::json;

namespace {

Json text_message(std::string role, std::string text) {
  Json m = Json::object();
  m["role"] = std::move(role);
  m["content"] = std::move(text);
  return m;
}

Json openai_assistant(ChatTurn&& t) {
  Json m = Json::object();
  m["role"] = "assistant";
  // With calls and no words, content is null (as OpenAI itself answers).
  m["content"] = t.text.empty() ? Json() : Json(std::move(t.text));
  Json calls = Json::array();
  for (auto& c : t.tool_calls)
    calls.push_back({{"id", std::move(c.id)},
                     {"type", "function"},
                     {"function",
                      {{"name", std::move(c.name)},
                       {"arguments", c.arguments.empty() ? "{}" : std::move(c.arguments)}}}});
  m["tool_calls"] = std::move(calls);
  return m;
}

// The input a tool_use block must carry: the arguments if they are a JSON object, else {}.
Json anthropic_input(const std::string& arguments) {
  if (!nesting_within(arguments, 64)) return Json::object();
  Json j = Json::parse(arguments, nullptr, false);
  return j.is_object() ? j : Json::object();
}

Json anthropic_assistant(ChatTurn&& t) {
  Json content = Json::array();
  if (!t.text.empty()) content.push_back({{"type", "text"}, {"text", std::move(t.text)}});
  for (auto& c : t.tool_calls)
    content.push_back({{"type", "tool_use"},
                       {"id", std::move(c.id)},
                       {"name", std::move(c.name)},
                       {"input", anthropic_input(c.arguments)}});
  return {{"role", "assistant"}, {"content", std::move(content)}};
}

Json anthropic_result(ChatTurn&& t) {
  Json r = {{"type", "tool_result"},
            {"tool_use_id", std::move(t.tool_call_id)},
            {"content", std::move(t.text)}};
  if (t.is_error) r["is_error"] = true;
  return r;
}

}  // namespace

Json openai_body(const ProviderConfig& p, std::vector<ChatTurn>&& turns, const std::string& system,
                 const std::vector<ToolSpec>& tools) {
  Json msgs = Json::array();
  msgs.get_ref<Json::array_t&>().reserve(turns.size() + 1);
  if (!system.empty()) msgs.push_back(text_message("system", system));
  for (auto& t : turns) {
    if (t.role == "assistant" && !t.tool_calls.empty()) {
      msgs.push_back(openai_assistant(std::move(t)));
    } else if (t.role == "tool") {
      msgs.push_back({{"role", "tool"},
                      {"tool_call_id", std::move(t.tool_call_id)},
                      {"content", std::move(t.text)}});
    } else {
      msgs.push_back(text_message(std::move(t.role), std::move(t.text)));
    }
  }
  Json body = {{"model", p.model}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  body["messages"] = std::move(msgs);
  if (!tools.empty()) {
    Json list = Json::array();
    for (const auto& tool : tools)
      list.push_back({{"type", "function"},
                      {"function",
                       {{"name", tool.name},
                        {"description", tool.description},
                        {"parameters", tool.parameters}}}});
    body["tools"] = std::move(list);
  }
  return body;
}

Json anthropic_body(const ProviderConfig& p, std::vector<ChatTurn>&& turns,
                    const std::string& system, const std::vector<ToolSpec>& tools) {
  Json msgs = Json::array();
  msgs.get_ref<Json::array_t&>().reserve(turns.size());
  for (auto& t : turns) {
    if (t.role == "assistant" && !t.tool_calls.empty()) {
      msgs.push_back(anthropic_assistant(std::move(t)));
    } else if (t.role == "tool") {
      // The results of one round go together, in one user message after the calls.
      const bool joins = !msgs.empty() && msgs.back()["role"] == "user" &&
                         msgs.back()["content"].is_array() && !msgs.back()["content"].empty() &&
                         msgs.back()["content"].back().value("type", "") == "tool_result";
      if (!joins) msgs.push_back({{"role", "user"}, {"content", Json::array()}});
      msgs.back()["content"].push_back(anthropic_result(std::move(t)));
    } else if (t.role == "user" || t.role == "assistant") {
      msgs.push_back(text_message(std::move(t.role), std::move(t.text)));
    }
  }
  Json body = {{"model", p.model}, {"max_tokens", p.max_tokens}, {"stream", true}};
  body["messages"] = std::move(msgs);
  if (!system.empty()) body["system"] = system;
  if (!tools.empty()) {
    Json list = Json::array();
    for (const auto& tool : tools)
      list.push_back({{"name", tool.name},
                      {"description", tool.description},
                      {"input_schema", tool.parameters}});
    body["tools"] = std::move(list);
  }
  return body;
}

}  // namespace clawgate::workers
