// In-process tests: the front and its core (tests/inproc/inproc_gateway.hpp) with the real
// agent worker on a socketpair and the offline agent, all on this thread. Fast enough for every
// build; what needs real processes, signals and sockets is in tests/daemon and tests/faults.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "agent.capnp.h"
#include "agent_worker.hpp"
#include "child_control.hpp"
#include "contract.hpp"
#include "control.capnp.h"
#include "front_control.hpp"
#include "inproc_gateway.hpp"
#include "link.hpp"
#include "protocol_gen.hpp"

namespace clawgate::inproc {
namespace {

std::string temp_state_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "/tmp/clawgate-inproc-" + std::to_string(::getpid()) + "-" + info->name();
}

struct Fixture : ::testing::Test {
  Fixture() {
    WorldOptions o;
    o.state_dir = temp_state_dir();
    o.keep_frames = true;
    world = std::make_unique<World>(o);
  }
  ~Fixture() override {
    world.reset();
    std::error_code ec;
    std::filesystem::remove_all(temp_state_dir(), ec);
  }
  std::unique_ptr<World> world;
};

using InProcess = Fixture;

TEST_F(InProcess, EverySchemaMethodHasAHandlerAndOnlyTheCoresGoWithoutIt) {
  EXPECT_TRUE(world->gateway().unserved_methods().empty());
  world->gateway().attach_core(nullptr);
  const auto missing = world->gateway().unserved_methods();
  for (const auto& m : schema::kMethods) {
    const bool listed = std::count(missing.begin(), missing.end(), std::string(m.name)) == 1;
    EXPECT_EQ(listed, core::Core::serves(m.id)) << m.name;
    EXPECT_FALSE(front::Gateway::serves(m.id) && core::Core::serves(m.id))
        << m.name << " has two handlers";
  }
  world->gateway().attach_core(&world->core());
}

// A chat turn end to end in one thread: chat.send → runs → the agent worker (offline agent)
// over a socketpair → chat events → transcript → chat.history, in Chinese.
TEST_F(InProcess, AChatTurnInChineseGoesThroughTheAgentWorkerAndIntoHistory) {
  FakeClock agent_clock;
  Logger log(agent_clock, nullptr, LogLevel::error);
  int fds[2];
  ipc::make_socketpair(fds);
  workers::AgentWorker agent(world->io(), log, std::nullopt, "You are a test.", 60'000);
  agent.attach_front(fds[1]);
  world->core().attach_peer(fds[0], "agent", "agent", "", 1);
  ASSERT_TRUE(world->run_until([&] { return world->core().runs().agent_connected(); }));

  const ConnId c = world->operator_connection();
  const std::string text = "你好，请用中文回答：今天天气怎么样？";
  const std::string rid = world->request(
      c, "chat.send", {{"sessionKey", "main"}, {"message", text}, {"idempotencyKey", "turn-1"}});
  const Json ack = world->response(c, rid);
  ASSERT_TRUE(ack.is_object());
  EXPECT_TRUE(ack.value("ok", false)) << ack.dump();
  EXPECT_EQ(ack["payload"].value("runId", ""), "turn-1");

  auto final_event = [&]() -> Json {
    for (const auto& f : world->received(c))
      if (f.value("event", "") == "chat" && f["payload"].value("state", "") == "final") return f;
    return nullptr;
  };
  ASSERT_TRUE(world->run_until([&] { return final_event().is_object(); }));
  const Json fin = final_event();
  EXPECT_EQ(fin["payload"].value("runId", ""), "turn-1");

  const std::string hid = world->request(c, "chat.history", {{"sessionKey", "main"}});
  const Json history = world->response(c, hid);
  ASSERT_TRUE(history.value("ok", false)) << history.dump();
  const Json& messages = history["payload"]["messages"];
  ASSERT_EQ(messages.size(), 2u) << messages.dump();
  EXPECT_EQ(messages[0].value("role", ""), "user");
  EXPECT_EQ(messages[0]["content"][0].value("text", ""), text);
  EXPECT_EQ(messages[1].value("role", ""), "assistant");
  EXPECT_FALSE(messages[1]["content"][0].value("text", "").empty());
}

// Plays a peer on the raw end `fd` of a link: writes `b` while the world's loop reads (one
// thread, and a message may be larger than the socket buffer), then drains what comes back
// until the other end closes or goes quiet. Returns whether it closed, and the bytes it said.
std::pair<bool, size_t> play_peer(World& world, int fd, capnp::MessageBuilder& b) {
  const auto words = capnp::messageToFlatArray(b);
  const auto bytes = words.asBytes();
  size_t sent = 0, said = 0;
  bool closed = false;
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  char buf[65536];
  for (int i = 0; i < 2000 && !closed; ++i) {
    if (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.begin() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    } else if (i > 1000) {
      break;
    }
    world.io().restart();
    world.io().poll();
    world.poll();
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) said += static_cast<size_t>(n);
    closed = ::recv(fd, buf, sizeof buf, MSG_PEEK) == 0;
  }
  return {closed, said};
}

// A run carries at most lists::kRunMessages turns: one more (cheap to send as empty structs)
// is garbage and closes the link before any of it is copied; the bound itself is accepted.
TEST_F(InProcess, TheAgentWorkerClosesALinkThatSendsARunOverTheTurnBound) {
  FakeClock agent_clock;
  Logger log(agent_clock, nullptr, LogLevel::error);
  workers::AgentWorker agent(world->io(), log, std::nullopt, "You are a test.", 60'000);
  auto run_with = [&](size_t turns) {
    int fds[2];
    ipc::make_socketpair(fds);
    agent.attach_front(fds[1]);
    capnp::MallocMessageBuilder b;
    auto rq = b.initRoot<ipc::AgentMsg>().initRun();
    rq.setRunId("长-run-" + std::to_string(turns));
    rq.setSessionKey("agent:main:main");
    auto messages = rq.initMessages(static_cast<unsigned>(turns));
    messages[static_cast<unsigned>(turns - 1)].setRole(ipc::ChatRole::USER);
    messages[static_cast<unsigned>(turns - 1)].setText("مرحبا 👋");
    const auto outcome = play_peer(*world, fds[0], b);
    ::close(fds[0]);
    return outcome;
  };
  const auto [closed_at_bound, said_at_bound] = run_with(ipc::contract::lists::kRunMessages);
  EXPECT_FALSE(closed_at_bound);
  EXPECT_GT(said_at_bound, 0u);  // hello, then the run's events
  EXPECT_TRUE(run_with(ipc::contract::lists::kRunMessages + 1).first);
}

// The supervisor's children table reaches status as sent; one longer than lists::kChildren
// closes the control link (the front then stops: its supervisor is broken) and changes nothing.
TEST_F(InProcess, TheFrontTakesTheChildrenTableAndRefusesOneOverTheBound) {
  int fds[2];
  ipc::make_socketpair(fds);
  std::string stopped;
  front::FrontControl control(std::make_unique<ipc::ChildControl>(
                                  world->io(), fds[1], ipc::ChildRole::FRONT, "front", 1, 1000),
                              world->core(), [&stopped](const std::string& why) { stopped = why; });
  control.start(sandbox::Report{});
  auto table = [&](size_t rows) {
    capnp::MallocMessageBuilder b;
    auto children = b.initRoot<ipc::Control>().initChildren(static_cast<unsigned>(rows));
    const char* names[] = {"telegram:工作", "telegram:عمل"};
    for (unsigned i = 0; i < std::min<size_t>(rows, 2); ++i) {
      children[i].setName(names[i]);
      children[i].setRole(ipc::ChildRole::CHANNEL);
      children[i].setState(ipc::ChildState::RUNNING);
    }
    return play_peer(*world, fds[0], b);
  };
  EXPECT_FALSE(table(2).first);
  const Json rows = world->core().channels().children_json();
  ASSERT_EQ(rows.size(), 2u) << rows.dump();
  EXPECT_EQ(rows[0].value("name", ""), "telegram:工作");
  EXPECT_EQ(rows[1].value("name", ""), "telegram:عمل");
  EXPECT_TRUE(stopped.empty()) << stopped;

  EXPECT_TRUE(table(ipc::contract::lists::kChildren + 1).first);
  EXPECT_FALSE(stopped.empty());
  EXPECT_EQ(world->core().channels().children_json(), rows);
  ::close(fds[0]);
}

// sessions.compact through the front: a short conversation is all "recent" (keepRecentTokens),
// so the caller hears why nothing was compacted; maxLines keeps only the newest messages for
// the model (no model needed) while chat.history keeps them all; bad params are refused.
TEST_F(InProcess, SessionsCompactSaysWhyWhenNothingIsOldAndMaxLinesTrims) {
  FakeClock agent_clock;
  Logger log(agent_clock, nullptr, LogLevel::error);
  int fds[2];
  ipc::make_socketpair(fds);
  workers::AgentWorker agent(world->io(), log, std::nullopt, "You are a test.", 60'000);
  agent.attach_front(fds[1]);
  world->core().attach_peer(fds[0], "agent", "agent", "", 1);
  ASSERT_TRUE(world->run_until([&] { return world->core().runs().agent_connected(); }));
  const ConnId c = world->operator_connection();
  auto finals = [&] {
    size_t n = 0;
    for (const auto& f : world->received(c))
      if (f.value("event", "") == "chat" && f["payload"].value("state", "") == "final") ++n;
    return n;
  };
  for (int i = 0; i < 3; ++i) {
    world->request(c, "chat.send",
                   {{"sessionKey", "main"},
                    {"message", "第" + std::to_string(i) + "条消息 🙂"},
                    {"idempotencyKey", "m" + std::to_string(i)}});
    ASSERT_TRUE(world->run_until([&] { return finals() == static_cast<size_t>(i + 1); }));
  }
  const auto& before = world->core().sessions().history(core::SessionKey::main());
  ASSERT_EQ(before.turns.size(), 6u);

  // keepRecentTokens is 20,000 by default: everything is recent, nothing to summarize.
  std::string rid = world->request(c, "sessions.compact", {{"key", "main"}});
  ASSERT_TRUE(world->run_until([&] { return world->response(c, rid).is_object(); }));
  Json res = world->response(c, rid);
  ASSERT_TRUE(res.value("ok", false)) << res.dump();
  EXPECT_EQ(res["payload"].value("compacted", true), false);
  EXPECT_EQ(res["payload"].value("ok", true), false);
  EXPECT_FALSE(res["payload"].value("reason", "").empty());

  rid = world->request(c, "sessions.compact", {{"key", "main"}, {"maxLines", 2}});
  res = world->response(c, rid);
  ASSERT_TRUE(res.value("ok", false)) << res.dump();
  EXPECT_EQ(res["payload"].value("compacted", false), true);
  const auto& after = world->core().sessions().history(core::SessionKey::main());
  ASSERT_EQ(after.turns.size(), 2u);
  EXPECT_EQ(after.turns[0].text, "第2条消息 🙂");

  // Hostile values are refused by the schema, not acted on.
  rid = world->request(c, "sessions.compact", {{"key", "main"}, {"maxLines", 0}});
  EXPECT_EQ(world->response(c, rid)["error"].value("code", ""), "INVALID_REQUEST");
  rid = world->request(c, "sessions.compact", {{"key", ""}});
  EXPECT_EQ(world->response(c, rid)["error"].value("code", ""), "INVALID_REQUEST");
  const std::string hid = world->request(c, "chat.history", {{"sessionKey", "main"}});
  EXPECT_EQ(world->response(c, hid)["payload"]["messages"].size(), 6u)
      << "the transcript keeps all";
}

// Methods the core serves answer through the same request path as the front's own: an unknown
// session key in Arabic is a clear error, not a crash, and the connection stays usable.
TEST_F(InProcess, ACoreMethodErrorIsAnErrorResponseAndTheConnectionStays) {
  const ConnId c = world->operator_connection();
  const std::string rid =
      world->request(c, "sessions.reset", {{"key", "agent:main:مرحبا-بالعالم-🙂"}});
  const Json res = world->response(c, rid);
  ASSERT_TRUE(res.is_object());
  if (!res.value("ok", false)) {  // refused as the caller's mistake, with words, not a crash
    EXPECT_EQ(res["error"].value("code", ""), "INVALID_REQUEST") << res.dump();
    EXPECT_FALSE(res["error"].value("message", "").empty());
  }
  const std::string hid = world->request(c, "health", Json::object());
  EXPECT_TRUE(world->response(c, hid).value("ok", false));
  EXPECT_FALSE(world->closed(c));
}

}  // namespace
}  // namespace clawgate::inproc
