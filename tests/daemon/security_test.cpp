// Whole-front security tests: the real gateway and real WebSocket clients checking who gets
// in and what they see: browser pages on localhost (per-origin auth limits, no CLI grant),
// forwarded requests and gateway.trustedProxies, events filtered by scope, what `health` shows,
// the WebChat page's CSP, hostile header values in the log, and `auth.mode: none` on a socket
// that is not loopback.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "gateway_process.hpp"
#include "test_device.hpp"
#include "test_node.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

extern char** environ;

namespace clawgate::test {
namespace {

constexpr int kWait = 5000;

std::string port_of(const GatewayProcess& gw) {
  return gw.url().substr(gw.url().rfind(':') + 1);
}

// Connects with these options; returns hello-ok, or throws GatewayError.
Json connect_as(GatewayClient& c, const GatewayProcess& gw, const std::string& id,
                const std::string& mode, WsClient::Options wo = {}, const std::string& token = "") {
  ConnectOptions o;
  o.url = gw.url();
  o.token = token.empty() ? gw.token() : token;
  o.client_id = id;
  o.client_mode = mode;
  o.ws = std::move(wo);
  return c.connect(o);
}

WsClient::Options with_origin(const std::string& origin) {
  WsClient::Options o;
  o.origin = origin;
  return o;
}

WsClient::Options with_header(const std::string& name, const std::string& value) {
  WsClient::Options o;
  o.headers.emplace_back(name, value);
  return o;
}

// The error a connect attempt ends in ("" when it succeeded).
std::string connect_error(const GatewayProcess& gw, const std::string& id, const std::string& mode,
                          WsClient::Options wo, const std::string& token = "") {
  WsClient ws;
  GatewayClient c(ws);
  try {
    connect_as(c, gw, id, mode, std::move(wo), token);
  } catch (const GatewayError& e) {
    return e.details.value("code", e.code);
  }
  return "";
}

// --- browser pages on localhost ----------------------------------------------------------------

TEST(Security, BrowserOriginFailuresAreLimitedPerOriginEvenOnLoopback) {
  // exemptLoopback stays at its default (true): only browser pages are limited here.
  GatewayProcess gw({}, R"({"gateway":{"auth":{"rateLimit":{"maxAttempts":3}}}})");
  const auto page = with_origin("http://localhost:3000");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(connect_error(gw, "webchat-ui", "webchat", page, "guess"), "AUTH_TOKEN_MISMATCH");
  EXPECT_EQ(connect_error(gw, "webchat-ui", "webchat", page), "AUTH_RATE_LIMITED")
      << "the right token, but this origin is locked out";
  EXPECT_EQ(connect_error(gw, "webchat-ui", "webchat", with_origin("http://localhost:3001")), "")
      << "another origin has its own bucket";
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(connect_error(gw, "cli", "cli", {}, "guess"), "AUTH_TOKEN_MISMATCH");
  EXPECT_EQ(connect_error(gw, "cli", "cli", {}), "") << "the local CLI is never locked out";
}

TEST(Security, ALocalPageCannotClaimToBeTheCli) {
  GatewayProcess gw;
  const std::string own = "http://127.0.0.1:" + port_of(gw);
  for (const std::string& origin : {std::string("http://localhost:3000"), own}) {
    WsClient ws;
    GatewayClient c(ws);
    const Json hello = connect_as(c, gw, "cli", "cli", with_origin(origin));
    EXPECT_EQ(hello["auth"]["scopes"], Json::array()) << origin;
    EXPECT_EQ(c.request_frame("status", Json::object())["error"]["code"], "FORBIDDEN") << origin;
  }
  WsClient other;
  GatewayClient oc(other);
  EXPECT_EQ(connect_as(oc, gw, "webchat-ui", "webchat",
                       with_origin("http://localhost:3000"))["auth"]["scopes"],
            Json::array())
      << "a page from another origin is not the bundled WebChat";
  WsClient mine;
  GatewayClient mc(mine);
  ConnectOptions o;
  o.url = gw.url();
  o.token = gw.token();
  o.client_id = "webchat-ui";
  o.client_mode = "webchat";
  o.ws = with_origin(own);
  EXPECT_EQ(mc.connect(o)["auth"]["scopes"], Json::array())
      << "without a device identity even the bundled WebChat gets nothing (it pairs instead)";
}

// --- forwarded requests -------------------------------------------------------------------------

TEST(Security, AnUndeclaredSameHostProxyIsRefused) {
  GatewayProcess gw;
  for (const char* h :
       {"X-Forwarded-For", "X-Real-IP", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"}) {
    WsClient ws;
    GatewayClient c(ws);
    try {
      connect_as(c, gw, "cli", "cli", with_header(h, "203.0.113.9"));
      FAIL() << h << ": connected";
    } catch (const GatewayError& e) {
      EXPECT_EQ(e.details["code"], "PROXY_ATTRIBUTION_REQUIRED") << h;
      EXPECT_NE(e.message.find("gateway.trustedProxies"), std::string::npos) << e.message;
      EXPECT_EQ(e.close_code, 1008);
    }
  }
}

TEST(Security, AHostThatIsNotThisMachineIsNotLocal) {
  GatewayProcess gw;
  WsClient ws;
  GatewayClient c(ws);
  const Json hello =
      connect_as(c, gw, "cli", "cli", with_header("Host", "gw.example:" + port_of(gw)));
  EXPECT_EQ(hello["auth"]["scopes"], Json::array()) << "no local CLI grant";
}

TEST(Security, ATrustedProxyNamesTheClient) {
  GatewayProcess gw({}, R"({"gateway":{"trustedProxies":["127.0.0.1"],
                          "auth":{"rateLimit":{"maxAttempts":2}}}})");
  const auto from = [](const std::string& ip) { return with_header("X-Forwarded-For", ip); };
  {
    WsClient ws;
    GatewayClient c(ws);
    EXPECT_EQ(connect_as(c, gw, "cli", "cli", from("203.0.113.9"))["auth"]["scopes"], Json::array())
        << "a proxied client is not local";
  }
  // Presence and rate limits use the forwarded address.
  WsClient ui_ws;
  GatewayClient ui(ui_ws);
  connect_as(ui, gw, "openclaw-macos", "ui", from("198.51.100.20"));
  Client admin(gw);
  bool seen = false;
  for (const auto& e : admin.gc.call("system-presence"))
    seen |= e.value("ip", "") == "198.51.100.20";
  EXPECT_TRUE(seen) << "presence shows the client, not the proxy";
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(connect_error(gw, "cli", "cli", from("203.0.113.9"), "guess"), "AUTH_TOKEN_MISMATCH");
  EXPECT_EQ(connect_error(gw, "cli", "cli", from("203.0.113.9")), "AUTH_RATE_LIMITED");
  EXPECT_EQ(connect_error(gw, "cli", "cli", from("203.0.113.10")), "")
      << "another client behind the same proxy is not locked out";
  EXPECT_EQ(connect_error(gw, "cli", "cli", from("127.0.0.1")), "PROXY_ATTRIBUTION_REQUIRED")
      << "a proxy cannot make its client look local";
}

// --- events and health --------------------------------------------------------------------------

// Every event frame `ws` receives within ms.
std::vector<Json> drain(WsClient& ws, int ms) {
  std::vector<Json> out;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    try {
      const WsMessage m = ws.read(100);
      if (m.closed) break;
      const Json f = Json::parse(m.data);
      if (f["type"] == "event") out.push_back(f);
    } catch (const TimeoutError&) {
    }
  }
  return out;
}

TEST(Security, ConversationEventsReachOnlyConnectionsThatMayReadThem) {
  GatewayProcess gw(std::map<std::string, std::string>{{"CLAWGATE_TICK_INTERVAL_MS", "200"}});
  WsClient none_ws;
  GatewayClient none(none_ws);
  EXPECT_EQ(connect_as(none, gw, "test", "test")["auth"]["scopes"], Json::array());
  auto node = connect_node(gw);
  WsClient reader_ws;
  GatewayClient reader(reader_ws);
  ConnectOptions ro;
  ro.url = gw.url();
  ro.token = gw.token();
  ro.scopes = {"operator.read"};
  reader.connect(ro);

  Client writer(gw);
  writer.gc.call("chat.send",
                 {{"sessionKey", "main"}, {"message", "a secret plan"}, {"idempotencyKey", "r1"}});
  ASSERT_TRUE(eventually([&] {
    const Json e = reader.next_event(10000);
    return e["event"] == "chat" && e["payload"].value("state", "") != "delta";
  })) << "the reader sees the conversation";

  for (auto* ws : {&none_ws, node.get()}) {
    int64_t last_seq = 0;
    int ticks = 0;
    for (const Json& e : drain(*ws, 700)) {
      const std::string name = e["event"];
      EXPECT_TRUE(name != "chat" && name != "agent" && name != "cron") << e.dump();
      EXPECT_EQ(e.dump().find("a secret plan"), std::string::npos);
      if (e.contains("seq")) {
        if (last_seq) {
          EXPECT_EQ(e["seq"].get<int64_t>(), last_seq + 1) << "no gaps";
        }
        last_seq = e["seq"];
      }
      ticks += name == "tick";
    }
    EXPECT_GT(ticks, 0) << "unscoped events still arrive";
  }
}

TEST(Security, HealthShowsLivenessButNoConfig) {
  GatewayProcess gw({{"TELEGRAM_BOT_TOKEN", "123456:SECRETBOTTOKEN"}},
                    R"({"channels":{"telegram":{"apiRoot":"http://127.0.0.1:9/SECRETPATH",
                       "dmPolicy":"allowlist","allowFrom":[4242424242]}}})");
  WsClient ws;
  GatewayClient c(ws);
  const Json hello = connect_as(c, gw, "test", "test");  // no scopes at all
  ASSERT_TRUE(eventually([&] {
    const Json h = c.call("health");
    return h["channels"]["telegram"].value("restarts", 0) > 0 ||
           h["channels"]["telegram"].value("state", "") != "starting";
  }));
  const Json h = c.call("health", {{"probe", true}});
  const Json pushed = c.wait_event("health", kWait)["payload"];
  for (const Json& v : {h, pushed, hello["snapshot"]["health"]}) {
    const std::string text = v.dump();
    for (const std::string& secret :
         {std::string("SECRETBOTTOKEN"), std::string("SECRETPATH"), std::string("4242424242"),
          std::string("allowlist"), std::string("allowFrom"), std::string("lastError"),
          gw.state_dir(), gw.token()})
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  }
  const Json& tg = h["channels"]["telegram"];
  for (const char* k : {"configured", "running", "connected", "state"})
    EXPECT_TRUE(tg.contains(k)) << k;
  EXPECT_EQ(h["channelOrder"], Json::array({"telegram"}));
}

// --- HTTP: the WebChat page, and what reaches the log ---------------------------------------

// Sends `request` to the gateway over plain TCP; returns everything it answers.
std::string http_exchange(const GatewayProcess& gw, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(port_of(gw))));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (out.find("\r\n\r\n") != std::string::npos && request.rfind("GET / ", 0) != 0) break;
  }
  ::close(fd);
  return out;
}

TEST(Security, TheWebChatPageMayConnectOnlyToItsOwnOrigin) {
  GatewayProcess gw;
  const std::string res = http_exchange(
      gw, "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port_of(gw) + "\r\nConnection: close\r\n\r\n");
  const auto at = res.find("Content-Security-Policy: ");
  ASSERT_NE(at, std::string::npos) << res.substr(0, 500);
  const std::string csp = res.substr(at, res.find("\r\n", at) - at);
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("ws:"), std::string::npos) << "no connections to any other host: " << csp;
}

TEST(Security, HostileHeaderValuesAreEscapedAndCutInTheLog) {
  GatewayProcess gw;
  std::string origin = "https://evil.example/\x1b[2J\x1b[31mFAKE\x07";
  for (int i = 0; i < 3000; ++i) origin += "\xc3\xa9";  // 6000 bytes of é
  const std::string res = http_exchange(
      gw, "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port_of(gw) +
              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: " +
              origin + "\r\n\r\n");
  EXPECT_NE(res.find(" 403 "), std::string::npos) << res.substr(0, 200);
  ASSERT_TRUE(gw.wait_output("origin not allowed"));
  const std::string out = gw.output();
  const auto at = out.find("origin not allowed");
  const std::string line = out.substr(at, out.find('\n', at) - at);
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << "no raw escape sequence";
  EXPECT_NE(line.find("\\x1b[2J"), std::string::npos) << line;
  EXPECT_LT(line.size(), 400u) << "cut short";
  EXPECT_NE(line.find("more bytes)"), std::string::npos) << line;
}

// --- auth.mode none ----------------------------------------------------------------------------

// `clawgate gateway` started with a listening socket inherited the way systemd passes it
// (fd 3, LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES) and a config file it may rewrite.
struct SocketGateway {
  SocketGateway(const std::string& address, const std::string& config) {
    char tmpl[] = "/tmp/clawgate-sec-XXXXXX";
    EXPECT_TRUE(mkdtemp(tmpl));
    dir = tmpl;
    cfg = dir + "/clawgate.json";
    out = dir + "/out";
    std::ofstream(cfg) << config;
    const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    EXPECT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(sock, 16), 0);
    pid = fork();
    if (pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(o, 1);
      dup2(o, 2);
      dup2(sock, 3);
      setenv("LISTEN_FDS", "1", 1);
      setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
      setenv("LISTEN_FDNAMES", "gateway", 1);
      setenv("CLAWGATE_STATE_DIR", dir.c_str(), 1);
      execl(CLAWGATE_BIN, CLAWGATE_BIN, "gateway", "--config", cfg.c_str(), nullptr);
      _exit(127);
    }
    ::close(sock);
  }
  ~SocketGateway() {
    if (pid > 0 && !exited) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  // The exit status once it exits within ms; -1 when it is still running.
  int wait_exit(int ms) {
    int status = 0;
    exited = eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, ms);
    return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string output() const { return read_text(out); }
  bool wait_output(const std::string& text, int ms = 10000) const {
    return eventually([&] { return output().find(text) != std::string::npos; }, ms);
  }
  std::string dir, cfg, out;
  pid_t pid = -1;
  bool exited = false;
};

TEST(Security, AuthNoneIsRefusedOnASocketThatIsNotLoopback) {
  SocketGateway gw("0.0.0.0", R"({"gateway":{"bind":"loopback","auth":{"mode":"none"}}})");
  EXPECT_EQ(gw.wait_exit(10000), 78) << gw.output();
  EXPECT_NE(gw.output().find("gateway.auth.mode"), std::string::npos) << gw.output();
  EXPECT_NE(gw.output().find("0.0.0.0"), std::string::npos) << gw.output();
}

TEST(Security, AReloadCannotTurnAuthOffOnASocketThatIsNotLoopback) {
  SocketGateway gw("0.0.0.0", R"({"gateway":{"auth":{"mode":"token","token":"t0ken"}}})");
  ASSERT_TRUE(gw.wait_output("listening on")) << gw.output();
  std::ofstream(gw.cfg) << R"({"gateway":{"auth":{"mode":"none"}}})";
  ASSERT_EQ(kill(gw.pid, SIGHUP), 0);
  ASSERT_TRUE(gw.wait_output("reload refused")) << gw.output();
  EXPECT_NE(gw.output().find("gateway.auth.mode"), std::string::npos) << gw.output();
  ASSERT_EQ(kill(gw.pid, SIGTERM), 0);
  EXPECT_EQ(gw.wait_exit(10000), 0) << "still running the old configuration until stopped";
}

}  // namespace
}  // namespace clawgate::test
