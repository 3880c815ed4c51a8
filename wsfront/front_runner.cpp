// Front runner: see front_runner.hpp.
#include "front_runner.hpp"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <iostream>
#include <map>

#include "child_control.hpp"
#include "cron.hpp"
#include "crypto.hpp"
#include "gateway.hpp"
#include "net.hpp"
#include "runs.hpp"
#include "sandbox.hpp"
#include "sessions.hpp"
#include "state.hpp"
#include "ws_transport.hpp"

extern const char kWebchatHtml[];  // wsfront/webchat/index.html, embedded by the build
extern const std::size_t kWebchatHtml_size;

namespace clawgate::front {

namespace {
const char* kVersion = "0.1.0";
}

int run_front(const GatewayFlags& flags, const Environment& env) {
  SystemClock clock;
  LogRing ring;
  Logger log(clock, &ring);
  if (auto it = env.find("OPENCLAW_LOG_LEVEL"); it != env.end())
    log.set_min_level(parse_log_level(it->second, LogLevel::info));

  FrontSettings settings;
  try {
    settings.gateway = resolve_gateway_settings(flags, env);
    if (settings.gateway.auth_mode == AuthMode::token && settings.gateway.token.empty()) {
      std::string fixed;
      const TokenLoad t = load_or_create_token(settings.gateway.state_dir, &fixed);
      settings.gateway.token = t.token;
      if (!fixed.empty()) settings.gateway.warnings.push_back(fixed);
      if (t.created) {
        // Shown once, and only to a person at a terminal: under systemd stdout is the journal,
        // which others may read. Later runs read it from the file.
        if (::isatty(STDOUT_FILENO)) {
          std::cout << "Generated a gateway token (saved to " << t.path << "):\n  " << t.token
                    << "\n"
                    << std::flush;
        } else {
          std::cout << "Generated a gateway token; it is stored in " << t.path
                    << " (readable by this user only)\n"
                    << std::flush;
        }
      }
    }
  } catch (const ConfigError& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "clawgate: " << e.what() << "\n";
    return kExitConfig;
  }
  settings.version = kVersion;
  // Tuning knob for operators and tests: the per-client send buffer limit (default 50 MiB).
  if (auto it = env.find("CLAWGATE_MAX_BUFFERED_BYTES"); it != env.end()) {
    const long long v = std::atoll(it->second.c_str());
    if (v > 0) settings.limits.max_buffered_bytes = static_cast<size_t>(v);
  }
  for (const auto& w : settings.gateway.warnings) log.warn("config", w);

  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  Gateway gateway(io, clock, log, ring, settings);
  WsTransport ws(io, gateway, log);
  gateway.attach(&ws.transport());
  ws.serve("/", "text/html; charset=utf-8", std::string(kWebchatHtml, kWebchatHtml_size));
  ws.serve("/index.html", "text/html; charset=utf-8", std::string(kWebchatHtml, kWebchatHtml_size));
  std::unique_ptr<SessionStore> sessions;
  std::unique_ptr<ChannelHub> hub;
  try {
    sessions = std::make_unique<SessionStore>(settings.gateway.state_dir);
    hub = std::make_unique<ChannelHub>(io, clock, log, settings.gateway, sessions.get());
  } catch (const std::exception& e) {
    std::cerr << "clawgate: cannot open the state directory " << settings.gateway.state_dir << ": "
              << e.what() << "\n";
    return 1;
  }
  gateway.attach_channels(hub.get());
  RunManager runs(io, clock, log, *sessions, hub.get(),
                  [&gateway](const std::string& event, const Json& payload, bool droppable) {
                    gateway.emit(event, payload, droppable);
                  });
  // A channel message that passed the DM policy gets an answer, delivered back to its chat.
  hub->on_inbound = [&runs, &log, &settings](const std::string& session_key,
                                             const InboundMessage& m) {
    RunManager::Origin o;
    o.kind = "channel";
    o.channel = m.channel;
    o.account_id = m.account_id;
    o.to = m.chat_id;
    for (const auto& c : settings.gateway.channels)
      if (c.name == m.channel) o.context_limit = static_cast<size_t>(c.history_limit);
    const std::string err = runs.start(session_key, m.text, uuid_v4(), o);
    if (!err.empty()) log.warn("runs", "no answer for " + m.channel + " message: " + err);
  };
  CronService cron(
      io, clock, log, settings.gateway.state_dir, runs,
      [&gateway](const std::string& event, const Json& payload, bool droppable) {
        gateway.emit(event, payload, droppable);
      },
      settings.gateway.agent_config_json);
  cron.on_heartbeat = [&gateway](const Json& hb) { gateway.set_last_heartbeat(hb); };
  gateway.attach_methods([&runs, &cron](const std::string& method, const Json& params,
                                        const std::function<void(HubReply)>& reply) {
    return runs.call(method, params, reply) || cron.call(method, params, reply);
  });
  // Under the supervisor: a control channel, and the listening socket it holds for us.
  auto control = ipc::ChildControl::from_environment(io, "front");
  hub->set_supervised(control != nullptr);

  uint16_t port = 0;
  try {
    const char* inherited = std::getenv("CLAWGATE_LISTEN_FD");
    int adopted = -1;
    if (inherited && *inherited) {
      adopted = std::atoi(inherited);
    } else if (sd_listen_fds(1) >= 1) {
      adopted = SD_LISTEN_FDS_START;  // systemd socket activation of the front alone
      log.info("front", "using the listening socket passed by systemd");
    }
    if (adopted >= 0) {
      // The bind address was checked with the config; an inherited socket may differ.
      require_auth_unless_loopback(settings.gateway, socket_local_address(adopted),
                                   "the inherited listening socket's address");
      port = ws.adopt(adopted);
    } else {
      port = ws.listen(settings.gateway.bind_address, static_cast<uint16_t>(settings.gateway.port));
    }
  } catch (const ConfigError& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "clawgate: cannot listen on " << settings.gateway.bind_address << ":"
              << settings.gateway.port << ": " << e.what()
              << " (is another gateway already running? `clawgate status` asks it)\n";
    return 1;
  }
  const std::string host = settings.gateway.bind_address.find(':') != std::string::npos
                               ? "[" + settings.gateway.bind_address + "]"
                               : settings.gateway.bind_address;
  log.info("front", "listening on ws://" + host + ":" + std::to_string(port) + " (clawgate " +
                        kVersion + ")");
  // Config, token, listening socket and state files are open: from here on the state
  // directory only, and no outgoing TCP. Before any thread exists (Landlock is per thread).
  const sandbox::Report sandboxed =
      sandbox::apply(sandbox::front_policy(settings.gateway.state_dir));
  sandbox::log_report(log, "front", sandboxed);
  gateway.start();
  cron.start();
  // A pending sessions-index change reaches the disk within a second, and at exit.
  boost::asio::steady_timer index_timer(io);
  std::function<void()> flush_index = [&] {
    try {
      sessions->flush();
    } catch (const std::exception& e) {
      log.error("sessions", std::string("cannot write the sessions index: ") + e.what());
    }
    index_timer.expires_after(std::chrono::milliseconds(SessionStore::kIndexSaveMs));
    index_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) flush_index();
    });
  };
  flush_index();

  bool stopping = false;
  auto stop = [&](const std::string& why) {
    if (stopping) return;
    stopping = true;
    log.info("front", why + ", shutting down");
    if (!control) sd_notify(0, "STOPPING=1");
    gateway.shutdown("gateway stopping", std::nullopt, [&io] { io.stop(); });
  };
  std::map<uint64_t, HubCallback> restarts;  // channels.restart calls awaiting the supervisor
  uint64_t next_request = 0;
  if (control) {
    hub->restart_child = [&](const std::string& child, HubCallback done) {
      capnp::MallocMessageBuilder b;
      auto rq = b.initRoot<ipc::Control>().initRestartChild();
      rq.setRequestId(++next_request);
      rq.setName(child);
      restarts[next_request] = std::move(done);
      control->send(b);
    };
    ipc::ChildControl::Handlers h;
    h.on_stop = [&] { stop("asked to stop by the supervisor"); };
    h.on_peer = [&](int fd, ipc::Peer::Reader p) {
      if (std::string(p.getChannel().cStr()) == "agent") {
        runs.attach_agent(fd, p.getGeneration());
      } else {
        hub->attach_worker(fd, p.getName(), p.getChannel(), p.getAccountId(), p.getGeneration());
      }
    };
    h.on_other = [&](ipc::Control::Reader msg) {
      if (msg.isChildren()) {
        std::vector<ChannelHub::ChildRow> rows;
        for (auto c : msg.getChildren()) {
          ChannelHub::ChildRow r;
          r.name = c.getName();
          r.role = c.getRole();
          r.channel = c.getChannel();
          r.account_id = c.getAccountId();
          static const char* kStates[] = {"starting", "running", "backoff", "failed", "stopped"};
          r.state = kStates[static_cast<int>(c.getState()) % 5];
          r.last_error = c.getLastError();
          r.pid = c.getPid();
          r.generation = c.getGeneration();
          r.restarts = c.getRestarts();
          r.since_ms = c.getSinceMs();
          r.next_restart_ms = c.getNextRestartMs();
          r.last_start_ms = c.getLastStartMs();
          r.last_exit_ms = c.getLastExitMs();
          r.rss = c.getRssBytes();
          if (auto sb = c.getSandbox(); sb.getReported()) {
            Json missing = Json::array();
            for (auto t : sb.getNotApplied()) missing.push_back(t.cStr());
            r.sandbox = {{"noNewPrivs", sb.getNoNewPrivs()},
                         {"seccomp", sb.getSeccomp()},
                         {"landlockAbi", sb.getLandlockAbi()},
                         {"landlock", sb.getLandlock()},
                         {"notApplied", std::move(missing)}};
          }
          rows.push_back(std::move(r));
        }
        hub->set_children(std::move(rows));
      } else if (msg.isRestartResult()) {
        auto r = msg.getRestartResult();
        auto it = restarts.find(r.getRequestId());
        if (it == restarts.end()) return;
        HubReply reply;
        if (r.getOk()) {
          reply.payload = Json::object();
        } else {
          reply.code = r.getError().getCode().size() ? "INVALID_REQUEST" : "UNAVAILABLE";
          reply.message = r.getError().getMessage();
        }
        auto done = std::move(it->second);
        restarts.erase(it);
        done(std::move(reply));
      }
    };
    h.on_lost = [&](const std::string& reason) { stop("lost the supervisor (" + reason + ")"); };
    control->start(std::move(h));
    control->send_sandbox(sandboxed);
    control->send_ready();
  } else {
    sd_notify(0, "READY=1\nSTATUS=accepting connections");
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    stop(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  });
  io.run();
  try {
    sessions->flush();
  } catch (const std::exception&) {
  }
  log.info("front", "stopped");
  return 0;
}

}  // namespace clawgate::front
