// Unit tests: who is on the other end of an upgrade (trusted proxies, forwarding headers, local
// Host, browser pages and their rate-limit buckets), CIDR ranges and local host names.
#include <gtest/gtest.h>

#include "net.hpp"
#include "peer.hpp"

namespace clawgate::front {
namespace {

PeerInfo direct(const std::string& ip, const std::string& host = "127.0.0.1:18789") {
  PeerInfo p;
  p.socket_ip = ip;
  p.host = host;
  return p;
}

ProxyPolicy trusting(std::vector<std::string> ranges, bool real_ip = false) {
  GatewaySettings s;
  s.trusted_proxies = std::move(ranges);
  s.allow_real_ip_fallback = real_ip;
  return proxy_policy(s);
}

TEST(Net, RangesMatchIpv4InBothFormsAndIpv6) {
  const IpRange ten = *parse_ip_range("10.0.0.0/8");
  EXPECT_TRUE(ip_in_range("10.1.2.3", ten));
  EXPECT_TRUE(ip_in_range("::ffff:10.1.2.3", ten));
  EXPECT_FALSE(ip_in_range("11.0.0.1", ten));
  EXPECT_TRUE(ip_in_range("10.9.9.9", *parse_ip_range("::ffff:10.0.0.0/104")));
  EXPECT_TRUE(ip_in_range("fd00::5", *parse_ip_range("fd00::/8")));
  EXPECT_FALSE(ip_in_range("10.0.0.1", *parse_ip_range("fd00::/8")));
  EXPECT_TRUE(ip_in_range("192.0.2.7", *parse_ip_range("192.0.2.7")));
  EXPECT_FALSE(ip_in_range("192.0.2.8", *parse_ip_range("192.0.2.7")));
  for (const char* bad : {"10.0.0.0/33", "nope", "10.0.0.0/", "fd00::/129", "10.0.0.0/x"})
    EXPECT_FALSE(parse_ip_range(bad)) << bad;
}

TEST(Net, OnlyLocalhostAndLoopbackLiteralsAreLocalHosts) {
  for (const char* h :
       {"localhost", "LOCALHOST:18789", "127.0.0.1:1", "127.0.0.2", "[::1]:18789", "::1"})
    EXPECT_TRUE(is_local_host(h)) << h;
  for (const char* h : {"", "vm:18789", "evil.example", "localhost.evil.example", "192.0.2.2:80",
                        "127.0.0.1.nip.io", "[fd00::2]:18789"})
    EXPECT_FALSE(is_local_host(h)) << h;
  EXPECT_TRUE(is_loopback_ip("::ffff:127.9.9.9"));
  EXPECT_FALSE(is_loopback_ip("127.foo"));
}

TEST(Peer, ADirectLoopbackRequestIsLocal) {
  const ClientInfo c = resolve_client(direct("127.0.0.1"), {});
  EXPECT_TRUE(c.local);
  EXPECT_FALSE(c.proxied);
  EXPECT_EQ(c.ip, "127.0.0.1");
  EXPECT_TRUE(c.refusal.empty());
}

TEST(Peer, AnyForwardingHeaderOrAForeignHostMakesItNonLocal) {
  const auto with = [](auto set) {
    PeerInfo p = direct("10.0.0.9");  // a remote peer: headers ignored, never refused
    set(p);
    return resolve_client(p, {});
  };
  EXPECT_TRUE(with([](PeerInfo& p) { p.real_ip = "1.2.3.4"; }).proxied);
  EXPECT_TRUE(with([](PeerInfo& p) { p.forwarded_host = "gw.example"; }).proxied);
  EXPECT_TRUE(with([](PeerInfo& p) { p.forwarded_proto = "https"; }).proxied);
  EXPECT_TRUE(with([](PeerInfo& p) { p.forwarded = "for=1.2.3.4"; }).proxied);
  EXPECT_EQ(with([](PeerInfo& p) { p.forwarded_for = "127.0.0.1"; }).ip, "10.0.0.9")
      << "an untrusted peer cannot choose its address";
  const ClientInfo rebound = resolve_client(direct("127.0.0.1", "evil.example:18789"), {});
  EXPECT_FALSE(rebound.local) << "a Host that is not this machine";
  EXPECT_TRUE(rebound.refusal.empty());
}

TEST(Peer, AnUndeclaredSameHostProxyIsRefused) {
  PeerInfo p = direct("127.0.0.1");
  p.forwarded_proto = "https";
  const ClientInfo c = resolve_client(p, {});
  EXPECT_FALSE(c.local);
  EXPECT_NE(c.refusal.find("gateway.trustedProxies"), std::string::npos) << c.refusal;
}

TEST(Peer, ATrustedProxyNamesTheClientInXForwardedFor) {
  PeerInfo p = direct("127.0.0.1", "gw.example");
  p.forwarded_for = "203.0.113.9";
  ClientInfo c = resolve_client(p, trusting({"127.0.0.1"}));
  EXPECT_EQ(c.ip, "203.0.113.9");
  EXPECT_FALSE(c.local);
  EXPECT_TRUE(c.refusal.empty());
  // The rightmost address that is not a trusted proxy; what the client wrote to its left is
  // ignored. Ports and brackets are stripped.
  p.socket_ip = "10.0.0.2";
  p.forwarded_for = "127.0.0.1, 198.51.100.4:5555, 10.0.0.3";
  c = resolve_client(p, trusting({"10.0.0.0/24"}));
  EXPECT_EQ(c.ip, "198.51.100.4");
  p.forwarded_for = "[2001:db8::7]:443";
  EXPECT_EQ(resolve_client(p, trusting({"10.0.0.0/24"})).ip, "2001:db8::7");
}

TEST(Peer, ATrustedProxyThatNamesNoUsableClientIsRefused) {
  PeerInfo p = direct("10.0.0.2", "gw.example");
  p.forwarded_for = "127.0.0.1";
  EXPECT_FALSE(resolve_client(p, trusting({"10.0.0.2"})).refusal.empty()) << "loopback client";
  p.forwarded_for = "not-an-ip";
  EXPECT_FALSE(resolve_client(p, trusting({"10.0.0.2"})).refusal.empty());
  p.forwarded_for = "";
  p.real_ip = "198.51.100.4";
  EXPECT_FALSE(resolve_client(p, trusting({"10.0.0.2"})).refusal.empty())
      << "X-Real-IP only with allowRealIpFallback";
  EXPECT_EQ(resolve_client(p, trusting({"10.0.0.2"}, true)).ip, "198.51.100.4");
}

TEST(Peer, BrowserPagesAreLimitedPerOriginOnLoopbackAndNeverExempt) {
  PeerInfo p = direct("127.0.0.1");
  EXPECT_TRUE(rate_limit_key(resolve_client(p, {}), "").exemptable);
  p.origin = "http://LOCALHOST:3000";
  const ClientInfo c = resolve_client(p, {});
  EXPECT_TRUE(c.browser);
  EXPECT_FALSE(c.own_page);
  const RateLimitKey k = rate_limit_key(c, p.origin);
  EXPECT_EQ(k.key, "browser-origin:http://localhost:3000");
  EXPECT_FALSE(k.exemptable);
  p.origin = "http://localhost:3000/" + std::string(10000, 'a');
  EXPECT_LE(rate_limit_key(resolve_client(p, {}), p.origin).key.size(), 215u)
      << "a forged long origin does not make a costly bucket";
  PeerInfo remote = direct("198.51.100.4", "gw.example");
  remote.origin = "https://gw.example";
  EXPECT_EQ(rate_limit_key(resolve_client(remote, {}), remote.origin).key, "198.51.100.4");
}

TEST(Peer, OnlyThePageThisGatewayServedIsItsOwnPage) {
  PeerInfo p = direct("127.0.0.1", "127.0.0.1:18789");
  p.origin = "http://127.0.0.1:18789";
  EXPECT_TRUE(resolve_client(p, {}).own_page);
  p.origin = "http://127.0.0.1:18790";
  EXPECT_FALSE(resolve_client(p, {}).own_page);
  p.origin = "http://localhost:18789";
  EXPECT_FALSE(resolve_client(p, {}).own_page) << "same machine, another origin";
  p.origin = "null";
  EXPECT_FALSE(resolve_client(p, {}).own_page);
}

}  // namespace
}  // namespace clawgate::front
