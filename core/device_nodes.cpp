// DeviceNodeStore: see device_nodes.hpp.
#include "core/device_nodes.hpp"

#include <algorithm>

namespace clawgate::core {

NodeDevice DeviceNodeStore::view(const PairedDevice& d) const {
  NodeDevice n;
  n.device_id = d.device_id;
  n.display_name = d.display_name;
  n.platform = d.platform;
  n.device_family = d.device_family;
  n.client_id = d.client_id;
  n.client_mode = d.client_mode;
  n.remote_ip = d.remote_ip;
  n.last_seen_at_ms = d.last_seen_at_ms;
  n.last_seen_reason = d.last_seen_reason;
  n.approved_at_ms = d.approved_at_ms;
  const Scopes roles = effective_roles(d);
  n.node_role = std::find(roles.begin(), roles.end(), "node") != roles.end();
  n.approved_silently = d.approved_via == "silent";
  std::string problem;
  if (!d.node_surface.is_null()) {
    n.surface = surface_from_json(d.node_surface, &problem);
    if (!n.surface) log_.warn("nodes", "device " + d.device_id.substr(0, 12) + ": " + problem);
  }
  if (!d.pending_node_surface.is_null()) {
    n.pending = pending_surface_from_json(d.pending_node_surface, &problem);
    if (!n.pending) log_.warn("nodes", "device " + d.device_id.substr(0, 12) + ": " + problem);
  }
  return n;
}

std::optional<NodeDevice> DeviceNodeStore::device(const std::string& device_id) const {
  const PairedDevice* d = devices_.paired(device_id);
  if (!d) return std::nullopt;
  return view(*d);
}

std::vector<NodeDevice> DeviceNodeStore::devices() const {
  std::vector<NodeDevice> out;
  for (const auto& d : devices_.list_paired()) out.push_back(view(d));
  return out;
}

bool DeviceNodeStore::save_surfaces(const std::string& device_id,
                                    const std::optional<NodeSurface>& surface,
                                    const std::optional<PendingNodeSurface>& pending) {
  return devices_.set_node_surfaces(device_id, surface ? surface_json(*surface) : nlohmann::json(),
                                    pending ? pending_surface_json(*pending) : nlohmann::json());
}

std::optional<bool> DeviceNodeStore::remove_node_role(const std::string& device_id) {
  return devices_.remove_role(device_id, "node");
}

}  // namespace clawgate::core
