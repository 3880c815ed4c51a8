// Core: see core.hpp.
#include "core/core.hpp"

#include "crypto.hpp"

namespace clawgate::core {

Core::Core(boost::asio::io_context& io, const Clock& clock, Logger& log,
           const GatewaySettings& settings, EventSink& sink)
    : clock_(clock),
      log_(log),
      settings_(settings),
      sink_(sink),
      sessions_(settings.state_dir),
      hub_(io, clock, log, settings, &sessions_, this),
      runs_(
          io, clock, log, sessions_, &hub_,
          [this](const std::string& event, const Json& payload, bool droppable) {
            sink_.emit(event, payload, droppable);
          },
          settings.queue, settings.history),
      cron_(
          io, clock, log, settings.state_dir, runs_,
          [this](const std::string& event, const Json& payload, bool droppable) {
            sink_.emit(event, payload, droppable);
          },
          settings.agent_config_json),
      index_timer_(io) {
  hub_.on_change = [this] { sink_.channels_changed(); };
  runs_.set_tool_events([this](const Json& payload) { sink_.emit_tool_event(payload); });
  cron_.on_heartbeat = [this](const Json& hb) { sink_.heartbeat_changed(hb); };
  sessions_.on_dirty = [this] { arm_index_flush(); };
}

Core::~Core() = default;

void Core::start() {
  cron_.start();
}

void Core::flush() {
  try {
    sessions_.flush();
  } catch (const std::exception& e) {
    log_.error("sessions", std::string("cannot write the sessions index: ") + e.what());
  }
}

// Armed when the index first changes after a write; an index that stays clean costs no wakeups.
void Core::arm_index_flush() {
  if (index_armed_) return;
  index_armed_ = true;
  index_timer_.expires_after(std::chrono::milliseconds(SessionStore::kIndexSaveMs));
  index_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // the core is going away
    index_armed_ = false;
    flush();
  });
}

namespace {
enum class Owner { none, channels, runs, cron };

// Each service's route table is the one list of its methods.
Owner owner(schema::Method m) {
  if (RunManager::serves(m)) return Owner::runs;
  if (ChannelHub::serves(m)) return Owner::channels;
  if (CronService::serves(m)) return Owner::cron;
  return Owner::none;
}
}  // namespace

bool Core::serves(schema::Method m) {
  return owner(m) != Owner::none;
}

void Core::call(schema::Method m, const Json& params, const ReplyFn& reply) {
  bool served = false;
  switch (owner(m)) {
    case Owner::channels:
      served = hub_.call(m, params, reply);
      break;
    case Owner::runs:
      served = runs_.call(m, params, reply);
      break;
    case Owner::cron:
      served = cron_.call(m, params, reply);
      break;
    case Owner::none:
      break;
  }
  if (!served)
    reply(Reply::unavailable("method not available: " + std::string(schema::method_name(m))));
}

void Core::attach_peer(int fd, const std::string& name, const std::string& channel,
                       const std::string& account_id, uint32_t generation) {
  if (channel == "agent") {
    runs_.attach_agent(fd, generation);
  } else {
    hub_.attach_worker(fd, name, channel, account_id, generation);
  }
}

// A channel message that passed its policy gets an answer, delivered back to its chat.
void Core::on_inbound(const SessionKey& session_key, const InboundMessage& m) {
  RunManager::Origin o;
  o.kind = ipc::RunKind::CHANNEL;
  o.channel = m.channel;
  o.account_id = m.account_id;
  o.to = m.chat_id;
  if (const ChannelSettings* c = find_account(settings_.channels, m.channel, m.account_id))
    o.context_limit = static_cast<size_t>(c->history_limit);
  // Named as upstream names senders in a collected turn: name, else username, else id.
  o.sender = !m.sender_name.empty()       ? m.sender_name
             : !m.sender_username.empty() ? m.sender_username
                                          : m.sender_id;
  o.entry = InboundRouter::transcript_entry(m, clock_.wall_ms());
  const std::string err = runs_.start(session_key, m.text, uuid_v4(), o);
  if (!err.empty()) log_.warn("runs", "no answer for " + m.channel + " message: " + err);
}

bool Core::turn_waits(const SessionKey& session_key) const {
  return runs_.turn_waits(session_key);
}

}  // namespace clawgate::core
