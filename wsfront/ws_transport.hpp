// WsTransport: the WebSocket server behind the Transport seam (websocketpp inside, hidden),
// plain or over TLS (a server context from tls_server.hpp), on one port either way.
// Fails: listen()/adopt() throw boost::system::system_error (address in use, bad fd).
#pragma once
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "log.hpp"
#include "transport.hpp"

namespace boost::asio::ssl {
class context;
}

namespace clawgate::front {

class CanvasHost;

class WsTransport {
 public:
  // `tls` null: plain ws:// and http://; else wss:// and https:// with that context.
  WsTransport(boost::asio::io_context& io, TransportHandler& handler, Logger& log,
              std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~WsTransport();
  Transport& transport();
  uint16_t listen(const std::string& address, uint16_t port);  // returns the bound port
  uint16_t adopt(int listening_fd);                            // systemd socket activation
  // Serves `body` for GET/HEAD `path` (query strings ignored) to plain HTTP requests.
  void serve(const std::string& path, const std::string& content_type, std::string body);
  // A TLS transport: connections accepted from now on use `context` (a renewed certificate).
  void renew_tls(std::shared_ptr<boost::asio::ssl::context> context);
  // The canvas host answers its own HTTP paths and live-reload upgrades (null: none).
  void attach_canvas(CanvasHost* canvas);
  // Webhook paths (Slack HTTP mode) are answered by `handler` (null: none), on connections
  // accepted from then on.
  void attach_webhooks(WebhookHandler* handler);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace clawgate::front
