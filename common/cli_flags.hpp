// Command-line flags of `clawgate gateway` / `clawgate-front`, parsed into GatewayFlags.
// Fails: returns false with a message for unknown flags or bad values.
#pragma once
#include <string>

#include "config.hpp"

namespace clawgate {

bool parse_gateway_flags(int argc, char** argv, GatewayFlags& out, std::string& error);

}  // namespace clawgate
