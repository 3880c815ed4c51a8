// config.get and config.schema against the real gateway: their results validate against the
// protocol's definitions (upstream's ConfigSchemaResponse; ConfigGetResult, written from
// upstream's documented snapshot) and carry the keys of a real OpenClaw answer, no secret
// leaves in them, and config.get follows a SIGHUP reload, accepted or refused, without the
// front restarting.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>

#include "gateway_process.hpp"
#include "protocol_gen.hpp"
#include "shared_data.hpp"
#include "test_support.hpp"

namespace clawgate::test {
namespace {

constexpr const char* kSecrets[] = {"sk-secret-123", "hook-secret", "test-token"};

std::string config_with(const std::string& target) {
  return Json{
      {"agents",
       {{"defaults", {{"heartbeat", {{"target", target}}}, {"workspace", "~/工作区 🦞"}}}}},
      {"models", {{"providers", {{"openai", {{"apiKey", "sk-secret-123"}}}}}}},
      {"hooks", {{"token", "hook-secret"}}}}
      .dump(2);
}

void expect_valid(schema::Def def, const Json& payload) {
  schema::Errors e;
  EXPECT_TRUE(schema::validate(def, payload, e))
      << schema::def_name(def) << ": " << e.text() << "\n"
      << payload.dump().substr(0, 2000);
}

// The keys of upstream's own config.get answer (OpenClaw 2026.9.6, captured).
std::set<std::string> upstream_config_get_keys() {
  const Json frame = Json::parse(
      read_text(std::string(CLAWGATE_SHARED_DATA) + "/../protocol/frames/33-config-get.json"),
      nullptr, false);
  std::set<std::string> keys;
  if (!frame.is_object()) return keys;
  for (const auto& c : frame["connections"])
    for (const auto& t : c["transcript"])
      if (t["frame"].value("type", "") == "res")
        for (auto& [k, _] : t["frame"]["payload"].items()) keys.insert(k);
  return keys;
}

TEST(ConfigMethods, GetAndSchemaAnswerTheProtocolsShapesWithSecretsRedacted) {
  GatewayProcess gw({}, config_with("none"));
  Client c(gw);
  const Json got = c.gc.call("config.get");
  expect_valid(schema::Def::ConfigGetResult, got);
  EXPECT_EQ(got["valid"], true);
  EXPECT_EQ(got["exists"], true);
  EXPECT_EQ(got["path"], gw.state_dir() + "/clawgate.json");
  EXPECT_EQ(got["config"]["agents"]["defaults"]["workspace"], "~/工作区 🦞");
  EXPECT_EQ(got["config"]["session"]["dmScope"], "main") << "defaults filled in";
  EXPECT_EQ(got["config"]["models"]["providers"]["openai"]["apiKey"], "__OPENCLAW_REDACTED__");
  EXPECT_EQ(got["config"]["gateway"]["auth"]["token"], "__OPENCLAW_REDACTED__")
      << "the --token in effect, shown as set";
  ASSERT_TRUE(got["raw"].is_string());
  EXPECT_NE(got["raw"].get<std::string>().find("__OPENCLAW_REDACTED__"), std::string::npos);
  EXPECT_EQ(got["hash"].get<std::string>().rfind("hmac-sha256:v1:", 0), 0u);
  const std::string text = got.dump();
  for (const char* secret : kSecrets) EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  const std::set<std::string> upstream = upstream_config_get_keys();
  ASSERT_FALSE(upstream.empty()) << "shared/protocol/frames/33-config-get.json missing";
  for (auto& [k, _] : got.items())
    EXPECT_TRUE(upstream.count(k)) << k << " is not a key of upstream's config.get";

  const Json schema = c.gc.call("config.schema");
  expect_valid(schema::Def::ConfigSchemaResponse, schema);
  EXPECT_EQ(schema["schema"]["$schema"], "http://json-schema.org/draft-07/schema#");
  EXPECT_TRUE(schema["schema"]["properties"]["gateway"]["properties"].contains("port"));
  EXPECT_EQ(schema["uiHints"]["models.providers.*.apiKey"]["sensitive"], true);
}

TEST(ConfigMethods, GetFollowsAReloadAndShowsARefusedOneWithoutRestartingTheFront) {
  GatewayProcess gw({}, config_with("none"));
  Client c(gw);
  const std::string path = gw.state_dir() + "/clawgate.json";
  std::ofstream(path) << config_with("last");
  ASSERT_EQ(kill(gw.pid(), SIGHUP), 0);
  EXPECT_TRUE(eventually([&] {
    return c.gc.call("config.get")["config"]["agents"]["defaults"]["heartbeat"]["target"] == "last";
  })) << gw.output();

  std::ofstream(path) << R"({"agents": {"defaults": {"heartbeat": {"every": "whenever"}}},
                            "hooks": {"token": "hook-secret"}})";
  ASSERT_EQ(kill(gw.pid(), SIGHUP), 0);
  ASSERT_TRUE(gw.wait_output("reload refused")) << gw.output();
  Json got;
  EXPECT_TRUE(eventually([&] {
    got = c.gc.call("config.get");
    return got["valid"] == false;
  }));
  expect_valid(schema::Def::ConfigGetResult, got);
  ASSERT_EQ(got["issues"].size(), 1u) << got["issues"];
  EXPECT_EQ(got["issues"][0]["path"], "agents.defaults.heartbeat.every");
  EXPECT_EQ(got["raw"], nullptr) << "nothing of a refused file is shown";
  EXPECT_EQ(got.dump().find("hook-secret"), std::string::npos);
  EXPECT_EQ(c.gc.call("health")["ok"], true) << "the same connection: the front never restarted";
}

}  // namespace
}  // namespace clawgate::test
