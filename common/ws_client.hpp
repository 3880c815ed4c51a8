// WebSocket client (Boost.Beast, blocking calls with timeouts) and an OpenClaw protocol client
// on top of it. Used by the CLI, the tests and the benchmark tools. Raw sends are not validated,
// so tests can deliver broken frames (invalid UTF-8, non-JSON, oversize) on purpose.
// wss:// URLs verify the server either against a pinned SHA-256 certificate fingerprint
// (Options::tls_fingerprint: the leaf alone counts, as upstream's clients pin) or against the
// system's CA store and the URL's host name.
// Fails: WsError for transport problems (with the HTTP status when an upgrade was refused; a
// certificate that is not the pinned one or not trusted, naming both fingerprints),
// GatewayError for a protocol-level error response, TimeoutError when nothing arrives in time.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "version.hpp"

namespace clawgate {

using Json = nlohmann::json;

class WsError : public std::runtime_error {
 public:
  WsError(const std::string& what, int http_status = 0)
      : std::runtime_error(what), http_status(http_status) {}
  int http_status;  // non-zero when the server refused the upgrade
};

class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct WsUrl {
  std::string host, port, path;
  bool tls = false;  // wss://
};
// ws://host[:port]/path (port 80) or wss://... (port 443); throws WsError.
WsUrl parse_ws_url(const std::string& url);

struct WsMessage {
  bool closed = false;      // the connection ended; see close_code/close_reason
  uint16_t close_code = 0;  // 1006 when the TCP connection dropped without a close frame
  std::string close_reason;
  bool binary = false;
  std::string data;
};

class WsClient {
 public:
  struct Options {
    std::string origin;  // sent as the Origin header when not empty
    // More request headers (tests: proxy headers, a foreign Host); a Host here replaces the
    // one taken from the URL.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string source_ip;  // bind the local end to this address (tests use 127.0.0.x)
    int timeout_ms = 5000;
    int recv_buffer = 0;  // SO_RCVBUF when > 0 (tests make slow consumers with it)
    size_t max_message = 64 * 1024 * 1024;
    // wss:// only. A normalized fingerprint (tls_files.hpp): the server's leaf certificate must
    // have it, and nothing else is checked. "": the system CA store and the URL's host.
    std::string tls_fingerprint;
  };
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void connect(const std::string& url, const Options& opts);
  void connect(const std::string& url) { connect(url, Options{}); }
  void send_text(const std::string& data);
  void send_binary(const std::string& data);
  // Writes bytes straight to the connection (inside TLS on wss://), for tests sending what a
  // WS library will not.
  void send_raw(const std::string& bytes);
  // Waits up to timeout_ms for the next message or the close; throws TimeoutError.
  WsMessage read(int timeout_ms);
  void close(uint16_t code = 1000, const std::string& reason = "");
  bool is_open() const;
  // Raw TCP access for tests that hold a socket without sending anything.
  std::string local_address() const;
  // wss://: the SHA-256 of the certificate the server presented ("" before, or over ws://).
  std::string peer_fingerprint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct GatewayError : std::runtime_error {
  GatewayError(std::string code, std::string message, Json details, uint16_t close_code = 0)
      : std::runtime_error(code + ": " + message),
        code(std::move(code)),
        message(std::move(message)),
        details(std::move(details)),
        close_code(close_code) {}
  std::string code, message;
  Json details;
  uint16_t close_code;  // set when the server closed the connection after the error
};

struct ConnectOptions {
  std::string url = "ws://127.0.0.1:18789";
  std::string token, password;
  std::string client_id = "cli", client_mode = "cli", role = "operator";
  std::string client_version = kVersion, platform = "linux";
  int min_protocol = 3, max_protocol = 4;
  std::vector<std::string> scopes = {"operator.admin", "operator.read", "operator.write",
                                     "operator.approvals", "operator.pairing"};
  bool send_scopes = true;
  int timeout_ms = 10000;
  WsClient::Options ws;
};

// A protocol client: handshake, requests by id, events kept in arrival order (bounded).
class GatewayClient {
 public:
  static constexpr size_t kMaxBufferedEvents = 10000;

  explicit GatewayClient(WsClient& ws) : ws_(ws) {}
  // Runs the whole handshake; returns the hello-ok payload.
  Json connect(const ConnectOptions& opts);
  // Sends a request and waits for its response; returns the whole res frame.
  Json request_frame(const std::string& method, const Json& params, int timeout_ms = 10000);
  // Pipelining: send_request returns the id at once; wait_response collects that id's res
  // frame, keeping responses to other outstanding ids for their own wait_response.
  std::string send_request(const std::string& method, const Json& params);
  Json wait_response(const std::string& id, int timeout_ms = 10000);
  // Like request_frame but returns the payload, or throws GatewayError for ok:false.
  Json call(const std::string& method, const Json& params = Json::object(), int timeout_ms = 10000);
  // Next event frame (from the buffer first); throws TimeoutError.
  Json next_event(int timeout_ms);
  // Waits for an event with this name, discarding others; throws TimeoutError.
  Json wait_event(const std::string& name, int timeout_ms);
  const Json& challenge() const { return challenge_; }
  std::optional<WsMessage> close_info() const { return close_; }

 private:
  Json read_frame(int timeout_ms);
  WsClient& ws_;
  std::deque<Json> events_;
  std::map<std::string, Json> responses_;  // arrived for an outstanding id, not yet collected
  std::set<std::string> outstanding_;
  Json challenge_;
  uint64_t next_id_ = 1;
  std::optional<WsMessage> close_;
};

}  // namespace clawgate
