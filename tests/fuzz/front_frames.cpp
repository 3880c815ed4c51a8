// Fuzz target: request frames on an authenticated connection (cli/cli, operator.admin, over
// loopback with the token): JSON parse, depth limit, schema validation and the dispatch of
// params to every method the front serves (core, channels, runs, sessions, cron). The input is
// one or more frames separated by 0xFF.
// Fails: see front_harness.hpp.
#include "front_harness.hpp"

namespace {

const char* kConnect =
    R"({"type":"req","id":"c1","method":"connect","params":{"minProtocol":3,"maxProtocol":4,)"
    R"("client":{"id":"cli","version":"1.0.0","platform":"linux","mode":"cli"},)"
    R"("role":"operator","scopes":["operator.admin"],"auth":{"token":"fuzz-token"}}})";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  clawgate::fuzz::init_front_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clawgate::fuzz;
  World w;
  const ConnId id = w.open(peer_from(0));
  w.deliver(id, kConnect);
  if (w.closed(id) || w.frames(id) < 2) __builtin_trap();  // the harness must reach hello-ok
  for_each_frame(std::string_view(reinterpret_cast<const char*>(data), size),
                 [&](std::string frame) { w.deliver(id, std::move(frame)); });
  return 0;
}
