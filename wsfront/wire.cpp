// Wire helpers: see wire.hpp.
#include "wire.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "gateway.hpp"
#include "utf8.hpp"

namespace clawgate::front {

namespace {
std::string quote(const std::string& s) {
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}
}  // namespace

std::string response_ok_frame(const std::string& id, const std::string& payload_json) {
  std::string out;
  out.reserve(payload_json.size() + id.size() + 48);
  out += R"({"type":"res","id":)";
  out += quote(id);
  out += R"(,"ok":true,"payload":)";
  out += payload_json;
  out += '}';
  return out;
}

std::string response_error_frame(const std::string& id, const std::string& error_json,
                                 const std::string& payload_json) {
  std::string out = R"({"type":"res","id":)";
  out += quote(id);
  out += R"(,"ok":false,)";
  if (!payload_json.empty()) {
    out += R"("payload":)";
    out += payload_json;
    out += ',';
  }
  out += R"("error":)";
  out += error_json;
  out += '}';
  return out;
}

std::string event_frame(const std::string& event, const std::string& payload_json,
                        std::optional<uint64_t> seq, const std::string* state_version_json) {
  std::string out;
  out.reserve(payload_json.size() + event.size() + 80);
  out += R"({"type":"event","event":)";
  out += quote(event);
  out += R"(,"payload":)";
  out += payload_json;
  if (seq) {
    out += R"(,"seq":)";
    out += std::to_string(*seq);
  }
  if (state_version_json) {
    out += R"(,"stateVersion":)";
    out += *state_version_json;
  }
  out += '}';
  return out;
}

std::string error_json(const Error& e) {
  Json j = {{"code", ipc::protocol_code(e.code)}, {"message", e.message}};
  if (!e.details.is_null()) j["details"] = e.details;
  if (e.retryable) j["retryable"] = true;
  if (e.retry_after_ms > 0) j["retryAfterMs"] = e.retry_after_ms;
  return dump_json(j);
}

std::string truncate_close_reason(const std::string& reason) {
  return utf8::truncate_bytes(reason, 120);  // upstream's limit; never mid-character
}

bool json_depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

bool contains_nul(const Json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      if (it.key().find('\0') != std::string::npos || contains_nul(it.value())) return true;
  } else if (v.is_array()) {
    for (const auto& x : v)
      if (contains_nul(x)) return true;
  }
  return false;
}

bool origin_allowed(const std::string& origin, const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (a == "*" || a == origin) return true;
  std::string o = origin;
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto scheme_end = o.find("://");
  if (scheme_end == std::string::npos) return false;
  const std::string scheme = o.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  std::string host = o.substr(scheme_end + 3);
  host = host.substr(0, host.find('/'));
  if (!host.empty() && host[0] == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host == "localhost" || host == "[::1]") return true;
  if (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0) return true;
  if (host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos)
    return true;
  return false;
}

Json self_presence_entry(const std::string& version, const std::string& instance_id, int64_t ts) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  utsname u{};
  uname(&u);
  const std::string platform = std::string("linux ") + u.release;
  return {{"host", host},
          {"version", version},
          {"platform", platform},
          {"deviceFamily", "Linux"},
          {"mode", "gateway"},
          {"reason", "self"},
          {"instanceId", instance_id},
          {"text",
           std::string("Gateway: ") + host + " · app " + version + " · mode gateway · reason self"},
          {"ts", ts}};
}

}  // namespace clawgate::front
