// Fuzz target: the frames a client sends from the first one on, before it is authenticated
// (connect handshake frames, then whatever follows). The first input byte picks the peer
// (loopback or remote, behind a proxy, with an Origin), the auth mode and whether the first
// frame is binary; the rest is frames separated by 0xFF.
// Fails: see front_harness.hpp.
#include "front_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  clawgate::fuzz::init_front_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clawgate::fuzz;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  World& w = shared_world(static_cast<clawgate::AuthMode>((flags >> 3) % 3));
  const ConnId id = w.open(peer_from(flags));
  if (id == 0) return 0;
  bool first = true;
  for_each_frame(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
                 [&](std::string frame) {
                   w.deliver(id, std::move(frame), first && (flags & 0x40));
                   first = false;
                 });
  w.drop(id);
  return 0;
}
