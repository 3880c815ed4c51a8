// The `clawgate gateway` entry point: see run.cpp.
#pragma once
#include <string>
#include <vector>

#include "config.hpp"
#include "supervisor.hpp"

namespace clawgate::supervisor {

// The children for settings `s`: the front, the agent worker and one worker per enabled channel
// account, each with its own environment and its part of the config; `dir` holds their
// executables. (The front's config.get snapshot is added by run_supervisor.)
std::vector<ChildSpec> children_for(const GatewaySettings& s, const GatewayFlags& flags,
                                    const Environment& env, const std::string& dir);

// Runs the supervisor in the foreground until SIGTERM/SIGINT; returns the exit code.
int run_supervisor(const GatewayFlags& flags, const Environment& env);

}  // namespace clawgate::supervisor
