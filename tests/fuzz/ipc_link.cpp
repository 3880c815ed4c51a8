// Fuzz target: Cap'n Proto messages read by Link, as a peer writes them on the Unix socket (the
// framing, the reader limits and each receiver's dispatch). The first input byte picks the
// receiver and so the schema; the rest are the raw bytes the peer sends before closing:
//   0  the front, from a channel worker   (data.capnp Data, ChannelHub)
//   1  the front, from the agent worker   (agent.capnp AgentMsg, RunManager)
//   2  the front, from the supervisor     (control.capnp Control, ChildControl + FrontControl)
//   3  the Telegram worker, from the front (Data, TelegramWorker)
//   4  the agent worker, from the front   (AgentMsg, AgentWorker with the offline agent)
// The front's receivers run in the shared World (front_harness.hpp) with its authenticated
// client, which has a Telegram send in progress, and a chat run started for the input, so events
// and results have somewhere to go. Each input starts its own run, under a fresh 5-byte id that
// replaces every "run-1" in the input (the name the seeds use), so a run of an earlier input is
// never met. The seeds (seeds.py) include enum values past the end of their enums, which each
// receiver must refuse as its header says.
// Not covered: the supervisor's side of control links (it needs a spawned child).
// Fails: see front_harness.hpp; a Link must end garbage by closing, never by throwing.
#include <fcntl.h>
#include <sys/socket.h>

#include "agent_worker.hpp"
#include "child_control.hpp"
#include "front_control.hpp"
#include "front_harness.hpp"
#include "telegram_worker.hpp"

namespace {

using namespace clawgate;
using namespace clawgate::fuzz;

// Five bytes, as long as "run-1": a new run id for each input of a process.
std::string next_run_id() {
  static const char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  static uint32_t n = 0;
  std::string id = "r";
  for (uint32_t v = n++, i = 0; i < 4; ++i, v /= 62) id += kDigits[v % 62];
  return id;
}

uint32_t next_generation() {
  static uint32_t generation = 0;
  return ++generation;
}

// Writes `bytes` into `fd` as the peer, letting `poll` run the receiver in between (the socket
// buffer is smaller than an input may be), then closes the peer's end and lets the receiver
// read to EOF.
template <typename Poll>
void play_peer(int fd, std::string_view bytes, Poll&& poll) {
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  char sink[65536];
  for (int round = 0; round < 10000; ++round) {
    if (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) bytes.remove_prefix(static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) bytes = {};  // receiver gone
    }
    while (::recv(fd, sink, sizeof sink, 0) > 0) {
    }
    if (bytes.empty()) break;
    poll();
  }
  ::shutdown(fd, SHUT_WR);
  for (int round = 0; round < 64; ++round) {
    while (::recv(fd, sink, sizeof sink, 0) > 0) {
    }
    if (poll() == 0 && round > 2) break;
  }
  ::close(fd);
}

// Each input's run has a session of its own (a run reads its session's history first), and a
// World serves fewer inputs than elsewhere, as each adds a session to the index.
constexpr uint64_t kIpcInputsPerWorld = 50;

void front_side(int which, std::string_view input) {
  World& w = shared_world(AuthMode::token, kIpcInputsPerWorld);
  const ConnId client = w.operator_connection();
  const uint32_t generation = next_generation();
  std::string bytes(input);
  int fds[2];
  ipc::make_socketpair(fds);
  if (which == 0) {
    w.hub().attach_worker(fds[0], "telegram", "telegram", "default", generation);
    w.deliver(client,
              R"({"type":"req","id":"s1","method":"send","params":{"to":"42","message":"hi",)"
              R"("channel":"telegram","idempotencyKey":"send-)" +
                  std::to_string(generation) + R"("}})");
  } else {
    const std::string run = next_run_id();
    for (size_t at = bytes.find("run-1"); at != std::string::npos; at = bytes.find("run-1", at))
      bytes.replace(at, 5, run);
    w.runs().attach_agent(fds[0], generation);
    // Started directly, not through chat.send: the request path is front_frames' to fuzz, and
    // here it cost more than the link under test.
    // (A refusal, say a full queue, leaves the input to meet no run of its own.)
    (void)w.runs().start(*core::SessionKey::parse("agent:main:" + run), "hi", run, {});
  }
  play_peer(fds[1], bytes, [&] {
    w.poll();
    return w.io().poll();
  });
}

void child_side(std::string_view bytes) {
  // The front's end of its control channel (FrontControl, as front_runner.cpp wires it): peers
  // go to the core, the children table to its channel hub, restart results to their callers.
  World& w = shared_world(AuthMode::token, kIpcInputsPerWorld);
  int fds[2];
  ipc::make_socketpair(fds);
  bool stopped = false;
  front::FrontControl control(
      std::make_unique<ipc::ChildControl>(w.io(), fds[0], ipc::ChildRole::FRONT, "front", 1, 1000),
      w.core(), [&stopped](const std::string&) { stopped = true; });
  control.start(sandbox::Report{});
  // A restart in flight, so a restartResult has a caller to answer.
  w.deliver(
      w.operator_connection(),
      R"({"type":"req","id":"x1","method":"channels.restart","params":{"channel":"telegram"}})");
  play_peer(fds[1], bytes, [&] {
    w.poll();
    return w.io().poll();
  });
  (void)w.hub().status_json();
}

void worker_side(int which, std::string_view bytes) {
  boost::asio::io_context io;
  FakeClock clock;
  Logger log(clock, nullptr, LogLevel::error);
  int fds[2];
  ipc::make_socketpair(fds);
  auto poll = [&io] {
    io.restart();
    return io.poll();
  };
  if (which == 3) {
    workers::TelegramConfig cfg;
    cfg.token = "123:fuzz";
    cfg.api_root = "http://127.0.0.1:9";  // never reached: the worker is not started
    cfg.state_dir = fuzz_state_dir();
    workers::TelegramWorker worker(io, log, cfg);
    worker.attach_front(fds[0], 1);
    play_peer(fds[1], bytes, poll);
  } else {
    workers::AgentWorker worker(io, log, std::nullopt, "You are a fuzz target.", 60'000);
    worker.attach_front(fds[0]);
    play_peer(fds[1], bytes, poll);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  init_front_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int which = data[0] % 5;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (which <= 1) {
    front_side(which, bytes);
  } else if (which == 2) {
    child_side(bytes);
  } else {
    worker_side(which, bytes);
  }
  return 0;
}
