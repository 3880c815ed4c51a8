// Unit tests: the enums of the IPC links (ipc/names.hpp). Every enumerant has its word and reads
// back from it; and a peer that sends a value past the end of an enum (Cap'n Proto lets it send
// any 16-bit value) gets the treatment its receiver documents, never a guess: the agent worker
// refuses the run with INVALID_REQUEST (agent_worker.hpp), the front refuses the inbound message
// and acknowledges it (channels.hpp), the supervisor ends the link of a child whose hello names
// an unknown role (or another than it was started as), and the front ends its control link on a
// children table with one. The front's side of the agent link is runs_test's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent_worker.hpp"
#include "contract.hpp"
#include "core/channels.hpp"
#include "core/core.hpp"
#include "front_control.hpp"
#include "link.hpp"
#include "names.hpp"
#include "supervisor.hpp"

namespace clawgate {
namespace {

using namespace std::chrono_literals;

template <typename E>
unsigned enumerants() {
  return capnp::Schema::from<E>().getEnumerants().size();
}

// Every enumerant has a word, one past the last has none.
template <typename E>
void expect_named() {
  for (unsigned v = 0; v < enumerants<E>(); ++v)
    EXPECT_NE(ipc::name_of(static_cast<E>(v)), nullptr) << v;
  EXPECT_EQ(ipc::name_of(static_cast<E>(enumerants<E>())), nullptr);
  EXPECT_EQ(ipc::name_of(static_cast<E>(0xFFFF)), nullptr);
}

// ...and the word reads back as the same enumerant.
template <typename E, typename Parse>
void expect_round_trip(Parse parse) {
  for (unsigned v = 0; v < enumerants<E>(); ++v) {
    const auto e = static_cast<E>(v);
    EXPECT_TRUE(parse(ipc::name_of(e)) == std::optional<E>(e)) << ipc::name_of(e);
  }
  EXPECT_FALSE(parse("nonsense").has_value());
  EXPECT_FALSE(parse("").has_value());
}

TEST(IpcEnums, EveryEnumerantHasItsWordAndNoOtherValueHasOne) {
  expect_named<ipc::ChatRole>();
  expect_named<ipc::RunKind>();
  expect_named<ipc::RunStream>();
  expect_named<ipc::RunPhase>();
  expect_named<ipc::ChildRole>();
  expect_named<ipc::ChatType>();
  expect_named<ipc::NodeToolAction>();
  expect_round_trip<ipc::NodeToolAction>(ipc::parse_node_tool_action);
  expect_round_trip<ipc::ChatRole>(ipc::parse_chat_role);
  expect_round_trip<ipc::RunKind>(ipc::parse_run_kind);
  expect_round_trip<ipc::ChildRole>(ipc::parse_child_role);
  EXPECT_STREQ(ipc::name_of(ipc::RunKind::HEARTBEAT), "heartbeat");
  EXPECT_STREQ(ipc::name_of(ipc::ChatType::DIRECT), "direct");
  EXPECT_EQ(ipc::unknown_value("chat type", static_cast<ipc::ChatType>(9)), "unknown chat type 9");
}

// Runs the loop until `pred` or five seconds.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(2ms);
  }
  return true;
}

// --- the agent worker, from the front

class AgentWorkerEnumsTest : public ::testing::Test {
 protected:
  struct Done {
    std::string run_id;
    bool ok = false, aborted = false;
    ipc::ErrorCode code = ipc::ErrorCode::UNAVAILABLE;
    std::string error;
  };

  AgentWorkerEnumsTest() : worker_(io_, log_, std::nullopt, "You are a test.", 60'000) {
    int fds[2];
    ipc::make_socketpair(fds);
    worker_.attach_front(fds[0]);
    front_ = ipc::Link::create(io_, fds[1], ipc::contract::agent_link("test-front"));
    front_->start(
        [this](capnp::MessageReader& r) {
          auto m = r.getRoot<ipc::AgentMsg>();
          if (m.isEvent() && m.getEvent().getStream() == ipc::RunStream::LIFECYCLE)
            started_.push_back(m.getEvent().getRunId());
          if (!m.isDone()) return;
          auto d = m.getDone();
          done_.push_back({d.getRunId(), d.getOk(), d.getAborted(), d.getError().getCode(),
                           d.getError().getMessage()});
        },
        [this](const std::string&) { lost_ = true; });
  }
  ~AgentWorkerEnumsTest() override { front_->close("test over"); }

  // A run of one message, with this role and origin kind.
  void run(const std::string& id, ipc::ChatRole role, ipc::RunKind kind) {
    capnp::MallocMessageBuilder b;
    auto rq = b.initRoot<ipc::AgentMsg>().initRun();
    rq.setRunId(id);
    rq.setSessionKey("agent:main:main");
    rq.initOrigin().setKind(kind);
    auto msgs = rq.initMessages(1);
    msgs[0].setRole(role);
    msgs[0].setText("hi");
    front_->send(b);
  }
  const Done* done(const std::string& id) const {
    for (const auto& d : done_)
      if (d.run_id == id) return &d;
    return nullptr;
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  Logger log_{clock_, nullptr, LogLevel::error};
  workers::AgentWorker worker_;
  std::shared_ptr<ipc::Link> front_;
  std::vector<Done> done_;
  std::vector<std::string> started_;
  bool lost_ = false;
};

TEST_F(AgentWorkerEnumsTest, ARunWithARoleOrKindThisBuildDoesNotKnowIsRefusedAndTheLinkStays) {
  run("r1", static_cast<ipc::ChatRole>(9), ipc::RunKind::CHAT);
  run("r2", ipc::ChatRole::USER, static_cast<ipc::RunKind>(12));
  ASSERT_TRUE(run_until(io_, [&] { return done("r1") && done("r2"); }));
  for (const char* id : {"r1", "r2"}) {
    EXPECT_FALSE(done(id)->ok) << id;
    EXPECT_FALSE(done(id)->aborted) << id;
    EXPECT_EQ(done(id)->code, ipc::ErrorCode::INVALID_REQUEST) << id;
  }
  EXPECT_EQ(done("r1")->error, "run request refused: unknown message role 9");
  EXPECT_EQ(done("r2")->error, "run request refused: unknown origin kind 12");
  EXPECT_TRUE(started_.empty()) << "a refused run started";
  // The link stays, and a run in range goes.
  run("r3", ipc::ChatRole::USER, ipc::RunKind::CHAT);
  ASSERT_TRUE(run_until(io_, [&] { return !started_.empty(); }));
  EXPECT_EQ(started_, std::vector<std::string>{"r3"});
  EXPECT_FALSE(lost_);
}

// --- the front's channel hub, from a channel worker

class HubEnumsTest : public ::testing::Test, private core::InboundSink {
 protected:
  HubEnumsTest() : dir_("/tmp/clawgate-ipc-enums-test-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    settings_.state_dir = dir_;
    ChannelSettings tg;
    tg.name = "telegram";
    tg.dm_policy = "open";
    settings_.channels.push_back(tg);
    sessions_ = std::make_unique<core::SessionStore>(dir_);
    hub_ = std::make_unique<core::ChannelHub>(io_, clock_, log_, settings_, sessions_.get(),
                                              static_cast<core::InboundSink*>(this));
    int fds[2];
    ipc::make_socketpair(fds);
    hub_->attach_worker(fds[0], "telegram", "telegram", "default", 1);
    worker_ = ipc::Link::create(io_, fds[1], ipc::contract::data_link("test-worker"));
    worker_->start(
        [this](capnp::MessageReader& r) {
          auto m = r.getRoot<ipc::Data>();
          if (m.isInboundAck()) acks_.push_back(m.getInboundAck());
        },
        [this](const std::string&) { lost_ = true; });
    capnp::MallocMessageBuilder b;
    auto h = b.initRoot<ipc::Data>().initHello();
    h.setChannel("telegram");
    h.setAccountId("default");
    h.setGeneration(1);
    worker_->send(b);
  }
  ~HubEnumsTest() override {
    worker_->close("test over");
    hub_.reset();
    sessions_.reset();
    std::filesystem::remove_all(dir_);
  }

  void inbound(const std::string& id, ipc::ChatType type) {
    capnp::MallocMessageBuilder b;
    auto in = b.initRoot<ipc::Data>().initInbound();
    in.setId(id);
    in.setChatId("42");
    in.setChatType(type);
    in.setSenderId("42");
    in.setText("hello " + id);
    in.setTsMs(1);
    worker_->send(b);
  }
  void on_inbound(const core::SessionKey&, const core::InboundMessage& m) override {
    taken_.push_back(m.id + ":" + m.chat_type);
  }

  std::string dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  Logger log_{clock_, nullptr, LogLevel::error};
  GatewaySettings settings_;
  std::unique_ptr<core::SessionStore> sessions_;
  std::unique_ptr<core::ChannelHub> hub_;
  std::shared_ptr<ipc::Link> worker_;
  std::vector<std::string> acks_, taken_;
  bool lost_ = false;
};

TEST_F(HubEnumsTest, AnInboundWithAChatTypeThisBuildDoesNotKnowIsRefusedAndAcknowledged) {
  inbound("7", static_cast<ipc::ChatType>(5));
  ASSERT_TRUE(run_until(io_, [&] { return !acks_.empty(); }));
  EXPECT_EQ(acks_, std::vector<std::string>{"7"}) << "acknowledged: not offered again";
  EXPECT_TRUE(taken_.empty()) << "a refused message reached the runs";
  EXPECT_FALSE(sessions_->exists(core::SessionKey::main()));
  // The link stays, and a message in range is taken.
  inbound("8", ipc::ChatType::DIRECT);
  ASSERT_TRUE(run_until(io_, [&] { return acks_.size() == 2; }));
  EXPECT_EQ(taken_, std::vector<std::string>{"8:direct"});
  EXPECT_FALSE(lost_);
}

// --- the supervisor, from a child's hello

// A child played by /bin/sh: writes the bytes of `hello` to its control socket and waits.
supervisor::ChildSpec fake_child(const std::string& name, const std::string& dir,
                                 ipc::ChildRole said) {
  capnp::MallocMessageBuilder b;
  auto h = b.initRoot<ipc::Control>().initHello();
  h.setRole(said);
  h.setName(name);
  h.setGeneration(1);  // its first generation
  const auto words = capnp::messageToFlatArray(b);
  const std::string path = dir + "/" + name + ".hello";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(words.asBytes().begin()),
             static_cast<std::streamsize>(words.asBytes().size()));
  supervisor::ChildSpec spec;
  spec.name = name;
  spec.role = ipc::ChildRole::CHANNEL;
  spec.channel = "telegram";
  spec.exe = "/bin/sh";
  spec.args = {"-c", "/bin/cat " + path + " >&3; exec /bin/sleep 30"};
  return spec;
}

TEST(SupervisorEnums, AHelloWithAnUnknownRoleOrAnotherThanStartedEndsTheChildsLink) {
  const std::string dir = "/tmp/clawgate-ipc-enums-sup-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  boost::asio::io_context io;
  SystemClock clock;
  LogRing ring;
  Logger log(clock, &ring, LogLevel::warn);
  supervisor::SupervisorOptions opts;
  opts.policy.initial_backoff_ms = 60'000;  // no second generation meanwhile
  supervisor::Supervisor sup(io, clock, log, opts);
  sup.start({fake_child("unknown", dir, static_cast<ipc::ChildRole>(7)),
             fake_child("imposter", dir, ipc::ChildRole::FRONT)});
  auto logged = [&](const std::string& text) {
    for (const auto& line : ring.tail(-1, 1000, 1 << 20).lines)
      if (line.find(text) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(run_until(
      io,
      [&] {
        return logged(
                   "unknown: control channel lost: handler failed: hello as unknown role 7, "
                   "started as channel") &&
               logged(
                   "imposter: control channel lost: handler failed: hello as front, started as "
                   "channel");
      }))
      << [&] {
           std::string all;
           for (const auto& line : ring.tail(-1, 1000, 1 << 20).lines) all += line + "\n";
           return all;
         }();
  bool stopped = false;
  sup.stop([&] { stopped = true; });
  EXPECT_TRUE(run_until(io, [&] { return stopped; }));
  std::filesystem::remove_all(dir);
}

// --- the front, from the supervisor's children table

class NullSink final : public core::EventSink {
  void emit(const std::string&, const core::Json&, bool) override {}
  void emit_tool_event(const core::Json&) override {}
  void heartbeat_changed(const core::Json&) override {}
  void channels_changed() override {}
};

TEST(FrontControlEnums, AChildrenTableWithAnUnknownRoleEndsTheControlLink) {
  const std::string dir = "/tmp/clawgate-ipc-enums-front-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  boost::asio::io_context io;
  FakeClock clock;
  Logger log(clock, nullptr, LogLevel::error);
  GatewaySettings settings;
  settings.state_dir = dir;
  NullSink sink;
  {
    core::Core core(io, clock, log, settings, sink);
    int fds[2];
    ipc::make_socketpair(fds);
    std::string stopped;
    front::FrontControl control(
        std::make_unique<ipc::ChildControl>(io, fds[0], ipc::ChildRole::FRONT, "front", 1, 60'000),
        core, [&](const std::string& why) { stopped = why; });
    auto supervisor = ipc::Link::create(io, fds[1], ipc::contract::control_link("test-sup"));
    supervisor->start([](capnp::MessageReader&) {}, [](const std::string&) {});
    control.start(sandbox::Report{});
    auto send_children = [&](ipc::ChildRole role) {
      capnp::MallocMessageBuilder b;
      auto rows = b.initRoot<ipc::Control>().initChildren(1);
      rows[0].setName("telegram");
      rows[0].setRole(role);
      rows[0].setChannel("telegram");
      supervisor->send(b);
    };
    send_children(ipc::ChildRole::CHANNEL);  // in range: taken
    send_children(static_cast<ipc::ChildRole>(9));
    EXPECT_TRUE(run_until(io, [&] { return !stopped.empty(); }));
    EXPECT_EQ(stopped,
              "lost the supervisor (handler failed: children table refused: unknown child role 9)");
    const core::Json rows = core.channels().children_json();
    ASSERT_EQ(rows.size(), 1u) << "the table in range was taken";
    EXPECT_EQ(rows[0]["role"], "channel");
    supervisor->close("test over");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace clawgate
