// ChildControl: see child_control.hpp.
#include "child_control.hpp"
#include "contract.hpp"
#include "names.hpp"

#include <capnp/message.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace clawgate::ipc {

uint64_t self_rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long pages_total = 0, pages_rss = 0;
  const int n = std::fscanf(f, "%llu %llu", &pages_total, &pages_rss);
  std::fclose(f);
  return n == 2 ? pages_rss * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

std::unique_ptr<ChildControl> ChildControl::from_environment(boost::asio::io_context& io,
                                                             ChildRole role) {
  const char* fd = std::getenv(contract::env::kControlFd);
  if (!fd || !*fd) return nullptr;
  const char* name = std::getenv(contract::env::kChildName);
  const char* gen = std::getenv(contract::env::kGeneration);
  const char* hb = std::getenv(contract::env::kHeartbeatMs);
  // Not inherited by anything this child might start.
  ::unsetenv(contract::env::kControlFd);
  return std::make_unique<ChildControl>(io, std::atoi(fd), role, name ? name : name_of(role),
                                        gen ? static_cast<uint32_t>(std::atol(gen)) : 0,
                                        hb ? std::max(50L, std::atol(hb)) : 5000);
}

ChildControl::ChildControl(boost::asio::io_context& io, int fd, ChildRole role, std::string name,
                           uint32_t generation, int64_t heartbeat_ms)
    : link_(Link::create(io, fd, contract::control_link_in_child("control"))),
      role_(role),
      name_(std::move(name)),
      generation_(generation),
      heartbeat_ms_(heartbeat_ms),
      timer_(io) {}

void ChildControl::start(Handlers h) {
  h_ = std::move(h);
  capnp::MallocMessageBuilder b;
  auto hello = b.initRoot<Control>().initHello();
  hello.setRole(role_);
  hello.setName(name_);
  hello.setGeneration(generation_);
  hello.setPid(::getpid());
  link_->send(b);
  link_->start(
      [this](capnp::MessageReader& r) {
        auto msg = r.getRoot<Control>();
        switch (msg.which()) {
          case Control::STOP:
            if (h_.on_stop) h_.on_stop();
            break;
          case Control::RELOAD:
            if (h_.on_config) h_.on_config(msg.getReload());
            break;
          case Control::PEER: {
            const int fd = link_->take_fd();
            if (fd < 0) throw std::runtime_error("peer message without a descriptor");
            if (h_.on_peer) {
              h_.on_peer(fd, msg.getPeer());
            } else {
              ::close(fd);
            }
            break;
          }
          default:
            if (h_.on_other) h_.on_other(msg);
        }
      },
      [this](const std::string& reason) {
        timer_.cancel();
        if (h_.on_lost) h_.on_lost(reason);
      });
  beat();
}

void ChildControl::send_ready() {
  capnp::MallocMessageBuilder b;
  b.initRoot<Control>().setReady();
  link_->send(b);
}

void ChildControl::send_sandbox(const sandbox::Report& r) {
  capnp::MallocMessageBuilder b;
  auto s = b.initRoot<Control>().initSandbox();
  s.setReported(true);
  s.setNoNewPrivs(r.no_new_privs);
  s.setSeccomp(r.seccomp);
  s.setLandlockAbi(static_cast<uint32_t>(r.landlock_abi));
  s.setLandlock(r.landlock);
  auto list = s.initNotApplied(static_cast<unsigned>(r.not_applied.size()));
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, r.not_applied[i]);
  link_->send(b);
}

void ChildControl::beat() {
  capnp::MallocMessageBuilder b;
  auto hb = b.initRoot<Control>().initHeartbeat();
  hb.setSeq(++seq_);
  hb.setRssBytes(self_rss_bytes());
  if (!link_->send(b)) return;
  timer_.expires_after(std::chrono::milliseconds(heartbeat_ms_));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) beat();
  });
}

}  // namespace clawgate::ipc
