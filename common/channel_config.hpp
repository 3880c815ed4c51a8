// Channel sections as accounts: `channels.<kind>` (OpenClaw's multi-account model) read into one
// ChannelSettings per account, the same way for every kind in the kind table
// (channel_kinds.hpp); what differs per kind is its reader (its typed section, its sender ids,
// its group map) and its credentials (which keys a named account never inherits).
// Fails: nothing is thrown for the file's content; problems are issues with their key paths.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "channel_kinds.hpp"
#include "config.hpp"

namespace clawgate {

// channels.<kind.name> as accounts. Without `accounts` the root is the single account
// "default". With it, one account per entry, each the root with the account's keys laid over
// it key by key (a map such as groups replaces the root's whole). Never inherited: the kind's
// credential keys (the root's serve the account named "default" only, as the environment
// variable does) and enabled (an account runs when the channel and the account are both
// enabled). A root allowFrom without "*" bounds every account: an account's "*" stands for the
// root's list, and its dmPolicy "open" for "allowlist". `section` is the file's JSON of the
// section (checked by the schema already); `kind.read` must be set.
std::vector<ChannelSettings> channel_accounts(const ChannelKind& kind, const cfg::Json& section,
                                              const cfg::Config& c, cfg::Issues& is);

// A sender list as the front matches it: each entry trimmed, the first of `prefixes` it starts
// with (any case) dropped. `problem` says what is wrong with an id ("" when it can match, and
// "*" always can); such entries are kept (the list still counts as configured) but never
// match, with a warning at `path`: the entry, then the problem.
std::vector<std::string> normalise_senders(const std::vector<std::string>& in,
                                           const std::string& path, cfg::Issues& is,
                                           const std::vector<std::string>& prefixes,
                                           std::string (*problem)(const std::string& id));

// OpenClaw's slug of a place's name (Discord guild and channel keys): trimmed and lowercased as
// JavaScript does, a leading '#' dropped, every run of characters other than a-z and 0-9 one
// '-', none at either end ("My Server!" -> "my-server"; a name in another script has none).
std::string place_slug(std::string_view name);

// Slack HTTP mode's webhookPath: "" when the front can serve it, else what is wrong (not a
// plain absolute path, or one of the front's own pages).
std::string webhook_path_problem(const std::string& path);
// Two enabled accounts taking events on one path: an error at the second (the front could not
// tell whose event it is).
void check_webhook_paths(const std::vector<ChannelSettings>& channels, cfg::Issues& is);

// The readers of the kind table.
ChannelSettings read_telegram_section(const cfg::Json& merged, const std::string& where,
                                      const PathOf& path_of, const cfg::Config& c, cfg::Issues& is);
ChannelSettings read_discord_section(const cfg::Json& merged, const std::string& where,
                                     const PathOf& path_of, const cfg::Config& c, cfg::Issues& is);
ChannelSettings read_slack_section(const cfg::Json& merged, const std::string& where,
                                   const PathOf& path_of, const cfg::Config& c, cfg::Issues& is);

}  // namespace clawgate
