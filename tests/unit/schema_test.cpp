// Unit tests: the generated validators reject what upstream rejects, with upstream's wording,
// and accept every historical client id and mode.
#include <gtest/gtest.h>

#include "protocol_gen.hpp"

namespace clawgate::schema {
namespace {

Json connect_params() {
  return Json::parse(R"({"minProtocol":3,"maxProtocol":4,
    "client":{"id":"cli","version":"1.0","platform":"linux","mode":"cli"},
    "role":"operator","scopes":["operator.admin"],"auth":{"token":"t"}})");
}

std::string errors_of(Def d, const Json& v) {
  Errors e;
  validate(d, v, e);
  return e.text();
}

TEST(Schema, ValidConnectParamsPass) {
  Errors e;
  EXPECT_TRUE(validate(Def::ConnectParams, connect_params(), e)) << e.text();
}

TEST(Schema, UnknownFieldInClosedObjectIsRejected) {
  Json p = connect_params();
  p["bogusField"] = 1;
  EXPECT_EQ(errors_of(Def::ConnectParams, p), "at root: unexpected property 'bogusField'");
  p = connect_params();
  p["client"]["extra"] = "x";
  EXPECT_EQ(errors_of(Def::ConnectParams, p), "at /client: unexpected property 'extra'");
}

TEST(Schema, MissingRequiredAndWrongTypesUseUpstreamWording) {
  EXPECT_EQ(errors_of(Def::SystemEventParams, Json::object()),
            "must have required property 'text'");
  EXPECT_EQ(errors_of(Def::SystemEventParams, Json{{"text", 123}}), "at /text: must be string");
  EXPECT_EQ(errors_of(Def::LogsTailParams, Json{{"limit", 0}}), "at /limit: must be >= 1");
  EXPECT_EQ(errors_of(Def::LogsTailParams, Json{{"limit", 5001}}), "at /limit: must be <= 5000");
  EXPECT_EQ(errors_of(Def::LogsTailParams, Json{{"limit", 1.5}}), "at /limit: must be integer");
  Errors e;
  EXPECT_TRUE(validate(Def::LogsTailParams, Json{{"limit", 2.0}}, e))
      << "2.0 is an integer in JSON Schema";
}

TEST(Schema, EveryHistoricalClientIdAndModeIsAccepted) {
  for (const char* id : {"webchat-ui",
                         "openclaw-control-ui",
                         "openclaw-browser-copilot",
                         "openclaw-tui",
                         "webchat",
                         "cli",
                         "gateway-client",
                         "openclaw-macos",
                         "openclaw-linux",
                         "openclaw-ios",
                         "openclaw-watchos",
                         "openclaw-android",
                         "node-host",
                         "openclaw-worker",
                         "test",
                         "fingerprint",
                         "openclaw-probe",
                         "moltbot-macos",
                         "moltbot-control-ui",
                         "clawdbot-ios"}) {
    Json p = connect_params();
    p["client"]["id"] = id;
    Errors e;
    EXPECT_TRUE(validate(Def::ConnectParams, p, e)) << id << ": " << e.text();
  }
  for (const char* mode : {"webchat", "cli", "ui", "backend", "node", "worker", "probe", "test"}) {
    Json p = connect_params();
    p["client"]["mode"] = mode;
    Errors e;
    EXPECT_TRUE(validate(Def::ConnectParams, p, e)) << mode;
  }
  Json p = connect_params();
  p["client"]["id"] = "CLI";
  EXPECT_EQ(errors_of(Def::ConnectParams, p),
            "at /client/id: must be equal to one of the allowed values");
}

TEST(Schema, DeviceBlockShapeIsChecked) {
  Json p = connect_params();
  p["device"] = {
      {"id", "abc"}, {"publicKey", "k"}, {"signature", "s"}, {"signedAt", 1}, {"nonce", ""}};
  EXPECT_EQ(errors_of(Def::ConnectParams, p),
            "at /device/nonce: must NOT have fewer than 1 characters");
  p["device"]["nonce"] = "n";
  p["device"]["signedAt"] = -1;
  EXPECT_EQ(errors_of(Def::ConnectParams, p), "at /device/signedAt: must be >= 0");
}

TEST(Schema, FramesAreDiscriminatedAndClosed) {
  Errors e;
  EXPECT_TRUE(
      validate(Def::RequestFrame, Json::parse(R"({"type":"req","id":"1","method":"health"})"), e));
  EXPECT_EQ(errors_of(Def::RequestFrame, Json::parse(R"({"type":"event","event":"x"})")),
            "must have required property 'id'; must have required property 'method'; "
            "at root: unexpected property 'event'; at /type: must be equal to constant");
  EXPECT_EQ(errors_of(Def::RequestFrame, Json::parse(R"({"type":"req","id":"","method":"x"})")),
            "at /id: must NOT have fewer than 1 characters");
}

TEST(Schema, MethodAndEventTablesComeFromTheSchema) {
  const MethodSpec* m = find_method("system-event");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->scope, "operator.admin");
  ASSERT_NE(find_method("health"), nullptr);
  EXPECT_TRUE(find_method("health")->scopeExempt);
  EXPECT_EQ(find_method("no.such.method"), nullptr);
  ASSERT_NE(find_event("tick"), nullptr);
  EXPECT_TRUE(find_event("tick")->dropIfSlow);
  EXPECT_FALSE(find_event("shutdown")->dropIfSlow);
  EXPECT_TRUE(find_event("presence")->stateVersion);
}

}  // namespace
TEST(Schema, AHundredThousandCharacterIdIsRefusedWithoutRecursion) {
  // Used to crash the front: std::regex recursed once per character of a pattern-checked id.
  const std::string id(100'000, 'a');
  EXPECT_EQ(errors_of(Def::CronRunsParams, Json{{"id", id}}),
            "at /id: must NOT have more than 4096 characters");
  const std::string ok(4096, 'x');
  EXPECT_EQ(errors_of(Def::CronRunsParams, Json{{"id", ok}}), "");
  EXPECT_EQ(errors_of(Def::CronRunsParams, Json{{"id", "a/b"}}),
            "at /id: must match pattern \"^[^/\\\\]+$\"");
}

TEST(Schema, PatternsBehaveAsTheirEcmaScriptRegexes) {
  // \S: any non-whitespace character, in any script (Unicode spaces count as space).
  const std::string spaces =
      errors_of(Def::CronAddParams, Json{{"declarationKey", " \t\u3000\u00a0"}});
  EXPECT_NE(spaces.find("at /declarationKey: must match pattern \"\\S\""), std::string::npos)
      << spaces;
  const std::string cjk = errors_of(Def::CronAddParams, Json{{"declarationKey", "你好"}});
  EXPECT_EQ(cjk.find("/declarationKey"), std::string::npos) << cjk;
}

TEST(Schema, EveryParamsStringAndArrayIsBounded) {
  // Long Chinese chat messages are fine (characters, not bytes, are counted)...
  std::string cjk;
  for (int i = 0; i < 100'000; ++i) cjk += "漢";
  EXPECT_EQ(errors_of(Def::ChatSendParams,
                      Json{{"sessionKey", "main"}, {"message", cjk}, {"idempotencyKey", "k"}}),
            "");
  // ...keys and ids are not novels, and preview batches are small.
  EXPECT_EQ(errors_of(Def::ChatSendParams, Json{{"sessionKey", std::string(5000, 'k')},
                                                {"message", "hi"},
                                                {"idempotencyKey", "k"}}),
            "at /sessionKey: must NOT have more than 512 characters");
  Json keys = Json::array();
  for (int i = 0; i < 65; ++i) keys.push_back("k" + std::to_string(i));
  EXPECT_EQ(errors_of(Def::SessionsPreviewParams, Json{{"keys", keys}}),
            "at /keys: must NOT have more than 64 items");
}

TEST(Schema, IntegersMustFitInt64BeforeAnyoneConvertsThem) {
  Json p = connect_params();
  p["minProtocol"] = 1e300;  // integral, but no int64 holds it: reachable before auth
  EXPECT_EQ(errors_of(Def::ConnectParams, p), "at /minProtocol: must be integer");
  p["minProtocol"] = Json::parse("18446744073709551615");
  EXPECT_EQ(errors_of(Def::ConnectParams, p), "at /minProtocol: must be integer");
  p["minProtocol"] = 9223372036854775807LL;
  EXPECT_NE(errors_of(Def::ConnectParams, p), "at /minProtocol: must be integer");
  EXPECT_EQ(errors_of(Def::AgentWaitParams, Json{{"runId", "r"}, {"timeoutMs", 1e19}}),
            "at /timeoutMs: must be integer");
}

}  // namespace clawgate::schema
