// Fuzz target: the HTTP request the front reads before a WebSocket upgrade, down the path
// websocketpp takes in connection::handle_read_handshake (request::consume on reads of at most
// the front's 2048-byte buffer, then the hybi13 processor's handshake checks, URI and
// subprotocols), followed by what the front does with the headers (ws_transport.cpp's
// on_validate and the Gateway's on_upgrade: the client behind trusted proxies, its rate-limit
// bucket, local-host and Origin rules; on_http's page path).
// Fails: http::exception is websocketpp's documented rejection (a 4xx/5xx response); anything
// else escaping, or a sanitizer report, is a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>
#include <websocketpp/config/core.hpp>
#include <websocketpp/http/request.hpp>
#include <websocketpp/processors/hybi13.hpp>

#include "auth.hpp"
#include "net.hpp"
#include "peer.hpp"
#include "transport.hpp"
#include "wire.hpp"

namespace {

constexpr size_t kReadBuffer = 2048;  // FrontConfig::connection_read_buffer_size

using Config = websocketpp::config::core;
using Processor = websocketpp::processor::hybi13<Config>;

void after_headers(const websocketpp::http::parser::request& req, bool loopback_peer) {
  using namespace clawgate;
  using namespace clawgate::front;
  // ws_transport.cpp on_validate: the headers become the PeerInfo the core judges.
  PeerInfo peer;
  peer.socket_ip = loopback_peer ? "127.0.0.1" : "203.0.113.7";
  peer.origin = req.get_header("Origin");
  peer.host = req.get_header("Host");
  peer.user_agent = req.get_header("User-Agent");
  peer.forwarded_for = req.get_header("X-Forwarded-For");
  peer.real_ip = req.get_header("X-Real-IP");
  peer.forwarded = req.get_header("Forwarded");
  peer.forwarded_host = req.get_header("X-Forwarded-Host");
  peer.forwarded_proto = req.get_header("X-Forwarded-Proto");
  // Gateway::on_upgrade: who the client is (with and without a trusted proxy), its rate-limit
  // bucket, the Origin policy.
  ProxyPolicy none, trusted;
  trusted.trusted.push_back(*parse_ip_range("127.0.0.0/8"));
  trusted.trusted.push_back(*parse_ip_range("203.0.113.0/24"));
  trusted.allow_real_ip_fallback = true;
  for (const ProxyPolicy* policy : {&none, &trusted}) {
    const ClientInfo client = resolve_client(peer, *policy);
    (void)rate_limit_key(client, peer.origin);
    (void)is_loopback_ip(normalize_ip(client.ip));
  }
  (void)is_local_host(peer.host);
  (void)origin_allowed(peer.origin, {});
  (void)origin_allowed(peer.origin, {"https://ui.example", "http://localhost:3000"});
  // on_http: the page path, query string ignored.
  const std::string& resource = req.get_uri();
  const std::string path = resource.substr(0, resource.find('?'));
  (void)path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // First byte: the read size (the network decides where reads end) and whether the TCP peer
  // is loopback (bit 7).
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % kReadBuffer;
  const bool loopback_peer = (data[0] & 0x80) == 0;
  const char* p = reinterpret_cast<const char*>(data + 1);
  size_t left = size - 1;
  websocketpp::http::parser::request req;
  try {
    while (left > 0 && !req.ready()) {
      const size_t n = std::min(chunk, left);
      const size_t used = req.consume(p, n);
      if (used > n) __builtin_trap();  // websocketpp's own "paranoid boundaries check"
      p += n;
      left -= n;
    }
  } catch (const websocketpp::http::exception&) {
    return 0;
  }
  if (!req.ready()) return 0;
  if (!websocketpp::processor::is_websocket_handshake(req)) {
    auto uri = websocketpp::processor::get_uri_from_host(req, "http");
    if (uri->get_valid()) after_headers(req, loopback_peer);
    return 0;
  }
  if (websocketpp::processor::get_websocket_version(req) != 13) return 0;
  Config::rng_type rng;
  Processor proc(false, true, websocketpp::lib::make_shared<Config::con_msg_manager_type>(), rng);
  if (proc.validate_handshake(req)) return 0;
  (void)proc.negotiate_extensions(req);
  auto uri = proc.get_uri(req);
  if (!uri->get_valid()) return 0;
  std::vector<std::string> subprotocols;
  (void)proc.extract_subprotocols(req, subprotocols);
  after_headers(req, loopback_peer);
  return 0;
}
