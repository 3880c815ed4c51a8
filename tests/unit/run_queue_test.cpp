// Unit tests: RunManager with its session lanes, driven as clients drive it (chat.send, agent,
// agent.wait, chat.abort, chat.history) against a fake agent worker on the other end of a real
// socketpair, in one io_context. What a user notices: every caller is acknowledged at once,
// a session runs one turn at a time and its transcript reads in turn order, the final of a
// collected message comes with the turn that answered it, a queued message can be withdrawn,
// and maxConcurrent holds other sessions back. The quiet window is 0 here (its timing is
// lanes_test's), so nothing waits on real time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <capnp/message.h>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent.capnp.h"
#include "core/runs.hpp"
#include "link.hpp"
#include "names.hpp"

namespace clawgate::core {
namespace {

using namespace std::chrono_literals;

struct Request {
  std::string run_id;
  std::vector<std::pair<std::string, std::string>> messages;  // role, text
};

class RunQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/clawgate-run-queue-test-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (agent_) agent_->close("test over");
    settle();
    runs_.reset();
    agent_.reset();
    sessions_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A gateway core with these queue settings and a fake agent worker that says hello.
  void start(QueueSettings q) {
    q.debounce_ms_by_channel["webchat"] = 0;
    sessions_ = std::make_unique<SessionStore>(dir_);
    runs_ = std::make_unique<RunManager>(
        io_, clock_, log_, *sessions_, nullptr,
        [this](const std::string& event, const Json& payload, bool) {
          events_.push_back({{"event", event}, {"payload", payload}});
        },
        q);
    int fds[2];
    ipc::make_socketpair(fds);
    runs_->attach_agent(fds[0], 1);
    agent_ = ipc::Link::create(io_, fds[1], ipc::Link::Options{4 << 20, 64 << 20, "fake agent"});
    agent_->start(
        [this](capnp::MessageReader& r) {
          auto m = r.getRoot<ipc::AgentMsg>();
          if (m.isRun()) {
            Request q;
            q.run_id = m.getRun().getRunId();
            for (auto x : m.getRun().getMessages())
              q.messages.push_back({ipc::name_of(x.getRole()), x.getText()});
            requests_.push_back(std::move(q));
          } else if (m.isAbort()) {
            aborts_.push_back(m.getAbort());
          }
        },
        [](const std::string&) {});
    capnp::MallocMessageBuilder b;
    b.initRoot<ipc::AgentMsg>().setHello("fake/model");
    agent_->send(b);
    ASSERT_TRUE(run_until([&] { return runs_->agent_connected(); }));
  }

  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.restart();
      io_.run_for(2ms);
    }
    return true;
  }
  void settle() {
    const auto until = std::chrono::steady_clock::now() + 30ms;
    while (std::chrono::steady_clock::now() < until) {
      io_.restart();
      io_.run_for(2ms);
    }
  }

  // The fake model's answer, as the real fake model server words it.
  static std::string answer_to(const std::string& text) {
    return "Hello from the fake model. You said: " + text;
  }
  // Answers request `i` (echoing its last user message) and lets the front take it in.
  void answer(size_t i) {
    ASSERT_LT(i, requests_.size());
    const Request& q = requests_[i];
    capnp::MallocMessageBuilder b;
    auto d = b.initRoot<ipc::AgentMsg>().initDone();
    d.setRunId(q.run_id);
    d.setOk(true);
    d.setText(answer_to(q.messages.back().second));
    d.setModel("fake/model");
    agent_->send(b);
    settle();
  }

  // One call; returns every reply it got (an `agent` call gets two).
  std::shared_ptr<std::vector<Reply>> call(const std::string& method, const Json& params) {
    auto got = std::make_shared<std::vector<Reply>>();
    EXPECT_TRUE(runs_->call(schema::find_method(method)->id, params,
                            [got](Reply r) { got->push_back(std::move(r)); }));
    return got;
  }
  Json ok(const std::string& method, const Json& params) {
    auto got = call(method, params);
    EXPECT_EQ(got->size(), 1u) << method << " answers at once";
    if (got->empty() || !got->front().payload) return Json();
    return *got->front().payload;
  }
  Json send(const std::string& id, const std::string& text, const std::string& mode = "",
            const std::string& session = "main") {
    Json p = {{"sessionKey", session}, {"message", text}, {"idempotencyKey", id}};
    if (!mode.empty()) p["queueMode"] = mode;
    return ok("chat.send", p);
  }
  // The terminal chat event of `run_id`, or null.
  Json final_of(const std::string& run_id) const {
    for (const auto& e : events_)
      if (e["event"] == "chat" && e["payload"]["runId"] == run_id &&
          e["payload"]["state"] != "delta")
        return e["payload"];
    return Json();
  }
  // (role, text) of every message in the session's history, in order.
  std::vector<std::pair<std::string, std::string>> history(const std::string& key = "main") {
    std::vector<std::pair<std::string, std::string>> out;
    const Json h = ok("chat.history", {{"sessionKey", key}});
    for (const auto& m : h["messages"]) out.push_back({m["role"], m["content"][0]["text"]});
    return out;
  }

  std::string dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  LogRing ring_;
  Logger log_{clock_, &ring_, LogLevel::error};
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<RunManager> runs_;
  std::shared_ptr<ipc::Link> agent_;
  std::vector<Request> requests_;
  std::vector<std::string> aborts_;
  std::vector<Json> events_;
};

using Turns = std::vector<std::pair<std::string, std::string>>;

TEST_F(RunQueueTest, FollowupAnswersEveryMessageInTurnAndTheTranscriptReadsInOrder) {
  QueueSettings q;
  q.mode = QueueMode::followup;
  start(q);
  for (const char* id : {"r1", "r2", "r3"})
    EXPECT_EQ(send(id, std::string("message ") + id)["status"], "started")
        << "acknowledged at once";
  settle();
  ASSERT_EQ(requests_.size(), 1u) << "one run at a time in a session";
  EXPECT_EQ(requests_[0].messages.back().second, "message r1");
  answer(0);
  ASSERT_EQ(requests_.size(), 2u);
  // The second turn saw the first answer and not the third message.
  const auto& seen = requests_[1].messages;
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].second, answer_to("message r1"));
  EXPECT_EQ(seen[2].second, "message r2");
  answer(1);
  answer(2);
  EXPECT_EQ(history(), (Turns{{"user", "message r1"},
                              {"assistant", answer_to("message r1")},
                              {"user", "message r2"},
                              {"assistant", answer_to("message r2")},
                              {"user", "message r3"},
                              {"assistant", answer_to("message r3")}}));
  for (const char* id : {"r1", "r2", "r3"}) {
    EXPECT_EQ(final_of(id).value("state", ""), "final") << id;
    EXPECT_EQ(ok("agent.wait", {{"runId", id}})["status"], "ok") << id;
  }
}

// Each message keeps the mode it came with: a collect message does not pull a followup one
// (here an `agent` call under the default steer, which falls back to followup) into its turn,
// and nothing overtakes anything.
TEST_F(RunQueueTest, MessagesOfDifferentModesKeepTheirOrder) {
  start(QueueSettings{});
  send("c1", "first");
  settle();
  send("c2", "你好 👋🏽", "collect");
  auto agent =
      call("agent", {{"message", "مرحبا"}, {"idempotencyKey", "c3"}, {"sessionKey", "main"}});
  ASSERT_EQ(agent->size(), 1u);
  EXPECT_EQ((*agent)[0].payload->value("status", ""), "accepted");
  send("c4", "last one", "collect");
  answer(0);
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[1].run_id, "c2");
  answer(1);
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[2].run_id, "c3");
  answer(2);
  ASSERT_EQ(agent->size(), 2u) << "its second answer when its own turn ended";
  EXPECT_EQ((*agent)[1].payload->at("result")["payloads"][0]["text"], answer_to("مرحبا"));
  ASSERT_EQ(requests_.size(), 4u);
  EXPECT_EQ(requests_[3].run_id, "c4");
  answer(3);
  EXPECT_EQ(final_of("c4")["state"], "final");
}

// The agent worker says `resumed` after hello on every link, and the front then restarts the
// messages that were waiting when an earlier front died. Not those this front queued itself
// (b2 waits in its lane), nor those whose turn came already (a2 was answered).
TEST_F(RunQueueTest, ResumedRestartsNoMessageThisFrontHoldsOrAnswered) {
  QueueSettings q;
  q.mode = QueueMode::followup;
  start(q);
  send("a1", "first");
  send("a2", "你好，明天见");
  settle();
  answer(0);
  ASSERT_EQ(requests_.size(), 2u);
  answer(1);
  send("b1", "مرحبا 👋🏽");
  send("b2", "🎉 waiting");
  settle();
  ASSERT_EQ(requests_.size(), 3u) << "b2 waits behind b1";
  capnp::MallocMessageBuilder b;
  b.initRoot<ipc::AgentMsg>().setResumed();
  agent_->send(b);
  settle();
  EXPECT_EQ(requests_.size(), 3u) << "nothing started again";
  answer(2);
  ASSERT_EQ(requests_.size(), 4u);
  EXPECT_EQ(requests_[3].run_id, "b2");
  answer(3);
  EXPECT_EQ(requests_.size(), 4u);
  EXPECT_EQ(history(), (Turns{{"user", "first"},
                              {"assistant", answer_to("first")},
                              {"user", "你好，明天见"},
                              {"assistant", answer_to("你好，明天见")},
                              {"user", "مرحبا 👋🏽"},
                              {"assistant", answer_to("مرحبا 👋🏽")},
                              {"user", "🎉 waiting"},
                              {"assistant", answer_to("🎉 waiting")}}));
}

TEST_F(RunQueueTest, CollectedMessagesShareOneTurnAndOneTranscriptEntry) {
  QueueSettings q;
  q.mode = QueueMode::collect;
  start(q);
  send("k1", "first");
  settle();
  send("k2", "你好，明天的会议在三楼吗？");
  auto agent =
      call("agent",
           {{"message", "مرحبا 👋🏽"}, {"idempotencyKey", "k3"}, {"sessionKey", "main"}});
  send("k4", "🎉 last");
  answer(0);
  ASSERT_EQ(requests_.size(), 2u) << "k2, k3 and k4 are one turn";
  EXPECT_EQ(requests_[1].run_id, "k4") << "carried by the newest";
  const std::string combined =
      "[Queued messages while agent was busy]\n\n---\nQueued #1\n你好，明天的会议在三楼吗？"
      "\n\n---\nQueued #2\nمرحبا 👋🏽\n\n---\nQueued #3\n🎉 last";
  EXPECT_EQ(requests_[1].messages.back().second, combined);
  answer(1);
  EXPECT_EQ(history(), (Turns{{"user", "first"},
                              {"assistant", answer_to("first")},
                              {"user", combined},
                              {"assistant", answer_to(combined)}}));
  EXPECT_EQ(final_of("k4")["message"]["content"][0]["text"], answer_to(combined));
  EXPECT_EQ(final_of("k2")["state"], "final");
  EXPECT_FALSE(final_of("k2").contains("message")) << "the answer is shown once, with k4";
  ASSERT_EQ(agent->size(), 2u) << "the agent caller hears the end of the turn that took it in";
  EXPECT_EQ((*agent)[1].payload->at("result")["payloads"][0]["text"], answer_to(combined));
  EXPECT_EQ(ok("agent.wait", {{"runId", "k2"}})["status"], "ok");
  // The waiting messages were on disk as queued records before their turn.
  std::ifstream f(dir_ + "/sessions/" + SessionStore::file_name(SessionKey::main().str()));
  std::string line;
  int queued = 0;
  while (std::getline(f, line)) queued += line.find("\"type\":\"queued\"") != std::string::npos;
  EXPECT_EQ(queued, 3) << "k2, k3 and k4";
}

TEST_F(RunQueueTest, AbortingAQueuedMessageWithdrawsItAndSessionAbortsTakeQueuedFirst) {
  QueueSettings q;
  q.mode = QueueMode::followup;
  start(q);
  send("a1", "one");
  send("a2", "two");
  send("a3", "three");
  settle();
  // Clients see what waits, where it came.
  EXPECT_EQ(history(), (Turns{{"user", "one"}, {"user", "two"}, {"user", "three"}}));
  const Json r = ok("chat.abort", {{"sessionKey", "main"}, {"runId", "a2"}});
  EXPECT_EQ(r["aborted"], true);
  EXPECT_EQ(final_of("a2")["state"], "aborted");
  EXPECT_TRUE(aborts_.empty()) << "the agent never had it";
  EXPECT_EQ(ok("agent.wait", {{"runId", "a2"}})["status"], "error");
  EXPECT_EQ(history(), (Turns{{"user", "one"}, {"user", "three"}})) << "withdrawn";
  answer(0);
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[1].run_id, "a3") << "a2 is gone";
  send("a4", "four");
  // A session-wide abort: the waiting a4 first, then the running a3; nothing starts after.
  const Json all = ok("chat.abort", {{"sessionKey", "main"}});
  EXPECT_EQ(all["runIds"].size(), 2u) << all.dump();
  settle();
  EXPECT_EQ(requests_.size(), 2u);
  EXPECT_EQ(final_of("a4")["state"], "aborted");
  EXPECT_EQ(final_of("a3")["state"], "aborted");
  EXPECT_EQ(history(),
            (Turns{{"user", "one"}, {"assistant", answer_to("one")}, {"user", "three"}}));
}

TEST_F(RunQueueTest, InterruptAbortsTheRunningTurnAndAnswersTheNewestMessage) {
  start(QueueSettings{});
  send("i1", "slow question");
  send("i2", "never mind", "followup");
  send("i3", "this instead", "interrupt");
  settle();
  EXPECT_EQ(aborts_, std::vector<std::string>{"i1"}) << "the agent was told to stop";
  EXPECT_EQ(final_of("i1")["state"], "aborted");
  EXPECT_EQ(final_of("i2")["state"], "aborted") << "superseded";
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[1].run_id, "i3");
  answer(1);
  EXPECT_EQ(history(), (Turns{{"user", "slow question"},
                              {"user", "this instead"},
                              {"assistant", answer_to("this instead")}}));
}

TEST_F(RunQueueTest, MaxConcurrentHoldsOtherSessionsBack) {
  QueueSettings q;
  q.max_concurrent = 1;
  start(q);
  send("m1", "in s1", "", "agent:main:s1");
  send("m2", "in s2", "", "agent:main:s2");
  settle();
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(runs_->lanes().running(), 1u);
  answer(0);
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[1].run_id, "m2");
  answer(1);
  EXPECT_EQ(final_of("m2")["state"], "final");
}

TEST_F(RunQueueTest, AFullSessionWithDropNewRefusesTheMessageWithAClearError) {
  QueueSettings q;
  q.cap = 1;
  q.drop = QueueDrop::newest;
  start(q);
  send("n1", "one");
  send("n2", "two");
  auto got =
      call("chat.send", {{"sessionKey", "main"}, {"message", "three"}, {"idempotencyKey", "n3"}});
  ASSERT_EQ(got->size(), 1u);
  EXPECT_FALSE((*got)[0].payload);
  ASSERT_TRUE((*got)[0].error);
  const Error& e = *(*got)[0].error;
  EXPECT_EQ(e.code, ErrorCode::UNAVAILABLE);
  EXPECT_NE(e.message.find("cap 1"), std::string::npos) << e.message;
  EXPECT_TRUE(e.retryable);
}

}  // namespace
}  // namespace clawgate::core
