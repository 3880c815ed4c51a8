// Canvas host, the pure parts: see canvas_paths.hpp.
#include "canvas_paths.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <vector>

#include "net.hpp"
#include "utf8.hpp"

namespace clawgate::front {

namespace {

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict percent-decoding: every '%' starts a two-digit hex escape ('+' stays '+').
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A capability as upstream mints them: base64url. Anything else can never match, so it is
// kept only as "present and wrong" ("").
std::string capability_or_empty(std::string_view encoded, size_t max) {
  if (encoded.size() > max * 3) return "";
  auto v = percent_decode(encoded);
  if (!v || v->empty() || v->size() > max) return "";
  for (unsigned char c : *v)
    if (!(std::isalnum(c) || c == '-' || c == '_')) return "";
  return *v;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string first_csv(std::string_view v) {
  return std::string(utf8::trim(v.substr(0, v.find(','))));
}

// A DNS name (letters, digits, '-' and '.', labels of 1..63) or an IP literal.
bool plausible_host(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  if (is_ip_literal(host)) return true;
  size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-') || ++label > 63) return false;
  }
  return label > 0;
}

struct AdvertisedHost {
  std::string host;
  int port = 0;  // 0: none given
  bool ok = false;
};

AdvertisedHost parse_authority(std::string_view authority) {
  AdvertisedHost a;
  const std::string_view t = utf8::trim(authority);
  if (t.empty() || t.size() > 300) return a;
  if (t[0] == '[' && t.find(']') == std::string_view::npos) return a;
  const HostPort hp = split_host_port(t);
  if (!plausible_host(hp.host)) return a;
  if (!hp.port.empty()) {
    if (hp.port.size() > 5 || hp.port.find_first_not_of("0123456789") != std::string::npos)
      return a;
    a.port = std::stoi(hp.port);
    if (a.port < 1 || a.port > 65535) return a;
  }
  a.host = hp.host;
  a.ok = true;
  return a;
}

}  // namespace

CanvasTarget parse_canvas_target(std::string_view target, const CanvasLimits& limits) {
  CanvasTarget t;
  if (!starts_with(target, "/__openclaw__/")) return t;
  if (target.size() > limits.max_target) {
    t.route = CanvasRoute::other_cap;
    t.error = 400;
    return t;
  }
  target = target.substr(0, target.find('#'));
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) t.query = std::string(target.substr(q + 1));
  t.prefix = std::string(path);

  bool scoped = false;
  if (starts_with(path, kCapabilityPrefix)) {
    scoped = true;
    const std::string_view rem = path.substr(kCapabilityPrefix.size());
    const size_t slash = rem.find('/');
    t.route = CanvasRoute::other_cap;
    if (slash == std::string_view::npos || slash == 0) {
      t.error = 401;  // upstream: a malformed scoped path is unauthorized
      return t;
    }
    t.capability = capability_or_empty(rem.substr(0, slash), limits.max_capability);
    if (t.capability->empty()) {
      t.error = 401;
      return t;
    }
    path = rem.substr(slash);
  } else {
    std::string_view rest = t.query;
    while (!rest.empty()) {
      const size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const size_t eq = pair.find('=');
      if (pair.substr(0, eq) == kCapabilityParam) {
        t.capability = eq == std::string_view::npos
                           ? std::string()
                           : capability_or_empty(pair.substr(eq + 1), limits.max_capability);
        break;
      }
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }

  auto under = [&](std::string_view base) {
    return path == base || (starts_with(path, base) && path[base.size()] == '/');
  };
  if (under(kCanvasPath)) {
    t.route = CanvasRoute::canvas;
    t.rest = std::string(path.substr(kCanvasPath.size()));
  } else if (under(kA2uiPath)) {
    t.route = CanvasRoute::a2ui;
    t.rest = std::string(path.substr(kA2uiPath.size()));
  } else if (path == kReloadPath) {
    t.route = CanvasRoute::reload;
  } else {
    t.route = scoped ? CanvasRoute::other_cap : CanvasRoute::none;
  }
  return t;
}

std::optional<RelativePath> decode_relative_path(std::string_view encoded,
                                                 const CanvasLimits& limits) {
  if (encoded.size() > limits.max_path * 3) return std::nullopt;  // bounded before any work
  RelativePath out;
  out.trailing_slash = !encoded.empty() && encoded.back() == '/';
  size_t depth = 0;
  while (!encoded.empty()) {
    const size_t slash = encoded.find('/');
    const std::string_view raw = encoded.substr(0, slash);
    encoded = slash == std::string_view::npos ? std::string_view() : encoded.substr(slash + 1);
    const auto seg = percent_decode(raw);
    if (!seg) return std::nullopt;
    // An encoded separator or NUL, a control character, a Windows separator.
    for (unsigned char c : *seg)
      if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return std::nullopt;
    if (seg->empty() || *seg == ".") continue;
    if (*seg == "..") return std::nullopt;  // refused even where it would stay inside
    if (seg->size() > limits.max_segment || !utf8::valid(*seg)) return std::nullopt;
    if (++depth > limits.max_depth) return std::nullopt;
    if (!out.rel.empty()) out.rel += '/';
    out.rel += *seg;
    if (out.rel.size() > limits.max_path) return std::nullopt;
  }
  return out;
}

namespace {
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // a FIFO never blocks

}  // namespace

int open_beneath_walking(int dirfd, const std::string& rel) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rel.size()) {
    const size_t slash = rel.find('/', start);
    parts.push_back(rel.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  // What openat2 would refuse as leaving the directory, refused here before any lookup.
  for (const auto& part : parts)
    if (part.empty() || part == "..") return -EXDEV;
  int cur = dirfd;
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const int next =
        ::openat(cur, parts[i].c_str(),
                 last ? kOpenFlags | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int err = errno;
    if (cur != dirfd) ::close(cur);
    if (next < 0) return -err;
    cur = next;
  }
  return cur;
}

int open_beneath(int dirfd, const std::string& rel) {
  const std::string name = rel.empty() ? "." : rel;
  static bool no_openat2 = false;
  if (!no_openat2) {
    open_how how{};
    how.flags = kOpenFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (;;) {
      const long fd = ::syscall(SYS_openat2, dirfd, name.c_str(), &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      if (errno == EINTR || errno == EAGAIN) continue;  // EAGAIN: a rename raced the lookup
      if (errno != ENOSYS && errno != EPERM) return -errno;
      break;  // no openat2 here (or a filter denies it): walk instead
    }
    no_openat2 = true;
  }
  return open_beneath_walking(dirfd, name);
}

std::string content_type_for(std::string_view name) {
  const size_t slash = name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
  const std::string ext = lower_ascii(base.substr(dot + 1));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json; charset=utf-8"},
      {"map", "application/json; charset=utf-8"},
      {"jsonl", "application/jsonl; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"xml", "application/xml; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"ogg", "audio/ogg"},
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"pdf", "application/pdf"},
  };
  for (const auto& [e, type] : kTypes)
    if (ext == e) return type;
  return "application/octet-stream";
}

bool is_html_type(std::string_view content_type) {
  return starts_with(content_type, "text/html");
}

std::string inject_reload_script(std::string html) {
  // The socket goes through the page's own capability (path or ?oc_cap=), reconnects with
  // backoff after a gateway restart, and never reloads for anything but the exact text.
  static const std::string kScript =
      "<script>(()=>{const m=location.pathname.match(/^\\/__openclaw__\\/cap\\/[^/]+/);"
      "const q=m?\"\":(location.search.match(/[?&]oc_cap=[^&]*/)||[\"\"])[0].replace(/^&/,\"?\");"
      "const u=(location.protocol===\"https:\"?\"wss://\":\"ws://\")+location.host+(m?m[0]:\"\")"
      "+\"/__openclaw__/ws\"+q;let d=500;const c=()=>{let s;try{s=new WebSocket(u)}catch(e)"
      "{return}s.onopen=()=>{d=500};s.onmessage=e=>{if(e.data===\"reload\")location.reload()};"
      "s.onclose=()=>{setTimeout(c,d);d=Math.min(d*2,30000)}};c()})();</script>";
  const std::string lower = lower_ascii(html);
  const size_t at = lower.rfind("</body");
  if (at == std::string::npos)
    html += kScript;
  else
    html.insert(at, kScript);
  return html;
}

std::string surface_base_url(const PeerInfo& peer, bool from_trusted_proxy, bool tls) {
  std::string scheme = tls ? "https" : "http";
  if (from_trusted_proxy && lower_ascii(first_csv(peer.forwarded_proto)) == "https")
    scheme = "https";
  AdvertisedHost h;
  if (from_trusted_proxy) h = parse_authority(first_csv(peer.forwarded_host));
  if (!h.ok) h = parse_authority(peer.host);
  int port = 0;
  std::string host;
  if (h.ok) {
    host = h.host;
    port = h.port ? h.port : scheme == "https" ? 443 : 80;
  } else {
    const std::string local = normalize_ip(peer.local_ip);
    if (local.empty() || !is_ip_literal(local) || peer.local_port == 0) return "";
    host = local;
    port = peer.local_port;
  }
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return scheme + "://" + host + ":" + std::to_string(port);
}

std::string bearer_token(std::string_view authorization) {
  const std::string_view v = utf8::trim(authorization);
  if (v.size() < 7 || v.size() > 4096 || lower_ascii(v.substr(0, 7)) != "bearer ") return "";
  return std::string(utf8::trim(v.substr(7)));
}

}  // namespace clawgate::front
