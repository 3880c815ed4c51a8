// DeviceNodeStore: node command-surface pairing state kept where upstream keeps it, on the
// paired device records ("nodeSurface", "pendingNodeSurface" in <state>/devices/paired.json),
// so removing a device removes its surfaces and `openclaw devices list` shows a pending one.
// An adapter from DeviceStore to NodeSurfaceStore (core/node_pairing.hpp).
// Fails: a stored surface that does not read back (hand-edited, damaged) counts as absent and
// is logged once per load; writes throw std::system_error like DeviceStore's.
#pragma once
#include <string>

#include "core/devices.hpp"
#include "core/node_pairing.hpp"
#include "log.hpp"

namespace clawgate::core {

class DeviceNodeStore final : public NodeSurfaceStore {
 public:
  DeviceNodeStore(DeviceStore& devices, Logger& log) : devices_(devices), log_(log) {}

  std::optional<NodeDevice> device(const std::string& device_id) const override;
  std::vector<NodeDevice> devices() const override;
  bool save_surfaces(const std::string& device_id, const std::optional<NodeSurface>& surface,
                     const std::optional<PendingNodeSurface>& pending) override;
  std::optional<bool> remove_node_role(const std::string& device_id) override;

 private:
  NodeDevice view(const PairedDevice& d) const;
  DeviceStore& devices_;
  Logger& log_;
};

}  // namespace clawgate::core
