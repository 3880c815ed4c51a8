// WsConnection: see ws_connection.hpp. One template over the stream type (plain or TLS), so both
// run the same steps: resolve, connect, [TLS handshake], upgrade, then one read loop and one
// write queue. Every handler holds the connection alive and checks `done_` first: after
// on_closed nothing else is reported.
#include "ws_connection.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <type_traits>

namespace clawgate::workers {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

WsEndpointResult parse_ws_endpoint(const std::string& url) {
  WsEndpointResult out;
  auto fail = [&](const std::string& why) {
    out.error = why;
    return out;
  };
  for (unsigned char ch : url)
    if (ch <= 0x20 || ch == 0x7f) return fail("the URL has a space or control character");
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    rest = url.substr(6);
    out.endpoint.tls = true;
  } else {
    return fail("not a ws:// or wss:// URL");
  }
  if (rest.find('#') != std::string::npos) return fail("the URL has a fragment");
  const auto end = rest.find_first_of("/?");
  std::string authority = rest.substr(0, end);
  std::string target = end == std::string::npos ? "/" : rest.substr(end);
  if (target[0] == '?') target.insert(0, "/");
  if (authority.find('@') != std::string::npos) return fail("the URL has user information");
  std::string host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return fail("the URL's IPv6 host has no ']'");
    host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail("the URL's host is followed by garbage");
      port = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return fail("the URL has no host");
  if (port.empty()) {
    port = out.endpoint.tls ? "443" : "80";
  } else if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
             std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return fail("the URL's port is not 1-65535");
  }
  out.endpoint.host = host;
  out.endpoint.port = port;
  out.endpoint.target = target;
  return out;
}

namespace {

using PlainStream = websocket::stream<beast::tcp_stream>;
using TlsStream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

template <class Stream>
class Session final : public WsConnection, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(asio::io_context& io, Handlers h, Options o, WsEndpoint ep)
      : h_(std::move(h)),
        o_(std::move(o)),
        ep_(std::move(ep)),
        resolver_(io),
        deadline_(io),
        ssl_ctx_(asio::ssl::context::tls_client) {
    if constexpr (kTls) {
      ssl_ctx_.set_default_verify_paths();
      ssl_ctx_.set_verify_mode(asio::ssl::verify_peer);
      ws_.emplace(io, ssl_ctx_);
    } else {
      ws_.emplace(io);
    }
  }

  void connect(const std::string&) override { start(); }

  void send(std::string text) override {
    if (done_ || closing_) return;
    queue_.push_back(std::move(text));
    if (open_ && !writing_) write_next();
  }

  void close(uint16_t code, std::string reason) override {
    if (done_ || closing_) return;
    if (!open_) return abort();
    closing_ = true;
    queue_.clear();
    // A close frame written while a message is mid-write would interleave: wait for it.
    close_code_ = code;
    close_reason_ = std::move(reason);
    if (!writing_) start_close();
  }

  void abort() override {
    if (done_) return;
    drop();
    finish(0, "", "aborted");
  }

  bool open() const override { return open_ && !done_; }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(*ws_); }

  void drop() {
    beast::error_code ec;
    resolver_.cancel();
    deadline_.cancel();
    lowest().socket().close(ec);
  }

  void finish(uint16_t code, std::string reason, std::string error) {
    if (done_) return;
    done_ = true;
    open_ = false;
    queue_.clear();
    deadline_.cancel();
    if (h_.on_closed) h_.on_closed(code, std::move(reason), std::move(error));
  }

  void fail(const std::string& what, beast::error_code ec) {
    if (done_) return;
    drop();
    finish(0, "", timed_out_ ? what + ": timed out" : what + ": " + ec.message());
  }

  void start() {
    auto self = this->shared_from_this();
    deadline_.expires_after(std::chrono::milliseconds(o_.connect_timeout_ms));
    deadline_.async_wait([self](beast::error_code ec) {
      if (ec || self->done_ || self->open_) return;
      self->timed_out_ = true;
      self->drop();  // the pending step fails and reports
    });
    resolver_.async_resolve(
        ep_.host, ep_.port, [self](beast::error_code ec, tcp::resolver::results_type r) {
          if (self->done_) return;
          if (ec) return self->fail("resolve " + self->ep_.host, ec);
          self->lowest().async_connect(r, [self](beast::error_code ec, const tcp::endpoint&) {
            if (self->done_) return;
            if (ec) return self->fail("connect " + self->ep_.host + ":" + self->ep_.port, ec);
            self->lowest().socket().set_option(tcp::no_delay(true));
            self->secure();
          });
        });
  }

  void secure() {
    if constexpr (kTls) {
      auto self = this->shared_from_this();
      auto& tls = ws_->next_layer();
      SSL_set_tlsext_host_name(tls.native_handle(), ep_.host.c_str());
      tls.set_verify_callback(asio::ssl::host_name_verification(ep_.host));
      tls.async_handshake(asio::ssl::stream_base::client, [self](beast::error_code ec) {
        if (self->done_) return;
        if (ec) return self->fail("TLS handshake with " + self->ep_.host, ec);
        self->upgrade();
      });
    } else {
      upgrade();
    }
  }

  void upgrade() {
    auto self = this->shared_from_this();
    // The websocket stream keeps its own timers from here on.
    lowest().expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::milliseconds(o_.connect_timeout_ms);
    if (o_.idle_timeout_ms > 0) {
      t.idle_timeout = std::chrono::milliseconds(o_.idle_timeout_ms);
      t.keep_alive_pings = true;
    } else {
      t.idle_timeout = websocket::stream_base::none();
      t.keep_alive_pings = false;
    }
    ws_->set_option(t);
    ws_->read_message_max(o_.max_message_bytes);
    ws_->set_option(
        websocket::stream_base::decorator([headers = o_.headers](websocket::request_type& req) {
          req.set(beast::http::field::user_agent, "clawgate");
          for (const auto& [k, v] : headers) req.set(k, v);
        }));
    std::string host = ep_.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    if (ep_.port != (kTls ? "443" : "80")) host += ":" + ep_.port;
    ws_->async_handshake(response_, host, ep_.target, [self](beast::error_code ec) {
      if (self->done_) return;
      if (ec) {
        const unsigned status = self->response_.result_int();
        if (status != 0 && status != 101)
          return self->fail("upgrade refused with HTTP " + std::to_string(status), ec);
        return self->fail("WebSocket upgrade", ec);
      }
      self->open_ = true;
      self->deadline_.cancel();
      self->ws_->text(true);
      if (self->h_.on_open) self->h_.on_open();
      if (self->done_) return;
      self->read();
      if (!self->queue_.empty() && !self->writing_) self->write_next();
    });
  }

  void read() {
    auto self = this->shared_from_this();
    ws_->async_read(buffer_, [self](beast::error_code ec, std::size_t) {
      if (self->done_) return;
      if (ec == websocket::error::closed) {
        const auto& r = self->ws_->reason();
        return self->finish(r.code, std::string(r.reason.data(), r.reason.size()), "");
      }
      // A close we started: its own handler reports the peer's echo.
      if (self->closing_ && ec == asio::error::operation_aborted) return;
      if (ec) {
        if (ec == beast::error::timeout) return self->fail("idle timeout", ec);
        return self->fail("read", ec);
      }
      if (!self->ws_->got_text()) {
        // Nothing here asks for binary frames (no transport compression); one is a peer bug.
        self->buffer_.consume(self->buffer_.size());
        self->close(1003, "binary messages are not accepted");
        return self->read();
      }
      std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->h_.on_text) self->h_.on_text(std::move(text));
      if (!self->done_) self->read();
    });
  }

  void write_next() {
    if (queue_.empty() || done_) return;
    writing_ = true;
    // Out of the queue while Beast writes it: close() may clear the queue meanwhile.
    inflight_ = std::move(queue_.front());
    queue_.pop_front();
    auto self = this->shared_from_this();
    ws_->async_write(asio::buffer(inflight_), [self](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (self->done_) return;
      if (ec) return self->fail("write", ec);
      if (self->closing_) return self->start_close();
      self->write_next();
    });
  }

  void start_close() {
    auto self = this->shared_from_this();
    websocket::close_reason why(static_cast<websocket::close_code>(close_code_), close_reason_);
    ws_->async_close(why, [self](beast::error_code ec) {
      if (self->done_) return;
      if (ec) return self->fail("close", ec);
      const auto& r = self->ws_->reason();
      self->finish(r.code ? r.code : self->close_code_,
                   std::string(r.reason.data(), r.reason.size()), "");
    });
  }

  Handlers h_;
  Options o_;
  WsEndpoint ep_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;
  asio::ssl::context ssl_ctx_;
  std::optional<Stream> ws_;
  beast::flat_buffer buffer_;
  websocket::response_type response_;
  std::deque<std::string> queue_;
  std::string inflight_;
  bool open_ = false, writing_ = false, closing_ = false, done_ = false, timed_out_ = false;
  uint16_t close_code_ = 1000;
  std::string close_reason_;
};

// A URL that is not one fails like a connection would: on_closed, from the loop.
class Refused final : public WsConnection, public std::enable_shared_from_this<Refused> {
 public:
  Refused(asio::io_context& io, Handlers h, std::string why)
      : io_(io), h_(std::move(h)), why_(std::move(why)) {}
  void connect(const std::string&) override {
    asio::post(io_, [self = shared_from_this()] { self->abort_with(self->why_); });
  }
  void send(std::string) override {}
  void close(uint16_t, std::string) override { abort_with("aborted"); }
  void abort() override { abort_with("aborted"); }
  bool open() const override { return false; }

 private:
  void abort_with(const std::string& why) {
    if (done_) return;
    done_ = true;
    if (h_.on_closed) h_.on_closed(0, "", why);
  }
  asio::io_context& io_;
  Handlers h_;
  std::string why_;
  bool done_ = false;
};

// Created by create() and told the URL at connect(): the stream type depends on the scheme.
class Deferred final : public WsConnection {
 public:
  Deferred(asio::io_context& io, Handlers h, Options o)
      : io_(io), h_(std::move(h)), o_(std::move(o)) {}
  void connect(const std::string& url) override {
    if (inner_) return;
    WsEndpointResult r = parse_ws_endpoint(url);
    if (!r.error.empty()) {
      inner_ = std::make_shared<Refused>(io_, std::move(h_), "bad URL: " + r.error);
    } else if (r.endpoint.tls) {
      inner_ = std::make_shared<Session<TlsStream>>(io_, std::move(h_), std::move(o_), r.endpoint);
    } else {
      inner_ =
          std::make_shared<Session<PlainStream>>(io_, std::move(h_), std::move(o_), r.endpoint);
    }
    inner_->connect(url);
    for (auto& text : early_) inner_->send(std::move(text));
    early_.clear();
  }
  void send(std::string text) override {
    if (inner_) return inner_->send(std::move(text));
    early_.push_back(std::move(text));
  }
  void close(uint16_t code, std::string reason) override {
    if (inner_) inner_->close(code, std::move(reason));
  }
  void abort() override {
    if (inner_) inner_->abort();
  }
  bool open() const override { return inner_ && inner_->open(); }

 private:
  asio::io_context& io_;
  Handlers h_;
  Options o_;
  std::shared_ptr<WsConnection> inner_;
  std::vector<std::string> early_;
};

}  // namespace

std::shared_ptr<WsConnection> WsConnection::create(asio::io_context& io, Handlers h, Options o) {
  return std::make_shared<Deferred>(io, std::move(h), std::move(o));
}

std::shared_ptr<WsConnection> WsConnection::create(asio::io_context& io, Handlers h) {
  return create(io, std::move(h), Options());
}

}  // namespace clawgate::workers
