// Connect-time authorisation rules: see auth.hpp.
#include "auth.hpp"

#include <algorithm>
#include <cctype>

#include "crypto.hpp"

namespace clawgate::front {

std::optional<int> negotiate_protocol(int64_t client_min, int64_t client_max) {
  const int64_t hi = std::min<int64_t>(client_max, kMaxProtocol);
  const int64_t lo = std::max<int64_t>(client_min, kMinProtocol);
  if (hi < lo) return std::nullopt;
  return static_cast<int>(hi);
}

AuthResult check_shared_secret(AuthMode mode, const std::string& configured_token,
                               const std::string& configured_password,
                               const std::optional<std::string>& token,
                               const std::optional<std::string>& password) {
  AuthResult r;
  switch (mode) {
    case AuthMode::none:
      r.ok = true;
      return r;
    case AuthMode::token:
      if (configured_token.empty()) {
        r = {false, "AUTH_TOKEN_NOT_CONFIGURED", "token_missing_config",
             "unauthorized: gateway token not configured on the gateway (set gateway.auth.token)"};
      } else if (!token || token->empty()) {
        r = {false, "AUTH_TOKEN_MISSING", "token_missing",
             "unauthorized: gateway token missing (set gateway.remote.token to match "
             "gateway.auth.token)"};
      } else if (!secrets_equal(*token, configured_token)) {
        r = {false, "AUTH_TOKEN_MISMATCH", "token_mismatch",
             "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair "
             "the "
             "device)"};
      } else {
        r.ok = true;
      }
      return r;
    case AuthMode::password:
      if (configured_password.empty()) {
        r = {false, "AUTH_PASSWORD_NOT_CONFIGURED", "password_missing_config",
             "unauthorized: gateway password not configured on the gateway"};
      } else if (!password || password->empty()) {
        r = {false, "AUTH_PASSWORD_MISSING", "password_missing",
             "unauthorized: gateway password missing (set gateway.remote.password)"};
      } else if (!secrets_equal(*password, configured_password)) {
        r = {false, "AUTH_PASSWORD_MISMATCH", "password_mismatch",
             "unauthorized: gateway password mismatch"};
      } else {
        r.ok = true;
      }
      return r;
  }
  return r;
}

int64_t AuthRateLimiter::retry_after_ms(const std::string& key, bool exemptable) const {
  if (exempt(exemptable)) return 0;
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  const int64_t now = clock_.steady_ms();
  return it->second.locked_until > now ? it->second.locked_until - now : 0;
}

void AuthRateLimiter::evict_if_full() {
  if (entries_.size() < kMaxTracked) return;
  auto stalest = std::min_element(
      entries_.begin(), entries_.end(),
      [](const auto& a, const auto& b) { return a.second.last_seen < b.second.last_seen; });
  entries_.erase(stalest);
}

void AuthRateLimiter::record_failure(const std::string& key, bool exemptable) {
  if (exempt(exemptable)) return;
  const int64_t now = clock_.steady_ms();
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    evict_if_full();
    it = entries_.emplace(key, Entry{}).first;
  }
  Entry& e = it->second;
  e.last_seen = now;
  auto& f = e.failures;
  f.erase(std::remove_if(f.begin(), f.end(), [&](int64_t t) { return now - t >= s_.window_ms; }),
          f.end());
  f.push_back(now);
  if (static_cast<int>(f.size()) >= s_.max_attempts) {
    e.locked_until = now + s_.lockout_ms;
    f.clear();
  }
}

void AuthRateLimiter::record_success(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.locked_until <= clock_.steady_ms()) entries_.erase(it);
}

bool scope_satisfies(const std::vector<std::string>& granted, const std::string& required) {
  for (const auto& g : granted) {
    if (g == required || g == "operator.admin") return true;
    if (required == "operator.read" && g == "operator.write") return true;
  }
  return false;
}

bool event_visible(bool known, std::string_view scope, bool node_event, const std::string& role,
                   const std::vector<std::string>& scopes) {
  if (!known) return false;
  if (scope.empty()) return true;
  if (role != "operator") return role == "node" && node_event;
  return scope_satisfies(scopes, std::string(scope));
}

}  // namespace clawgate::front
