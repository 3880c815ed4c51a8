// WebSocket and protocol client: see ws_client.hpp.
#include "ws_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>

#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

WsUrl parse_ws_url(const std::string& url) {
  WsUrl out;
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    rest = url.substr(6);
    out.tls = true;
  } else {
    throw WsError("only ws:// and wss:// URLs are supported: " + url);
  }
  const auto slash = rest.find('/');
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string hostport = rest.substr(0, slash);
  if (!hostport.empty() && hostport[0] == '[') {
    const auto close = hostport.find(']');
    if (close == std::string::npos) throw WsError("bad URL: " + url);
    out.host = hostport.substr(1, close - 1);
    out.port = close + 2 <= hostport.size() ? hostport.substr(close + 2) : "";
  } else {
    const auto colon = hostport.rfind(':');
    out.host = hostport.substr(0, colon);
    out.port = colon == std::string::npos ? "" : hostport.substr(colon + 1);
  }
  if (out.port.empty()) out.port = out.tls ? "443" : "80";
  if (out.host.empty()) throw WsError("bad URL: " + url);
  return out;
}

namespace {

using PlainStream = websocket::stream<tcp::socket>;
using TlsStream = websocket::stream<beast::ssl_stream<tcp::socket>>;

std::string certificate_fingerprint(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  X509_free(cert);
  if (n <= 0) return "";
  std::string out = sha256_hex(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return out;
}

}  // namespace

struct WsClient::Impl {
  asio::io_context ioc;
  // Made on the first wss:// connect: the system CA store is read only by clients that need it
  // (plain clients, and pinned ones, never parse it).
  std::unique_ptr<ssl::context> tls_context;
  bool system_cas = false;  // tls_context trusts the system CA store
  // One of the two, by the URL's scheme (plain until a wss:// connect).
  std::unique_ptr<PlainStream> plain = std::make_unique<PlainStream>(ioc);
  std::unique_ptr<TlsStream> secure;
  std::string fingerprint;  // of the certificate the server presented
  beast::flat_buffer buf;
  bool read_pending = false;
  bool read_done = false;
  beast::error_code read_ec;
  bool open = false;

  template <class F>
  decltype(auto) with(F&& f) {
    if (secure) return f(*secure);
    return f(*plain);
  }
  tcp::socket& socket() { return secure ? secure->next_layer().next_layer() : plain->next_layer(); }
  const websocket::close_reason& reason() { return secure ? secure->reason() : plain->reason(); }

  // Runs the loop until `done` or the deadline; returns whether done.
  template <class Pred>
  bool run_until(Pred done, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done()) {
      if (ioc.stopped()) ioc.restart();
      if (ioc.run_one_until(deadline) == 0 && std::chrono::steady_clock::now() >= deadline)
        return done();
    }
    return true;
  }

  // The TLS handshake on the connected socket, then the certificate check the options ask for.
  void tls_handshake(const WsUrl& u, const Options& opts) {
    beast::error_code ec;
    auto& stream = secure->next_layer();
    SSL* native = stream.native_handle();
    (void)asio::ip::make_address(u.host, ec);
    const bool ip_literal = !ec;
    // SNI carries names only (RFC 6066); an IP literal is sent none.
    if (!ip_literal && SSL_set_tlsext_host_name(native, u.host.c_str()) != 1)
      throw WsError("TLS: cannot set the server name " + u.host);
    const bool pinned = !opts.tls_fingerprint.empty();
    if (pinned) {
      // The pin is the whole trust decision (upstream's clients do the same): a self-signed
      // certificate is fine when it is the expected one, checked right after the handshake and
      // before a single byte of the upgrade request goes out.
      stream.set_verify_mode(ssl::verify_none);
    } else {
      stream.set_verify_mode(ssl::verify_peer);
      stream.set_verify_callback(ssl::host_name_verification(u.host));
    }
    bool done = false;
    stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    if (!run_until([&] { return done; }, opts.timeout_ms)) {
      socket().close(ec);
      throw TimeoutError("TLS handshake timed out");
    }
    if (ec) {
      const long verify = SSL_get_verify_result(native);
      if (!pinned && verify != X509_V_OK)
        throw WsError(std::string("TLS: the certificate of ") + u.host + " is not trusted (" +
                      X509_verify_cert_error_string(verify) +
                      "). For a gateway with a self-signed certificate pass --tls-fingerprint "
                      "<sha256> (its log and `clawgate status` show it)");
      throw WsError("TLS handshake with " + u.host + ":" + u.port + " failed: " + ec.message() +
                    " (does the gateway serve TLS? gateway.tls.enabled)");
    }
    fingerprint = certificate_fingerprint(native);
    if (pinned && fingerprint != opts.tls_fingerprint) {
      socket().close(ec);
      throw WsError("TLS: refusing " + u.host + ":" + u.port +
                    ": its certificate's SHA-256 fingerprint is " +
                    (fingerprint.empty() ? std::string("unavailable") : fingerprint) +
                    ", not the pinned " + opts.tls_fingerprint);
    }
  }
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() {
  beast::error_code ec;
  impl_->socket().close(ec);
}

void WsClient::connect(const std::string& url, const Options& opts) {
  const WsUrl u = parse_ws_url(url);
  Impl& im = *impl_;
  if (u.tls) {
    im.plain.reset();
    if (!im.tls_context) im.tls_context = std::make_unique<ssl::context>(ssl::context::tls_client);
    if (opts.tls_fingerprint.empty() && !im.system_cas) {
      im.tls_context->set_default_verify_paths();
      im.system_cas = true;
    }
    im.secure = std::make_unique<TlsStream>(im.ioc, *im.tls_context);
  } else if (!im.plain) {
    im.secure.reset();
    im.plain = std::make_unique<PlainStream>(im.ioc);
  }
  auto& sock = im.socket();
  beast::error_code ec;
  tcp::resolver resolver(im.ioc);
  auto results = resolver.resolve(u.host, u.port, ec);
  if (ec) throw WsError("resolve " + u.host + ": " + ec.message());
  const tcp::endpoint ep = *results.begin();
  sock.open(ep.protocol());
  if (opts.recv_buffer > 0)
    sock.set_option(asio::socket_base::receive_buffer_size(opts.recv_buffer));
  if (!opts.source_ip.empty()) {
    sock.bind(tcp::endpoint(asio::ip::make_address(opts.source_ip), 0), ec);
    if (ec) throw WsError("bind " + opts.source_ip + ": " + ec.message());
  }
  bool done = false;
  sock.async_connect(ep, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  if (!im.run_until([&] { return done; }, opts.timeout_ms)) {
    sock.close(ec);
    throw TimeoutError("connect timed out");
  }
  if (ec) throw WsError("connect " + url + ": " + ec.message());
  sock.set_option(tcp::no_delay(true));
  if (u.tls) im.tls_handshake(u, opts);
  const std::string origin = opts.origin;
  const auto headers = opts.headers;
  websocket::response_type res;
  done = false;
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  im.with([&](auto& ws) {
    ws.read_message_max(opts.max_message);
    ws.set_option(
        websocket::stream_base::decorator([origin, headers](websocket::request_type& req) {
          req.set(beast::http::field::user_agent, "clawgate-client");
          if (!origin.empty()) req.set(beast::http::field::origin, origin);
          for (const auto& [name, value] : headers) req.set(name, value);
        }));
    ws.async_handshake(res, host + ":" + u.port, u.path, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
  });
  if (!im.run_until([&] { return done; }, opts.timeout_ms)) {
    sock.close(ec);
    throw TimeoutError("WebSocket handshake timed out");
  }
  if (ec) {
    if (ec == websocket::error::upgrade_declined) {
      const int status = static_cast<int>(res.result_int());
      throw WsError(
          "WebSocket upgrade refused (HTTP " + std::to_string(status) + "): " + ec.message(),
          status);
    }
    // No HTTP answer at all: what a TLS port does with a plain upgrade request.
    throw WsError("WebSocket upgrade failed: " + ec.message() +
                  (u.tls ? "" : " (no HTTP answer: if the gateway serves TLS, use wss://)"));
  }
  im.open = true;
}

void WsClient::send_text(const std::string& data) {
  beast::error_code ec;
  impl_->with([&](auto& ws) {
    ws.text(true);
    ws.write(asio::buffer(data), ec);
  });
  if (ec) throw WsError("send: " + ec.message());
}

void WsClient::send_binary(const std::string& data) {
  beast::error_code ec;
  impl_->with([&](auto& ws) {
    ws.binary(true);
    ws.write(asio::buffer(data), ec);
  });
  if (ec) throw WsError("send: " + ec.message());
}

void WsClient::send_raw(const std::string& bytes) {
  beast::error_code ec;
  impl_->with([&](auto& ws) { asio::write(ws.next_layer(), asio::buffer(bytes), ec); });
  if (ec) throw WsError("send: " + ec.message());
}

WsMessage WsClient::read(int timeout_ms) {
  Impl& im = *impl_;
  if (!im.open) {
    WsMessage m;
    m.closed = true;
    m.close_code = im.reason().code ? static_cast<uint16_t>(im.reason().code) : 1006;
    m.close_reason = std::string(im.reason().reason.c_str());
    return m;
  }
  if (!im.read_pending) {
    im.read_pending = true;
    im.read_done = false;
    im.with([&im](auto& ws) {
      ws.async_read(im.buf, [&im](beast::error_code e, size_t) {
        im.read_ec = e;
        im.read_done = true;
      });
    });
  }
  // A timed-out read stays pending; the next call keeps waiting on it.
  if (!im.run_until([&] { return im.read_done; }, timeout_ms)) throw TimeoutError("no message");
  im.read_pending = false;
  WsMessage m;
  if (im.read_ec) {
    im.open = false;
    m.closed = true;
    // A received close frame counts even when the teardown after it fails (the peer may have
    // dropped TCP first); without one the connection was lost (1006).
    const auto& r = im.reason();
    m.close_code = r.code ? static_cast<uint16_t>(r.code) : 1006;
    m.close_reason = r.code ? std::string(r.reason.c_str()) : im.read_ec.message();
    return m;
  }
  m.binary = im.with([](auto& ws) { return ws.got_binary(); });
  m.data = beast::buffers_to_string(im.buf.data());
  im.buf.consume(im.buf.size());
  return m;
}

void WsClient::close(uint16_t code, const std::string& reason) {
  if (!impl_->open) return;
  beast::error_code ec;
  bool done = false;
  impl_->with([&](auto& ws) {
    ws.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                   [&](beast::error_code e) {
                     ec = e;
                     done = true;
                   });
  });
  impl_->run_until([&] { return done; }, 2000);
  impl_->open = false;
  impl_->socket().close(ec);
}

bool WsClient::is_open() const {
  return impl_->open;
}

std::string WsClient::local_address() const {
  beast::error_code ec;
  return impl_->socket().local_endpoint(ec).address().to_string();
}

std::string WsClient::peer_fingerprint() const {
  return impl_->fingerprint;
}

// ---------------------------------------------------------------------------------------------

Json GatewayClient::read_frame(int timeout_ms) {
  WsMessage m = ws_.read(timeout_ms);
  if (m.closed) {
    close_ = m;
    throw WsError("connection closed (" + std::to_string(m.close_code) + " " + m.close_reason +
                  ")");
  }
  Json f = Json::parse(m.data, nullptr, false);
  if (f.is_discarded() || !f.is_object()) throw WsError("server sent a non-JSON frame");
  return f;
}

Json GatewayClient::connect(const ConnectOptions& o) {
  ws_.connect(o.url, o.ws);
  challenge_ = read_frame(o.timeout_ms);
  if (challenge_.value("event", "") != "connect.challenge")
    throw WsError("expected connect.challenge, got " + challenge_.dump());
  Json client = {{"id", o.client_id},
                 {"version", o.client_version},
                 {"platform", o.platform},
                 {"mode", o.client_mode}};
  Json params = {{"minProtocol", o.min_protocol},
                 {"maxProtocol", o.max_protocol},
                 {"client", client},
                 {"role", o.role}};
  if (o.send_scopes) params["scopes"] = o.scopes;
  Json auth = Json::object();
  if (!o.token.empty()) auth["token"] = o.token;
  if (!o.password.empty()) auth["password"] = o.password;
  if (!auth.empty()) params["auth"] = auth;
  ws_.send_text(dump_json(
      Json{{"type", "req"}, {"id", "connect"}, {"method", "connect"}, {"params", params}}));
  for (;;) {
    Json f;
    try {
      f = read_frame(o.timeout_ms);
    } catch (const WsError&) {
      if (close_) throw GatewayError("CLOSED", close_->close_reason, Json(), close_->close_code);
      throw;
    }
    if (f.value("type", "") == "event") {
      if (events_.size() < kMaxBufferedEvents) events_.push_back(std::move(f));
      continue;
    }
    if (f.value("id", "") != "connect") continue;
    if (!f.value("ok", false)) {
      const Json& e = f["error"];
      uint16_t close_code = 0;
      try {
        WsMessage m = ws_.read(2000);
        if (m.closed) close_code = m.close_code;
      } catch (const TimeoutError&) {
      }
      throw GatewayError(e.value("code", ""), e.value("message", ""), e.value("details", Json()),
                         close_code);
    }
    return f["payload"];
  }
}

std::string GatewayClient::send_request(const std::string& method, const Json& params) {
  const std::string id = "r" + std::to_string(next_id_++);
  ws_.send_text(
      dump_json(Json{{"type", "req"}, {"id", id}, {"method", method}, {"params", params}}));
  outstanding_.insert(id);
  return id;
}

Json GatewayClient::wait_response(const std::string& id, int timeout_ms) {
  for (;;) {
    if (auto it = responses_.find(id); it != responses_.end()) {
      Json f = std::move(it->second);
      responses_.erase(it);
      outstanding_.erase(id);
      return f;
    }
    Json f = read_frame(timeout_ms);
    if (f.value("type", "") == "event") {
      if (events_.size() < kMaxBufferedEvents) events_.push_back(std::move(f));
      continue;
    }
    const std::string rid = f.value("id", "");
    if (outstanding_.count(rid)) responses_[rid] = std::move(f);
  }
}

Json GatewayClient::request_frame(const std::string& method, const Json& params, int timeout_ms) {
  return wait_response(send_request(method, params), timeout_ms);
}

Json GatewayClient::call(const std::string& method, const Json& params, int timeout_ms) {
  Json f = request_frame(method, params, timeout_ms);
  if (!f.value("ok", false)) {
    const Json& e = f["error"];
    throw GatewayError(e.value("code", ""), e.value("message", ""), e.value("details", Json()));
  }
  return f.contains("payload") ? f["payload"] : Json();
}

Json GatewayClient::next_event(int timeout_ms) {
  if (!events_.empty()) {
    Json e = std::move(events_.front());
    events_.pop_front();
    return e;
  }
  for (;;) {
    Json f = read_frame(timeout_ms);
    if (f.value("type", "") == "event") return f;
  }
}

Json GatewayClient::wait_event(const std::string& name, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) throw TimeoutError("no " + name + " event");
    Json e = next_event(static_cast<int>(left));
    if (e.value("event", "") == name) return e;
  }
}

}  // namespace clawgate
