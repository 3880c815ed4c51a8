// Where a client command (`call`, `health`, `status`, ...) connects, and which credentials it
// may send there. The gateway token saved in the state directory and the ones in the
// environment are for this machine's gateway: they never go to a URL given with --url that
// points elsewhere (only --token/--password do), and nothing is sent over plain ws:// to
// another host unless --dangerously-allow-insecure-ws says so. Local means `localhost` or a
// loopback IP literal, judged from the URL text (no name resolution).
// wss:// verifies the gateway's certificate: against --tls-fingerprint when given, else, for a
// local URL, against the certificate file of this machine's gateway (only its public half is
// read, as upstream's CLI does), else against the system CA store. With no URL anywhere, the
// local gateway's own config decides between ws:// and wss:// (gateway.tls.enabled).
// Fails: TargetError (a usage error: the CLI exits 2) with the reason and the way out.
#pragma once
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "config.hpp"

namespace clawgate::cli {

class TargetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TargetRequest {
  std::string url;                   // --url; "" when not given
  std::string token, password;       // --token, --password; "" when not given
  bool allow_insecure_ws = false;    // --dangerously-allow-insecure-ws
  std::string tls_fingerprint = {};  // --tls-fingerprint, as typed; "" when not given
};

struct Target {
  std::string url, token, password;
  bool local = false;
  std::string tls_fingerprint;  // normalized (tls_files.hpp); "" = verify with the system CAs
  std::string tls_pin_source;   // "--tls-fingerprint" or the certificate file it was read from
};

// What this machine's gateway says about TLS (the config named by the environment, else the
// defaults): read only when needed.
struct LocalTls {
  bool enabled = false;     // gateway.tls.enabled
  std::string cert_path;    // where its certificate is (certPath or the state dir's default)
  std::string fingerprint;  // of that file; "" when it cannot be read
};
LocalTls read_local_tls(const Environment& env);

// `stored_token` reads the token the local gateway saved; called only when it may be sent.
// `local_tls` (empty: no local gateway) is asked only for a default URL or a local wss:// one.
Target resolve_target(const TargetRequest& request, const Environment& env,
                      const std::function<std::optional<std::string>()>& stored_token,
                      const std::function<LocalTls()>& local_tls = {});

}  // namespace clawgate::cli
