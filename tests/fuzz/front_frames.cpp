// Fuzz target: request frames on an authenticated connection (cli/cli, operator.admin, over
// loopback with the token, kept across inputs): JSON parse, depth limit, schema validation and the
// dispatch of params to every method the front serves (core, channels, runs, sessions, cron). The
// input is one or more frames separated by 0xFF. Fails: see front_harness.hpp.
#include "front_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  clawgate::fuzz::init_front_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clawgate::fuzz;
  World& w = shared_world();
  const ConnId id = w.operator_connection();
  for_each_frame(std::string_view(reinterpret_cast<const char*>(data), size),
                 [&](std::string frame) { w.deliver(id, std::move(frame)); });
  return 0;
}
