// clawgate-front: the WebSocket front as its own executable (the supervisor will run it as a
// child). Flags as `clawgate gateway`. main only parses flags and wires.
#include <iostream>

#include "cli_flags.hpp"
#include "front_runner.hpp"

int main(int argc, char** argv) {
  clawgate::GatewayFlags flags;
  std::string error;
  if (!clawgate::parse_gateway_flags(argc - 1, argv + 1, flags, error)) {
    std::cerr << "clawgate-front: " << error << "\n";
    return 2;
  }
  return clawgate::front::run_front(flags, clawgate::current_environment());
}
