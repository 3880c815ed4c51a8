// The `clawgate gateway` entry point: see run.cpp.
#pragma once
#include <string>
#include <vector>

#include "config.hpp"
#include "supervisor.hpp"

namespace clawgate::supervisor {

// The children for settings `s`: the front, the agent worker and one worker per enabled channel
// account, each with its own environment and its part of the config (the front: config.get's
// snapshot, keyed with `hash_key`, from which it also reads its settings); `dir` holds their
// executables.
std::vector<ChildSpec> children_for(const GatewaySettings& s, const GatewayFlags& flags,
                                    const Environment& env, const std::string& dir,
                                    const std::string& hash_key);

// Runs the supervisor in the foreground until SIGTERM/SIGINT; returns the exit code.
int run_supervisor(const GatewayFlags& flags, const Environment& env);

}  // namespace clawgate::supervisor
