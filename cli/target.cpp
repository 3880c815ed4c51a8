// Where the CLI connects and with what: see target.hpp.
#include "target.hpp"

#include "net.hpp"
#include "ws_client.hpp"

namespace clawgate::cli {

namespace {

std::string env_get(const Environment& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

}  // namespace

Target resolve_target(const TargetRequest& r, const Environment& env,
                      const std::function<std::optional<std::string>()>& stored_token) {
  Target t;
  const bool explicit_url = !r.url.empty();
  t.url = r.url;
  if (t.url.empty()) t.url = env_get(env, "OPENCLAW_GATEWAY_URL");
  if (t.url.empty()) {
    const std::string port = env_get(env, "OPENCLAW_GATEWAY_PORT");
    t.url = "ws://127.0.0.1:" + (port.empty() ? std::string("18789") : port);
  }
  std::string host;
  try {
    host = parse_ws_url(t.url).host;
  } catch (const WsError& e) {
    throw TargetError(e.what());
  }
  t.local = is_local_host(host.find(':') != std::string::npos ? "[" + host + "]" : host);
  if (!t.local && t.url.rfind("ws://", 0) == 0 && !r.allow_insecure_ws)
    throw TargetError("refusing to talk to " + host +
                      " over plain ws://: the credentials would cross the network unencrypted. "
                      "Use an SSH tunnel (ssh -N -L 18789:127.0.0.1:18789 " +
                      host +
                      ", then --url ws://127.0.0.1:18789), or pass "
                      "--dangerously-allow-insecure-ws on a network you trust");

  t.token = r.token;
  t.password = r.password;
  if (!t.token.empty() || !t.password.empty()) return t;
  if (explicit_url && !t.local)
    throw TargetError(
        "--url points at another host: pass --token or --password explicitly "
        "(the saved and environment credentials are only sent to this machine)");
  // The environment's pair (URL and secret) was set up together; the saved token belongs to
  // the gateway on this machine and goes nowhere else.
  t.token = env_get(env, "OPENCLAW_GATEWAY_TOKEN");
  if (t.token.empty()) t.token = env_get(env, "CLAWGATE_GATEWAY_TOKEN");
  t.password = env_get(env, "OPENCLAW_GATEWAY_PASSWORD");
  if (t.token.empty() && t.password.empty() && t.local) {
    if (auto saved = stored_token()) t.token = *saved;
  }
  return t;
}

}  // namespace clawgate::cli
