// The front's side of nodes (core/nodes.hpp serves the node.* methods): a node's admission at
// connect, after its device proved itself and is paired with role node; who a request comes
// from; events sent to one connection without seq (node.invoke.request, node.pair.resolved to
// the node); gateway.nodes.commands following config reloads.
// Fails: an admission the node service refuses fails the handshake (NOT_PAIRED and 1008 when
// the node has no node token, UNAVAILABLE and 1011 when its pairing state cannot be written).
#include "canvas_host.hpp"
#include "gateway.hpp"
#include "output_check.hpp"
#include "utf8.hpp"
#include "wire.hpp"

namespace clawgate::front {

namespace {

std::string text(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

core::Strings strings(const Json& obj, const char* key) {
  core::Strings out;
  if (auto it = obj.find(key); it != obj.end() && it->is_array())
    for (const auto& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

core::NodeCommandConfig commands_of(const Json& config) {
  core::NodeCommandConfig c;
  const Json* cmds = nullptr;
  try {
    cmds = &config.at("gateway").at("nodes").at("commands");
  } catch (const Json::exception&) {
    return c;
  }
  c.allow = strings(*cmds, "allow");
  c.deny = strings(*cmds, "deny");
  return c;
}

}  // namespace

void Gateway::set_config_snapshot(Json snapshot) {
  if (snapshot.value("valid", false) && snapshot.contains("config"))
    nodes_.set_commands(commands_of(snapshot["config"]));
  cfg_.config_snapshot = std::move(snapshot);
}

bool Gateway::admit_node(Connection& s, const std::string& req_id,
                         const schema::params::Connect& params, const ConnectGrant& g) {
  // A node acts under its device's node token: the one it authenticated with, or the one
  // hello-ok hands it (upstream: "authenticated node pairing identity unavailable").
  if (g.device_id.empty() || (g.auth_method != "device-token" && !g.device_token)) {
    log_.warn("front", "node refused from " + s.client.ip + ": no node token for device " +
                           log_value(g.device_id.empty() ? "<none>" : g.device_id, 80));
    fail_handshake(s, req_id,
                   Error{ErrorCode::NOT_PAIRED, "authenticated node pairing identity unavailable"},
                   1008);
    return false;
  }
  const Json& client = params.client;
  core::NodeDeclaration d;
  d.node_id = g.device_id;
  d.client_id = text(client, "id");
  d.client_mode = text(client, "mode");
  d.display_name = text(client, "displayName");
  d.platform = text(client, "platform");
  d.version = text(client, "version");
  d.device_family = text(client, "deviceFamily");
  d.model_identifier = text(client, "modelIdentifier");
  d.remote_ip = s.client.ip;
  d.caps = params.caps;
  d.commands = params.commands.value_or(core::Strings{});
  if (params.permissions && params.permissions->is_object()) {
    core::Permissions perms;
    for (auto it = params.permissions->begin(); it != params.permissions->end(); ++it)
      if (it.value().is_boolean()) perms[it.key()] = it.value().get<bool>();
    d.permissions = std::move(perms);
  }
  auto admitted = nodes_.admit(s.id, d, params.path_env.value_or(""));
  if (!admitted) {
    log_.error("front",
               "node " + g.device_id.substr(0, 12) + " not admitted: " + admitted.error().message);
    fail_handshake(s, req_id, admitted.error(), 1011);
    return false;
  }
  const core::NodeSession* n = admitted.value();
  log_.info("front", "node " + g.device_id.substr(0, 12) + " (" + log_value(n->display_name, 64) +
                         ", " + log_value(n->platform, 32) + ") declares " +
                         std::to_string(n->declared_commands.size()) + " commands, " +
                         std::to_string(n->commands.size()) + " approved");
  return true;
}

core::NodeCaller Gateway::node_caller(const Connection& s) const {
  return core::NodeCaller{s.id, s.protocol, s.role, s.scopes, s.device_id, s.device_token_auth()};
}

bool Gateway::send_direct(ConnId id, const std::string& event, const Json& payload) {
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second.phase == Phase::closing) return false;
  Connection& s = it->second;
  const schema::EventSpec* spec = schema::find_event(event);
  if (!spec) {
    CLAWGATE_CHECK_FAILED("event " + event, "it is not in the schema");
    return false;
  }
  CLAWGATE_CHECK(spec->payload, payload, "the payload of event " + event);
  if (transport_->buffered_amount(s.id) > cfg_.limits.max_buffered_bytes) return false;
  send_frame(s, event_frame(event, dump_json(payload), std::nullopt, nullptr), false);
  return s.phase != Phase::closing;
}

bool Gateway::NodeEvents::send_to(core::NodeConn conn, const std::string& event,
                                  const Json& payload) {
  return gateway.send_direct(conn, event, payload);
}

void Gateway::NodeEvents::broadcast(const std::string& event, const Json& payload) {
  gateway.broadcast(event, payload);
}

void Gateway::NodeEvents::close_node_connections(const std::string& device_id, uint16_t,
                                                 const std::string&) {
  gateway.disconnect_device(device_id, "node");  // 4001 "device removed", after the reply
}

// As upstream: the surface's URL with a new token for this connection (the old one stops
// working), and when it expires unless used. Only the canvas surface exists here.
Reply Gateway::m_plugin_surface_refresh(const Connection& s,
                                        const schema::params::NodePluginSurfaceRefresh& p) {
  const std::string surface(utf8::trim(p.surface));
  if (surface.empty()) return Reply::invalid("surface required");
  std::optional<std::string> url;
  if (surface == "canvas" && canvas_) url = canvas_->issue_surface_url(s.id, s.peer);
  if (!url) return Reply::unavailable(surface + " plugin surface unavailable");
  return Reply::ok({{"surface", surface},
                    {"pluginSurfaceUrls", {{surface, *url}}},
                    {"expiresAtMs", clock_.wall_ms() + kCapabilityTtlMs}});
}

}  // namespace clawgate::front
