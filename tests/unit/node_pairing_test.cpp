// Unit tests: node command-surface pairing (core/node_pairing.hpp) against an in-memory store:
// the first connect's pending request, reuse and supersede, approval scopes, approved ∩
// declared, wider re-declarations, requests that never expire, rename in any script, the
// stored JSON read back strictly, and hostile sizes.
#include <gtest/gtest.h>

#include "core/node_pairing.hpp"
#include "node_test_support.hpp"
#include "shared_data.hpp"
#include "utf8.hpp"

namespace clawgate::core {
namespace {

using Json = nlohmann::json;
using testing::linux_node_host;
using testing::MemorySurfaceStore;

constexpr const char* kNode = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";

struct Fixture : ::testing::Test {
  FakeClock clock;
  MemorySurfaceStore store;
  int ids = 0;
  NodePairing pairing{store, clock, [this] { return "req-" + std::to_string(++ids); }};
  const NodeCommandConfig cfg{};
};

using NodePairingTest = Fixture;

TEST_F(NodePairingTest, FirstConnectWaitsWithNothingEffective) {
  store.pair(kNode, /*silently=*/true);
  NodeDeclaration d = linux_node_host(kNode);
  d.commands.push_back("camera.snap");       // not a Linux command: withheld
  d.commands.push_back("worker.launch.v1");  // a private control: withheld
  auto r = pairing.reconcile(d, cfg);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->declared_commands.size(), 8u);
  EXPECT_EQ(r->withheld_commands, (Strings{"camera.snap", "worker.launch.v1"}));
  EXPECT_EQ(r->declared_caps, (Strings{"mcp", "system"}));
  EXPECT_TRUE(r->effective_commands.empty());
  EXPECT_TRUE(r->effective_caps.empty());
  EXPECT_EQ(r->pending_request_id, "req-1");
  ASSERT_TRUE(r->requested);
  const Json& q = *r->requested;
  EXPECT_EQ(q["requestId"], "req-1");
  EXPECT_EQ(q["nodeId"], kNode);
  EXPECT_EQ(q["clientId"], "node-host");  // from the device record
  EXPECT_EQ(q["requiredApproveScopes"], Json({"operator.pairing", "operator.admin"}));
  EXPECT_EQ(q["silent"], true);
  EXPECT_FALSE(q.contains("revision"));  // internal
  EXPECT_TRUE(r->resolved.empty());

  // Reconnecting with the same surface reuses the request and writes nothing.
  const int writes = store.writes;
  auto again = pairing.reconcile(d, cfg);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->pending_request_id, "req-1");
  EXPECT_FALSE(again->requested);
  EXPECT_EQ(store.writes, writes);

  // A changed surface supersedes it: the old one is resolved as rejected.
  d.commands = {"system.which"};
  auto changed = pairing.reconcile(d, cfg);
  ASSERT_TRUE(changed);
  EXPECT_NE(changed->pending_request_id, "req-1");
  ASSERT_EQ(changed->resolved.size(), 1u);
  EXPECT_EQ(changed->resolved[0].json()["requestId"], "req-1");
  EXPECT_EQ(changed->resolved[0].decision, "rejected");
  EXPECT_EQ((*changed->requested)["requiredApproveScopes"],
            Json({"operator.pairing", "operator.admin"}));
}

TEST_F(NodePairingTest, AnUnpairedDeviceCannotOpenASurfaceRequest) {
  auto r = pairing.reconcile(linux_node_host(kNode), cfg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "node pairing requires a paired device");
}

TEST_F(NodePairingTest, ApprovalNeedsTheCommandsScopesThenEffectiveIsDeclared) {
  store.pair(kNode);
  const NodeDeclaration d = linux_node_host(kNode);
  ASSERT_TRUE(pairing.reconcile(d, cfg));
  EXPECT_EQ(pairing.approve("nope", {"operator.admin"}).status, SurfaceApproval::unknown);
  auto refused = pairing.approve("req-1", {"operator.pairing", "operator.write"});
  EXPECT_EQ(refused.status, SurfaceApproval::forbidden);
  EXPECT_EQ(refused.missing_scope, "operator.admin");
  EXPECT_TRUE(store.records[kNode].pending);  // still waiting

  clock.advance(5000);
  auto ok = pairing.approve("req-1", {"operator.pairing", "operator.admin"});
  ASSERT_EQ(ok.status, SurfaceApproval::approved);
  EXPECT_EQ(ok.node["nodeId"], kNode);
  EXPECT_EQ(ok.node["commands"].size(), 8u);
  EXPECT_EQ(ok.node["approvedAtMs"], clock.wall_ms());
  EXPECT_FALSE(store.records[kNode].pending);
  EXPECT_EQ(pairing.approve("req-1", {"operator.admin"}).status, SurfaceApproval::unknown);

  auto r = pairing.reconcile(d, cfg);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->effective_commands, r->declared_commands);
  EXPECT_TRUE(r->pending_request_id.empty());
  EXPECT_FALSE(r->requested);
}

TEST_F(NodePairingTest, AWiderDeclarationWaitsWhileTheApprovedPartStaysUsable) {
  store.pair(kNode);
  NodeDeclaration d = linux_node_host(kNode);
  d.commands = {"system.which"};
  d.caps = {"system"};
  ASSERT_TRUE(pairing.reconcile(d, cfg));
  ASSERT_EQ(pairing.approve("req-1", {"operator.admin"}).status, SurfaceApproval::approved);

  d.commands = {"system.which", "system.run"};
  d.permissions = Permissions{{"screenRecording", true}};
  auto wider = pairing.reconcile(d, cfg);
  ASSERT_TRUE(wider);
  EXPECT_EQ(wider->effective_commands, Strings{"system.which"});
  EXPECT_FALSE(wider->effective_permissions);  // never approved
  ASSERT_TRUE(wider->requested);
  EXPECT_EQ((*wider->requested)["commands"], Json({"system.which", "system.run"}));
  EXPECT_EQ((*wider->requested)["permissions"], Json({{"screenRecording", true}}));

  // Declaring less again needs no approval: the stale request goes, as rejected.
  d.commands = {"system.which"};
  d.permissions = Permissions{{"screenRecording", false}};
  auto narrower = pairing.reconcile(d, cfg);
  ASSERT_TRUE(narrower);
  EXPECT_EQ(narrower->effective_commands, Strings{"system.which"});
  EXPECT_EQ(narrower->effective_permissions, (Permissions{{"screenRecording", false}}));
  ASSERT_EQ(narrower->resolved.size(), 1u);
  EXPECT_EQ(narrower->resolved[0].request_id, wider->pending_request_id);
  EXPECT_FALSE(store.records[kNode].pending);
}

TEST_F(NodePairingTest, SurfaceRequestsDoNotExpire) {
  store.pair(kNode);
  ASSERT_TRUE(pairing.reconcile(linux_node_host(kNode), cfg));
  clock.advance(400LL * 24 * 3600 * 1000);
  const Json list = pairing.list();
  ASSERT_EQ(list["pending"].size(), 1u);
  EXPECT_EQ(list["pending"][0]["requestId"], "req-1");
  EXPECT_EQ(pairing.approve("req-1", {"operator.admin"}).status, SurfaceApproval::approved);
}

TEST_F(NodePairingTest, RejectRenameAndListOrder) {
  store.pair(kNode);
  store.pair("second");
  ASSERT_TRUE(pairing.reconcile(linux_node_host(kNode), cfg));
  clock.advance(10);
  ASSERT_TRUE(pairing.reconcile(linux_node_host("second"), cfg));
  const Json list = pairing.list();
  ASSERT_EQ(list["pending"].size(), 2u);
  EXPECT_EQ(list["pending"][0]["nodeId"], "second");  // newest first
  EXPECT_FALSE(pairing.reject("nope"));
  auto rejected = pairing.reject("req-1");
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->node_id, kNode);
  EXPECT_EQ(pairing.list()["pending"].size(), 1u);

  EXPECT_FALSE(pairing.rename("second", "x"));  // no approved surface yet
  ASSERT_EQ(pairing.approve("req-3", {"operator.admin"}).status, SurfaceApproval::approved);
  const std::string name = test_data::sample("chinese") + " " + test_data::sample("emoji_zwj");
  auto renamed = pairing.rename("second", "  " + name + "\u3000");
  ASSERT_TRUE(renamed);
  EXPECT_EQ((*renamed)["displayName"], name);
  EXPECT_EQ(pairing.list()["paired"][0]["displayName"], name);
  EXPECT_FALSE(pairing.rename("second", " \t"));
  // A name past the bound is cut on a code point boundary.
  auto long_name = pairing.rename("second", test_data::sample("long_emoji_4096_codepoints"));
  ASSERT_TRUE(long_name);
  const std::string kept = (*long_name)["displayName"];
  EXPECT_LE(kept.size(), NodePairing::kMaxTextBytes);
  EXPECT_TRUE(utf8::valid(kept));
}

TEST_F(NodePairingTest, HostileSizesAreBounded) {
  store.pair(kNode);
  NodeDeclaration d = linux_node_host(kNode);
  for (int i = 0; i < 5000; ++i) d.caps.push_back("cap" + std::to_string(i));
  d.caps.push_back(std::string(10000, 'c'));
  d.commands.push_back(std::string(1 << 20, 'x'));
  Permissions many;
  for (int i = 0; i < 1000; ++i) many["p" + std::to_string(i)] = true;
  d.permissions = many;
  d.display_name = std::string(1 << 16, 'n');
  auto r = pairing.reconcile(d, cfg);
  ASSERT_TRUE(r);
  EXPECT_LE(r->declared_caps.size(), NodePairing::kMaxCaps);
  EXPECT_EQ(r->declared_commands.size(), 8u);
  EXPECT_LE(r->declared_permissions->size(), NodePairing::kMaxPermissions);
  EXPECT_LE(store.records[kNode].pending->display_name.size(), NodePairing::kMaxTextBytes);
  EXPECT_LT(dump_json(pairing.list()).size(), 64u * 1024);
}

TEST_F(NodePairingTest, StoredRecordsAreReadStrictly) {
  std::string problem;
  EXPECT_FALSE(surface_from_json("x", &problem));
  EXPECT_FALSE(surface_from_json({{"caps", "not a list"}}, &problem));
  EXPECT_NE(problem.find("caps"), std::string::npos);
  EXPECT_FALSE(pending_surface_from_json({{"ts", 1}}, &problem));  // no requestId
  EXPECT_FALSE(pending_surface_from_json({{"requestId", "r"}, {"ts", "soon"}}, &problem));
  // Unknown keys and wrongly typed entries inside lists are dropped, not fatal.
  auto s = surface_from_json({{"caps", {"a", 1, " b "}},
                              {"approvedAtMs", 5},
                              {"extra", true},
                              {"permissions", {{"x", true}, {"y", "no"}}},
                              {"lastHostStats", {{"cpuCount", 2}}}},
                             &problem);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->caps, (Strings{"a", "b"}));
  EXPECT_EQ(s->permissions, (Permissions{{"x", true}}));
  EXPECT_EQ(surface_json(*s)["approvedAtMs"], 5);
}

TEST_F(NodePairingTest, DiskRefusalChangesNothing) {
  store.pair(kNode);
  ASSERT_TRUE(pairing.reconcile(linux_node_host(kNode), cfg));
  store.refuse_writes = true;
  EXPECT_THROW(pairing.approve("req-1", {"operator.admin"}), std::system_error);
  store.refuse_writes = false;
  EXPECT_TRUE(store.records[kNode].pending);
  EXPECT_FALSE(store.records[kNode].surface);
}

TEST_F(NodePairingTest, ConnectionTimesFollowTheLatestConnection) {
  store.pair(kNode);
  ASSERT_TRUE(pairing.reconcile(linux_node_host(kNode), cfg));
  ASSERT_EQ(pairing.approve("req-1", {"operator.admin"}).status, SurfaceApproval::approved);
  pairing.record_connection(kNode, 100);
  pairing.record_connection(kNode, 200);
  pairing.record_disconnection(kNode, 100, 300, Json{{"cpuCount", 4}});  // an older socket
  EXPECT_FALSE(store.records[kNode].surface->last_disconnected_at_ms);
  pairing.record_disconnection(kNode, 200, 300, Json{{"cpuCount", 4}});
  EXPECT_EQ(store.records[kNode].surface->last_disconnected_at_ms, 300);
  EXPECT_EQ(store.records[kNode].surface->last_host_stats["cpuCount"], 4);
  pairing.record_connection(kNode, 400);
  EXPECT_FALSE(store.records[kNode].surface->last_disconnected_at_ms);
}

}  // namespace
}  // namespace clawgate::core
