// Unit tests: node surfaces on the device records (core/device_nodes.hpp over core/devices):
// written to paired.json and read back after a restart, a damaged surface counted as absent,
// node.pair.remove taking the node role alone from a device that is also an operator, and the
// whole record from a node-only device.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/device_nodes.hpp"
#include "core/devices.hpp"
#include "fs.hpp"
#include "node_test_support.hpp"

namespace clawgate::core {
namespace {

using Json = nlohmann::json;

const std::string kNode = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
const std::string kKey = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

struct DeviceNodes : ::testing::Test {
  DeviceNodes() {
    char tmpl[] = "/tmp/clawgate-device-nodes-XXXXXX";
    root = ::mkdtemp(tmpl);
  }
  ~DeviceNodes() override { std::filesystem::remove_all(root); }

  // Pairs kNode for `role` as the connect would (silently, local).
  void pair(DeviceStore& store, const std::string& role, Scopes scopes = {}) {
    DevicePairingRequest r;
    r.device_id = kNode;
    r.public_key = kKey;
    r.display_name = "build-box";
    r.platform = "linux";
    r.device_family = "Linux";
    r.client_id = "node-host";
    r.client_mode = "node";
    r.role = role;
    r.scopes = scopes;
    r.silent = true;
    auto filed = store.request(r);
    ASSERT_TRUE(filed.ok());
    ASSERT_EQ(store.approve(filed->request.request_id, Scopes{"operator.admin"}, "silent").status,
              DeviceApproval::approved);
  }

  std::string root;
  FakeClock clock;
  LogRing ring;
  Logger log{clock, &ring, LogLevel::error};
};

TEST_F(DeviceNodes, SurfacesLiveOnTheDeviceRecordAndSurviveARestart) {
  {
    DeviceStore devices(root + "/devices", clock);
    DeviceNodeStore store(devices, log);
    pair(devices, "node");
    NodePairing pairing(store, clock, [] { return std::string("req-1"); });
    auto r = pairing.reconcile(testing::linux_node_host(kNode), NodeCommandConfig{});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->pending_request_id, "req-1");
    EXPECT_EQ(store.device(kNode)->approved_silently, true);
    EXPECT_EQ((*r->requested)["silent"], true);
  }
  DeviceStore devices(root + "/devices", clock);
  EXPECT_TRUE(devices.load().empty());
  DeviceNodeStore store(devices, log);
  NodePairing pairing(store, clock, [] { return std::string("req-2"); });
  EXPECT_EQ(pairing.list()["pending"][0]["requestId"], "req-1");
  ASSERT_EQ(pairing.approve("req-1", {"operator.admin"}).status, SurfaceApproval::approved);
  EXPECT_TRUE(devices.paired(kNode)->node_surface.is_object());
  EXPECT_TRUE(devices.paired(kNode)->pending_node_surface.is_null());
  // The CLI's `devices list` reads the surfaces from the redacted record.
  EXPECT_TRUE(DeviceStore::redacted_paired(*devices.paired(kNode)).contains("nodeSurface"));
}

TEST_F(DeviceNodes, ADamagedSurfaceCountsAsAbsent) {
  DeviceStore devices(root + "/devices", clock);
  DeviceNodeStore store(devices, log);
  pair(devices, "node");
  ASSERT_TRUE(devices.set_node_surfaces(kNode, Json{{"caps", "nope"}}, Json("nope")));
  const auto d = store.device(kNode);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->surface);
  EXPECT_FALSE(d->pending);
  EXPECT_TRUE(d->node_role);
  EXPECT_FALSE(devices.set_node_surfaces("unknown", nullptr, nullptr));
}

TEST_F(DeviceNodes, RemovingTheNodeRoleKeepsAnOperatorDevice) {
  DeviceStore devices(root + "/devices", clock);
  DeviceNodeStore store(devices, log);
  pair(devices, "operator", {"operator.read"});
  pair(devices, "node");
  NodePairing pairing(store, clock, [] { return std::string("req-1"); });
  ASSERT_TRUE(pairing.reconcile(testing::linux_node_host(kNode), NodeCommandConfig{}));
  EXPECT_EQ(store.remove_node_role(kNode), std::optional<bool>(false));  // the record stays
  const PairedDevice* d = devices.paired(kNode);
  ASSERT_TRUE(d);
  EXPECT_EQ(approved_roles(*d), Scopes{"operator"});
  EXPECT_FALSE(d->tokens.count("node"));
  EXPECT_TRUE(d->tokens.count("operator"));
  EXPECT_TRUE(d->pending_node_surface.is_null());
  EXPECT_FALSE(store.device(kNode)->node_role);
  EXPECT_EQ(store.remove_node_role(kNode), std::nullopt);  // no node role left

  // A node-only device goes whole, and so does its record on disk.
  DeviceStore other(root + "/other", clock);
  DeviceNodeStore other_store(other, log);
  pair(other, "node");
  EXPECT_EQ(other_store.remove_node_role(kNode), std::optional<bool>(true));
  EXPECT_FALSE(other.paired(kNode));
  DeviceStore reread(root + "/other", clock);
  reread.load();
  EXPECT_FALSE(reread.paired(kNode));
}

}  // namespace
}  // namespace clawgate::core
