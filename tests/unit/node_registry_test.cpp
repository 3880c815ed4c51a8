// Unit tests: the node registry (core/node_registry.hpp) in virtual time: the
// node.invoke.request it builds, results settling once (late, repeated and foreign results
// ignored), TIMEOUT by the fake clock, DISCONNECTED when a node goes or is replaced, failed
// sends, bounds, node.event host stats, and node.invoke's answers.
#include <gtest/gtest.h>

#include "core/node_registry.hpp"

namespace clawgate::core {
namespace {

using Json = nlohmann::json;

NodeSession session(NodeConn conn, const std::string& id) {
  NodeSession s;
  s.conn = conn;
  s.node_id = id;
  s.platform = "linux";
  s.commands = {"system.which"};
  return s;
}

struct Recorder {
  std::vector<InvokeOutcome> got;
  InvokeDone fn() {
    return [this](const InvokeOutcome& o) { got.push_back(o); };
  }
};

TEST(NodeRegistry, RequestShapeAndOneSettlement) {
  FakeClock clock;
  NodeRegistry reg(clock);
  ASSERT_TRUE(reg.add(session(7, "n1")));
  Recorder rec;
  auto d = reg.begin_invoke("n1", "system.which", Json{{"bins", {"sh"}}}, 30000, "idem-1", "inv-1",
                            rec.fn());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->conn, 7u);
  EXPECT_EQ(d->request, (Json{{"id", "inv-1"},
                              {"nodeId", "n1"},
                              {"command", "system.which"},
                              {"paramsJSON", "{\"bins\":[\"sh\"]}"},
                              {"timeoutMs", 30000},
                              {"idempotencyKey", "idem-1"}}));
  // Without params there is no paramsJSON at all (upstream's null is not a string).
  auto bare = reg.begin_invoke("n1", "system.which", std::nullopt, 0, "idem-2", "inv-2", rec.fn());
  ASSERT_TRUE(bare);
  EXPECT_FALSE(bare->request.contains("paramsJSON"));
  EXPECT_EQ(bare->request["timeoutMs"], 0);
  reg.dispatched("inv-1", true);

  EXPECT_FALSE(reg.settle(8, "inv-1", "n1", true, nullptr, "{}", nullptr));  // other socket
  EXPECT_FALSE(reg.settle(7, "inv-1", "n2", true, nullptr, "{}", nullptr));  // other node
  EXPECT_TRUE(
      reg.settle(7, "inv-1", "n1", true, nullptr, "{\"bins\":{\"sh\":\"/bin/sh\"}}", nullptr));
  EXPECT_FALSE(reg.settle(7, "inv-1", "n1", true, nullptr, "{}", nullptr));  // late repeat
  ASSERT_EQ(rec.got.size(), 1u);
  EXPECT_TRUE(rec.got[0].ok);
  EXPECT_TRUE(rec.got[0].dispatched);
  EXPECT_EQ(reg.pending(), 1u);
}

TEST(NodeRegistry, TimeoutByTheClockAndAResultAfterItIsIgnored) {
  FakeClock clock;
  NodeRegistry reg(clock);
  ASSERT_TRUE(reg.add(session(7, "n1")));
  Recorder rec;
  ASSERT_TRUE(reg.begin_invoke("n1", "system.which", std::nullopt, 1000, "k", "a", rec.fn()));
  ASSERT_TRUE(reg.begin_invoke("n1", "system.which", std::nullopt, 5000, "k", "b", rec.fn()));
  reg.dispatched("a", true);
  EXPECT_EQ(reg.next_deadline(), clock.steady_ms() + 1000);
  clock.advance(999);
  EXPECT_EQ(reg.expire(), 0u);
  clock.advance(1);
  EXPECT_EQ(reg.expire(), 1u);
  ASSERT_EQ(rec.got.size(), 1u);
  EXPECT_EQ(rec.got[0].error, (Json{{"code", "TIMEOUT"}, {"message", "node invoke timed out"}}));
  EXPECT_TRUE(rec.got[0].dispatched);
  EXPECT_FALSE(reg.settle(7, "a", "n1", true, nullptr, std::nullopt, nullptr));
  EXPECT_EQ(reg.next_deadline(), clock.steady_ms() + 4000);
}

TEST(NodeRegistry, DisconnectAndReplacementFailTheirInvokes) {
  FakeClock clock;
  NodeRegistry reg(clock);
  ASSERT_TRUE(reg.add(session(7, "n1")));
  Recorder rec;
  ASSERT_TRUE(reg.begin_invoke("n1", "system.which", std::nullopt, 0, "k", "a", rec.fn()));
  // The same node on a new socket replaces the old session; the old socket's call fails.
  auto replaced = reg.add(session(9, "n1"));
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced.value(), std::optional<NodeConn>(7));
  ASSERT_EQ(rec.got.size(), 1u);
  EXPECT_EQ(rec.got[0].error["code"], "DISCONNECTED");
  EXPECT_EQ(rec.got[0].error["message"], "node disconnected (system.which)");
  EXPECT_FALSE(reg.remove(7));  // no longer the node's session
  EXPECT_EQ(reg.by_node("n1")->conn, 9u);

  ASSERT_TRUE(reg.begin_invoke("n1", "system.run", std::nullopt, 0, "k", "b", rec.fn()));
  auto gone = reg.remove(9);
  ASSERT_TRUE(gone);
  EXPECT_EQ(rec.got.back().error["message"], "node disconnected (system.run)");
  EXPECT_FALSE(reg.by_node("n1"));
  auto none = reg.begin_invoke("n1", "system.which", std::nullopt, 0, "k", "c", rec.fn());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "node not connected");
}

TEST(NodeRegistry, AFailedSendFailsAtOnceAndBoundsHold) {
  FakeClock clock;
  NodeRegistry reg(clock);
  ASSERT_TRUE(reg.add(session(7, "n1")));
  Recorder rec;
  ASSERT_TRUE(reg.begin_invoke("n1", "system.which", std::nullopt, 0, "k", "a", rec.fn()));
  reg.dispatched("a", false);
  ASSERT_EQ(rec.got.size(), 1u);
  EXPECT_EQ(rec.got[0].error["message"], "failed to send invoke to node");
  EXPECT_FALSE(rec.got[0].dispatched);
  for (size_t i = 0; i < NodeRegistry::kMaxPendingPerNode; ++i)
    ASSERT_TRUE(
        reg.begin_invoke("n1", "x", std::nullopt, 0, "k", "id" + std::to_string(i), rec.fn()));
  auto over = reg.begin_invoke("n1", "x", std::nullopt, 0, "k", "one-more", rec.fn());
  ASSERT_FALSE(over);
  EXPECT_TRUE(over.error().retryable);
}

TEST(NodeRegistry, SystemRunAlwaysCarriesARunId) {
  FakeClock clock;
  NodeRegistry reg(clock);
  ASSERT_TRUE(reg.add(session(7, "n1")));
  auto d = reg.begin_invoke("n1", "system.run", Json{{"command", {"id"}}, {"timeoutMs", -5}}, 0,
                            "k", "inv-9", nullptr);
  ASSERT_TRUE(d);
  const Json p = Json::parse(d->request["paramsJSON"].get<std::string>());
  EXPECT_EQ(p["runId"], "inv-9");
  EXPECT_TRUE(p["timeoutMs"].is_null());
}

TEST(NodeRegistry, HostStatsAreCheckedAndKept) {
  FakeClock clock;
  NodeRegistry reg(clock);
  ASSERT_TRUE(reg.add(session(7, "n1")));
  const std::string good =
      R"({"cpuCount":8,"loadAverage":[0.5,0.25,0],"memoryTotalBytes":100,"memoryFreeBytes":40,)"
      R"("diskTotalBytes":1000,"diskAvailableBytes":10})";
  Json r = reg.handle_event(7, "node.host.stats", good);
  EXPECT_EQ(
      r,
      (Json{{"ok", true}, {"event", "node.host.stats"}, {"handled", true}, {"reason", "updated"}}));
  EXPECT_EQ(reg.by_node("n1")->host_stats["cpuCount"], 8);
  EXPECT_EQ(reg.by_node("n1")->host_stats["updatedAtMs"], clock.wall_ms());
  for (const std::string& bad :
       Strings{R"({"cpuCount":8,"memoryTotalBytes":10,"memoryFreeBytes":40})",
               R"({"cpuCount":0,"memoryTotalBytes":10,"memoryFreeBytes":4})",
               R"({"cpuCount":8,"memoryTotalBytes":10,"memoryFreeBytes":4,"diskTotalBytes":5})",
               R"({"cpuCount":8,"memoryTotalBytes":10,"memoryFreeBytes":4,"extra":1})",
               R"({"cpuCount":8,"memoryTotalBytes":10,"memoryFreeBytes":4,"loadAverage":[1,2]})",
               R"({"cpuCount":8.5,"memoryTotalBytes":10,"memoryFreeBytes":4})", "[1]", "not json",
               std::string(5000, ' ') + "{}", std::string(100, '[') + std::string(100, ']')})
    EXPECT_EQ(reg.handle_event(7, "node.host.stats", bad)["reason"], "invalid_payload") << bad;
  EXPECT_EQ(reg.handle_event(7, "node.host.stats", std::nullopt)["reason"], "invalid_payload");
  EXPECT_EQ(reg.handle_event(8, "node.host.stats", good)["reason"], "stale_connection");
  EXPECT_EQ(reg.handle_event(7, "voice.transcript", "{}"), (Json{{"ok", true},
                                                                 {"event", "voice.transcript"},
                                                                 {"handled", false},
                                                                 {"reason", "unsupported_event"}}));
}

TEST(NodeRegistry, InvokeAnswers) {
  InvokeOutcome ok;
  ok.ok = true;
  ok.payload_json = R"({"bins":{"sh":"/bin/sh"}})";
  auto a = invoke_answer("n1", "system.which", ok);
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.payload, (Json{{"ok", true},
                             {"nodeId", "n1"},
                             {"command", "system.which"},
                             {"payload", {{"bins", {{"sh", "/bin/sh"}}}}},
                             {"payloadJSON", R"({"bins":{"sh":"/bin/sh"}})"}}));
  ok.payload_json = "{not json";
  EXPECT_EQ(invoke_answer("n1", "c", ok).payload["payload"], (Json{{"payloadJSON", "{not json"}}));
  ok.payload_json = std::nullopt;
  ok.payload = {{"x", 1}};
  EXPECT_EQ(invoke_answer("n1", "c", ok).payload["payloadJSON"], nullptr);
  EXPECT_EQ(invoke_answer("n1", "c", ok).payload["payload"], (Json{{"x", 1}}));

  InvokeOutcome timeout;
  timeout.error = {{"code", "TIMEOUT"}, {"message", "node invoke timed out"}};
  timeout.dispatched = true;
  auto t = invoke_answer("n1", "c", timeout);
  ASSERT_FALSE(t.ok);
  EXPECT_EQ(t.error.code, ErrorCode::UNAVAILABLE);
  EXPECT_EQ(t.error.message, "TIMEOUT: node invoke timed out");
  EXPECT_EQ(t.error.details, (Json{{"nodeError", timeout.error}, {"nodeCommandDispatched", true}}));
  InvokeOutcome bare;
  EXPECT_EQ(invoke_answer("n1", "c", bare).error.message, "node invoke failed");
  EXPECT_TRUE(invoke_answer("n1", "c", bare).error.details["nodeError"].is_null());
}

TEST(NodeRegistry, DeepOrBrokenNodeJsonIsNotParsed) {
  EXPECT_TRUE(parse_node_json(std::string(64, '[') + std::string(64, ']')));
  EXPECT_FALSE(parse_node_json(std::string(65, '[') + std::string(65, ']')));
  EXPECT_FALSE(parse_node_json(std::string(100000, '[') + std::string(100000, ']')));
  EXPECT_FALSE(parse_node_json("{\"a\":"));
}

}  // namespace
}  // namespace clawgate::core
