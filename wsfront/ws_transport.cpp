// WsTransport: the only translation unit that includes websocketpp (each one costs ~35 s and
// ~1.2 GB to compile). It accepts TCP connections on its own Asio acceptor (so a listening
// socket can also be adopted from systemd), runs the TLS handshake when gateway.tls is on, the
// HTTP upgrade and WebSocket framing, and forwards connection events to the protocol core.
// UTF-8 validation of text frames (close 1007) and the message size limit (close 1009) are
// enforced here by websocketpp. One endpoint template serves both: plain (config::asio's
// socket) and TLS (config::asio_tls's), instantiated here and nowhere else. The canvas host
// (canvas_host.hpp) gets its plain HTTP requests and its live-reload upgrades as plain structs;
// this file only carries its answers and its "reload" texts. Webhook paths (Slack HTTP mode) are
// answered later: the response is deferred until the handler's answer (transport.hpp).
// Fails: accept errors are logged and retried after a pause; per-connection errors (a failed
// TLS handshake: plain HTTP on a TLS port, a client refusing the certificate) close only that
// connection.
#include "ws_transport.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <unordered_map>
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/server.hpp>

#include "canvas_host.hpp"
#include "net.hpp"

namespace clawgate::front {

namespace {

struct ConnectionData {
  ConnId clawgate_id = 0;
  bool upgrade_accepted = false;
  bool reload = false;  // a canvas live-reload socket, not a gateway client
};

// websocketpp's asio config with one loop thread and small buffers; `Base` and `Socket` pick
// plain TCP (config::asio, basic_socket) or TLS (config::asio_tls, tls_socket).
template <class Base, class Socket>
struct FrontConfig : Base {
  typedef FrontConfig type;
  typedef Base base;
  // One loop thread: no locks anywhere in the transport.
  typedef websocketpp::concurrency::none concurrency_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel> elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel> alog_type;
  typedef typename base::request_type request_type;
  typedef typename base::response_type response_type;
  typedef typename base::message_type message_type;
  typedef typename base::con_msg_manager_type con_msg_manager_type;
  typedef typename base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef typename base::rng_type rng_type;
  typedef ConnectionData connection_base;
  static bool const enable_multithreading = false;

  struct transport_config : public base::transport_config {
    typedef typename type::concurrency_type concurrency_type;
    typedef typename type::alog_type alog_type;
    typedef typename type::elog_type elog_type;
    typedef typename type::request_type request_type;
    typedef typename type::response_type response_type;
    typedef Socket socket_type;
    static bool const enable_multithreading = false;
    static const long timeout_socket_shutdown = 1000;
    // The TLS handshake (plain TCP has none) gets what the HTTP upgrade gets.
    static const long timeout_socket_post_init = 10000;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  // Small per-connection read buffer: most frames are a few hundred bytes, and idle
  // connections must stay cheap (goal: <= 8 KB each).
  static const size_t connection_read_buffer_size = 2048;
  static const long timeout_open_handshake = 10000;
  static const long timeout_close_handshake = 2000;
  static const size_t max_message_size = 26'214'400;
  static const size_t max_http_body_size = 64 * 1024;
};

// websocketpp's TLS socket with one change: closing sends close_notify and does not wait for
// the peer's (RFC 8446 6.1 allows it). asio's shutdown would wait, but the connection's pending
// read swallows the peer's close_notify, so every close sat out timeout_socket_shutdown (1 s)
// before the TCP close, and the client (ours, Node's ws) waited with it.
class TlsConnection : public websocketpp::transport::asio::tls_socket::connection {
 public:
  typedef TlsConnection type;
  typedef websocketpp::lib::shared_ptr<type> ptr;

 protected:
  void async_shutdown(websocketpp::transport::asio::socket::shutdown_handler callback) {
    SSL* ssl = get_socket().native_handle();
    SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
    websocketpp::transport::asio::tls_socket::connection::async_shutdown(std::move(callback));
  }
};

struct TlsSocket : websocketpp::transport::asio::tls_socket::endpoint {
  typedef TlsSocket type;
  typedef TlsConnection socket_con_type;
  typedef socket_con_type::ptr socket_con_ptr;
};

using PlainConfig =
    FrontConfig<websocketpp::config::asio, websocketpp::transport::asio::basic_socket::endpoint>;
using TlsConfig = FrontConfig<websocketpp::config::asio_tls, TlsSocket>;
namespace asio = boost::asio;

}  // namespace

// What WsTransport forwards to, whichever endpoint serves.
struct WsTransport::Impl : Transport {
  virtual uint16_t listen(const std::string& address, uint16_t port) = 0;
  virtual uint16_t adopt(int fd) = 0;
  virtual void serve(const std::string& path, const std::string& content_type,
                     std::string body) = 0;
  virtual void set_tls_context(std::shared_ptr<asio::ssl::context> context) = 0;
  virtual void attach_canvas(CanvasHost* canvas) = 0;
  virtual void attach_webhooks(WebhookHandler* handler) = 0;
};

namespace {

template <class Config>
struct Endpoint final : WsTransport::Impl {
  using Server = websocketpp::server<Config>;
  using ConnectionPtr = typename Server::connection_ptr;
  static constexpr bool kTls = std::is_same_v<Config, TlsConfig>;

  Endpoint(asio::io_context& io, TransportHandler& handler, Logger& log,
           std::shared_ptr<asio::ssl::context> tls)
      : io(io), handler(handler), log(log), acceptor(io), retry_timer(io), tls(std::move(tls)) {
    setup();
  }

  asio::io_context& io;
  TransportHandler& handler;
  Logger& log;
  Server server;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::unordered_map<ConnId, ConnectionPtr> connections;
  CanvasHost* canvas = nullptr;
  WebhookHandler* webhooks = nullptr;
  std::unordered_map<ConnId, ConnectionPtr> reload_connections;
  ConnId next_id = 1;
  bool listening = false;
  std::unordered_map<std::string, std::pair<std::string, std::string>> pages;  // type, body
  // The context each new TLS connection takes (a renewed certificate replaces it; connections
  // already open keep theirs).
  std::shared_ptr<asio::ssl::context> tls;

  void setup() {
    server.clear_access_channels(websocketpp::log::alevel::all);
    server.clear_error_channels(websocketpp::log::elevel::all);
    // websocketpp logs every peer disconnect mid-write as "fatal"; the core logs what matters.
    server.set_error_channels(websocketpp::log::elevel::none);
    server.init_asio(&io);
    server.set_validate_handler([this](websocketpp::connection_hdl h) { return on_validate(h); });
    server.set_open_handler([this](websocketpp::connection_hdl h) {
      auto con = server.get_con_from_hdl(h);
      if (con->reload) return;
      handler.on_open(con->clawgate_id);
    });
    server.set_message_handler(
        [this](websocketpp::connection_hdl h, typename Server::message_ptr msg) {
          auto con = server.get_con_from_hdl(h);
          if (con->reload) return;  // the server talks, the page listens
          const bool binary = msg->get_opcode() == websocketpp::frame::opcode::binary;
          handler.on_message(con->clawgate_id, std::move(msg->get_raw_payload()), binary);
        });
    server.set_close_handler([this](websocketpp::connection_hdl h) { on_gone(h); });
    server.set_fail_handler([this](websocketpp::connection_hdl h) { on_gone(h); });
    server.set_http_handler([this](websocketpp::connection_hdl h) { on_http(h); });
    if constexpr (kTls)
      server.set_tls_init_handler([this](websocketpp::connection_hdl) { return tls; });
  }

  static PeerInfo peer_of(const ConnectionPtr& con) {
    PeerInfo peer;
    boost::system::error_code ec;
    const auto remote = con->get_raw_socket().remote_endpoint(ec);
    peer.socket_ip = ec ? std::string("unknown") : normalize_ip(remote.address().to_string());
    const auto local = con->get_raw_socket().local_endpoint(ec);
    if (!ec) {
      peer.local_ip = normalize_ip(local.address().to_string());
      peer.local_port = local.port();
    }
    peer.origin = con->get_request_header("Origin");
    peer.host = con->get_request_header("Host");
    peer.user_agent = con->get_request_header("User-Agent");
    peer.forwarded_for = con->get_request_header("X-Forwarded-For");
    peer.real_ip = con->get_request_header("X-Real-IP");
    peer.forwarded = con->get_request_header("Forwarded");
    peer.forwarded_host = con->get_request_header("X-Forwarded-Host");
    peer.forwarded_proto = con->get_request_header("X-Forwarded-Proto");
    return peer;
  }

  static CanvasRequest canvas_request(const ConnectionPtr& con) {
    CanvasRequest r;
    r.method = con->get_request().get_method();
    r.target = con->get_resource();
    r.peer = peer_of(con);
    r.authorization = con->get_request_header("Authorization");
    r.if_none_match = con->get_request_header("If-None-Match");
    return r;
  }

  static void respond(const ConnectionPtr& con, const CanvasResponse& res) {
    con->set_status(static_cast<websocketpp::http::status_code::value>(res.status));
    for (const auto& [k, v] : res.headers) con->append_header(k, v);
    if (res.head)
      con->replace_header("Content-Length", std::to_string(res.body.size()));
    else
      con->set_body(res.body);
  }

  bool on_validate(websocketpp::connection_hdl h) {
    auto con = server.get_con_from_hdl(h);
    const ConnId id = next_id++;
    con->clawgate_id = id;
    if (canvas && canvas->is_reload_target(con->get_resource())) {
      const CanvasResponse res = canvas->authorize_reload(canvas_request(con));
      if (res.status != 0) {
        respond(con, res);
        return false;
      }
      con->reload = true;
      con->upgrade_accepted = true;
      con->set_max_message_size(1024);
      reload_connections.emplace(id, con);
      canvas->reload_opened(id);
      return true;
    }
    const PeerInfo peer = peer_of(con);
    const TransportHandler::Refusal r = handler.on_upgrade(id, peer);
    if (r.http_status != 0) {
      con->set_status(static_cast<websocketpp::http::status_code::value>(r.http_status));
      con->set_body(r.reason + "\n");
      return false;
    }
    con->upgrade_accepted = true;
    connections.emplace(id, con);
    return true;
  }

  void on_gone(websocketpp::connection_hdl h) {
    auto con = server.get_con_from_hdl(h);
    if (!con->upgrade_accepted) return;
    con->upgrade_accepted = false;
    if (con->reload) {
      reload_connections.erase(con->clawgate_id);
      if (canvas) canvas->reload_closed(con->clawgate_id);
      return;
    }
    connections.erase(con->clawgate_id);
    handler.on_close(con->clawgate_id);
  }

  void on_http(websocketpp::connection_hdl h) {
    auto con = server.get_con_from_hdl(h);
    const std::string resource = con->get_resource();
    const std::string path = resource.substr(0, resource.find('?'));
    if (webhooks && webhooks->claims(path)) return on_webhook(con, path);
    // Webhooks raise the connection's body limit; every other path keeps the usual one.
    if (con->get_request_body().size() > size_t{Config::max_http_body_size}) {
      con->set_status(websocketpp::http::status_code::request_entity_too_large);
      return;
    }
    if (canvas) {
      if (auto res = canvas->handle_http(canvas_request(con))) return respond(con, *res);
    }
    if (auto it = pages.find(path); it != pages.end()) {
      const std::string method = con->get_request().get_method();
      if (method != "GET" && method != "HEAD") {
        con->set_status(websocketpp::http::status_code::method_not_allowed);
        con->append_header("Allow", "GET, HEAD");
        return;
      }
      con->set_status(websocketpp::http::status_code::ok);
      con->append_header("Content-Type", it->second.first);
      con->append_header("Cache-Control", "no-cache");
      con->append_header("X-Content-Type-Options", "nosniff");
      con->append_header("X-Frame-Options", "DENY");
      con->append_header("Referrer-Policy", "no-referrer");
      // The page's own inline script and style, and connections back to its own origin only
      // ('self' covers ws:// and wss:// to the same host and port in CSP Level 3 browsers):
      // an injected script cannot ship the token to another host.
      con->append_header("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src "
                         "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      if (method == "GET") con->set_body(it->second.second);
      return;
    }
    if (resource == "/healthz") {
      con->set_status(websocketpp::http::status_code::ok);
      con->append_header("Content-Type", "application/json");
      con->set_body("{\"ok\":true}\n");
      return;
    }
    con->set_status(websocketpp::http::status_code::upgrade_required);
    con->append_header("Content-Type", "text/plain; charset=utf-8");
    con->set_body("clawgate: this port speaks the OpenClaw gateway protocol over WebSocket.\n");
  }

  // A webhook path (Slack HTTP mode): POST only, handed on raw; the answer comes later.
  void on_webhook(const ConnectionPtr& con, const std::string& path) {
    const std::string method = con->get_request().get_method();
    if (method != "POST") {
      con->set_status(websocketpp::http::status_code::method_not_allowed);
      con->append_header("Allow", "POST");
      return;
    }
    WebhookExchange ex;
    ex.method = method;
    ex.path = path;
    ex.content_type = con->get_request_header("Content-Type");
    ex.slack_timestamp = con->get_request_header("X-Slack-Request-Timestamp");
    ex.slack_signature = con->get_request_header("X-Slack-Signature");
    ex.slack_retry_num = con->get_request_header("X-Slack-Retry-Num");
    ex.body = con->get_request_body();
    con->defer_http_response();
    // The callback holds the connection: a deferred one has no read or write pending that
    // would (it would be freed and closed unanswered). The hub answers within its deadline.
    webhooks->on_request(std::move(ex), [c = con](WebhookReply r) {
      c->set_status(static_cast<websocketpp::http::status_code::value>(r.status));
      c->append_header("Content-Type", r.content_type);
      c->append_header("X-Content-Type-Options", "nosniff");
      c->append_header("Cache-Control", "no-store");
      c->set_body(r.body);
      websocketpp::lib::error_code ec;
      c->send_http_response(ec);  // a second answer is refused here (invalid_state)
    });
  }

  void start_accept() {
    if (!listening) return;
    ConnectionPtr con = server.get_connection();
    acceptor.async_accept(con->get_raw_socket(), [this, con](const boost::system::error_code& ec) {
      if (!listening) return;
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        // EMFILE and friends: back off instead of spinning on the error.
        log.warn("front", "accept failed: " + ec.message());
        retry_timer.expires_after(std::chrono::milliseconds(100));
        retry_timer.async_wait([this](const boost::system::error_code& e) {
          if (!e) start_accept();
        });
        return;
      }
      boost::system::error_code ignored;
      con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), ignored);
      con->start();
      start_accept();
    });
  }

  ConnectionPtr find(ConnId id) const {
    auto it = connections.find(id);
    return it == connections.end() ? nullptr : it->second;
  }

  // Transport
  void send(ConnId id, std::string&& text) override {
    if (auto con = find(id)) {
      websocketpp::lib::error_code ec;
      con->send(text, websocketpp::frame::opcode::text);
    }
  }
  void close(ConnId id, uint16_t code, std::string_view reason) override {
    if (auto con = find(id)) {
      websocketpp::lib::error_code ec;
      con->close(code, std::string(reason), ec);
      if (ec) con->terminate(ec);
    }
  }
  size_t buffered_amount(ConnId id) const override {
    auto con = find(id);
    return con ? con->get_buffered_amount() : 0;
  }
  void set_max_message_size(ConnId id, size_t bytes) override {
    if (auto con = find(id)) con->set_max_message_size(bytes);
  }
  void stop_listening() override {
    listening = false;
    boost::system::error_code ec;
    acceptor.close(ec);
    retry_timer.cancel();
    for (auto& [_, con] : reload_connections) {
      websocketpp::lib::error_code ignored;
      con->close(1012, "service restart", ignored);
    }
  }

  // WsTransport::Impl
  uint16_t listen(const std::string& address, uint16_t port) override {
    using asio::ip::tcp;
    const tcp::endpoint ep(asio::ip::make_address(address), port);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(1024);
    listening = true;
    start_accept();
    return acceptor.local_endpoint().port();
  }
  uint16_t adopt(int fd) override {
    using asio::ip::tcp;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
      throw std::system_error(errno, std::generic_category(), "getsockname on inherited fd");
    acceptor.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd);
    listening = true;
    start_accept();
    return acceptor.local_endpoint().port();
  }
  void serve(const std::string& path, const std::string& content_type, std::string body) override {
    pages[path] = {content_type, std::move(body)};
  }
  void set_tls_context(std::shared_ptr<asio::ssl::context> context) override {
    tls = std::move(context);
  }
  void attach_webhooks(WebhookHandler* handler) override {
    webhooks = handler;
    // Bodies up to the webhooks' limit are read (larger: 413 before any is buffered); other
    // paths refuse more than their usual limit in on_http.
    server.set_max_http_body_size(
        std::max(handler ? handler->max_body_bytes() : 0, size_t{Config::max_http_body_size}));
  }
  void attach_canvas(CanvasHost* host) override {
    if (canvas && !host) canvas->set_reload_sender(nullptr);
    canvas = host;
    if (!host) return;
    host->set_reload_sender([this](uint64_t id) {
      auto it = reload_connections.find(id);
      if (it == reload_connections.end()) return;
      it->second->send(std::string("reload"),
                       websocketpp::frame::opcode::text);  // a failure is the close
    });
  }
};

}  // namespace

WsTransport::WsTransport(asio::io_context& io, TransportHandler& handler, Logger& log,
                         std::shared_ptr<asio::ssl::context> tls) {
  if (tls)
    impl_ = std::make_unique<Endpoint<TlsConfig>>(io, handler, log, std::move(tls));
  else
    impl_ = std::make_unique<Endpoint<PlainConfig>>(io, handler, log, nullptr);
}

WsTransport::~WsTransport() = default;

Transport& WsTransport::transport() {
  return *impl_;
}

uint16_t WsTransport::listen(const std::string& address, uint16_t port) {
  return impl_->listen(address, port);
}

uint16_t WsTransport::adopt(int fd) {
  return impl_->adopt(fd);
}

void WsTransport::attach_canvas(CanvasHost* canvas) {
  impl_->attach_canvas(canvas);
}

void WsTransport::attach_webhooks(WebhookHandler* handler) {
  impl_->attach_webhooks(handler);
}

void WsTransport::serve(const std::string& path, const std::string& content_type,
                        std::string body) {
  impl_->serve(path, content_type, std::move(body));
}

void WsTransport::renew_tls(std::shared_ptr<asio::ssl::context> context) {
  impl_->set_tls_context(std::move(context));
}

}  // namespace clawgate::front
