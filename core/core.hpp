// Core: the gateway's state and routing as one object a front drives. It owns the session store
// (the one writer of transcripts and of the sessions index), the channel hub (workers, inbound
// policy, the durable outbound queue), the runs and cron, and routes between them: a channel
// message that passed its policy starts a run in its session, whose answer the hub delivers
// back to the chat. It knows nothing of WebSockets or of any particular channel; what clients
// should hear goes out through an EventSink.
// Fails: the constructor throws std::exception when the state directory cannot be used; after
// that every method error is a Reply and nothing throws into the loop.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "clock.hpp"
#include "config.hpp"
#include "core/channels.hpp"
#include "core/cron.hpp"
#include "core/runs.hpp"
#include "core/sessions.hpp"
#include "log.hpp"
#include "protocol_gen.hpp"

namespace clawgate::core {

// Where the core's news for clients goes (the front's event broadcaster).
class EventSink {
 public:
  virtual ~EventSink() = default;
  // An event for every client allowed to see it; `droppable` ones may skip slow clients.
  virtual void emit(const std::string& event, const Json& payload, bool droppable) = 0;
  // A tool-stream `agent` event: only for clients that asked for tool events (caps
  // "tool-events", as upstream sends them).
  virtual void emit_tool_event(const Json& payload) = 0;
  virtual void heartbeat_changed(const Json& heartbeat) = 0;
  virtual void channels_changed() = 0;  // channel/worker status changed: health is stale
};

class Core final : private InboundSink {
 public:
  Core(boost::asio::io_context& io, const Clock& clock, Logger& log,
       const GatewaySettings& settings, EventSink& sink);
  ~Core() override;
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Cron and heartbeat timers, and the sessions index written at most once per
  // SessionStore::kIndexSaveMs.
  void start();
  // Writes what is pending (the sessions index); the loop may stop after this.
  void flush();

  // The protocol methods the core serves (send, channels.*, agent, agent.wait, chat.*,
  // sessions.*, cron.*).
  static bool serves(schema::Method m);
  // Serves one of them, params already validated against its schema. `reply` may run now or
  // later, and more than once (agent); a method serves() does not list is answered
  // UNAVAILABLE.
  void call(schema::Method m, const Json& params, const ReplyFn& reply);

  // A worker's data link handed over by the supervisor: the agent's, or a channel account's.
  void attach_peer(int fd, const std::string& name, const std::string& channel,
                   const std::string& account_id, uint32_t generation);

  // What the agent's tools reach (the front's nodes); nullptr: no tools are offered.
  void attach_tools(AgentTools* tools) { runs_.set_tools(tools); }

  ChannelHub& channels() { return hub_; }
  RunManager& runs() { return runs_; }
  SessionStore& sessions() { return sessions_; }

 private:
  void on_inbound(const SessionKey& session_key, const InboundMessage& m) override;
  bool turn_waits(const SessionKey& session_key) const override;
  void arm_index_flush();

  const Clock& clock_;
  Logger& log_;
  const GatewaySettings settings_;
  EventSink& sink_;
  SessionStore sessions_;
  ChannelHub hub_;
  RunManager runs_;
  CronService cron_;
  boost::asio::steady_timer index_timer_;
  bool index_armed_ = false;
};

}  // namespace clawgate::core
