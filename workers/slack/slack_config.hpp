// One Slack account's worker settings from its section as the supervisor sends it (the root
// merged with the account): the tokens (the config's, else SLACK_BOT_TOKEN / SLACK_APP_TOKEN for
// the account named default only), the transport (Socket Mode: the app token; HTTP mode: the
// signing secret), the API root, the chunk limit.
// Fails: std::runtime_error naming the key to fix (a missing token or signing secret, a token of
// the wrong kind): the worker exits 78.
#pragma once
#include <string>

#include "config_gen.hpp"
#include "slack_worker.hpp"

namespace clawgate::workers::slack {

// Where an account's section is in the file, for messages: channels.slack for the account
// named default, channels.slack.accounts.<id> for another.
std::string slack_section_path(const std::string& account_id);

SlackConfig slack_config(const cfg::SlackChannel& section, const std::string& state_dir,
                         const std::string& account_id = "default");

}  // namespace clawgate::workers::slack
