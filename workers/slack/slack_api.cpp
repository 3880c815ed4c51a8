// Slack Web API readers: see slack_api.hpp.
#include "slack_api.hpp"

#include <algorithm>
#include <cctype>

#include "json_text.hpp"
#include "utf8.hpp"

namespace clawgate::workers::slack {

bool ApiAnswer::transient() const {
  if (ok) return false;
  if (http_status == 0 || http_status == 429 || http_status >= 500) return true;
  static const char* const kTransient[] = {"ratelimited",     "internal_error",
                                           "fatal_error",     "service_unavailable",
                                           "request_timeout", "invalid_response"};
  return std::find(std::begin(kTransient), std::end(kTransient), error) != std::end(kTransient);
}

bool ApiAnswer::auth_failure() const {
  if (ok) return false;
  // Token-level refusals only; a missing scope or a channel the bot is not in is the request's.
  static const char* const kAuth[] = {"invalid_auth",  "not_authed",    "account_inactive",
                                      "token_revoked", "token_expired", "not_allowed_token_type"};
  return http_status == 401 ||
         std::find(std::begin(kAuth), std::end(kAuth), error) != std::end(kAuth);
}

ApiAnswer read_api_answer(int http_status, const std::string& retry_after, const std::string& body,
                          const std::string& transport_error) {
  ApiAnswer a;
  a.http_status = http_status;
  if (!transport_error.empty() || http_status == 0) {
    a.error = transport_error.empty() ? "no answer" : utf8::truncate_bytes(transport_error, 256);
    return a;
  }
  if (http_status == 429) {
    // Retry-After is seconds (Slack never sends a date); absent or odd: one second.
    int64_t s = 0;
    size_t digits = 0;
    for (const char c : retry_after) {
      if (c < '0' || c > '9' || ++digits > 6) break;
      s = s * 10 + (c - '0');
    }
    a.retry_after_s = static_cast<int>(std::clamp<int64_t>(digits ? s : 1, 0, 3600));
  }
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) j = Json::parse(repair_json_text(body), nullptr, false);
  if (!j.is_object()) {
    a.error = http_status == 200   ? "invalid_response"
              : http_status == 429 ? "ratelimited"
                                   : "http_" + std::to_string(http_status);
    return a;
  }
  const auto ok = j.find("ok");
  if (http_status == 200 && ok != j.end() && ok->is_boolean() && ok->get<bool>()) {
    a.ok = true;
    a.body = std::move(j);
    return a;
  }
  const auto err = j.find("error");
  a.error = err != j.end() && err->is_string()
                ? utf8::truncate_bytes(utf8::repair(err->get_ref<const std::string&>()), 128)
            : http_status == 200 ? "invalid_response"
                                 : "http_" + std::to_string(http_status);
  if (http_status == 429 && a.error.empty()) a.error = "ratelimited";
  return a;
}

std::string retry_after_of(const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& [name, value] : headers) {
    if (name.size() != 11) continue;
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "retry-after") return value.substr(0, 32);
  }
  return "";
}

std::optional<BotIdentity> read_auth_test(const Json& body) {
  BotIdentity me;
  const auto user = slack_id(body, "user_id");
  if (!user) return std::nullopt;
  me.user_id = *user;
  me.bot_id = slack_id(body, "bot_id").value_or("");
  me.team_id = slack_id(body, "team_id").value_or("");
  const auto name = body.find("user");
  if (name != body.end() && name->is_string())
    me.user_name = utf8::truncate_bytes(utf8::repair(name->get_ref<const std::string&>()), 128);
  return me;
}

std::string read_connection_url(const Json& body, std::string* why) {
  const auto it = body.is_object() ? body.find("url") : body.end();
  if (it == body.end() || !it->is_string()) {
    if (why) *why = "apps.connections.open answered no url";
    return "";
  }
  const std::string& url = it->get_ref<const std::string&>();
  const bool scheme = url.rfind("wss://", 0) == 0 || url.rfind("ws://", 0) == 0;
  const bool clean = std::none_of(url.begin(), url.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
  if (!scheme || !clean || url.size() > 2048) {
    if (why) *why = "apps.connections.open answered an unusable url";
    return "";
  }
  return url;
}

}  // namespace clawgate::workers::slack
