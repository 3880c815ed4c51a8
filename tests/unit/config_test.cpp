// Unit tests: config precedence (flag > env > file > default), comments, key-naming errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "config.hpp"

namespace clawgate {
namespace {

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

TEST(Config, PasswordOnlyMeansPasswordModeAndNoneNeedsLoopback) {
  Environment env = base_env();
  env["OPENCLAW_GATEWAY_PASSWORD"] = "pw";
  EXPECT_EQ(resolve_gateway_settings({}, env).auth_mode, AuthMode::password);
  GatewayFlags flags;
  flags.config_path = write_temp(R"({"gateway":{"bind":"lan","auth":{"mode":"none"}}})");
  EXPECT_THROW(resolve_gateway_settings(flags, base_env()), ConfigError);
}

}  // namespace
}  // namespace clawgate
