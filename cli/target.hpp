// Where a client command (`call`, `health`, `status`, ...) connects, and which credentials it
// may send there. The gateway token saved in the state directory and the ones in the
// environment are for this machine's gateway: they never go to a URL given with --url that
// points elsewhere (only --token/--password do), and nothing is sent over plain ws:// to
// another host unless --dangerously-allow-insecure-ws says so. Local means `localhost` or a
// loopback IP literal, judged from the URL text (no name resolution).
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
  std::string url;                 // --url; "" when not given
  std::string token, password;     // --token, --password; "" when not given
  bool allow_insecure_ws = false;  // --dangerously-allow-insecure-ws
};

struct Target {
  std::string url, token, password;
  bool local = false;
};

// `stored_token` reads the token the local gateway saved; called only when it may be sent.
Target resolve_target(const TargetRequest& request, const Environment& env,
                      const std::function<std::optional<std::string>()>& stored_token);

}  // namespace clawgate::cli
