// HttpClient: one keep-alive HTTP/1.1 connection (plain or TLS with certificate and host name
// verification) to one base URL, on the worker's Asio loop, with one request at a time and a
// deadline per request. Used by channel workers to speak platform APIs; the base URL is
// configuration so tests point it at a local emulator.
// Fails: every outcome reaches the callback exactly once: a status and body, or `error` set
// (DNS, connect, TLS, timeout, reset). A reused connection that turns out dead is retried once
// on a fresh one only when the server cannot have seen the request (nothing was written).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clawgate::workers {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string error;  // transport failure; status is 0 then
  // The response's header fields as sent (names as written), for request(); bounded by the
  // parser's header limit (8 KiB).
  std::vector<std::pair<std::string, std::string>> headers;
};

class HttpClient {
 public:
  using Callback = std::function<void(HttpResponse)>;
  using ChunkCallback = std::function<void(std::string_view)>;
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // base_url: http[s]://host[:port][/prefix]. Throws std::invalid_argument when malformed.
  HttpClient(boost::asio::io_context& io, const std::string& base_url);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` (application/json) to prefix + path. Only one request may be outstanding.
  void post_json(const std::string& path, const std::string& body, int timeout_ms, Callback cb,
                 const Headers& headers = {});
  // GET (no body) or POST (`body` as JSON) to prefix + path; the response carries its header
  // fields. Only one request may be outstanding.
  void request(const std::string& method, const std::string& path, const std::string& body,
               int timeout_ms, Callback cb, const Headers& headers = {});
  // POSTs and hands a 2xx response body to on_chunk as it arrives (server-sent events); any
  // other status collects the body (up to 64 KiB) into the final response. Each read must make
  // progress within idle_timeout_ms. `done` runs once, after the last chunk.
  void post_stream(const std::string& path, const std::string& body, const Headers& headers,
                   int idle_timeout_ms, ChunkCallback on_chunk, Callback done);
  void cancel();  // the outstanding request completes with error "cancelled"
  bool busy() const;

 private:
  void begin(const std::string& path, const std::string& body, const Headers& headers,
             int timeout_ms, Callback cb, ChunkCallback on_chunk, bool get = false,
             bool with_headers = false);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace clawgate::workers
