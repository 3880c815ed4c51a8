// Wire helpers: frame text builders (compact JSON, upstream key order), error objects, close
// reason truncation, the origin policy and cheap pre-parse guards (nesting depth, NUL bytes).
// Pure functions; never throw except std::bad_alloc.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace clawgate::front {

using Json = nlohmann::json;

std::string response_ok_frame(const std::string& id, const std::string& payload_json);
// payload_json: "" for none (upstream sends both on some failures, e.g. agent's final res).
std::string response_error_frame(const std::string& id, const std::string& error_json,
                                 const std::string& payload_json = "");
// seq/state_version are omitted when empty/null (connect.challenge has neither).
std::string event_frame(const std::string& event, const std::string& payload_json,
                        std::optional<uint64_t> seq, const std::string* state_version_json);


std::string error_json(const Error& e);  // ErrorShape

// WebSocket close reasons are limited to 123 bytes; cut on a UTF-8 boundary (upstream: 120).
std::string truncate_close_reason(const std::string& reason);

// True when the JSON text nests arrays/objects no deeper than max_depth (strings are skipped).
bool json_depth_within(std::string_view text, int max_depth);
// True when any string (value or key) contains a NUL character.
bool contains_nul(const Json& v);

// Browser origins: local hosts (localhost, 127.x, [::1]) always; others only when listed in
// gateway.controlUi.allowedOrigins (exact match, or "*").
bool origin_allowed(const std::string& origin, const std::vector<std::string>& allowed);

// The gateway's own presence entry (reason "self").
Json self_presence_entry(const std::string& version, const std::string& instance_id, int64_t ts);

}  // namespace clawgate::front
