// run_supervisor: the `clawgate gateway` process. Wires config, the host lock, the listening
// socket (from systemd or bound here), the children table and the signals to a Supervisor, and
// speaks sd_notify (READY once the front accepts, STATUS, WATCHDOG, STOPPING).
// Fails: config error -> exit 78; lock held or address in use -> a clear message and exit 1,
// before any child is spawned.
#include "run.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "child_env.hpp"
#include "config_view.hpp"
#include "host_lock.hpp"
#include "net.hpp"
#include "state.hpp"
#include "supervisor.hpp"
#include "tls_files.hpp"
#include "utf8.hpp"

namespace clawgate::supervisor {

namespace {

std::string self_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

// The socket systemd passed: the one named "gateway", else the only one. -1 when none.
int systemd_socket(Logger& log) {
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(1, &names);
  int fd = -1;
  for (int i = 0; i < n; ++i) {
    const bool named = names && names[i] && std::strcmp(names[i], "gateway") == 0;
    if (named || (n == 1 && fd < 0)) fd = SD_LISTEN_FDS_START + i;
  }
  for (int i = 0; names && i < n; ++i) std::free(names[i]);
  std::free(names);
  if (n > 0 && fd < 0) log.warn("supervisor", "systemd passed sockets but none named gateway");
  return fd;
}

int bind_listener(const std::string& address, int port) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
             ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
  } else {
    throw std::runtime_error("not an IP address: " + address);
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 511) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(std::strerror(err));
  }
  return fd;
}

// What the front runs on of the config, as a key: a change restarts the front on reload
// (what it only shows, config.get's snapshot, is sent to the running front instead).
std::string front_restart_key(const GatewaySettings& s) {
  nlohmann::json j = {{"port", s.port},
                      {"bind", s.bind_address},
                      {"auth", static_cast<int>(s.auth_mode)},
                      {"token", s.token},
                      {"password", s.password},
                      {"origins", s.allowed_origins},
                      {"dmScope", s.dm_scope},
                      {"trustedProxies", s.trusted_proxies},
                      {"allowRealIpFallback", s.allow_real_ip_fallback},
                      {"tls", cfg::to_json(s.config.gateway.tls)}};
  nlohmann::json by_channel = nlohmann::json::object();
  for (const auto& [ch, m] : s.queue.by_channel) by_channel[ch] = queue_mode_name(m);
  j["queue"] = {{"mode", queue_mode_name(s.queue.mode)},
                {"byChannel", by_channel},
                {"debounceMsByChannel", s.queue.debounce_ms_by_channel},
                {"cap", s.queue.cap},
                {"drop", queue_drop_name(s.queue.drop)},
                {"maxConcurrent", s.queue.max_concurrent}};
  for (const auto& c : s.channels) {
    nlohmann::json groups = nlohmann::json::object();
    for (const auto& [id, g] : c.groups) {
      nlohmann::json e = nlohmann::json::object();
      if (g.enabled) e["enabled"] = *g.enabled;
      if (g.require_mention) e["requireMention"] = *g.require_mention;
      if (g.group_policy) e["groupPolicy"] = *g.group_policy;
      if (g.allow_from) e["allowFrom"] = *g.allow_from;
      if (g.roles) e["roles"] = *g.roles;
      if (g.allow_bots) e["allowBots"] = *g.allow_bots;
      for (const auto& [cid, ch] : g.channels) {
        nlohmann::json x = nlohmann::json::object();
        if (ch.enabled) x["enabled"] = *ch.enabled;
        if (ch.require_mention) x["requireMention"] = *ch.require_mention;
        if (ch.allow_from) x["users"] = *ch.allow_from;
        e["channels"][cid] = x;
      }
      groups[id] = e;
    }
    j["channels"][worker_name(c)] = {
        {"defaultAccount", c.default_account_id},
        {"dmPolicy", c.dm_policy},
        {"allowFrom", c.allow_from},
        {"groupPolicy", c.group_policy},
        {"groupAllowFrom",
         c.group_allow_from ? nlohmann::json(*c.group_allow_from) : nlohmann::json()},
        {"groups", groups},
        {"historyLimit", c.history_limit},
        {"allowBots", c.allow_bots},
        // The front serves the paths of HTTP-mode accounts (and whether it serves any).
        {"webhookPath", c.enabled ? c.webhook_path : ""}};
  }
  return dump_json(j);  // a token or password from the environment may be any bytes
}

// gateway.tls's pair as the front will find it, by looking only (the key is the front's to
// read): one file of the two, or none without autoGenerate, is a config error before any child
// starts. Throws ConfigError.
void check_tls_files(const GatewaySettings& s, const Environment& env) {
  const cfg::GatewayTls& t = s.config.gateway.tls;
  if (t.enabled)
    (void)tls::pair_needs_generating(tls::resolve_tls_paths(t, s.state_dir, env), t.auto_generate);
}

int64_t env_ms(const Environment& env, const char* key, int64_t fallback) {
  auto it = env.find(key);
  if (it == env.end()) return fallback;
  const long long v = std::atoll(it->second.c_str());
  return v > 0 ? v : fallback;
}

// The restart policy and timers: data, from the environment (tests shorten them).
SupervisorOptions supervisor_options(const Environment& env, int listen_fd) {
  SupervisorOptions opts;
  opts.listen_fd = listen_fd;
  opts.heartbeat_interval_ms = env_ms(env, "CLAWGATE_HEARTBEAT_MS", 5000);
  opts.policy.heartbeat_timeout_ms = env_ms(env, "CLAWGATE_HEARTBEAT_TIMEOUT_MS", 20'000);
  opts.policy.initial_backoff_ms = env_ms(env, "CLAWGATE_RESTART_BACKOFF_MS", 250);
  opts.policy.max_backoff_ms = env_ms(env, "CLAWGATE_RESTART_MAX_BACKOFF_MS", 60'000);
  opts.policy.intensity_window_ms = env_ms(env, "CLAWGATE_RESTART_WINDOW_MS", 60'000);
  opts.stop_timeout_ms = env_ms(env, "CLAWGATE_STOP_TIMEOUT_MS", 5'000);
  opts.start_wait_ms = env_ms(env, "CLAWGATE_START_WAIT_MS", 5'000);
  return opts;
}

// The listening socket: the one systemd passed, else bound here. On failure the reason is
// printed and the exit code returned negated.
int open_listener(const GatewaySettings& settings, Logger& log) {
  int fd = systemd_socket(log);
  if (fd >= 0) {
    log.info("supervisor", "using the listening socket passed by systemd");
  } else {
    try {
      fd = bind_listener(settings.bind_address, settings.port);
    } catch (const std::exception& e) {
      std::cerr << "clawgate: cannot listen on " << settings.bind_address << ":" << settings.port
                << ": " << e.what()
                << (errno == EADDRINUSE ? " (another program holds the port; `clawgate status` "
                                          "asks whether it is a gateway)"
                                        : "")
                << "\n";
      return -1;
    }
  }
  try {
    // The bind address was checked with the config; a socket from systemd may differ.
    require_auth_unless_loopback(settings, socket_local_address(fd),
                                 "the listening socket's address");
  } catch (const ConfigError& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    ::close(fd);
    return -kExitConfig;
  }
  return fd;
}

// What systemd hears: READY once the front accepts (and after each reload), STATUS lines,
// RELOADING, STOPPING, and WATCHDOG pings from this loop, so a wedged supervisor is restarted.
class SystemdNotifier {
 public:
  SystemdNotifier(boost::asio::io_context& io, Supervisor& sup) : watchdog_(io) {
    sup.on_front_ready = [this] {
      if (ready_) return;
      ready_ = true;
      sd_notify(0, "READY=1");
    };
    sup.on_status = [](const std::string& line) { sd_notify(0, ("STATUS=" + line).c_str()); };
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) pet(std::chrono::microseconds(usec / 2));
  }
  void reloading() { sd_notify(0, "RELOADING=1"); }
  void ready() { sd_notify(0, "READY=1"); }
  void stopping() {
    sd_notify(0, "STOPPING=1");
    watchdog_.cancel();
  }

 private:
  void pet(std::chrono::microseconds every) {
    sd_notify(0, "WATCHDOG=1");
    watchdog_.expires_after(every);
    watchdog_.async_wait([this, every](const boost::system::error_code& ec) {
      if (!ec) pet(every);
    });
  }
  boost::asio::steady_timer watchdog_;
  bool ready_ = false;
};

// SIGHUP: the config read again with the same parser; the children whose part changed are
// restarted. A refused file changes nothing but config.get's answer, which shows its problems.
struct Reloader {
  const GatewayFlags& flags;
  const Environment& env;
  const std::string& dir;
  const std::string& hash_key;
  int listen_fd;
  Supervisor& sup;
  Logger& log;

  void reload() const {
    log.info("supervisor", "SIGHUP: reloading the configuration");
    try {
      GatewaySettings next = resolve_gateway_settings(flags, env);
      require_auth_unless_loopback(next, socket_local_address(listen_fd),
                                   "the listening socket's address");
      check_tls_files(next, env);
      for (const auto& w : next.warnings) log.warn("config", w);
      sup.reload(children_for(next, flags, env, dir, hash_key));
    } catch (const std::exception& e) {
      log.error("config",
                std::string("reload refused, keeping the running configuration: ") + e.what());
      // Nothing thrown here may leave the signal handler: the loop would end with it.
      try {
        const auto path = config_path_for(flags, env);
        ConfigFile refused = path ? validate_config_file(*path, env) : ConfigFile{};
        if (!refused.issues.has_errors()) refused.issues.add(cfg::Issue::Kind::error, "", e.what());
        sup.update_live("front", ipc::ReloadMessage::front(
                                     dump_json(config_snapshot(nullptr, &refused, hash_key))));
      } catch (const std::exception& inner) {
        log.error("config", std::string("config.get keeps the last snapshot: ") + inner.what());
      }
    }
  }
};

}  // namespace

std::vector<ChildSpec> children_for(const GatewaySettings& s, const GatewayFlags& flags,
                                    const Environment& env, const std::string& dir,
                                    const std::string& hash_key) {
  std::vector<ChildSpec> out;
  ChildSpec front;
  front.name = "front";
  front.role = ipc::ChildRole::FRONT;
  front.exe = dir + "/clawgate-front";
  if (!s.config_path.empty()) front.args = {"--config", s.config_path};
  if (flags.bind) front.args.insert(front.args.end(), {"--bind", *flags.bind});
  if (flags.port) front.args.insert(front.args.end(), {"--port", std::to_string(*flags.port)});
  // Secrets go by environment, never on a command line other users can read in ps; each
  // child's environment is its own (child_env.hpp).
  front.env = front_environment(s, env);
  front.restart_key = front_restart_key(s);
  // config.get's answer; its `parsed` (the file, each secret redacted) is what the front reads
  // its settings from at start: it never opens the file, which holds every worker's secrets.
  const std::string snapshot = dump_json(config_snapshot(&s, s.file.get(), hash_key));
  front.start_text = snapshot;
  front.live = ipc::ReloadMessage::front(snapshot);
  out.push_back(std::move(front));
  ChildSpec agent;  // always there: with no model configured it answers offline
  agent.name = "agent";
  agent.role = ipc::ChildRole::AGENT;
  agent.channel = "agent";
  agent.exe = dir + "/clawgate-agent";
  agent.env = agent_environment(s, env);
  agent.config = ipc::ReloadMessage::agent(s.config);
  out.push_back(std::move(agent));
  for (const auto& c : s.channels) {
    if (!c.enabled) continue;
    ChildSpec w;
    w.name = worker_name(c);  // one process per enabled account, restarted on its own
    w.role = ipc::ChildRole::CHANNEL;
    w.channel = c.name;
    w.account_id = c.account_id;
    w.exe = dir + "/clawgate-" + c.name;
    w.env = channel_environment(s, c, env);
    w.config = ipc::ReloadMessage::channel(c);  // its own token, no other account's
    ChannelTokens tokens = channel_tokens(c, w.env);
    w.tokens = std::move(tokens.sources);
    w.credential_env = std::move(tokens.env_names);
    if (auto prints = token_fingerprints(w.tokens, hash_key)) {
      for (const auto& p : *prints) w.credentials += p + "\n";
    } else {
      w.credentials = "unreadable";
    }
    out.push_back(std::move(w));
  }
  return out;
}

int run_supervisor(const GatewayFlags& flags, const Environment& env) {
  SystemClock clock;
  Logger log(clock, nullptr);
  if (auto it = env.find("OPENCLAW_LOG_LEVEL"); it != env.end())
    log.set_min_level(parse_log_level(it->second, LogLevel::info));

  GatewaySettings settings;
  try {
    settings = resolve_gateway_settings(flags, env);
    check_tls_files(settings, env);
  } catch (const std::exception& e) {
    std::cerr << "clawgate: config error: " << e.what() << "\n";
    return kExitConfig;
  }
  for (const auto& w : settings.warnings) log.warn("config", w);

  std::unique_ptr<HostLock> lock;
  std::string hash_key;  // config.get's hash is keyed with it (state.hpp)
  try {
    if (const std::string fixed = secure_state_dir(settings.state_dir); !fixed.empty())
      log.warn("supervisor", fixed);
    lock = std::make_unique<HostLock>(settings.state_dir);
    hash_key = load_or_create_config_hash_key(settings.state_dir);
  } catch (const std::exception& e) {
    std::cerr << "clawgate: " << e.what() << "\n";
    return 1;
  }
  const int listen_fd = open_listener(settings, log);
  if (listen_fd < 0) return -listen_fd;

  SupervisorOptions opts = supervisor_options(env, listen_fd);
  opts.logouts = LogoutStore(settings.state_dir, hash_key);
  try {
    opts.logouts.load();  // before any child: a logged-out worker's token goes to no process
  } catch (const std::exception& e) {
    std::cerr << "clawgate: " << e.what() << "\n";
    ::close(listen_fd);
    return 1;
  }
  for (const auto& [worker, m] : opts.logouts.marks()) {
    if (m.key_matches) {
      log.info("supervisor", worker + ": logged out (channels.logout) until its token changes");
    } else {  // the key was lost: no token can be compared, so none is taken for a new one
      log.error("supervisor", worker + ": logged out, and " + opts.logouts.path() +
                                  " was written with another config-hash-key: it stays logged "
                                  "out until that file is removed");
    }
  }

  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io(1);
  Supervisor sup(io, clock, log, std::move(opts));
  SystemdNotifier systemd(io, sup);
  const std::string dir = [&] {
    auto it = env.find("CLAWGATE_LIBEXEC_DIR");
    return it != env.end() ? it->second : self_dir();
  }();
  const Reloader reloader{flags, env, dir, hash_key, listen_fd, sup, log};
  // Before any child exists: a SIGHUP that comes once the front is listening (a client, or
  // systemd's ExecReload, can be that quick) must find its handler, not the default action,
  // which ends the process. Signals that arrive before the wait below are queued.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  sup.start(children_for(settings, flags, env, dir, hash_key));

  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        systemd.reloading();
        reloader.reload();
        systemd.ready();
        return wait_signal();
      }
      log.info("supervisor",
               std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping");
      systemd.stopping();
      signals.cancel();
      sup.stop([&] { io.stop(); });
    });
  };
  wait_signal();
  io.run();
  log.info("supervisor", "stopped");
  ::close(listen_fd);
  return 0;
}

}  // namespace clawgate::supervisor
