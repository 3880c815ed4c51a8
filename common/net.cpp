// Address rules: see net.hpp.
#include "net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace clawgate {

namespace {

using Bytes = std::array<uint8_t, 16>;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// IPv4 comes back IPv4-mapped (::ffff:a.b.c.d), so one comparison covers both forms.
std::optional<Bytes> ip_bytes(const std::string& raw) {
  const std::string ip = normalize_ip(raw);
  Bytes b{};
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    b[10] = b[11] = 0xff;
    std::copy_n(reinterpret_cast<const uint8_t*>(&v4), 4, b.begin() + 12);
    return b;
  }
  if (inet_pton(AF_INET6, ip.c_str(), b.data()) == 1) return b;
  return std::nullopt;
}

bool same_prefix(const Bytes& a, const Bytes& b, int prefix) {
  for (int i = 0; i < 16 && prefix > 0; ++i, prefix -= 8) {
    const uint8_t mask = prefix >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - prefix));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

bool is_v4_mapped(const Bytes& b) {
  for (int i = 0; i < 10; ++i)
    if (b[i]) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

}  // namespace

std::string normalize_ip(const std::string& raw) {
  std::string ip = raw;
  if (!ip.empty() && ip.front() == '[') {
    const auto close = ip.find(']');
    ip = ip.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  const auto zone = ip.find('%');
  if (zone != std::string::npos) ip.resize(zone);
  ip = lower(ip);
  const std::string mapped = "::ffff:";
  if (ip.rfind(mapped, 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(mapped.size());
  return ip;
}

bool is_ip_literal(const std::string& s) {
  return ip_bytes(s).has_value();
}

bool is_loopback_ip(const std::string& ip) {
  const auto b = ip_bytes(ip);
  if (!b) return false;
  if (is_v4_mapped(*b)) return (*b)[12] == 127;
  static const Bytes kV6Loopback = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return *b == kV6Loopback;
}

std::optional<IpRange> parse_ip_range(const std::string& text) {
  const auto slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  const auto b = ip_bytes(addr);
  if (!b) return std::nullopt;
  // A plain IPv4 literal (not written as ::ffff:...) counts its prefix in IPv4 bits.
  in_addr v4{};
  const bool written_v4 = inet_pton(AF_INET, addr.c_str(), &v4) == 1;
  IpRange r;
  r.base = *b;
  if (slash == std::string::npos) {
    r.prefix = 128;
    return r;
  }
  const std::string bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int n = std::atoi(bits.c_str());
  if (n > (written_v4 ? 32 : 128)) return std::nullopt;
  r.prefix = written_v4 ? n + 96 : n;
  return r;
}

bool ip_in_range(const std::string& ip, const IpRange& range) {
  const auto b = ip_bytes(ip);
  return b && same_prefix(*b, range.base, range.prefix);
}

HostPort split_host_port(std::string_view authority) {
  HostPort out;
  std::string a = lower(authority);
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    out.host = a.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < a.size() && a[close + 1] == ':')
      out.port = a.substr(close + 2);
    return out;
  }
  const auto colon = a.find(':');
  if (colon != std::string::npos && a.find(':', colon + 1) != std::string::npos) {
    out.host = a;  // a bare IPv6 literal: no port can be told apart
    return out;
  }
  out.host = a.substr(0, colon);
  if (colon != std::string::npos) out.port = a.substr(colon + 1);
  return out;
}

bool is_local_host(std::string_view authority) {
  const std::string host = split_host_port(authority).host;
  return host == "localhost" || is_loopback_ip(host);
}

std::string socket_local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  } else {
    return "";
  }
  return normalize_ip(buf);
}

}  // namespace clawgate
