// CanvasHost: see canvas_host.hpp.
#include "canvas_host.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto.hpp"
#include "fs.hpp"
#include "utf8.hpp"
#include "wire.hpp"

extern const char kA2uiBundle[];  // wsfront/canvas/a2ui.js, embedded by the build
extern const std::size_t kA2uiBundle_size;

namespace clawgate::front {

namespace asio = boost::asio;

// ---------------------------------------------------------------------------------------------
// Capability tokens

std::string CapabilityStore::issue(ConnId conn) {
  revoke(conn);
  // Expired tokens of connections still open go as new ones are made: the map stays bounded
  // by the number of connections.
  const int64_t now = clock_.steady_ms();
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    if (it->second.expires_steady <= now) {
      hash_of_.erase(it->second.conn);
      it = by_hash_.erase(it);
    } else {
      ++it;
    }
  }
  const std::string token = base64url(random_bytes(kCapabilityBytes));
  const std::string h = sha256_hex(token);
  by_hash_[h] = Entry{conn, now + ttl_ms_};
  hash_of_[conn] = h;
  return token;
}

bool CapabilityStore::check(const std::string& token) {
  if (token.empty()) return false;
  auto it = by_hash_.find(sha256_hex(token));
  if (it == by_hash_.end()) return false;
  const int64_t now = clock_.steady_ms();
  if (it->second.expires_steady <= now) return false;
  it->second.expires_steady = now + ttl_ms_;
  return true;
}

void CapabilityStore::revoke(ConnId conn) {
  auto it = hash_of_.find(conn);
  if (it == hash_of_.end()) return;
  by_hash_.erase(it->second);
  hash_of_.erase(it);
}

// ---------------------------------------------------------------------------------------------
// Settings and small helpers

CanvasSettings canvas_settings(const GatewaySettings& g, bool loopback_bound) {
  CanvasSettings s;
  s.enabled = g.canvas_host;
  s.dir = g.state_dir + "/canvas";
  s.auth_mode = g.auth_mode;
  s.token = g.token;
  s.password = g.password;
  s.loopback_bound = loopback_bound;
  s.proxies = proxy_policy(g);
  s.allowed_origins = g.allowed_origins;
  return s;
}

namespace {

const char kStarterPage[] =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Canvas</title>\n<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem;"
    "color:#222}code{background:#f3f3f3;padding:0 .3em}</style>\n</head>\n<body>\n"
    "<h1>Canvas</h1>\n<p>This is <code>index.html</code> in the gateway's canvas directory. "
    "Edit it or add files beside it: they are served under <code>/__openclaw__/canvas/</code>, "
    "and open pages reload by themselves when a file changes.</p>\n</body>\n</html>\n";

// Every canvas document runs in an opaque origin (CSP sandbox without allow-same-origin):
// agent-written HTML cannot read what the gateway's own pages keep (the WebChat token in
// localStorage) or call the gateway as them. No Referer either: the capability is in the URL.
constexpr const char* kSandboxCsp =
    "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads";

CanvasResponse text_response(int status, const std::string& text) {
  CanvasResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "text/plain; charset=utf-8"},
               {"Cache-Control", "no-store"},
               {"X-Content-Type-Options", "nosniff"}};
  r.body = text + "\n";
  return r;
}

bool etag_matches(std::string_view if_none_match, const std::string& etag) {
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = utf8::trim(if_none_match.substr(0, comma));
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

// The browser page the upgrade came from is the gateway's own host (same origin).
bool same_origin(const std::string& origin, const std::string& host) {
  const std::string o = utf8::lower(origin);
  for (std::string_view scheme : {"http://", "https://"})
    if (o.rfind(scheme, 0) == 0) return o.substr(scheme.size()) == utf8::lower(utf8::trim(host));
  return false;
}

bool trusted_proxy(const std::string& ip, const ProxyPolicy& p) {
  for (const auto& r : p.trusted)
    if (ip_in_range(ip, r)) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The directory watch

struct CanvasHost::Watcher {
  static constexpr uint32_t kMask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;
  Watcher(asio::io_context& io, CanvasHost& host) : sd(io), host(host) {}

  bool start() {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      host.log_.warn("canvas", std::string("no live reload: inotify: ") + std::strerror(errno));
      return false;
    }
    this->fd = fd;
    add_tree("", 0);
    sd.assign(fd);
    read();
    return true;
  }

  // Watches `rel` and the directories below it (never through a symlink), within the limits.
  void add_tree(const std::string& rel, size_t depth) {
    const CanvasLimits& lim = host.s_.limits;
    if (dirs.size() >= lim.max_watches) {
      if (!warned_full)
        host.log_.warn("canvas", "live reload watches the first " +
                                     std::to_string(lim.max_watches) + " directories only");
      warned_full = true;
      return;
    }
    const std::string path = rel.empty() ? host.s_.dir : host.s_.dir + "/" + rel;
    const int wd =
        ::inotify_add_watch(fd, path.c_str(), kMask | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK);
    if (wd < 0) return;  // gone already, or not a directory after all
    dirs[wd] = rel;
    if (depth >= lim.max_depth) return;
    const int dfd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return;
    DIR* d = ::fdopendir(dfd);
    if (!d) {
      ::close(dfd);
      return;
    }
    std::vector<std::string> subdirs;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st {};
        is_dir = ::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      if (is_dir) subdirs.push_back(rel.empty() ? name : rel + "/" + name);
    }
    ::closedir(d);
    for (const auto& sub : subdirs) add_tree(sub, depth + 1);
  }

  // The handler touches `this` only when the read succeeded: a Watcher destroyed by stop()
  // completes its read with operation_aborted after it is gone.
  void read() {
    sd.async_read_some(asio::buffer(buf), [this](const boost::system::error_code& ec, size_t n) {
      if (ec) {
        if (ec != asio::error::operation_aborted)
          host.log_.warn("canvas", "live reload stopped: " + ec.message());
        return;
      }
      parse(n);
      read();
    });
  }

  void parse(size_t n) {
    bool any = false;
    size_t off = 0;
    while (off + sizeof(inotify_event) <= n) {
      inotify_event ev;
      std::memcpy(&ev, buf.data() + off, sizeof ev);
      const char* name = buf.data() + off + sizeof ev;
      off += sizeof ev + ev.len;
      if (off > n) break;
      any = true;
      if (ev.mask & IN_IGNORED) {
        dirs.erase(ev.wd);
        continue;
      }
      auto it = dirs.find(ev.wd);
      if (it == dirs.end()) continue;
      if ((ev.mask & IN_ISDIR) && (ev.mask & (IN_CREATE | IN_MOVED_TO)) && ev.len > 0) {
        const std::string child =
            it->second.empty() ? std::string(name, ::strnlen(name, ev.len))
                               : it->second + "/" + std::string(name, ::strnlen(name, ev.len));
        size_t depth = 1;
        for (char c : child) depth += c == '/';
        add_tree(child, depth);
      }
      if ((ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) && it->second.empty())
        host.log_.warn("canvas", "the canvas directory " + host.s_.dir +
                                     " was removed or moved; restart the gateway after "
                                     "recreating it");
    }
    if (any) host.changed();
  }

  asio::posix::stream_descriptor sd;
  CanvasHost& host;
  int fd = -1;
  std::unordered_map<int, std::string> dirs;  // watch -> directory below the root ("": root)
  alignas(inotify_event) std::array<char, 16384> buf{};
  bool warned_full = false;
};

// ---------------------------------------------------------------------------------------------
// CanvasHost

CanvasHost::CanvasHost(asio::io_context& io, const Clock& clock, Logger& log, CanvasSettings s,
                       AuthRateLimiter& limiter)
    : io_(io), log_(log), s_(std::move(s)), limiter_(limiter), caps_(clock), reload_timer_(io) {}

CanvasHost::~CanvasHost() {
  stop();
  if (root_fd_ >= 0) ::close(root_fd_);
}

void CanvasHost::open() {
  if (!s_.enabled) return;
  try {
    struct stat st {};
    const bool existed = ::stat(s_.dir.c_str(), &st) == 0;
    make_dirs(s_.dir, 0700);
    if (!existed) atomic_write_file(s_.dir + "/index.html", kStarterPage, 0600);
  } catch (const std::exception& e) {
    log_.warn("canvas", std::string("cannot create the canvas directory: ") + e.what());
  }
  root_fd_ = ::open(s_.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    log_.warn("canvas", "cannot open the canvas directory " + s_.dir + ": " + std::strerror(errno) +
                            "; its pages answer 404");
    return;
  }
  watcher_ = std::make_unique<Watcher>(io_, *this);
  if (!watcher_->start()) watcher_.reset();
  log_.info("canvas", "serving " + s_.dir + " at " + std::string(kCanvasPath) + "/");
}

void CanvasHost::stop() {
  watcher_.reset();  // closes the inotify descriptor, cancelling its read
  reload_timer_.cancel();
  reload_pending_ = false;
}

void CanvasHost::changed() {
  if (reload_pending_) return;
  reload_pending_ = true;
  reload_timer_.expires_after(std::chrono::milliseconds(s_.limits.reload_delay_ms));
  reload_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    reload_pending_ = false;
    broadcast_reload();
  });
}

void CanvasHost::broadcast_reload() {
  if (!send_reload_) return;
  // A copy: sending may fail and close a socket, which erases it from reload_ids_.
  const std::vector<uint64_t> ids(reload_ids_.begin(), reload_ids_.end());
  for (uint64_t id : ids) send_reload_(id);
}

std::optional<std::string> CanvasHost::issue_surface_url(ConnId conn, const PeerInfo& peer) {
  if (!s_.enabled) return std::nullopt;
  const std::string base =
      surface_base_url(peer, trusted_proxy(peer.socket_ip, s_.proxies), s_.tls);
  if (base.empty()) return std::nullopt;
  return base + std::string(kCapabilityPrefix) + caps_.issue(conn);
}

CanvasHost::AuthDecision CanvasHost::authorize(const CanvasRequest& r, const CanvasTarget& t) {
  const ClientInfo client = resolve_client(r.peer, s_.proxies);
  if (!client.refusal.empty()) {
    log_.warn("canvas", "cannot attribute a forwarded request: " + client.refusal);
    return {401, 0};  // upstream: proxy_attribution_required, unauthorized
  }
  if (s_.auth_mode == AuthMode::none) return {};
  if (s_.loopback_bound && client.local) return {};
  const RateLimitKey bucket = rate_limit_key(client, r.peer.origin);
  if (const int64_t wait = limiter_.retry_after_ms(bucket.key, bucket.exemptable); wait > 0)
    return {429, wait};
  const std::string bearer = bearer_token(r.authorization);
  if (!bearer.empty()) {
    const AuthResult ar = check_shared_secret(s_.auth_mode, s_.token, s_.password, bearer, bearer);
    if (ar.ok) {
      limiter_.record_success(bucket.key);
      return {};
    }
  }
  if (t.capability && caps_.check(*t.capability)) return {};
  // A wrong secret or capability counts; a request that offered none is simply refused.
  if (!bearer.empty() || t.capability) {
    limiter_.record_failure(bucket.key, bucket.exemptable);
    log_.debug("canvas", "refused a credential from " + client.ip);
  }
  return {401, 0};
}

CanvasResponse CanvasHost::refusal(const AuthDecision& d) const {
  if (d.status == 429) {
    CanvasResponse r = text_response(429, "too many failed authentication attempts");
    r.headers.emplace_back("Retry-After", std::to_string((d.retry_after_ms + 999) / 1000));
    return r;
  }
  return text_response(d.status, d.status == 401 ? "unauthorized" : "forbidden");
}

std::optional<CanvasResponse> CanvasHost::handle_http(const CanvasRequest& r) {
  const CanvasTarget t = parse_canvas_target(r.target, s_.limits);
  if (t.route == CanvasRoute::none) return std::nullopt;
  if (!s_.enabled) return text_response(404, "the canvas host is off");
  if (t.error == 401) {
    // A malformed capability path is a wrong capability: it counts, and is never served.
    CanvasTarget bad = t;
    bad.capability = std::string();
    const AuthDecision d = authorize(r, bad);
    return refusal(d.status ? d : AuthDecision{401, 0});
  }
  if (t.error) return text_response(t.error, "bad request");
  if (const AuthDecision d = authorize(r, t); d.status) return refusal(d);
  if (r.method != "GET" && r.method != "HEAD") {
    CanvasResponse res = text_response(405, "method not allowed");
    res.headers.emplace_back("Allow", "GET, HEAD");
    return res;
  }
  switch (t.route) {
    case CanvasRoute::canvas:
      return serve_file(r, t);
    case CanvasRoute::a2ui:
      return serve_a2ui(r, t);
    case CanvasRoute::reload:
      return text_response(426, "the live reload socket takes a WebSocket upgrade");
    default:
      return text_response(404, "not found");
  }
}

CanvasResponse CanvasHost::serve_file(const CanvasRequest& r, const CanvasTarget& t) {
  const auto rel = decode_relative_path(t.rest, s_.limits);
  if (!rel) return text_response(400, "bad path");
  if (root_fd_ < 0) return text_response(404, "not found");
  int fd = open_beneath(root_fd_, rel->rel);
  if (fd < 0) {
    if (fd == -EXDEV || fd == -ELOOP)
      log_.debug("canvas", "refused a path leaving the canvas directory: " + log_value(rel->rel));
    return text_response(404, "not found");
  }
  struct stat st {};
  bool index = false;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    if (!rel->trailing_slash) {
      // Relative links in the index resolve against the directory only with its slash.
      CanvasResponse res = text_response(302, "found");
      res.headers.emplace_back("Location", t.prefix + "/" + (t.query.empty() ? "" : "?" + t.query));
      return res;
    }
    fd = open_beneath(root_fd_, rel->rel.empty() ? "index.html" : rel->rel + "/index.html");
    if (fd < 0) return text_response(404, "not found");
    if (::fstat(fd, &st) != 0) st = {};
    index = true;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // A file named with a trailing slash is not a directory (ENOTDIR, as any server says).
  if (!S_ISREG(st.st_mode) || (!index && rel->trailing_slash))
    return text_response(404, "not found");
  if (static_cast<uint64_t>(st.st_size) > s_.limits.max_file) {
    log_.warn("canvas", "not serving " + log_value(rel->rel) + ": larger than " +
                            std::to_string(s_.limits.max_file >> 20) + " MiB");
    return text_response(404, "not found");
  }
  char etag[96];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(st.st_ino),
                static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec * 1'000'000'000ULL +
                                                static_cast<uint64_t>(st.st_mtim.tv_nsec)));
  CanvasResponse res;
  const std::string type = content_type_for(index ? std::string_view("index.html") : rel->rel);
  res.headers = {{"Content-Type", type},
                 {"Cache-Control", "no-cache"},
                 {"ETag", etag},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"Content-Security-Policy", kSandboxCsp}};
  if (etag_matches(r.if_none_match, etag)) {
    res.status = 304;
    return res;
  }
  std::string body;
  body.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < body.size()) {
    const ssize_t n = ::read(fd, body.data() + got, body.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return text_response(404, "not found");
    if (n == 0) break;  // shrank while we read: serve what there is
    got += static_cast<size_t>(n);
  }
  body.resize(got);
  res.status = 200;
  res.body = is_html_type(type) ? inject_reload_script(std::move(body)) : std::move(body);
  res.head = r.method == "HEAD";
  return res;
}

CanvasResponse CanvasHost::serve_a2ui(const CanvasRequest& r, const CanvasTarget& t) {
  const auto rel = decode_relative_path(t.rest, s_.limits);
  if (!rel) return text_response(400, "bad path");
  // Both bundle names upstream serves, one renderer for both dialects (v0.8 and v0.9).
  if (rel->rel != "a2ui.bundle.js" && rel->rel != "a2ui-v0.9.bundle.js")
    return text_response(404, "not found");
  static const std::string bundle(kA2uiBundle, kA2uiBundle_size);
  static const std::string etag = "\"" + sha256_hex(bundle).substr(0, 32) + "\"";
  CanvasResponse res;
  res.headers = {{"Content-Type", "text/javascript; charset=utf-8"},
                 {"Cache-Control", "no-cache"},
                 {"ETag", etag},
                 {"X-Content-Type-Options", "nosniff"}};
  if (etag_matches(r.if_none_match, etag)) {
    res.status = 304;
    return res;
  }
  res.status = 200;
  res.body = bundle;
  res.head = r.method == "HEAD";
  return res;
}

bool CanvasHost::is_reload_target(std::string_view target) const {
  return parse_canvas_target(target, s_.limits).route == CanvasRoute::reload;
}

CanvasResponse CanvasHost::authorize_reload(const CanvasRequest& r) {
  if (!s_.enabled) return text_response(404, "the canvas host is off");
  const CanvasTarget t = parse_canvas_target(r.target, s_.limits);
  if (t.route != CanvasRoute::reload || t.error) return text_response(400, "bad request");
  // A canvas page runs in an opaque origin ("null"); a foreign site's page may not listen in.
  const std::string& origin = r.peer.origin;
  if (!origin.empty() && origin != "null" && !same_origin(origin, r.peer.host) &&
      !origin_allowed(origin, s_.allowed_origins))
    return text_response(403, "origin not allowed");
  if (const AuthDecision d = authorize(r, t); d.status) return refusal(d);
  if (reload_ids_.size() >= s_.limits.max_reload_sockets)
    return text_response(503, "too many live reload sockets");
  return CanvasResponse{};
}

}  // namespace clawgate::front
