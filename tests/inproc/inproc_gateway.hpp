// The whole front in process: a Gateway and its core (sessions, runs, cron, channel hub)
// behind an in-memory Transport, on a FakeClock and the caller's thread, with real files in a
// state directory of the caller's choosing. Worker and agent links are socketpairs the test (or
// an in-process worker) holds the other end of. The fuzz targets and the in-process tests
// (tests/inproc) drive the gateway through it exactly as websocketpp would.
// Fails: a frame the gateway sends that is not valid JSON (hence not valid UTF-8), a send after
// close or an over-long close reason traps: each is a bug in the gateway, not in the test.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config_view.hpp"
#include "core/core.hpp"
#include "gateway.hpp"

namespace clawgate::inproc {

using front::ConnId;
using front::Json;

// A peer from flag bits: loopback or not (1), behind a proxy (2), with a browser Origin (4).
inline front::PeerInfo peer_from(uint8_t flags) {
  front::PeerInfo p;
  p.socket_ip = (flags & 1) ? "203.0.113.7" : "127.0.0.1";
  if (flags & 2) p.forwarded_for = "198.51.100.9";
  if (flags & 4) p.origin = "http://localhost:18789";
  p.host = "127.0.0.1:18789";
  p.user_agent = "fuzz";
  return p;
}

// The Transport seam, in memory: what websocketpp would do with the core's calls.
class FakeTransport final : public front::Transport {
 public:
  struct Conn {
    size_t max_message = 0;
    bool closed = false;
    uint16_t close_code = 0;
    std::string close_reason;
    size_t frames = 0;
    std::string last;
    std::vector<std::string> all;  // with keep_frames
  };
  explicit FakeTransport(boost::asio::io_context& io) : io_(io) {}
  front::TransportHandler* handler = nullptr;
  bool keep_frames = false;
  std::unordered_map<ConnId, Conn> conns;
  // Sees every frame sent (after it is recorded), e.g. a fake node answering its requests. It
  // must not call back into the gateway directly: it posts what it does to the loop.
  std::function<void(ConnId, const std::string&)> on_send;

  void send(ConnId id, std::string&& text) override {
    Conn& c = conns[id];
    if (c.closed) __builtin_trap();  // the core sent after closing
    // Every frame goes out as a WebSocket text frame: it must be JSON, so valid UTF-8.
    if (!Json::accept(text)) __builtin_trap();
    ++c.frames;
    if (keep_frames) c.all.push_back(text);
    if (on_send) on_send(id, text);
    c.last = std::move(text);
  }
  void close(ConnId id, uint16_t code, std::string_view reason) override {
    Conn& c = conns[id];
    if (c.closed) return;
    if (reason.size() > 123) __builtin_trap();  // RFC 6455: a close reason fits in 123 bytes
    c.closed = true;
    c.close_code = code;
    c.close_reason = std::string(reason);
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

struct WorldOptions {
  std::string state_dir;  // emptied (unless keep_state), then used; required
  AuthMode auth = AuthMode::token;
  bool keep_frames = false;  // keep every frame each connection got (tests), not only the last
  bool auto_approve_local = true;  // gateway.nodes.pairing.autoApproveLocal
  bool keep_state = false;         // start on what the directory holds (a restarted front)
};

// Everything front_runner.cpp wires, minus the network and the child processes.
class World {
 public:
  static constexpr const char* kToken = "fuzz-token";
  static constexpr const char* kPassword = "fuzz-password";

  explicit World(WorldOptions o) : log_(clock_, &ring_, LogLevel::error) {
    dir_ = o.state_dir;
    std::error_code ec;
    if (!o.keep_state) std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_);
    front::FrontSettings s;
    s.gateway.state_dir = dir_;
    s.gateway.auth_mode = o.auth;
    s.gateway.token = kToken;
    s.gateway.password = kPassword;
    s.gateway.config.gateway.nodes.pairing.auto_approve_local = o.auto_approve_local;
    ChannelSettings tg;
    tg.name = "telegram";
    tg.dm_policy = "open";
    s.gateway.channels.push_back(tg);
    // What config.get answers, as front_runner.cpp makes it (no file: the defaults).
    s.config_snapshot = config_snapshot(&s.gateway, nullptr, "inproc-hash-key");
    transport_ = std::make_unique<FakeTransport>(io_);
    transport_->keep_frames = o.keep_frames;
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

  // Runs the loop (timers included) until `done` holds or `ms` of real time passed; returns
  // whether it held. For what happens on real timers: agent streaming, retries.
  bool run_until(const std::function<bool()>& done, int ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
      clock_.advance(5);
    }
    return true;
  }

  // Sends a request frame and returns its id.
  std::string request(ConnId id, const std::string& method, const Json& params) {
    const std::string rid = "r" + std::to_string(++request_seq_);
    deliver(id, Json{{"type", "req"}, {"id", rid}, {"method", method}, {"params", params}}.dump());
    return rid;
  }
  // The frames a connection got so far (keep_frames), parsed.
  std::vector<Json> received(ConnId id) const {
    std::vector<Json> out;
    for (const auto& f : transport_->conns.at(id).all) out.push_back(Json::parse(f));
    return out;
  }
  // The response to request `rid`, or null while there is none.
  Json response(ConnId id, const std::string& rid) const {
    for (const auto& f : received(id))
      if (f.value("type", "") == "res" && f.value("id", "") == rid) return f;
    return nullptr;
  }

  bool closed(ConnId id) const { return transport_->conns.at(id).closed; }
  uint16_t close_code(ConnId id) const { return transport_->conns.at(id).close_code; }
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
  FakeClock& clock() { return clock_; }
  FakeTransport::Conn& transport_conn(ConnId id) { return transport_->conns.at(id); }
  FakeTransport& transport() { return *transport_; }

 private:
  boost::asio::io_context io_;
  FakeClock clock_;
  LogRing ring_;
  Logger log_;
  std::string dir_;
  ConnId next_id_ = 1;
  uint64_t request_seq_ = 0;
  ConnId operator_ = 0;
  std::unique_ptr<FakeTransport> transport_;
  std::unique_ptr<front::Gateway> gateway_;
  std::unique_ptr<core::Core> core_;
};

}  // namespace clawgate::inproc
