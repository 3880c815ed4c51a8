// Test support for the node unit tests: an in-memory NodeSurfaceStore standing in for the
// paired-device records (it can be told to refuse writes, as a full disk would), the Linux node
// host's connect declaration, and method params read as the front reads them.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <system_error>

#include "core/node_pairing.hpp"
#include "protocol_gen.hpp"

namespace clawgate::core::testing {

class MemorySurfaceStore final : public NodeSurfaceStore {
 public:
  std::map<std::string, NodeDevice> records;
  bool refuse_writes = false;
  int writes = 0;

  // A device paired with role node (as the device pairing would leave it).
  NodeDevice& pair(const std::string& id, bool silently = false) {
    NodeDevice& d = records[id];
    d.device_id = id;
    d.client_id = "node-host";
    d.client_mode = "node";
    d.platform = "linux";
    d.device_family = "Linux";
    d.display_name = "build-box";
    d.remote_ip = "127.0.0.1";
    d.node_role = true;
    d.approved_silently = silently;
    d.approved_at_ms = 1;
    return d;
  }

  std::optional<NodeDevice> device(const std::string& id) const override {
    auto it = records.find(id);
    if (it == records.end()) return std::nullopt;
    return roundtrip(it->second);
  }
  std::vector<NodeDevice> devices() const override {
    std::vector<NodeDevice> out;
    for (const auto& [id, d] : records) out.push_back(roundtrip(d));
    return out;
  }
  bool save_surfaces(const std::string& id, const std::optional<NodeSurface>& surface,
                     const std::optional<PendingNodeSurface>& pending) override {
    if (refuse_writes) throw std::system_error(ENOSPC, std::generic_category(), "paired.json");
    auto it = records.find(id);
    if (it == records.end()) return false;
    ++writes;
    it->second.surface = surface;
    it->second.pending = pending;
    return true;
  }
  std::optional<bool> remove_node_role(const std::string& id) override {
    if (refuse_writes) throw std::system_error(ENOSPC, std::generic_category(), "paired.json");
    auto it = records.find(id);
    if (it == records.end() || !it->second.node_role) return std::nullopt;
    records.erase(it);
    return true;
  }

 private:
  // What a real store hands back went through JSON on disk.
  static NodeDevice roundtrip(NodeDevice d) {
    if (d.surface) d.surface = surface_from_json(surface_json(*d.surface), nullptr);
    if (d.pending) d.pending = pending_surface_from_json(pending_surface_json(*d.pending), nullptr);
    return d;
  }
};

// `openclaw node run` on Linux, 2026.9.6.
inline NodeDeclaration linux_node_host(const std::string& id) {
  NodeDeclaration d;
  d.node_id = id;
  d.client_id = "node-host";
  d.client_mode = "node";
  d.display_name = "build-box";
  d.platform = "linux";
  d.device_family = "Linux";
  d.version = "2026.9.6";
  d.remote_ip = "127.0.0.1";
  d.caps = {"mcp", "system"};
  d.commands = {"fs.listDir",
                "mcp.tools.call.v1",
                "system.execApprovals.get",
                "system.execApprovals.set",
                "system.run",
                "system.run.prepare",
                "system.which",
                "terminal.upload"};
  return d;
}

// A method's params as the front hands them to the node service: checked against the method's
// schema definition (a test whose params the schema refuses fails here), then read as the
// typed struct the call takes: req("node.describe", {{"nodeId", id}}).
class req {
 public:
  req(std::string_view method, nlohmann::json params) : params_(std::move(params)) {
    const schema::MethodSpec* m = schema::find_method(method);
    schema::Errors e;
    if (!m)
      ADD_FAILURE() << "no method " << method;
    else if (!schema::validate(m->params, params_, e))
      ADD_FAILURE() << method << " params refused by the schema: " << e.text();
  }
  template <class T>
  operator T() const {  // NOLINT(google-explicit-constructor): reads as the call's params
    return params_.get<T>();
  }

 private:
  nlohmann::json params_;
};

}  // namespace clawgate::core::testing
