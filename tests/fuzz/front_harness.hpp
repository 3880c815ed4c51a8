// The fuzz targets' view of the in-process front (tests/inproc/inproc_gateway.hpp: a Gateway
// and its core behind an in-memory Transport, on a FakeClock, polled).
// Building a World costs more than most inputs, so targets share one (shared_world) that is
// rebuilt, in an emptied state directory under /dev/shm, every kInputsPerWorld inputs: state an
// input leaves behind (sessions, cron jobs, limiter buckets) reaches at most that many others.
// A crash that needs that state may not reproduce alone; CLAWGATE_FUZZ_FRESH=1 gives every
// input a fresh World, as when a crash input is replayed by itself.
// Fails: see inproc_gateway.hpp; a harness invariant broken traps; everything else is left to
// the sanitizers.
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

#include "inproc_gateway.hpp"

namespace clawgate::fuzz {

using front::ConnId;
using front::Json;
using inproc::peer_from;
using inproc::World;
using inproc::WorldOptions;

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
    o.state_dir = fuzz_state_dir(i);
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
