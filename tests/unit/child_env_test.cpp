// Unit tests: each child's environment holds its own secrets and the allowlist, nothing else
// of the supervisor's (gateway token and password, provider keys, bot tokens, HOME, systemd's
// variables).
#include <gtest/gtest.h>

#include "child_env.hpp"

namespace clawgate::supervisor {
namespace {

// Everything a supervisor might have been started with.
Environment parent_env() {
  return {{"PATH", "/usr/bin:/bin"},
          {"HOME", "/home/op"},
          {"LANG", "C.UTF-8"},
          {"LC_ALL", "C.UTF-8"},
          {"TZ", "UTC"},
          {"ASAN_OPTIONS", "detect_leaks=1"},
          {"UBSAN_OPTIONS", "halt_on_error=1"},
          {"OPENCLAW_LOG_LEVEL", "debug"},
          {"OPENCLAW_GATEWAY_TOKEN", "gw-token"},
          {"CLAWGATE_GATEWAY_TOKEN", "gw-token-2"},
          {"OPENCLAW_GATEWAY_PASSWORD", "gw-password"},
          {"OPENAI_API_KEY", "sk-openai"},
          {"ANTHROPIC_API_KEY", "sk-anthropic"},
          {"MY_LOCAL_KEY", "sk-local"},
          {"TELEGRAM_BOT_TOKEN", "123:bot"},
          {"NOTIFY_SOCKET", "/run/systemd/notify"},
          {"WATCHDOG_USEC", "1000000"},
          {"SSL_CERT_FILE", "/etc/test-ca.pem"},
          {"AWS_SECRET_ACCESS_KEY", "aws"},
          {"CLAWGATE_TICK_INTERVAL_MS", "500"},
          {"OPENCLAW_SKIP_CANVAS_HOST", "1"}};
}

GatewaySettings settings() {
  GatewaySettings s;
  s.state_dir = "/var/lib/clawgate";
  s.token = "gw-token";
  s.password = "gw-password";
  cfg::Issues issues;
  s.config = cfg::parse_config(cfg::Json::parse(R"({
      "agents":{"defaults":{"model":"anthropic/claude-sonnet"}},
      "models":{"providers":{"local":{"baseUrl":"http://127.0.0.1:8080","apiKey":"${MY_LOCAL_KEY}"}}}})"),
                               issues);
  EXPECT_FALSE(issues.has_errors());
  return s;
}

ChannelSettings telegram(const std::string& section) {
  ChannelSettings c;
  c.name = "telegram";
  cfg::Issues issues;
  c.section = cfg::to_json(
      cfg::parse_TelegramChannel(cfg::Json::parse(section), "channels.telegram", issues));
  EXPECT_FALSE(issues.has_errors()) << section;
  return c;
}

// No value of `secrets` appears anywhere in `env`.
void expect_none_of(const Environment& env, std::initializer_list<const char*> secrets) {
  for (const auto& [k, v] : env)
    for (const char* s : secrets) EXPECT_EQ(v.find(s), std::string::npos) << k << "=" << v;
}

TEST(ChildEnv, AllowlistKeepsLocaleSanitizerAndLogSettingsOnly) {
  const Environment e = allowlisted_environment(parent_env());
  const Environment want = {{"PATH", "/usr/bin:/bin"},
                            {"LANG", "C.UTF-8"},
                            {"LC_ALL", "C.UTF-8"},
                            {"TZ", "UTC"},
                            {"ASAN_OPTIONS", "detect_leaks=1"},
                            {"UBSAN_OPTIONS", "halt_on_error=1"},
                            {"OPENCLAW_LOG_LEVEL", "debug"}};
  EXPECT_EQ(e, want);
}

TEST(ChildEnv, FrontGetsTheGatewaySecretsAndNoOtherProcesssSecrets) {
  const Environment e = front_environment(settings(), parent_env());
  EXPECT_EQ(e.at("OPENCLAW_GATEWAY_TOKEN"), "gw-token");
  EXPECT_EQ(e.at("OPENCLAW_GATEWAY_PASSWORD"), "gw-password");
  EXPECT_EQ(e.at("CLAWGATE_STATE_DIR"), "/var/lib/clawgate");
  EXPECT_EQ(e.at("CLAWGATE_TICK_INTERVAL_MS"), "500");
  EXPECT_EQ(e.at("OPENCLAW_SKIP_CANVAS_HOST"), "1");  // the front runs the canvas host
  EXPECT_EQ(e.count("HOME"), 0u);
  EXPECT_EQ(e.count("NOTIFY_SOCKET"), 0u);
  EXPECT_EQ(e.count("WATCHDOG_USEC"), 0u);
  EXPECT_EQ(e.count("CLAWGATE_GATEWAY_TOKEN"), 0u) << "already resolved into one variable";
  expect_none_of(e, {"sk-openai", "sk-anthropic", "sk-local", "123:bot", "aws"});
}

TEST(ChildEnv, FrontWithoutConfiguredSecretsGetsNone) {
  GatewaySettings s = settings();
  s.token.clear();  // generated into the state dir by the front itself
  s.password.clear();
  const Environment e = front_environment(s, parent_env());
  EXPECT_EQ(e.count("OPENCLAW_GATEWAY_TOKEN"), 0u);
  EXPECT_EQ(e.count("OPENCLAW_GATEWAY_PASSWORD"), 0u);
}

TEST(ChildEnv, TelegramGetsTheBotTokenVariableOnlyWhenItsConfigNamesNoToken) {
  const Environment from_env = channel_environment(settings(), telegram("{}"), parent_env());
  EXPECT_EQ(from_env.at("TELEGRAM_BOT_TOKEN"), "123:bot");
  EXPECT_EQ(from_env.at("CLAWGATE_ACCOUNT_ID"), "default");
  EXPECT_EQ(from_env.at("CLAWGATE_STATE_DIR"), "/var/lib/clawgate");
  EXPECT_EQ(from_env.at("SSL_CERT_FILE"), "/etc/test-ca.pem");
  expect_none_of(from_env, {"gw-token", "gw-password", "sk-openai", "sk-anthropic", "sk-local"});

  for (const char* section : {R"({"botToken":"9:x"})", R"({"tokenFile":"/run/secrets/tg"})"}) {
    const Environment e = channel_environment(settings(), telegram(section), parent_env());
    EXPECT_EQ(e.count("TELEGRAM_BOT_TOKEN"), 0u) << section;
  }
  ChannelSettings other = telegram("{}");
  other.account_id = "work";
  EXPECT_EQ(channel_environment(settings(), other, parent_env()).count("TELEGRAM_BOT_TOKEN"), 0u)
      << "the variable belongs to the default account";
}

TEST(ChildEnv, AgentGetsTheKeysItsConfigReferencesOnly) {
  const Environment e = agent_environment(settings(), parent_env());
  EXPECT_EQ(e.at("MY_LOCAL_KEY"), "sk-local");           // ${MY_LOCAL_KEY}
  EXPECT_EQ(e.at("ANTHROPIC_API_KEY"), "sk-anthropic");  // default model, no apiKey given
  EXPECT_EQ(e.count("OPENAI_API_KEY"), 0u);
  EXPECT_EQ(e.count("CLAWGATE_STATE_DIR"), 0u) << "the agent reads no state";
  expect_none_of(e, {"gw-token", "gw-password", "sk-openai", "123:bot", "aws"});
}

TEST(ChildEnv, OfflineAgentGetsNoKeyAtAll) {
  GatewaySettings s = settings();
  s.config = cfg::Config{};
  Environment want = allowlisted_environment(parent_env());
  want["SSL_CERT_FILE"] = "/etc/test-ca.pem";
  EXPECT_EQ(agent_environment(s, parent_env()), want);
}

}  // namespace
}  // namespace clawgate::supervisor
