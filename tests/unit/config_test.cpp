// Unit tests: config precedence (flag > env > file > default), comments, key-naming errors,
// and the channels / session sections (telegram settings, other channels, dmScope).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "state.hpp"

namespace clawgate {
namespace {

// An account's worker section as Telegram's typed settings (ChannelSettings holds it as JSON).
cfg::TelegramChannel telegram_section(const ChannelSettings& c) {
  cfg::Issues is;
  return cfg::parse_TelegramChannel(c.section, "", is);
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/clawgate-config-XXXXXX";
  const int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

Environment base_env() {
  return {{"HOME", "/tmp"}, {"CLAWGATE_STATE_DIR", "/tmp/cg-state"}};
}

TEST(Config, DefaultsWithoutAFile) {
  const GatewaySettings s = resolve_gateway_settings({}, base_env());
  EXPECT_EQ(s.port, 18789);
  EXPECT_EQ(s.bind_address, "127.0.0.1");
  EXPECT_EQ(s.auth_mode, AuthMode::token);
  EXPECT_TRUE(s.token.empty()) << "generated later in the state dir";
  EXPECT_EQ(s.state_dir, "/tmp/cg-state");
}

TEST(Config, FileWithCommentsAndPrecedence) {
  const std::string path = write_temp(R"({
    // OpenClaw key names
    "gateway": { "port": 19000, "bind": "lan", "auth": { "token": "from-file" } },
    "channels": {}, "somethingElse": 1
  })");
  Environment env = base_env();
  GatewayFlags flags;
  flags.config_path = path;
  GatewaySettings s = resolve_gateway_settings(flags, env);
  EXPECT_EQ(s.port, 19000);
  EXPECT_EQ(s.bind_address, "0.0.0.0");
  EXPECT_EQ(s.token, "from-file");
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0], "unknown config key: somethingElse");

  env["OPENCLAW_GATEWAY_TOKEN"] = "from-env";
  env["OPENCLAW_GATEWAY_PORT"] = "19001";
  s = resolve_gateway_settings(flags, env);
  EXPECT_EQ(s.token, "from-env");
  EXPECT_EQ(s.port, 19001);
  flags.token = "from-flag";
  flags.port = 19002;
  s = resolve_gateway_settings(flags, env);
  EXPECT_EQ(s.token, "from-flag");
  EXPECT_EQ(s.port, 19002);
}

TEST(Config, ErrorsNameTheKey) {
  GatewayFlags flags;
  flags.config_path = write_temp(R"({"gateway":{"port":"eighty"}})");
  try {
    resolve_gateway_settings(flags, base_env());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("gateway.port"), std::string::npos) << e.what();
  }
  flags.config_path = write_temp(R"({"gateway":{"auth":{"mode":"magic"}}})");
  EXPECT_THROW(resolve_gateway_settings(flags, base_env()), ConfigError);
  flags.config_path = write_temp("{ not json");
  EXPECT_THROW(resolve_gateway_settings(flags, base_env()), ConfigError);
  flags.config_path = "/nonexistent/clawgate.json";
  EXPECT_THROW(resolve_gateway_settings(flags, base_env()), ConfigError);
}

// Found by fuzz_config_text: a number too large for a double is nlohmann's out_of_range, not a
// parse_error; it escaped as a bare json exception instead of a ConfigError.
TEST(Config, NumberOutOfRangeIsAConfigError) {
  for (const char* text : {R"({"gateway": {"port": 1e999}})", R"({"x": -2e400})",
                           "979999999999990000003181795799e99900000000179116318369"}) {
    GatewaySettings s;
    std::string token, password;
    try {
      apply_config_text(text, "c.json", s, &token, &password);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("c.json: not valid JSON"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Config, PasswordOnlyMeansPasswordModeAndNoneNeedsLoopback) {
  Environment env = base_env();
  env["OPENCLAW_GATEWAY_PASSWORD"] = "pw";
  EXPECT_EQ(resolve_gateway_settings({}, env).auth_mode, AuthMode::password);
  GatewayFlags flags;
  flags.config_path = write_temp(R"({"gateway":{"bind":"lan","auth":{"mode":"none"}}})");
  EXPECT_THROW(resolve_gateway_settings(flags, base_env()), ConfigError);
}

// Parses `text` as a config file; throws ConfigError like the real thing.
GatewaySettings apply(const std::string& text) {
  GatewaySettings s;
  std::string token, password;
  apply_config_text(text, "test.json", s, &token, &password);
  return s;
}

// The ConfigError message for `text`, or "" when it parses.
std::string config_error(const std::string& text) {
  try {
    apply(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool has_warning(const GatewaySettings& s, const std::string& part) {
  for (const auto& w : s.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

TEST(Config, TelegramChannelSettings) {
  const GatewaySettings s = apply(R"({
    "channels": {
      "telegram": {
        "enabled": false,
        "botToken": "123:abc",
        "dmPolicy": "allowlist",
        "allowFrom": [123456789, 9007199254740, "@alice"],  // numbers as Telegram gives them
        "apiRoot": "http://127.0.0.1:8081",
        "pollTimeoutSeconds": 20
      }
    }
  })");
  ASSERT_EQ(s.channels.size(), 1u);
  const ChannelSettings& c = s.channels[0];
  EXPECT_EQ(c.name, "telegram");
  EXPECT_EQ(c.account_id, "default");
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.dm_policy, "allowlist");
  EXPECT_EQ(c.allow_from, (std::vector<std::string>{"123456789", "9007199254740", "@alice"}));
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("\"@alice\""), std::string::npos) << s.warnings[0];
  EXPECT_NE(s.warnings[0].find("usernames can change hands"), std::string::npos) << s.warnings[0];
  EXPECT_EQ(telegram_section(c).bot_token.value_or(""), "123:abc") << "the worker's section";
  EXPECT_EQ(telegram_section(c).poll_timeout_seconds, 20);

  // Defaults: enabled, pairing.
  const GatewaySettings d = apply(R"({"channels":{"telegram":{}}})");
  ASSERT_EQ(d.channels.size(), 1u);
  EXPECT_TRUE(d.channels[0].enabled);
  EXPECT_EQ(d.channels[0].dm_policy, "pairing");
  EXPECT_TRUE(apply("{}").channels.empty());
}

// channels.telegram.accounts: each account is the root with its own keys laid over it, key by
// key (docs/channels/telegram.md, access-control.md): omitted policies and lists inherit the
// root; a map (groups) replaces the root's whole; tokens and enabled are never inherited.
TEST(Config, TelegramAccountsInheritTheChannelRoot) {
  const GatewaySettings s = apply(R"({"channels": {"telegram": {
    "botToken": "100:root-token",
    "apiRoot": "http://127.0.0.1:8081",
    "dmPolicy": "allowlist",
    "allowFrom": [111, "tg:222"],
    "groupPolicy": "open",
    "groups": {"-1001": {"requireMention": false}, "*": {}},
    "historyLimit": 20,
    "pollTimeoutSeconds": 5,
    "defaultAccount": "Beta",
    "accounts": {
      "default": {"historyLimit": 7},
      "Alpha": {"botToken": "200:alpha-token", "dmPolicy": "pairing", "groups": {}},
      "beta": {"tokenFile": "/run/secrets/beta 🔑", "allowFrom": [333], "enabled": false},
      "gamma_2": {"botToken": "300:gamma-token", "groups": {"-1002": {"allowFrom": [444]}}}
    }}}})");
  ASSERT_EQ(s.channels.size(), 4u);
  auto get = [&](const std::string& id) -> const ChannelSettings& {
    const ChannelSettings* c = find_account(s.channels, "telegram", id);
    EXPECT_NE(c, nullptr) << id;
    return *c;
  };
  const ChannelSettings &def = get("default"), &alpha = get("alpha"), &beta = get("beta"),
                        &gamma = get("gamma_2");
  EXPECT_EQ(worker_name(def), "telegram");
  EXPECT_EQ(worker_name(alpha), "telegram:alpha") << "ids are read in lower case";
  for (const auto& c : s.channels) EXPECT_EQ(c.default_account_id, "beta");
  EXPECT_EQ(find_account(s.channels, "telegram", "")->account_id, "beta") << "defaultAccount";
  EXPECT_EQ(find_account(s.channels, "telegram", "delta"), nullptr);

  // Inherited where unset, the account's own where set.
  EXPECT_EQ(def.dm_policy, "allowlist");
  EXPECT_EQ(def.allow_from, (std::vector<std::string>{"111", "222"}));
  EXPECT_EQ(def.history_limit, 7);
  EXPECT_EQ(alpha.dm_policy, "pairing");
  EXPECT_EQ(alpha.allow_from, def.allow_from);
  EXPECT_EQ(alpha.group_policy, "open");
  EXPECT_EQ(alpha.history_limit, 20);
  EXPECT_TRUE(alpha.groups.empty()) << "groups: {} shares none of the root's groups";
  EXPECT_EQ(beta.allow_from, (std::vector<std::string>{"333"}));
  EXPECT_EQ(beta.dm_policy, "allowlist");
  ASSERT_EQ(gamma.groups.size(), 1u) << "a groups map replaces the root's whole, not merged";
  EXPECT_EQ(gamma.groups.begin()->first, "-1002");
  EXPECT_EQ(def.groups.size(), 2u);
  EXPECT_EQ(def.groups.at("-1001").require_mention, false);

  // enabled: the account's own (default true) and the channel's.
  EXPECT_TRUE(def.enabled);
  EXPECT_TRUE(alpha.enabled);
  EXPECT_FALSE(beta.enabled);

  // Each worker's section: the merged keys, its own token only, no other account's (the
  // message each worker is sent of it: child_config_test.cpp).
  for (const auto& c : s.channels) {
    EXPECT_TRUE(telegram_section(c).accounts.empty()) << c.account_id;
    EXPECT_FALSE(telegram_section(c).default_account) << c.account_id;
    EXPECT_EQ(telegram_section(c).api_root, "http://127.0.0.1:8081") << c.account_id;
    EXPECT_EQ(telegram_section(c).poll_timeout_seconds, 5) << c.account_id;
    const std::string token = telegram_section(c).bot_token.value_or("");
    const std::string file = telegram_section(c).token_file.value_or("");
    const std::map<std::string, std::pair<std::string, std::string>> want = {
        {"default", {"100:root-token", ""}},
        {"alpha", {"200:alpha-token", ""}},
        {"beta", {"", "/run/secrets/beta 🔑"}},
        {"gamma_2", {"300:gamma-token", ""}}};
    EXPECT_EQ(std::make_pair(token, file), want.at(c.account_id)) << c.account_id;
  }
  EXPECT_EQ(telegram_section(def).history_limit, 7);

  // Without accounts: the root is the one account, default, as before.
  const GatewaySettings single = apply(R"({"channels":{"telegram":{"botToken":"1:x"}}})");
  ASSERT_EQ(single.channels.size(), 1u);
  EXPECT_EQ(single.channels[0].account_id, "default");
  EXPECT_EQ(single.channels[0].default_account_id, "default");
  EXPECT_EQ(worker_name(single.channels[0]), "telegram");
}

TEST(Config, SlackHttpModeTakesAPathPerAccount) {
  // The default path; an account in HTTP mode is not warned about an appToken it does not use,
  // but about the signingSecret it does; a Socket Mode account the other way round.
  GatewaySettings s = apply(R"({"channels":{"slack":{"mode":"http","accounts":{
    "one":{"botToken":"xoxb-1","signingSecret":"s1"},
    "two":{"botToken":"xoxb-2","webhookPath":"/slack/two"},
    "three":{"mode":"socket","botToken":"xoxb-3","appToken":"xapp-3"}}}}})");
  ASSERT_EQ(s.channels.size(), 3u);
  std::map<std::string, std::string> path;
  for (const auto& c : s.channels) path[c.account_id] = c.webhook_path;
  EXPECT_EQ(path["one"], "/slack/events");
  EXPECT_EQ(path["two"], "/slack/two");
  EXPECT_EQ(path["three"], "") << "Socket Mode takes no path";
  EXPECT_FALSE(has_warning(s, "accounts.one: has no appToken"));
  EXPECT_TRUE(has_warning(s, "channels.slack.accounts.two: has no signingSecret"));
  EXPECT_FALSE(has_warning(s, "accounts.three: has no signingSecret"));
  // One path, two accounts: the front could not tell whose event it is.
  EXPECT_NE(config_error(R"({"channels":{"slack":{"mode":"http","accounts":{
    "one":{"botToken":"xoxb-1","signingSecret":"s1"},
    "two":{"botToken":"xoxb-2","signingSecret":"s2"}}}}})")
                .find("channels.slack.accounts.two.webhookPath"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"channels":{"slack":{"mode":"http","webhookPath":"/healthz"}}})")
                .find("channels.slack.webhookPath"),
            std::string::npos);
  EXPECT_EQ(config_error(R"({"channels":{"slack":{"mode":"http","botToken":"xoxb-1",
    "signingSecret":"s"}}})"),
            "")
      << "http mode is no longer refused";
}

TEST(Config, TelegramAccountsWarnAndRefuseWhatUpstreamDoes) {
  // Two accounts, none named default, no defaultAccount: the first id sends, with a warning;
  // the root's token serves no account.
  GatewaySettings s = apply(R"({"channels":{"telegram":{"botToken":"1:root",
    "accounts":{"zulu":{"botToken":"2:z"},"alpha":{}}}}})");
  ASSERT_EQ(s.channels.size(), 2u);
  EXPECT_EQ(s.channels[0].default_account_id, "alpha");
  EXPECT_TRUE(has_warning(s, "channels.telegram.defaultAccount: is unset with 2 accounts"));
  EXPECT_TRUE(has_warning(s, "channels.telegram.botToken: serves the account named default only"));
  EXPECT_TRUE(has_warning(s, "channels.telegram.accounts.alpha: has no botToken or tokenFile"));
  s = apply(R"({"channels":{"telegram":{"defaultAccount":"nope",
    "accounts":{"a":{"botToken":"2:a"}}}}})");
  EXPECT_TRUE(has_warning(s, "channels.telegram.defaultAccount: \"nope\" names no configured"));
  EXPECT_EQ(s.channels[0].default_account_id, "a");

  // A restrictive root allowFrom bounds every account: "*" there means the root's list.
  s = apply(R"({"channels":{"telegram":{"allowFrom":[111],
    "accounts":{"pub":{"botToken":"2:p","dmPolicy":"open","allowFrom":["*", 222]}}}}})");
  ASSERT_EQ(s.channels.size(), 1u);
  EXPECT_EQ(s.channels[0].allow_from, (std::vector<std::string>{"222", "111"}));
  EXPECT_EQ(s.channels[0].dm_policy, "allowlist") << "open cannot pass the root's boundary";
  EXPECT_TRUE(has_warning(s, "channels.telegram.accounts.pub.allowFrom"));

  // Ids: bounded, [A-Za-z0-9_-], one spelling per id; errors name the account's path.
  std::string e = config_error(R"({"channels":{"telegram":{"accounts":{"a/../b":{}}}}})");
  EXPECT_NE(e.find(R"(channels.telegram.accounts["a/../b"]: account id must be)"),
            std::string::npos)
      << e;
  e = config_error(R"({"channels":{"telegram":{"accounts":{"-x":{}}}}})");
  EXPECT_NE(e.find("channels.telegram.accounts.-x: account id must be"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"accounts":{")" + std::string(65, 'a') +
                   R"(":{}}}}})");
  EXPECT_NE(e.find("key is longer than 64"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"accounts":{"Work":{},"work":{}}}}})");
  EXPECT_NE(e.find("channels.telegram.accounts.work: is the same account as \"Work\""),
            std::string::npos)
      << e;
  e = config_error(R"({"channels":{"telegram":{"accounts":{"constructor":{}}}}})");
  EXPECT_NE(e.find("is reserved"), std::string::npos) << e;
  EXPECT_TRUE(has_warning(apply(R"({"channels":{"telegram":{"accounts":{"a":{"accounts":{}}}}}})"),
                          "unknown config key: channels.telegram.accounts.a.accounts"))
      << "accounts do not nest";
  e = config_error(R"({"channels":{"telegram":{"accounts":{"a":{"apiRoot":"http://tg.lan"}}}}})");
  EXPECT_NE(e.find("channels.telegram.accounts.a.apiRoot: plain http://"), std::string::npos) << e;
}

TEST(Config, TelegramGroupSettings) {
  GatewaySettings s = apply(R"({
    "channels": {
      "telegram": {
        "allowFrom": ["tg:111", "TELEGRAM:222"],
        "groupAllowFrom": [333, "-1001234567890"],
        "groups": {
          "-1001234567890": {"requireMention": false, "allowFrom": ["444"], "enabled": true},
          "*": {"groupPolicy": "open", "enabled": false, "tools": {"deny": ["exec"]}}
        }
      }
    }
  })");
  ASSERT_EQ(s.channels.size(), 1u);
  const ChannelSettings& c = s.channels[0];
  EXPECT_EQ(c.allow_from, (std::vector<std::string>{"111", "222"})) << "prefixes stripped";
  EXPECT_EQ(c.group_policy, "allowlist") << "the default";
  ASSERT_TRUE(c.group_allow_from.has_value());
  EXPECT_EQ(*c.group_allow_from, (std::vector<std::string>{"333", "-1001234567890"}));
  ASSERT_EQ(c.groups.size(), 2u);
  const GroupEntry& g = c.groups.at("-1001234567890");
  EXPECT_EQ(g.require_mention, false);
  EXPECT_EQ(g.enabled, true);
  EXPECT_EQ(g.allow_from, std::vector<std::string>{"444"});
  EXPECT_FALSE(g.group_policy.has_value());
  const GroupEntry& star = c.groups.at("*");
  EXPECT_EQ(star.group_policy, "open");
  EXPECT_EQ(star.enabled, false);
  EXPECT_FALSE(star.require_mention.has_value());
  std::string all;
  for (const auto& w : s.warnings) all += w + "\n";
  EXPECT_NE(all.find("group chat id"), std::string::npos)
      << "a chat id in groupAllowFrom is a mistake worth a warning:\n"
      << all;
  EXPECT_NE(all.find("channels.telegram.groups.*.tools"), std::string::npos) << all;

  EXPECT_EQ(c.history_limit, 50) << "historyLimit default";
  EXPECT_EQ(apply(R"({"channels":{"telegram":{"historyLimit":0}}})").channels[0].history_limit, 0);
  EXPECT_EQ(apply(R"({"channels":{"telegram":{"historyLimit":500}}})").channels[0].history_limit,
            200)
      << "hard ceiling";
  EXPECT_EQ(apply(R"({"channels":{"telegram":{"historyLimit":9007199254740991}}})")
                .channels[0]
                .history_limit,
            50)
      << "the JSON integer maximum selects the default";
  // groupAllowFrom unset stays unset (it falls back to allowFrom at run time).
  s = apply(R"({"channels":{"telegram":{"groupPolicy":"open"}}})");
  EXPECT_EQ(s.channels[0].group_policy, "open");
  EXPECT_FALSE(s.channels[0].group_allow_from.has_value());
  // channels.defaults.groupPolicy is the default for a channel that sets none.
  s = apply(R"({"channels":{"defaults":{"groupPolicy":"disabled"},"telegram":{}}})");
  EXPECT_EQ(s.channels[0].group_policy, "disabled");
  s = apply(
      R"({"channels":{"telegram":{"groupPolicy":"open"},"defaults":{"groupPolicy":"disabled"}}})");
  EXPECT_EQ(s.channels[0].group_policy, "open");
}

TEST(Config, TelegramErrorsNameTheKey) {
  std::string e = config_error(R"({"channels":{"telegram":{"groupPolicy":"pairing"}}})");
  EXPECT_NE(e.find("channels.telegram.groupPolicy"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"groups":{"-1":{"requireMention":"yes"}}}}})");
  EXPECT_NE(e.find("channels.telegram.groups.-1.requireMention"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"groups":{"*":{"allowFrom":"111"}}}}})");
  EXPECT_NE(e.find("channels.telegram.groups.*.allowFrom"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"historyLimit":-1}}})");
  EXPECT_NE(e.find("channels.telegram.historyLimit"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"groupAllowFrom":[1.5]}}})");
  EXPECT_NE(e.find("channels.telegram.groupAllowFrom"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"dmPolicy":"everyone"}}})");
  EXPECT_NE(e.find("channels.telegram.dmPolicy"), std::string::npos) << e;
  EXPECT_NE(e.find("test.json"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"apiRoot":"api.telegram.org"}}})");
  EXPECT_NE(e.find("channels.telegram.apiRoot"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"apiRoot":"ftp://x"}}})");
  EXPECT_NE(e.find("channels.telegram.apiRoot"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"allowFrom":"@alice"}}})");
  EXPECT_NE(e.find("channels.telegram.allowFrom"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"allowFrom":[true]}}})");
  EXPECT_NE(e.find("channels.telegram.allowFrom"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"enabled":"yes"}}})");
  EXPECT_NE(e.find("channels.telegram.enabled"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"pollTimeoutSeconds":90}}})");
  EXPECT_NE(e.find("channels.telegram.pollTimeoutSeconds"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":{"botToken":123}}})");
  EXPECT_NE(e.find("channels.telegram.botToken"), std::string::npos) << e;
  e = config_error(R"({"channels":{"telegram":"on"}})");
  EXPECT_NE(e.find("channels.telegram"), std::string::npos) << e;
  EXPECT_EQ(config_error(R"({"channels":{"telegram":{"apiRoot":"https://tg.example"}}})"), "");
}

TEST(Config, KeysNeverGoInClearToAnotherHost) {
  // The bot token is part of every Bot API URL; provider keys ride in headers.
  std::string e = config_error(R"({"channels":{"telegram":{"apiRoot":"http://tg.example"}}})");
  EXPECT_NE(e.find("channels.telegram.apiRoot"), std::string::npos) << e;
  EXPECT_NE(e.find("dangerouslyAllowInsecureHttp"), std::string::npos) << e;
  e = config_error(R"({"models":{"providers":{"openai":{"baseUrl":"http://10.0.0.5:8000/v1"}}}})");
  EXPECT_NE(e.find("models.providers.openai.baseUrl"), std::string::npos) << e;
  e = config_error(
      R"({"models":{"providers":{"x":{"baseUrl":"http://evil.example@127.0.0.1.example/"}}}})");
  EXPECT_NE(e.find("models.providers.x.baseUrl"), std::string::npos) << e;
  // Loopback is fine (local emulators, Ollama, llama.cpp), and so is an explicit opt-in.
  for (const char* ok :
       {R"({"channels":{"telegram":{"apiRoot":"http://127.0.0.1:8081"}}})",
        R"({"channels":{"telegram":{"apiRoot":"http://localhost:8081/"}}})",
        R"({"models":{"providers":{"ollama":{"baseUrl":"http://[::1]:11434/v1"}}}})",
        R"({"models":{"providers":{"vllm":{"baseUrl":"http://gpu-box:8000/v1",
               "dangerouslyAllowInsecureHttp":true}}}})",
        R"({"channels":{"telegram":{"apiRoot":"http://tg.lan",
               "dangerouslyAllowInsecureHttp":true}}})"})
    EXPECT_EQ(config_error(ok), "") << ok;
}

TEST(Config, OtherChannelsAreWarningsNotErrors) {
  const GatewaySettings s = apply(R"({"channels":{
    "whatsapp": {"dmPolicy": "open"},
    "carrierPigeon": {},
    "defaults": {},
    "telegram": {"dmPolicy": "open", "streamMode": "partial"}
  }})");
  ASSERT_EQ(s.channels.size(), 1u) << "only channels with a worker are listed";
  EXPECT_EQ(s.channels[0].name, "telegram");
  EXPECT_TRUE(has_warning(s, "channels.whatsapp")) << "whatsapp is named";
  EXPECT_TRUE(has_warning(s, "no worker"));
  EXPECT_TRUE(has_warning(s, "unknown config key: channels.carrierPigeon"));
  EXPECT_TRUE(has_warning(s, "channels.telegram.streamMode"));
  EXPECT_FALSE(has_warning(s, "defaults"));

  const GatewaySettings empty_allow =
      apply(R"({"channels":{"telegram":{"dmPolicy":"allowlist"}}})");
  EXPECT_TRUE(has_warning(empty_allow, "allowFrom is empty"));
}

TEST(Config, DiscordGuildAndChannelKeysMayBeSlugsAndNames) {
  const GatewaySettings s = apply(R"({"channels":{"discord":{"token":"t","guilds":{
      "123456789012345678": {}, "my-server": {}, "My Server": {}, "*": {},
      "10": {"channels": {"support": {}, "Ops Room": {}, "#general": {}, "333": {}}}}}}})");
  size_t guild_warnings = 0, channel_warnings = 0;
  for (const auto& w : s.warnings) {
    guild_warnings += w.find("is neither a guild id") != std::string::npos;
    channel_warnings += w.find("starts with '#'") != std::string::npos;
  }
  EXPECT_EQ(guild_warnings, 1u) << "only \"My Server\"";
  EXPECT_TRUE(has_warning(s, "is neither a guild id nor a slug of its name (\"my-server\")"));
  EXPECT_EQ(channel_warnings, 1u) << "only \"#general\"";
  EXPECT_TRUE(has_warning(s, "never matches (write \"general\")"));
}

TEST(Config, SessionDmScope) {
  EXPECT_EQ(apply("{}").dm_scope, "main");
  for (const char* scope : {"main", "per-peer", "per-channel-peer", "per-account-channel-peer"}) {
    EXPECT_EQ(apply(std::string(R"({"session":{"dmScope":")") + scope + "\"}}").dm_scope, scope);
  }
  std::string e = config_error(R"({"session":{"dmScope":"per-channel"}})");
  EXPECT_NE(e.find("session.dmScope"), std::string::npos) << e;
  e = config_error(R"({"session":{"dmScope":7}})");
  EXPECT_NE(e.find("session.dmScope"), std::string::npos) << e;
  e = config_error(R"({"session":"main"})");
  EXPECT_NE(e.find("session"), std::string::npos) << e;
}

TEST(Config, MessagesQueueDefaultsAreUpstreams) {
  const GatewaySettings s = apply("{}");
  EXPECT_EQ(s.queue.mode, QueueMode::steer);
  EXPECT_EQ(s.queue.cap, 20);
  EXPECT_EQ(s.queue.drop, QueueDrop::summarize);
  EXPECT_EQ(s.queue.debounce_ms_for("telegram"), 500);
  EXPECT_EQ(s.queue.mode_for("telegram"), QueueMode::steer);
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(s.queue.max_concurrent, std::max(8, cpus * 4)) << "max(8, 4 x CPUs)";
}

TEST(Config, MessagesQueueAndMaxConcurrent) {
  const GatewaySettings s = apply(R"({
    "messages": { "queue": {
      "mode": "collect", "cap": 5, "drop": "new",
      "byChannel": { "telegram": "followup", "webchat": "interrupt" },
      "debounceMsByChannel": { "telegram": 1500, "webchat": 0 } } },
    "agents": { "defaults": { "maxConcurrent": 3 } } })");
  EXPECT_EQ(s.queue.mode, QueueMode::collect);
  EXPECT_EQ(s.queue.cap, 5);
  EXPECT_EQ(s.queue.drop, QueueDrop::newest);
  EXPECT_EQ(s.queue.max_concurrent, 3);
  EXPECT_EQ(s.queue.mode_for("telegram"), QueueMode::followup);
  EXPECT_EQ(s.queue.mode_for("webchat"), QueueMode::interrupt);
  EXPECT_EQ(s.queue.mode_for("discord"), QueueMode::collect) << "no override: the global mode";
  EXPECT_EQ(s.queue.debounce_ms_for("telegram"), 1500);
  EXPECT_EQ(s.queue.debounce_ms_for("webchat"), 0);
  EXPECT_EQ(s.queue.debounce_ms_for("discord"), 500);
  EXPECT_TRUE(s.warnings.empty()) << s.warnings[0];
  EXPECT_EQ(apply(R"({"messages":{"queue":{"drop":"old"}}})").queue.drop, QueueDrop::old);

  // Not upstream keys: a warning each, nothing else.
  const GatewaySettings w =
      apply(R"({"messages":{"queue":{"debounceMs":900,"byChannel":{"pigeon":"collect"}}}})");
  EXPECT_TRUE(has_warning(w, "unknown config key: messages.queue.debounceMs"));
  EXPECT_TRUE(has_warning(w, "pigeon"));
  EXPECT_EQ(w.queue.debounce_ms_for("telegram"), 500);
}

TEST(Config, MessagesQueueErrorsNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"messages":{"queue":{"mode":"queue"}}})", "messages.queue.mode"},
      {R"({"messages":{"queue":{"mode":1}}})", "messages.queue.mode"},
      {R"({"messages":{"queue":{"cap":0}}})", "messages.queue.cap"},
      {R"({"messages":{"queue":{"cap":1001}}})", "messages.queue.cap"},
      {R"({"messages":{"queue":{"cap":2.5}}})", "messages.queue.cap"},
      {R"({"messages":{"queue":{"cap":"20"}}})", "messages.queue.cap"},
      {R"({"messages":{"queue":{"cap":9223372036854775807}}})", "messages.queue.cap"},
      {R"({"messages":{"queue":{"drop":"oldest"}}})", "messages.queue.drop"},
      {R"({"messages":{"queue":{"byChannel":{"telegram":"steering"}}}})",
       "messages.queue.byChannel.telegram"},
      {R"({"messages":{"queue":{"byChannel":["telegram"]}}})", "messages.queue.byChannel"},
      {R"({"messages":{"queue":{"debounceMsByChannel":{"telegram":-1}}}})",
       "messages.queue.debounceMsByChannel.telegram"},
      {R"({"messages":{"queue":{"debounceMsByChannel":{"telegram":600001}}}})",
       "messages.queue.debounceMsByChannel.telegram"},
      {R"({"messages":{"queue":{"debounceMsByChannel":{"":5}}}})",
       "messages.queue.debounceMsByChannel"},
      {R"({"messages":{"queue":[]}})", "messages.queue"},
      {R"({"messages":"queue"})", "messages"},
      {R"({"agents":{"defaults":{"maxConcurrent":0}}})", "agents.defaults.maxConcurrent"},
      {R"({"agents":{"defaults":{"maxConcurrent":1025}}})", "agents.defaults.maxConcurrent"},
      {R"({"agents":{"defaults":{"maxConcurrent":"4"}}})", "agents.defaults.maxConcurrent"},
      {R"({"agents":{"defaults":{"maxConcurrent":-9223372036854775808}}})",
       "agents.defaults.maxConcurrent"},
  };
  for (const auto& [text, key] : bad) {
    const std::string e = config_error(text);
    EXPECT_NE(e.find(key), std::string::npos) << text << " -> " << e;
  }
  std::string many = R"({"messages":{"queue":{"byChannel":{)";
  for (int i = 0; i < 65; ++i)
    many += (i ? "," : "") + std::string("\"c") + std::to_string(i) + "\":\"collect\"";
  many += "}}}}";
  EXPECT_NE(config_error(many).find("at most 64"), std::string::npos) << config_error(many);
}

// The lanes' constants and the schema the parser is generated from say the same: a cap the
// file may set is a cap the lanes take, and the defaults shown by `config schema` are the ones
// in effect.
TEST(Config, MessagesQueueSchemaAgreesWithTheLanes) {
  const cfg::Json schema = cfg::Json::parse(cfg::schema_text());
  const cfg::Json& q = schema["properties"]["messages"]["properties"]["queue"]["properties"];
  EXPECT_EQ(q["cap"]["default"], QueueSettings::kDefaultCap);
  EXPECT_EQ(q["cap"]["maximum"], QueueSettings::kMaxCap);
  EXPECT_EQ(q["mode"]["default"], queue_mode_name(QueueSettings().mode));
  EXPECT_EQ(q["drop"]["default"], queue_drop_name(QueueSettings().drop));
  const cfg::Json& mc =
      schema["properties"]["agents"]["properties"]["defaults"]["properties"]["maxConcurrent"];
  EXPECT_EQ(mc["maximum"], QueueSettings::kMaxConcurrentLimit);
  EXPECT_FALSE(mc.contains("default")) << "the default depends on the CPUs";
  // What `config get` shows is the value in effect, the machine's default included.
  EXPECT_EQ(apply("{}").config.agents.defaults.max_concurrent, default_max_concurrent());
  EXPECT_EQ(
      apply(R"({"agents":{"defaults":{"maxConcurrent":3}}})").config.agents.defaults.max_concurrent,
      3);
  // A channel id upstream does not know is kept (it matches nothing) and warned about once,
  // with its path; a Chinese id is quoted as written.
  const GatewaySettings w = apply(
      R"({"messages":{"queue":{"byChannel":{"信鸽":"collect"},"debounceMsByChannel":{"telegram":5}}}})");
  EXPECT_EQ(w.queue.mode_for("信鸽"), QueueMode::collect);
  ASSERT_EQ(w.warnings.size(), 1u);
  EXPECT_NE(w.warnings[0].find("messages.queue.byChannel.信鸽"), std::string::npos)
      << w.warnings[0];
}

TEST(StateDir, OpenModesAreMadePrivateAtStart) {
  char tmpl[] = "/tmp/clawgate-state-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  ::chmod(dir.c_str(), 0755);
  EXPECT_NE(secure_state_dir(dir).find("made private"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(secure_state_dir(dir), "") << "nothing to fix the second time";

  const TokenLoad first = load_or_create_token(dir);
  EXPECT_TRUE(first.created);
  ASSERT_EQ(::stat(first.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::chmod(first.path.c_str(), 0644);
  std::string fixed;
  const TokenLoad again = load_or_create_token(dir, &fixed);
  EXPECT_EQ(again.token, first.token);
  EXPECT_NE(fixed.find("gateway-token"), std::string::npos) << fixed;
  ASSERT_EQ(::stat(first.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(dir);
}

TEST(Config, TrustedProxiesAreIpsOrCidrs) {
  const GatewaySettings s =
      apply(R"({"gateway":{"trustedProxies":["10.0.0.1","fd00::/8"],"allowRealIpFallback":true}})");
  EXPECT_EQ(s.trusted_proxies, (std::vector<std::string>{"10.0.0.1", "fd00::/8"}));
  EXPECT_TRUE(s.allow_real_ip_fallback);
  EXPECT_FALSE(apply("{}").allow_real_ip_fallback);
  const std::string e = config_error(R"({"gateway":{"trustedProxies":["proxy.lan"]}})");
  EXPECT_NE(e.find("gateway.trustedProxies"), std::string::npos) << e;
  EXPECT_NE(config_error(R"({"gateway":{"trustedProxies":"10.0.0.1"}})"), "");
}

TEST(Config, AuthNoneNeedsTheSocketItselfToBeLoopback) {
  GatewaySettings s;
  s.auth_mode = AuthMode::none;
  EXPECT_NO_THROW(require_auth_unless_loopback(s, "127.0.0.1", "socket"));
  EXPECT_NO_THROW(require_auth_unless_loopback(s, "::1", "socket"));
  try {
    require_auth_unless_loopback(s, "0.0.0.0", "the socket passed by systemd");
    FAIL() << "accepted a wildcard socket";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("gateway.auth.mode"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("0.0.0.0"), std::string::npos);
  }
  s.auth_mode = AuthMode::token;
  EXPECT_NO_THROW(require_auth_unless_loopback(s, "0.0.0.0", "socket"));
}

}  // namespace
}  // namespace clawgate
