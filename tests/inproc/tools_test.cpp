// In-process tests: the agent calls node commands as model tools. The front and core
// (inproc_gateway.hpp), the real agent worker on a socketpair streaming from the fake model
// server (tests/emulators/models, scripted tool calls, in both provider protocols), and a node
// with a real Ed25519 device that answers node.invoke.request on its own connection, all on
// this thread. Covered: a tool round trip per protocol (node request, tool result back to the
// model, `agent` tool events for tool-events clients only, transcript and chat.history), no
// node no tools, a malformed call and a command the node was not approved for (errors the
// model reads, nothing run), a node gone mid-call (DISCONNECTED, never a hang), and the bound
// on tool rounds. Every agent event is checked against its schema definition.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include <capnp/message.h>
#include <functional>
#include "agent_worker.hpp"
#include "contract.hpp"
#include "inproc_gateway.hpp"
#include "link.hpp"
#include "protocol_gen.hpp"
#include "shared_data.hpp"
#include "telegram_emulator.hpp"
#include "test_device.hpp"

namespace clawgate::inproc {
namespace {

std::string temp_state_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info->name();
  for (char& c : name)
    if (c == '/') c = '_';
  return "/tmp/clawgate-inproc-tools-" + std::to_string(::getpid()) + "-" + name;
}

// What the fake node does with a node.invoke.request.
enum class NodeMode { answer, silent, hang_up };

struct Tools : ::testing::TestWithParam<const char*> {
  Tools() : log(agent_clock, nullptr, LogLevel::error) {
    WorldOptions o;
    o.state_dir = temp_state_dir();
    o.keep_frames = true;
    world = std::make_unique<World>(o);
    world->transport().on_send = [this](ConnId id, const std::string& frame) {
      if (id == node && node != 0) on_node_frame(frame);
    };
  }
  ~Tools() override {
    world->transport().on_send = nullptr;
    agent.reset();
    world.reset();
    std::error_code ec;
    std::filesystem::remove_all(temp_state_dir(), ec);
  }

  std::string api() const { return GetParam(); }

  void start_agent(uint32_t max_rounds = 8) {
    workers::ProviderConfig p;
    p.id = "fake";
    p.api = api();
    p.base_url = api() == "anthropic-messages" ? models.url() : models.url() + "/v1";
    p.api_key = "test-key";
    p.model = "fake-model";
    agent = std::make_unique<workers::AgentWorker>(world->io(), log, p, "You are a test.", 60'000,
                                                   8, max_rounds);
    int fds[2];
    ipc::make_socketpair(fds);
    agent->attach_front(fds[1]);
    world->core().attach_peer(fds[0], "agent", "agent", "", 1);
    ASSERT_TRUE(world->run_until([&] { return world->core().runs().agent_connected(); }));
  }

  // An operator; with `tool_events` it asks for tool-stream events as upstream clients do.
  ConnId connect_operator(bool tool_events) {
    const ConnId id = world->open(peer_from(0));
    Json connect = {
        {"type", "req"},
        {"id", "c1"},
        {"method", "connect"},
        {"params",
         {{"minProtocol", 3},
          {"maxProtocol", 4},
          {"client", {{"id", "cli"}, {"version", "1.0.0"}, {"platform", "linux"}, {"mode", "cli"}}},
          {"role", "operator"},
          {"scopes", {"operator.admin"}},
          {"auth", {{"token", World::kToken}}}}}};
    if (tool_events) connect["params"]["caps"] = {"tool-events"};
    world->deliver(id, connect.dump());
    EXPECT_TRUE(world->response(id, "c1").value("ok", false));
    return id;
  }

  // `openclaw node run` on Linux with these commands, its surface approved by `op`.
  void connect_node(ConnId op, const std::vector<std::string>& commands) {
    const ConnId id = world->open(peer_from(0));
    Json challenge;
    for (const auto& f : world->received(id))
      if (f.value("event", "") == "connect.challenge") challenge = f;
    testing_support::ConnectSpec spec;
    spec.client_id = "node-host";
    spec.client_mode = "node";
    spec.device_family = "Linux";
    spec.display_name = node_name;
    spec.role = "node";
    spec.auth = {{"token", World::kToken}};
    Json frame = testing_support::connect_frame(&device, spec, challenge["payload"]["nonce"],
                                                challenge["payload"]["ts"]);
    frame["params"]["caps"] = {"system"};
    frame["params"]["commands"] = commands;
    world->deliver(id, frame.dump());
    ASSERT_TRUE(world->response(id, "c1").value("ok", false));
    Json requested;
    for (const auto& f : world->received(op))
      if (f.value("event", "") == "node.pair.requested") requested = f;
    ASSERT_TRUE(requested.is_object());
    const std::string rid =
        world->request(op, "node.pair.approve", {{"requestId", requested["payload"]["requestId"]}});
    ASSERT_TRUE(world->response(op, rid).value("ok", false));
    node = id;
  }

  // The fake node: answers (or not) each node.invoke.request as `mode` says, from the loop.
  void on_node_frame(const std::string& text) {
    const Json f = Json::parse(text);
    if (f.value("event", "") != "node.invoke.request") return;
    invokes.push_back(f["payload"]);
    const Json p = f["payload"];
    boost::asio::post(world->io(), [this, p] {
      if (mode == NodeMode::hang_up) {
        world->transport().close(node, 1001, "going away");
        return;
      }
      if (mode == NodeMode::silent) return;
      const Json result = {{"type", "req"},
                           {"id", "r" + p["id"].get<std::string>()},
                           {"method", "node.invoke.result"},
                           {"params",
                            {{"id", p["id"]},
                             {"nodeId", device.id},
                             {"ok", true},
                             {"payloadJSON", node_payload.dump()}}}};
      world->gateway().on_message(node, result.dump(), false);
    });
  }

  std::string chat(ConnId op, const std::string& message, const std::string& key) {
    world->request(op, "chat.send",
                   {{"sessionKey", "main"}, {"message", message}, {"idempotencyKey", key}});
    return key;
  }

  Json chat_end(ConnId op, const std::string& run_id) {
    for (const auto& f : world->received(op))
      if (f.value("event", "") == "chat" && f["payload"].value("runId", "") == run_id &&
          f["payload"].value("state", "") != "delta")
        return f["payload"];
    return nullptr;
  }

  // The `agent` events of a run on one stream, each checked against its schema definition.
  std::vector<Json> agent_events(ConnId c, const std::string& run_id, const std::string& stream) {
    std::vector<Json> out;
    const schema::EventSpec* spec = schema::find_event("agent");
    for (const auto& f : world->received(c)) {
      if (f.value("event", "") != "agent" || f["payload"].value("runId", "") != run_id) continue;
      schema::Errors errs;
      EXPECT_TRUE(schema::validate(spec->payload, f["payload"], errs)) << errs.text() << f.dump();
      if (f["payload"].value("stream", "") == stream) out.push_back(f["payload"]);
    }
    return out;
  }

  Json model_requests() { return models.requests()["requests"]; }

  // The tool results the model was sent in request `i` (either protocol), as {id, text, error}.
  std::vector<Json> results_sent(size_t i) {
    std::vector<Json> out;
    const Json requests = model_requests();
    for (const Json& m : requests[i]["body"]["messages"]) {
      if (m.value("role", "") == "tool")
        out.push_back({{"id", m["tool_call_id"]}, {"text", m["content"]}, {"error", false}});
      if (m["content"].is_array())
        for (const Json& b : m["content"])
          if (b.value("type", "") == "tool_result")
            out.push_back({{"id", b["tool_use_id"]},
                           {"text", b["content"]},
                           {"error", b.value("is_error", false)}});
    }
    return out;
  }

  FakeClock agent_clock;
  Logger log;
  test::FakeModels models;
  std::unique_ptr<World> world;
  std::unique_ptr<workers::AgentWorker> agent;
  const testing_support::TestDevice device = testing_support::TestDevice::make();
  const std::string node_name = test_data::sample("chinese") + " box";
  ConnId node = 0;
  NodeMode mode = NodeMode::answer;
  Json node_payload = {{"bins", {{"git", "/usr/bin/git"}}}};
  std::vector<Json> invokes;
};

Json call(const std::string& name, const Json& args, const std::string& id = "") {
  Json c = {{"name", name},
            {"arguments", args.is_string() ? args.get<std::string>() : args.dump()}};
  if (!id.empty()) c["id"] = id;
  return c;
}

TEST_P(Tools, ARoundTripRunsTheCommandOnTheNodeAndFeedsTheResultBack) {
  const ConnId op = connect_operator(true);
  const ConnId plain = connect_operator(false);
  connect_node(op, {"system.which"});
  start_agent();
  const std::string arabic = test_data::sample("arabic_rtl");
  models.script(
      {{"turns",
        {{{"reply", "Checking " + arabic + "."},
          {"tool_calls", {call("nodes", {{"action", "which"}, {"bins", {"git", "编译器"}}})}}},
         {{"reply", "git is at /usr/bin/git 🎉"}}}}});
  const std::string run = chat(op, "where is git? " + test_data::sample("emoji_zwj"), "t1");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, run).is_object(); }));
  const Json end = chat_end(op, run);
  ASSERT_EQ(end.value("state", ""), "final") << end.dump();
  EXPECT_EQ(end["message"]["content"][0]["text"],
            "Checking " + arabic + ".\n\ngit is at /usr/bin/git 🎉");

  // The node ran system.which with the model's arguments.
  ASSERT_EQ(invokes.size(), 1u);
  EXPECT_EQ(invokes[0]["command"], "system.which");
  EXPECT_EQ(Json::parse(invokes[0]["paramsJSON"].get<std::string>()),
            Json({{"bins", {"git", "编译器"}}}));

  // The model was offered the tool, then got the node's answer for its call.
  const Json reqs = model_requests();
  ASSERT_EQ(reqs.size(), 2u);
  const Json& tools = reqs[0]["body"]["tools"];
  ASSERT_EQ(tools.size(), 1u);
  const Json schema =
      api() == "anthropic-messages" ? tools[0]["input_schema"] : tools[0]["function"]["parameters"];
  EXPECT_NE(schema["properties"]["action"]["enum"].dump().find("\"which\""), std::string::npos);
  const auto sent = results_sent(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["error"], false);
  EXPECT_NE(sent[0]["text"].get<std::string>().find("/usr/bin/git"), std::string::npos);

  // Tool events: start then result, with the call id the model used, for tool-events clients.
  const auto events = agent_events(op, run, "tool");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["data"]["phase"], "start");
  EXPECT_EQ(events[0]["data"]["name"], "nodes");
  EXPECT_EQ(events[0]["data"]["args"]["bins"][1], "编译器");
  EXPECT_EQ(events[1]["data"]["phase"], "result");
  EXPECT_EQ(events[1]["data"]["toolCallId"], events[0]["data"]["toolCallId"]);
  EXPECT_EQ(events[1]["data"]["toolCallId"], sent[0]["id"]);
  EXPECT_EQ(events[1]["data"]["isError"], false);
  EXPECT_LT(events[0]["seq"].get<int>(), events[1]["seq"].get<int>());
  EXPECT_TRUE(agent_events(plain, run, "tool").empty());
  EXPECT_FALSE(agent_events(plain, run, "lifecycle").empty());

  // The transcript: user, the assistant's call, its result, the answer.
  const std::string hid = world->request(op, "chat.history", {{"sessionKey", "main"}});
  const Json messages = world->response(op, hid)["payload"]["messages"];
  ASSERT_EQ(messages.size(), 4u) << messages.dump();
  EXPECT_EQ(messages[1]["content"][0]["text"], "Checking " + arabic + ".");
  EXPECT_EQ(messages[1]["content"][1]["type"], "toolCall");
  EXPECT_EQ(messages[1]["content"][1]["arguments"]["action"], "which");
  EXPECT_EQ(messages[2]["role"], "toolResult");
  EXPECT_EQ(messages[2]["toolCallId"], sent[0]["id"]);
  EXPECT_EQ(messages[3]["content"][0]["text"], "git is at /usr/bin/git 🎉");

  // A later turn reads the round as part of the history (offered or not, tools or not).
  models.script(Json::object());
  const std::string next = chat(op, "thanks", "t2");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, next).is_object(); }));
  const std::string later = model_requests()[2]["body"].dump();
  EXPECT_NE(later.find("[called tool nodes"), std::string::npos);
  EXPECT_NE(later.find("[tool nodes result"), std::string::npos);
}

TEST_P(Tools, NoNodeMeansNoToolsOffered) {
  const ConnId op = connect_operator(true);
  start_agent();
  const std::string run = chat(op, "hello", "t1");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, run).is_object(); }));
  EXPECT_EQ(chat_end(op, run).value("state", ""), "final");
  EXPECT_FALSE(model_requests()[0]["body"].contains("tools"));
}

TEST_P(Tools, MalformedAndUnapprovedCallsAreErrorsTheModelReads) {
  const ConnId op = connect_operator(true);
  connect_node(op, {"system.which"});
  start_agent();
  models.script({{"turns",
                  {{{"tool_calls",
                     {call("nodes", std::string("{\"action\":\"which\",\"bins\":[\"git\""), "bad1"),
                      call("nodes",
                           {{"action", "invoke"},
                            {"invokeCommand", "system.run"},
                            {"invokeParamsJson", R"({"command":["rm","-rf","/"]})"}},
                           "run1"),
                      call("shell", {{"cmd", "ls"}}, "other1")}}},
                   {{"reply", "I could not do that."}}}}});
  const std::string run = chat(op, "try things", "t1");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, run).is_object(); }));
  EXPECT_EQ(chat_end(op, run).value("state", ""), "final");
  EXPECT_TRUE(invokes.empty()) << "nothing reached the node";
  const auto sent = results_sent(1);
  ASSERT_EQ(sent.size(), 3u);
  for (const Json& r : sent) {
    EXPECT_EQ(r["error"], api() == "anthropic-messages") << r.dump();  // OpenAI has no flag
    EXPECT_FALSE(r["text"].get<std::string>().empty());
  }
  EXPECT_NE(sent[0]["text"].get<std::string>().find("valid JSON"), std::string::npos);
  EXPECT_NE(sent[1]["text"].get<std::string>().find("node command not allowed"), std::string::npos);
  EXPECT_NE(sent[2]["text"].get<std::string>().find("unknown tool"), std::string::npos);
  const auto events = agent_events(op, run, "tool");
  ASSERT_EQ(events.size(), 6u);
  for (const Json& e : events) {
    if (e["data"]["phase"] == "result") {
      EXPECT_EQ(e["data"]["isError"], true);
    }
  }
}

TEST_P(Tools, ANodeGoneMidCallIsAnErrorResultNotAHang) {
  const ConnId op = connect_operator(true);
  connect_node(op, {"system.which"});
  start_agent();
  mode = NodeMode::hang_up;
  models.script({{"turns",
                  {{{"tool_calls", {call("nodes", {{"action", "which"}, {"bins", {"git"}}})}}},
                   {{"reply", "The node went away."}}}}});
  const auto t0 = std::chrono::steady_clock::now();
  const std::string run = chat(op, "where is git?", "t1");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, run).is_object(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_EQ(chat_end(op, run).value("state", ""), "final");
  ASSERT_EQ(invokes.size(), 1u);
  const auto sent = results_sent(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0]["text"].get<std::string>().find("DISCONNECTED"), std::string::npos);
  const auto events = agent_events(op, run, "tool");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["data"]["isError"], true);
  // The next run offers no tools: the node is gone.
  models.script(Json::object());
  const std::string next = chat(op, "and now?", "t2");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, next).is_object(); }));
  EXPECT_FALSE(model_requests()[2]["body"].contains("tools"));
}

TEST_P(Tools, TheRoundBoundEndsARunThatKeepsCallingTools) {
  const ConnId op = connect_operator(true);
  connect_node(op, {"system.which"});
  start_agent(2);
  Json turns = Json::array();
  for (int i = 0; i < 5; ++i)
    turns.push_back({{"reply", "round " + std::to_string(i) + " "},
                     {"tool_calls", {call("nodes", {{"action", "which"}, {"bins", {"git"}}})}}});
  models.script({{"turns", turns}});
  const std::string run = chat(op, "loop forever", "t1");
  ASSERT_TRUE(world->run_until([&] { return chat_end(op, run).is_object(); }));
  const Json end = chat_end(op, run);
  EXPECT_EQ(end.value("state", ""), "error");
  EXPECT_NE(end.value("errorMessage", "").find("maxToolRounds"), std::string::npos) << end.dump();
  EXPECT_EQ(model_requests().size(), 3u);  // two rounds answered, the third ask refused
  EXPECT_EQ(invokes.size(), 2u);
  const auto lifecycle = agent_events(op, run, "lifecycle");
  ASSERT_FALSE(lifecycle.empty());
  EXPECT_EQ(lifecycle.back()["data"]["phase"], "error");
}

// What one tool round adds to a run, measured: runs with one `which` call against runs that
// answer at once, the fake model streaming without delay, the node answering at once. The end
// of each run is taken when the gateway sends its chat final (the transport hook), so the
// test loop's slicing does not count. The difference is the tool round trip through gateway
// and node plus the one extra model request it needs (a plain run is one model request).
TEST_P(Tools, MeasuresWhatAToolRoundAdds) {
  const ConnId op = connect_operator(true);
  connect_node(op, {"system.which"});
  start_agent();
  std::map<std::string, std::chrono::steady_clock::time_point> ended;
  world->transport().on_send = [&](ConnId id, const std::string& frame) {
    if (id == node) return on_node_frame(frame);
    if (id != op || frame.find("\"state\":\"final\"") == std::string::npos) return;
    ended[Json::parse(frame)["payload"]["runId"]] = std::chrono::steady_clock::now();
  };
  constexpr int kRuns = 20;
  auto timed = [&](const std::string& key, const Json& script) {
    models.script(script);
    const auto t0 = std::chrono::steady_clock::now();
    chat(op, "go", key);
    EXPECT_TRUE(world->run_until([&] { return ended.count(key) > 0; })) << key;
    return std::chrono::duration<double, std::milli>(ended[key] - t0).count();
  };
  const Json fast = {{"delay_ms", 0}, {"chunk_chars", 64}};
  Json tool = fast;
  tool["turns"] = {{{"tool_calls", {call("nodes", {{"action", "which"}, {"bins", {"git"}}})}}},
                   {{"reply", "done"}}};
  std::vector<double> plain, tooled;
  for (int i = 0; i < kRuns; ++i) {
    plain.push_back(timed("plain-" + std::to_string(i), fast));
    tooled.push_back(timed("tool-" + std::to_string(i), tool));
  }
  std::sort(plain.begin(), plain.end());
  std::sort(tooled.begin(), tooled.end());
  const double p50_plain = plain[kRuns / 2], p50_tool = tooled[kRuns / 2];
  std::cout << "[ MEASURE  ] " << api() << ": run p50 " << p50_plain << " ms without tools, "
            << p50_tool << " ms with one tool round: +" << (p50_tool - p50_plain)
            << " ms per round (p90 " << plain[kRuns * 9 / 10] << " / " << tooled[kRuns * 9 / 10]
            << " ms)\n";
  EXPECT_EQ(invokes.size(), static_cast<size_t>(kRuns));
  EXPECT_LT(p50_tool - p50_plain, 1000.0);
}

// --- the tool messages of the agent link, from a hostile peer on either end

// The front's end, played against by a raw "agent worker".
struct ToolLinkFront : ::testing::Test {
  ToolLinkFront() {
    WorldOptions o;
    o.state_dir = temp_state_dir();
    world = std::make_unique<World>(o);
    int fds[2];
    ipc::make_socketpair(fds);
    world->core().attach_peer(fds[0], "agent", "agent", "", 1);
    worker = ipc::Link::create(world->io(), fds[1], ipc::contract::agent_link("fake-agent"));
    worker->start(
        [this](capnp::MessageReader& r) {
          auto m = r.getRoot<ipc::AgentMsg>();
          if (m.isToolResult())
            results.push_back({{"run", m.getToolResult().getRunId().cStr()},
                               {"call", m.getToolResult().getCallId().cStr()},
                               {"error", m.getToolResult().getIsError()},
                               {"text", m.getToolResult().getText().cStr()}});
        },
        [this](const std::string&) { lost = true; });
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setHello("fake/model");
    worker->send(b);
    EXPECT_TRUE(world->run_until([&] { return world->core().runs().agent_connected(); }));
  }
  ~ToolLinkFront() override {
    worker->close("test over");
    worker.reset();  // before the loop it runs on
    world.reset();
    std::error_code ec;
    std::filesystem::remove_all(temp_state_dir(), ec);
  }
  // A round of `n` calls for `run`; `edit` changes the message before it goes.
  void round(const std::string& run, unsigned n,
             const std::function<void(ipc::ToolRound::Builder)>& edit = nullptr) {
    capnp::MallocMessageBuilder b;
    auto tr = b.initRoot<ipc::AgentMsg>().initToolRound();
    tr.setRunId(run);
    tr.setRound(1);
    auto calls = tr.initCalls(n);
    for (unsigned i = 0; i < n; ++i) {
      calls[i].setCallId("c" + std::to_string(i));
      calls[i].setName("nodes");
      calls[i].setArgumentsJson("{}");
      calls[i].initNode().setAction(ipc::NodeToolAction::STATUS);
    }
    if (edit) edit(tr);
    worker->send(b);
  }

  std::unique_ptr<World> world;
  std::shared_ptr<ipc::Link> worker;
  std::vector<Json> results;
  bool lost = false;
};

TEST_F(ToolLinkFront, CallsOfARunNotGoingHereAreAnsweredWithErrorsAndTheLinkStays) {
  round("no-such-run", 2, [](ipc::ToolRound::Builder tr) {
    tr.getCalls()[1].getNode().setAction(static_cast<ipc::NodeToolAction>(9));
  });
  ASSERT_TRUE(world->run_until([&] { return results.size() == 2; }));
  for (const Json& r : results) EXPECT_EQ(r["error"], true) << r.dump();
  EXPECT_EQ(results[0]["call"], "c0");
  EXPECT_FALSE(lost);
}

TEST_F(ToolLinkFront, ARoundPastTheLinkBoundsClosesTheLink) {
  round("r", ipc::contract::lists::kToolCalls + 1);
  EXPECT_TRUE(world->run_until([&] { return lost; }));
  EXPECT_TRUE(results.empty());
}

TEST_F(ToolLinkFront, AnOversizedCallIdClosesTheLink) {
  round("r", 1, [](ipc::ToolRound::Builder tr) {
    tr.getCalls()[0].setCallId(std::string(ipc::contract::tools::kMaxIdBytes + 1, 'x'));
  });
  EXPECT_TRUE(world->run_until([&] { return lost; }));
}

// The worker's end, played against by a raw "front".
TEST(ToolLinkWorker, ALateResultIsIgnoredAndAnOversizedOneClosesTheLink) {
  boost::asio::io_context io;
  FakeClock clock;
  Logger log(clock, nullptr, LogLevel::error);
  workers::AgentWorker worker(io, log, std::nullopt, "You are a test.", 60'000);
  int fds[2];
  ipc::make_socketpair(fds);
  worker.attach_front(fds[0]);
  bool lost = false, hello = false;
  auto front = ipc::Link::create(io, fds[1], ipc::contract::agent_link("fake-front"));
  front->start([&](capnp::MessageReader& r) { hello |= r.getRoot<ipc::AgentMsg>().isHello(); },
               [&](const std::string&) { lost = true; });
  auto result = [&](const std::string& text) {
    capnp::MallocMessageBuilder b;
    auto tr = b.initRoot<ipc::AgentMsg>().initToolResult();
    tr.setRunId("nobody");
    tr.setCallId("c0");
    tr.setText(text);
    front->send(b);
  };
  auto spin = [&](const std::function<bool()>& done, int ms = 3000) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!done() && std::chrono::steady_clock::now() < until) {
      io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
    return done();
  };
  ASSERT_TRUE(spin([&] { return hello; }));
  result("late");
  EXPECT_FALSE(spin([&] { return lost; }, 200));
  result(std::string(ipc::contract::tools::kMaxResultBytes + 1, 'x'));
  EXPECT_TRUE(spin([&] { return lost; }));
  front->close("test over");
}

INSTANTIATE_TEST_SUITE_P(Providers, Tools,
                         ::testing::Values("openai-completions", "anthropic-messages"));

}  // namespace
}  // namespace clawgate::inproc
