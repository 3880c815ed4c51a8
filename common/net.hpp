// Address rules shared by the front, the supervisor and the CLI: IP normalisation, loopback
// tests, CIDR ranges (gateway.trustedProxies), "host[:port]" splitting, and which host names
// count as this machine (loopback IP literals and `localhost`; no name resolution, so a DNS
// answer can never make a name local).
// Fails: never throws; a malformed address is simply not an IP (parse_ip_range returns nullopt).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace clawgate {

// "::ffff:1.2.3.4" -> "1.2.3.4"; strips brackets and IPv6 zone ids; lower-cases.
std::string normalize_ip(const std::string& ip);
// 127.0.0.0/8, ::1 and their IPv4-mapped forms. Takes any form normalize_ip accepts.
bool is_loopback_ip(const std::string& ip);
// True when `s` is an IPv4 or IPv6 literal (brackets and mapped forms allowed).
bool is_ip_literal(const std::string& s);

// An address range: an IP ("10.0.0.1") or a CIDR ("10.0.0.0/8", "fd00::/8",
// "::ffff:10.0.0.0/104"). IPv4 is held IPv4-mapped, so "10.0.0.0/8" and "::ffff:10.0.0.0/104"
// are the same range and both match a peer seen as 10.1.2.3 or ::ffff:10.1.2.3.
struct IpRange {
  std::array<uint8_t, 16> base{};
  int prefix = 128;
};
std::optional<IpRange> parse_ip_range(const std::string& text);
bool ip_in_range(const std::string& ip, const IpRange& range);

// "host:port", "[v6]:port", "host" -> host (brackets removed, lower-cased) and port ("" if none).
struct HostPort {
  std::string host, port;
};
HostPort split_host_port(std::string_view authority);

// `localhost` or a loopback IP literal (the port, if any, is ignored).
bool is_local_host(std::string_view authority);

// The local address a socket is bound to (normalised, no port); "" when getsockname fails.
std::string socket_local_address(int fd);

}  // namespace clawgate
