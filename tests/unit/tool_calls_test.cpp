// Model tool calls in the agent worker: the two providers' streams decoded into whole calls
// (fragmented arguments, several calls, indexes, Chinese/Arabic/emoji inside the JSON, hostile
// sizes and shapes), the `nodes` tool's definition and the reading of its calls into typed
// requests (malformed arguments become an error for the model, never a crash), and the request
// bodies that carry calls and results back to each provider.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "node_tool.hpp"
#include "providers.hpp"
#include "request_body.hpp"
#include "shared_data.hpp"
#include "sse.hpp"
#include "tool_calls.hpp"
#include "utf8.hpp"

namespace clawgate::workers {
namespace {

using Json = nlohmann::json;

// A provider's SSE body through the parser and decoder, as ModelStream wires them, fed in
// pieces of `cut` bytes (cutting inside UTF-8 sequences too).
StreamDecoder decode_body(bool anthropic, const std::string& body, size_t cut) {
  StreamDecoder d(anthropic);
  SseParser sse([&](const std::string& ev, const std::string& data) {
    const auto step = d.on_event(ev, data);
    EXPECT_FALSE(step.error) << data;
  });
  for (size_t i = 0; i < body.size(); i += cut) sse.feed(std::string_view(body).substr(i, cut));
  return d;
}

std::string openai_chunk(const Json& delta, const char* finish = nullptr) {
  Json c = {{"id", "x"},
            {"object", "chat.completion.chunk"},
            {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", nullptr}}}}};
  if (finish) c["choices"][0]["finish_reason"] = finish;
  return "data: " + c.dump() + "\n\n";
}

std::string anthropic_event(const std::string& name, const Json& data) {
  return "event: " + name + "\ndata: " + data.dump() + "\n\n";
}

// Splits text into pieces of about n bytes on code point boundaries (a JSON string on the wire
// holds whole characters; the SSE feed below cuts the bytes anywhere).
std::vector<std::string> pieces(const std::string& s, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = utf8::cut_bytes(std::string_view(s).substr(i), n);
    if (len == 0) len = std::min(s.size() - i, size_t{4});  // one character longer than n
    while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string multilingual_args() {
  return Json({{"action", "notify"},
               {"title", test_data::sample("chinese")},
               {"body", test_data::sample("arabic_rtl") + " " + test_data::sample("emoji_zwj")}})
      .dump();
}

TEST(ToolCallStreams, OpenAiFragmentedArgumentsOfSeveralCallsByIndex) {
  const std::string a = multilingual_args();
  const std::string b = R"({"action":"which","bins":["git","sh"]})";
  std::string body = openai_chunk({{"role", "assistant"}, {"content", "Checking."}});
  body += openai_chunk({{"tool_calls",
                         {{{"index", 0},
                           {"id", "call_a"},
                           {"type", "function"},
                           {"function", {{"name", "nodes"}, {"arguments", ""}}}}}}});
  body += openai_chunk({{"tool_calls",
                         {{{"index", 1},
                           {"id", "call_b"},
                           {"type", "function"},
                           {"function", {{"name", "nodes"}, {"arguments", ""}}}}}}});
  // Fragments of both calls interleaved, as parallel calls may stream.
  const auto pa = pieces(a, 5), pb = pieces(b, 3);
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    if (i < pa.size())
      body +=
          openai_chunk({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", pa[i]}}}}}}});
    if (i < pb.size())
      body +=
          openai_chunk({{"tool_calls", {{{"index", 1}, {"function", {{"arguments", pb[i]}}}}}}});
  }
  body += openai_chunk(Json::object(), "tool_calls") + "data: [DONE]\n\n";
  for (size_t cut : {1, 7, 4096}) {
    const StreamDecoder d = decode_body(false, body, cut);
    const auto& calls = d.tool_calls().calls();
    ASSERT_EQ(calls.size(), 2u) << cut;
    EXPECT_EQ(calls[0].id, "call_a");
    EXPECT_EQ(calls[0].name, "nodes");
    EXPECT_EQ(calls[0].arguments, a);
    EXPECT_EQ(calls[1].id, "call_b");
    EXPECT_EQ(calls[1].arguments, b);
    EXPECT_FALSE(d.tool_calls().overflow());
  }
}

TEST(ToolCallStreams, AnthropicToolUseBlocksWithInputJsonDeltas) {
  const std::string a = multilingual_args();
  const std::string b = R"({"action":"status"})";
  std::string body =
      anthropic_event("message_start",
                      {{"type", "message_start"}, {"message", {{"usage", {{"input_tokens", 9}}}}}});
  body +=
      anthropic_event("content_block_start", {{"type", "content_block_start"},
                                              {"index", 0},
                                              {"content_block", {{"type", "text"}, {"text", ""}}}});
  body += anthropic_event("content_block_delta",
                          {{"type", "content_block_delta"},
                           {"index", 0},
                           {"delta", {{"type", "text_delta"}, {"text", "Let me look."}}}});
  int index = 1;
  for (const auto& [id, args] : {std::pair{"toolu_1", a}, std::pair{"toolu_2", b}}) {
    body += anthropic_event(
        "content_block_start",
        {{"type", "content_block_start"},
         {"index", index},
         {"content_block",
          {{"type", "tool_use"}, {"id", id}, {"name", "nodes"}, {"input", Json::object()}}}});
    for (const auto& p : pieces(args, 4))
      body += anthropic_event("content_block_delta",
                              {{"type", "content_block_delta"},
                               {"index", index},
                               {"delta", {{"type", "input_json_delta"}, {"partial_json", p}}}});
    body +=
        anthropic_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index}});
    ++index;
  }
  body += anthropic_event("message_delta", {{"type", "message_delta"},
                                            {"delta", {{"stop_reason", "tool_use"}}},
                                            {"usage", {{"output_tokens", 33}}}});
  for (size_t cut : {1, 13, 65536}) {
    const StreamDecoder d = decode_body(true, body, cut);
    const auto& calls = d.tool_calls().calls();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].id, "toolu_1");
    EXPECT_EQ(calls[0].arguments, a);
    EXPECT_EQ(calls[1].id, "toolu_2");
    EXPECT_EQ(calls[1].arguments, b);
    EXPECT_EQ(d.output_tokens(), 33);
  }
}

TEST(ToolCallStreams, BoundsAndOddShapesNeverThrow) {
  ToolCallCollector c;
  // Entries of every wrong shape are ignored.
  for (const char* bad :
       {R"(7)", R"({"index":"0"})", R"({"index":0,"function":7})",
        R"({"index":0,"function":{"name":7,"arguments":{"deep":1}}})", R"({"index":-1,"id":[]})"})
    EXPECT_NO_THROW(c.openai_fragment(Json::parse(bad))) << bad;
  // More calls than the bound: the turn is marked, the extra calls dropped.
  ToolCallCollector many;
  for (int i = 0; i < 70; ++i)
    many.openai_fragment(
        {{"index", i}, {"id", "c" + std::to_string(i)}, {"function", {{"name", "nodes"}}}});
  EXPECT_TRUE(many.overflow());
  EXPECT_EQ(many.calls().size(), ToolCallCollector::kMaxCalls);
  // Arguments past the bound: dropped, the call marked (answered with an error).
  ToolCallCollector big;
  const std::string chunk(4096, 'x');
  for (size_t n = 0; n <= ToolCallCollector::kMaxArgumentsBytes / chunk.size(); ++n)
    big.openai_fragment({{"index", 0}, {"function", {{"arguments", chunk}}}});
  ASSERT_EQ(big.calls().size(), 1u);
  EXPECT_TRUE(big.calls()[0].oversized);
  EXPECT_TRUE(big.calls()[0].arguments.empty());
  // Servers that leave out the index: a new id is a new call, the rest continues the last.
  ToolCallCollector noindex;
  noindex.openai_fragment(
      {{"id", "a"}, {"function", {{"name", "nodes"}, {"arguments", "{\"act"}}}});
  noindex.openai_fragment({{"function", {{"arguments", "ion\":\"status\"}"}}}});
  noindex.openai_fragment({{"id", "b"}, {"function", {{"name", "nodes"}, {"arguments", "{}"}}}});
  ASSERT_EQ(noindex.calls().size(), 2u);
  EXPECT_EQ(noindex.calls()[0].arguments, R"({"action":"status"})");
  // An ID longer than the bound is cut on a code point boundary.
  ToolCallCollector longid;
  longid.anthropic_start(0,
                         {{"type", "tool_use"}, {"id", std::string(300, 'i')}, {"name", "nodes"}});
  longid.anthropic_delta(5, "{}");  // a delta for no tool_use block: ignored
  EXPECT_EQ(longid.calls()[0].id.size(), ToolCallCollector::kMaxIdBytes);
  EXPECT_TRUE(longid.calls()[0].arguments.empty());
}

TEST(NodesTool, OffersShortcutsOnlyForCommandsSomeNodeHas) {
  EXPECT_TRUE(nodes_tool({}).name.empty());
  const ToolSpec t =
      nodes_tool({{"n1", test_data::sample("chinese"), "linux", {"system.which", "system.run"}},
                  {"n2", "Phone", "ios", {"location.get"}}});
  EXPECT_EQ(t.name, "nodes");
  const Json actions = t.parameters["properties"]["action"]["enum"];
  EXPECT_EQ(actions, Json({"status", "describe", "invoke", "location_get", "which"}));
  EXPECT_TRUE(t.parameters["properties"].contains("bins"));
  EXPECT_FALSE(t.parameters["properties"].contains("facing"));
  EXPECT_NE(t.description.find(test_data::sample("chinese") +
                               " (id n1, linux): system.which, system.run"),
            std::string::npos);
  // Many nodes: the description stays bounded and says how many it left out.
  std::vector<NodeOffer> lots;
  for (int i = 0; i < 256; ++i)
    lots.push_back({"node-" + std::to_string(i), std::string(200, 'n'), "linux", {"system.which"}});
  const ToolSpec big = nodes_tool(lots);
  EXPECT_LE(big.description.size(), kMaxDescriptionBytes);
  EXPECT_NE(big.description.find("more (action=status lists them)"), std::string::npos);
}

TEST(NodesTool, CallsReadIntoTypedRequests) {
  auto invoke = read_nodes_call(
      R"({"action":"invoke","node":" Kitchen ","invokeCommand":"system.run","invokeParamsJson":"{\"command\":[\"echo\",\"你好\"]}","invokeTimeoutMs":5000})");
  ASSERT_TRUE(invoke) << invoke.error().message;
  EXPECT_EQ(invoke->action, ipc::NodeToolAction::INVOKE);
  EXPECT_EQ(invoke->node, "Kitchen");
  EXPECT_EQ(invoke->command, "system.run");
  EXPECT_EQ(Json::parse(invoke->params_json), Json::parse(R"({"command":["echo","你好"]})"));
  EXPECT_EQ(invoke->timeout_ms, 5000u);

  auto which = read_nodes_call(R"({"action":"which","bins":["git"]})");
  ASSERT_TRUE(which);
  EXPECT_EQ(which->command, "system.which");
  EXPECT_EQ(Json::parse(which->params_json), Json::parse(R"({"bins":["git"]})"));

  auto loc = read_nodes_call(
      R"({"action":"location_get","locationTimeoutMs":10000,"desiredAccuracy":"precise"})");
  ASSERT_TRUE(loc);
  EXPECT_EQ(Json::parse(loc->params_json),
            Json::parse(R"({"timeoutMs":10000,"desiredAccuracy":"precise"})"));
  EXPECT_EQ(loc->timeout_ms, 40'000u);  // the operation's own time plus upstream's margin

  auto status = read_nodes_call("");
  EXPECT_FALSE(status);  // no action
  auto empty = read_nodes_call(R"({"action":"status"})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->action, ipc::NodeToolAction::STATUS);
  EXPECT_EQ(multilingual_args().empty(), false);
  auto notify = read_nodes_call(multilingual_args());
  ASSERT_TRUE(notify);
  EXPECT_EQ(Json::parse(notify->params_json)["title"], test_data::sample("chinese"));
}

TEST(NodesTool, MalformedCallsAreErrorsForTheModel) {
  for (const std::string& bad :
       {std::string(R"({"action":"invoke","invokeCommand":"x","invokeParamsJson":"{nope"})"),
        std::string(R"({"action":"invoke"})"), std::string(R"({"action":7})"),
        std::string(R"({"action":"launch_missiles"})"), std::string("[1,2]"),
        std::string(R"({"action":"which"})"), std::string(R"({"action":"status","node":5})"),
        std::string(R"({"action":"invoke","invokeCommand":"x","invokeTimeoutMs":-3})"),
        std::string("{\"action\":\"st") /* cut mid-stream */, std::string(100000, '['),
        test_data::sample("arabic_rtl")}) {
    Result<NodeCall> r = Error::invalid("unset");
    EXPECT_NO_THROW(r = read_nodes_call(bad)) << bad.substr(0, 80);
    ASSERT_FALSE(r) << bad.substr(0, 80);
    EXPECT_EQ(r.error().code, ipc::ErrorCode::INVALID_REQUEST);
    EXPECT_FALSE(r.error().message.empty());
  }
  EXPECT_NE(read_nodes_call(R"({"action":"launch_missiles"})").error().message.find("location_get"),
            std::string::npos);
}

ProviderConfig provider(const char* api) {
  ProviderConfig p;
  p.id = "fake";
  p.api = api;
  p.model = "m";
  return p;
}

ToolCall tool_call(const std::string& id, const std::string& arguments) {
  ToolCall c;
  c.id = id;
  c.name = "nodes";
  c.arguments = arguments;
  return c;
}

std::vector<ChatTurn> round_trip_turns() {
  ChatTurn user{"user", "where is git?"};
  ChatTurn asked{"assistant", ""};
  asked.tool_calls = {tool_call("c1", R"({"action":"which","bins":["git"]})"),
                      tool_call("c2", "{not json")};
  ChatTurn r1{"tool", R"({"bins":{"git":"/usr/bin/git"}})"};
  r1.tool_call_id = "c1";
  ChatTurn r2{"tool", "the arguments must be valid JSON"};
  r2.tool_call_id = "c2";
  r2.is_error = true;
  return {user, asked, r1, r2};
}

TEST(RequestBody, OpenAiCarriesCallsResultsAndTools) {
  const ToolSpec tool = nodes_tool({{"n1", "Box", "linux", {"system.which"}}});
  const Json body = openai_body(provider("openai-completions"), round_trip_turns(), "sys", {tool});
  const Json& m = body["messages"];
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_TRUE(m[2]["content"].is_null());
  EXPECT_EQ(m[2]["tool_calls"][1]["function"]["arguments"], "{not json");
  EXPECT_EQ(m[2]["tool_calls"][0]["type"], "function");
  EXPECT_EQ(m[3], Json({{"role", "tool"},
                        {"tool_call_id", "c1"},
                        {"content", R"({"bins":{"git":"/usr/bin/git"}})"}}));
  EXPECT_EQ(m[4]["tool_call_id"], "c2");
  EXPECT_EQ(body["tools"][0]["function"]["name"], "nodes");
  EXPECT_FALSE(
      openai_body(provider("openai-completions"), {{"user", "hi"}}, "", {}).contains("tools"));
}

TEST(RequestBody, AnthropicJoinsResultsIntoOneUserMessage) {
  const ToolSpec tool = nodes_tool({{"n1", "Box", "linux", {"system.which"}}});
  const Json body =
      anthropic_body(provider("anthropic-messages"), round_trip_turns(), "sys", {tool});
  const Json& m = body["messages"];
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1]["content"][0]["type"], "tool_use");
  EXPECT_EQ(m[1]["content"][0]["input"], Json::parse(R"({"action":"which","bins":["git"]})"));
  EXPECT_EQ(m[1]["content"][1]["input"], Json::object());  // not JSON: sent as {}
  EXPECT_EQ(m[2]["role"], "user");
  ASSERT_EQ(m[2]["content"].size(), 2u);
  EXPECT_EQ(m[2]["content"][0]["tool_use_id"], "c1");
  EXPECT_FALSE(m[2]["content"][0].contains("is_error"));
  EXPECT_EQ(m[2]["content"][1]["is_error"], true);
  EXPECT_EQ(body["tools"][0]["input_schema"]["required"], Json({"action"}));
  EXPECT_EQ(body["system"], "sys");
}

}  // namespace
}  // namespace clawgate::workers
