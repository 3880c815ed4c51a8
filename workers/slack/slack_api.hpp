// Slack Web API answers read as pure functions: {ok, error} bodies with the HTTP status and
// Retry-After, what each failure means to the worker (retry later, a bad token, a bad request),
// and the results the worker uses (auth.test's identity, apps.connections.open's URL).
// Fails: never throws except std::bad_alloc; a body that is not a JSON object is an error
// answer ("invalid_response"), fields of another type are absent.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slack_events.hpp"

namespace clawgate::workers::slack {

struct ApiAnswer {
  bool ok = false;
  int http_status = 0;    // 0: the request never got an answer (transport error)
  std::string error;      // Slack's error code, or "http_<status>", "invalid_response", transport
  int retry_after_s = 0;  // 429: Retry-After (or 1 when absent), at most 3600
  Json body;              // the answer (an object) when ok

  // Worth trying again later: rate limits, 5xx, Slack's own internal errors, the network.
  bool transient() const;
  // The token is wrong, revoked or of the wrong type: configuration, not the network.
  bool auth_failure() const;
};

// An HTTP answer (status, Retry-After header verbatim, body) of `method`; transport failures
// are `transport_error` with status 0.
ApiAnswer read_api_answer(int http_status, const std::string& retry_after, const std::string& body,
                          const std::string& transport_error = "");

// The Retry-After field among an answer's header fields (any case), verbatim; "" when absent.
std::string retry_after_of(const std::vector<std::pair<std::string, std::string>>& headers);

// auth.test's result -> who this bot is; nullopt when user_id is missing or not an id.
std::optional<BotIdentity> read_auth_test(const Json& body);

// apps.connections.open's url: ws:// or wss://, at most 2 KiB, no control characters; "" with
// the reason in *why when it is not one.
std::string read_connection_url(const Json& body, std::string* why);

}  // namespace clawgate::workers::slack
