// Whole-gateway history tests: sessions.compact and automatic compaction through the real front
// and agent worker with the fake model, checked where a user would notice: the model is sent
// the summary instead of the old turns on the next turn, chat.history still shows everything,
// and the turn that triggered an automatic compaction reports it on its `agent` events.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

// Sends one chat turn and reads events until its final; returns every event of that run.
std::vector<Json> turn(GatewayClient& c, const std::string& session, const std::string& text,
                       const std::string& run_id) {
  const Json r =
      c.call("chat.send", {{"sessionKey", session}, {"message", text}, {"idempotencyKey", run_id}});
  EXPECT_EQ(r.value("runId", ""), run_id);
  std::vector<Json> mine;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    Json e;
    try {
      e = c.next_event(20000);
    } catch (const TimeoutError&) {
      break;
    }
    const Json& p = e["payload"];
    if (p.value("runId", "") != run_id) continue;
    mine.push_back(e);
    if (e["event"] == "chat" && p.value("state", "") != "delta") {
      EXPECT_EQ(p.value("state", ""), "final") << p.dump();
      return mine;
    }
  }
  ADD_FAILURE() << "no final for " << run_id;
  return mine;
}

// Every text the model was sent in one request (system prompt included), in order.
std::vector<std::string> texts(const Json& request) {
  std::vector<std::string> out;
  for (const auto& m : request["body"]["messages"]) {
    if (m["content"].is_string()) out.push_back(m["content"]);
  }
  return out;
}

bool any_contains(const std::vector<std::string>& v, const std::string& needle) {
  for (const auto& s : v)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

TEST(Compaction, SessionsCompactReplacesOldTurnsWithTheModelsSummary) {
  FakeModels models;
  Json config = models.config();
  config["agents"]["defaults"]["compaction"] = {{"keepRecentTokens", 1}};
  GatewayProcess gw({}, config.dump());
  Client c(gw);
  turn(c.gc, "main", "first: the password is swordfish", "t1");
  turn(c.gc, "main", "second: 第二个问题是什么？", "t2");
  turn(c.gc, "main", "third: مرحبا 🙂", "t3");

  models.script({{"reply", "SUMMARY: three greetings, the password is swordfish"}});
  const Json r = c.gc.call("sessions.compact", {{"key", "main"}}, 20000);
  EXPECT_EQ(r.value("ok", false), true) << r.dump();
  EXPECT_EQ(r.value("compacted", false), true) << r.dump();
  EXPECT_EQ(r.value("key", ""), "agent:main:main");
  EXPECT_EQ(r["result"].value("summary", ""),
            "SUMMARY: three greetings, the password is swordfish");
  EXPECT_GT(r["result"].value("tokensBefore", 0), r["result"].value("tokensAfter", 0));

  // The summarizing request: upstream's prompt over the older turns, not an answer to them.
  Json log = models.requests()["requests"];
  ASSERT_EQ(log.size(), 4u);
  const auto asked = texts(log[3]);
  EXPECT_TRUE(any_contains(asked, "context summarization assistant"));
  EXPECT_TRUE(any_contains(asked, "<conversation>"));
  EXPECT_TRUE(any_contains(asked, "[User]: first: the password is swordfish"));
  EXPECT_FALSE(any_contains(asked, "third: مرحبا 🙂")) << "the kept tail is not summarized";

  // The next turn is sent the summary and the kept tail, not the old turns.
  models.script(Json::object());
  turn(c.gc, "main", "fourth: what was the password?", "t4");
  log = models.requests()["requests"];
  ASSERT_EQ(log.size(), 5u);
  const auto sent = texts(log[4]);
  EXPECT_TRUE(any_contains(sent, "<summary>\nSUMMARY: three greetings"));
  EXPECT_FALSE(any_contains(sent, "first: the password is swordfish"));
  EXPECT_FALSE(any_contains(sent, "second: 第二个问题是什么？"));
  EXPECT_TRUE(any_contains(sent, "third: مرحبا 🙂"));
  EXPECT_TRUE(any_contains(sent, "fourth: what was the password?"));

  // The transcript keeps every line: chat.history shows the whole conversation.
  const Json h = c.gc.call("chat.history", {{"sessionKey", "main"}});
  ASSERT_EQ(h["messages"].size(), 8u);
  EXPECT_EQ(h["messages"][0]["content"][0]["text"], "first: the password is swordfish");
  const Json list = c.gc.call("sessions.list", Json::object());
  EXPECT_EQ(list["sessions"][0].value("compactionCount", 0), 1);

  // maxLines: only the newest messages stay for the model, without a summary.
  const Json trimmed = c.gc.call("sessions.compact", {{"key", "main"}, {"maxLines", 2}});
  EXPECT_EQ(trimmed.value("compacted", false), true) << trimmed.dump();
  EXPECT_EQ(trimmed.value("kept", 0), 2);
  turn(c.gc, "main", "fifth", "t5");
  log = models.requests()["requests"];
  const auto after_trim = texts(log[log.size() - 1]);
  EXPECT_FALSE(any_contains(after_trim, "<summary>"));
  EXPECT_FALSE(any_contains(after_trim, "third: مرحبا 🙂"));
  EXPECT_TRUE(any_contains(after_trim, "fourth: what was the password?"));

  // A session with nothing to compact says so; an unknown one too.
  const Json none = c.gc.call("sessions.compact", {{"key", "agent:main:nobody"}});
  EXPECT_EQ(none.value("compacted", true), false);
}

TEST(Compaction, TheHistoryIsCompactedAutomaticallyNearTheContextWindow) {
  FakeModels models;
  models.script({{"reply", "noted"}});
  Json config = models.config();
  // A 4,000-token window: compaction past 3,000 tokens (the window less a quarter).
  config["models"]["providers"]["fake"]["models"] = {
      {{"id", "fake-model"}, {"contextWindow", 4000}}};
  config["agents"]["defaults"]["compaction"] = {{"keepRecentTokens", 600}};
  GatewayProcess gw({}, config.dump());
  Client c(gw);
  const std::string filler(1600, 'x');  // ~400 tokens a message
  int compacted_on = -1;
  for (int i = 0; i < 12 && compacted_on < 0; ++i) {
    const auto events =
        turn(c.gc, "main", "message " + std::to_string(i) + " " + filler, "a" + std::to_string(i));
    std::vector<Json> phases;
    for (const auto& e : events)
      if (e["event"] == "agent" && e["payload"].value("stream", "") == "compaction")
        phases.push_back(e["payload"]["data"]);
    if (phases.empty()) continue;
    ASSERT_EQ(phases.size(), 2u);
    EXPECT_EQ(phases[0].value("phase", ""), "start");
    EXPECT_EQ(phases[1].value("phase", ""), "end");
    EXPECT_EQ(phases[1].value("completed", false), true) << phases[1].dump();
    compacted_on = i;
  }
  ASSERT_GE(compacted_on, 5) << "not before the history nears 3,000 tokens";
  // The turn went to the model after its summary, without the oldest turns.
  const Json log = models.requests()["requests"];
  const auto sent = texts(log[log.size() - 1]);
  EXPECT_TRUE(any_contains(sent, "<summary>\nnoted\n</summary>"));
  EXPECT_FALSE(any_contains(sent, "message 0 "));
  EXPECT_TRUE(any_contains(sent, "message " + std::to_string(compacted_on) + " "));
  // Every request stayed within the window (~4 bytes a token for this text).
  for (const auto& rq : log) EXPECT_LT(rq["body"].dump().size(), 4000u * 4 + 4096);
}

}  // namespace
}  // namespace clawgate::test
