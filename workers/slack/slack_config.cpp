// Slack worker settings: see slack_config.hpp.
#include "slack_config.hpp"

#include <cstdlib>
#include <stdexcept>

namespace clawgate::workers::slack {

namespace {

// The config's value, else (default account only) the environment's: upstream's rule, and the
// supervisor hands the variables to the default account's worker only.
std::string token(const std::optional<std::string>& configured, const char* env, bool is_default) {
  if (configured && !configured->empty()) return *configured;
  if (is_default)
    if (const char* v = std::getenv(env); v && *v) return v;
  return "";
}

}  // namespace

std::string slack_section_path(const std::string& account_id) {
  return account_id == "default" ? "channels.slack"
                                 : "channels.slack.accounts." + cfg::render_key(account_id);
}

SlackConfig slack_config(const cfg::SlackChannel& s, const std::string& state_dir,
                         const std::string& account_id) {
  // The id names this account's state directory and sandbox: checked again here, not trusted.
  if (const std::string bad = cfg::check_account_id(account_id); !bad.empty())
    throw std::runtime_error(bad);
  const bool is_default = account_id == "default";
  const std::string where = slack_section_path(account_id);
  SlackConfig c;
  c.state_dir = state_dir;
  c.account_id = account_id;
  c.http_mode = s.mode == "http";
  c.bot_token = token(s.bot_token, "SLACK_BOT_TOKEN", is_default);
  const std::string env_note =
      is_default ? "" : " (SLACK_* variables serve the default account only)";
  if (c.bot_token.empty())
    throw std::runtime_error("no Slack bot token: set " + where + ".botToken" +
                             (is_default ? " or SLACK_BOT_TOKEN" : env_note));
  // The two are easy to swap; Slack would refuse either in the other's place.
  if (c.bot_token.rfind("xapp-", 0) == 0)
    throw std::runtime_error(where +
                             ".botToken is an app-level token (xapp-…); it takes the bot "
                             "token (xoxb-…)");
  if (c.http_mode) {
    // Slack signs every request with it; without it no event could be believed.
    c.signing_secret = s.signing_secret.value_or("");
    if (c.signing_secret.empty())
      throw std::runtime_error("no Slack signing secret for HTTP mode: set " + where +
                               ".signingSecret (Basic Information -> App Credentials)");
    c.webhook_path = s.webhook_path;
  } else {
    c.app_token = token(s.app_token, "SLACK_APP_TOKEN", is_default);
    if (c.app_token.empty())
      throw std::runtime_error("no Slack app token for Socket Mode: set " + where + ".appToken" +
                               (is_default ? " or SLACK_APP_TOKEN" : env_note) +
                               " (or mode \"http\" with a signingSecret)");
    if (c.app_token.rfind("xapp-", 0) != 0)
      throw std::runtime_error(where +
                               ".appToken is not an app-level token (xapp-…, with "
                               "connections:write)");
  }
  c.api_root = s.api_root;
  while (!c.api_root.empty() && c.api_root.back() == '/') c.api_root.pop_back();
  c.chunk_limit = static_cast<size_t>(s.text_chunk_limit);
  return c;
}

}  // namespace clawgate::workers::slack
