// Who is on the other end of an upgrade request: the client address (taken from
// X-Forwarded-For only when the TCP peer is in gateway.trustedProxies), whether the request is
// local and direct, whether it comes from a browser page and whether that page is this
// gateway's own WebChat, and the failed-auth rate-limit bucket it counts against.
// Upstream rules (docs: gateway/trusted-proxy-auth, gateway/security/rate-limiting):
//  - any forwarding header (Forwarded, X-Forwarded-*, X-Real-IP) or a Host that is not this
//    machine makes a request non-local;
//  - a loopback peer that sends forwarding headers without being a trusted proxy, or a trusted
//    proxy whose headers do not name a non-loopback client, cannot be attributed and is
//    refused (proxy_attribution_required);
//  - browser (Origin) requests never get the loopback exemption; from loopback they are
//    limited per Origin.
// Pure functions; never throw.
#pragma once
#include <string>
#include <vector>

#include "config.hpp"
#include "net.hpp"
#include "transport.hpp"

namespace clawgate::front {

struct ProxyPolicy {
  std::vector<IpRange> trusted;  // gateway.trustedProxies
  bool allow_real_ip_fallback = false;
};
ProxyPolicy proxy_policy(const GatewaySettings& s);  // entries were validated with the config

struct ClientInfo {
  std::string ip;         // the client: for rate limits, presence and logs
  bool proxied = false;   // forwarding headers, or a Host that is not this machine
  bool local = false;     // a loopback client talking to us directly
  bool browser = false;   // sent an Origin header
  bool own_page = false;  // a page this gateway served (same origin as the Host), local
  std::string refusal;    // not empty: the request cannot be attributed, and why
};
ClientInfo resolve_client(const PeerInfo& peer, const ProxyPolicy& policy);

// The failed-auth bucket: the client IP, or "browser-origin:<origin>" for a browser page on
// loopback. `exemptable`: the loopback exemption (gateway.auth.rateLimit.exemptLoopback) may
// apply, which is only ever true for a local, non-browser client.
struct RateLimitKey {
  std::string key;
  bool exemptable = false;
};
RateLimitKey rate_limit_key(const ClientInfo& client, const std::string& origin);

}  // namespace clawgate::front
