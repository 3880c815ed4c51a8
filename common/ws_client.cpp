// WebSocket and protocol client: see ws_client.hpp.
#include "ws_client.hpp"
#include "utf8.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

namespace clawgate {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

WsUrl parse_ws_url(const std::string& url) {
  const std::string prefix = "ws://";
  if (url.rfind(prefix, 0) != 0) throw WsError("only ws:// URLs are supported: " + url);
  std::string rest = url.substr(prefix.size());
  WsUrl out;
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
  if (out.port.empty()) out.port = "80";
  if (out.host.empty()) throw WsError("bad URL: " + url);
  return out;
}

struct WsClient::Impl {
  asio::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  beast::flat_buffer buf;
  bool read_pending = false;
  bool read_done = false;
  beast::error_code read_ec;
  bool open = false;

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
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() {
  beast::error_code ec;
  impl_->ws.next_layer().close(ec);
}

void WsClient::connect(const std::string& url, const Options& opts) {
  const WsUrl u = parse_ws_url(url);
  auto& sock = impl_->ws.next_layer();
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
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
  if (!impl_->run_until([&] { return done; }, opts.timeout_ms)) {
    sock.close(ec);
    throw TimeoutError("connect timed out");
  }
  if (ec) throw WsError("connect " + url + ": " + ec.message());
  sock.set_option(tcp::no_delay(true));
  impl_->ws.read_message_max(opts.max_message);
  const std::string origin = opts.origin;
  const auto headers = opts.headers;
  impl_->ws.set_option(
      websocket::stream_base::decorator([origin, headers](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "clawgate-client");
        if (!origin.empty()) req.set(beast::http::field::origin, origin);
        for (const auto& [name, value] : headers) req.set(name, value);
      }));
  websocket::response_type res;
  done = false;
  const std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  impl_->ws.async_handshake(res, host + ":" + u.port, u.path, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  if (!impl_->run_until([&] { return done; }, opts.timeout_ms)) {
    sock.close(ec);
    throw TimeoutError("WebSocket handshake timed out");
  }
  if (ec) {
    const int status = static_cast<int>(res.result_int());
    throw WsError(
        "WebSocket upgrade refused (HTTP " + std::to_string(status) + "): " + ec.message(), status);
  }
  impl_->open = true;
}

void WsClient::send_text(const std::string& data) {
  impl_->ws.text(true);
  beast::error_code ec;
  impl_->ws.write(asio::buffer(data), ec);
  if (ec) throw WsError("send: " + ec.message());
}

void WsClient::send_binary(const std::string& data) {
  impl_->ws.binary(true);
  beast::error_code ec;
  impl_->ws.write(asio::buffer(data), ec);
  if (ec) throw WsError("send: " + ec.message());
}

void WsClient::send_raw(const std::string& bytes) {
  beast::error_code ec;
  asio::write(beast::get_lowest_layer(impl_->ws), asio::buffer(bytes), ec);
  if (ec) throw WsError("send: " + ec.message());
}

WsMessage WsClient::read(int timeout_ms) {
  Impl& im = *impl_;
  if (!im.open) {
    WsMessage m;
    m.closed = true;
    m.close_code = im.ws.reason().code ? static_cast<uint16_t>(im.ws.reason().code) : 1006;
    m.close_reason = std::string(im.ws.reason().reason.c_str());
    return m;
  }
  if (!im.read_pending) {
    im.read_pending = true;
    im.read_done = false;
    im.ws.async_read(im.buf, [&im](beast::error_code e, size_t) {
      im.read_ec = e;
      im.read_done = true;
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
    const auto& r = im.ws.reason();
    m.close_code = r.code ? static_cast<uint16_t>(r.code) : 1006;
    m.close_reason = r.code ? std::string(r.reason.c_str()) : im.read_ec.message();
    return m;
  }
  m.binary = im.ws.got_binary();
  m.data = beast::buffers_to_string(im.buf.data());
  im.buf.consume(im.buf.size());
  return m;
}

void WsClient::close(uint16_t code, const std::string& reason) {
  if (!impl_->open) return;
  beast::error_code ec;
  bool done = false;
  impl_->ws.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                        [&](beast::error_code e) {
                          ec = e;
                          done = true;
                        });
  impl_->run_until([&] { return done; }, 2000);
  impl_->open = false;
  impl_->ws.next_layer().close(ec);
}

bool WsClient::is_open() const {
  return impl_->open;
}

std::string WsClient::local_address() const {
  beast::error_code ec;
  return impl_->ws.next_layer().local_endpoint(ec).address().to_string();
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
