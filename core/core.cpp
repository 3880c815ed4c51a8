// Core: see core.hpp.
#include "core/core.hpp"

#include "crypto.hpp"

namespace clawgate::core {

Core::Core(boost::asio::io_context& io, const Clock& clock, Logger& log,
           const GatewaySettings& settings, EventSink& sink)
    : io_(io),
      clock_(clock),
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
          settings.queue),
      cron_(
          io, clock, log, settings.state_dir, runs_,
          [this](const std::string& event, const Json& payload, bool droppable) {
            sink_.emit(event, payload, droppable);
          },
          settings.agent_config_json),
      index_timer_(io) {
  hub_.on_change = [this] { sink_.channels_changed(); };
  cron_.on_heartbeat = [this](const Json& hb) { sink_.heartbeat_changed(hb); };
}

Core::~Core() = default;

void Core::start() {
  cron_.start();
  arm_index_flush();
}

void Core::flush() {
  try {
    sessions_.flush();
  } catch (const std::exception& e) {
    log_.error("sessions", std::string("cannot write the sessions index: ") + e.what());
  }
}

void Core::arm_index_flush() {
  index_timer_.expires_after(std::chrono::milliseconds(SessionStore::kIndexSaveMs));
  index_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    flush();
    arm_index_flush();
  });
}

bool Core::call(const std::string& method, const Json& params, const HubCallback& reply) {
  if (method == "send" || method.rfind("channels.", 0) == 0) {
    hub_.call(method, params, reply);
    return true;
  }
  return runs_.call(method, params, reply) || cron_.call(method, params, reply);
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
void Core::on_inbound(const std::string& session_key, const InboundMessage& m) {
  RunManager::Origin o;
  o.kind = "channel";
  o.channel = m.channel;
  o.account_id = m.account_id;
  o.to = m.chat_id;
  for (const auto& c : settings_.channels)
    if (c.name == m.channel) o.context_limit = static_cast<size_t>(c.history_limit);
  // Named as upstream names senders in a collected turn: name, else username, else id.
  o.sender = !m.sender_name.empty()       ? m.sender_name
             : !m.sender_username.empty() ? m.sender_username
                                          : m.sender_id;
  o.entry = InboundRouter::transcript_entry(m, clock_.wall_ms());
  const std::string err = runs_.start(session_key, m.text, uuid_v4(), o);
  if (!err.empty()) log_.warn("runs", "no answer for " + m.channel + " message: " + err);
}

bool Core::turn_waits(const std::string& session_key) const {
  return runs_.turn_waits(session_key);
}

}  // namespace clawgate::core
