// AgentLink: see agent_link.hpp.
#include "core/agent_link.hpp"

#include <capnp/message.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "agent.capnp.h"
#include "contract.hpp"
#include "utf8.hpp"

namespace clawgate::core {

namespace {

std::string read(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}

// Fills a text field initialised to the view's size (a view need not end in a NUL, which
// setting it as a Text::Reader would require).
void fill(capnp::Text::Builder t, std::string_view v) {
  if (!v.empty()) std::memcpy(t.begin(), v.data(), v.size());
}

unsigned size_of(std::string_view v) {
  return static_cast<unsigned>(v.size());
}

// What a run that failed says went wrong ("" when it did not fail).
std::string done_error(ipc::RunDone::Reader d) {
  if (d.getOk() || d.getAborted()) return "";
  std::string error = d.hasError() ? read(d.getError().getMessage()) : "";
  return error.empty() ? "the run failed" : error;
}

AgentLink::Done read_done(ipc::RunDone::Reader d) {
  AgentLink::Done out;
  out.run_id = read(d.getRunId());
  out.ok = d.getOk();
  out.aborted = d.getAborted();
  out.text = read(d.getText());
  out.error = done_error(d);
  out.model = read(d.getModel());
  return out;
}

// The caller has checked the origin's kind.
AgentLink::Resume read_resume(ipc::RunResume::Reader rs) {
  AgentLink::Resume out;
  out.run_id = read(rs.getRunId());
  out.session_key = read(rs.getSessionKey());
  if (rs.hasOrigin()) {
    auto o = rs.getOrigin();
    out.origin = AgentLink::Origin{o.getKind(), read(o.getChannel()), read(o.getAccountId()),
                                   read(o.getTo()), o.getStartedAtMs()};
  }
  out.heartbeat = rs.getIsHeartbeat();
  out.text = read(rs.getText());
  if (rs.getEnded() && rs.hasDone()) out.done = read_done(rs.getDone());
  return out;
}

}  // namespace

AgentLink::AgentLink(boost::asio::io_context& io, Logger& log, Listener& listener)
    : io_(io), log_(log), listener_(listener) {}

void AgentLink::attach(int fd, uint32_t generation) {
  if (link_) link_->close("replaced");
  generation_ = generation;
  hello_ = false;
  link_ = ipc::Link::create(io_, fd, ipc::contract::agent_link("agent"));
  link_->start([this](capnp::MessageReader& m) { on_message(m); },
               [this, generation](const std::string& reason) { on_closed(generation, reason); });
  log_.info("runs", "agent link up (generation " + std::to_string(generation) + ")");
}

void AgentLink::close(const std::string& reason) {
  if (link_) link_->close(reason);
}

void AgentLink::on_closed(uint32_t generation, const std::string& reason) {
  if (generation == generation_) {
    link_.reset();
    hello_ = false;
  }
  listener_.on_agent_lost(generation, reason);
}

void AgentLink::on_message(capnp::MessageReader& m) {
  auto msg = m.getRoot<ipc::AgentMsg>();
  switch (msg.which()) {
    case ipc::AgentMsg::HELLO:
      hello_ = true;
      model_label_ = read(msg.getHello());
      log_.info("runs", "agent ready, model " + model_label_);
      return listener_.on_agent_hello();
    case ipc::AgentMsg::EVENT:
      return on_event(msg.getEvent());
    case ipc::AgentMsg::DONE:
      return listener_.on_agent_done(read_done(msg.getDone()));
    case ipc::AgentMsg::RESUME:
      return on_resume(msg.getResume());
    case ipc::AgentMsg::RESUMED:
      return listener_.on_agent_resumed();
    case ipc::AgentMsg::TOOL_ROUND:
      return on_tool_round(msg.getToolRound());
    default:  // Link closes the link as garbage
      throw std::runtime_error("unexpected message from the agent worker");
  }
}

void AgentLink::on_event(ipc::RunEvent::Reader ev) {
  const std::string run_id = read(ev.getRunId());
  std::string why;
  if (!ipc::name_of(ev.getStream())) why = ipc::unknown_value("stream", ev.getStream());
  if (!ipc::name_of(ev.getPhase())) why = ipc::unknown_value("phase", ev.getPhase());
  if (!why.empty()) {
    log_.warn("runs", "agent event of run " + utf8::preview(run_id, 64) + " refused: " + why);
    return;
  }
  listener_.on_agent_event(Event{run_id, ev.getStream(), ev.getPhase(), read(ev.getDelta())});
}

void AgentLink::on_resume(ipc::RunResume::Reader rs) {
  if (rs.hasOrigin() && !ipc::name_of(rs.getOrigin().getKind())) {
    const std::string run_id = read(rs.getRunId());
    log_.warn("runs", "agent resumed run " + utf8::preview(run_id, 64) + " refused: " +
                          ipc::unknown_value("origin kind", rs.getOrigin().getKind()));
    // Told as any run this front cannot adopt, so the worker does not offer it again.
    return rs.getEnded() ? ack_done(run_id) : abort(run_id);
  }
  listener_.on_agent_resume(read_resume(rs));
}

namespace {

std::string within(capnp::Text::Reader t, size_t max, const char* what) {
  return ipc::contract::text_within(t.cStr(), t.size(), max, what);
}

AgentLink::ToolCall read_tool_call(ipc::ToolCall::Reader c) {
  namespace t = ipc::contract::tools;
  AgentLink::ToolCall out;
  out.call_id = within(c.getCallId(), t::kMaxIdBytes, "tool call id");
  out.name = utf8::repair(within(c.getName(), t::kMaxIdBytes, "tool name"));
  out.arguments_json =
      utf8::repair(within(c.getArgumentsJson(), t::kMaxArgumentsBytes, "arguments"));
  if (c.isRefused()) {
    out.refused = ipc::read_error(c.getRefused());
    return out;
  }
  if (!c.isNode()) {  // a union member this build does not know
    out.refused = Error::invalid("the agent worker sent a tool call this gateway cannot read");
    return out;
  }
  auto n = c.getNode();
  if (!ipc::name_of(n.getAction())) {
    out.refused = Error::invalid(ipc::unknown_value("node tool action", n.getAction()));
    return out;
  }
  out.node.action = n.getAction();
  out.node.node = utf8::repair(within(n.getNode(), t::kMaxIdBytes, "node"));
  out.node.command = utf8::repair(within(n.getCommand(), t::kMaxIdBytes, "command"));
  out.node.params_json = within(n.getParamsJson(), t::kMaxParamsBytes, "params");
  out.node.timeout_ms = n.getTimeoutMs();
  return out;
}

void fill_offers(ipc::RunRequest::Builder run, const std::vector<AgentLink::NodeOffer>& nodes) {
  const size_t n = std::min(nodes.size(), ipc::contract::lists::kNodeOffers);
  auto list = run.initNodes(static_cast<unsigned>(n));
  for (unsigned i = 0; i < n; ++i) {
    const AgentLink::NodeOffer& o = nodes[i];
    list[i].setNodeId(o.node_id);
    list[i].setDisplayName(o.display_name);
    list[i].setPlatform(o.platform);
    const size_t m = std::min(o.commands.size(), ipc::contract::lists::kNodeCommands);
    auto commands = list[i].initCommands(static_cast<unsigned>(m));
    for (unsigned j = 0; j < m; ++j) commands.set(j, o.commands[j]);
  }
}

}  // namespace

void AgentLink::on_tool_round(ipc::ToolRound::Reader tr) {
  namespace t = ipc::contract::tools;
  ToolRound round;
  round.run_id = within(tr.getRunId(), t::kMaxRunIdBytes, "tool round run id");
  round.round = tr.getRound();
  round.text = utf8::repair(within(tr.getText(), t::kMaxRoundTextBytes, "tool round text"));
  const auto calls =
      ipc::contract::bounded(tr.getCalls(), ipc::contract::lists::kToolCalls, "tool calls");
  for (auto c : calls) round.calls.push_back(read_tool_call(c));
  listener_.on_agent_tools(round);
}

void AgentLink::send_tool_result(uint32_t generation, std::string_view run_id,
                                 std::string_view call_id, bool is_error, std::string_view text) {
  if (!link_ || generation != generation_) return;
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<ipc::AgentMsg>().initToolResult();
  fill(r.initRunId(size_of(run_id)), run_id);
  fill(r.initCallId(size_of(call_id)), call_id);
  r.setIsError(is_error);
  fill(r.initText(size_of(text)), text);
  link_->send(b);
}

bool AgentLink::send_run(const Request& rq) {
  if (!link_) return false;
  capnp::MallocMessageBuilder b;
  auto run = b.initRoot<ipc::AgentMsg>().initRun();
  fill(run.initRunId(size_of(rq.run_id)), rq.run_id);
  fill(run.initSessionKey(size_of(rq.session_key)), rq.session_key);
  run.setIsHeartbeat(rq.heartbeat);
  run.setTimeoutMs(rq.timeout_ms);
  if (rq.summarize) {
    run.setSummarize(true);
    fill(run.initPreviousSummary(size_of(rq.previous_summary)), rq.previous_summary);
  }
  if (rq.origin) {  // handed back by the worker if this front dies before the run ends
    auto o = run.initOrigin();
    o.setKind(rq.origin->kind);
    o.setChannel(rq.origin->channel);
    o.setAccountId(rq.origin->account_id);
    o.setTo(rq.origin->to);
    o.setStartedAtMs(rq.origin->started_at_ms);
  }
  if (!rq.nodes.empty()) fill_offers(run, rq.nodes);
  auto msgs = run.initMessages(static_cast<unsigned>(rq.messages.size()));
  for (unsigned i = 0; i < rq.messages.size(); ++i) {
    msgs[i].setRole(rq.messages[i].role);
    fill(msgs[i].initText(size_of(rq.messages[i].text)), rq.messages[i].text);
  }
  return link_->send(b);
}

void AgentLink::abort(std::string_view run_id) {
  if (!link_) return;
  capnp::MallocMessageBuilder b;
  fill(b.initRoot<ipc::AgentMsg>().initAbort(size_of(run_id)), run_id);
  link_->send(b);
}

void AgentLink::ack_done(std::string_view run_id) {
  if (!link_) return;
  capnp::MallocMessageBuilder b;
  fill(b.initRoot<ipc::AgentMsg>().initDoneAck(size_of(run_id)), run_id);
  link_->send(b);
}

}  // namespace clawgate::core
