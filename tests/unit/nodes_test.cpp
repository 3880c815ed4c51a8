// Unit tests: the node service (core/nodes.hpp) end to end without sockets: a Linux node host
// connects, its surface waits, node.invoke refuses with the pending hint, an admin approves,
// the live session gets the surface in place, node.invoke reaches the node's one connection
// and its node.invoke.result answers the operator; timeouts, disconnects, late results, nodeId
// mismatch, approval flags on system.run, node.list/describe views by scope, node.pair.remove.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "core/nodes.hpp"
#include "node_test_support.hpp"
#include "shared_data.hpp"

namespace clawgate::core {
namespace {

using Json = nlohmann::json;
using testing::linux_node_host;
using testing::MemorySurfaceStore;
using testing::req;

constexpr const char* kNode = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
constexpr NodeConn kNodeConn = 11;

struct Sent {
  NodeConn conn;
  std::string event;
  Json payload;
};

struct FakeSink final : NodeSink {
  std::vector<Sent> direct;
  std::vector<std::pair<std::string, Json>> broadcasts;
  std::vector<std::string> closed;
  bool refuse = false;
  bool send_to(NodeConn conn, const std::string& event, const Json& payload) override {
    if (refuse) return false;
    direct.push_back({conn, event, payload});
    return true;
  }
  void broadcast(const std::string& event, const Json& payload) override {
    broadcasts.emplace_back(event, payload);
  }
  void close_node_connections(const std::string& device_id, uint16_t code,
                              const std::string& reason) override {
    closed.push_back(device_id + " " + std::to_string(code) + " " + reason);
  }
};

struct NodesTest : ::testing::Test {
  boost::asio::io_context io;
  FakeClock clock;
  LogRing ring;
  Logger log{clock, &ring, LogLevel::error};
  MemorySurfaceStore store;
  FakeSink sink;
  int ids = 0;
  NodeService nodes{io,
                    clock,
                    log,
                    store,
                    sink,
                    NodeCommandConfig{},
                    [this] { return "id-" + std::to_string(++ids); }};

  NodeCaller admin() { return {1, 4, "operator", {"operator.admin"}, "", false}; }
  NodeCaller reader() { return {2, 4, "operator", {"operator.read"}, "", false}; }
  NodeCaller node() { return {kNodeConn, 4, "node", {}, kNode, true}; }

  // Invokes and collects the one reply.
  std::optional<Reply> invoke(const NodeCaller& c, const Json& params) {
    auto got = std::make_shared<std::optional<Reply>>();
    nodes.invoke(c, req("node.invoke", params), [got](Reply r) { *got = std::move(r); });
    return *got;
  }
  const NodeSession* connect() {
    store.pair(kNode, true);
    auto s = nodes.admit(kNodeConn, linux_node_host(kNode), "/usr/bin:/bin");
    EXPECT_TRUE(s);
    return s ? s.value() : nullptr;
  }
  std::string pending_request() {
    return store.records[kNode].pending ? store.records[kNode].pending->request_id : "";
  }
};

TEST_F(NodesTest, PendingApproveInvokeResult) {
  ASSERT_TRUE(connect());
  ASSERT_EQ(sink.broadcasts.size(), 1u);
  EXPECT_EQ(sink.broadcasts[0].first, "node.pair.requested");
  const std::string request_id = pending_request();
  ASSERT_FALSE(request_id.empty());

  const Json which = {{"nodeId", kNode},
                      {"command", "system.which"},
                      {"params", {{"bins", {"sh"}}}},
                      {"idempotencyKey", "k1"}};
  auto refused = invoke(admin(), which);
  ASSERT_TRUE(refused && refused->error);
  EXPECT_EQ(refused->error->code, ErrorCode::INVALID_REQUEST);
  EXPECT_NE(refused->error->message.find("pending approval"), std::string::npos);
  EXPECT_EQ(refused->error->details["reason"], "node did not declare commands");

  // Approval needs operator.admin for host commands; pairing + write is not enough.
  NodeCaller pairing{3, 4, "operator", {"operator.pairing", "operator.write"}, "", false};
  Reply denied = nodes.pair_approve(pairing, req("node.pair.approve", {{"requestId", request_id}}));
  ASSERT_TRUE(denied.error);
  EXPECT_EQ(denied.error->code, ErrorCode::FORBIDDEN);
  EXPECT_EQ(denied.error->message, "missing scope: operator.admin");
  EXPECT_EQ(denied.error->details["requiredScopes"], Json({"operator.pairing", "operator.admin"}));
  EXPECT_EQ(
      nodes.pair_approve(admin(), req("node.pair.approve", {{"requestId", "nope"}})).error->message,
      "unknown requestId");

  Reply ok = nodes.pair_approve(admin(), req("node.pair.approve", {{"requestId", request_id}}));
  ASSERT_FALSE(ok.error);
  EXPECT_EQ((*ok.payload)["node"]["nodeId"], kNode);
  // The node hears it on its own socket, and operators by broadcast.
  ASSERT_EQ(sink.direct.size(), 1u);
  EXPECT_EQ(sink.direct[0].conn, kNodeConn);
  EXPECT_EQ(sink.direct[0].event, "node.pair.resolved");
  EXPECT_EQ(sink.direct[0].payload["decision"], "approved");
  EXPECT_EQ(sink.broadcasts.back().first, "node.pair.resolved");
  EXPECT_EQ(nodes.registry().by_node(kNode)->commands.size(), 8u);

  auto got = std::make_shared<std::optional<Reply>>();
  nodes.invoke(admin(), req("node.invoke", which), [got](Reply r) { *got = std::move(r); });
  EXPECT_FALSE(*got);  // waiting for the node
  ASSERT_EQ(sink.direct.size(), 2u);
  const Sent& request = sink.direct[1];
  EXPECT_EQ(request.conn, kNodeConn);
  EXPECT_EQ(request.event, "node.invoke.request");
  EXPECT_EQ(request.payload["paramsJSON"], "{\"bins\":[\"sh\"]}");
  EXPECT_EQ(request.payload["timeoutMs"], 30000);
  const std::string id = request.payload["id"];

  NodeCaller impostor = node();
  impostor.device_id = "someone-else";
  EXPECT_EQ(nodes
                .invoke_result(impostor, req("node.invoke.result",
                                             {{"id", id}, {"nodeId", kNode}, {"ok", true}}))
                .error->message,
            "nodeId mismatch");
  Reply accepted = nodes.invoke_result(
      node(), req("node.invoke.result", NodeService::normalize_invoke_result(
                                            {{"id", id},
                                             {"nodeId", kNode},
                                             {"ok", true},
                                             {"payloadJSON", R"({"bins":{"sh":"/usr/bin/sh"}})"},
                                             {"error", nullptr}})));
  EXPECT_EQ(*accepted.payload, (Json{{"ok", true}}));
  ASSERT_TRUE(*got);
  ASSERT_FALSE((*got)->error);
  EXPECT_EQ((*(*got)->payload)["payload"]["bins"]["sh"], "/usr/bin/sh");
  Reply late = nodes.invoke_result(
      node(), req("node.invoke.result", {{"id", id}, {"nodeId", kNode}, {"ok", true}}));
  EXPECT_EQ(*late.payload, (Json{{"ok", true}, {"ignored", true}}));
}

TEST_F(NodesTest, TimeoutDisconnectAndNotConnected) {
  ASSERT_TRUE(connect());
  ASSERT_FALSE(
      nodes.pair_approve(admin(), req("node.pair.approve", {{"requestId", pending_request()}}))
          .error);
  // The node reconnects with its approved surface (the connection is recorded on it).
  ASSERT_TRUE(nodes.admit(kNodeConn, linux_node_host(kNode), ""));
  auto first = std::make_shared<std::optional<Reply>>();
  nodes.invoke(admin(),
               req("node.invoke", {{"nodeId", kNode},
                                   {"command", "system.which"},
                                   {"timeoutMs", 50},
                                   {"idempotencyKey", "k"}}),
               [first](Reply r) { *first = std::move(r); });
  clock.advance(50);
  nodes.expire_invokes();
  ASSERT_TRUE(*first && (*first)->error);
  EXPECT_EQ((*first)->error->message, "TIMEOUT: node invoke timed out");
  EXPECT_EQ((*first)->error->details["nodeCommandDispatched"], true);

  auto second = std::make_shared<std::optional<Reply>>();
  nodes.invoke(
      admin(),
      req("node.invoke", {{"nodeId", kNode}, {"command", "system.which"}, {"idempotencyKey", "k"}}),
      [second](Reply r) { *second = std::move(r); });
  nodes.disconnect(kNodeConn);
  ASSERT_TRUE(*second && (*second)->error);
  EXPECT_EQ((*second)->error->message, "DISCONNECTED: node disconnected (system.which)");
  EXPECT_EQ(store.records[kNode].surface->last_disconnected_at_ms, clock.wall_ms());

  auto gone =
      invoke(admin(), {{"nodeId", kNode}, {"command", "system.which"}, {"idempotencyKey", "k"}});
  ASSERT_TRUE(gone && gone->error);
  EXPECT_EQ(gone->error->message, "node not connected");
  EXPECT_EQ(gone->error->details["code"], "NOT_CONNECTED");
}

TEST_F(NodesTest, InvokeRefusalsComeBeforeTheNodeIsAsked) {
  ASSERT_TRUE(connect());
  ASSERT_FALSE(
      nodes.pair_approve(admin(), req("node.pair.approve", {{"requestId", pending_request()}}))
          .error);
  const auto refusal = [&](const NodeCaller& c, const Json& extra) {
    Json p = {{"nodeId", kNode}, {"idempotencyKey", "k"}};
    p.update(extra);
    auto r = invoke(c, p);
    return r && r->error ? r->error->message : std::string("no error");
  };
  EXPECT_EQ(refusal(admin(), {{"command", " "}}), "nodeId and command required");
  EXPECT_EQ(refusal(admin(), {{"command", "worker.launch.v1"}}),
            "node.invoke does not allow private node controls");
  EXPECT_EQ(refusal(admin(), {{"command", "system.execApprovals.set"}}),
            "node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*");
  NodeCaller writer{4, 4, "operator", {"operator.write"}, "", false};
  EXPECT_EQ(refusal(writer, {{"command", "fs.listDir"}}), "missing scope: operator.admin");
  EXPECT_EQ(refusal(admin(), {{"command", "camera.snap"}}),
            "node command not allowed: \"camera.snap\" requires explicit "
            "gateway.nodes.commands.allow opt-in");
  // The approval-flag advisory: operator.write cannot make the node skip its exec approvals.
  EXPECT_EQ(refusal(writer, {{"command", "system.run"},
                             {"params",
                              {{"command", {"sh", "-c", "id"}},
                               {"approved", true},
                               {"approvalDecision", "allow-always"},
                               {"runId", "r"}}}}),
            "exec approvals unavailable");
  EXPECT_TRUE(sink.direct.size() == 1);  // only the approval notice reached the node
  // A plain system.run goes through with only the known keys.
  auto pending = std::make_shared<std::optional<Reply>>();
  nodes.invoke(
      writer,
      req("node.invoke",
          {{"nodeId", kNode},
           {"command", "system.run"},
           {"idempotencyKey", "k"},
           {"params",
            {{"command", {"sh", "-c", "echo 你好"}}, {"approved", false}, {"note", "dropped"}}}}),
      [pending](Reply r) { *pending = std::move(r); });
  ASSERT_EQ(sink.direct.size(), 2u);
  const Json fwd = Json::parse(sink.direct[1].payload["paramsJSON"].get<std::string>());
  EXPECT_EQ(fwd["command"], Json({"sh", "-c", "echo 你好"}));
  EXPECT_FALSE(fwd.contains("approved"));
  EXPECT_FALSE(fwd.contains("note"));
  EXPECT_TRUE(fwd.contains("runId"));
  // A send that fails answers at once.
  sink.refuse = true;
  auto unsent =
      invoke(admin(), {{"nodeId", kNode}, {"command", "system.which"}, {"idempotencyKey", "k"}});
  ASSERT_TRUE(unsent && unsent->error);
  EXPECT_EQ(unsent->error->message, "UNAVAILABLE: failed to send invoke to node");
  EXPECT_EQ(unsent->error->details["nodeCommandDispatched"], false);
}

TEST_F(NodesTest, ListAndDescribeByScope) {
  ASSERT_TRUE(connect());
  const std::string name = test_data::sample("chinese") + test_data::sample("emoji_zwj");
  const Json list = *nodes.list(admin()).payload;
  ASSERT_EQ(list["nodes"].size(), 1u);
  const Json& n = list["nodes"][0];
  EXPECT_EQ(n["nodeId"], kNode);
  EXPECT_EQ(n["approvalState"], "pending-approval");
  EXPECT_EQ(n["pendingRequestId"], pending_request());
  EXPECT_EQ(n["pendingDeclaredCommands"].size(), 8u);
  EXPECT_EQ(n["commands"], Json::array());
  EXPECT_EQ(n["connected"], true);
  EXPECT_EQ(n["paired"], true);
  EXPECT_EQ(n["pathEnv"], "/usr/bin:/bin");
  EXPECT_EQ(n["platform"], "linux");
  // operator.read sees the node but not the pending request.
  const Json seen = (*nodes.list(reader()).payload)["nodes"][0];
  EXPECT_FALSE(seen.contains("pendingRequestId"));
  EXPECT_FALSE(seen.contains("pendingDeclaredCommands"));
  EXPECT_EQ(seen["approvalState"], "pending-approval");

  ASSERT_FALSE(
      nodes.pair_approve(admin(), req("node.pair.approve", {{"requestId", pending_request()}}))
          .error);
  Reply renamed =
      nodes.rename(admin(), req("node.rename", {{"nodeId", kNode}, {"displayName", name}}));
  ASSERT_FALSE(renamed.error);
  EXPECT_EQ((*renamed.payload)["displayName"], name);
  EXPECT_EQ(nodes.rename(admin(), req("node.rename", {{"nodeId", "nope"}, {"displayName", "x"}}))
                .error->message,
            "unknown nodeId");
  EXPECT_EQ(nodes.rename(admin(), req("node.rename", {{"nodeId", kNode}, {"displayName", "  "}}))
                .error->message,
            "displayName required");
  const Json d = *nodes.describe(reader(), req("node.describe", {{"nodeId", kNode}})).payload;
  EXPECT_EQ(d["approvalState"], "approved");
  EXPECT_EQ(d["displayName"], name);
  EXPECT_EQ(d["commands"].size(), 8u);
  EXPECT_EQ(d["commands"][0], "fs.listDir");  // sorted
  EXPECT_TRUE(d.contains("ts"));
  EXPECT_EQ(nodes.describe(reader(), req("node.describe", {{"nodeId", "nope"}})).error->message,
            "unknown nodeId");
  EXPECT_EQ(nodes.describe(reader(), req("node.describe", {{"nodeId", " "}})).error->message,
            "nodeId required");

  // Host stats from the node show in describe.
  Reply ev = nodes.event(
      node(),
      req("node.event",
          {{"event", "node.host.stats"},
           {"payload", {{"cpuCount", 2}, {"memoryTotalBytes", 10}, {"memoryFreeBytes", 5}}}}));
  EXPECT_EQ((*ev.payload)["reason"], "updated");
  EXPECT_EQ(sink.broadcasts.back().first, "node.hostStats");
  EXPECT_EQ((*nodes.describe(reader(), req("node.describe", {{"nodeId", kNode}}))
                  .payload)["hostStats"]["cpuCount"],
            2);
  EXPECT_EQ(
      (*nodes.event(node(), req("node.event", {{"event", "exec.started"}})).payload)["reason"],
      "unsupported_event");
}

TEST_F(NodesTest, PairListRejectRemoveAndCrossDeviceDenials) {
  ASSERT_TRUE(connect());
  // A device-token caller that is not admin sees and manages only its own device.
  NodeCaller other{5, 4, "operator", {"operator.pairing"}, "other-device", true};
  EXPECT_EQ((*nodes.pair_list(other).payload)["pending"].size(), 0u);
  EXPECT_EQ((*nodes.pair_list(admin()).payload)["pending"].size(), 1u);
  EXPECT_EQ(nodes.pair_reject(other, req("node.pair.reject", {{"requestId", pending_request()}}))
                .error->message,
            "node pairing rejection denied");
  EXPECT_EQ(nodes.pair_approve(other, req("node.pair.approve", {{"requestId", "unknown"}}))
                .error->message,
            "node pairing approval denied");
  EXPECT_EQ(nodes.pair_remove(other, req("node.pair.remove", {{"nodeId", kNode}})).error->message,
            "node pairing removal denied");

  Reply rejected =
      nodes.pair_reject(admin(), req("node.pair.reject", {{"requestId", pending_request()}}));
  ASSERT_FALSE(rejected.error);
  EXPECT_EQ((*rejected.payload)["nodeId"], kNode);
  EXPECT_EQ(sink.broadcasts.back().second["decision"], "rejected");

  EXPECT_EQ(
      nodes.pair_remove(admin(), req("node.pair.remove", {{"nodeId", "nope"}})).error->message,
      "unknown nodeId");
  Reply removed = nodes.pair_remove(admin(), req("node.pair.remove", {{"nodeId", kNode}}));
  ASSERT_FALSE(removed.error);
  EXPECT_EQ(
      sink.broadcasts.back().second,
      (Json{
          {"requestId", ""}, {"nodeId", kNode}, {"decision", "removed"}, {"ts", clock.wall_ms()}}));
  ASSERT_EQ(sink.closed.size(), 1u);
  EXPECT_EQ(sink.closed[0], std::string(kNode) + " 4001 device removed");
}

TEST_F(NodesTest, AWiderSurfaceWaitsWhileTheApprovedCommandsWork) {
  store.pair(kNode);
  NodeDeclaration d = linux_node_host(kNode);
  d.commands = {"system.which"};
  ASSERT_TRUE(nodes.admit(kNodeConn, d, ""));
  ASSERT_FALSE(
      nodes.pair_approve(admin(), req("node.pair.approve", {{"requestId", pending_request()}}))
          .error);
  d.commands = {"system.which", "system.run"};
  ASSERT_TRUE(nodes.admit(kNodeConn + 1, d, ""));  // reconnects declaring more
  EXPECT_EQ(sink.broadcasts.back().first, "node.pair.requested");
  EXPECT_EQ((*nodes.describe(admin(), req("node.describe", {{"nodeId", kNode}}))
                  .payload)["approvalState"],
            "pending-reapproval");
  auto waiting = invoke(admin(), {{"nodeId", kNode},
                                  {"command", "system.run"},
                                  {"params", {{"command", {"true"}}}},
                                  {"idempotencyKey", "k"}});
  ASSERT_TRUE(waiting && waiting->error);
  EXPECT_NE(waiting->error->message.find("pending approval"), std::string::npos);
  EXPECT_EQ(waiting->error->details["reason"], "command not declared by node");
  const size_t sent = sink.direct.size();
  nodes.invoke(
      admin(),
      req("node.invoke", {{"nodeId", kNode}, {"command", "system.which"}, {"idempotencyKey", "k"}}),
      [](Reply) {});
  ASSERT_EQ(sink.direct.size(), sent + 1);
  EXPECT_EQ(sink.direct.back().conn, kNodeConn + 1);
}

TEST_F(NodesTest, ADiskThatRefusesLeavesTheNodeOut) {
  store.pair(kNode);
  store.refuse_writes = true;
  auto s = nodes.admit(kNodeConn, linux_node_host(kNode), "");
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().retryable);
  EXPECT_FALSE(nodes.registry().by_node(kNode));
}

TEST_F(NodesTest, InvokeResultNormalization) {
  EXPECT_EQ(NodeService::normalize_invoke_result(
                {{"id", "a"}, {"payloadJSON", nullptr}, {"error", nullptr}}),
            (Json{{"id", "a"}}));
  EXPECT_EQ(NodeService::normalize_invoke_result({{"payloadJSON", {{"x", 1}}}}),
            (Json{{"payload", {{"x", 1}}}}));
  EXPECT_EQ(NodeService::normalize_invoke_result({{"payload", 1}, {"payloadJSON", 2}}),
            (Json{{"payload", 1}}));
}

}  // namespace
}  // namespace clawgate::core
