// Whole-gateway agent tests: supervisor, front and agent worker processes answering through the
// local fake model server (OpenAI-compatible and Anthropic streaming), checked as a client sees
// it: agent/chat events, the two `agent` responses, transcripts, aborts, crashes, and a Telegram
// message answered back in Telegram.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "gateway_process.hpp"
#include "shared_data.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

using Clock = std::chrono::steady_clock;

// Reads events until a chat event for `run_id` in a terminal state; returns every event seen.
std::vector<Json> events_until_final(GatewayClient& c, const std::string& run_id,
                                     int timeout_ms = 15000) {
  std::vector<Json> seen;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    Json e;
    try {
      e = c.next_event(timeout_ms);
    } catch (const TimeoutError&) {
      break;
    }
    seen.push_back(e);
    const Json& p = e["payload"];
    if (e["event"] == "chat" && p.value("runId", "") == run_id && p.value("state", "") != "delta")
      return seen;
  }
  std::string got;
  for (const auto& e : seen)
    got += e["event"].get<std::string>() + " " + e["payload"].dump() + "\n";
  ADD_FAILURE() << "no final chat event for " << run_id << "; events seen:\n"
                << got.substr(0, 3000);
  return seen;
}

std::vector<Json> of(const std::vector<Json>& events, const std::string& name,
                     const std::string& run_id) {
  std::vector<Json> out;
  for (const auto& e : events)
    if (e["event"] == name && e["payload"].value("runId", "") == run_id)
      out.push_back(e["payload"]);
  return out;
}

TEST(Agent, ChatSendStreamsDeltasThenAFinalAndKeepsTheTranscript) {
  FakeModels models;
  models.script({{"chunk_chars", 3}, {"delay_ms", 20}});
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  const Json r = c.gc.call(
      "chat.send", {{"sessionKey", "main"}, {"message", "hello"}, {"idempotencyKey", "run-1"}});
  EXPECT_EQ(r["runId"], "run-1");
  EXPECT_EQ(r["status"], "started");
  const auto events = events_until_final(c.gc, "run-1");
  const std::string answer = "Hello from the fake model. You said: hello";

  const auto agent = of(events, "agent", "run-1");
  ASSERT_GE(agent.size(), 3u);
  for (size_t i = 0; i < agent.size(); ++i)
    EXPECT_EQ(agent[i]["seq"], i + 1) << "agent seq runs from 1 without gaps";
  EXPECT_EQ(agent.front()["stream"], "lifecycle");
  EXPECT_EQ(agent.front()["data"]["phase"], "start");

  const auto chat = of(events, "chat", "run-1");
  ASSERT_FALSE(chat.empty());
  const Json& final = chat.back();
  EXPECT_EQ(final["state"], "final");
  EXPECT_EQ(final["message"]["content"][0]["text"], answer);
  // ~14 pieces 20 ms apart (~280 ms): deltas are throttled to one per 150 ms, each cumulative.
  size_t deltas = 0;
  std::string last;
  for (const auto& e : chat) {
    if (e["state"] != "delta") continue;
    ++deltas;
    const std::string text = e["message"]["content"][0]["text"];
    EXPECT_EQ(text.rfind(last, 0), 0u) << "each delta carries the whole text so far";
    EXPECT_EQ(text.substr(last.size()), e["deltaText"].get<std::string>());
    last = text;
  }
  EXPECT_GE(deltas, 1u);
  EXPECT_LE(deltas, 4u) << "one delta per 150 ms at most";

  const Json h = c.gc.call("chat.history", {{"sessionKey", "main"}});
  ASSERT_EQ(h["messages"].size(), 2u);
  EXPECT_EQ(h["messages"][0]["role"], "user");
  EXPECT_EQ(h["messages"][0]["content"][0]["text"], "hello");
  EXPECT_EQ(h["messages"][1]["content"][0]["text"], answer);

  // The same idempotency key again is the same run, not a second one.
  const Json again = c.gc.call(
      "chat.send", {{"sessionKey", "main"}, {"message", "hello"}, {"idempotencyKey", "run-1"}});
  EXPECT_EQ(again["status"], "ok");
  EXPECT_EQ(models.stats()["requests"], 1);
}

TEST(Agent, AgentMethodAnswersTwiceWithTheSameIdAndAgentWaitSeesTheEnd) {
  FakeModels models;
  GatewayProcess gw({}, models.config("anthropic-messages").dump());
  Client c(gw);
  const std::string id = c.gc.send_request("agent", {{"message", "hi"}, {"idempotencyKey", "a-1"}});
  const Json first = c.gc.wait_response(id);
  EXPECT_TRUE(first["ok"]);
  EXPECT_EQ(first["payload"]["status"], "accepted");
  EXPECT_EQ(first["payload"]["runId"], "a-1");
  // The second res for the same request id.
  WsMessage m;
  Json second;
  ASSERT_TRUE(eventually(
      [&] {
        m = c.ws.read(5000);
        const Json f = Json::parse(m.data, nullptr, false);
        if (f.value("type", "") == "res" && f.value("id", "") == id) second = f;
        return !second.is_null();
      },
      15000));
  EXPECT_TRUE(second["ok"]) << second.dump();
  EXPECT_EQ(second["payload"]["status"], "ok");
  EXPECT_EQ(second["payload"]["result"]["payloads"][0]["text"],
            "Hello from the fake model. You said: hi");
  const Json w = c.gc.call("agent.wait", {{"runId", "a-1"}});
  EXPECT_EQ(w["status"], "ok");
  EXPECT_GT(w["endedAt"].get<int64_t>(), 0);
  const Json t = c.gc.call("agent.wait", {{"runId", "never-started"}, {"timeoutMs", 200}});
  EXPECT_EQ(t["status"], "timeout");
  const Json req = models.requests()["requests"][0];
  EXPECT_EQ(req["path"], "/v1/messages");
  EXPECT_EQ(req["headers"]["x-api-key"], "test-key");
}

TEST(Agent, WithNoModelConfiguredTheOfflineAgentSaysSo) {
  GatewayProcess gw;
  Client c(gw);
  c.gc.call("chat.send",
            {{"sessionKey", "main"}, {"message", "anyone?"}, {"idempotencyKey", "o-1"}});
  const auto chat = of(events_until_final(c.gc, "o-1"), "chat", "o-1");
  ASSERT_FALSE(chat.empty());
  EXPECT_EQ(chat.back()["state"], "final");
  const std::string text = chat.back()["message"]["content"][0]["text"];
  EXPECT_NE(text.find("No model is configured"), std::string::npos) << text;
  EXPECT_NE(text.find("agents.defaults.model"), std::string::npos) << text;
}

TEST(Agent, AbortStopsTheModelStream) {
  FakeModels models;
  models.script({{"chunk_chars", 2}, {"delay_ms", 100}});
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "long"}, {"idempotencyKey", "ab-1"}});
  // The run is streaming: its first delta has arrived.
  std::vector<Json> before;
  ASSERT_TRUE(eventually(
      [&] {
        before.push_back(c.gc.next_event(5000));
        return !of(before, "chat", "ab-1").empty();
      },
      10000));
  ASSERT_EQ(of(before, "chat", "ab-1").back()["state"], "delta");
  // An abort naming another session is refused, and the run goes on.
  const Json bad =
      c.gc.request_frame("chat.abort", {{"sessionKey", "agent:main:other"}, {"runId", "ab-1"}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST") << bad.dump();
  EXPECT_EQ(models.stats()["streams_aborted_by_client"], 0);
  const Json r = c.gc.call("chat.abort", {{"sessionKey", "main"}, {"runId", "ab-1"}});
  EXPECT_EQ(r["aborted"], true);
  EXPECT_EQ(r["runIds"], Json::array({"ab-1"}));
  const auto chat = of(events_until_final(c.gc, "ab-1"), "chat", "ab-1");
  ASSERT_FALSE(chat.empty());
  EXPECT_EQ(chat.back()["state"], "aborted");
  EXPECT_TRUE(eventually([&] { return models.stats()["streams_aborted_by_client"] == 1; }))
      << "the HTTP stream to the provider was cut";
  EXPECT_EQ(models.stats()["streams_completed"], 0);
  // Once it has ended, aborting it again aborts nothing.
  const Json again = c.gc.call("chat.abort", {{"sessionKey", "main"}, {"runId", "ab-1"}});
  EXPECT_EQ(again["aborted"], false);
  // The next run is answered (the cut connection left nothing behind for the next request).
  models.script(Json::object());
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "next"}, {"idempotencyKey", "ab-2"}});
  const auto next = of(events_until_final(c.gc, "ab-2"), "chat", "ab-2");
  ASSERT_FALSE(next.empty());
  ASSERT_EQ(next.back()["state"], "final") << next.back().dump();
  EXPECT_EQ(next.back()["message"]["content"][0]["text"],
            "Hello from the fake model. You said: next");
}

TEST(Agent, ProviderErrorsAreRetriedThenReported) {
  FakeModels models;
  models.script({{"status_429", 1}});
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "retry"}, {"idempotencyKey", "r-1"}});
  auto chat = of(events_until_final(c.gc, "r-1"), "chat", "r-1");
  ASSERT_FALSE(chat.empty());
  EXPECT_EQ(chat.back()["state"], "final") << "a 429 is retried";
  EXPECT_EQ(chat.back()["message"]["content"][0]["text"],
            "Hello from the fake model. You said: retry");
  const Json stats = models.stats();
  EXPECT_EQ(stats["injected_http_errors"], 1) << "the 429 was served";
  EXPECT_EQ(stats["requests"], 2) << "and the request was made again";
  models.script({{"error_after_chunks", 2}});
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "boom"}, {"idempotencyKey", "r-2"}});
  chat = of(events_until_final(c.gc, "r-2"), "chat", "r-2");
  ASSERT_FALSE(chat.empty());
  EXPECT_EQ(chat.back()["state"], "error");
  EXPECT_NE(chat.back()["errorMessage"].get<std::string>().find("fake mid-stream failure"),
            std::string::npos);
}

TEST(Agent, SplitWritesAndKeepAliveCommentsReassembleForBothProviders) {
  for (const std::string api : {"openai-completions", "anthropic-messages"}) {
    FakeModels models;
    models.script({{"split_writes", true}, {"keepalive", true}, {"reply", "héllo ✓ — split"}});
    GatewayProcess gw({}, models.config(api).dump());
    Client c(gw);
    c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "x"}, {"idempotencyKey", "sp-1"}});
    const auto chat = of(events_until_final(c.gc, "sp-1"), "chat", "sp-1");
    ASSERT_FALSE(chat.empty()) << api;
    EXPECT_EQ(chat.back()["state"], "final") << api;
    EXPECT_EQ(chat.back()["message"]["content"][0]["text"], "héllo ✓ — split") << api;
  }
}

TEST(Agent, AKilledAgentWorkerEndsItsRunsWithAnErrorAndComesBack) {
  FakeModels models;
  models.script({{"hang", true}});
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "hang"}, {"idempotencyKey", "k-1"}});
  ASSERT_TRUE(eventually([&] { return models.stats()["streams_started"] == 1; }));
  int agent_pid = 0;
  const Json status = c.gc.call("status");
  for (const auto& p : status["processes"])
    if (p["name"] == "agent") agent_pid = p["pid"];
  ASSERT_GT(agent_pid, 0);
  ASSERT_EQ(kill(agent_pid, SIGKILL), 0);
  const auto events = events_until_final(c.gc, "k-1");
  ASSERT_FALSE(of(events, "chat", "k-1").empty()) << gw.output();
  const auto chat = of(events, "chat", "k-1");
  EXPECT_EQ(chat.back()["state"], "error");
  const auto agent = of(events, "agent", "k-1");
  EXPECT_EQ(agent.back()["data"]["phase"], "error");
  // Restarted; the next run is answered.
  models.script(Json::object());
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "again"}, {"idempotencyKey", "k-2"}});
  EXPECT_EQ(of(events_until_final(c.gc, "k-2"), "chat", "k-2").back()["state"], "final");
}

TEST(Agent, ARunPastItsTimeoutEndsWithAnError) {
  FakeModels models;
  models.script({{"hang", true}});
  Json cfg = models.config();
  cfg["agents"]["defaults"]["timeoutSeconds"] = 1;
  GatewayProcess gw({}, cfg.dump());
  Client c(gw);
  const auto t0 = Clock::now();
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "wait"}, {"idempotencyKey", "t-1"}});
  const auto chat = of(events_until_final(c.gc, "t-1", 10000), "chat", "t-1");
  ASSERT_FALSE(chat.empty());
  EXPECT_EQ(chat.back()["state"], "error");
  EXPECT_NE(chat.back()["errorMessage"].get<std::string>().find("timed out"), std::string::npos);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count(), 5000);
  EXPECT_TRUE(eventually([&] { return models.stats()["streams_aborted_by_client"] == 1; }))
      << "the provider stream was cut";
}

TEST(Agent, SessionsListPreviewPatchResetDelete) {
  FakeModels models;
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  c.gc.call("chat.send",
            {{"sessionKey", "agent:main:project"}, {"message", "m1"}, {"idempotencyKey", "s-1"}});
  events_until_final(c.gc, "s-1");
  Json list = c.gc.call("sessions.list");
  ASSERT_EQ(list["count"], 1);
  EXPECT_EQ(list["sessions"][0]["key"], "agent:main:project");
  EXPECT_EQ(list["defaults"]["model"], "fake-model");
  const Json prev =
      c.gc.call("sessions.preview", {{"keys", {"agent:main:project", "agent:main:x"}}});
  EXPECT_EQ(prev["previews"][0]["status"], "ok");
  EXPECT_EQ(prev["previews"][0]["items"].size(), 2u);
  EXPECT_EQ(prev["previews"][1]["status"], "missing");
  const Json patched =
      c.gc.call("sessions.patch", {{"key", "agent:main:project"}, {"label", "Project"}});
  EXPECT_EQ(patched["entry"]["label"], "Project");
  c.gc.call("sessions.reset", {{"key", "agent:main:project"}});
  EXPECT_TRUE(
      c.gc.call("chat.history", {{"sessionKey", "agent:main:project"}})["messages"].empty());
  const Json main_del = c.gc.request_frame("sessions.delete", {{"key", "main"}});
  EXPECT_EQ(main_del["error"]["code"], "INVALID_REQUEST");
  const Json del = c.gc.call("sessions.delete", {{"key", "agent:main:project"}});
  EXPECT_EQ(del["deleted"], true);
  EXPECT_EQ(c.gc.call("sessions.list")["count"], 0);
}

TEST(Agent, ABareSessionKeyIsTheDefaultAgentsSessionUnderItsCanonicalKey) {
  // Used to fail: "bench-0" was refused ("not a session key"); OpenClaw takes it as
  // agent:main:bench-0.
  FakeModels models;
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  const Json r = c.gc.call(
      "chat.send", {{"sessionKey", "bench-0"}, {"message", "hi"}, {"idempotencyKey", "b-1"}});
  EXPECT_EQ(r["status"], "started");
  const auto chat = of(events_until_final(c.gc, "b-1"), "chat", "b-1");
  ASSERT_FALSE(chat.empty());
  EXPECT_EQ(chat.back()["state"], "final");
  for (const auto& e : chat) EXPECT_EQ(e["sessionKey"], "agent:main:bench-0") << e;
  // Another spelling is the same session.
  c.gc.call("chat.send",
            {{"sessionKey", "Bench-0"}, {"message", "again"}, {"idempotencyKey", "b-2"}});
  events_until_final(c.gc, "b-2");
  const Json list = c.gc.call("sessions.list");
  ASSERT_EQ(list["count"], 1) << list;
  EXPECT_EQ(list["sessions"][0]["key"], "agent:main:bench-0");
  EXPECT_EQ(list["sessions"][0]["agentId"], "main");
  const Json h = c.gc.call("chat.history", {{"sessionKey", "agent:main:bench-0"}});
  EXPECT_EQ(h["messages"].size(), 4u);
  // A key upstream refuses is refused, saying why, and the connection carries on.
  const Json bad = c.gc.request_frame(
      "chat.send", {{"sessionKey", "agent:main"}, {"message", "x"}, {"idempotencyKey", "b-3"}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST");
  EXPECT_EQ(bad["error"]["message"], "malformed session key \"agent:main\"");
  EXPECT_EQ(c.gc.call("sessions.list")["count"], 1);
}

TEST(Agent, EveryScriptRoundTripsThroughChatHistoryAndPreviews) {
  // Used to fail: ~60 Chinese characters were refused ("cannot store the message") because the
  // session preview was cut inside a character and the index could no longer be written.
  FakeModels models;
  models.script({{"chunk_chars", 2000}, {"delay_ms", 0}});
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  int n = 0;
  for (const auto& [name, value] : test_data::samples().items()) {
    if (name == "nul_and_controls") continue;  // NUL is refused at the protocol boundary
    const std::string text = value.get<std::string>();
    const std::string key = "agent:main:script-" + std::to_string(n);
    const std::string run = "u-" + std::to_string(n++);
    const Json r =
        c.gc.call("chat.send", {{"sessionKey", key}, {"message", text}, {"idempotencyKey", run}});
    ASSERT_EQ(r["status"], "started") << name;
    const auto chat = of(events_until_final(c.gc, run), "chat", run);
    ASSERT_FALSE(chat.empty()) << name;
    EXPECT_EQ(chat.back()["state"], "final") << name;
    EXPECT_EQ(chat.back()["message"]["content"][0]["text"],
              "Hello from the fake model. You said: " + text)
        << name;
    const Json h = c.gc.call("chat.history", {{"sessionKey", key}});
    ASSERT_EQ(h["messages"].size(), 2u) << name;
    EXPECT_EQ(h["messages"][0]["content"][0]["text"], text) << name;
    const Json prev = c.gc.call("sessions.preview", {{"keys", {key}}, {"maxChars", 20}});
    const std::string p = prev["previews"][0]["items"][0]["text"];
    EXPECT_EQ(p.find("\xEF\xBF\xBD"), std::string::npos) << name << ": no character was split";
    if (p != text) {  // cut: a prefix of the text, plus the ellipsis
      ASSERT_GE(p.size(), 3u) << name;
      EXPECT_EQ(text.rfind(p.substr(0, p.size() - 3), 0), 0u) << name << ": " << p;
    }
  }
  // The sessions index was written and lists every session with a whole-character preview.
  const Json list = c.gc.call("sessions.list");
  EXPECT_EQ(list["count"], n);
  for (const auto& row : list["sessions"])
    EXPECT_EQ(row.value("lastMessagePreview", "").find("\xEF\xBF\xBD"), std::string::npos) << row;
  const Json nul =
      c.gc.request_frame("chat.send", {{"sessionKey", "main"},
                                       {"message", test_data::sample("nul_and_controls")},
                                       {"idempotencyKey", "nul"}});
  EXPECT_EQ(nul["ok"], false);
}

TEST(Agent, ATelegramMessageIsAnsweredInTelegram) {
  FakeModels models;
  TelegramEmulator emu;
  Json cfg = models.config();
  cfg["channels"] = {{"telegram", emu.channel_config()}};
  GatewayProcess gw({}, cfg.dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] {
    return c.gc.call("channels.status")["channelAccounts"]["telegram"][0]["connected"] == true;
  }));
  emu.inject(4242, "what time is it?", "bob");
  Json sent;
  ASSERT_TRUE(eventually([&] {
    sent = emu.sent()["messages"];
    return !sent.empty();
  })) << gw.output();
  EXPECT_EQ(sent[0]["chat_id"], 4242);
  EXPECT_EQ(sent[0]["text"], "Hello from the fake model. You said: what time is it?");
  // Both sides are in the session transcript, and `deliver` without a target goes there too.
  const Json h = c.gc.call("chat.history", {{"sessionKey", "main"}});
  ASSERT_EQ(h["messages"].size(), 2u);
  const std::string id = c.gc.send_request(
      "agent", {{"message", "ping"}, {"idempotencyKey", "d-1"}, {"deliver", true}});
  EXPECT_TRUE(c.gc.wait_response(id)["ok"]);
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() == 2; }));
  EXPECT_EQ(emu.sent()["messages"][1]["text"], "Hello from the fake model. You said: ping");
}

// Telegram groups: only allowed groups and senders reach the agent, only when the bot is
// addressed; what allowed members say meanwhile reaches the agent as context on the next turn.
TEST(Agent, TelegramGroupsAnswerAllowedMembersWhoMentionTheBotAndKeepTheRestAsContext) {
  FakeModels models;
  TelegramEmulator emu;
  Json cfg = models.config();
  Json tg = emu.channel_config();
  const int64_t kOwner = 4242, kStranger = 9999, kAllowed = -1007770001, kOther = -1005550001;
  tg["allowFrom"] = {kOwner};
  tg["groups"] = {{std::to_string(kAllowed), {{"requireMention", true}}}};
  tg["historyLimit"] = 1;  // the newest context message only
  cfg["channels"] = {{"telegram", tg}};
  GatewayProcess gw({}, cfg.dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] {
    return c.gc.call("channels.status")["channelAccounts"]["telegram"][0]["connected"] == true;
  }));
  const std::string at = "@" + emu.bot_username();
  auto group = [&](int64_t chat, int64_t from, const std::string& text) {
    return emu.inject({{"chat_id", chat},
                       {"chat_type", "supergroup"},
                       {"from_id", from},
                       {"first_name", from == kOwner ? "Owner" : "Stranger"},
                       {"text", text}});
  };
  group(kOther, kOwner, at + " 你好, this group is not allowed");
  group(kAllowed, kStranger, at + " مرحبا، أنا غريب");  // a stranger in the allowed group
  group(kAllowed, kOwner, "明天的会议在三楼 🏢");        // not addressed: context only
  group(kAllowed, kOwner, at + " where is the meeting?");
  Json sent;
  ASSERT_TRUE(eventually([&] {
    sent = emu.sent()["messages"];
    return !sent.empty();
  })) << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // nothing else is coming
  sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["chat_id"], kAllowed) << "answered in the group";
  EXPECT_EQ(sent[0]["text"],
            "Hello from the fake model. You said: " + at + " where is the meeting?");

  // The model saw the unaddressed message, labelled as context, and nothing from strangers
  // or other groups.
  const Json reqs = models.requests()["requests"];
  ASSERT_EQ(reqs.size(), 1u);
  const std::string body = reqs[0]["body"].dump(-1, ' ', false);
  EXPECT_NE(body.find("明天的会议在三楼 🏢"), std::string::npos) << body;
  EXPECT_NE(body.find("not addressed to you"), std::string::npos) << body;
  EXPECT_EQ(body.find("مرحبا"), std::string::npos) << body;
  EXPECT_EQ(body.find("你好"), std::string::npos) << body;
  // It is in the group session's history too (visible to an operator), not in the main one.
  Json h;
  ASSERT_TRUE(eventually([&] {
    h = c.gc.call("chat.history",
                  {{"sessionKey", "agent:main:telegram:group:" + std::to_string(kAllowed)}});
    return h["messages"].size() == 3;  // context, the question, the answer
  })) << h.dump();
  EXPECT_EQ(h["messages"][0]["content"][0]["text"], "明天的会议在三楼 🏢");

  // A reply to the bot's message counts as addressing it; a command for another bot does not.
  emu.inject({{"chat_id", kAllowed},
              {"chat_type", "supergroup"},
              {"from_id", kOwner},
              {"text", "/status@some_other_bot"}});
  emu.inject({{"chat_id", kAllowed},
              {"chat_type", "supergroup"},
              {"from_id", kOwner},
              {"text", "谢谢！"},
              {"reply_to_message_id", sent[0]["message_id"]}});
  ASSERT_TRUE(eventually([&] { return emu.sent()["messages"].size() >= 2; })) << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 2u) << sent.dump();
  EXPECT_EQ(sent[1]["text"], "Hello from the fake model. You said: 谢谢！");
  // historyLimit 1: the second turn sees the newest context message, not the older one.
  const std::string second = models.requests()["requests"][1]["body"].dump(-1, ' ', false);
  EXPECT_NE(second.find("/status@some_other_bot"), std::string::npos) << second;
  EXPECT_EQ(second.find("明天的会议在三楼"), std::string::npos) << second;
}

TEST(Cron, AnEveryJobRunsRecordsAndCanBeDisabledAndRemoved) {
  FakeModels models;
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  const Json bad =
      c.gc.request_frame("cron.add", {{"name", "bad"},
                                      {"schedule", {{"kind", "at"}, {"at", "tomorrow-ish"}}},
                                      {"sessionTarget", "main"},
                                      {"wakeMode", "now"},
                                      {"payload", {{"kind", "agentTurn"}, {"message", "x"}}}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST");
  const Json job =
      c.gc.call("cron.add", {{"name", "pulse"},
                             {"schedule", {{"kind", "every"}, {"everyMs", 1000}}},
                             {"sessionTarget", "isolated"},
                             {"wakeMode", "now"},
                             {"payload", {{"kind", "agentTurn"}, {"message", "tick"}}}});
  const std::string id = job["id"];
  EXPECT_GT(job["state"]["nextRunAtMs"].get<int64_t>(), 0);
  // A `cron` finished event arrives and the run is recorded.
  Json finished;
  ASSERT_TRUE(eventually(
      [&] {
        const Json e = c.gc.next_event(5000);
        if (e["event"] == "cron" && e["payload"]["action"] == "finished") finished = e["payload"];
        return !finished.is_null();
      },
      8000));
  EXPECT_EQ(finished["jobId"], id);
  EXPECT_EQ(finished["status"], "ok");
  const Json runs = c.gc.call("cron.runs", {{"id", id}});
  ASSERT_FALSE(runs["entries"].empty());
  EXPECT_EQ(runs["entries"][0]["summary"], "Hello from the fake model. You said: tick");
  const std::string session = "agent:main:cron:" + id;
  EXPECT_FALSE(c.gc.call("chat.history", {{"sessionKey", session}})["messages"].empty());
  // Disabled: no more runs.
  c.gc.call("cron.update", {{"id", id}, {"patch", {{"enabled", false}}}});
  const int before = models.stats()["requests"];
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_LE(models.stats()["requests"].get<int>(), before + 1) << "at most the run in flight";
  EXPECT_TRUE(c.gc.call("cron.list")["jobs"].empty()) << "disabled jobs are hidden by default";
  EXPECT_EQ(c.gc.call("cron.list", {{"includeDisabled", true}})["jobs"].size(), 1u);
  c.gc.call("cron.remove", {{"id", id}});
  EXPECT_TRUE(c.gc.call("cron.list", {{"includeDisabled", true}})["jobs"].empty());
}

TEST(Cron, JobsSurviveAFrontRestart) {
  GatewayProcess gw;
  Client c(gw);
  c.gc.call("cron.add", {{"name", "later"},
                         {"schedule", {{"kind", "cron"}, {"expr", "0 9 * * 1"}}},
                         {"sessionTarget", "main"},
                         {"wakeMode", "next-heartbeat"},
                         {"payload", {{"kind", "systemEvent"}, {"text", "weekly"}}}});
  auto front_pid = [](GatewayClient& gc) {
    int pid = 0;
    const Json status = gc.call("status");
    for (const auto& p : status["processes"])
      if (p["name"] == "front") pid = p["pid"];
    return pid;
  };
  const int front = front_pid(c.gc);
  ASSERT_GT(front, 0);
  ASSERT_EQ(kill(front, SIGKILL), 0);
  // Served by a new front (a connection accepted just before the old one died does not count).
  std::unique_ptr<Client> again;
  ASSERT_TRUE(eventually([&] {
    try {
      again = std::make_unique<Client>(gw);
      const int now = front_pid(again->gc);
      return now > 0 && now != front;
    } catch (...) {
      return false;
    }
  }));
  const Json jobs = again->gc.call("cron.list")["jobs"];
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["name"], "later");
  EXPECT_GT(jobs[0]["state"]["nextRunAtMs"].get<int64_t>(), 0);
}

TEST(Heartbeat, PeriodicRunsAreReportedAndLastHeartbeatKeepsTheLatest) {
  FakeModels models;
  models.script({{"reply", "HEARTBEAT_OK"}});
  Json cfg = models.config();
  cfg["agents"]["defaults"]["heartbeat"] = {{"every", "1s"}};
  GatewayProcess gw({}, cfg.dump());
  Client c(gw);
  EXPECT_TRUE(c.gc.call("last-heartbeat").is_null());
  const Json hb = c.gc.wait_event("heartbeat", 5000)["payload"];
  EXPECT_EQ(hb["status"], "ok-token");
  EXPECT_GE(hb["durationMs"].get<int64_t>(), 0);
  EXPECT_EQ(c.gc.call("last-heartbeat")["status"], "ok-token");
  // The heartbeat prompt and its answer stay out of the chat transcript.
  EXPECT_TRUE(c.gc.call("chat.history", {{"sessionKey", "main"}})["messages"].empty());
}

}  // namespace
}  // namespace clawgate::test
