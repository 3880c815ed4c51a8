// Unit tests: which gateway a CLI command talks to and which credentials it may send there.
#include <gtest/gtest.h>

#include "target.hpp"

namespace clawgate::cli {
namespace {

const Environment kEnv = {{"OPENCLAW_GATEWAY_TOKEN", "env-secret"}};

Target resolve(const TargetRequest& r, const Environment& env = kEnv) {
  return resolve_target(r, env, [] { return std::optional<std::string>("saved-secret"); });
}

TEST(CliTarget, LocalGatewayGetsTheEnvironmentThenTheSavedToken) {
  Target t = resolve({});
  EXPECT_EQ(t.url, "ws://127.0.0.1:18789");
  EXPECT_EQ(t.token, "env-secret");
  EXPECT_EQ(resolve({}, {}).token, "saved-secret");
  for (const char* url : {"ws://localhost:1234", "ws://127.0.0.2:1234", "ws://[::1]:1234"}) {
    t = resolve({url, "", "", false}, {});
    EXPECT_TRUE(t.local) << url;
    EXPECT_EQ(t.token, "saved-secret") << url;
  }
}

TEST(CliTarget, AnotherHostGetsOnlyExplicitCredentials) {
  EXPECT_THROW(resolve({"ws://gw.example:18789", "", "", true}), TargetError);
  const Target t = resolve({"ws://gw.example:18789", "typed", "", true});
  EXPECT_FALSE(t.local);
  EXPECT_EQ(t.token, "typed");
  EXPECT_EQ(resolve({"ws://gw.example:18789", "", "pw", true}).password, "pw");
  EXPECT_EQ(resolve({"ws://gw.example:18789", "", "pw", true}).token, "");
  // A name that is not `localhost` is not local, whatever it resolves to.
  EXPECT_THROW(resolve({"ws://localhost.evil.example:1", "", "", true}), TargetError);
}

TEST(CliTarget, PlainWsToAnotherHostNeedsTheDangerousFlag) {
  try {
    resolve({"ws://192.0.2.2:18789", "typed", "", false});
    FAIL() << "accepted plain ws:// to another host";
  } catch (const TargetError& e) {
    EXPECT_NE(std::string(e.what()).find("--dangerously-allow-insecure-ws"), std::string::npos);
  }
  Environment env = kEnv;
  env["OPENCLAW_GATEWAY_URL"] = "ws://192.0.2.2:18789";
  EXPECT_THROW(resolve({}, env), TargetError) << "from the environment too";
}

TEST(CliTarget, AnEnvironmentUrlKeepsItsEnvironmentTokenButNeverTheSavedOne) {
  Environment env = {{"OPENCLAW_GATEWAY_URL", "ws://192.0.2.2:18789"}};
  EXPECT_EQ(resolve({"", "", "", true}, env).token, "") << "no saved token to another host";
  env["OPENCLAW_GATEWAY_TOKEN"] = "env-secret";
  EXPECT_EQ(resolve({"", "", "", true}, env).token, "env-secret");
}

}  // namespace
}  // namespace clawgate::cli
