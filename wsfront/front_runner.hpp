// Runs the front in the calling process: resolves settings, makes sure a token exists, wires
// the gateway core to the WebSocket transport and serves until SIGTERM/SIGINT.
// Fails: returns 78 for configuration errors (message on stderr), 1 when the port cannot be
// bound; never throws.
#pragma once
#include "config.hpp"

namespace clawgate::front {

int run_front(const GatewayFlags& flags, const Environment& env);

}  // namespace clawgate::front
