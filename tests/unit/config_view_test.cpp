// Unit tests: what is shown of a config: the effective values, upstream's redaction (values,
// raw text), the config.get snapshot, the config.schema answer, and key paths as
// `clawgate config get` takes them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "config_view.hpp"
#include "shared_data.hpp"

namespace clawgate {
namespace {

using Json = nlohmann::json;

TEST(ConfigView, TheEffectiveConfigKeepsChineseAndEmojiAsWritten) {
  const std::string zh = test_data::sample("chinese");
  const std::string emoji = test_data::sample("emoji_zwj");
  const Json j = {
      {"agents", {{"defaults", {{"heartbeat", {{"target", zh}}}, {"workspace", emoji}}}}},
      {"ui", {{"assistant", {{"name", "小爪 🦞"}}}}}};
  GatewaySettings s;
  std::string token, password;
  apply_config_text(j.dump(), "test.json", s, &token, &password);
  const Json effective = redact_config(effective_config(s));
  EXPECT_EQ(effective["agents"]["defaults"]["heartbeat"]["target"], zh);
  EXPECT_EQ(effective["agents"]["defaults"]["heartbeat"]["every"], "30m") << "defaults filled in";
  EXPECT_EQ(effective["agents"]["defaults"]["workspace"], emoji) << "ignored keys as written";
  EXPECT_EQ(effective["ui"]["assistant"]["name"], "小爪 🦞");
}

TEST(ConfigView, SecretsAreRedactedAsUpstreamRedactsThem) {
  const Json config = Json::parse(R"({
    "gateway": {"auth": {"token": "tok-123", "password": "", "rateLimit": {"maxAttempts": 3}}},
    "channels": {"telegram": {"botToken": "1:abc", "tokenFile": "/run/tg"},
                 "discord": {"token": "dsc", "maxTokens": 5}},
    "models": {"providers": {
      "a": {"apiKey": "${OPENAI_API_KEY}", "baseUrl": "https://api.example/v1"},
      "b": {"apiKey": {"source": "env", "provider": "default", "id": "B_KEY"},
            "baseUrl": "https://u:pw@proxy.example/v1"},
      "c": {"baseUrl": "https://proxy.example/v1?api_key=zzz", "headers": {"X-Api-Key": "hdr"}}}},
    "hooks": {"token": "hook", "webhookSecret": "ws"},
    "agents": {"defaults": {"maxTokens": 100}}
  })");
  std::vector<std::string> secrets;
  const Json r = redact_config(config, &secrets);
  EXPECT_EQ(r["gateway"]["auth"]["token"], kRedacted);
  EXPECT_EQ(r["gateway"]["auth"]["password"], "") << "empty is not a secret";
  EXPECT_EQ(r["gateway"]["auth"]["rateLimit"]["maxAttempts"], 3);
  EXPECT_EQ(r["channels"]["telegram"]["botToken"], kRedacted);
  EXPECT_EQ(r["channels"]["telegram"]["tokenFile"], "/run/tg");
  EXPECT_EQ(r["channels"]["discord"]["token"], kRedacted) << "ignored sections too";
  EXPECT_EQ(r["channels"]["discord"]["maxTokens"], 5);
  EXPECT_EQ(r["models"]["providers"]["a"]["apiKey"], "${OPENAI_API_KEY}") << "a reference";
  EXPECT_EQ(r["models"]["providers"]["a"]["baseUrl"], "https://api.example/v1");
  EXPECT_EQ(r["models"]["providers"]["b"]["apiKey"],
            (Json{{"source", "env"}, {"provider", "default"}, {"id", kRedacted}}));
  EXPECT_EQ(r["models"]["providers"]["b"]["baseUrl"], kRedacted);
  EXPECT_EQ(r["models"]["providers"]["c"]["baseUrl"], kRedacted);
  EXPECT_EQ(r["models"]["providers"]["c"]["headers"]["X-Api-Key"], kRedacted);
  EXPECT_EQ(r["hooks"]["token"], kRedacted);
  EXPECT_EQ(r["hooks"]["webhookSecret"], kRedacted);
  EXPECT_EQ(r["agents"]["defaults"]["maxTokens"], 100);
  const std::string text = r.dump();
  for (const char* s : {"tok-123", "1:abc", "dsc", "B_KEY", "pw@", "zzz", "hdr", "hook\""})
    EXPECT_EQ(text.find(s), std::string::npos) << s;
}

TEST(ConfigView, TheRawTextIsShownRedactedOrNotAtAll) {
  const std::string raw = R"({
  // the bot
  "channels": {"telegram": {"botToken": "1:a\"bc"}},
  "gateway": {"auth": {"token": "tok-123"}}
})";
  const Json parsed = Json::parse(raw, nullptr, true, true);
  std::vector<std::string> secrets;
  const Json redacted = redact_config(parsed, &secrets);
  const auto text = redact_raw(raw, redacted, secrets);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(text->find("tok-123"), std::string::npos);
  EXPECT_EQ(text->find("1:a"), std::string::npos) << "the escaped form is found too";
  EXPECT_NE(text->find("// the bot"), std::string::npos) << "comments stay";
  // A secret that also matches other text: the raw text would not read back the same.
  const std::string clash = R"({"gateway": {"auth": {"token": "gateway"}}})";
  secrets.clear();
  const Json r2 = redact_config(Json::parse(clash), &secrets);
  EXPECT_FALSE(redact_raw(clash, r2, secrets).has_value());
}

TEST(ConfigView, TheSnapshotIsUpstreamsShapeAndAnInvalidFileShowsNothing) {
  GatewaySettings s;
  std::string token, password;
  apply_config_text(R"({"gateway": {"auth": {"token": "tok-123"}}, "bogus": 1})", "c.json", s,
                    &token, &password);
  Json snap = config_snapshot(&s, s.file.get(), "key");
  EXPECT_EQ(snap["path"], "c.json");
  EXPECT_EQ(snap["valid"], true);
  EXPECT_EQ(snap["warnings"], Json::parse(R"([{"path":"bogus","message":"unknown config key"}])"));
  EXPECT_EQ(snap["config"]["gateway"]["auth"]["token"], kRedacted);
  EXPECT_EQ(snap["config"]["gateway"]["port"], 18789) << "defaults filled in";
  EXPECT_EQ(snap["parsed"]["gateway"]["auth"]["token"], kRedacted);
  EXPECT_EQ(snap["hash"].get<std::string>().rfind("hmac-sha256:v1:", 0), 0u);
  EXPECT_NE(config_snapshot(&s, s.file.get(), "other key")["hash"], snap["hash"])
      << "keyed: a reader cannot test guesses of the secrets";
  EXPECT_EQ(snap.dump().find("tok-123"), std::string::npos);

  ConfigFile bad = check_config_text(R"({"gateway": {"port": -1, "auth": {"token": "t"}}})", "c");
  snap = config_snapshot(nullptr, &bad, "key");
  EXPECT_EQ(snap["valid"], false);
  EXPECT_EQ(snap["raw"], nullptr);
  EXPECT_EQ(snap["config"], Json::object());
  EXPECT_EQ(snap["issues"][0]["path"], "gateway.port");

  GatewaySettings none;
  snap = config_snapshot(&none, nullptr, "key");
  EXPECT_EQ(snap["path"], nullptr);
  EXPECT_EQ(snap["exists"], false);
  EXPECT_FALSE(snap.contains("hash"));
  EXPECT_EQ(snap["config"]["session"]["dmScope"], "main");
}

// Found by fuzz_config_text: bytes that are not UTF-8 inside a comment pass the parser (it
// never looks there) and reached config.get's `raw`, where dumping the snapshot threw.
TEST(ConfigView, RawTextWithBytesThatAreNotUtf8InACommentIsShownWithReplacementCharacters) {
  GatewaySettings s;
  std::string token, password;
  const std::string text = "// \xff\xfe 你好 \xc3\n{\"gateway\": {\"port\": 18789}}\n";
  apply_config_text(text, "c.json", s, &token, &password);
  const Json snap = config_snapshot(&s, s.file.get(), "key");
  ASSERT_TRUE(snap["raw"].is_string());
  EXPECT_NO_THROW((void)snap.dump());
  EXPECT_NE(snap["raw"].get<std::string>().find("\xef\xbf\xbd\xef\xbf\xbd 你好"), std::string::npos)
      << snap["raw"].get<std::string>();
}

TEST(ConfigView, KeyPathsAsConfigGetTakesThem) {
  auto p = parse_config_path(R"(channels.telegram.groups["-100.5"].allowFrom[2])");
  ASSERT_TRUE(p.has_value());
  ASSERT_EQ(p->size(), 6u);
  EXPECT_EQ((*p)[3].key, "-100.5");
  EXPECT_TRUE((*p)[5].is_index);
  EXPECT_EQ((*p)[5].index, 2u);
  for (const char* bad : {"", "a..b", ".a", "a.", "a[", "a[x]", "a[\"x\"", "a]b", "a[1]b"})
    EXPECT_FALSE(parse_config_path(bad).has_value()) << bad;
  EXPECT_FALSE(parse_config_path(std::string(1025, 'a')).has_value());

  const Json config = {{"a", {{"b.c", Json::array({1, 2, 3})}}}};
  EXPECT_EQ(*value_at(config, *parse_config_path(R"(a["b.c"][1])")), 2);
  EXPECT_EQ(value_at(config, *parse_config_path("a.x")), nullptr);
  EXPECT_EQ(value_at(config, *parse_config_path(R"(a["b.c"][9])")), nullptr);

  EXPECT_EQ(schema_place(*parse_config_path("gateway.auth.token")), SchemaPlace::read);
  EXPECT_EQ(schema_place(*parse_config_path(R"(channels.telegram.groups["-1"].allowFrom[0])")),
            SchemaPlace::read);
  EXPECT_EQ(schema_place(*parse_config_path("models.providers.x.apiKey")), SchemaPlace::read);
  EXPECT_EQ(schema_place(*parse_config_path("agents.defaults.model.primary")), SchemaPlace::read);
  EXPECT_EQ(schema_place(*parse_config_path("logging.level")), SchemaPlace::ignored);
  EXPECT_EQ(schema_place(*parse_config_path("gateway.remote")), SchemaPlace::ignored);
  EXPECT_EQ(schema_place(*parse_config_path("gateway.tls.certPath")), SchemaPlace::read);
  EXPECT_EQ(schema_place(*parse_config_path("gateway.nope")), SchemaPlace::unknown);
  EXPECT_EQ(schema_place(*parse_config_path("gateway.port.x")), SchemaPlace::unknown);
}

TEST(ConfigView, ConfigSchemaAnswersUpstreamsShape) {
  const Json r = config_schema_response("0.1.0", 1700000000123);
  EXPECT_EQ(r["version"], "0.1.0");
  EXPECT_EQ(r["generatedAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(r["schema"]["title"], "clawgate configuration (openclaw.json)");
  EXPECT_EQ(r["uiHints"]["gateway.auth.token"]["sensitive"], true);
  EXPECT_EQ(r["uiHints"]["channels.telegram.pollTimeoutSeconds"]["tags"], Json({"clawgate"}));
  EXPECT_FALSE(r["uiHints"]["gateway.port"]["help"].get<std::string>().empty());
}

}  // namespace
}  // namespace clawgate
