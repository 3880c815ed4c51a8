// WsConnection: one client WebSocket connection (ws:// or wss://) on a worker's Asio loop, for
// platforms whose bots live on a WebSocket gateway (Discord, Slack Socket Mode). Boost.Beast;
// TLS verifies the certificate against the system CA store and the URL's host name.
// Reconnecting is the caller's job: a connection is used once.
// Fails: every outcome ends in on_closed exactly once, after on_open or instead of it: the
// peer's close code and reason, or `error` set (bad URL, DNS, connect, TLS, upgrade refused,
// timeout, a message over the size bound, a binary message, a dropped connection, abort()).
#pragma once
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace clawgate::workers {

struct WsEndpoint {
  bool tls = false;
  std::string host, port, target;  // target: path and query, "/" at least
};
// ws[s]://host[:port][/path][?query]; an error message instead when it is not one (userinfo,
// a bad port, a fragment, control characters).
struct WsEndpointResult {
  WsEndpoint endpoint;
  std::string error;
};
WsEndpointResult parse_ws_endpoint(const std::string& url);

class WsConnection {
 public:
  struct Options {
    int connect_timeout_ms = 15'000;  // DNS + TCP + TLS + upgrade
    // > 0: a ping goes out after half of it without traffic, and the connection closes (error
    // "idle timeout") when the other half passes without any reply.
    int idle_timeout_ms = 0;
    std::size_t max_message_bytes = 1 << 20;
    std::vector<std::pair<std::string, std::string>> headers;  // extra upgrade request headers
  };
  struct Handlers {
    std::function<void()> on_open;
    std::function<void(std::string text)> on_text;  // each complete text message, in order
    std::function<void(uint16_t code, std::string reason, std::string error)> on_closed;
  };

  static std::shared_ptr<WsConnection> create(boost::asio::io_context& io, Handlers h, Options o);
  static std::shared_ptr<WsConnection> create(boost::asio::io_context& io, Handlers h);
  virtual ~WsConnection() = default;

  virtual void connect(const std::string& url) = 0;
  // Queued and written in order once open; dropped after the connection closed.
  virtual void send(std::string text) = 0;
  // Starts the close handshake (on_closed follows with the peer's echo). Before the connection
  // is open, the same as abort().
  virtual void close(uint16_t code, std::string reason) = 0;
  // Drops the TCP connection now, without a close frame: on_closed with error "aborted".
  virtual void abort() = 0;
  virtual bool open() const = 0;
};

}  // namespace clawgate::workers
