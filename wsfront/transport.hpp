// The seam between the protocol core (Gateway) and the WebSocket library. The core never sees
// websocketpp; the transport never sees JSON. Connection ids are never reused.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace clawgate::front {

using ConnId = uint64_t;

// What the upgrade request said, raw: the core decides what to believe (see peer.hpp).
// Header values are "" when absent.
struct PeerInfo {
  std::string socket_ip;  // the TCP peer, normalised (IPv4-mapped IPv6 shown as IPv4)
  std::string origin;     // Origin
  std::string host;       // Host
  std::string user_agent;
  std::string forwarded_for;    // X-Forwarded-For
  std::string real_ip;          // X-Real-IP
  std::string forwarded;        // Forwarded (RFC 7239)
  std::string forwarded_host;   // X-Forwarded-Host
  std::string forwarded_proto;  // X-Forwarded-Proto
  std::string local_ip;         // the address the client reached us on, normalised
  uint16_t local_port = 0;      // and its port
};

// Implemented by the WebSocket server; called by the core on the loop thread.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(ConnId id, std::string&& text) = 0;
  virtual void close(ConnId id, uint16_t code, std::string_view reason) = 0;
  virtual size_t buffered_amount(ConnId id) const = 0;
  virtual void set_max_message_size(ConnId id, size_t bytes) = 0;
  virtual void stop_listening() = 0;
};

// Implemented by the core; called by the transport on the loop thread.
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  struct Refusal {
    int http_status = 0;  // 0: accept
    std::string reason;
  };
  // Before the upgrade response: may refuse (origin, per-IP pre-auth limit).
  virtual Refusal on_upgrade(ConnId id, const PeerInfo& peer) = 0;
  virtual void on_open(ConnId id) = 0;
  virtual void on_message(ConnId id, std::string&& data, bool binary) = 0;
  // After on_upgrade accepted: the connection is gone (closed, failed or never opened).
  virtual void on_close(ConnId id) = 0;
};

// Plain HTTP requests on paths a handler claims (Slack HTTP mode's webhook paths), raw, answered
// later: the transport keeps the connection until `respond` runs, which the handler must do
// exactly once (a client gone meanwhile just gets nothing).
struct WebhookExchange {
  std::string method, path;  // path without the query
  std::string content_type, slack_timestamp, slack_signature, slack_retry_num;
  std::string body;  // the transport refuses bodies past its limit (413) before this
};
struct WebhookReply {
  int status = 503;
  std::string content_type = "text/plain; charset=utf-8", body;
};
class WebhookHandler {
 public:
  virtual ~WebhookHandler() = default;
  virtual bool claims(const std::string& path) const = 0;
  virtual size_t max_body_bytes() const = 0;
  virtual void on_request(WebhookExchange&& request, std::function<void(WebhookReply)> respond) = 0;
};

}  // namespace clawgate::front
