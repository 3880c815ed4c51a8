// The front's protocol core in process for the fuzz targets: a Gateway with the channel hub,
// runs, sessions and cron attached (no worker or agent processes: their links are absent),
// behind an in-memory Transport, on a FakeClock and an io_context that is only polled.
// Building a World costs more than most inputs, so targets share one (shared_world) that is
// rebuilt, in an emptied state directory under /dev/shm, every kInputsPerWorld inputs: state an
// input leaves behind (sessions, cron jobs, limiter buckets) reaches at most that many others.
// A crash that needs that state may not reproduce alone; CLAWGATE_FUZZ_FRESH=1 gives every
// input a fresh World, as when a crash input is replayed by itself.
// Fails: a frame the gateway sends that is not valid JSON (hence not valid UTF-8) or a harness
// invariant broken traps; everything else is left to the sanitizers.
#pragma once
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/core.hpp"
#include "gateway.hpp"

namespace clawgate::fuzz {

using front::ConnId;
using front::Json;

// One state directory per World slot (shared_world keeps one World per auth mode).
inline std::string fuzz_state_dir(int slot = 0) {
  return "/dev/shm/clawgate-fuzz-" + std::to_string(::getpid()) + "-" + std::to_string(slot);
}

// For LLVMFuzzerInitialize: logs go to /dev/null unless CLAWGATE_FUZZ_LOG is set (they cost
// more than the parsing), and the state directory goes when the process exits.
inline void init_front_harness() {
  std::atexit([] {
    std::error_code ec;
    for (int slot = 0; slot < 4; ++slot) std::filesystem::remove_all(fuzz_state_dir(slot), ec);
  });
  if (std::getenv("CLAWGATE_FUZZ_LOG")) return;
  if (FILE* f = std::freopen("/dev/null", "w", stdout)) (void)f;
}

// The Transport seam, in memory: what websocketpp would do with the core's calls.
class FakeTransport final : public front::Transport {
 public:
  struct Conn {
    size_t max_message = 0;
    bool closed = false;
    uint16_t close_code = 0;
    size_t frames = 0;
    std::string last;
  };
  explicit FakeTransport(boost::asio::io_context& io) : io_(io) {}
  front::TransportHandler* handler = nullptr;
  std::unordered_map<ConnId, Conn> conns;

  void send(ConnId id, std::string&& text) override {
    Conn& c = conns[id];
    if (c.closed) __builtin_trap();  // the core sent after closing
    // Every frame goes out as a WebSocket text frame: it must be JSON, so valid UTF-8.
    if (!Json::accept(text)) __builtin_trap();
    ++c.frames;
    c.last = std::move(text);
  }
  void close(ConnId id, uint16_t code, std::string_view reason) override {
    Conn& c = conns[id];
    if (c.closed) return;
    if (reason.size() > 123) __builtin_trap();  // RFC 6455: a close reason fits in 123 bytes
    c.closed = true;
    c.close_code = code;
    // The close handshake finishes later, on the loop, as it does in websocketpp.
    boost::asio::post(io_, [this, id] {
      if (handler) handler->on_close(id);
    });
  }
  size_t buffered_amount(ConnId) const override { return 0; }
  void set_max_message_size(ConnId id, size_t bytes) override { conns[id].max_message = bytes; }
  void stop_listening() override {}

 private:
  boost::asio::io_context& io_;
};

// Peer flags from one input byte: loopback or not, behind a proxy or not, with an Origin.
inline front::PeerInfo peer_from(uint8_t flags) {
  front::PeerInfo p;
  p.socket_ip = (flags & 1) ? "203.0.113.7" : "127.0.0.1";
  if (flags & 2) p.forwarded_for = "198.51.100.9";
  if (flags & 4) p.origin = "http://localhost:18789";
  p.host = "127.0.0.1:18789";
  p.user_agent = "fuzz";
  return p;
}

struct WorldOptions {
  AuthMode auth = AuthMode::token;
  int slot = 0;  // which state directory
};

// Everything front_runner.cpp wires, minus the network and the child processes.
class World {
 public:
  static constexpr const char* kToken = "fuzz-token";
  static constexpr const char* kPassword = "fuzz-password";

  explicit World(WorldOptions o = {}) : log_(clock_, &ring_, LogLevel::error) {
    dir_ = fuzz_state_dir(o.slot);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_);
    front::FrontSettings s;
    s.gateway.state_dir = dir_;
    s.gateway.auth_mode = o.auth;
    s.gateway.token = kToken;
    s.gateway.password = kPassword;
    ChannelSettings tg;
    tg.name = "telegram";
    tg.dm_policy = "open";
    s.gateway.channels.push_back(tg);
    transport_ = std::make_unique<FakeTransport>(io_);
    gateway_ = std::make_unique<front::Gateway>(io_, clock_, log_, ring_, s);
    transport_->handler = gateway_.get();
    gateway_->attach(transport_.get());
    core_ = std::make_unique<core::Core>(io_, clock_, log_, s.gateway, *gateway_);
    gateway_->attach_core(core_.get());
    gateway_->start();
    core_->start();
  }

  ~World() {
    gateway_->attach_core(nullptr);
    core_.reset();
    gateway_.reset();
    transport_.reset();
    // io_ goes last: handlers still queued are destroyed without running.
  }

  // Opens a connection as the transport would (upgrade accepted, then open).
  ConnId open(const front::PeerInfo& peer) {
    const ConnId id = next_id_++;
    transport_->conns[id] = {};
    const auto refusal = gateway_->on_upgrade(id, peer);
    if (refusal.http_status != 0) {
      transport_->conns.erase(id);
      return 0;
    }
    gateway_->on_open(id);
    poll();
    return id;
  }

  // Delivers one frame unless the connection is closed or the frame is over its size limit
  // (websocketpp closes 1009 then, and the core never sees it).
  void deliver(ConnId id, std::string frame, bool binary = false) {
    FakeTransport::Conn& c = transport_->conns[id];
    if (c.closed) return;
    if (frame.size() > c.max_message) {
      transport_->close(id, 1009, "message too big");
    } else {
      gateway_->on_message(id, std::move(frame), binary);
    }
    poll();
  }

  // Closes a connection as a client would and forgets it (shared Worlds would otherwise
  // collect one per input).
  void drop(ConnId id) {
    auto it = transport_->conns.find(id);
    if (it == transport_->conns.end()) return;
    transport_->close(id, 1000, "");
    poll();
    transport_->conns.erase(id);
  }

  // Between inputs: an hour of virtual time, so the failed-auth limiter and other windows an
  // earlier input filled are past and each input meets the same gate.
  void next_input() { clock_.advance(3'600'000); }

  // Runs what is ready now, and lets virtual time pass (timers are not fired: io is polled).
  void poll() {
    io_.restart();
    io_.poll();
    clock_.advance(10);
  }

  bool closed(ConnId id) const { return transport_->conns.at(id).closed; }
  size_t frames(ConnId id) const { return transport_->conns.at(id).frames; }
  const std::string& last_frame(ConnId id) const { return transport_->conns.at(id).last; }
  front::Gateway& gateway() { return *gateway_; }
  core::Core& core() { return *core_; }
  core::ChannelHub& hub() { return core_->channels(); }
  core::RunManager& runs() { return core_->runs(); }
  // The long-lived authenticated connection of a shared World (cli/cli, operator.admin, over
  // loopback with the token), opened again when an input got it closed.
  ConnId operator_connection() {
    static const char* kConnect =
        R"({"type":"req","id":"c1","method":"connect","params":{"minProtocol":3,"maxProtocol":4,)"
        R"("client":{"id":"cli","version":"1.0.0","platform":"linux","mode":"cli"},)"
        R"("role":"operator","scopes":["operator.admin"],"auth":{"token":"fuzz-token"}}})";
    if (operator_ != 0 && !closed(operator_)) return operator_;
    drop(operator_);
    operator_ = open(peer_from(0));
    deliver(operator_, kConnect);
    if (closed(operator_) || frames(operator_) < 2) __builtin_trap();  // must reach hello-ok
    return operator_;
  }
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  FakeClock clock_;
  LogRing ring_;
  Logger log_;
  std::string dir_;
  ConnId next_id_ = 1;
  ConnId operator_ = 0;
  std::unique_ptr<FakeTransport> transport_;
  std::unique_ptr<front::Gateway> gateway_;
  std::unique_ptr<core::Core> core_;
};

inline constexpr uint64_t kInputsPerWorld = 2000;

// The World for this auth mode, rebuilt every `inputs_per_world` inputs (or for every input
// with CLAWGATE_FUZZ_FRESH set).
inline World& shared_world(AuthMode auth = AuthMode::token,
                           uint64_t inputs_per_world = kInputsPerWorld) {
  struct Slot {
    std::unique_ptr<World> world;
    uint64_t inputs = 0;
  };
  static Slot slots[3];
  static const bool fresh = std::getenv("CLAWGATE_FUZZ_FRESH") != nullptr;
  const int i = static_cast<int>(auth) % 3;
  Slot& s = slots[i];
  if (!s.world || fresh || ++s.inputs % inputs_per_world == 0) {
    s.world.reset();  // before the new one empties the directory
    WorldOptions o;
    o.auth = auth;
    o.slot = i;
    s.world = std::make_unique<World>(o);
  }
  s.world->next_input();
  return *s.world;
}

// Frames in one input are separated by 0xFF, a byte no UTF-8 text frame can contain.
template <typename F>
void for_each_frame(std::string_view input, F&& f) {
  size_t pos = 0;
  while (pos <= input.size()) {
    const size_t end = std::min(input.find('\xff', pos), input.size());
    f(std::string(input.substr(pos, end - pos)));
    pos = end + 1;
  }
}

}  // namespace clawgate::fuzz
