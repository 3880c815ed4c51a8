// AgentLink: the front's end of its link to the agent worker (agent.capnp), one link at a time:
// the supervisor hands over a new one (a new generation) whenever the worker restarts, and the
// new one replaces the old. It turns RunManager's requests into messages and the worker's
// messages into plain structs for its Listener, so Cap'n Proto stays in agent_link.cpp; what
// the messages mean (ending a run, adopting a resumed one) is the listener's business
// (runs.hpp). The enums of agent.capnp cross as they are; their words are ipc/names.hpp's.
// Fails: a message it cannot read (a union member the front never receives) closes the link as
// garbage, and the listener hears of the loss as of any other. A message carrying an enum value
// this build does not know is refused, logged, and never reaches the listener: an event is
// dropped (the run's text comes whole with its done), a resume is answered as one that cannot
// be adopted (abort, or doneAck when it has ended), so the worker does not offer it again. Sends
// on a link that is down return false or do nothing (the loss is reported once, by
// on_agent_lost). A tool round past the link's bounds (contract::lists::kToolCalls calls, the
// contract::tools text sizes) closes the link as garbage; a call whose action this build does
// not know reaches the listener as refused.
#pragma once
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "link.hpp"
#include "log.hpp"
#include "names.hpp"

namespace clawgate::core {

class AgentLink {
 public:
  // What a run answers, as the front that started it knew it; handed back in a resume.
  struct Origin {
    ipc::RunKind kind = ipc::RunKind::CHAT;
    std::string channel, account_id, to;
    int64_t started_at_ms = 0;  // wall clock
  };
  struct Message {
    ipc::ChatRole role;
    std::string_view text;
  };
  // A connected node the run's model may use (core/node_tools.hpp).
  struct NodeOffer {
    std::string node_id, display_name, platform;
    std::vector<std::string> commands;
  };
  // A run (or, `summarize`, a compaction) for the worker. The views must outlive send_run().
  struct Request {
    std::string_view run_id, session_key;
    bool heartbeat = false;
    std::optional<Origin> origin;
    bool summarize = false;
    std::string_view previous_summary;
    uint32_t timeout_ms = 0;  // 0: the worker's default
    std::vector<Message> messages;
    std::vector<NodeOffer> nodes;  // the node tools to offer (none: no tools)
  };
  // A node command the model asked for (agent.capnp NodeToolRequest).
  struct NodeRequest {
    ipc::NodeToolAction action = ipc::NodeToolAction::STATUS;
    std::string node, command, params_json;
    uint32_t timeout_ms = 0;
  };
  struct ToolCall {
    std::string call_id, name, arguments_json;
    std::optional<Error> refused;  // the worker could not read it: answer with this
    NodeRequest node;              // else: run this
  };
  // One model turn's tool calls (agent.capnp ToolRound).
  struct ToolRound {
    std::string run_id;
    uint32_t round = 0;
    std::string text;
    std::vector<ToolCall> calls;
  };
  struct Done {
    std::string run_id;
    bool ok = false, aborted = false;
    std::string text;
    std::string error;  // what went wrong; "" unless it failed (neither ok nor aborted)
    std::string model;
  };
  struct Event {
    std::string run_id;
    ipc::RunStream stream = ipc::RunStream::LIFECYCLE;
    ipc::RunPhase phase = ipc::RunPhase::NONE;  // lifecycle: which
    std::string delta;                          // assistant: what this event added
  };
  // A run the worker still has from before this link came up.
  struct Resume {
    std::string run_id, session_key;
    std::optional<Origin> origin;
    bool heartbeat = false;
    std::string text;          // the answer so far
    std::optional<Done> done;  // set when the run is over
  };

  class Listener {
   public:
    virtual void on_agent_hello() = 0;  // the link is ready: runs may go
    virtual void on_agent_event(const Event& e) = 0;
    virtual void on_agent_done(const Done& d) = 0;
    virtual void on_agent_resume(const Resume& r) = 0;
    virtual void on_agent_resumed() = 0;                      // after the last resume
    virtual void on_agent_tools(const ToolRound& round) = 0;  // answer each call once
    // The link of `generation` is gone (a replacement may already be attached).
    virtual void on_agent_lost(uint32_t generation, const std::string& reason) = 0;

   protected:
    ~Listener() = default;
  };

  AgentLink(boost::asio::io_context& io, Logger& log, Listener& listener);
  AgentLink(const AgentLink&) = delete;
  AgentLink& operator=(const AgentLink&) = delete;

  void attach(int fd, uint32_t generation);
  void close(const std::string& reason);
  // Up and said hello: runs may be sent.
  bool ready() const { return link_ && link_->is_open() && hello_; }
  uint32_t generation() const { return generation_; }
  const std::string& model_label() const { return model_label_; }

  bool send_run(const Request& rq);  // false: the link refused it (it is going away)
  void abort(std::string_view run_id);
  void ack_done(std::string_view run_id);  // its outcome is stored: the worker may forget it
  // A tool call's result, to the worker of `generation` only (a later one never asked).
  void send_tool_result(uint32_t generation, std::string_view run_id, std::string_view call_id,
                        bool is_error, std::string_view text);

 private:
  void on_message(capnp::MessageReader& m);
  void on_event(ipc::RunEvent::Reader ev);
  void on_resume(ipc::RunResume::Reader rs);
  void on_tool_round(ipc::ToolRound::Reader tr);
  void on_closed(uint32_t generation, const std::string& reason);

  boost::asio::io_context& io_;
  Logger& log_;
  Listener& listener_;
  std::shared_ptr<ipc::Link> link_;
  uint32_t generation_ = 0;
  bool hello_ = false;
  std::string model_label_ = "unknown";
};

// A transcript turn's role on the link (history.hpp keeps "user" and "assistant" only).
inline ipc::ChatRole turn_role(std::string_view role) {
  return role == "assistant" ? ipc::ChatRole::ASSISTANT : ipc::ChatRole::USER;
}

}  // namespace clawgate::core
