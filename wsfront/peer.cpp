// Who is on the other end: see peer.hpp.
#include "peer.hpp"

#include <algorithm>
#include <cctype>

#include "utf8.hpp"

namespace clawgate::front {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool trusted(const std::string& ip, const ProxyPolicy& p) {
  return std::any_of(p.trusted.begin(), p.trusted.end(),
                     [&](const IpRange& r) { return ip_in_range(ip, r); });
}

// One X-Forwarded-For / X-Real-IP entry: "1.2.3.4", "1.2.3.4:567", "[::1]:80" or "::1".
// "" when it is not an address.
std::string entry_ip(const std::string& raw) {
  const std::string e = trim(raw);
  if (is_ip_literal(e)) return normalize_ip(e);
  const HostPort hp = split_host_port(e);
  return is_ip_literal(hp.host) ? normalize_ip(hp.host) : "";
}

// The client a trusted proxy names: the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy (entries left of it were written by the client and prove nothing). "" when the
// chain holds something that is not an address, or only proxies.
std::string forwarded_client(const PeerInfo& peer, const ProxyPolicy& p) {
  const std::string& xff = peer.forwarded_for;
  if (trim(xff).empty())
    return p.allow_real_ip_fallback && !trim(peer.real_ip).empty() ? entry_ip(peer.real_ip) : "";
  size_t end = xff.size();
  while (true) {
    const size_t comma = end == 0 ? std::string::npos : xff.rfind(',', end - 1);
    const size_t begin = comma == std::string::npos ? 0 : comma + 1;
    const std::string ip = entry_ip(xff.substr(begin, end - begin));
    if (ip.empty()) return "";
    if (!trusted(ip, p)) return ip;
    if (comma == std::string::npos) return "";
    end = comma;
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The Origin's "host[:port]", lower-cased, for http(s) origins; "" otherwise.
std::string origin_authority(const std::string& origin) {
  const std::string o = lower(origin);
  for (const char* scheme : {"http://", "https://"}) {
    const std::string sch = scheme;
    if (o.rfind(sch, 0) == 0) return o.substr(sch.size(), o.find('/', sch.size()) - sch.size());
  }
  return "";
}

}  // namespace

ProxyPolicy proxy_policy(const GatewaySettings& s) {
  ProxyPolicy p;
  for (const auto& t : s.trusted_proxies)
    if (auto r = parse_ip_range(t)) p.trusted.push_back(*r);
  p.allow_real_ip_fallback = s.allow_real_ip_fallback;
  return p;
}

ClientInfo resolve_client(const PeerInfo& peer, const ProxyPolicy& policy) {
  ClientInfo c;
  c.ip = peer.socket_ip;
  c.browser = !peer.origin.empty();
  const bool forwarding = !peer.forwarded_for.empty() || !peer.real_ip.empty() ||
                          !peer.forwarded.empty() || !peer.forwarded_host.empty() ||
                          !peer.forwarded_proto.empty();
  c.proxied = forwarding || !is_local_host(peer.host);
  if (forwarding) {
    if (trusted(peer.socket_ip, policy)) {
      const std::string client = forwarded_client(peer, policy);
      if (client.empty() || is_loopback_ip(client)) {
        c.refusal = "the trusted proxy " + peer.socket_ip +
                    " did not name a non-loopback client in X-Forwarded-For";
      } else {
        c.ip = client;
      }
    } else if (is_loopback_ip(peer.socket_ip)) {
      // A same-host proxy nobody declared: its clients would all look local.
      c.refusal =
          "forwarded request from " + peer.socket_ip + ", which is not in gateway.trustedProxies";
    }
    // Otherwise a remote peer: its headers are ignored and its own address counts.
  }
  c.local = !c.proxied && is_loopback_ip(c.ip);
  // Same origin as the Host the browser connected to: the page came from this gateway.
  const std::string page = origin_authority(peer.origin);
  c.own_page = c.browser && c.local && !page.empty() && page == lower(trim(peer.host));
  return c;
}

RateLimitKey rate_limit_key(const ClientInfo& client, const std::string& origin) {
  if (client.browser && is_loopback_ip(client.ip)) {
    // Capped: a real origin is short, and a forged long one must not make buckets costly.
    return {"browser-origin:" + lower(origin.substr(0, utf8::cut_bytes(origin, 200))), false};
  }
  return {client.ip, client.local && !client.browser};
}

}  // namespace clawgate::front
