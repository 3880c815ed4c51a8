// Daemon tests: the canvas host of a real `clawgate gateway`, driven by a real HTTP client
// (Boost.Beast) and real WebSocket clients. Files from <state>/canvas, the capability URL in
// hello-ok and its death with its connection, Bearer auth, 429 after repeated failures, live
// reload after a file write, the switches that turn the host off, and the timings the report
// quotes (a 100 KB file over loopback, file write -> "reload").
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#include "test_node.hpp"
#include "test_support.hpp"

namespace clawgate::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kWait = 10000;

std::string port_of(const GatewayProcess& gw) {
  const std::string& u = gw.url();
  return u.substr(u.rfind(':') + 1);
}

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

HttpResult http_get(const GatewayProcess& gw, const std::string& target,
                    std::vector<std::pair<std::string, std::string>> headers = {},
                    http::verb verb = http::verb::get) {
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  sock.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port_of(gw)))});
  http::request<http::empty_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1:" + port_of(gw));
  for (const auto& [k, v] : headers) req.set(k, v);
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  if (verb == http::verb::head) parser.skip(true);
  http::read(sock, buf, parser);
  HttpResult r;
  r.status = static_cast<int>(parser.get().result_int());
  for (const auto& f : parser.get())
    r.headers[std::string(f.name_string())] = std::string(f.value());
  r.body = parser.get().body();
  return r;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string canvas_dir(const GatewayProcess& gw) {
  const std::string dir = gw.state_dir() + "/canvas";
  EXPECT_TRUE(eventually([&] { return fs::is_directory(dir); }, kWait)) << dir;
  return dir;
}

Json hello_of(const GatewayProcess& gw, WsClient& ws, GatewayClient& gc) {
  (void)ws;
  ConnectOptions o;
  o.url = "ws://127.0.0.1:" + port_of(gw);
  o.token = gw.token();
  return gc.connect(o);
}

std::string cap_path_of(const std::string& url, const std::string& port) {
  const std::regex re("^http://127\\.0\\.0\\.1:" + port + "(/__openclaw__/cap/[A-Za-z0-9_-]{24})$");
  std::smatch m;
  EXPECT_TRUE(std::regex_match(url, m, re)) << url;
  return m.size() > 1 ? m[1].str() : "";
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

TEST(Canvas, ServesTheCanvasDirectoryOnTheGatewayPort) {
  GatewayProcess gw;
  const std::string dir = canvas_dir(gw);
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);  // 0700
  // The starter page, with the live-reload script.
  HttpResult r = http_get(gw, "/__openclaw__/canvas/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<h1>Canvas</h1>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/__openclaw__/ws"), std::string::npos);
  write_file(dir + "/页面.html", "<html><body><p id=x>你好</p></body></html>");
  r = http_get(gw, "/__openclaw__/canvas/%E9%A1%B5%E9%9D%A2.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("你好"), std::string::npos);
  EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/missing.html").status, 404);
  EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/%2e%2e/gateway-token").status, 400);
  fs::create_symlink(gw.state_dir() + "/gateway-token", dir + "/token-link");
  r = http_get(gw, "/__openclaw__/canvas/token-link");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find(gw.token()), std::string::npos);
  EXPECT_EQ(http_get(gw, "/__openclaw__/a2ui/a2ui.bundle.js").status, 200);
  // HEAD says the length GET would send, and sends nothing.
  r = http_get(gw, "/__openclaw__/canvas/%E9%A1%B5%E9%9D%A2.html", {}, http::verb::head);
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(std::stoul(r.headers["Content-Length"]), 40u);
  // The WebChat page and the 426 for everything else are as before.
  EXPECT_EQ(http_get(gw, "/").status, 200);
  EXPECT_EQ(http_get(gw, "/elsewhere").status, 426);

  // Timing: a 100 KB file over loopback, one connection per request (as websocketpp serves).
  write_file(dir + "/big.bin", std::string(100 * 1024, 'b'));
  std::vector<double> ms;
  for (int i = 0; i < 50; ++i) {
    const auto t0 = Clock::now();
    r = http_get(gw, "/__openclaw__/canvas/big.bin");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ASSERT_EQ(r.body.size(), 100u * 1024);
  }
  std::printf("[canvas] GET of a 100 KB file over loopback: p50 %.2f ms, p99 %.2f ms (n=50)\n",
              percentile(ms, 0.5), percentile(ms, 0.99));
}

TEST(Canvas, BeyondLoopbackTheHelloOkCapabilityOrTheTokenIsNeeded) {
  GatewayProcess gw({}, R"({"gateway": {"bind": "lan"}})");
  canvas_dir(gw);
  const std::string port = port_of(gw);
  EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/").status, 401);
  EXPECT_EQ(
      http_get(gw, "/__openclaw__/canvas/", {{"Authorization", "Bearer " + gw.token()}}).status,
      200);
  EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/", {{"Authorization", "Bearer nope"}}).status, 401);

  std::string cap;
  {
    WsClient ws;
    GatewayClient gc(ws);
    const Json hello = hello_of(gw, ws, gc);
    ASSERT_TRUE(hello.contains("pluginSurfaceUrls")) << hello.dump();
    cap = cap_path_of(hello["pluginSurfaceUrls"]["canvas"].get<std::string>(), port);
    ASSERT_FALSE(cap.empty());
    EXPECT_EQ(http_get(gw, cap + "/__openclaw__/canvas/").status, 200);
    const std::string token = cap.substr(cap.rfind('/') + 1);
    EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/index.html?oc_cap=" + token).status, 200);
    EXPECT_EQ(http_get(gw, cap + "/__openclaw__/a2ui/a2ui.bundle.js").status, 200);

    // The live-reload socket takes the same capability, and nothing less.
    WsClient reload;
    reload.connect("ws://127.0.0.1:" + port + cap + "/__openclaw__/ws");
    try {
      WsClient bare;
      bare.connect("ws://127.0.0.1:" + port + "/__openclaw__/ws");
      ADD_FAILURE() << "a reload socket opened without a credential";
    } catch (const WsError& e) {
      EXPECT_EQ(e.http_status, 401) << e.what();
    }
    write_file(gw.state_dir() + "/canvas/index.html", "<p>changed</p>");
    const WsMessage m = reload.read(kWait);
    EXPECT_EQ(m.data, "reload");
    // A second connection gets its own capability.
    WsClient ws2;
    GatewayClient gc2(ws2);
    const std::string cap2 =
        cap_path_of(hello_of(gw, ws2, gc2)["pluginSurfaceUrls"]["canvas"].get<std::string>(), port);
    EXPECT_NE(cap2, cap);
  }
  // Its connection closed: the capability is dead.
  EXPECT_TRUE(
      eventually([&] { return http_get(gw, cap + "/__openclaw__/canvas/").status == 401; }, kWait));
}

// A node refreshes its canvas URL as upstream's do (node.pluginSurface.refresh): a new
// capability for its connection that serves the canvas, and an expiry in the future (that the
// old one dies at once is CapabilityStore's unit test). Loopback-bound, so the node pairs
// silently; the capability is then checked through a request that is not local.
TEST(Canvas, ANodeRefreshesItsCapabilityURL) {
  GatewayProcess gw;
  canvas_dir(gw);
  const std::string port = port_of(gw);
  Json hello;
  auto node = connect_node(gw, &hello, kWait);
  ASSERT_TRUE(hello.contains("pluginSurfaceUrls")) << hello.dump();
  const std::string first =
      cap_path_of(hello["pluginSurfaceUrls"]["canvas"].get<std::string>(), port);

  GatewayClient gc(*node);
  const int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const Json r = gc.call("node.pluginSurface.refresh", {{"surface", "canvas"}});
  EXPECT_EQ(r["surface"], "canvas");
  const std::string second = cap_path_of(r["pluginSurfaceUrls"]["canvas"].get<std::string>(), port);
  ASSERT_FALSE(second.empty()) << r.dump();
  EXPECT_NE(second, first);
  EXPECT_GT(r["expiresAtMs"].get<int64_t>(), before);
  // With a Host that is not this machine's the request is not local: only a capability lets
  // it in.
  const std::vector<std::pair<std::string, std::string>> remote = {{"Host", "gw.example:443"}};
  EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/", remote).status, 401);
  EXPECT_EQ(http_get(gw, second + "/__openclaw__/canvas/", remote).status, 200);
  EXPECT_EQ(http_get(gw, first + "/__openclaw__/canvas/", remote).status, 401) << "replaced";

  try {
    gc.call("node.pluginSurface.refresh", {{"surface", "白板 🧩"}});
    ADD_FAILURE() << "an unknown surface was refreshed";
  } catch (const GatewayError& e) {
    EXPECT_EQ(e.code, "UNAVAILABLE") << e.message;
  }
}

TEST(Canvas, RepeatedCapabilityFailuresGet429) {
  GatewayProcess gw(
      {}, R"({"gateway": {"bind": "lan", "auth": {"rateLimit": {"exemptLoopback": false}}}})");
  canvas_dir(gw);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(
        http_get(gw, "/__openclaw__/cap/guessguessguessguessgues/__openclaw__/canvas/").status,
        401);
  const HttpResult r =
      http_get(gw, "/__openclaw__/canvas/", {{"Authorization", "Bearer " + gw.token()}});
  EXPECT_EQ(r.status, 429);
  EXPECT_GT(std::stoi(r.headers.count("Retry-After") ? r.headers.at("Retry-After") : "0"), 0);
  // The gateway's own WebSocket auth shares the limiter (one bucket per client, as upstream).
  WsClient ws;
  GatewayClient gc(ws);
  try {
    hello_of(gw, ws, gc);
    ADD_FAILURE() << "connected while locked out";
  } catch (const GatewayError& e) {
    EXPECT_EQ(e.details.value("code", ""), "AUTH_RATE_LIMITED") << e.what();
  }
}

TEST(Canvas, AWriteReachesTheReloadSocket) {
  GatewayProcess gw;
  const std::string dir = canvas_dir(gw);
  WsClient reload;
  reload.connect("ws://127.0.0.1:" + port_of(gw) + "/__openclaw__/ws");
  // A foreign page may not listen in.
  try {
    WsClient foreign;
    WsClient::Options o;
    o.origin = "https://evil.example";
    foreign.connect("ws://127.0.0.1:" + port_of(gw) + "/__openclaw__/ws", o);
    ADD_FAILURE() << "a foreign origin opened a reload socket";
  } catch (const WsError& e) {
    EXPECT_EQ(e.http_status, 403);
  }
  std::vector<double> ms;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = Clock::now();
    write_file(dir + "/index.html", "<p>" + std::to_string(i) + "</p>");
    const WsMessage m = reload.read(kWait);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ASSERT_EQ(m.data, "reload");
    // Let the fold window close, so each write is its own reload.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    while (true) {
      try {
        const WsMessage extra = reload.read(1);
        ASSERT_EQ(extra.data, "reload");
      } catch (const TimeoutError&) {
        break;
      }
    }
  }
  std::printf("[canvas] file write -> \"reload\" on the socket: p50 %.1f ms, max %.1f ms (n=20)\n",
              percentile(ms, 0.5), percentile(ms, 1.0));
  // New subdirectories are watched too.
  fs::create_directories(dir + "/docs/a");
  reload.read(kWait);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  while (true) {
    try {
      reload.read(1);
    } catch (const TimeoutError&) {
      break;
    }
  }
  write_file(dir + "/docs/a/page.html", "<p>deep</p>");
  EXPECT_EQ(reload.read(kWait).data, "reload");
}

TEST(Canvas, TurnedOffByConfigOrEnvironment) {
  for (int variant = 0; variant < 2; ++variant) {
    std::map<std::string, std::string> env;
    std::string config;
    if (variant == 0)
      env["OPENCLAW_SKIP_CANVAS_HOST"] = "1";
    else
      config = R"({"plugins": {"entries": {"canvas": {"config": {"host": {"enabled": false}}},
                                            "some-other-plugin": {"enabled": true}}}})";
    GatewayProcess gw(env, config);
    WsClient ws;
    GatewayClient gc(ws);
    const Json hello = hello_of(gw, ws, gc);
    EXPECT_FALSE(hello.contains("pluginSurfaceUrls")) << variant;
    EXPECT_EQ(http_get(gw, "/__openclaw__/canvas/").status, 404) << variant;
    EXPECT_FALSE(fs::exists(gw.state_dir() + "/canvas")) << variant;
    EXPECT_EQ(gw.output().find("unknown config key"), std::string::npos) << gw.output();
  }
}

}  // namespace
}  // namespace clawgate::test
