// Front crash tests: real processes, kill -9 of the front while a conversation is under way. A
// run in flight keeps going in the agent worker and is adopted by the next front: a client that
// reconnects gets its outcome (agent.wait, chat.history, once), also when the run ended while no
// front could take it; a message that waited for its turn is answered after the restart; a
// channel message gets exactly one reply; a cron job that fell due while no front was up runs
// once. Every wait is bounded; nothing asserts on how long anything took.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

constexpr int kConnectMs = 3000;

// About 2 s of streaming: two code points every 100 ms.
const std::string kAnswer =
    "你好，世界！这是一个很慢的回答。مرحبا بالعالم، هذا جواب بطيء 🌍🚀✨ 再见 👋 وداعا";
const Json kSlowScript = {{"reply", kAnswer}, {"chunk_chars", 2}, {"delay_ms", 100}};

int pid_of(GatewayClient& c, const std::string& name) {
  int pid = 0;
  eventually(
      [&] {
        const Json status = c.call("status");
        for (const auto& p : status["processes"])
          if (p["name"] == name) pid = p.value("pid", 0);
        return pid > 0;
      },
      10000, 5);
  return pid;
}

// A client of a front other than `old_front` (a connection the old one accepted just before
// dying does not count).
std::unique_ptr<Client> reconnect(GatewayProcess& gw, int old_front) {
  std::unique_ptr<Client> c;
  eventually(
      [&] {
        try {
          c = std::make_unique<Client>(gw, kConnectMs);
          const int now = pid_of(c->gc, "front");
          return now > 0 && now != old_front;
        } catch (...) {
          c.reset();
          return false;
        }
      },
      20000, 20);
  return c;
}

// Reads events until a chat delta (of `run_id`, or of any run when empty) shows a run streaming.
bool saw_delta(GatewayClient& c, const std::string& run_id = "") {
  return eventually(
      [&] {
        try {
          const Json e = c.next_event(1000);
          const Json& p = e["payload"];
          return e["event"] == "chat" && p.value("state", "") == "delta" &&
                 (run_id.empty() || p.value("runId", "") == run_id);
        } catch (const TimeoutError&) {
          return false;
        }
      },
      15000, 0);
}

size_t count_of(const Json& messages, const std::string& role, const std::string& text) {
  size_t n = 0;
  for (const auto& m : messages)
    if (m["role"] == role && m["content"][0].value("text", "") == text) ++n;
  return n;
}

std::string iso_utc(int64_t ms) {
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(FrontCrash, ARunInFlightEndsOnceAndAReconnectingClientGetsIt) {
  FakeModels models;
  models.script(kSlowScript);
  GatewayProcess gw({}, models.config().dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  const int front = pid_of(c->gc, "front"), agent = pid_of(c->gc, "agent");
  ASSERT_GT(front, 0);
  ASSERT_GT(agent, 0);
  const std::string question = "请慢慢回答 🌟 أجب ببطء من فضلك";
  const Json r = c->gc.call(
      "chat.send", {{"sessionKey", "main"}, {"message", question}, {"idempotencyKey", "fc-1"}});
  ASSERT_EQ(r["status"], "started");
  ASSERT_TRUE(saw_delta(c->gc, "fc-1")) << "the run never streamed";
  ASSERT_EQ(kill(front, SIGKILL), 0);
  c.reset();

  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served";
  const Json w = c->gc.call("agent.wait", {{"runId", "fc-1"}, {"timeoutMs", 30000}}, 40000);
  EXPECT_EQ(w["status"], "ok") << w.dump();
  const Json h = c->gc.call("chat.history", {{"sessionKey", "main"}});
  EXPECT_EQ(count_of(h["messages"], "user", question), 1u) << h.dump();
  EXPECT_EQ(count_of(h["messages"], "assistant", kAnswer), 1u) << h.dump();
  EXPECT_EQ(h["messages"].size(), 2u) << h.dump();
  EXPECT_EQ(pid_of(c->gc, "agent"), agent) << "the agent worker kept running";
  EXPECT_EQ(models.stats()["requests"], 1) << "the run was not started again";
  // The session takes the next message at once: the resumed run left its lane.
  const Json next = c->gc.call(
      "chat.send", {{"sessionKey", "main"}, {"message", "再来一次"}, {"idempotencyKey", "fc-2"}});
  EXPECT_EQ(next["status"], "started");
  EXPECT_EQ(c->gc.call("agent.wait", {{"runId", "fc-2"}, {"timeoutMs", 30000}}, 40000)["status"],
            "ok");
}

// The run ends while the front cannot take its outcome (stopped, then killed): the worker's
// `done` went into a dead socket, and the worker hands it to the next front instead.
TEST(FrontCrash, AnAnswerThatEndedWhileTheFrontWasDownIsStoredOnce) {
  FakeModels models;
  models.script({{"reply", kAnswer}, {"chunk_chars", 4}, {"delay_ms", 50}});
  GatewayProcess gw({}, models.config().dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  const std::string question = "停下再说 ⏸️ توقف ثم تكلم";
  c->gc.call("chat.send",
             {{"sessionKey", "main"}, {"message", question}, {"idempotencyKey", "fc-stop"}});
  ASSERT_TRUE(saw_delta(c->gc, "fc-stop")) << "the run never streamed";
  c.reset();
  ASSERT_EQ(kill(front, SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] { return models.stats()["streams_completed"] == 1; }, 20000))
      << models.stats().dump();
  ASSERT_EQ(kill(front, SIGKILL), 0);

  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served";
  const Json w = c->gc.call("agent.wait", {{"runId", "fc-stop"}, {"timeoutMs", 30000}}, 40000);
  EXPECT_EQ(w["status"], "ok") << w.dump();
  const Json h = c->gc.call("chat.history", {{"sessionKey", "main"}});
  EXPECT_EQ(count_of(h["messages"], "user", question), 1u) << h.dump();
  EXPECT_EQ(count_of(h["messages"], "assistant", kAnswer), 1u) << h.dump();
  EXPECT_EQ(models.stats()["requests"], 1);
  EXPECT_TRUE(gw.wait_output("1 ended unacknowledged")) << "the worker handed over an outcome";
}

// The front never opens the config file: it runs on the copy the supervisor accepted, handed
// over with every secret redacted. A file broken since (and not reloaded) does not keep a
// crashed front down, and the secrets in it never reach the front.
TEST(FrontCrash, ARestartedFrontRunsOnTheConfigTheSupervisorAcceptedNotTheFileAsItIsNow) {
  FakeModels models;
  Json config = models.config();
  config["models"]["providers"]["fake"]["apiKey"] = "sk-never-in-the-front-7f3a";
  GatewayProcess gw({}, config.dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  const Json before = c->gc.call("config.get");
  ASSERT_TRUE(before.value("valid", false)) << before.dump();
  EXPECT_EQ(before["parsed"]["models"]["providers"]["fake"]["apiKey"], "__OPENCLAW_REDACTED__");
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  c.reset();

  std::ofstream(gw.state_dir() + "/clawgate.json") << "{ \"broken\": 坏了";
  ASSERT_EQ(kill(front, SIGKILL), 0);
  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served: " << gw.output();
  const Json after = c->gc.call("config.get");
  EXPECT_EQ(after["hash"], before["hash"]) << "config.get still shows the accepted file";
  EXPECT_TRUE(after.value("valid", false));
  // It still runs on that config: a turn reaches the configured model.
  c->gc.call("chat.send", {{"sessionKey", "main"},
                           {"message", "还在吗？ هل ما زلت هنا؟ 👋"},
                           {"idempotencyKey", "fc-cfg"}});
  const Json w = c->gc.call("agent.wait", {{"runId", "fc-cfg"}, {"timeoutMs", 30000}}, 40000);
  EXPECT_EQ(w["status"], "ok") << w.dump();
}

// A message waiting for its session's turn when the front dies is answered after the restart,
// after the run it waited for, each once.
TEST(FrontCrash, AMessageWaitingForItsTurnIsAnsweredAfterTheRestart) {
  FakeModels models;
  models.script(kSlowScript);
  GatewayProcess gw({}, models.config().dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  c->gc.call(
      "chat.send",
      {{"sessionKey", "main"}, {"message", "第一个问题 1️⃣"}, {"idempotencyKey", "fc-a"}});
  ASSERT_TRUE(saw_delta(c->gc, "fc-a")) << "the run never streamed";
  const std::string second = "السؤال الثاني 2️⃣ 第二个";
  const Json r = c->gc.call(
      "chat.send", {{"sessionKey", "main"}, {"message", second}, {"idempotencyKey", "fc-b"}});
  ASSERT_EQ(r["status"], "started");
  ASSERT_EQ(kill(front, SIGKILL), 0);
  c.reset();

  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served";
  EXPECT_EQ(c->gc.call("agent.wait", {{"runId", "fc-a"}, {"timeoutMs", 30000}}, 40000)["status"],
            "ok");
  EXPECT_EQ(c->gc.call("agent.wait", {{"runId", "fc-b"}, {"timeoutMs", 30000}}, 40000)["status"],
            "ok");
  const Json h = c->gc.call("chat.history", {{"sessionKey", "main"}});
  EXPECT_EQ(count_of(h["messages"], "user", second), 1u) << h.dump();
  EXPECT_EQ(count_of(h["messages"], "assistant", kAnswer), 2u) << h.dump();
  ASSERT_EQ(h["messages"].size(), 4u) << h.dump();
  EXPECT_EQ(h["messages"][3]["role"], "assistant") << "user, assistant, user, assistant";
  EXPECT_EQ(h["messages"][2]["content"][0]["text"], second);
  EXPECT_EQ(models.stats()["requests"], 2);
}

TEST(FrontCrash, ATelegramMessageGetsExactlyOneReplyWhenTheFrontDiesMidRun) {
  TelegramEmulator emu;
  FakeModels models;
  models.script(kSlowScript);
  Json cfg = models.config();
  cfg["channels"]["telegram"] = emu.channel_config();
  GatewayProcess gw({}, cfg.dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  ASSERT_TRUE(eventually([&] {
    return c->gc.call("channels.status")["channelAccounts"]["telegram"][0]["connected"] == true;
  })) << gw.output();
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  emu.inject(4242, "你好机器人 👋 مرحبا يا روبوت");
  ASSERT_TRUE(saw_delta(c->gc)) << "the answer never streamed";
  ASSERT_EQ(kill(front, SIGKILL), 0);
  c.reset();

  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served";
  ASSERT_TRUE(eventually([&] { return !emu.sent()["messages"].empty(); }, 30000)) << gw.output();
  // Whatever else was going to go out has gone by the time the transcript and queue are quiet.
  ASSERT_TRUE(eventually([&] {
    const Json h = c->gc.call("chat.history", {{"sessionKey", "main"}});
    return count_of(h["messages"], "assistant", kAnswer) >= 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const Json sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["text"], kAnswer);
  EXPECT_NE(sent[0]["chat_id"].dump().find("4242"), std::string::npos) << sent.dump();
  const Json h = c->gc.call("chat.history", {{"sessionKey", "main"}});
  EXPECT_EQ(count_of(h["messages"], "assistant", kAnswer), 1u) << h.dump();
  EXPECT_EQ(count_of(h["messages"], "user", "你好机器人 👋 مرحبا يا روبوت"), 1u) << h.dump();
  EXPECT_EQ(models.stats()["requests"], 1) << "the message was answered by one run";
}

TEST(FrontCrash, ACronJobDueWhileTheFrontIsDownRunsOnceAfterTheRestart) {
  FakeModels models;
  GatewayProcess gw({}, models.config().dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  const int64_t due = wall_ms() + 1500;
  const std::string message = "早安 ☀️ صباح الخير";
  const Json job =
      c->gc.call("cron.add", {{"name", "晨报"},
                              {"schedule", {{"kind", "at"}, {"at", iso_utc(due)}}},
                              {"sessionTarget", "isolated"},
                              {"wakeMode", "now"},
                              {"payload", {{"kind", "agentTurn"}, {"message", message}}}});
  const std::string id = job["id"];
  // The front is down (stopped, then killed) from before the job is due until after.
  c.reset();
  ASSERT_EQ(kill(front, SIGSTOP), 0);
  while (wall_ms() < due + 1000) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(models.stats()["requests"], 0) << "nothing ran while the front was down";
  ASSERT_EQ(kill(front, SIGKILL), 0);

  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served";
  Json runs;
  ASSERT_TRUE(eventually([&] {
    runs = c->gc.call("cron.runs", {{"id", id}})["entries"];
    return !runs.empty();
  })) << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // room for a second run
  runs = c->gc.call("cron.runs", {{"id", id}})["entries"];
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["status"], "ok") << runs.dump();
  EXPECT_EQ(models.stats()["requests"], 1);
  const Json h = c->gc.call("chat.history", {{"sessionKey", "agent:main:cron:" + id}});
  EXPECT_EQ(count_of(h["messages"], "user", message), 1u) << h.dump();
  EXPECT_EQ(count_of(h["messages"], "assistant", "Hello from the fake model. You said: " + message),
            1u)
      << h.dump();
  const Json jobs = c->gc.call("cron.list", {{"includeDisabled", true}})["jobs"];
  for (const auto& j : jobs) {
    if (j["id"] == id) {
      EXPECT_FALSE(j["state"].contains("nextRunAtMs")) << "a one-shot: done";
    }
  }
}

// A cron job's run in flight when the front dies: the next front adopts it from the agent
// worker and finishes it as the job's run (cron.runs, the job's state), once, without running
// the job again.
TEST(FrontCrash, ACronRunInFlightWhenTheFrontDiesIsRecordedOnceByTheNextFront) {
  FakeModels models;
  models.script(kSlowScript);
  GatewayProcess gw({}, models.config().dump());
  auto c = std::make_unique<Client>(gw, kConnectMs);
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  const std::string message = "慢慢写一份晨报 📰 اكتب تقريرا";
  const Json job =
      c->gc.call("cron.add", {{"name", "晨报 ✨"},
                              {"schedule", {{"kind", "at"}, {"at", iso_utc(wall_ms() + 500)}}},
                              {"sessionTarget", "isolated"},
                              {"wakeMode", "now"},
                              {"payload", {{"kind", "agentTurn"}, {"message", message}}}});
  const std::string id = job["id"];
  ASSERT_TRUE(eventually([&] { return models.stats()["requests"] == 1; }, 10000))
      << "the job never started";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // well inside its 2 s stream
  EXPECT_TRUE(c->gc.call("cron.runs", {{"id", id}})["entries"].empty()) << "still running";
  ASSERT_EQ(kill(front, SIGKILL), 0);
  c.reset();

  c = reconnect(gw, front);
  ASSERT_TRUE(c) << "no new front served";
  Json runs;
  ASSERT_TRUE(eventually(
      [&] {
        runs = c->gc.call("cron.runs", {{"id", id}})["entries"];
        return !runs.empty();
      },
      15000))
      << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // room for a second record
  runs = c->gc.call("cron.runs", {{"id", id}})["entries"];
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["status"], "ok") << runs.dump();
  EXPECT_EQ(runs[0].value("resumed", false), true) << runs.dump();
  EXPECT_EQ(runs[0]["summary"], kAnswer) << runs.dump();
  EXPECT_EQ(models.stats()["requests"], 1) << "the job ran again";
  const Json jobs = c->gc.call("cron.list", {{"includeDisabled", true}})["jobs"];
  bool found = false;
  for (const auto& j : jobs) {
    if (j["id"] != id) continue;
    found = true;
    EXPECT_EQ(j["state"].value("lastRunStatus", ""), "ok") << j.dump();
  }
  EXPECT_TRUE(found);
  const Json h = c->gc.call("chat.history", {{"sessionKey", "agent:main:cron:" + id}});
  EXPECT_EQ(count_of(h["messages"], "assistant", kAnswer), 1u) << h.dump();
}

}  // namespace
}  // namespace clawgate::test
