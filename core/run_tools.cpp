// RunManager, tool rounds: what the agent worker asks the gateway to run for a model turn that
// called tools. Each round is written to the transcript (the assistant turn with its calls),
// each call shown as a tool `agent` event (start, then result), run through AgentTools and
// answered to the worker exactly once, its result written after it. See runs.hpp.
// Fails: a round for a run that is not going here (ended, aborted, another worker's) has every
// call answered with an error so the worker never waits; a transcript that cannot be written
// is logged (the run goes on: the answer still reaches the client); nothing throws.
#include <algorithm>

#include "core/node_registry.hpp"
#include "core/runs.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

// A call's arguments as events and the transcript show them: the JSON value, or the text when
// it is not JSON (the model's own mistake, which its error result explains).
Json shown_arguments(const std::string& text) {
  if (utf8::trim(text).empty()) return Json::object();
  auto j = parse_node_json(text);
  return j ? *j : Json(text);
}

std::string without_leading_space(const std::string& text) {
  const size_t i = text.find_first_not_of(" \t\r\n");
  return i == std::string::npos ? std::string() : text.substr(i);
}

}  // namespace

void RunManager::on_agent_tools(const AgentLink::ToolRound& round) {
  const uint32_t generation = agent_.generation();
  const auto it = runs_.find(round.run_id);
  Run* r = it == runs_.end() ? nullptr : it->second.get();
  if (!r || !r->sent || r->sent_generation != generation) {
    for (const auto& c : round.calls)
      agent_.send_tool_result(generation, round.run_id, c.call_id, true,
                              "the run is no longer active in the gateway");
    return;
  }
  if (!r->agent_delta.empty()) flush_delta(*r);  // the words before the calls come first
  record_round(*r, round);
  // start_call may end a call at once, which looks the run up again: by id, not by `r`.
  const std::string run_id = round.run_id;
  for (const auto& c : round.calls) {
    const auto again = runs_.find(run_id);
    if (again == runs_.end()) break;
    start_call(*again->second, c);
  }
}

void RunManager::record_round(Run& r, const AgentLink::ToolRound& round) {
  r.text_recorded = r.text.size();
  if (r.heartbeat) return;  // heartbeats stay out of the conversation
  Json calls = Json::array();
  for (const auto& c : round.calls)
    calls.push_back(
        {{"id", c.call_id}, {"name", c.name}, {"arguments", shown_arguments(c.arguments_json)}});
  Json line = {{"type", "message"},
               {"role", "assistant"},
               {"text", without_leading_space(round.text)},
               {"toolCalls", std::move(calls)},
               {"ts", clock_.wall_ms()},
               {"runId", r.id}};
  try {
    sessions_.append(r.session_key, std::move(line));
  } catch (const std::exception& e) {
    log_.warn("runs", "run " + r.id + ": tool calls not written to the transcript: " + e.what());
  }
}

void RunManager::start_call(Run& r, const AgentLink::ToolCall& call) {
  const uint32_t generation = r.sent_generation;
  tool_event(r, {{"phase", "start"},
                 {"name", call.name},
                 {"toolCallId", call.call_id},
                 {"args", shown_arguments(call.arguments_json)}});
  auto end_now = [&](std::string why) {
    end_call(r.id, generation, call.call_id, call.name, {true, std::move(why), ""});
  };
  if (++r.tool_calls > kMaxToolCallsPerRun)
    return end_now("this run made more than " + std::to_string(kMaxToolCallsPerRun) +
                   " tool calls; no more are run");
  if (call.refused) return end_now(call.refused->message);
  if (!tools_) return end_now("node tools are not available in this gateway");
  std::weak_ptr<bool> alive = alive_;
  tools_->call_node(call.node, r.session_key.str(),
                    [this, alive, run_id = r.id, generation, id = call.call_id,
                     name = call.name](const AgentTools::Outcome& o) {
                      if (alive.lock()) end_call(run_id, generation, id, name, o);
                    });
}

void RunManager::end_call(const std::string& run_id, uint32_t generation,
                          const std::string& call_id, const std::string& name,
                          const AgentTools::Outcome& o) {
  agent_.send_tool_result(generation, run_id, call_id, o.is_error, o.text);
  const auto it = runs_.find(run_id);
  if (it == runs_.end()) return;  // the run ended meanwhile: the worker has forgotten it too
  Run& r = *it->second;
  Json data = {{"phase", "result"},
               {"name", name},
               {"toolCallId", call_id},
               {"isError", o.is_error},
               {"result", {{"content", Json::array({{{"type", "text"}, {"text", o.text}}})}}}};
  if (!o.meta.empty()) data["meta"] = o.meta;
  tool_event(r, std::move(data));
  if (r.heartbeat) return;
  try {
    sessions_.append(r.session_key, {{"type", "message"},
                                     {"role", "toolResult"},
                                     {"toolCallId", call_id},
                                     {"toolName", name},
                                     {"text", o.text},
                                     {"isError", o.is_error},
                                     {"ts", clock_.wall_ms()},
                                     {"runId", run_id}});
  } catch (const std::exception& e) {
    log_.warn("runs",
              "run " + run_id + ": a tool result not written to the transcript: " + e.what());
  }
}

void RunManager::tool_event(Run& r, Json data) {
  Json ev = {{"runId", r.id},
             {"seq", ++r.seq},
             {"stream", "tool"},
             {"ts", clock_.wall_ms()},
             {"data", std::move(data)}};
  if (r.heartbeat) ev["isHeartbeat"] = true;
  if (tool_emit_) tool_emit_(ev);
}

}  // namespace clawgate::core
