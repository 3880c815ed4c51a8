// Where the CLI connects and with what: see target.hpp.
#include "target.hpp"

#include "net.hpp"
#include "tls_files.hpp"
#include "ws_client.hpp"

namespace clawgate::cli {

namespace {

std::string env_get(const Environment& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

}  // namespace

LocalTls read_local_tls(const Environment& env) {
  LocalTls out;
  try {
    cfg::GatewayTls tls;
    if (const auto path = config_path_for(GatewayFlags{}, env)) {
      const ConfigFile f = read_config_file(*path);
      if (!f.issues.has_errors()) tls = f.config.gateway.tls;
    }
    out.enabled = tls.enabled;
    out.cert_path = tls::resolve_tls_paths(tls, resolve_state_dir(env), env).cert;
    out.fingerprint = tls::pem_file_fingerprint(out.cert_path, "gateway.tls.certPath");
  } catch (const std::exception&) {
    // No usable local certificate: no implicit pin; the system CAs decide.
  }
  return out;
}

Target resolve_target(const TargetRequest& r, const Environment& env,
                      const std::function<std::optional<std::string>()>& stored_token,
                      const std::function<LocalTls()>& local_tls) {
  Target t;
  const bool explicit_url = !r.url.empty();
  std::optional<LocalTls> local_gateway;
  auto local = [&]() -> const LocalTls& {
    if (!local_gateway) local_gateway = local_tls ? local_tls() : LocalTls{};
    return *local_gateway;
  };
  t.url = r.url;
  if (t.url.empty()) t.url = env_get(env, "OPENCLAW_GATEWAY_URL");
  if (t.url.empty()) {
    const std::string port = env_get(env, "OPENCLAW_GATEWAY_PORT");
    t.url = std::string(local().enabled ? "wss" : "ws") +
            "://127.0.0.1:" + (port.empty() ? std::string("18789") : port);
  }
  WsUrl parsed;
  try {
    parsed = parse_ws_url(t.url);
  } catch (const WsError& e) {
    throw TargetError(e.what());
  }
  const std::string& host = parsed.host;
  t.local = is_local_host(host.find(':') != std::string::npos ? "[" + host + "]" : host);
  if (!r.tls_fingerprint.empty()) {
    t.tls_fingerprint = tls::normalize_fingerprint(r.tls_fingerprint);
    if (t.tls_fingerprint.empty())
      throw TargetError(
          "--tls-fingerprint must be a SHA-256 certificate fingerprint: 64 hex digits, or 32 "
          "colon-separated pairs, optionally after sha256:");
    if (!parsed.tls)
      throw TargetError("--tls-fingerprint pins a TLS certificate: it needs a wss:// URL, not " +
                        t.url);
    t.tls_pin_source = "--tls-fingerprint";
  } else if (parsed.tls && t.local && !local().fingerprint.empty()) {
    t.tls_fingerprint = local().fingerprint;
    t.tls_pin_source = local().cert_path;
  }
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
