// Gateway: the protocol core of the front process. Owns every client connection's protocol
// state (challenge, handshake deadline, negotiated version, role/scopes, per-connection event
// seq), dispatches requests through the generated method table, and broadcasts events with the
// slow-consumer policy. Runs on one Asio loop thread; the transport calls in on that thread.
// Fails: bad input from a client ends in an error response or the documented close code and
// never affects another connection. Handler exceptions become UNAVAILABLE responses.
// Methods it does not serve itself (channels, runs, sessions, cron) go to the core
// (core/core.hpp), whose events it broadcasts.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "core/core.hpp"
#include "core/device_nodes.hpp"
#include "core/devices.hpp"
#include "core/node_tools.hpp"
#include "core/nodes.hpp"
#include "health.hpp"
#include "log.hpp"
#include "pairing_policy.hpp"
#include "peer.hpp"
#include "presence.hpp"
#include "protocol_gen.hpp"
#include "transport.hpp"
#include "version.hpp"

namespace clawgate::front {

using Json = nlohmann::json;
class CanvasHost;

struct Limits {
  size_t max_payload = 26'214'400;         // 25 MiB, after hello-ok
  size_t max_buffered_bytes = 52'428'800;  // 50 MiB send buffer before "slow consumer";
                                           // droppable events stop at half of it
  size_t preauth_max_payload = 64 * 1024;  // before hello-ok
  size_t max_preauth_per_ip = 32;
  int max_json_depth = 64;
  int max_unauthorized_calls = 10;  // consecutive role errors before close 1008
  int64_t health_refresh_ms = 60'000;
};

struct FrontSettings {
  GatewaySettings gateway;  // port, auth, origins, intervals, paths
  Limits limits;
  std::string version = kVersion;
  // What config.get answers (common/config_view.hpp: redacted); the supervisor sends a new one
  // after each SIGHUP.
  Json config_snapshot = Json::object();
  // gateway.tls on: the served certificate's SHA-256 (lowercase hex), shown by status; "" off.
  std::string tls_fingerprint;
};

using core::Reply;  // a method's outcome (core/reply.hpp), whoever serves it

// What the authentication and pairing steps of a connect read from its (validated) params.
struct ConnectRequest {
  std::string role = "operator";
  std::vector<std::string> scopes;  // as sent, in order (they are signed so)
  std::string client_id, client_mode;
  std::optional<std::string> platform, device_family, display_name;
  // auth.*: present (maybe empty) or absent, as sent.
  std::optional<std::string> token, password, device_token, bootstrap_token;
  struct Device {
    std::string id, public_key, signature, nonce;
    int64_t signed_at = 0;
  };
  std::optional<Device> device;
};
ConnectRequest connect_request(const schema::params::Connect& params);

// What a connect was granted: the connection's live scopes and how it authenticated.
struct ConnectGrant {
  std::vector<std::string> scopes;
  std::string auth_method;                        // none | token | password | device-token
  std::string device_id, device_public_key;       // verified; "" without a device block
  std::optional<core::DeviceToken> device_token;  // handed out in hello-ok
};

class Gateway final : public TransportHandler, public core::EventSink {
 public:
  Gateway(boost::asio::io_context& io, const Clock& clock, Logger& log, LogRing& ring,
          FrontSettings settings);
  ~Gateway() override;

  void attach(Transport* transport);  // before any connection arrives
  // The core behind the methods the front does not serve itself (send, channels.*, agent,
  // chat.*, sessions.*, cron.*), and the channel view in health/status. Null: detached.
  // Its runs' model tools reach this front's nodes.
  void attach_core(core::Core* core) {
    core_ = core;
    if (core_) core_->attach_tools(&node_tools_);
  }
  // The canvas host (canvas_host.hpp): hello-ok carries its capability URL, and a closed
  // connection's capability dies with it. Null: no canvas host.
  void attach_canvas(CanvasHost* canvas) { canvas_ = canvas; }
  // The failed-auth limiter, shared with the canvas host's HTTP auth.
  AuthRateLimiter& auth_limiter() { return limiter_; }

  // core::EventSink. emit pushes an event to every ready client allowed to see it;
  // `droppable` skips clients over the buffer limit.
  void emit(const std::string& event, const Json& payload, bool droppable) override;
  // An `agent` event of the tool stream, to the clients whose connect asked for "tool-events".
  void emit_tool_event(const Json& payload) override;
  void heartbeat_changed(const Json& hb) override { last_heartbeat_ = hb; }
  void channels_changed() override { health_cached_at_ = -1; }  // the next health call rebuilds
  // config.get's answer from now on (a reload the supervisor made, or refused); a valid one
  // also carries gateway.nodes.commands, which apply at once (as upstream hot-applies them).
  void set_config_snapshot(Json snapshot);
  // A renewed certificate (tls_server.hpp): status shows the fingerprint now served.
  void set_tls_fingerprint(std::string fingerprint) {
    cfg_.tls_fingerprint = std::move(fingerprint);
  }
  void start();  // timers
  // Schema methods that neither the front nor the attached core serves: non-empty is a build
  // that must not start (the runner refuses to).
  std::vector<std::string> unserved_methods() const;
  static bool serves(schema::Method m);  // the methods the front answers itself
  // Broadcasts `shutdown`, closes every connection 1012 and stops accepting. `done` runs once
  // every connection is gone or after the deadline.
  void shutdown(const std::string& reason, std::optional<int64_t> restart_expected_ms,
                std::function<void()> done);

  // TransportHandler
  Refusal on_upgrade(ConnId id, const PeerInfo& peer) override;
  void on_open(ConnId id) override;
  void on_message(ConnId id, std::string&& data, bool binary) override;
  void on_close(ConnId id) override;

  // Introspection for status/tests.
  size_t connection_count() const { return conns_.size(); }
  size_t ready_count() const;

 private:
  enum class Phase { upgrading, awaiting_connect, ready, closing };
  struct Connection {
    ConnId id = 0;
    Phase phase = Phase::upgrading;
    PeerInfo peer;
    ClientInfo client;  // who the peer is, as far as we believe it (see peer.hpp)
    std::string nonce;
    std::string conn_id;  // uuid shown to the client
    int64_t deadline_steady = 0;
    int protocol = 0;
    std::string role;
    std::vector<std::string> scopes;
    std::string client_id, client_mode;
    // Set by the handshake: how it authenticated, and the device it proved to be ("" none).
    std::string auth_method, device_id;
    bool device_token_auth() const { return auth_method == "device-token"; }
    std::string presence_key;  // "" when not tracked
    uint64_t seq = 0;
    int unauthorized_calls = 0;
    bool counted_ready = false;  // released its pre-auth slot
    bool tool_events = false;    // connect caps held "tool-events": it gets tool-stream events
  };

  // Handshake
  // The handshake's steps, in upstream's order: the frame, the protocol and role, whether
  // credentials may be tried (authorize_connect tries them), the node's admission, ready.
  void handle_connect_frame(Connection& s, const std::string& data, bool binary);
  std::optional<schema::params::Connect> read_connect(Connection& s, const std::string& data,
                                                      bool binary, std::string* req_id);
  std::optional<RateLimitKey> may_try_auth(Connection& s, const std::string& req_id);
  void become_ready(Connection& s, const std::string& req_id, const schema::params::Connect& params,
                    const ConnectRequest& c, int protocol, const ConnectGrant& grant);
  void fail_handshake(Connection& s, const std::string& req_id, const Error& error,
                      uint16_t close_code, const std::string& close_reason = "");
  // Authentication (shared secret, device proof, device token) and device pairing, in
  // upstream's order (connect_auth.cpp). nullopt: the handshake was failed and closed.
  std::optional<ConnectGrant> authorize_connect(Connection& s, const std::string& req_id,
                                                const ConnectRequest& c,
                                                const RateLimitKey& bucket);
  bool pair_device(Connection& s, const std::string& req_id, const ConnectRequest& c,
                   const ConnectGrant& g, bool& baseline);
  bool require_pairing(Connection& s, const std::string& req_id, const ConnectRequest& c,
                       const ConnectGrant& g, PairingReason reason,
                       const core::PairedDevice* existing);
  Result<core::DevicePairingRequested> file_pairing_request(const Connection& s,
                                                            const ConnectRequest& c,
                                                            const ConnectGrant& g,
                                                            PairingReason reason,
                                                            const core::PairedDevice* existing);
  void approve_silently(const Connection& s, const ConnectRequest& c, const ConnectGrant& g,
                        const std::string& request_id, const core::PairedDevice* existing);
  bool access_allowed_now(const ConnectRequest& c, const ConnectGrant& g) const;
  void refuse_unpaired(Connection& s, const std::string& req_id, const ConnectRequest& c,
                       const ConnectGrant& g, PairingReason reason,
                       const core::PairedDevice* existing, const core::PendingDevice& filed);
  Json build_hello(const Connection& s, const std::optional<core::DeviceToken>& token) const;
  Json build_snapshot(const Connection& s) const;
  Json presence_entry_for(const Connection& s, const schema::params::Connect& p) const;

  // Requests
  void handle_request(Connection& s, const std::string& data);
  Reply dispatch(Connection& s, schema::Method m, const Json& params);
  Reply m_health(const schema::params::Health& p);
  Reply m_status(const Connection& s);
  Reply m_system_event(const schema::params::SystemEvent& p);
  Reply m_logs_tail(const schema::params::LogsTail& p) const;
  Reply m_config_schema() const;
  // device.pair.* and device.token.* (device_methods.cpp)
  Reply m_device_pair_list(const Connection& s);
  Reply m_device_pair_approve(const Connection& s, const schema::params::DevicePairApprove& p);
  Reply m_device_pair_reject(const Connection& s, const schema::params::DevicePairReject& p);
  Reply m_device_pair_remove(const Connection& s, const schema::params::DevicePairRemove& p);
  Reply m_device_pair_rename(const Connection& s, const schema::params::DevicePairRename& p);
  Reply m_device_token_rotate(const Connection& s, const schema::params::DeviceTokenRotate& p);
  Reply m_device_token_revoke(const Connection& s, const schema::params::DeviceTokenRevoke& p);
  bool device_connected(const std::string& device_id) const;
  // Closes (after the current reply is sent) every ready connection of `device_id`, of `role`
  // when given, with 4001 "device removed".
  void disconnect_device(const std::string& device_id, const std::string& role = "");
  void flush_devices();
  // Nodes (node_methods.cpp): admission at connect (false: the handshake was failed), who a
  // request comes from, and events sent to one connection.
  bool admit_node(Connection& s, const std::string& req_id, const schema::params::Connect& params,
                  const ConnectGrant& g);
  core::NodeCaller node_caller(const Connection& s) const;
  // node.pluginSurface.refresh: a fresh capability URL for the node's canvas panel.
  Reply m_plugin_surface_refresh(const Connection& s,
                                 const schema::params::NodePluginSurfaceRefresh& p);
  bool send_direct(ConnId id, const std::string& event, const Json& payload);
  // What the node service says goes out through the connections.
  struct NodeEvents final : core::NodeSink {
    explicit NodeEvents(Gateway& g) : gateway(g) {}
    bool send_to(core::NodeConn conn, const std::string& event, const Json& payload) override;
    void broadcast(const std::string& event, const Json& payload) override;
    void close_node_connections(const std::string& device_id, uint16_t code,
                                const std::string& reason) override;
    Gateway& gateway;
  };

  // Output
  // `spec`: the method answered, whose result definition a checked build validates against.
  void send_response(Connection& s, const std::string& id, const Reply& r,
                     const schema::MethodSpec* spec = nullptr);
  void send_frame(Connection& s, std::string&& text, bool droppable);
  void send_event(Connection& s, const schema::EventSpec& ev, const std::string& payload_json);
  void broadcast(const std::string& event, const Json& payload,
                 std::optional<bool> droppable = std::nullopt,
                 bool (*only)(const Connection&) = nullptr);
  void close_session(Connection& s, uint16_t code, const std::string& reason);

  // State
  Json health_summary();  // cached HealthSummary, refreshed when stale
  void refresh_health();
  void schedule_health_push();
  void bump_presence() { ++state_presence_; }
  void arm_timers();
  void arm_timers_tick();
  void arm_sweep();
  void arm_health();
  void arm_loop_monitor();
  void push_health();
  void finish_shutdown();
  void sweep_handshakes();
  void release_preauth(Connection& s);
  Json state_version() const { return {{"presence", state_presence_}, {"health", state_health_}}; }

  boost::asio::io_context& io_;
  const Clock& clock_;
  Logger& log_;
  LogRing& ring_;
  FrontSettings cfg_;
  Transport* transport_ = nullptr;
  core::Core* core_ = nullptr;
  CanvasHost* canvas_ = nullptr;
  ProxyPolicy proxies_;
  AuthRateLimiter limiter_;
  AuthRateLimiter device_token_limiter_;  // its own bucket, as upstream's device-token scope
  core::DeviceStore devices_;             // <state>/devices: pairing and device tokens
  core::DeviceNodeStore node_store_;      // node surfaces, on those device records
  NodeEvents node_events_{*this};
  core::NodeService nodes_;     // connected nodes, node.* methods
  core::NodeTools node_tools_;  // ...as the agent's tools
  PresenceTable presence_;
  EventLoopMonitor loop_monitor_;
  std::unordered_map<ConnId, Connection> conns_;
  std::unordered_map<std::string, size_t> preauth_per_ip_;
  std::deque<std::pair<int64_t, ConnId>> handshake_deadlines_;  // in deadline order
  static constexpr int64_t kSweepSlackMs = 50;  // deadlines this close share one sweep
  bool timers_started_ = false, sweep_armed_ = false, loop_armed_ = false;
  int64_t state_presence_ = 1, state_health_ = 1;
  int64_t started_wall_ms_, started_steady_ms_;
  Json health_cache_;
  int64_t health_cached_at_ = -1;
  bool health_push_pending_ = false;
  int64_t last_health_push_ = -1;
  std::string boot_id_;
  Json last_heartbeat_ = nullptr;
  bool shutting_down_ = false;
  boost::asio::steady_timer tick_timer_, sweep_timer_, health_timer_, loop_timer_, shutdown_timer_;
  std::function<void()> shutdown_done_;
};

}  // namespace clawgate::front
