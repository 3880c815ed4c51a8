// Child environments: see child_env.hpp.
#include "child_env.hpp"

#include <algorithm>

#include "channel_kinds.hpp"
#include "contract.hpp"

namespace clawgate::supervisor {

namespace {

void copy_var(const Environment& parent, Environment& out, const std::string& key) {
  if (auto it = parent.find(key); it != parent.end()) out[key] = it->second;
}

}  // namespace

Environment allowlisted_environment(const Environment& parent) {
  Environment out;
  for (const char* k : {"PATH", "LANG", "LANGUAGE", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                        "LSAN_OPTIONS", "OPENCLAW_LOG_LEVEL"})
    copy_var(parent, out, k);
  for (const auto& [k, v] : parent)
    if (k.rfind("LC_", 0) == 0) out[k] = v;
  return out;
}

Environment front_environment(const GatewaySettings& s, const Environment& parent) {
  Environment out = allowlisted_environment(parent);
  out[ipc::contract::env::kStateDir] = s.state_dir;
  // Resolved here from flag, environment or file, so the front needs no other source.
  if (!s.token.empty()) out["OPENCLAW_GATEWAY_TOKEN"] = s.token;
  if (!s.password.empty()) out["OPENCLAW_GATEWAY_PASSWORD"] = s.password;
  for (const char* k :
       {"OPENCLAW_GATEWAY_PORT", "CLAWGATE_TICK_INTERVAL_MS", "OPENCLAW_HANDSHAKE_TIMEOUT_MS",
        "CLAWGATE_MAX_BUFFERED_BYTES", "CLAWGATE_TLS_POLL_MS", "OPENCLAW_SKIP_CANVAS_HOST"})
    copy_var(parent, out, k);
  return out;
}

Environment channel_environment(const GatewaySettings& s, const ChannelSettings& c,
                                const Environment& parent) {
  Environment out = allowlisted_environment(parent);
  for (const char* k : {"SSL_CERT_FILE", "SSL_CERT_DIR"}) copy_var(parent, out, k);
  out[ipc::contract::env::kStateDir] = s.state_dir;
  out[ipc::contract::env::kAccountId] = c.account_id;
  // A credential's variable only when the section names none of its keys (the worker's
  // order: the keys, then the variable), and only for the default account (channel_kinds.hpp).
  const ChannelKind* kind = channel_kind(c.name);
  if (kind && c.account_id == "default")
    for (const auto& cred : kind->credentials) {
      const bool own = std::any_of(cred.keys.begin(), cred.keys.end(),
                                   [&](const std::string& k) { return c.section.contains(k); });
      if (!own && !cred.env.empty()) copy_var(parent, out, cred.env);
    }
  return out;
}

Environment agent_environment(const GatewaySettings& s, const Environment& parent) {
  Environment out = allowlisted_environment(parent);
  for (const char* k : {"SSL_CERT_FILE", "SSL_CERT_DIR"}) copy_var(parent, out, k);
  for (const auto& k : provider_key_variables(s.config)) copy_var(parent, out, k);
  return out;
}

}  // namespace clawgate::supervisor
