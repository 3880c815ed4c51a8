// Connect-time authorisation rules, as pure functions and small stateful policies:
// shared-secret checks (token/password, constant-time), the failed-auth rate limiter per
// normalised client IP and protocol negotiation. (What a device-less client keeps, and device
// pairing, are pairing_policy.hpp's.)
// Fails: never throws; every decision is a value the caller turns into a response.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "net.hpp"

namespace clawgate::front {

inline constexpr int kMinProtocol = 3;
inline constexpr int kMaxProtocol = 4;

// Highest protocol in [min,max] ∩ [kMinProtocol,kMaxProtocol], or nullopt on no overlap.
std::optional<int> negotiate_protocol(int64_t client_min, int64_t client_max);

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

// Failed-attempt limiter: max_attempts failures inside window_ms lock a bucket out for
// lockout_ms. A bucket is a client IP or a browser origin (see rate_limit_key in peer.hpp);
// `exemptable` buckets are never limited while gateway.auth.rateLimit.exemptLoopback holds.
// Memory is bounded: at most kMaxTracked buckets, the stalest forgotten first.
class AuthRateLimiter {
 public:
  static constexpr size_t kMaxTracked = 10000;
  AuthRateLimiter(const Clock& clock, RateLimitSettings settings) : clock_(clock), s_(settings) {}

  // Milliseconds until this bucket may try again; 0 when it may try now.
  int64_t retry_after_ms(const std::string& key, bool exemptable = false) const;
  void record_failure(const std::string& key, bool exemptable = false);
  void record_success(const std::string& key);
  size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    std::vector<int64_t> failures;  // steady ms, within the window
    int64_t locked_until = 0;
    int64_t last_seen = 0;
  };
  bool exempt(bool exemptable) const { return s_.exempt_loopback && exemptable; }
  void evict_if_full();
  const Clock& clock_;
  RateLimitSettings s_;
  std::unordered_map<std::string, Entry> entries_;
};

// Operator scopes as upstream names them, and the rules between them.
bool scope_satisfies(const std::vector<std::string>& granted, const std::string& required);

// Whether a connection receives a broadcast event. `scope` is the event's required scope (""
// for events every authenticated connection gets); a node receives a scoped event only when
// it is a node event. `known` false (an event missing from the table) is refused: fail closed.
bool event_visible(bool known, std::string_view scope, bool node_event, const std::string& role,
                   const std::vector<std::string>& scopes);

}  // namespace clawgate::front
