// HttpClient: see http_client.hpp.
#include "http_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <stdexcept>

namespace clawgate::workers {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  bool tls = false;
  std::string host, port, prefix;
  asio::ssl::context ssl_ctx{asio::ssl::context::tls_client};
  tcp::resolver resolver;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  bool connected = false;
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  std::optional<http::response_parser<http::string_body>> parser;
  std::optional<http::response_parser<http::buffer_body>> sparser;  // streaming mode
  bool streaming = false;
  ChunkCallback on_chunk;
  std::string error_body;  // non-2xx body in streaming mode
  char chunk_buf[16 * 1024];
  Callback cb;
  int timeout_ms = 0;
  bool reused = false, retried = false;
  bool with_headers = false;  // request(): hand the response's header fields over
  uint64_t gen = 0;  // bumped per request and on cancel: late handlers of old ones do nothing

  explicit Impl(asio::io_context& io) : io(io), resolver(io) {}

  void init_tls() {
    ssl_ctx.set_default_verify_paths();
    ssl_ctx.set_verify_mode(asio::ssl::verify_peer);
  }

  // The same server, no connection and no request.
  std::shared_ptr<Impl> fresh() const {
    auto n = std::make_shared<Impl>(io);
    n->tls = tls;
    n->host = host;
    n->port = port;
    n->prefix = prefix;
    if (tls) n->init_tls();
    return n;
  }

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*secure) : *plain; }

  void finish(HttpResponse r) {
    if (!cb) return;
    auto f = std::move(cb);
    cb = nullptr;
    f(std::move(r));
  }

  void fail(const std::string& what, beast::error_code ec) {
    reset();
    finish({0, "", what + ": " + ec.message(), {}});
  }

  void reset() {
    beast::error_code ec;
    if (plain || secure) lowest().socket().close(ec);
    plain.reset();
    secure.reset();
    connected = false;
    // Bytes read ahead belong to the closed connection (e.g. the rest of a cut stream): the next
    // response, on a new connection, must not be parsed after them.
    buffer.consume(buffer.size());
  }

  void start() {
    if (connected) {
      reused = true;
      return write();
    }
    reused = false;
    plain.reset();
    secure.reset();
    if (tls) {
      secure.emplace(io, ssl_ctx);
    } else {
      plain.emplace(io);
    }
    lowest().expires_after(std::chrono::milliseconds(timeout_ms));
    resolver.async_resolve(
        host, port,
        [self = shared_from_this(), g = gen](beast::error_code ec, tcp::resolver::results_type r) {
          if (g != self->gen) return;
          if (ec) return self->fail("resolve " + self->host, ec);
          self->lowest().async_connect(r, [self, g](beast::error_code ec, const tcp::endpoint&) {
            if (g != self->gen) return;
            if (ec) return self->fail("connect " + self->host + ":" + self->port, ec);
            self->lowest().socket().set_option(tcp::no_delay(true));
            if (!self->tls) {
              self->connected = true;
              return self->write();
            }
            SSL* ssl = self->secure->native_handle();
            SSL_set_tlsext_host_name(ssl, self->host.c_str());
            self->secure->set_verify_callback(asio::ssl::host_name_verification(self->host));
            self->secure->async_handshake(
                asio::ssl::stream_base::client, [self, g](beast::error_code ec) {
                  if (g != self->gen) return;
                  if (ec) return self->fail("TLS handshake with " + self->host, ec);
                  self->connected = true;
                  self->write();
                });
          });
        });
  }

  void write() {
    lowest().expires_after(std::chrono::milliseconds(timeout_ms));
    auto on_written = [self = shared_from_this(), g = gen](beast::error_code ec, size_t) {
      if (g != self->gen) return;
      if (ec) {
        // Nothing reached the server: a stale keep-alive connection is retried once.
        if (self->reused && !self->retried) {
          self->retried = true;
          self->reset();
          return self->start();
        }
        return self->fail("write", ec);
      }
      self->read();
    };
    if (tls) {
      http::async_write(*secure, req, on_written);
    } else {
      http::async_write(*plain, req, on_written);
    }
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls) {
      f(*secure);
    } else {
      f(*plain);
    }
  }

  void read_stream_header() {
    sparser.emplace();
    sparser->body_limit(boost::none);
    error_body.clear();
    with_stream([&](auto& s) {
      http::async_read_header(
          s, buffer, *sparser, [self = shared_from_this(), g = gen](beast::error_code ec, size_t) {
            if (g != self->gen) return;
            if (ec) {
              if (ec == http::error::end_of_stream && self->reused && !self->retried) {
                self->retried = true;
                self->reset();
                return self->start();
              }
              return self->fail("read", ec);
            }
            self->read_stream_body();
          });
    });
  }

  void read_stream_body() {
    if (sparser->is_done()) return finish_stream();
    sparser->get().body().data = chunk_buf;
    sparser->get().body().size = sizeof chunk_buf;
    lowest().expires_after(std::chrono::milliseconds(timeout_ms));
    with_stream([&](auto& s) {
      http::async_read_some(
          s, buffer, *sparser, [self = shared_from_this(), g = gen](beast::error_code ec, size_t) {
            if (g != self->gen) return;
            if (ec == http::error::need_buffer) ec = {};
            if (ec) return self->fail("read", ec);
            const size_t n = sizeof self->chunk_buf - self->sparser->get().body().size;
            const int status = static_cast<int>(self->sparser->get().result_int());
            if (n > 0) {
              if (status / 100 == 2) {
                self->on_chunk(std::string_view(self->chunk_buf, n));
                if (g != self->gen) return;  // cancelled from inside the callback
              } else if (self->error_body.size() < 64 * 1024) {
                self->error_body.append(self->chunk_buf, n);
              }
            }
            self->read_stream_body();
          });
    });
  }

  void finish_stream() {
    const int status = static_cast<int>(sparser->get().result_int());
    if (!sparser->get().keep_alive()) reset();
    finish({status, std::move(error_body), "", {}});
  }

  void read() {
    if (streaming) return read_stream_header();
    parser.emplace();
    parser->body_limit(16 * 1024 * 1024);
    auto on_read = [self = shared_from_this(), g = gen](beast::error_code ec, size_t) {
      if (g != self->gen) return;
      if (ec) {
        // The server closed an idle keep-alive connection before reading our request.
        if (ec == http::error::end_of_stream && self->reused && !self->retried) {
          self->retried = true;
          self->reset();
          return self->start();
        }
        return self->fail("read", ec);
      }
      auto res = self->parser->release();
      if (!res.keep_alive()) self->reset();
      HttpResponse out{static_cast<int>(res.result_int()), std::move(res.body()), "", {}};
      if (self->with_headers)
        for (const auto& f : res)
          out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      self->finish(std::move(out));
    };
    if (tls) {
      http::async_read(*secure, buffer, *parser, on_read);
    } else {
      http::async_read(*plain, buffer, *parser, on_read);
    }
  }
};

HttpClient::HttpClient(asio::io_context& io, const std::string& base_url)
    : impl_(std::make_shared<Impl>(io)) {
  std::string rest;
  if (base_url.rfind("https://", 0) == 0) {
    impl_->tls = true;
    rest = base_url.substr(8);
  } else if (base_url.rfind("http://", 0) == 0) {
    rest = base_url.substr(7);
  } else {
    throw std::invalid_argument("URL must start with http:// or https://: " + base_url);
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  impl_->prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!impl_->prefix.empty() && impl_->prefix.back() == '/') impl_->prefix.pop_back();
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    impl_->host = authority.substr(0, colon);
    impl_->port = authority.substr(colon + 1);
  } else {
    impl_->host = authority;
    impl_->port = impl_->tls ? "443" : "80";
  }
  if (impl_->host.empty()) throw std::invalid_argument("URL has no host: " + base_url);
  if (impl_->tls) impl_->init_tls();
}

HttpClient::~HttpClient() {
  impl_->cb = nullptr;  // no callback into a destroyed owner
  impl_->reset();
}

bool HttpClient::busy() const {
  return static_cast<bool>(impl_->cb);
}

void HttpClient::post_json(const std::string& path, const std::string& body, int timeout_ms,
                           Callback cb, const Headers& headers) {
  begin(path, body, headers, timeout_ms, std::move(cb), nullptr);
}

void HttpClient::post_stream(const std::string& path, const std::string& body,
                             const Headers& headers, int idle_timeout_ms, ChunkCallback on_chunk,
                             Callback done) {
  begin(path, body, headers, idle_timeout_ms, std::move(done), std::move(on_chunk));
}

void HttpClient::request(const std::string& method, const std::string& path,
                         const std::string& body, int timeout_ms, Callback cb,
                         const Headers& headers) {
  if (method != "GET" && method != "POST")
    throw std::invalid_argument("HttpClient::request: GET or POST, not " + method);
  begin(path, body, headers, timeout_ms, std::move(cb), nullptr, method == "GET", true);
}

void HttpClient::begin(const std::string& path, const std::string& body, const Headers& headers,
                       int timeout_ms, Callback cb, ChunkCallback on_chunk, bool get,
                       bool with_headers) {
  if (impl_->cb) throw std::logic_error("HttpClient: a request is already outstanding");
  Impl& im = *impl_;
  im.cb = std::move(cb);
  ++im.gen;
  im.streaming = static_cast<bool>(on_chunk);
  im.on_chunk = std::move(on_chunk);
  im.timeout_ms = timeout_ms;
  im.retried = false;
  im.with_headers = with_headers;
  im.req = {};
  im.req.method(get ? http::verb::get : http::verb::post);
  im.req.target(im.prefix + path);
  im.req.version(11);
  im.req.set(http::field::host, im.host);
  im.req.set(http::field::user_agent, "clawgate/0.1");
  if (!get) im.req.set(http::field::content_type, "application/json");
  if (im.streaming) im.req.set(http::field::accept, "text/event-stream");
  for (const auto& [k, v] : headers) im.req.set(k, v);
  im.req.keep_alive(true);
  if (!get) im.req.body() = body;
  im.req.prepare_payload();
  im.start();
}

void HttpClient::cancel() {
  if (!impl_->cb) return;
  // The cut request's operations still hold its buffers (the request's header fields) until
  // their handlers run, later on the loop: rewriting that request for the next one under them
  // was a use after free. The next request gets a fresh Impl; the old one lives on in those
  // handlers (which see the bumped generation and do nothing) and goes with the last of them.
  std::shared_ptr<Impl> old = impl_;
  ++old->gen;
  old->reset();
  impl_ = old->fresh();
  old->finish({0, "", "cancelled", {}});  // may start the next request, on the fresh Impl
}

}  // namespace clawgate::workers
