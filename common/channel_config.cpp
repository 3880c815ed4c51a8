// Channel sections as accounts: see channel_config.hpp. The merge is one function for every
// kind; each kind's reader below turns its typed section into the settings the front applies.
#include "channel_config.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>

#include "utf8.hpp"

namespace clawgate {
namespace {

using Json = cfg::Json;
using cfg::Issue;

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string lower_ascii(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Adds the issues of `from` that `into` does not have yet: a root value every account
// inherits is reported once, not once per account.
void add_new_issues(cfg::Issues& into, const cfg::Issues& from) {
  for (const auto& i : from.items()) {
    const bool seen = std::any_of(into.items().begin(), into.items().end(), [&](const Issue& x) {
      return x.kind == i.kind && x.path == i.path && x.message == i.message;
    });
    if (!seen) into.add(i.kind, i.path, i.message);
  }
}

bool has_star(const Json& list) {
  if (!list.is_array()) return false;
  return std::any_of(list.begin(), list.end(),
                     [](const Json& v) { return v.is_string() && v.get<std::string>() == "*"; });
}

// Any of `keys` set in `section`.
const std::string* credential_in(const Json& section, const std::vector<std::string>& keys) {
  for (const auto& k : keys)
    if (section.contains(k)) return &k;
  return nullptr;
}

// The default account: defaultAccount when it names one, else "default", else the first id.
std::string choose_default(const Json& section, const std::string& base,
                           const std::map<std::string, std::string>& key_of, cfg::Issues& is) {
  const auto named = section.find("defaultAccount");
  const bool has_named = named != section.end() && named->is_string();
  std::string chosen;
  if (has_named) {
    const std::string want = lower_ascii(named->get<std::string>());
    if (key_of.count(want))
      chosen = want;
    else
      is.add(Issue::Kind::warning, base + ".defaultAccount",
             cfg::quote_text(utf8::preview(named->get<std::string>(), 64)) +
                 " names no configured account");
  }
  if (chosen.empty() && key_of.count("default")) chosen = "default";
  if (chosen.empty() && !key_of.empty()) {
    chosen = key_of.begin()->first;
    if (key_of.size() > 1 && !has_named)
      is.add(Issue::Kind::warning, base + ".defaultAccount",
             "is unset with " + std::to_string(key_of.size()) +
                 " accounts and none named default: sends that name no account go through " +
                 cfg::quote_text(chosen) + " (the first id in sorted order)");
  }
  return chosen;
}

}  // namespace

std::vector<std::string> normalise_senders(const std::vector<std::string>& in,
                                           const std::string& path, cfg::Issues& is,
                                           const std::vector<std::string>& prefixes,
                                           std::string (*problem)(const std::string& id)) {
  std::vector<std::string> out;
  for (std::string id : in) {
    while (!id.empty() && id.back() == ' ') id.pop_back();
    while (!id.empty() && id.front() == ' ') id.erase(0, 1);
    const std::string lower = lower_ascii(id);
    for (const std::string& prefix : prefixes)
      if (lower.rfind(prefix, 0) == 0) {
        id = id.substr(prefix.size());
        break;
      }
    if (id != "*")
      if (const std::string why = problem(id); !why.empty())
        is.add(Issue::Kind::warning, path, cfg::quote_text(utf8::preview(id, 48)) + why);
    out.push_back(id);
  }
  return out;
}

std::vector<ChannelSettings> channel_accounts(const ChannelKind& kind, const Json& section,
                                              const cfg::Config& c, cfg::Issues& is) {
  const std::string base = std::string("channels.") + kind.name;
  std::vector<ChannelSettings> out;
  Json root = section;
  for (const char* k : {"accounts", "defaultAccount"}) root.erase(k);
  const auto accounts = section.find("accounts");
  if (accounts == section.end() || !accounts->is_object() || accounts->empty()) {
    out.push_back(kind.read(
        root, base, [&](const char* key) { return base + "." + key; }, c, is));
    out.back().name = kind.name;
    const auto named = section.find("defaultAccount");
    if (named != section.end() && named->is_string() &&
        lower_ascii(named->get<std::string>()) != "default")
      is.add(Issue::Kind::warning, base + ".defaultAccount",
             cfg::quote_text(utf8::preview(named->get<std::string>(), 64)) +
                 " names no account (there is no accounts map: the one account is default)");
    return out;
  }
  const bool channel_enabled = section.value("enabled", true);
  const auto root_allow = section.find("allowFrom");
  const bool root_bounded = root_allow != section.end() && root_allow->is_array() &&
                            !root_allow->empty() && !has_star(*root_allow);
  std::map<std::string, std::string> key_of;  // account id -> the key it was written as
  for (const auto& item : accounts->items()) {
    // Named, not structured bindings: lambdas below capture them (C++17 forbids that).
    const std::string& key = item.key();
    const Json& own = item.value();
    const std::string id = lower_ascii(key);
    const std::string abase = base + ".accounts." + cfg::render_key(key);
    if (auto dup = key_of.find(id); dup != key_of.end()) {
      is.add(Issue::Kind::error, abase,
             "is the same account as " + cfg::quote_text(dup->second) +
                 " (account ids are read in lower case)");
      continue;
    }
    key_of[id] = key;
    Json merged = root;
    merged.erase("enabled");
    if (id != "default")
      for (const auto& cred : kind.credentials)
        for (const auto& k : cred.keys) merged.erase(k);
    for (const auto& [k, v] : own.items())
      if (k != "enabled") merged[k] = v;
    if (root_bounded && own.contains("allowFrom") && has_star(own["allowFrom"])) {
      Json list = Json::array();
      for (const Json& v : own["allowFrom"])
        if (!(v.is_string() && v.get<std::string>() == "*")) list.push_back(v);
      for (const Json& v : *root_allow) list.push_back(v);
      merged["allowFrom"] = list;
      is.add(Issue::Kind::warning, abase + ".allowFrom",
             "\"*\" stands for " + base +
                 ".allowFrom here: a root list without \"*\" bounds every account");
      if (merged.value("dmPolicy", "") == "open") merged["dmPolicy"] = "allowlist";
    }
    auto path_of = [&](const char* k) { return (own.contains(k) ? abase : base) + "." + k; };
    cfg::Issues found;
    ChannelSettings a = kind.read(merged, abase, path_of, c, found);
    add_new_issues(is, found);
    a.name = kind.name;
    a.account_id = id;
    const auto own_enabled = own.find("enabled");
    a.enabled = channel_enabled && (own_enabled == own.end() || !own_enabled->is_boolean() ||
                                    own_enabled->get<bool>());
    if (a.enabled && id != "default")
      for (const auto& cred : kind.credentials)
        if (!credential_in(merged, cred.keys) &&
            (cred.mode.empty() || merged.value("mode", "socket") == cred.mode)) {
          std::string names;
          for (size_t i = 0; i < cred.keys.size(); ++i)
            names += (i ? (i + 1 == cred.keys.size() ? " or " : ", ") : "") + cred.keys[i];
          is.add(Issue::Kind::warning, abase,
                 "has no " + names +
                     " (the root's serve the account named default only): its worker will not "
                     "start");
        }
    out.push_back(std::move(a));
  }
  if (!key_of.count("default"))
    for (const auto& cred : kind.credentials)
      if (const std::string* k = credential_in(section, cred.keys))
        is.add(Issue::Kind::warning, base + "." + *k,
               "serves the account named default only, and accounts has none: no account uses "
               "it");
  const std::string chosen = choose_default(section, base, key_of, is);
  for (auto& a : out) a.default_account_id = chosen;
  return out;
}

// ---------------------------------------------------------------------------------------------
// What every kind's reader does the same way

namespace {

using Senders = std::vector<std::string> (*)(const std::vector<std::string>& in,
                                             const std::string& path, cfg::Issues& is);

// The rows a kind's reader differs by in the common part.
struct SectionRules {
  const char* name;
  Senders senders;      // its sender ids, normalised (allowFrom)
  int default_history;  // historyLimit when unset (the JSON integer maximum selects it)
};

// The account's typed section (any of cfg::*Channel: they share these keys) -> the settings
// every kind has: enabled, dmPolicy, allowFrom, groupPolicy (defaulted from channels.defaults),
// historyLimit (200 at most), and the section itself for the worker. `own` reads the kind's own
// keys (its groups) in between; the warnings and errors every kind has follow.
template <class Section, class Own>
ChannelSettings read_section(Section t, const SectionRules& rules, const PathOf& path_of,
                             const cfg::Config& c, cfg::Issues& is, Own&& own) {
  ChannelSettings out;
  out.name = rules.name;
  out.enabled = t.enabled;
  out.dm_policy = t.dm_policy;
  out.allow_from = rules.senders(t.allow_from, path_of("allowFrom"), is);
  out.group_policy =
      t.group_policy.value_or(c.channels.defaults.group_policy.value_or("allowlist"));
  own(t, out);
  // OpenClaw: the JSON integer maximum selects the default; 200 is the hard ceiling.
  out.history_limit = t.history_limit == 9007199254740991
                          ? rules.default_history
                          : static_cast<int>(std::min<int64_t>(t.history_limit, 200));
  if (out.dm_policy == "allowlist" && out.allow_from.empty())
    is.add(Issue::Kind::warning, path_of("dmPolicy"),
           "is allowlist but allowFrom is empty: every DM is refused");
  // The credentials go with every request: never in clear to another host.
  if (const std::string why = insecure_url_problem(t.api_root, t.dangerously_allow_insecure_http,
                                                   path_of("dangerouslyAllowInsecureHttp"));
      !why.empty())
    is.add(Issue::Kind::error, path_of("apiRoot"), why);
  t.accounts.clear();  // the account's own section: no other account in it
  t.default_account.reset();
  out.section = cfg::to_json(t);
  out.section.erase("accounts");
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Telegram

namespace {

// Telegram sender ids (allowFrom, groupAllowFrom, groups.*.allowFrom) are numeric user ids.
// Anything else (an @username, a chat id) never matches: a username can change hands.
std::string telegram_sender_problem(const std::string& id) {
  if (all_digits(id)) return "";
  if (id.rfind('-', 0) == 0 && all_digits(id.substr(1)))
    return " is a group chat id; it never matches a sender (allow groups under "
           "channels.telegram.groups)";
  return " is not a numeric Telegram user id and never matches (usernames can change hands; use "
         "the numeric id from the pairing reply or getUpdates)";
}

std::vector<std::string> telegram_senders(const std::vector<std::string>& in,
                                          const std::string& path, cfg::Issues& is) {
  return normalise_senders(in, path, is, {"telegram:", "tg:"}, &telegram_sender_problem);
}

// Slack user ids as Slack reports them: U… or W… (Enterprise Grid), upper-case letters and
// digits. Names and @handles can change hands.
std::string slack_sender_problem(const std::string& id) {
  const bool shape =
      id.size() >= 2 && id.size() <= 32 && (id[0] == 'U' || id[0] == 'W') &&
      id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == std::string::npos;
  return shape ? "" : "is not a Slack user id (U… or W…, as Slack reports it)";
}

std::vector<std::string> slack_senders(const std::vector<std::string>& in, const std::string& path,
                                       cfg::Issues& is) {
  return normalise_senders(in, path, is, {"slack:", "user:"}, &slack_sender_problem);
}

}  // namespace

std::string webhook_path_problem(const std::string& path) {
  if (path.size() < 2 || path[0] != '/')
    return "must be a path on the gateway port, starting with / (e.g. /slack/events)";
  for (const char c : path)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          std::strchr("/-._~", c)))
      return "may hold only letters, digits and / - . _ ~ (no query, no escapes)";
  // The front's own pages keep their meaning.
  if (path == "/index.html" || path == "/healthz" || path.rfind("/__openclaw__", 0) == 0)
    return "is one of the gateway's own paths";
  return "";
}

void check_webhook_paths(const std::vector<ChannelSettings>& channels, cfg::Issues& is) {
  std::map<std::string, const ChannelSettings*> taken;
  for (const auto& c : channels) {
    if (!c.enabled || c.webhook_path.empty()) continue;
    auto [it, fresh] = taken.emplace(c.webhook_path, &c);
    if (fresh) continue;
    is.add(Issue::Kind::error,
           "channels." + c.name + ".accounts." + cfg::render_key(c.account_id) + ".webhookPath",
           cfg::quote_text(c.webhook_path) + " is also " + it->second->name + " account " +
               cfg::quote_text(it->second->account_id) +
               "'s: give each HTTP-mode account its own path");
  }
}

// The runtime view of one Slack account: users lists normalised, channels keyed by their ids
// (a thread by its parent's), no group sender fallback to allowFrom (upstream: an allowed
// channel without `users` lets every member in), allowBots on or off.
ChannelSettings read_slack_section(const Json& merged, const std::string& where,
                                   const PathOf& path_of, const cfg::Config& c, cfg::Issues& is) {
  cfg::Issues scratch;  // the file's own parse reported every key already
  return read_section(
      cfg::parse_SlackChannel(merged, where, scratch), {"slack", &slack_senders, 50}, path_of, c,
      is, [&](const cfg::SlackChannel& t, ChannelSettings& out) {
        out.groups_key = "channels";
        out.group_senders_from_allow_from = false;
        out.allow_bots = t.allow_bots ? "on" : "off";
        for (const auto& [id, ch] : t.channels) {
          GroupEntry e;
          e.enabled = ch.enabled;
          e.require_mention = ch.require_mention;
          e.allow_bots = ch.allow_bots;
          if (ch.users)
            e.allow_from = slack_senders(
                *ch.users, path_of("channels") + "." + cfg::render_key(id) + ".users", is);
          out.groups[id] = std::move(e);
        }
        // HTTP mode: the front answers POSTs to this path (webhook_path_problem); distinct per
        // account is checked across accounts (check_webhook_paths).
        if (t.mode == "http") {
          if (const std::string why = webhook_path_problem(t.webhook_path); !why.empty())
            is.add(Issue::Kind::error, path_of("webhookPath"), why);
          else
            out.webhook_path = t.webhook_path;
        }
      });
}

// The runtime view of one Telegram account: sender lists normalised, the group policy
// defaulted from channels.defaults, historyLimit read as upstream does.
ChannelSettings read_telegram_section(const Json& merged, const std::string& where,
                                      const PathOf& path_of, const cfg::Config& c,
                                      cfg::Issues& is) {
  cfg::Issues scratch;  // the file's own parse reported every key already
  return read_section(
      cfg::parse_TelegramChannel(merged, where, scratch), {"telegram", &telegram_senders, 50},
      path_of, c, is, [&](const cfg::TelegramChannel& t, ChannelSettings& out) {
        if (t.group_allow_from)
          out.group_allow_from =
              telegram_senders(*t.group_allow_from, path_of("groupAllowFrom"), is);
        for (const auto& [id, g] : t.groups) {
          GroupEntry e;
          e.enabled = g.enabled;
          e.require_mention = g.require_mention;
          e.group_policy = g.group_policy;
          if (g.allow_from)
            e.allow_from = telegram_senders(
                *g.allow_from, path_of("groups") + "." + cfg::render_key(id) + ".allowFrom", is);
          out.groups[id] = std::move(e);
        }
      });
}

// ---------------------------------------------------------------------------------------------
// Discord

namespace {

// A Discord id: 1 to 20 digits, a value in (0, 2^63).
bool snowflake(const std::string& s) {
  if (!all_digits(s) || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (uint64_t{INT64_MAX} - d) / 10) return false;
    v = v * 10 + d;
  }
  return v > 0;
}

std::string discord_sender_problem(const std::string& id) {
  if (snowflake(id)) return "";
  return " is not a Discord user id (a snowflake) and never matches (names and tags can change "
         "hands; use the id from the pairing reply, or Copy User ID in Developer Mode)";
}

std::string discord_role_problem(const std::string& id) {
  return snowflake(id) ? "" : " is not a Discord role id (a snowflake) and never matches";
}

// Discord sender lists: "discord:" and "user:" prefixes and the mention forms <@id>, <@!id>
// are read as the id.
std::vector<std::string> discord_senders(const std::vector<std::string>& given,
                                         const std::string& path, cfg::Issues& is) {
  std::vector<std::string> in = given;
  for (std::string& id : in) {
    std::string_view v = utf8::trim(id);
    if (v.size() > 3 && v.substr(0, 2) == "<@" && v.back() == '>') {
      v = v.substr(2, v.size() - 3);
      if (!v.empty() && v.front() == '!') v.remove_prefix(1);
      id = std::string(v);
    }
  }
  return normalise_senders(in, path, is, {"discord:", "user:"}, &discord_sender_problem);
}

}  // namespace

std::string place_slug(std::string_view name) {
  // As upstream's normalizeDiscordSlug: trim, JavaScript's toLowerCase, then ASCII only.
  const std::string lowered = utf8::lower(utf8::trim(name));
  std::string_view l = lowered;
  if (!l.empty() && l.front() == '#') l.remove_prefix(1);
  std::string out;
  bool gap = false;
  for (const char ch : l) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
      if (gap && !out.empty()) out += '-';
      out += ch;
      gap = false;
    } else {
      gap = true;  // every byte of a multi-byte code point too: none is a-z or 0-9
    }
  }
  return out;
}

// The runtime view of one Discord account: guilds as groups of channels (access.hpp), sender
// and role lists normalised, allowBots and historyLimit read as upstream does.
ChannelSettings read_discord_section(const Json& merged, const std::string& where,
                                     const PathOf& path_of, const cfg::Config& c, cfg::Issues& is) {
  cfg::Issues scratch;  // the file's own parse reported every key already
  return read_section(
      cfg::parse_DiscordChannel(merged, where, scratch), {"discord", &discord_senders, 20}, path_of,
      c, is, [&](const cfg::DiscordChannel& t, ChannelSettings& out) {
        out.groups_by_group_id = true;
        out.groups_key = "guilds";
        out.group_senders_from_allow_from = false;  // a listed guild without users/roles: everyone
        for (const auto& [id, g] : t.guilds) {
          const std::string gpath = path_of("guilds") + "." + cfg::render_key(id);
          if (id != "*" && !snowflake(id) && place_slug(id) != id)
            is.add(Issue::Kind::warning, gpath,
                   "is neither a guild id nor a slug of its name (\"" + place_slug(id) +
                       "\"): guilds match by id, else by slug, so it never matches");
          GroupEntry e;
          e.enabled = g.enabled;
          e.require_mention = g.require_mention;
          if (g.users) e.allow_from = discord_senders(*g.users, gpath + ".users", is);
          if (g.roles)
            e.roles =
                normalise_senders(*g.roles, gpath + ".roles", is, {"role:"}, &discord_role_problem);
          for (const auto& [cid, ch] :
               g.channels.value_or(std::map<std::string, cfg::DiscordGuildChannel>{})) {
            const std::string cpath = gpath + ".channels." + cfg::render_key(cid);
            if (cid.size() > 1 && cid.front() == '#')
              is.add(Issue::Kind::warning, cpath,
                     "starts with '#': channels match by id, name or slug, never with the '#', so "
                     "it never matches (write \"" +
                         cid.substr(1) + "\")");
            GroupChannelEntry x;
            x.enabled = ch.enabled ? ch.enabled : ch.allow;  // allow: OpenClaw's legacy name
            x.require_mention = ch.require_mention;
            if (ch.users) x.allow_from = discord_senders(*ch.users, cpath + ".users", is);
            e.channels[cid] = std::move(x);
          }
          out.groups[id] = std::move(e);
        }
        const std::string bots = t.allow_bots.value_or("false");
        out.allow_bots = bots == "true" ? "on" : bots == "mentions" ? "mentions" : "off";
        if (out.dm_policy == "open" &&
            std::find(out.allow_from.begin(), out.allow_from.end(), "*") == out.allow_from.end())
          is.add(Issue::Kind::warning, path_of("dmPolicy"),
                 "is open but allowFrom lacks \"*\" (OpenClaw requires it): every sender may DM "
                 "the bot");
      });
}

}  // namespace clawgate
