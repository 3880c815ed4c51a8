// Whole-gateway tool tests: the real supervisor, front and sandboxed agent worker, the fake model
// server scripting tool calls, and a node over a real WebSocket with a signed device that
// answers node.invoke.request from its own thread. Checks what the in-process tests cannot: the
// worker's sandbox lets the round trip through, and agents.defaults.maxToolRounds reaches the
// worker through its settings.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway_process.hpp"
#include "shared_data.hpp"
#include "telegram_emulator.hpp"
#include "test_device.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

// A node host on Linux offering `commands`, answering every invoke with `payload`.
class FakeNode {
 public:
  FakeNode(const GatewayProcess& gw, const std::vector<std::string>& commands, Json payload)
      : payload_(std::move(payload)) {
    ws_.connect(gw.url());
    const Json challenge = Json::parse(ws_.read(10000).data);
    testing_support::ConnectSpec spec;
    spec.client_id = "node-host";
    spec.client_mode = "node";
    spec.device_family = "Linux";
    spec.display_name = "build box";
    spec.role = "node";
    spec.auth = {{"token", gw.token()}};
    Json frame = testing_support::connect_frame(&device_, spec, challenge["payload"]["nonce"],
                                                challenge["payload"]["ts"], "n1");
    frame["params"]["commands"] = commands;
    ws_.send_text(frame.dump());
    const Json res = Json::parse(ws_.read(10000).data);
    EXPECT_TRUE(res.value("ok", false)) << res.dump();
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeNode() {
    stop_ = true;
    thread_.join();
  }
  std::vector<Json> invokes() {
    std::lock_guard<std::mutex> lock(mu_);
    return invokes_;
  }

 private:
  void serve() {
    while (!stop_) {
      WsMessage m;
      try {
        m = ws_.read(100);
      } catch (const TimeoutError&) {
        continue;
      }
      if (m.closed) return;
      const Json f = Json::parse(m.data, nullptr, false);
      if (!f.is_object() || f.value("event", "") != "node.invoke.request") continue;
      const Json p = f["payload"];
      {
        std::lock_guard<std::mutex> lock(mu_);
        invokes_.push_back(p);
      }
      ws_.send_text(Json{{"type", "req"},
                         {"id", "r" + p["id"].get<std::string>()},
                         {"method", "node.invoke.result"},
                         {"params",
                          {{"id", p["id"]},
                           {"nodeId", device_.id},
                           {"ok", true},
                           {"payloadJSON", payload_.dump()}}}}
                        .dump());
    }
  }

  const testing_support::TestDevice device_ = testing_support::TestDevice::make();
  WsClient ws_;
  Json payload_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Json> invokes_;
};

// Approves every pending node surface.
void approve_nodes(GatewayClient& c) {
  ASSERT_TRUE(eventually([&] { return !c.call("node.pair.list")["pending"].empty(); }));
  const Json pairing = c.call("node.pair.list");
  for (const Json& p : pairing["pending"])
    c.call("node.pair.approve", {{"requestId", p["requestId"]}});
}

Json chat_end(GatewayClient& c, const std::string& run_id) {
  for (;;) {
    const Json e = c.next_event(20000);  // throws TimeoutError: the test fails
    const Json& p = e["payload"];
    if (e["event"] == "chat" && p.value("runId", "") == run_id && p.value("state", "") != "delta")
      return p;
  }
}

Json tool_turn(const Json& args) {
  return {{"tool_calls", {{{"name", "nodes"}, {"arguments", args.dump()}}}}};
}

TEST(Tools, ASandboxedWorkerRunsANodeCommandAndTheRoundBoundComesFromTheConfig) {
  FakeModels models;
  Json config = models.config("anthropic-messages");
  config["agents"]["defaults"]["maxToolRounds"] = 1;
  GatewayProcess gw({}, config.dump());
  Client op(gw);
  FakeNode node(gw, {"system.which"}, {{"bins", {{"git", "/usr/bin/git"}}}});
  approve_nodes(op.gc);

  const std::string chinese = test_data::sample("chinese");
  models.script({{"turns",
                  {tool_turn({{"action", "which"}, {"bins", {"git"}}}),
                   {{"reply", chinese + " /usr/bin/git"}}}}});
  op.gc.call("chat.send",
             {{"sessionKey", "main"}, {"message", "where is git?"}, {"idempotencyKey", "t1"}});
  const Json end = chat_end(op.gc, "t1");
  ASSERT_EQ(end.value("state", ""), "final") << end.dump();
  EXPECT_EQ(end["message"]["content"][0]["text"], chinese + " /usr/bin/git");
  ASSERT_EQ(node.invokes().size(), 1u);
  EXPECT_EQ(node.invokes()[0]["command"], "system.which");
  const Json reqs = models.requests()["requests"];
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[1]["body"].dump().find("/usr/bin/git"), std::string::npos);

  // maxToolRounds 1: a second round is refused, the run ends with the reason.
  models.script({{"turns",
                  {tool_turn({{"action", "which"}, {"bins", {"a"}}}),
                   tool_turn({{"action", "which"}, {"bins", {"b"}}})}}});
  op.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "again"}, {"idempotencyKey", "t2"}});
  const Json bounded = chat_end(op.gc, "t2");
  EXPECT_EQ(bounded.value("state", ""), "error");
  EXPECT_NE(bounded.value("errorMessage", "").find("after 1 rounds"), std::string::npos)
      << bounded.dump();
  EXPECT_EQ(node.invokes().size(), 2u);
}

}  // namespace
}  // namespace clawgate::test
