// In-process tests: nodes through the front (tests/inproc/inproc_gateway.hpp). A node with a
// real Ed25519 device identity (signed v3 payload, OpenSSL) connects over loopback, is paired
// silently as a device, waits for its surface approval, gets node.invoke.request on its one
// connection without seq, and answers; role rules (node-only methods, health for all, the flood
// guard's 11th error then close 1008) and node.invoke.result's leniency, in Chinese and emoji.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "inproc_gateway.hpp"
#include "protocol_gen.hpp"
#include "shared_data.hpp"
#include "test_device.hpp"

namespace clawgate::inproc {
namespace {

std::string temp_state_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "/tmp/clawgate-inproc-nodes-" + std::to_string(::getpid()) + "-" + info->name();
}

struct Nodes : ::testing::Test {
  Nodes() {
    WorldOptions o;
    o.state_dir = temp_state_dir();
    o.keep_frames = true;
    world = std::make_unique<World>(o);
  }
  ~Nodes() override {
    world.reset();
    std::error_code ec;
    std::filesystem::remove_all(temp_state_dir(), ec);
  }

  // `openclaw node run` on Linux, as far as connect goes.
  ConnId connect_node(const std::string& display_name, const std::vector<std::string>& commands) {
    const ConnId id = world->open(peer_from(0));
    Json challenge;
    for (const auto& f : world->received(id))
      if (f.value("event", "") == "connect.challenge") challenge = f;
    testing_support::ConnectSpec spec;
    spec.client_id = "node-host";
    spec.client_mode = "node";
    spec.platform = "linux";
    spec.device_family = "Linux";
    spec.display_name = display_name;
    spec.role = "node";
    spec.auth = {{"token", World::kToken}};
    Json frame = testing_support::connect_frame(&device, spec, challenge["payload"]["nonce"],
                                                challenge["payload"]["ts"]);
    Json& params = frame["params"];
    params["client"]["version"] = "2026.9.6";  // not signed
    params["caps"] = {"system"};
    params["commands"] = commands;
    params["pathEnv"] = "/usr/bin:/bin";
    world->deliver(id, frame.dump());
    return id;
  }

  Json event(ConnId id, const std::string& name) const {
    Json found;
    for (const auto& f : world->received(id))
      if (f.value("type", "") == "event" && f.value("event", "") == name) found = f;
    schema::Errors errs;
    if (const schema::EventSpec* spec = schema::find_event(name); spec && found.is_object()) {
      EXPECT_TRUE(schema::validate(spec->payload, found["payload"], errs))
          << name << ": " << errs.text() << "\n"
          << found.dump();
    }
    return found;
  }
  // A request and its response; a successful result must match the method's result
  // definition (what checked builds assert in the front itself).
  Json call(ConnId id, const std::string& method, const Json& params) {
    const std::string rid = world->request(id, method, params);
    Json res = world->response(id, rid);
    const schema::MethodSpec* spec = schema::find_method(method);
    schema::Errors errs;
    if (spec && spec->hasResult && res.value("ok", false)) {
      EXPECT_TRUE(schema::validate(spec->result, res["payload"], errs))
          << method << ": " << errs.text() << "\n"
          << res.dump();
    }
    return res;
  }

  std::unique_ptr<World> world;
  const testing_support::TestDevice device = testing_support::TestDevice::make();
};

TEST_F(Nodes, ANodeWaitsForApprovalThenAnswersInvokesOnItsOwnConnection) {
  const ConnId op = world->operator_connection();
  const std::string name = test_data::sample("chinese") + " " + test_data::sample("emoji_zwj");
  const ConnId node = connect_node(name, {"system.which", "system.run", "camera.snap"});
  const Json hello = world->response(node, "c1");
  ASSERT_TRUE(hello.value("ok", false)) << hello.dump();
  EXPECT_EQ(hello["payload"]["auth"]["role"], "node");
  EXPECT_EQ(hello["payload"]["auth"]["scopes"], Json::array());
  EXPECT_FALSE(hello["payload"]["auth"].value("deviceToken", "").empty());

  const Json requested = event(op, "node.pair.requested");
  ASSERT_TRUE(requested.is_object());
  EXPECT_EQ(requested["payload"]["nodeId"], device.id);
  EXPECT_EQ(requested["payload"]["displayName"], name);
  EXPECT_EQ(requested["payload"]["commands"], Json({"system.which", "system.run"}));

  const Json params = {{"nodeId", device.id},
                       {"command", "system.which"},
                       {"params", {{"bins", {"sh"}}}},
                       {"idempotencyKey", "k1"}};
  const Json early = call(op, "node.invoke", params);
  EXPECT_FALSE(early.value("ok", true));
  EXPECT_NE(early["error"].value("message", "").find("pending approval"), std::string::npos);

  const Json listed = call(op, "node.list", Json::object());
  ASSERT_TRUE(listed.value("ok", false)) << listed.dump();
  EXPECT_EQ(listed["payload"]["nodes"][0]["approvalState"], "pending-approval");
  EXPECT_EQ(listed["payload"]["nodes"][0]["displayName"], name);

  const Json approved =
      call(op, "node.pair.approve", {{"requestId", requested["payload"]["requestId"]}});
  ASSERT_TRUE(approved.value("ok", false)) << approved.dump();
  const Json resolved = event(node, "node.pair.resolved");
  ASSERT_TRUE(resolved.is_object()) << "the node hears of its approval";
  EXPECT_FALSE(resolved.contains("seq"));

  const std::string rid = world->request(op, "node.invoke", params);
  const Json request = event(node, "node.invoke.request");
  ASSERT_TRUE(request.is_object());
  EXPECT_FALSE(request.contains("seq")) << request.dump();
  EXPECT_EQ(request["payload"]["paramsJSON"], "{\"bins\":[\"sh\"]}");
  EXPECT_EQ(request["payload"]["timeoutMs"], 30000);
  EXPECT_TRUE(world->response(op, rid).is_null());  // waiting for the node
  // The operator never sees the node's request.
  EXPECT_TRUE(event(op, "node.invoke.request").is_null());

  // Upstream reads a node's result leniently: payloadJSON and error null are dropped.
  const Json result = call(node, "node.invoke.result",
                           {{"id", request["payload"]["id"]},
                            {"nodeId", device.id},
                            {"ok", true},
                            {"payload", {{"bins", {{"sh", "/usr/bin/sh"}}}}},
                            {"payloadJSON", nullptr},
                            {"error", nullptr}});
  EXPECT_EQ(result["payload"], Json({{"ok", true}})) << result.dump();
  const Json answer = world->response(op, rid);
  ASSERT_TRUE(answer.value("ok", false)) << answer.dump();
  schema::Errors errs;
  EXPECT_TRUE(schema::validate(schema::Def::NodeInvokeResponse, answer["payload"], errs))
      << errs.text();
  EXPECT_EQ(answer["payload"]["payload"]["bins"]["sh"], "/usr/bin/sh");
  EXPECT_TRUE(answer["payload"]["payloadJSON"].is_null());

  const Json late = call(node, "node.invoke.result",
                         {{"id", request["payload"]["id"]}, {"nodeId", device.id}, {"ok", true}});
  EXPECT_EQ(late["payload"], Json({{"ok", true}, {"ignored", true}}));
  const Json mismatch =
      call(node, "node.invoke.result", {{"id", "x"}, {"nodeId", "someone-else"}, {"ok", true}});
  EXPECT_EQ(mismatch["error"]["message"], "nodeId mismatch");

  const Json stats =
      call(node, "node.event",
           {{"event", "node.host.stats"},
            {"payloadJSON", R"({"cpuCount":2,"memoryTotalBytes":8,"memoryFreeBytes":4})"}});
  EXPECT_EQ(stats["payload"]["reason"], "updated") << stats.dump();
  const Json described = call(op, "node.describe", {{"nodeId", device.id}});
  EXPECT_EQ(described["payload"]["hostStats"]["cpuCount"], 2);
  EXPECT_EQ(described["payload"]["approvalState"], "approved");

  // The node goes: a call in flight fails DISCONNECTED.
  const std::string inflight = world->request(op, "node.invoke", params);
  world->drop(node);
  const Json gone = world->response(op, inflight);
  EXPECT_EQ(gone["error"]["message"], "DISCONNECTED: node disconnected (system.which)")
      << gone.dump();
}

TEST_F(Nodes, RolesAndTheFloodGuard) {
  const ConnId op = world->operator_connection();
  const ConnId node = connect_node("box", {"system.which"});
  ASSERT_TRUE(world->response(node, "c1").value("ok", false));

  EXPECT_TRUE(call(node, "health", Json::object()).value("ok", false)) << "health is anyone's";
  EXPECT_EQ(call(op, "node.event", {{"event", "x"}})["error"]["message"],
            "unauthorized role: operator");
  EXPECT_EQ(call(node, "skills.bins", Json::object())["error"]["message"],
            "unknown method: skills.bins");  // the node host then stops asking
  // Ten refusals in a row are answered; the 11th is answered, then the socket closes.
  for (int i = 1; i <= 10; ++i) {
    EXPECT_EQ(call(node, "status", Json::object())["error"]["message"], "unauthorized role: node");
    ASSERT_FALSE(world->closed(node)) << "closed after " << i;
  }
  EXPECT_EQ(call(node, "node.list", Json::object())["error"]["message"], "unauthorized role: node");
  EXPECT_TRUE(world->closed(node));
  EXPECT_EQ(world->close_code(node), 1008);
}

TEST_F(Nodes, ANodeWithoutADeviceIsRefused) {
  const ConnId id = world->open(peer_from(0));
  world->deliver(
      id, Json{{"type", "req"},
               {"id", "c1"},
               {"method", "connect"},
               {"params",
                {{"minProtocol", 3},
                 {"maxProtocol", 4},
                 {"client",
                  {{"id", "node-host"}, {"version", "1"}, {"platform", "linux"}, {"mode", "node"}}},
                 {"role", "node"},
                 {"auth", {{"token", World::kToken}}}}}}
              .dump());
  const Json res = world->response(id, "c1");
  EXPECT_EQ(res["error"]["code"], "NOT_PAIRED") << res.dump();
  EXPECT_EQ(res["error"]["details"]["code"], "DEVICE_IDENTITY_REQUIRED");
  EXPECT_TRUE(world->closed(id));
}

}  // namespace
}  // namespace clawgate::inproc
