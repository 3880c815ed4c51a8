// Unit tests: RunManager methods with the largest integers the protocol allows (INT64_MAX):
// a wait longer than the timer can hold, an activity window longer than int64 milliseconds
// (seen reviewing the fuzz harness, reproduced through fuzz_front_frames). Run under the
// ASan/UBSan preset, an overflow fails the test. And session keys as clients write them:
// "bench-0" is a session of the default agent, reported under its canonical key, in chat,
// sessions and cron's "session:<key>" targets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

#include "agent.capnp.h"
#include "contract.hpp"
#include "core/cron.hpp"
#include "core/runs.hpp"

namespace clawgate::core {
namespace {

schema::Method M(const std::string& name) {
  return schema::find_method(name)->id;
}

constexpr int64_t kMax = INT64_MAX;  // the largest integer the schema accepts

class RunsTest : public ::testing::Test {
 protected:
  RunsTest()
      : dir_("/tmp/clawgate-runs-test-" + std::to_string(::getpid())),
        log_(clock_, &ring_, LogLevel::error) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sessions_ = std::make_unique<SessionStore>(dir_);
    runs_ = std::make_unique<RunManager>(io_, clock_, log_, *sessions_, nullptr,
                                         [](const std::string&, const Json&, bool) {});
  }
  ~RunsTest() override {
    runs_.reset();
    sessions_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  LogRing ring_;
  Logger log_;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<RunManager> runs_;
};

// {"method":"agent.wait","params":{"runId":"x","timeoutMs":<huge>}} must not overflow the
// timer's duration (milliseconds to nanoseconds).
TEST_F(RunsTest, AgentWaitWithTheLargestTimeoutKeepsWaiting) {
  bool replied = false;
  ASSERT_TRUE(runs_->call(M("agent.wait"), Json{{"runId", "x"}, {"timeoutMs", kMax}},
                          [&](Reply) { replied = true; }));
  io_.poll();
  EXPECT_FALSE(replied);
}

// {"method":"sessions.list","params":{"activeMinutes":<huge>}}: activeMinutes * 60'000
// overflowed int64_t. Such a window holds every session.
TEST_F(RunsTest, SessionsListWithTheLargestActiveWindowListsEverySession) {
  sessions_->append(SessionKey::main(),
                    Json{{"type", "message"}, {"role", "user"}, {"text", "hi"}, {"ts", 1}});
  Json payload;
  ASSERT_TRUE(runs_->call(M("sessions.list"), Json{{"activeMinutes", kMax}},
                          [&](Reply r) { payload = r.payload.value_or(Json()); }));
  ASSERT_TRUE(payload.contains("sessions")) << payload.dump();
  EXPECT_EQ(payload["sessions"].size(), 1u) << payload.dump();
}

// What a method answered: the payload, or "CODE: message".
struct Answer {
  Json payload;
  std::string error;
};

class RunsKeysTest : public RunsTest {
 protected:
  Answer call(const std::string& method, const Json& params) {
    Answer a;
    EXPECT_TRUE(runs_->call(M(method), params, [&](Reply r) {
      if (r.error)
        a.error = std::string(ipc::protocol_code(r.error->code)) + ": " + r.error->message;
      a.payload = r.payload.value_or(Json());
    }));
    return a;
  }
  Answer chat_send(const std::string& key, const std::string& run) {
    return call("chat.send", {{"sessionKey", key}, {"message", "hi"}, {"idempotencyKey", run}});
  }
};

TEST_F(RunsKeysTest, ABareKeyIsAcceptedAndListedUnderItsCanonicalKey) {
  const Answer sent = chat_send("bench-0", "r1");
  ASSERT_EQ(sent.error, "");
  EXPECT_EQ(sent.payload["status"], "started");
  const Json list = call("sessions.list", Json::object()).payload;
  ASSERT_EQ(list["sessions"].size(), 1u) << list.dump();
  const Json& row = list["sessions"][0];
  EXPECT_EQ(row["key"], "agent:main:bench-0");
  EXPECT_EQ(row["agentId"], "main");
  EXPECT_EQ(row["kind"], "direct");
  EXPECT_EQ(row["classification"], "custom");
  EXPECT_EQ(row["isMain"], false);
  // Any spelling of it reaches the same session; chat.history answers with the key as given.
  const Json history = call("chat.history", {{"sessionKey", "Bench-0"}}).payload;
  EXPECT_EQ(history["sessionKey"], "Bench-0");
  ASSERT_EQ(history["messages"].size(), 1u);
  EXPECT_EQ(history["messages"][0]["content"][0]["text"], "hi");
  const Json preview =
      call("sessions.preview", {{"keys", {"BENCH-0", "agent:main:nobody"}}}).payload;
  EXPECT_EQ(preview["previews"][0]["key"], "BENCH-0");
  EXPECT_EQ(preview["previews"][0]["status"], "ok");
  EXPECT_EQ(preview["previews"][1]["status"], "missing");
  const Json patched = call("sessions.patch", {{"key", "Bench-0"}, {"label", "Bench"}}).payload;
  EXPECT_EQ(patched["key"], "agent:main:bench-0");
  const Json deleted = call("sessions.delete", {{"key", " bench-0 "}}).payload;
  EXPECT_EQ(deleted["key"], "agent:main:bench-0");
  EXPECT_EQ(deleted["deleted"], true);
}

TEST_F(RunsKeysTest, MainGlobalAndTheirSpellingsAreTheMainSession) {
  for (const char* key : {"main", "MAIN", "global", "agent:main:main", "Agent:Main:Main"})
    EXPECT_EQ(chat_send(key, std::string("m-") + key).error, "") << key;
  const Json list = call("sessions.list", Json::object()).payload;
  ASSERT_EQ(list["sessions"].size(), 1u) << list.dump();
  EXPECT_EQ(list["sessions"][0]["key"], "agent:main:main");
  EXPECT_EQ(list["sessions"][0]["classification"], "main");
  EXPECT_EQ(list["sessions"][0]["isMain"], true);
  EXPECT_EQ(call("chat.history", {{"sessionKey", "global"}}).payload["messages"].size(), 5u);
  EXPECT_EQ(call("sessions.delete", {{"key", "MAIN"}}).error,
            "INVALID_REQUEST: the main session cannot be deleted");
}

TEST_F(RunsKeysTest, KeysUpstreamRefusesAreRefusedWithTheReason) {
  EXPECT_EQ(chat_send("agent:main", "x1").error,
            "INVALID_REQUEST: malformed session key \"agent:main\"");
  EXPECT_EQ(chat_send("agent:main:", "x2").error,
            "INVALID_REQUEST: malformed session key \"agent:main:\"");
  EXPECT_EQ(chat_send("a\tb", "x3").error,
            "INVALID_REQUEST: session key contains a control character (U+0009)");
  EXPECT_EQ(chat_send(std::string(513, 'x'), "x4")
                .error.rfind("INVALID_REQUEST: session key is too long: 513 characters", 0),
            0u);
  // clawgate runs one agent: another agent's session takes no run.
  EXPECT_EQ(chat_send("agent:ops:daily", "x5").error,
            "INVALID_REQUEST: unknown agent \"ops\" in session key \"agent:ops:daily\" (this "
            "gateway runs one agent, \"main\")");
  EXPECT_EQ(call("agent", {{"sessionKey", "agent:"}, {"message", "m"}, {"idempotencyKey", "x6"}})
                .error.rfind("INVALID_REQUEST: malformed session key", 0),
            0u);
  EXPECT_EQ(call("chat.history", {{"sessionKey", "agent::x"}})
                .error.rfind("INVALID_REQUEST: malformed session key", 0),
            0u);
  EXPECT_EQ(call("sessions.preview", {{"keys", {"main", "agent:main"}}}).error,
            "INVALID_REQUEST: malformed session key \"agent:main\"");
  // Nothing refused was stored.
  EXPECT_TRUE(call("sessions.list", Json::object()).payload["sessions"].empty());
}

TEST_F(RunsKeysTest, CronSessionTargetsTakeAnyKeyAClientMayNameAndRefuseTheRest) {
  CronService cron(
      io_, clock_, log_, dir_, *runs_, [](const std::string&, const Json&, bool) {}, "{}");
  const auto cron_call = [&](const std::string& method, const Json& params) {
    Answer a;
    EXPECT_TRUE(cron.call(M(method), params, [&](Reply r) {
      if (r.error)
        a.error = std::string(ipc::protocol_code(r.error->code)) + ": " + r.error->message;
      a.payload = r.payload.value_or(Json());
    }));
    return a;
  };
  const auto job = [](const std::string& target) {
    return Json{{"name", "j"},
                {"schedule", {{"kind", "every"}, {"everyMs", 3'600'000}}},
                {"sessionTarget", target},
                {"wakeMode", "now"},
                {"payload", {{"kind", "agentTurn"}, {"message", "report"}}}};
  };
  EXPECT_EQ(cron_call("cron.add", job("session:agent:main")).error,
            "INVALID_REQUEST: sessionTarget: malformed session key \"agent:main\"");
  const Answer added = cron_call("cron.add", job("session:Bench-0"));
  ASSERT_EQ(added.error, "");
  const std::string id = added.payload["id"];
  EXPECT_EQ(
      cron_call("cron.update", {{"id", id}, {"patch", {{"sessionTarget", "session:agent::x"}}}})
          .error.rfind("INVALID_REQUEST: sessionTarget: malformed session key", 0),
      0u);
  ASSERT_EQ(cron_call("cron.run", {{"id", id}}).error, "");
  const Answer isolated = cron_call("cron.add", job("isolated"));
  ASSERT_EQ(isolated.error, "");
  ASSERT_EQ(cron_call("cron.run", {{"id", isolated.payload["id"]}}).error, "");
  // Each run's message is in its session, under the canonical key.
  std::set<std::string> keys;
  const Json list = call("sessions.list", Json::object()).payload;
  for (const auto& row : list["sessions"]) keys.insert(row["key"].get<std::string>());
  EXPECT_EQ(keys, (std::set<std::string>{
                      "agent:main:bench-0",
                      "agent:main:cron:" + isolated.payload["id"].get<std::string>()}));
}

// A front that comes up while the agent worker still has runs from the one before: the worker
// resumes them (agent.capnp) and this front adopts them. Played here by a Link on the other end
// of the agent socket.
class RunsResumeTest : public RunsKeysTest {
 protected:
  RunsResumeTest() {
    // What clients hear, kept.
    runs_ =
        std::make_unique<RunManager>(io_, clock_, log_, *sessions_, nullptr,
                                     [this](const std::string& event, const Json& payload, bool) {
                                       events_.push_back({{"event", event}, {"payload", payload}});
                                     });
    int fds[2];
    ipc::make_socketpair(fds);
    runs_->attach_agent(fds[0], 1);
    worker_ = ipc::Link::create(io_, fds[1], ipc::contract::agent_link("test-worker"));
    worker_->start(
        [this](capnp::MessageReader& r) {
          auto m = r.getRoot<ipc::AgentMsg>();
          if (m.isDoneAck()) acks_.push_back(m.getDoneAck());
          if (m.isRun()) runs_sent_.push_back(m.getRun().getRunId());
          if (m.isAbort()) aborts_.push_back(m.getAbort());
        },
        [](const std::string&) {});
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setHello("fake/model");
    send(b);
  }
  void send(capnp::MessageBuilder& b) {
    worker_->send(b);
    for (int i = 0; i < 50; ++i) io_.poll();
  }
  void resume(const std::string& run, const std::string& text, bool ended,
              ipc::RunKind kind = ipc::RunKind::CHAT) {
    capnp::MallocMessageBuilder b;
    auto rs = b.initRoot<ipc::AgentMsg>().initResume();
    rs.setRunId(run);
    rs.setSessionKey("agent:main:main");
    rs.initOrigin().setKind(kind);
    rs.setText(text);
    rs.setEnded(ended);
    if (ended) {
      auto d = rs.initDone();
      d.setRunId(run);
      d.setOk(true);
      d.setText(text);
      d.setModel("fake/model");
    }
    send(b);
  }
  size_t answers(const std::string& run) {
    size_t n = 0;
    for (const Json& e : sessions_->read(SessionKey::main(), 100))
      if (e.value("role", "") == "assistant" && e.value("runId", "") == run) ++n;
    return n;
  }
  void event(const std::string& run, ipc::RunStream stream, ipc::RunPhase phase,
             const std::string& delta) {
    capnp::MallocMessageBuilder b;
    auto ev = b.initRoot<ipc::AgentMsg>().initEvent();
    ev.setRunId(run);
    ev.setStream(stream);
    ev.setPhase(phase);
    ev.setDelta(delta);
    send(b);
  }
  // Every event clients heard about `run`.
  std::vector<Json> heard(const std::string& run) const {
    std::vector<Json> out;
    for (const Json& e : events_)
      if (e["payload"].value("runId", "") == run) out.push_back(e);
    return out;
  }
  std::shared_ptr<ipc::Link> worker_;
  std::vector<std::string> acks_, runs_sent_, aborts_;
  std::vector<Json> events_;
};

TEST_F(RunsResumeTest, AnOutcomeTheOldFrontStoredIsNotStoredAgainButAcknowledged) {
  sessions_->append(
      SessionKey::main(),
      Json{{"type", "message"}, {"role", "user"}, {"text", "问题 🌍"}, {"ts", 1}, {"runId", "r1"}});
  sessions_->append(SessionKey::main(), Json{{"type", "message"},
                                             {"role", "assistant"},
                                             {"text", "答案 مرحبا"},
                                             {"ts", 2},
                                             {"runId", "r1"}});
  resume("r1", "答案 مرحبا", true);
  EXPECT_EQ(answers("r1"), 1u);
  EXPECT_EQ(acks_, std::vector<std::string>{"r1"});
  EXPECT_EQ(call("agent.wait", {{"runId", "r1"}, {"timeoutMs", 0}}).payload["status"], "ok");
  // Reported once more (the ack was lost with this front, say): still one answer.
  resume("r1", "答案 مرحبا", true);
  EXPECT_EQ(answers("r1"), 1u);
}

TEST_F(RunsResumeTest, ARunningRunIsAdoptedHoldsItsSessionAndEndsOnce) {
  sessions_->append(
      SessionKey::main(),
      Json{{"type", "message"}, {"role", "user"}, {"text", "慢慢说"}, {"ts", 1}, {"runId", "r2"}});
  resume("r2", "一半 🚀", false);
  Answer waited;
  bool replied = false;
  ASSERT_TRUE(runs_->call(M("agent.wait"), {{"runId", "r2"}, {"timeoutMs", 60000}}, [&](Reply r) {
    replied = true;
    waited.payload = r.payload.value_or(Json());
  }));
  // A new message in the same session waits for the resumed run.
  EXPECT_EQ(chat_send("main", "r3").payload["status"], "started");
  for (int i = 0; i < 50; ++i) io_.poll();
  EXPECT_TRUE(runs_sent_.empty()) << "r3 went to the worker while r2 held the session";
  {
    capnp::MallocMessageBuilder b;
    auto ev = b.initRoot<ipc::AgentMsg>().initEvent();
    ev.setRunId("r2");
    ev.setStream(ipc::RunStream::ASSISTANT);
    ev.setDelta("，一半 ✨");
    send(b);
  }
  {
    capnp::MallocMessageBuilder b;
    auto d = b.initRoot<ipc::AgentMsg>().initDone();
    d.setRunId("r2");
    d.setOk(true);
    d.setText("一半 🚀，一半 ✨");
    send(b);
  }
  EXPECT_TRUE(replied);
  EXPECT_EQ(waited.payload["status"], "ok");
  EXPECT_EQ(answers("r2"), 1u);
  EXPECT_EQ(acks_, std::vector<std::string>{"r2"});
  // The session's next turn goes once its quiet window (messages.queue debounce) has passed.
  clock_.advance(QueueSettings::kDefaultDebounceMs + 1);
  for (int i = 0; i < 100 && runs_sent_.empty(); ++i) io_.run_for(std::chrono::milliseconds(20));
  EXPECT_EQ(runs_sent_, std::vector<std::string>{"r3"}) << "the session's next turn went";
}

// Values past the end of agent.capnp's enums (capnp lets a peer send any 16-bit value) are
// garbage: the event is refused and the run and the link go on (agent_link.hpp).
TEST_F(RunsResumeTest, AnEventWithAStreamOrPhaseThisBuildDoesNotKnowIsRefusedAndTheRunGoesOn) {
  sessions_->append(
      SessionKey::main(),
      Json{{"type", "message"}, {"role", "user"}, {"text", "你好"}, {"ts", 1}, {"runId", "r6"}});
  resume("r6", "一半", false);
  event("r6", static_cast<ipc::RunStream>(7), ipc::RunPhase::NONE, "garbage");
  event("r6", ipc::RunStream::LIFECYCLE, static_cast<ipc::RunPhase>(9), "");
  EXPECT_TRUE(heard("r6").empty()) << "a refused event reached the clients";
  EXPECT_TRUE(runs_->agent_connected()) << "the link stays";
  event("r6", ipc::RunStream::LIFECYCLE, ipc::RunPhase::START, "");
  ASSERT_EQ(heard("r6").size(), 1u);
  EXPECT_EQ(heard("r6")[0]["payload"]["data"]["phase"], "start");
  capnp::MallocMessageBuilder b;
  auto d = b.initRoot<ipc::AgentMsg>().initDone();
  d.setRunId("r6");
  d.setOk(true);
  d.setText("一半，全部");
  send(b);
  EXPECT_EQ(answers("r6"), 1u);
  for (const Json& e : heard("r6"))
    EXPECT_EQ(e.dump().find("garbage"), std::string::npos) << e.dump();
}

// A resume whose origin names a kind this build does not know cannot be adopted: it is refused,
// and the worker told as for any run this front drops (abort while going, doneAck once ended),
// so that it does not offer it again.
TEST_F(RunsResumeTest, AResumeWithAnOriginKindThisBuildDoesNotKnowIsRefusedAndTheWorkerTold) {
  const auto unknown = static_cast<ipc::RunKind>(11);
  resume("r7", "一半", false, unknown);
  resume("r8", "全部", true, unknown);
  EXPECT_EQ(runs_->active_runs(), 0u);
  EXPECT_EQ(aborts_, std::vector<std::string>{"r7"});
  EXPECT_EQ(acks_, std::vector<std::string>{"r8"});
  EXPECT_EQ(answers("r8"), 0u);
  EXPECT_TRUE(runs_->agent_connected()) << "the link stays";
  // The same kind in range is adopted.
  resume("r9", "全部", true, ipc::RunKind::CRON);
  EXPECT_EQ(call("agent.wait", {{"runId", "r9"}, {"timeoutMs", 0}}).payload["status"], "ok");
}

}  // namespace
}  // namespace clawgate::core
