// Connect-time authorisation rules, as pure functions and small stateful policies:
// shared-secret checks (token/password, constant-time), the failed-auth rate limiter per
// normalised client IP, protocol negotiation, and which scopes a device-less client keeps.
// Fails: never throws; every decision is a value the caller turns into a response.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "clock.hpp"
#include "config.hpp"

namespace clawgate::front {

inline constexpr int kMinProtocol = 3;
inline constexpr int kMaxProtocol = 4;

// Highest protocol in [min,max] ∩ [kMinProtocol,kMaxProtocol], or nullopt on no overlap.
std::optional<int> negotiate_protocol(int64_t client_min, int64_t client_max);

// "::ffff:1.2.3.4" -> "1.2.3.4"; strips brackets and IPv6 zone ids; lower-cases.
std::string normalize_ip(const std::string& ip);
bool is_loopback_ip(const std::string& normalized_ip);

struct AuthResult {
  bool ok = false;
  std::string code;    // AUTH_TOKEN_MISSING, AUTH_TOKEN_MISMATCH, ...
  std::string reason;  // token_missing, token_mismatch, ...
  std::string message;
};

// Shared-secret auth (gateway.auth.mode token|password|none).
AuthResult check_shared_secret(AuthMode mode, const std::string& configured_token,
                               const std::string& configured_password,
                               const std::optional<std::string>& token,
                               const std::optional<std::string>& password);

// Failed-attempt limiter: max_attempts failures inside window_ms lock the IP out for lockout_ms.
// Memory is bounded: at most kMaxTracked IPs, the stalest forgotten first.
class AuthRateLimiter {
 public:
  static constexpr size_t kMaxTracked = 10000;
  AuthRateLimiter(const Clock& clock, RateLimitSettings settings) : clock_(clock), s_(settings) {}

  // Milliseconds until this IP may try again; 0 when it may try now.
  int64_t retry_after_ms(const std::string& ip) const;
  void record_failure(const std::string& ip);
  void record_success(const std::string& ip);
  size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    std::vector<int64_t> failures;  // steady ms, within the window
    int64_t locked_until = 0;
    int64_t last_seen = 0;
  };
  bool exempt(const std::string& ip) const { return s_.exempt_loopback && is_loopback_ip(ip); }
  void evict_if_full();
  const Clock& clock_;
  RateLimitSettings s_;
  std::unordered_map<std::string, Entry> entries_;
};

// Operator scopes as upstream names them, and the rules between them.
bool scope_satisfies(const std::vector<std::string>& granted, const std::string& required);

// A client without a device identity keeps its requested scopes only when it is the local CLI
// or a local backend that proved the shared secret (OpenClaw 2026.9 rule); otherwise none.
bool deviceless_keeps_scopes(const std::string& client_id, const std::string& client_mode,
                             bool loopback, bool shared_secret_ok);

// The scopes a device-less operator gets from those it asked for: all of them under the rule
// above; read and write only for the bundled WebChat page (webchat-ui/webchat, local, shared
// secret) until browser device identity lands (upstream's allowInsecureAuth, narrowed); none
// otherwise.
std::vector<std::string> deviceless_scopes(const std::string& client_id,
                                           const std::string& client_mode, bool loopback,
                                           bool shared_secret_ok,
                                           const std::vector<std::string>& requested);

}  // namespace clawgate::front
