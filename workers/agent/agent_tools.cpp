// AgentWorker, tool rounds: the nodes a run may use (from its request), a model turn that asked
// for tools sent to the front as a ToolRound, the results it answers with, and the next model
// turn once every call has one. See agent_worker.hpp.
// Fails: a result for a run or call this worker is not waiting for is ignored (late, or for a
// run that ended); a result over the link's text bounds closes the link as garbage (Link).
#include <capnp/message.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <set>

#include "agent_worker.hpp"
#include "contract.hpp"
#include "utf8.hpp"

namespace clawgate::workers {

namespace contract = ipc::contract;

namespace {

std::string cut(capnp::Text::Reader t, size_t max) {
  return std::string(t.cStr(), utf8::cut_bytes({t.cStr(), t.size()}, max));
}

// What the front is asked to run for one call, or why it cannot be.
Result<NodeCall> read_call(const ToolCall& c) {
  if (c.oversized)
    return Error::invalid("the arguments passed " +
                          std::to_string(contract::tools::kMaxArgumentsBytes >> 10) +
                          " KiB; nothing was run");
  if (c.name != kNodesToolName)
    return Error::invalid("unknown tool \"" + utf8::preview(c.name, 64) +
                          "\" (the tools are: " + kNodesToolName + ")");
  return read_nodes_call(c.arguments);
}

// Ids the round can be answered by: a call without one, or repeating one, gets its own.
void unique_ids(std::vector<ToolCall>& calls, uint32_t round) {
  std::set<std::string> seen;
  for (size_t i = 0; i < calls.size(); ++i) {
    ToolCall& c = calls[i];
    if (c.id.empty() || seen.count(c.id))
      c.id = "call_" + std::to_string(round) + "_" + std::to_string(i);
    seen.insert(c.id);
    c.name = utf8::repair(c.name);
  }
}

}  // namespace

std::vector<NodeOffer> AgentWorker::read_offers(ipc::RunRequest::Reader rq) {
  std::vector<NodeOffer> out;
  if (!rq.hasNodes()) return out;
  for (auto n : contract::bounded(rq.getNodes(), contract::lists::kNodeOffers, "node offers")) {
    NodeOffer o;
    o.node_id = cut(n.getNodeId(), contract::tools::kMaxIdBytes);
    o.display_name = cut(n.getDisplayName(), contract::tools::kMaxIdBytes);
    o.platform = cut(n.getPlatform(), 64);
    for (auto c : contract::bounded(n.getCommands(), contract::lists::kNodeCommands, "commands"))
      o.commands.push_back(cut(c, contract::tools::kMaxIdBytes));
    if (!o.node_id.empty() && !o.commands.empty()) out.push_back(std::move(o));
  }
  return out;
}

void AgentWorker::tool_round(const std::shared_ptr<Run>& run, StreamEnd end) {
  if (end.too_many_calls) {
    const RunError e{ipc::ErrorCode::UNAVAILABLE,
                     "the model asked for more than " +
                         std::to_string(contract::lists::kToolCalls) + " tool calls in one turn",
                     false, 0};
    return finish(run, false, false, &e, run->in_tokens, run->out_tokens);
  }
  if (run->rounds >= max_tool_rounds_) {
    const RunError e{ipc::ErrorCode::UNAVAILABLE,
                     "the model was still calling tools after " + std::to_string(max_tool_rounds_) +
                         " rounds (agents.defaults.maxToolRounds); the run was stopped",
                     false, 0};
    return finish(run, false, false, &e, run->in_tokens, run->out_tokens);
  }
  ++run->rounds;
  unique_ids(end.tool_calls, run->rounds);
  ChatTurn asked;
  asked.role = "assistant";
  asked.text = run->text.substr(std::min(run->round_from, run->text.size()));
  asked.tool_calls = end.tool_calls;
  send_round(*run, end.tool_calls, asked.text);
  run->turns.push_back(std::move(asked));
  uint32_t longest = 0;
  for (const auto& c : end.tool_calls) {
    const auto call = read_call(c);
    longest = std::max(longest, call && call->timeout_ms ? call->timeout_ms : kDefaultInvokeMs);
  }
  run->waiting = ToolWait{std::move(end.tool_calls), {}};
  arm_tool_timer(run, longest);
  // No front to run them (between fronts): the model hears so now, not at the timeout.
  if (!front_ || !front_->is_open()) give_up_calls(run, "the gateway is not reachable right now");
}

void AgentWorker::send_round(const Run& run, const std::vector<ToolCall>& calls,
                             const std::string& text) {
  capnp::MallocMessageBuilder b;
  auto round = b.initRoot<ipc::AgentMsg>().initToolRound();
  round.setRunId(run.id);
  round.setRound(run.rounds);
  round.setText(utf8::repair(text));
  auto list = round.initCalls(static_cast<unsigned>(calls.size()));
  for (unsigned i = 0; i < calls.size(); ++i) {
    const ToolCall& c = calls[i];
    auto out = list[i];
    out.setCallId(c.id);
    out.setName(c.name);
    out.setArgumentsJson(utf8::repair(c.arguments));
    auto call = read_call(c);
    if (!call) {
      ipc::write_error(call.error(), out.initRefused());
      continue;
    }
    auto node = out.initNode();
    node.setAction(call->action);
    node.setNode(call->node);
    node.setCommand(call->command);
    node.setParamsJson(call->params_json);
    node.setTimeoutMs(call->timeout_ms);
  }
  send(b);
}

void AgentWorker::arm_tool_timer(const std::shared_ptr<Run>& run, uint32_t longest_ms) {
  std::weak_ptr<Run> weak = run;
  run->tool_timer.expires_after(std::chrono::milliseconds(longest_ms + kToolGraceMs));
  run->tool_timer.async_wait([this, weak](const boost::system::error_code& ec) {
    auto r = weak.lock();
    if (ec || !r || r->finished || !r->waiting) return;
    give_up_calls(r, "no answer from the gateway in time");
  });
}

void AgentWorker::on_tool_result(ipc::ToolResult::Reader r) {
  namespace t = contract::tools;
  const std::string run_id = contract::text_within(r.getRunId().cStr(), r.getRunId().size(),
                                                   t::kMaxRunIdBytes, "tool result run id");
  const std::string call_id = contract::text_within(r.getCallId().cStr(), r.getCallId().size(),
                                                    t::kMaxIdBytes, "tool result call id");
  std::string text = contract::text_within(r.getText().cStr(), r.getText().size(),
                                           t::kMaxResultBytes, "tool result text");
  const auto it = running_.find(run_id);
  if (it == running_.end()) return;  // ended meanwhile (aborted, timed out)
  tool_answered(it->second, call_id, r.getIsError(), std::move(text));
}

void AgentWorker::tool_answered(const std::shared_ptr<Run>& run, const std::string& call_id,
                                bool is_error, std::string text) {
  if (run->finished || !run->waiting) return;
  ToolWait& w = *run->waiting;
  const bool known = std::any_of(w.calls.begin(), w.calls.end(),
                                 [&](const ToolCall& c) { return c.id == call_id; });
  if (!known || w.results.count(call_id)) return;  // not this round's, or answered already
  ChatTurn result;
  result.role = "tool";
  result.tool_call_id = call_id;
  result.text = utf8::repair(text);
  result.is_error = is_error;
  w.results.emplace(call_id, std::move(result));
  if (w.results.size() == w.calls.size()) next_turn(run);
}

void AgentWorker::give_up_calls(const std::shared_ptr<Run>& run, const std::string& why) {
  if (!run->waiting) return;
  std::vector<std::string> open;
  for (const auto& c : run->waiting->calls)
    if (!run->waiting->results.count(c.id)) open.push_back(c.id);
  log_.warn("agent", "run " + run->id + ": " + std::to_string(open.size()) +
                         " tool call(s) unanswered: " + why);
  for (const auto& id : open) tool_answered(run, id, true, why);
}

void AgentWorker::next_turn(const std::shared_ptr<Run>& run) {
  ToolWait w = std::move(*run->waiting);
  run->waiting.reset();
  run->tool_timer.cancel();
  // Results in the order of the calls, as both providers expect them.
  for (const auto& c : w.calls) run->turns.push_back(std::move(w.results.at(c.id)));
  run->round_from = run->text.size();
  run->fresh_turn = true;
  run->attempts = 0;
  // Not inside the link's read callback: the next stream starts on a clean stack.
  std::weak_ptr<Run> weak = run;
  boost::asio::post(io_, [this, weak] {
    auto r = weak.lock();
    if (r && !r->finished) attempt(r);
  });
}

}  // namespace clawgate::workers
