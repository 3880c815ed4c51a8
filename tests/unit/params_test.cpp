// Unit tests: the generated typed params (schema::params) read validated params as the schema
// says: required fields set, optional ones absent or holding the limits.json default, integers
// up to the int64 edge, any script's text unchanged, an anyOf of objects as one struct; and a
// read of params that were never validated throws instead of returning a half-filled struct.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "protocol_gen.hpp"

namespace clawgate::schema {
namespace {

namespace P = params;

// The params of `def` as a handler gets them: validated first, then read.
template <typename T>
T read_valid(Def def, const Json& params) {
  Errors e;
  EXPECT_TRUE(validate(def, params, e)) << def_name(def) << ": " << e.text();
  return params.get<T>();
}

// The mapping, stated once: required -> plain, optional -> std::optional, default -> plain,
// objects and mixed types -> Json.
static_assert(std::is_same_v<decltype(P::ChatSend::session_key), std::string>);
static_assert(std::is_same_v<decltype(P::ChatSend::deliver), bool>);  // limits.json: false
static_assert(
    std::is_same_v<decltype(P::ChatSend::suppress_command_interpretation), std::optional<bool>>);
static_assert(std::is_same_v<decltype(P::ChatSend::timeout_ms), std::optional<int64_t>>);
static_assert(std::is_same_v<decltype(P::ChatSend::queue_mode), std::optional<std::string>>);
static_assert(std::is_same_v<decltype(P::ChatSend::attachments), std::optional<Json>>);
static_assert(std::is_same_v<decltype(P::ChatSend::fast_mode), std::optional<Json>>);
static_assert(std::is_same_v<decltype(P::LogsTail::limit), int64_t>);
static_assert(std::is_same_v<decltype(P::SystemEvent::last_input_seconds), std::optional<double>>);
static_assert(std::is_same_v<decltype(P::SessionsPreview::keys), std::vector<std::string>>);

TEST(Params, ChatSendInAnyScriptKeepsEveryStringAndLeavesAbsentOnesEmpty) {
  const Json raw = Json::parse(R"({
    "sessionKey": "agent:main:telegram:dm:مرحبا",
    "message": "请把这份报告翻译成阿拉伯语 🙏 ثم أرسلها إلى الفريق 👩🏽‍💻",
    "idempotencyKey": "run-😀-01",
    "thinking": "low",
    "queueMode": "collect",
    "timeoutMs": 120000,
    "attachments": [{"type": "image", "mimeType": "image/png", "fileName": "截图.png",
                     "content": "iVBORw0KGgo="}]
  })");
  const auto p = read_valid<P::ChatSend>(Def::ChatSendParams, raw);
  EXPECT_EQ(p.session_key, "agent:main:telegram:dm:مرحبا");
  EXPECT_EQ(p.message,
            "请把这份报告翻译成阿拉伯语 🙏 ثم أرسلها إلى الفريق "
            "👩🏽‍💻");
  EXPECT_EQ(p.idempotency_key, "run-😀-01");
  EXPECT_EQ(p.thinking, "low");
  EXPECT_EQ(p.queue_mode, "collect");
  EXPECT_EQ(p.timeout_ms, 120000);
  ASSERT_TRUE(p.attachments);
  EXPECT_EQ((*p.attachments)[0]["fileName"], "截图.png");  // free-form: kept as Json
  EXPECT_FALSE(p.deliver);
  EXPECT_FALSE(p.agent_id);
  EXPECT_FALSE(p.fast_mode);
  EXPECT_FALSE(p.originating_channel);
  EXPECT_FALSE(p.expected_leaf_entry_id);
}

TEST(Params, AbsentKeysWithAClawgateDefaultHoldIt) {
  const auto empty = read_valid<P::LogsTail>(Def::LogsTailParams, Json::object());
  EXPECT_FALSE(empty.cursor);
  EXPECT_EQ(empty.limit, 500);
  EXPECT_EQ(empty.max_bytes, 250'000);
  const auto given =
      read_valid<P::LogsTail>(Def::LogsTailParams, Json{{"limit", 7}, {"maxBytes", 1}});
  EXPECT_EQ(given.limit, 7);
  EXPECT_EQ(given.max_bytes, 1);

  const Json approve = {
      {"channel", "telegram"}, {"accountId", "فريق_الدعم"}, {"requestId", "7K2Q"}};
  const auto a = read_valid<P::ChannelsPairingApprove>(Def::ChannelsPairingApproveParams, approve);
  EXPECT_EQ(a.account_id, "فريق_الدعم");
  EXPECT_TRUE(a.notify);
  EXPECT_FALSE(a.bootstrap_command_owner);
  Json quiet = approve;
  quiet["notify"] = false;
  EXPECT_FALSE(
      read_valid<P::ChannelsPairingApprove>(Def::ChannelsPairingApproveParams, quiet).notify);

  const auto c = read_valid<P::Connect>(Def::ConnectParams, Json::parse(R"({
    "minProtocol": 3, "maxProtocol": 4,
    "client": {"id": "webchat-ui", "version": "2026.9.1", "platform": "linux", "mode": "webchat",
               "displayName": "王小明的笔记本 💻"}})"));
  EXPECT_EQ(c.role, "operator");
  EXPECT_TRUE(c.scopes.empty());
  EXPECT_TRUE(c.caps.empty());  // upstream's own default
  EXPECT_EQ(c.client["displayName"], "王小明的笔记本 💻");
  EXPECT_FALSE(c.auth);
  EXPECT_FALSE(c.device);

  const auto list = read_valid<P::CronList>(Def::CronListParams, Json{{"query", "日报"}});
  EXPECT_FALSE(list.include_disabled);
  EXPECT_EQ(list.limit, 200);
  EXPECT_EQ(list.offset, 0);
  EXPECT_EQ(list.query, "日报");
  EXPECT_FALSE(list.enabled);
}

TEST(Params, IntegersReadUpToTheInt64Edge) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(read_valid<P::LogsTail>(Def::LogsTailParams, Json{{"cursor", kMax}}).cursor, kMax);
  // The same edge as an unsigned JSON number (how the parser stores 9223372036854775807).
  EXPECT_EQ(read_valid<P::LogsTail>(Def::LogsTailParams,
                                    Json::parse(R"({"cursor": 9223372036854775807})"))
                .cursor,
            kMax);
  // JSON Schema integers may be written with a fraction or exponent.
  EXPECT_EQ(read_valid<P::AgentWait>(Def::AgentWaitParams, Json::parse(R"({"runId": "r",
            "timeoutMs": 1e3})"))
                .timeout_ms,
            1000);
  EXPECT_EQ(read_valid<P::AgentWait>(Def::AgentWaitParams,
                                     Json::parse(R"({"runId": "r", "timeoutMs": 9.2e18})"))
                .timeout_ms,
            int64_t{9'200'000'000'000'000'000});

  // One past the edge is refused by the validator; read anyway, it throws, never wraps.
  const Json over = Json::parse(R"({"cursor": 9223372036854775808})");
  Errors e;
  EXPECT_FALSE(validate(Def::LogsTailParams, over, e));
  EXPECT_EQ(e.text(), "at /cursor: must be integer");
  EXPECT_THROW(over.get<P::LogsTail>(), std::logic_error);
  EXPECT_THROW(Json({{"cursor", 9.3e18}}).get<P::LogsTail>(), std::logic_error);
  EXPECT_THROW(Json({{"cursor", 1.5}}).get<P::LogsTail>(), std::logic_error);
}

TEST(Params, AnAnyOfOfObjectsReadsAsOneStruct) {
  const auto by_job_id = read_valid<P::CronRun>(Def::CronRunParams, Json{{"jobId", "每日-摘要"}});
  EXPECT_FALSE(by_job_id.id);
  EXPECT_EQ(by_job_id.job_id, "每日-摘要");
  EXPECT_EQ(by_job_id.mode, "force");  // clawgate's default, in both branches
  const auto by_id =
      read_valid<P::CronRun>(Def::CronRunParams, Json{{"id", "j1"}, {"mode", "due"}});
  EXPECT_EQ(by_id.id, "j1");
  EXPECT_FALSE(by_id.job_id);
  EXPECT_EQ(by_id.mode, "due");

  const auto update = read_valid<P::CronUpdate>(
      Def::CronUpdateParams, Json{{"id", "j1"}, {"patch", {{"description", "تقرير يومي 📊"}}}});
  EXPECT_EQ(update.patch["description"], "تقرير يومي 📊");  // required in every branch
}

TEST(Params, ArraysOfStringsAreVectors) {
  const auto ev = read_valid<P::SystemEvent>(
      Def::SystemEventParams,
      Json::parse(R"({"text": "节点上线 ✅", "tags": ["🏷️", "عربي"],
                                             "lastInputSeconds": 12.5})"));
  EXPECT_EQ(ev.text, "节点上线 ✅");
  ASSERT_TRUE(ev.tags);
  EXPECT_EQ(*ev.tags, (std::vector<std::string>{"🏷️", "عربي"}));
  EXPECT_FALSE(ev.roles);
  EXPECT_EQ(ev.last_input_seconds, 12.5);
  const auto preview = read_valid<P::SessionsPreview>(Def::SessionsPreviewParams,
                                                      Json{{"keys", {"main", "agent:main:群聊"}}});
  EXPECT_EQ(preview.keys, (std::vector<std::string>{"main", "agent:main:群聊"}));
}

TEST(Params, ParamsThatWereNeverValidatedThrowNamingTheKey) {
  try {
    (void)Json{{"message", "hi"}, {"idempotencyKey", "k"}}.get<P::ChatSend>();
    ADD_FAILURE() << "a missing required key was read";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("sessionKey"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Json({{"probe", "yes"}}).get<P::Health>(), std::logic_error);
  EXPECT_THROW(Json({{"keys", {"a", 1}}}).get<P::SessionsPreview>(), std::logic_error);
  EXPECT_THROW(Json::array().get<P::Health>(), std::logic_error);
}

}  // namespace
}  // namespace clawgate::schema
