// Canvas host, the pure parts: what a request target names (route, capability, path below the
// route), the percent-decoding that refuses every way out of a directory, opening a file so
// that it cannot resolve outside its directory, Content-Type by name, the live-reload script
// injected into served HTML, and the base URL hello-ok advertises.
// Upstream: extensions/canvas/src/host/{a2ui-shared,file-resolver}.ts,
// src/gateway/plugin-node-capability.ts and hosted-plugin-surface-url.ts (openclaw 2026.9.6).
// Fails: never throws for what a client sends; a refusal is a value (an HTTP status, nullopt
// or a negative errno).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "transport.hpp"

namespace clawgate::front {

inline constexpr std::string_view kCanvasPath = "/__openclaw__/canvas";  // hosted documents
inline constexpr std::string_view kA2uiPath = "/__openclaw__/a2ui";      // renderer assets
inline constexpr std::string_view kReloadPath = "/__openclaw__/ws";      // live reload socket
inline constexpr std::string_view kCapabilityPrefix = "/__openclaw__/cap/";
inline constexpr std::string_view kCapabilityParam = "oc_cap";

// Bounds on what a request may name. Anything longer is refused before a file is touched.
struct CanvasLimits {
  size_t max_target = 4096;         // the request target, in bytes
  size_t max_path = 1024;           // the decoded path below a route, in bytes
  size_t max_segment = 255;         // one name (NAME_MAX)
  size_t max_depth = 32;            // names in a path
  size_t max_capability = 128;      // a capability token (upstream's are 24 characters)
  size_t max_file = 16u << 20;      // the largest file served, in bytes
  size_t max_reload_sockets = 256;  // live-reload sockets open at once
  size_t max_watches = 4096;        // directories watched for live reload
  int64_t reload_delay_ms = 40;     // changes this close together give one "reload"
};

enum class CanvasRoute {
  none,      // not the canvas host's: the transport carries on (WebChat page, 426)
  canvas,    // /__openclaw__/canvas[/…]
  a2ui,      // /__openclaw__/a2ui[/…]
  reload,    // /__openclaw__/ws
  other_cap  // /__openclaw__/cap/<token>/<anything else>: ours, and not found
};

// What a request target says, before anything is opened. Scoped capability URLs are read as
// upstream's normalizePluginNodeCapabilityScopedUrl does: /__openclaw__/cap/<token>/<path> is
// <path> with that token; otherwise ?oc_cap=<token> names it.
struct CanvasTarget {
  CanvasRoute route = CanvasRoute::none;
  std::string rest;                       // still encoded, below the route ("" or "/…")
  std::string prefix;                     // the request's path up to `rest` (for redirects)
  std::string query;                      // after '?', without it ("" for none)
  std::optional<std::string> capability;  // decoded
  int error = 0;  // non-zero: answer this status (400 malformed or too long, 401 bad cap path)
};
CanvasTarget parse_canvas_target(std::string_view target, const CanvasLimits& limits = {});

// The file a path below a route names, percent-decoded. Refused (nullopt): an invalid escape,
// an encoded separator (%2F, %5C) or dot segment (%2E%2E), a NUL or other control character,
// a backslash, "..", text that is not UTF-8, and anything over the limits. Empty and "."
// segments are dropped, so "" names the directory itself.
struct RelativePath {
  std::string rel;  // "a/b.html", or "" for the directory
  bool trailing_slash = false;
};
std::optional<RelativePath> decode_relative_path(std::string_view encoded,
                                                 const CanvasLimits& limits = {});

// Opens `rel` (as decode_relative_path made it) read-only below the directory `dirfd`, never
// outside it: openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (a symlink that stays inside
// is followed, one that leaves or is absolute fails), or, on a kernel without openat2, a walk
// with O_NOFOLLOW at every step (no symlinks at all). Returns the fd or -errno.
int open_beneath(int dirfd, const std::string& rel);
int open_beneath_walking(int dirfd, const std::string& rel);  // the fallback alone (tests)

// "text/html; charset=utf-8" for "index.html"; application/octet-stream when unknown.
std::string content_type_for(std::string_view name);
bool is_html_type(std::string_view content_type);

// The page's live reload: a script that connects to /__openclaw__/ws on its own host (through
// the page's capability path or ?oc_cap= when it has one) and reloads on the text "reload",
// inserted before the last </body> (or appended).
std::string inject_reload_script(std::string html);

// `http(s)://host:port` as a client should reach this gateway (upstream's
// resolveHostedPluginSurfaceUrl): https when the listener speaks TLS or a trusted proxy says
// X-Forwarded-Proto: https; the host from X-Forwarded-Host (trusted proxies only), else Host,
// else the local address; a Host without a port means 80/443, else the local port. A Host that
// is not a plain host name or IP literal is not believed. "" when nothing usable is known.
std::string surface_base_url(const PeerInfo& peer, bool from_trusted_proxy, bool tls);

// The Authorization header's Bearer credential; "" when there is none.
std::string bearer_token(std::string_view authorization);

}  // namespace clawgate::front
