// The `clawgate gateway` entry point: see run.cpp.
#pragma once
#include "config.hpp"

namespace clawgate::supervisor {

// Runs the supervisor in the foreground until SIGTERM/SIGINT; returns the exit code.
int run_supervisor(const GatewayFlags& flags, const Environment& env);

}  // namespace clawgate::supervisor
