// Unit tests: the parser generated from schema/config.schema.json (every problem reported with
// its key path, bounds checked before conversion, text in any script kept intact, hostile
// files refused) and the schema itself (a description on every key, clawgate's keys marked).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "shared_data.hpp"
#include "utf8.hpp"

namespace clawgate {
namespace {

using Json = nlohmann::json;
using Kind = cfg::Issue::Kind;

ConfigFile check(const Json& j) {
  return check_config_text(j.dump(), "test.json");
}

// path -> message, for the issues of one kind.
std::map<std::string, std::string> issues_of(const ConfigFile& f, Kind kind = Kind::error) {
  std::map<std::string, std::string> out;
  for (const auto& i : f.issues.items())
    if (i.kind == kind) out[i.path] = i.message;
  return out;
}

std::string dump(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += k + ": " + v + "\n";
  return out;
}

TEST(ConfigParser, EveryProblemIsReportedWithItsKeyPath) {
  const ConfigFile f = check(Json::parse(R"({
    "gateway": {"port": "eighty", "bind": "tailnet", "auth": {"mode": "magic",
                "rateLimit": {"windowMs": -1, "exemptLoopback": "yes"}},
                "trustedProxies": ["10.0.0.1", "proxy.lan"], "controlUi": {"allowedOrigins": "x"}},
    "channels": {"telegram": {"dmPolicy": "everyone", "allowFrom": [1, true],
                 "groups": {"-100.5": {"requireMention": "yes"}}, "apiRoot": "ftp://x"}},
    "session": {"dmScope": 7},
    "agents": {"defaults": {"model": {"primary": "gpt"}, "heartbeat": {"every": "soon"}}},
    "models": {"providers": {"openai": {"api": "carrier-pigeon", "baseUrl": 42}}}
  })"));
  const auto errors = issues_of(f);
  for (const char* path :
       {"gateway.port", "gateway.bind", "gateway.auth.mode", "gateway.auth.rateLimit.windowMs",
        "gateway.auth.rateLimit.exemptLoopback", "gateway.trustedProxies[1]",
        "gateway.controlUi.allowedOrigins", "channels.telegram.dmPolicy",
        "channels.telegram.allowFrom[1]", R"(channels.telegram.groups["-100.5"].requireMention)",
        "channels.telegram.apiRoot", "session.dmScope", "agents.defaults.model.primary",
        "agents.defaults.heartbeat.every", "models.providers.openai.api",
        "models.providers.openai.baseUrl"})
    EXPECT_TRUE(errors.count(path)) << "no error at " << path << " in:\n" << dump(errors);
  EXPECT_EQ(errors.size(), 16u) << dump(errors);
  EXPECT_EQ(errors.at("gateway.port"), "must be an integer from 0 to 65535 (got \"eighty\")");
  EXPECT_EQ(errors.at("channels.telegram.dmPolicy"),
            "must be one of pairing, allowlist, open, disabled (got \"everyone\")");
  EXPECT_EQ(errors.at("gateway.trustedProxies[1]"),
            "not an IP address or CIDR range (got \"proxy.lan\")");
  // What could be read still was: the valid entry of a list with a bad one.
  EXPECT_EQ(f.config.gateway.trusted_proxies, std::vector<std::string>{"10.0.0.1"});
}

TEST(ConfigParser, TheGatewayRefusesAFileListingEveryErrorAndNamingTheFile) {
  GatewaySettings s;
  std::string token, password;
  try {
    apply_config_text(R"({"gateway": {"port": 70000}, "session": {"dmScope": "all"}})",
                      "/etc/openclaw.json", s, &token, &password);
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("/etc/openclaw.json: gateway.port: must be an integer from 0 to 65535 (got "
                     "70000)"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("/etc/openclaw.json: session.dmScope: must be one of"), std::string::npos)
        << m;
  }
}

TEST(ConfigParser, IntegersAreRangeCheckedBeforeConversion) {
  for (const Json& bad : {Json(65536), Json(-1), Json(1e300), Json(5.5), Json("80"), Json(true),
                          Json::parse("18446744073709551615"), Json::parse("-9223372036854775808"),
                          Json::parse("9223372036854775808")}) {
    const auto errors = issues_of(check({{"gateway", {{"port", bad}}}}));
    EXPECT_TRUE(errors.count("gateway.port")) << bad << " accepted";
  }
  for (const Json& good : {Json(0), Json(65535), Json(8080.0)}) {
    const ConfigFile f = check({{"gateway", {{"port", good}}}});
    EXPECT_FALSE(f.issues.has_errors()) << good << ": " << dump(issues_of(f));
    EXPECT_EQ(f.config.gateway.port, good.get<int>());
  }
  // Past what an int holds: refused, never truncated into range.
  auto f = check({{"gateway", {{"auth", {{"rateLimit", {{"maxAttempts", 4294967297LL}}}}}}}});
  EXPECT_TRUE(issues_of(f).count("gateway.auth.rateLimit.maxAttempts"));
  EXPECT_EQ(f.config.gateway.auth.rate_limit.max_attempts, 10) << "the default stays";
  // historyLimit: upstream's JSON-safe maximum is the largest value there is.
  f = check({{"channels", {{"telegram", {{"historyLimit", 9007199254740992LL}}}}}});
  EXPECT_TRUE(issues_of(f).count("channels.telegram.historyLimit"));
  // A Telegram id written as a number is read as its digits, a fraction is not an id.
  f = check({{"channels", {{"telegram", {{"allowFrom", {123456789012LL, "456"}}}}}}});
  ASSERT_TRUE(f.config.channels.telegram.has_value());
  EXPECT_EQ(f.config.channels.telegram->allow_from,
            (std::vector<std::string>{"123456789012", "456"}));
}

TEST(ConfigParser, StringsArraysAndMapsAreBounded) {
  // Lengths are code points: 4096 Chinese characters (12,288 bytes) fit where 4096 fit.
  const std::string cjk = test_data::sample("long_cjk_4096_utf16");  // 4097 code points
  ASSERT_EQ(utf8::code_points(cjk), 4097u);
  std::string fits = cjk.substr(0, utf8::cut_bytes(cjk, 4096 * 3));
  ASSERT_EQ(utf8::code_points(fits), 4096u);
  auto f = check({{"gateway", {{"auth", {{"password", fits}}}}}});
  EXPECT_FALSE(f.issues.has_errors()) << dump(issues_of(f));
  f = check({{"gateway", {{"auth", {{"password", cjk}}}}}});
  EXPECT_EQ(issues_of(f)["gateway.auth.password"],
            "must be at most 4096 characters long (is 4097)");

  Json many = Json::array();
  for (int i = 0; i < 1025; ++i) many.push_back(i);
  f = check({{"channels", {{"telegram", {{"allowFrom", many}}}}}});
  EXPECT_EQ(issues_of(f)["channels.telegram.allowFrom"],
            "must have at most 1024 entries (has 1025)");

  Json groups = Json::object();
  for (int i = 0; i < 1025; ++i) groups[std::to_string(-i)] = Json::object();
  f = check({{"channels", {{"telegram", {{"groups", groups}}}}}});
  EXPECT_EQ(issues_of(f)["channels.telegram.groups"], "must have at most 1024 keys (has 1025)");

  const std::string long_key(65, '1');
  f = check({{"channels", {{"telegram", {{"groups", {{long_key, Json::object()}}}}}}}});
  ASSERT_EQ(issues_of(f).size(), 1u) << dump(issues_of(f));
  EXPECT_EQ(issues_of(f).begin()->second, "key is longer than 64 characters");
  EXPECT_LT(issues_of(f).begin()->first.size(), 100u) << "a path never echoes a long key whole";
}

TEST(ConfigParser, ChineseAndEmojiValuesSurviveIntact) {
  const std::string zh = test_data::sample("chinese");
  const std::string emoji = test_data::sample("emoji_zwj");
  const std::string rtl = test_data::sample("arabic_rtl");
  Json j = {{"agents", {{"defaults", {{"heartbeat", {{"target", zh}}}, {"workspace", emoji}}}}},
            {"channels", {{"telegram", {{"groups", {{"*", {{"systemPrompt", rtl}}}}}}}}},
            {"ui", {{"assistant", {{"name", "小爪 🦞"}}}}}};
  ConfigFile f = check(j);
  EXPECT_FALSE(f.issues.has_errors()) << dump(issues_of(f));
  EXPECT_EQ(f.config.agents.defaults.heartbeat.target, zh);
  EXPECT_EQ(f.parsed["agents"]["defaults"]["workspace"], emoji) << "ignored keys kept as written";
  EXPECT_EQ(f.parsed["channels"]["telegram"]["groups"]["*"]["systemPrompt"], rtl);

  // A bad value in any script is quoted in the message cut on a character, never mid-byte.
  const std::string long_emoji = test_data::sample("long_emoji_4096_codepoints");
  f = check({{"session", {{"dmScope", long_emoji}}}});
  const std::string m = issues_of(f)["session.dmScope"];
  EXPECT_TRUE(utf8::valid(m)) << m;
  EXPECT_LT(m.size(), 400u);
  EXPECT_NE(m.find("😀😀😀…"), std::string::npos) << m;
  f = check({{"session", {{"dmScope", zh}}}});
  EXPECT_NE(issues_of(f)["session.dmScope"].find("你好"), std::string::npos);
}

TEST(ConfigParser, PathsQuoteWhatCouldMislead) {
  // Dots, spaces and quotes in a key are quoted, as OpenClaw prints them; bidi overrides and
  // terminal escapes are escaped so a message cannot reorder or hide the path it names.
  const std::string rlo = "\u202E";
  auto f = check({{"models",
                   {{"providers",
                     {{"a.b", {{"api", 1}}},
                      {"x" + rlo + "y", {{"api", 2}}},
                      {"esc\u001b[31m", {{"api", 3}}}}}}}});
  const auto errors = issues_of(f);
  EXPECT_TRUE(errors.count(R"(models.providers["a.b"].api)")) << dump(errors);
  EXPECT_TRUE(errors.count(R"(models.providers["x\u202Ey"].api)")) << dump(errors);
  EXPECT_TRUE(errors.count(R"(models.providers["esc\u001B[31m"].api)")) << dump(errors);
  for (const auto& [path, _] : errors) EXPECT_EQ(path.find(rlo), std::string::npos);
}

TEST(ConfigParser, UnknownKeysAndOpenClawKeysClawgateIgnores) {
  GatewaySettings s;
  std::string token, password;
  apply_config_text(R"({"gatway": {}, "logging": {"level": "debug"}, "gateway": {"tls": {}},
    "channels": {"signal": {}, "slack": {"replyToMode": "all"},
                 "telegram": {"streaming": "partial", "streamMode": "x"}}})",
                    "test.json", s, &token, &password);
  std::string all;
  for (const auto& w : s.warnings) all += w + "\n";
  EXPECT_NE(all.find("unknown config key: gatway"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown config key: channels.telegram.streamMode"), std::string::npos);
  EXPECT_NE(all.find("channels.signal: this build has no worker for this channel yet; ignored"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("channels.slack.replyToMode: clawgate does not implement it for Slack"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("channels.telegram.streaming: clawgate does not implement it"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("logging"), std::string::npos) << "OpenClaw's sections pass silently";
  EXPECT_EQ(all.find("tls"), std::string::npos);
}

TEST(ConfigParser, HostileFilesAreRefusedWithAReason) {
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 70; ++i) deep += "}";
  auto f = check_config_text(deep, "deep.json");
  ASSERT_EQ(f.issues.items().size(), 1u);
  EXPECT_EQ(f.issues.items()[0].message, "nested deeper than 64 levels");
  EXPECT_TRUE(f.parsed.is_null()) << "nothing of it is kept";

  f = check_config_text(std::string(kMaxConfigBytes + 1, ' '), "big.json");
  EXPECT_EQ(f.issues.items()[0].message, "larger than 1 MiB; not read");
  f = check_config_text("[1, 2]", "array.json");
  EXPECT_EQ(f.issues.items()[0].message, "must be a JSON object (got an array)");
  f = check_config_text("{\"gateway\": {\"bind\": \"\xC3\x28\"}}", "utf8.json");
  EXPECT_NE(f.issues.items()[0].message.find("not valid JSON"), std::string::npos);

  f = read_config_file("/dev/zero");
  EXPECT_EQ(f.issues.items()[0].message, "not a regular file") << "never read forever";
  f = read_config_file("/nonexistent/openclaw.json");
  EXPECT_EQ(f.issues.items()[0].message, "config file not found");
}

TEST(ConfigParser, IssuesStopBeingKeptAfterAHundred) {
  Json ids = Json::array();
  for (int i = 0; i < 500; ++i) ids.push_back(true);
  const ConfigFile f = check({{"channels", {{"telegram", {{"allowFrom", ids}}}}}});
  EXPECT_EQ(f.issues.items().size(), cfg::Issues::kMax);
  EXPECT_EQ(f.issues.dropped(), 400u);
  EXPECT_EQ(f.issues.count(Kind::error), 500u);
}

TEST(ConfigParser, AWorkerSectionIsReadWithItsPathInTheFile) {
  cfg::Issues is;
  const cfg::TelegramChannel t = cfg::parse_TelegramChannel(
      Json{{"pollTimeoutSeconds", 99}, {"botToken", "1:x"}}, "channels.telegram", is);
  ASSERT_EQ(is.items().size(), 1u);
  EXPECT_EQ(is.items()[0].text(),
            "channels.telegram.pollTimeoutSeconds: must be an integer from 1 to 50 (got 99)");
  EXPECT_EQ(t.bot_token, "1:x");
  EXPECT_EQ(t.poll_timeout_seconds, 30) << "the default stays";
}

// --- the schema itself

void walk_schema(const Json& node, const std::string& path, std::vector<std::string>& problems,
                 std::set<std::string>& clawgate_keys) {
  if (!node.is_object()) return;
  if (node.contains("properties")) {
    for (auto& [k, v] : node["properties"].items()) {
      const std::string p = path.empty() ? k : path + "." + k;
      if (!v.contains("$ref") &&
          (!v.contains("description") || v["description"].get<std::string>().empty()))
        problems.push_back(p + " has no description");
      if (v.value("x-clawgate", false)) {
        clawgate_keys.insert(p);
        if (v["description"].get<std::string>().find("clawgate") == std::string::npos)
          problems.push_back(p + " is clawgate's but does not say so");
      }
      walk_schema(v, p, problems, clawgate_keys);
    }
  }
  for (const char* k : {"items", "additionalProperties"})
    if (node.contains(k))
      walk_schema(node[k], path + (k[0] == 'i' ? "[]" : ".*"), problems, clawgate_keys);
  if (node.contains("anyOf"))
    for (const auto& b : node["anyOf"]) walk_schema(b, path, problems, clawgate_keys);
}

TEST(ConfigSchema, EveryKeyIsDescribedAndClawgatesOwnAreMarked) {
  const Json schema = Json::parse(cfg::schema_text());
  EXPECT_EQ(schema["$schema"], "http://json-schema.org/draft-07/schema#");
  std::vector<std::string> problems;
  std::set<std::string> clawgate_keys;
  walk_schema(schema, "", problems, clawgate_keys);
  for (auto& [name, def] : schema["definitions"].items())
    walk_schema(def, "#" + name, problems, clawgate_keys);
  EXPECT_TRUE(problems.empty()) << problems.front();
  for (const char* k :
       {"#TelegramChannel.pollTimeoutSeconds", "#TelegramChannel.dangerouslyAllowInsecureHttp",
        "#ModelProvider.dangerouslyAllowInsecureHttp", "agents.defaults.maxTokens"})
    EXPECT_TRUE(clawgate_keys.count(k)) << k << " is clawgate's and must be marked";
  EXPECT_FALSE(clawgate_keys.count("gateway.port")) << "OpenClaw's keys are not marked";
}

}  // namespace
}  // namespace clawgate
