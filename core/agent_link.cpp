// AgentLink: see agent_link.hpp.
#include "core/agent_link.hpp"

#include <capnp/message.h>

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
