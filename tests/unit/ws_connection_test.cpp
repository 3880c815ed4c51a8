// WsConnection against a real loopback WebSocket server (Beast, synchronous, in a thread): the
// outcomes a channel worker acts on — messages in order and intact, the platform's close code
// (Discord's 4004 means a bad token), oversize and binary messages, a peer that stops answering
// pings, a refused connection, and URLs that are not WebSocket URLs.
#include "ws_connection.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace clawgate::workers {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// One connection, served by `script` on its own thread once the upgrade is done.
class Server {
 public:
  using Script = std::function<void(websocket::stream<tcp::socket>&)>;
  explicit Server(Script script)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, script = std::move(script)] {
      beast::error_code ec;
      tcp::socket s = acceptor_.accept(ec);
      if (ec) return;
      websocket::stream<tcp::socket> ws(std::move(s));
      ws.set_option(websocket::stream_base::decorator(
          [](websocket::response_type& res) { res.set(beast::http::field::server, "test"); }));
      websocket::request_type req;
      beast::flat_buffer buf;
      beast::http::read(ws.next_layer(), buf, req, ec);
      if (ec) return;
      target = std::string(req.target());
      ws.accept(req, ec);
      if (ec) return;
      try {
        script(ws);
      } catch (const std::exception&) {  // the client went away: the test's outcome says so
      }
    });
  }
  ~Server() { thread_.join(); }
  std::string url(const std::string& rest = "/") const {
    return "ws://127.0.0.1:" + std::to_string(port_) + rest;
  }
  std::string target;  // the upgrade request's target, once accepted

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
};

struct Outcome {
  bool opened = false;
  std::vector<std::string> texts;
  std::optional<uint16_t> code;
  std::string reason, error;
};

// Runs `conn` until it closes (or 10 s pass).
struct Client {
  asio::io_context io;
  Outcome out;
  std::shared_ptr<WsConnection> conn;
  std::function<void(const std::string&)> on_text;

  Client() : Client(WsConnection::Options()) {}
  explicit Client(WsConnection::Options o) {
    WsConnection::Handlers h;
    h.on_open = [this] { out.opened = true; };
    h.on_text = [this](std::string t) {
      out.texts.push_back(t);
      if (on_text) on_text(t);
    };
    h.on_closed = [this](uint16_t code, std::string reason, std::string error) {
      EXPECT_FALSE(out.code) << "on_closed ran twice";
      out.code = code;
      out.reason = std::move(reason);
      out.error = std::move(error);
    };
    conn = WsConnection::create(io, std::move(h), std::move(o));
  }
  void run() {
    for (int i = 0; i < 200 && !out.code; ++i) io.run_for(std::chrono::milliseconds(50));
  }
};

TEST(WsEndpoint, ReadsPlatformGatewayURLs) {
  auto r = parse_ws_endpoint("wss://gateway.discord.gg?v=10&encoding=json");
  ASSERT_EQ(r.error, "");
  EXPECT_TRUE(r.endpoint.tls);
  EXPECT_EQ(r.endpoint.host, "gateway.discord.gg");
  EXPECT_EQ(r.endpoint.port, "443");
  EXPECT_EQ(r.endpoint.target, "/?v=10&encoding=json");
  r = parse_ws_endpoint("ws://[::1]:8080/link/?ticket=abc");
  ASSERT_EQ(r.error, "");
  EXPECT_FALSE(r.endpoint.tls);
  EXPECT_EQ(r.endpoint.host, "::1");
  EXPECT_EQ(r.endpoint.port, "8080");
  EXPECT_EQ(r.endpoint.target, "/link/?ticket=abc");
}

TEST(WsEndpoint, RefusesWhatIsNotAWebSocketURL) {
  for (const char* bad : {"https://discord.com", "ws://", "ws://:80/", "ws://user:pw@host/",
                          "ws://host:0/", "ws://host:65536/", "ws://host:99999999999999999999/",
                          "ws://host/a#frag", "ws://host/a b", "ws://[::1/", "ws://[::1]x/"})
    EXPECT_NE(parse_ws_endpoint(bad).error, "") << bad;
}

TEST(WsConnection, SendsAndReceivesInOrderThenReportsThePlatformsCloseCode) {
  Server server([](websocket::stream<tcp::socket>& ws) {
    beast::flat_buffer buf;
    for (int i = 0; i < 3; ++i) {
      ws.read(buf);
      ws.text(true);
      ws.write(buf.data());
      buf.consume(buf.size());
    }
    ws.close(websocket::close_reason(static_cast<websocket::close_code>(4004),
                                     "Authentication failed."));
    for (beast::error_code ec; !ec;) ws.read(buf, ec);
  });
  Client c;
  c.conn->send("你好，世界");  // before open: queued
  c.conn->connect(server.url("/?v=10&encoding=json"));
  c.conn->send("مرحبا بالعالم");
  c.conn->send("🎉👩‍👩‍👧");
  c.run();
  EXPECT_TRUE(c.out.opened);
  EXPECT_EQ(c.out.texts,
            (std::vector<std::string>{"你好，世界", "مرحبا بالعالم", "🎉👩‍👩‍👧"}));
  ASSERT_TRUE(c.out.code);
  EXPECT_EQ(*c.out.code, 4004);
  EXPECT_EQ(c.out.reason, "Authentication failed.");
  EXPECT_EQ(c.out.error, "");
  EXPECT_EQ(server.target, "/?v=10&encoding=json");
}

TEST(WsConnection, ACloseFromTheWorkerEndsWithThePeersEcho) {
  Server server([](websocket::stream<tcp::socket>& ws) {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);  // the close frame: Beast echoes it
  });
  Client c;
  c.conn->connect(server.url());
  c.io.run_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(c.conn->open());
  c.conn->close(4000, "resuming");
  c.run();
  ASSERT_TRUE(c.out.code);
  EXPECT_EQ(*c.out.code, 4000);
  EXPECT_EQ(c.out.error, "");
  c.conn->send("after close");  // dropped, no crash
}

TEST(WsConnection, AnOversizeMessageEndsTheConnectionWithAnError) {
  Server server([](websocket::stream<tcp::socket>& ws) {
    ws.text(true);
    ws.write(asio::buffer(std::string(4096, 'x')));
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
  });
  WsConnection::Options o;
  o.max_message_bytes = 1024;
  Client c(o);
  c.conn->connect(server.url());
  c.run();
  ASSERT_TRUE(c.out.code);
  EXPECT_TRUE(c.out.texts.empty());
  EXPECT_NE(c.out.error, "");
}

TEST(WsConnection, ABinaryMessageIsRefusedWithCode1003) {
  Server server([](websocket::stream<tcp::socket>& ws) {
    ws.binary(true);
    ws.write(asio::buffer(std::string("\x78\x9c", 2)));
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
  });
  Client c;
  c.conn->connect(server.url());
  c.run();
  ASSERT_TRUE(c.out.code);
  EXPECT_EQ(*c.out.code, 1003);
  EXPECT_TRUE(c.out.texts.empty());
}

TEST(WsConnection, APeerThatStopsAnsweringPingsTimesOut) {
  std::atomic<bool> release{false};
  Server server([&](websocket::stream<tcp::socket>&) {
    // Never reads: pings stay unanswered.
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  WsConnection::Options o;
  o.idle_timeout_ms = 400;
  Client c(o);
  c.conn->connect(server.url());
  const auto start = std::chrono::steady_clock::now();
  c.run();
  release = true;
  ASSERT_TRUE(c.out.code);
  EXPECT_TRUE(c.out.opened);
  EXPECT_NE(c.out.error.find("idle timeout"), std::string::npos) << c.out.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(WsConnection, ARefusedConnectionAndABadURLEachReportOnce) {
  asio::io_context probe;
  tcp::acceptor a(probe, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = a.local_endpoint().port();
  a.close();  // nothing listens there now
  Client refused;
  refused.conn->connect("ws://127.0.0.1:" + std::to_string(port) + "/");
  refused.run();
  ASSERT_TRUE(refused.out.code);
  EXPECT_FALSE(refused.out.opened);
  EXPECT_NE(refused.out.error.find("connect"), std::string::npos) << refused.out.error;

  Client bad;
  bad.conn->connect("http://127.0.0.1/");
  bad.run();
  ASSERT_TRUE(bad.out.code);
  EXPECT_NE(bad.out.error.find("bad URL"), std::string::npos) << bad.out.error;
}

TEST(WsConnection, AbortReportsAtOnceAndNothingAfter) {
  Server server([](websocket::stream<tcp::socket>& ws) {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
  });
  Client c;
  c.conn->connect(server.url());
  c.io.run_for(std::chrono::milliseconds(200));
  c.conn->abort();
  ASSERT_TRUE(c.out.code);
  EXPECT_EQ(c.out.error, "aborted");
  c.io.run_for(std::chrono::milliseconds(100));  // late handlers report nothing more
}

}  // namespace
}  // namespace clawgate::workers
