// CanvasHost: the canvas host in the front (openclaw 2026.9.6's canvas plugin routes). It owns
//  - serving <stateDir>/canvas under /__openclaw__/canvas/ (index.html for directories, live
//    reload script injected into HTML, ETag/304) and the embedded A2UI renderer under
//    /__openclaw__/a2ui/;
//  - who may read them: a local request to a loopback-bound gateway; else the gateway's shared
//    secret as a Bearer token, or a capability (/__openclaw__/cap/<token>/… or ?oc_cap=) that
//    hello-ok handed to a connection that is still open. Failures count against the front's
//    failed-auth limiter (429 when it says so);
//  - capability tokens: 18 random bytes, base64url, 10 minutes (each use extends it, as
//    upstream), revoked when their connection closes;
//  - live reload: an inotify watch of the directory, read on the front's io_context, and the
//    text "reload" to every socket open at /__openclaw__/ws shortly after a change.
// No websocketpp here: the transport hands requests in as plain structs and sends what it is
// told; the pure parts live in canvas_paths.hpp.
// Fails: every request ends in a status (400, 401, 403, 404, 405, 429, 503); nothing a client
// sends throws. A directory that cannot be created, opened or watched is logged once: requests
// get 404s or no reloads, and the gateway keeps running.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth.hpp"
#include "canvas_paths.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "log.hpp"
#include "peer.hpp"
#include "transport.hpp"

namespace clawgate::front {

inline constexpr int64_t kCapabilityTtlMs =
    600'000;                                    // upstream DEFAULT_PLUGIN_NODE_CAPABILITY_TTL_MS
inline constexpr size_t kCapabilityBytes = 18;  // upstream mintPluginNodeCapabilityToken

// Capability tokens, one per gateway connection (a new one replaces the old). Only a hash of
// each token is kept, so a lookup's timing says nothing about the tokens held.
class CapabilityStore {
 public:
  explicit CapabilityStore(const Clock& clock, int64_t ttl_ms = kCapabilityTtlMs)
      : clock_(clock), ttl_ms_(ttl_ms) {}
  std::string issue(ConnId conn);
  // True for a live, unexpired token; its expiry moves to now + ttl (upstream does the same).
  bool check(const std::string& token);
  void revoke(ConnId conn);
  size_t size() const { return by_hash_.size(); }

 private:
  struct Entry {
    ConnId conn = 0;
    int64_t expires_steady = 0;
  };
  const Clock& clock_;
  int64_t ttl_ms_;
  std::unordered_map<std::string, Entry> by_hash_;
  std::unordered_map<ConnId, std::string> hash_of_;
};

struct CanvasSettings {
  bool enabled = true;
  std::string dir;  // <stateDir>/canvas
  AuthMode auth_mode = AuthMode::token;
  std::string token, password;
  bool loopback_bound = true;  // the listening socket is on a loopback address
  bool tls = false;            // the listener speaks TLS (gateway.tls)
  ProxyPolicy proxies;
  std::vector<std::string> allowed_origins;  // gateway.controlUi.allowedOrigins
  CanvasLimits limits;
};
CanvasSettings canvas_settings(const GatewaySettings& g, bool loopback_bound);

// A plain HTTP request (or a WebSocket upgrade request), as the transport read it.
struct CanvasRequest {
  std::string method;  // "GET"
  std::string target;  // the request target as sent ("/__openclaw__/canvas/?x")
  PeerInfo peer;
  std::string authorization;  // the Authorization header ("" when absent)
  std::string if_none_match;  // the If-None-Match header
};

struct CanvasResponse {
  int status = 0;  // for authorize_reload, 0 means: accept the upgrade
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // HEAD: send the headers only; Content-Length says what GET would send.
  bool head = false;
};

class CanvasHost {
 public:
  CanvasHost(boost::asio::io_context& io, const Clock& clock, Logger& log, CanvasSettings s,
             AuthRateLimiter& limiter);
  ~CanvasHost();
  CanvasHost(const CanvasHost&) = delete;
  CanvasHost& operator=(const CanvasHost&) = delete;

  bool enabled() const { return s_.enabled; }
  // Creates the directory (0700, with a starter index.html when it is new), opens it and
  // starts watching it. Call before the sandbox: afterwards only what it allows is reachable.
  void open();
  // Stops the watch and closes every reload socket's bookkeeping (the transport closes them).
  void stop();

  // Plain HTTP: the answer for a canvas-host target; nullopt when the target is not ours.
  std::optional<CanvasResponse> handle_http(const CanvasRequest& r);

  // WebSocket upgrades: whether `target` is the live-reload socket, and whether this one may
  // open (status 0) or what to refuse it with. After a 0 the transport calls reload_opened.
  bool is_reload_target(std::string_view target) const;
  CanvasResponse authorize_reload(const CanvasRequest& r);
  void reload_opened(uint64_t id) { reload_ids_.insert(id); }
  void reload_closed(uint64_t id) { reload_ids_.erase(id); }
  // How the transport sends the text "reload" to one of its sockets.
  void set_reload_sender(std::function<void(uint64_t)> send) { send_reload_ = std::move(send); }
  size_t reload_sockets() const { return reload_ids_.size(); }
  // Something under the directory changed: every reload socket hears "reload" after
  // limits.reload_delay_ms (changes in between are folded into it). The watcher calls it.
  void changed();

  // hello-ok's pluginSurfaceUrls.canvas for a connection: <base>/__openclaw__/cap/<token>,
  // with a fresh token bound to `conn`. nullopt when the host is off or no base is known.
  std::optional<std::string> issue_surface_url(ConnId conn, const PeerInfo& peer);
  void revoke(ConnId conn) { caps_.revoke(conn); }
  const CapabilityStore& capabilities() const { return caps_; }

 private:
  struct Watcher;
  struct AuthDecision {
    int status = 0;  // 0: allowed
    int64_t retry_after_ms = 0;
  };
  AuthDecision authorize(const CanvasRequest& r, const CanvasTarget& t);
  CanvasResponse serve_file(const CanvasRequest& r, const CanvasTarget& t);
  CanvasResponse serve_a2ui(const CanvasRequest& r, const CanvasTarget& t);
  CanvasResponse refusal(const AuthDecision& d) const;
  void broadcast_reload();

  boost::asio::io_context& io_;
  Logger& log_;
  CanvasSettings s_;
  AuthRateLimiter& limiter_;
  CapabilityStore caps_;
  int root_fd_ = -1;
  std::unique_ptr<Watcher> watcher_;
  std::set<uint64_t> reload_ids_;
  std::function<void(uint64_t)> send_reload_;
  boost::asio::steady_timer reload_timer_;
  bool reload_pending_ = false;
};

}  // namespace clawgate::front
