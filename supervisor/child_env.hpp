// Child environments: each child kind gets an environment built from scratch, never the
// supervisor's own, so a compromised child holds no secret of another process. A child gets
// a small allowlist (PATH, locale, TZ, sanitizer options, log level), what the supervisor sets for
// the control channel, and only its own secrets: the front the gateway token and password, a
// channel worker its bot token variable, the agent the provider key variables its config names.
// Fails: never; a variable the parent does not have is simply absent.
#pragma once
#include "config.hpp"

namespace clawgate::supervisor {

// What every child may see of the parent's environment.
Environment allowlisted_environment(const Environment& parent);

Environment front_environment(const GatewaySettings& s, const Environment& parent);
Environment channel_environment(const GatewaySettings& s, const ChannelSettings& c,
                                const Environment& parent);
Environment agent_environment(const GatewaySettings& s, const Environment& parent);

}  // namespace clawgate::supervisor
