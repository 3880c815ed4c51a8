// Whole-front tests: the real `clawgate gateway` process on an ephemeral port, driven by a
// real WebSocket client. Each bad input gets its documented error or close code, and the
// server keeps serving other clients afterwards.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <memory>
#include <thread>

#include "gateway_process.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

constexpr int kWait = 5000;

ConnectOptions options(const GatewayProcess& gw) {
  ConnectOptions o;
  o.url = gw.url();
  o.token = gw.token();
  return o;
}

WsClient::Options origin_opts(const std::string& origin) {
  WsClient::Options o;
  o.origin = origin;
  return o;
}

WsClient::Options source_opts(const std::string& ip) {
  WsClient::Options o;
  o.source_ip = ip;
  return o;
}

// A raw socket that has read the challenge and nothing else.
std::unique_ptr<WsClient> raw_after_challenge(const GatewayProcess& gw, WsClient::Options wo = {}) {
  auto ws = std::make_unique<WsClient>();
  ws->connect(gw.url(), wo);
  const WsMessage m = ws->read(kWait);
  EXPECT_FALSE(m.closed);
  EXPECT_EQ(Json::parse(m.data)["event"], "connect.challenge");
  return ws;
}

WsMessage read_until_close(WsClient& ws, Json* last_frame = nullptr) {
  for (int i = 0; i < 100; ++i) {
    WsMessage m = ws.read(kWait);
    if (m.closed) return m;
    if (last_frame) *last_frame = Json::parse(m.data, nullptr, false);
  }
  ADD_FAILURE() << "connection did not close";
  return {};
}

std::string connect_frame(const std::string& token, int min = 3, int max = 4,
                          const std::string& id = "cli", const std::string& mode = "cli") {
  return Json{{"type", "req"},
              {"id", "c1"},
              {"method", "connect"},
              {"params",
               {{"minProtocol", min},
                {"maxProtocol", max},
                {"client", {{"id", id}, {"version", "1.0"}, {"platform", "linux"}, {"mode", mode}}},
                {"scopes", {"operator.admin"}},
                {"auth", {{"token", token}}}}}}
      .dump();
}

// The server still answers a well-behaved client.
void expect_serving(const GatewayProcess& gw) {
  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  EXPECT_EQ(c.call("health")["ok"], true);
}

class Front : public ::testing::Test {
 protected:
  GatewayProcess gw{
      {{"OPENCLAW_HANDSHAKE_TIMEOUT_MS", "800"}, {"CLAWGATE_TICK_INTERVAL_MS", "300"}}};
};

// --- the handshake ------------------------------------------------------------------------

TEST_F(Front, ChallengeThenHelloOkForProtocol4) {
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o = options(gw);
  o.min_protocol = o.max_protocol = 4;
  const Json hello = c.connect(o);
  const Json& ch = c.challenge()["payload"];
  EXPECT_EQ(ch["nonce"].get<std::string>().size(), 36u);
  EXPECT_GT(ch["ts"].get<int64_t>(), 0);
  EXPECT_FALSE(c.challenge().contains("seq"));
  EXPECT_EQ(hello["type"], "hello-ok");
  EXPECT_EQ(hello["protocol"], 4);
  EXPECT_EQ(hello["auth"]["role"], "operator");
  EXPECT_EQ(hello["auth"]["scopes"],
            Json::array({"operator.admin", "operator.read", "operator.write", "operator.approvals",
                         "operator.pairing"}));
  EXPECT_EQ(hello["policy"]["maxPayload"], 26214400);
  EXPECT_EQ(hello["policy"]["tickIntervalMs"], 300);
  const Json methods = hello["features"]["methods"];
  for (const char* m : {"health",
                        "status",
                        "system-presence",
                        "system-event",
                        "last-heartbeat",
                        "logs.tail",
                        "channels.status",
                        "channels.restart",
                        "channels.stop",
                        "channels.start",
                        "channels.logout",
                        "channels.pairing.list",
                        "channels.pairing.approve",
                        "device.pair.list",
                        "device.pair.approve",
                        "device.pair.reject",
                        "device.pair.remove",
                        "device.pair.rename",
                        "device.token.rotate",
                        "device.token.revoke",
                        "send",
                        "agent",
                        "agent.wait",
                        "chat.send",
                        "chat.history",
                        "chat.abort",
                        "sessions.list",
                        "sessions.preview",
                        "sessions.patch",
                        "sessions.reset",
                        "sessions.delete",
                        "sessions.compact",
                        "cron.list",
                        "cron.add",
                        "cron.update",
                        "cron.remove",
                        "cron.run",
                        "cron.runs",
                        "config.get",
                        "config.schema",
                        "node.list",
                        "node.describe",
                        "node.rename",
                        "node.invoke",
                        "node.invoke.result",
                        "node.event",
                        "node.pluginSurface.refresh",
                        "node.pair.list",
                        "node.pair.approve",
                        "node.pair.reject",
                        "node.pair.remove"})
    EXPECT_NE(std::find(methods.begin(), methods.end(), m), methods.end()) << m;
  // 33, the 7 device.* methods, the 11 node ones.
  EXPECT_EQ(methods.size(), 51u) << "only implemented methods are advertised";
  EXPECT_EQ(hello["snapshot"]["presence"][0]["reason"], "self");
  EXPECT_TRUE(hello["snapshot"]["health"]["ok"]);
}

TEST_F(Front, Protocol3ClientsAreServedWithProtocol3) {
  for (auto [id, mode] : {std::pair{"openclaw-macos", "ui"}, std::pair{"cli", "cli"}}) {
    WsClient ws;
    GatewayClient c(ws);
    ConnectOptions o = options(gw);
    o.min_protocol = o.max_protocol = 3;
    o.client_id = id;
    o.client_mode = mode;
    EXPECT_EQ(c.connect(o)["protocol"], 3) << id;
    EXPECT_EQ(c.call("health")["ok"], true);
  }
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o = options(gw);
  o.min_protocol = 3;
  o.max_protocol = 7;
  EXPECT_EQ(c.connect(o)["protocol"], 4);
}

TEST_F(Front, ProtocolMismatchCloses1002) {
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o = options(gw);
  o.min_protocol = 5;
  o.max_protocol = 6;
  try {
    c.connect(o);
    FAIL() << "connected";
  } catch (const GatewayError& e) {
    EXPECT_EQ(e.code, "INVALID_REQUEST");
    EXPECT_EQ(e.message, "protocol mismatch");
    EXPECT_EQ(e.details["code"], "PROTOCOL_MISMATCH");
    EXPECT_EQ(e.details["expectedProtocol"], 4);
    EXPECT_EQ(e.close_code, 1002);
  }
  expect_serving(gw);
}

TEST_F(Front, WrongTokenCloses1008WithUpstreamDetails) {
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o = options(gw);
  o.token = "wrong";
  try {
    c.connect(o);
    FAIL() << "connected";
  } catch (const GatewayError& e) {
    EXPECT_EQ(e.details["code"], "AUTH_TOKEN_MISMATCH");
    EXPECT_EQ(e.details["authReason"], "token_mismatch");
    EXPECT_EQ(e.close_code, 1008);
  }
  o.token.clear();
  WsClient ws2;
  GatewayClient c2(ws2);
  try {
    c2.connect(o);
    FAIL() << "connected without a token";
  } catch (const GatewayError& e) {
    // Neither a shared secret nor a device: OpenClaw asks for a device identity.
    EXPECT_EQ(e.code, "NOT_PAIRED");
    EXPECT_EQ(e.details["code"], "DEVICE_IDENTITY_REQUIRED");
    EXPECT_EQ(e.close_code, 1008);
  }
  expect_serving(gw);
}

TEST_F(Front, NonJsonFirstFrameCloses1008) {
  auto ws = raw_after_challenge(gw);
  ws->send_text("{not json");
  const WsMessage m = read_until_close(*ws);
  EXPECT_EQ(m.close_code, 1008);
  expect_serving(gw);
}

TEST_F(Front, RawNulByteInFirstFrameCloses1008) {
  auto ws = raw_after_challenge(gw);
  std::string frame = connect_frame(gw.token());
  frame.insert(frame.find("cli"), 1, '\0');
  ws->send_text(frame);
  EXPECT_EQ(read_until_close(*ws).close_code, 1008);
  expect_serving(gw);
}

TEST_F(Front, NonConnectFirstRequestGetsErrorThenClose1008) {
  auto ws = raw_after_challenge(gw);
  ws->send_text(R"({"type":"req","id":"h1","method":"health"})");
  Json res;
  const WsMessage m = read_until_close(*ws, &res);
  EXPECT_EQ(res["id"], "h1");
  EXPECT_EQ(res["error"]["code"], "INVALID_REQUEST");
  EXPECT_EQ(res["error"]["message"], "invalid handshake: first request must be connect");
  EXPECT_EQ(m.close_code, 1008);
  EXPECT_EQ(m.close_reason, "invalid handshake: first request must be connect");
}

TEST_F(Front, InvalidConnectParamsNameTheField) {
  auto ws = raw_after_challenge(gw);
  Json f = Json::parse(connect_frame(gw.token()));
  f["params"]["client"]["id"] = "not-a-client";
  ws->send_text(f.dump());
  Json res;
  EXPECT_EQ(read_until_close(*ws, &res).close_code, 1008);
  EXPECT_EQ(res["error"]["message"],
            "invalid connect params: at /client/id: must be equal to one of the allowed values");
}

TEST_F(Front, OversizeFrameBeforeHelloCloses1009) {
  // The server judges a frame by its header and, 1009 being terminal, drops TCP right after its
  // close frame. Writing the whole 70 KiB would race that reset, so send the header and a few
  // bytes by hand: a masked text frame announcing 70 KiB.
  auto ws = raw_after_challenge(gw);
  std::string frame = {'\x81', '\xff', 0, 0, 0, 0, 0, 1, 0x18, 0};  // FIN|text, mask|127, 70 KiB
  frame += std::string("\x01\x02\x03\x04", 4) + std::string(64, 'x');
  ws->send_raw(frame);
  EXPECT_EQ(read_until_close(*ws).close_code, 1009);
  expect_serving(gw);
}

TEST_F(Front, DeepNestingIsRefusedWithoutHarm) {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  auto ws = raw_after_challenge(gw);
  ws->send_text(R"({"type":"req","id":"c1","method":"connect","params":)" + deep + "}");
  EXPECT_EQ(read_until_close(*ws).close_code, 1008);

  WsClient ok;
  GatewayClient c(ok);
  c.connect(options(gw));
  ok.send_text(R"({"type":"req","id":"d1","method":"health","params":{"x":)" + deep + "}}");
  // ...answered with an error (its id unread, so "invalid"), and the connection stays open.
  Json res = Json::object();
  for (int i = 0; i < 20 && res.value("type", "") != "res"; ++i) {
    res = Json::parse(ok.read(kWait).data, nullptr, false);
    if (!res.is_object()) res = Json::object();
  }
  EXPECT_EQ(res["id"], "invalid") << res.dump();
  EXPECT_EQ(res["error"]["code"], "INVALID_REQUEST");
  EXPECT_EQ(res["error"]["message"], "invalid request frame: nested too deeply");
  EXPECT_TRUE(c.request_frame("status", Json::object())["ok"]);
}

TEST_F(Front, InvalidUtf8Closes1007) {
  auto ws = raw_after_challenge(gw);
  ws->send_text("{\"type\":\"req\",\"id\":\"\xff\xfe\",\"method\":\"connect\"}");
  EXPECT_EQ(read_until_close(*ws).close_code, 1007);
  expect_serving(gw);
}

TEST_F(Front, SilentSocketIsClosedAtTheHandshakeDeadline) {
  auto ws = raw_after_challenge(gw);
  const auto t0 = std::chrono::steady_clock::now();
  const WsMessage m = read_until_close(*ws);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(m.close_code, 1000);
  EXPECT_EQ(m.close_reason, "");
  EXPECT_GE(waited, std::chrono::milliseconds(500));
  expect_serving(gw);
}

TEST_F(Front, PreAuthConnectionsPerAddressAreCapped) {
  std::vector<std::unique_ptr<WsClient>> held;
  int refused = 0, refused_status = 0;
  for (int i = 0; i < 100; ++i) {
    auto ws = std::make_unique<WsClient>();
    try {
      ws->connect(gw.url(), source_opts("127.0.0.1"));
      held.push_back(std::move(ws));
    } catch (const WsError& e) {
      ++refused;
      refused_status = e.http_status;
    }
  }
  EXPECT_EQ(held.size(), 32u);
  EXPECT_EQ(refused, 68);
  EXPECT_EQ(refused_status, 429);
  // Another address is unaffected, even while 127.0.0.1 is at its cap.
  WsClient other;
  GatewayClient c(other);
  ConnectOptions o = options(gw);
  o.ws.source_ip = "127.0.0.2";
  EXPECT_TRUE(c.connect(o)["type"] == "hello-ok");
  // Slots free up as pending sockets go away: 127.0.0.1 gets its full quota back.
  held.clear();
  EXPECT_TRUE(eventually(
      [&] {
        std::vector<std::unique_ptr<WsClient>> again;
        try {
          for (int i = 0; i < 32; ++i) {
            again.push_back(std::make_unique<WsClient>());
            again.back()->connect(gw.url(), source_opts("127.0.0.1"));
          }
          return true;
        } catch (const WsError&) {
          return false;
        }
      },
      10000, 100));
  expect_serving(gw);
}

TEST_F(Front, NonLocalBrowserOriginsAreRefusedBeforeTheUpgrade) {
  WsClient ws;
  try {
    ws.connect(gw.url(), origin_opts("https://evil.example"));
    FAIL() << "upgraded";
  } catch (const WsError& e) {
    EXPECT_EQ(e.http_status, 403);
  }
  WsClient local;
  local.connect(gw.url(), origin_opts("http://localhost:18789"));
  EXPECT_TRUE(local.is_open());
}

// --- after hello-ok ---------------------------------------------------------------------------

TEST_F(Front, RequestErrorsKeepTheConnectionOpen) {
  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  Json r = c.request_frame("no.such.method", Json::object());
  EXPECT_EQ(r["error"]["message"], "unknown method: no.such.method");
  r = c.request_frame("system-event", Json{{"text", 123}});
  EXPECT_EQ(r["error"]["message"], "invalid system-event params: at /text: must be string");
  r = c.request_frame("system-event", Json{{"text", "x"}, {"bogusField", 1}});
  EXPECT_EQ(r["error"]["message"],
            "invalid system-event params: at root: unexpected property 'bogusField'");
  r = c.request_frame("logs.tail", Json{{"limit", 0}});
  EXPECT_EQ(r["error"]["message"], "invalid logs.tail params: at /limit: must be >= 1");
  r = c.request_frame("system-event", Json{{"text", std::string("a\0b", 3)}});
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST");
  r = c.request_frame("connect", Json::object());
  EXPECT_EQ(r["error"]["message"], "connect is only valid as the first request");
  ws.send_text("{not json");  // ignored, as upstream does
  ws.send_text(R"({"type":"event","event":"x"})");
  r = Json::parse(ws.read(kWait).data);
  EXPECT_EQ(r["id"], "invalid");
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST");
  EXPECT_EQ(c.call("health")["ok"], true);
}

TEST_F(Front, ScopesAreEnforcedAndDevicelessNonCliClientsGetNone) {
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o = options(gw);
  o.client_id = "test";
  o.client_mode = "test";
  const Json hello = c.connect(o);
  EXPECT_EQ(hello["auth"]["scopes"], Json::array());
  EXPECT_EQ(c.call("health")["ok"], true) << "health needs no scope";
  Json r = c.request_frame("status", Json::object());
  EXPECT_EQ(r["error"]["code"], "FORBIDDEN");
  EXPECT_EQ(r["error"]["message"], "missing scope: operator.read");
  EXPECT_EQ(r["error"]["details"]["code"], "MISSING_SCOPE");
  r = c.request_frame("system-event", Json{{"text", "x"}});
  EXPECT_EQ(r["error"]["details"]["missingScope"], "operator.admin");
}

TEST_F(Front, ReadScopeCannotCallAdminMethods) {
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o = options(gw);
  o.scopes = {"operator.read"};
  c.connect(o);
  EXPECT_TRUE(c.call("status").contains("uptimeMs"));
  EXPECT_EQ(c.request_frame("system-event", Json{{"text", "x"}})["error"]["code"], "FORBIDDEN");
  EXPECT_FALSE(c.call("status").contains("stateDir")) << "admin-only details hidden";
}

TEST_F(Front, SystemEventBroadcastsPresenceBeforeItsResponse) {
  WsClient watcher_ws;
  GatewayClient watcher(watcher_ws);
  ConnectOptions wo = options(gw);
  wo.client_id = "openclaw-macos";
  wo.client_mode = "ui";
  watcher.connect(wo);
  const Json own = watcher.wait_event("presence", kWait);  // its own arrival
  const int64_t v0 = own["stateVersion"]["presence"];

  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  const std::string id = "se1";
  ws.send_text(
      Json{{"type", "req"}, {"id", id}, {"method", "system-event"}, {"params", {{"text", "hello"}}}}
          .dump());
  Json first = Json::parse(ws.read(kWait).data);
  while (first["event"] == "health" || first["event"] == "tick")
    first = Json::parse(ws.read(kWait).data);
  EXPECT_EQ(first["event"], "presence") << first.dump();
  EXPECT_EQ(Json::parse(ws.read(kWait).data)["id"], id);

  const Json ev = watcher.wait_event("presence", kWait);
  EXPECT_EQ(ev["stateVersion"]["presence"], v0 + 1);
  bool found = false;
  for (const auto& e : ev["payload"]["presence"]) found |= e.value("text", "") == "hello";
  EXPECT_TRUE(found);
  const Json listed = c.call("system-presence");
  EXPECT_GE(listed.size(), 3u);  // self, the watcher, the event
}

TEST_F(Front, EventsCarryGaplessPerConnectionSeq) {
  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  int64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    const Json e = c.next_event(kWait);
    ASSERT_TRUE(e.contains("seq")) << e.dump();
    if (last) {
      EXPECT_EQ(e["seq"].get<int64_t>(), last + 1);
    }
    last = e["seq"];
    if (e["event"] == "tick") {
      EXPECT_GT(e["payload"]["ts"].get<int64_t>(), 0);
    }
  }
}

TEST_F(Front, LogsTailServesTheGatewayLog) {
  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  const Json t = c.call("logs.tail", Json{{"limit", 50}});
  bool saw_listening = false;
  for (const auto& l : t["lines"])
    saw_listening |= Json::parse(l.get<std::string>())["message"].get<std::string>().find(
                         "listening on") != std::string::npos;
  EXPECT_TRUE(saw_listening);
  c.call("system-event", Json{{"text", "marker-42"}});
  const Json more = c.call("logs.tail", Json{{"cursor", t["cursor"]}});
  bool saw_marker = false;
  for (const auto& l : more["lines"])
    saw_marker |= l.get<std::string>().find("marker-42") != std::string::npos;
  EXPECT_TRUE(saw_marker);
}

TEST_F(Front, SigtermBroadcastsShutdownThenCloses1012) {
  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  ASSERT_EQ(::kill(gw.pid(), SIGTERM), 0);
  const Json ev = c.wait_event("shutdown", kWait);
  EXPECT_EQ(ev["payload"]["reason"], "gateway stopping");
  WsMessage m;
  for (int i = 0; i < 10 && !(m = ws.read(kWait)).closed;) ++i;
  EXPECT_EQ(m.close_code, 1012);
  EXPECT_EQ(m.close_reason, "service restart");
}

// --- configurations ---------------------------------------------------------------------------

TEST(FrontConfig, FailedAuthIsRateLimitedPerAddress) {
  GatewayProcess gw(
      {}, R"({"gateway":{"auth":{"rateLimit":{"maxAttempts":3,"exemptLoopback":false}}}})");
  for (int i = 0; i < 3; ++i) {
    WsClient ws;
    GatewayClient c(ws);
    ConnectOptions o = options(gw);
    o.token = "wrong";
    EXPECT_THROW(c.connect(o), GatewayError);
  }
  WsClient ws;
  GatewayClient c(ws);
  try {
    c.connect(options(gw));  // the right token, but locked out
    FAIL() << "connected while locked out";
  } catch (const GatewayError& e) {
    EXPECT_EQ(e.details["code"], "AUTH_RATE_LIMITED");
    EXPECT_EQ(e.close_code, 1008);
  }
  WsClient other;  // another address (IPv4-mapped and plain forms are the same address)
  GatewayClient c2(other);
  ConnectOptions o = options(gw);
  o.ws.source_ip = "127.0.0.3";
  EXPECT_EQ(c2.connect(o)["type"], "hello-ok");
}

TEST(FrontConfig, PasswordMode) {
  GatewayProcess gw({}, R"({"gateway":{"auth":{"mode":"password","password":"hunter2"}}})", "");
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o;
  o.url = gw.url();
  o.password = "hunter2";
  EXPECT_EQ(c.connect(o)["type"], "hello-ok");
  WsClient bad;
  GatewayClient c2(bad);
  o.password = "hunter3";
  try {
    c2.connect(o);
    FAIL();
  } catch (const GatewayError& e) {
    EXPECT_EQ(e.details["code"], "AUTH_PASSWORD_MISMATCH");
  }
}

TEST(FrontConfig, SlowConsumerIsClosedWithoutSlowingOthers) {
  GatewayProcess gw(std::map<std::string, std::string>{{"CLAWGATE_MAX_BUFFERED_BYTES", "65536"}});
  // The slow client connects, then never reads again; a tiny receive buffer fills quickly.
  WsClient slow_ws;
  GatewayClient slow(slow_ws);
  ConnectOptions so = options(gw);
  so.ws.recv_buffer = 4096;
  slow.connect(so);

  WsClient ws;
  GatewayClient c(ws);
  c.connect(options(gw));
  // health {probe:true} pushes a non-droppable health event to everyone.
  bool closed = false;
  for (int i = 0; i < 20000 && !closed; ++i) {
    c.call("health", Json{{"probe", true}});
    if (i % 500 == 499) closed = gw.output().find("closing slow consumer") != std::string::npos;
  }
  EXPECT_TRUE(closed) << "the slow client was never closed";
  EXPECT_EQ(c.call("health")["ok"], true) << "the fast client keeps working";
  WsMessage m;
  for (int i = 0; i < 100000 && !(m = slow_ws.read(kWait)).closed; ++i) {
  }
  EXPECT_EQ(m.close_code, 1008);
  EXPECT_EQ(m.close_reason, "slow consumer");
}

TEST(FrontConfig, ConfigErrorExits78) {
  try {
    GatewayProcess gw({}, R"({"gateway":{"port":"nope"}})");
    FAIL() << "started with a bad config";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited with 78"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gateway.port"), std::string::npos) << e.what();
  }
}

TEST(FrontConfig, GeneratesATokenOnceWhenNoneIsGivenAndNeverPrintsItToALog) {
  GatewayProcess gw({}, "", "");
  ASSERT_TRUE(gw.wait_output("Generated a gateway token"));
  const std::string out = gw.output();
  // stdout is a pipe here, as under systemd (the journal): the token itself stays in its file.
  const std::string path = gw.state_dir() + "/gateway-token";
  EXPECT_NE(out.find("stored in " + path), std::string::npos) << out;
  std::string token = read_text(path);
  while (!token.empty() && token.back() == '\n') token.pop_back();
  ASSERT_EQ(token.size(), 43u);
  EXPECT_EQ(out.find(token), std::string::npos) << "the token was printed to a non-terminal";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  WsClient ws;
  GatewayClient c(ws);
  ConnectOptions o;
  o.url = gw.url();
  o.token = token;
  EXPECT_EQ(c.connect(o)["type"], "hello-ok");
}

}  // namespace
}  // namespace clawgate::test
