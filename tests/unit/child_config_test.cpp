// Unit tests: what the supervisor sends each child of the configuration (ipc/child_config.hpp,
// generated from schema/child_config.json). Settings in Chinese, Arabic and emoji arrive through
// a real control message as they were written, up to the schema's bounds (which count code
// points); a value the schema refuses, sent by a hostile or broken peer, is refused with its key
// path; and each child's message and environment hold its own secrets and no other's.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "child_config.hpp"
#include "config.hpp"
#include "run.hpp"

namespace clawgate {
namespace {

// An account's worker section as Telegram's typed settings (ChannelSettings holds it as JSON).
cfg::TelegramChannel telegram_section(const ChannelSettings& c) {
  cfg::Issues is;
  return cfg::parse_TelegramChannel(c.section, "", is);
}

using Json = nlohmann::json;

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

std::string repeat(const std::string& unit, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += unit;
  return out;
}

GatewaySettings apply(const Json& config) {
  GatewaySettings s;
  apply_config_text(config.dump(), "test.json", s, nullptr, nullptr);
  return s;
}

// `m` as a child receives it: framed into bytes by the sender, read back by the receiver.
class Received {
 public:
  explicit Received(const ipc::ReloadMessage& m) {
    capnp::MallocMessageBuilder b;
    m.copy_to(b.initRoot<ipc::Control>());
    words_ = capnp::messageToFlatArray(b);
    reader_.emplace(words_.asPtr());
  }
  ipc::Reload::Reader reload() { return reader_->getRoot<ipc::Control>().getReload(); }

 private:
  kj::Array<capnp::word> words_;
  std::optional<capnp::FlatArrayMessageReader> reader_;
};

TEST(ChildConfig, SettingsInAnyScriptArriveAsWritten) {
  const std::string longest_key = repeat("🔑", 4096);  // 16 KiB: the bound counts code points
  const Json config = {
      {"agents",
       {{"defaults",
         {{"model",
           {{"primary", "本地/模型-نموذج-🤖"},
            {"fallbacks", {"محلي/احتياطي", "本地/备用"}}}},
          {"timeoutSeconds", 90},
          {"maxTokens", 2048},
          {"maxConcurrent", 3}}}}},
      {"models",
       {{"providers",
         {{"本地",
           {{"api", "openai-completions"},
            {"baseUrl", "http://127.0.0.1:8080/路径/مسار/🚀"},
            {"apiKey", "密钥-مفتاح-🔑"}}},
          {"محلي", {{"baseUrl", "http://10.0.0.9:8081"}, {"dangerouslyAllowInsecureHttp", true}}},
          {"emoji-🦜", {{"apiKey", longest_key}}}}}}},
      {"channels",
       {{"telegram",
         {{"botToken", "123:令牌-رمز-🔑"},
          {"apiRoot", "http://127.0.0.1:8081/路径"},
          {"pollTimeoutSeconds", 7},
          {"textChunkLimit", 1000},
          {"accounts",
           {{"default", Json::object()},
            {"work",
             {{"tokenFile", "/run/secrets/ملف/文件 🗝"}, {"pollTimeoutSeconds", 50}}}}}}}}}};
  const GatewaySettings s = apply(config);

  Received agent(ipc::ReloadMessage::agent(s.config));
  const Result<cfg::Config> got = ipc::agent_settings(agent.reload());
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(cfg::to_json(got->models), cfg::to_json(s.config.models));
  EXPECT_EQ(got->models.providers.at("emoji-🦜").api_key, longest_key);
  const cfg::AgentsDefaults& d = got->agents.defaults;
  EXPECT_EQ(cfg::to_json(*d.model), cfg::to_json(*s.config.agents.defaults.model));
  EXPECT_EQ(d.model->primary, "本地/模型-نموذج-🤖");
  EXPECT_EQ(d.timeout_seconds, 90);
  EXPECT_EQ(d.max_tokens, 2048);
  EXPECT_EQ(d.max_concurrent, 3);
  EXPECT_EQ(d.heartbeat.every, cfg::AgentsDefaults{}.heartbeat.every) << "not sent: a default";

  ASSERT_EQ(s.channels.size(), 2u);
  for (const ChannelSettings& c : s.channels) {
    Received worker(ipc::ReloadMessage::channel(c));
    const Result<cfg::TelegramChannel> t = ipc::telegram_settings(worker.reload(), "x");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->bot_token, telegram_section(c).bot_token) << c.account_id;
    EXPECT_EQ(t->token_file, telegram_section(c).token_file) << c.account_id;
    EXPECT_EQ(t->api_root, "http://127.0.0.1:8081/路径");
    EXPECT_EQ(t->poll_timeout_seconds, c.account_id == "work" ? 50 : 7);
    EXPECT_EQ(t->text_chunk_limit, 1000);
    EXPECT_TRUE(t->allow_from.empty() && t->groups.empty()) << "the front's business";
  }
  EXPECT_EQ(telegram_section(*find_account(s.channels, "telegram", "work")).token_file,
            "/run/secrets/ملف/文件 🗝");

  // The front's snapshot is text in any script too.
  const std::string snapshot = R"({"raw":"// 配置 — إعدادات 🐙"})";
  Received front(ipc::ReloadMessage::front(snapshot));
  const Result<std::string> text = ipc::front_snapshot(front.reload());
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, snapshot);
}

// A message as a hostile peer could write it: the generated writer sets what the typed
// settings hold, whether or not the schema allows it, and `bend` changes the message itself.
struct HostileCase {
  const char* what;
  std::function<void(cfg::Config&)> settings;
  std::function<void(ipc::AgentConfig::Builder)> bend;
  std::string path;  // the key path the refusal names
};

cfg::Config one_provider() {
  cfg::Config c;
  c.models.providers["p"].api_key = "sk";
  c.agents.defaults.model = cfg::AgentsDefaultsModel{std::string("p/m"), std::nullopt};
  return c;
}

TEST(ChildConfig, AValueTheSchemaRefusesIsRefusedFromTheLinkByItsPath) {
  const std::vector<HostileCase> cases = {
      {"a key over 4096 code points",
       [](cfg::Config& c) { c.models.providers["p"].api_key = repeat("密", 4097); }, nullptr,
       "models.providers.p.apiKey"},
      {"text that is not UTF-8", [](cfg::Config& c) { c.models.providers["p"].api_key = "a\xff"; },
       nullptr, "models.providers.p.apiKey"},
      {"33 fallbacks",
       [](cfg::Config& c) {
         c.agents.defaults.model->fallbacks = std::vector<std::string>(33, "p/x");
       },
       nullptr, "agents.defaults.model.fallbacks"},
      {"65 providers",
       [](cfg::Config& c) {
         for (int i = 0; i < 65; ++i) c.models.providers["p" + std::to_string(i)];
       },
       nullptr, "models.providers"},
      {"a provider id over 64 code points",
       [](cfg::Config& c) { c.models.providers[repeat("ع", 65)]; }, nullptr, "models.providers"},
      {"a provider given twice", nullptr,
       [](ipc::AgentConfig::Builder a) {
         auto list = a.getModels().initProviders(2);
         list[0].setKey("p");
         list[1].setKey("p");
       },
       "models.providers.p"},
      {"maxTokens 0", [](cfg::Config& c) { c.agents.defaults.max_tokens = 0; }, nullptr,
       "agents.defaults.maxTokens"},
      {"maxConcurrent 2000", [](cfg::Config& c) { c.agents.defaults.max_concurrent = 2000; },
       nullptr, "agents.defaults.maxConcurrent"},
      {"a negative timeout", [](cfg::Config& c) { c.agents.defaults.timeout_seconds = -1; },
       nullptr, "agents.defaults.timeoutSeconds"},
      {"an api the schema does not list",
       [](cfg::Config& c) { c.models.providers["p"].api = "grpc"; }, nullptr,
       "models.providers.p.api"},
      {"a baseUrl that is not http(s)",
       [](cfg::Config& c) { c.models.providers["p"].base_url = "ftp://host"; }, nullptr,
       "models.providers.p.baseUrl"},
      {"a model ref without a provider",
       [](cfg::Config& c) { c.agents.defaults.model->primary = "no-slash"; }, nullptr,
       "agents.defaults.model.primary"},
  };
  for (const HostileCase& h : cases) {
    cfg::Config c = one_provider();
    if (h.settings) h.settings(c);
    capnp::MallocMessageBuilder b;
    auto reload = b.initRoot<ipc::Reload>();
    ipc::write_AgentConfig(c, reload.initAgent());
    if (h.bend) h.bend(reload.getAgent());
    const Result<cfg::Config> got = ipc::agent_settings(reload.asReader());
    ASSERT_FALSE(got) << h.what << " accepted";
    EXPECT_EQ(got.error().code, ErrorCode::INVALID_REQUEST);
    EXPECT_TRUE(contains(got.error().message, h.path + ": "))
        << h.what << ": " << got.error().message;
  }
  {
    cfg::Config c = one_provider();
    capnp::MallocMessageBuilder b;
    ipc::write_AgentConfig(c, b.initRoot<ipc::Reload>().initAgent());
    EXPECT_TRUE(ipc::agent_settings(b.getRoot<ipc::Reload>().asReader()))
        << "the cases above differ from a valid message in their one value";
  }

  // A Telegram worker's settings, at the account's path.
  cfg::TelegramChannel t;
  t.bot_token = repeat("😀", 257);
  Received worker(ipc::ReloadMessage::telegram(t));
  const Result<cfg::TelegramChannel> tg =
      ipc::telegram_settings(worker.reload(), "channels.telegram.accounts.work");
  ASSERT_FALSE(tg);
  EXPECT_TRUE(contains(tg.error().message,
                       "channels.telegram.accounts.work.botToken: must be at "
                       "most 256 characters long (is 257)"))
      << tg.error().message;
  t.bot_token = repeat("😀", 256);
  t.poll_timeout_seconds = 51;
  Received slow(ipc::ReloadMessage::telegram(t));
  EXPECT_FALSE(ipc::telegram_settings(slow.reload(), "channels.telegram"));

  // Another kind's settings are no settings for this child.
  EXPECT_FALSE(ipc::agent_settings(worker.reload()));
  Received agent(ipc::ReloadMessage::agent(one_provider()));
  EXPECT_FALSE(ipc::telegram_settings(agent.reload(), "channels.telegram"));
  EXPECT_FALSE(ipc::front_snapshot(agent.reload()));

  // The front's snapshot: UTF-8, and no larger than a client could be sent.
  EXPECT_FALSE(
      ipc::front_snapshot(Received(ipc::ReloadMessage::front("{\"raw\":\"\xc0\"}")).reload()));
  const std::string huge(ipc::kMaxConfigSnapshotBytes + 1, ' ');
  EXPECT_FALSE(ipc::front_snapshot(Received(ipc::ReloadMessage::front(huge)).reload()));
}

// Slack: each account's worker gets its own tokens (the root's and the SLACK_* variables serve
// the account named default only) and reads them back through slack_settings; nobody else
// gets them.
TEST(ChildConfig, EachSlackAccountIsSentItsOwnTokensOnly) {
  GatewaySettings s = apply(
      {{"channels",
        {{"slack",
          {{"botToken", "xoxb-root-secret"},
           {"apiRoot", "http://127.0.0.1:9/api"},
           {"textChunkLimit", 1234},
           {"accounts",
            {{"default", Json::object()},
             {"work", {{"botToken", "xoxb-work-secret"}, {"appToken", "xapp-work-secret"}}}}}}},
         {"telegram", {{"botToken", "111:tg-secret"}}}}}});
  s.state_dir = "/var/lib/clawgate-test";
  const Environment parent = {{"PATH", "/usr/bin"}, {"SLACK_APP_TOKEN", "xapp-env-secret"}};
  const std::vector<std::string> secrets = {"xoxb-root-secret", "xoxb-work-secret",
                                            "xapp-work-secret", "xapp-env-secret", "111:tg-secret"};
  const std::map<std::string, std::vector<std::string>> own = {
      {"front", {}},
      {"agent", {}},
      {"telegram", {"111:tg-secret"}},
      {"slack", {"xoxb-root-secret", "xapp-env-secret"}},  // no appToken of its own: the variable
      {"slack:work", {"xoxb-work-secret", "xapp-work-secret"}}};
  const auto specs = supervisor::children_for(s, GatewayFlags{}, parent, "/opt/clawgate", "");
  ASSERT_EQ(specs.size(), own.size());
  for (const supervisor::ChildSpec& spec : specs) {
    std::string handed =
        std::string(spec.config.bytes()) + std::string(spec.live.bytes()) + spec.start_text;
    for (const auto& [k, v] : spec.env) handed += "\n" + k + "=" + v;
    for (const std::string& secret : secrets) {
      const auto& mine = own.at(spec.name);
      EXPECT_EQ(contains(handed, secret), std::find(mine.begin(), mine.end(), secret) != mine.end())
          << spec.name << " and " << secret;
    }
    if (spec.name == "slack:work") {
      EXPECT_EQ(spec.exe, "/opt/clawgate/clawgate-slack");
      capnp::MallocMessageBuilder b;
      auto msg = b.initRoot<ipc::Control>();
      spec.config.copy_to(msg);
      const Result<cfg::SlackChannel> got =
          ipc::slack_settings(msg.asReader().getReload(), "channels.slack.accounts.work");
      ASSERT_TRUE(got) << got.error().message;
      EXPECT_EQ(got->bot_token, "xoxb-work-secret");
      EXPECT_EQ(got->app_token, "xapp-work-secret");
      EXPECT_EQ(got->api_root, "http://127.0.0.1:9/api");
      EXPECT_EQ(got->text_chunk_limit, 1234);
      EXPECT_FALSE(ipc::telegram_settings(msg.asReader().getReload(), "x")) << "not a Telegram's";
    }
  }
}

TEST(ChildConfig, EachChildIsSentItsOwnSecretsOnly) {
  GatewaySettings s = apply({{"models",
                              {{"providers",
                                {{"fake", {{"apiKey", "sk-provider-secret"}}},
                                 {"other", {{"apiKey", "${OTHER_KEY}"}}}}}}},
                             {"agents", {{"defaults", {{"model", "fake/m"}}}}},
                             {"channels",
                              {{"telegram",
                                {{"botToken", "111:root-secret"},
                                 {"accounts",
                                  {{"default", Json::object()},
                                   {"work", {{"botToken", "222:work-secret"}}},
                                   {"home", {{"tokenFile", "/run/home-secret"}}}}}}}}},
                             {"gateway", {{"auth", {{"password", "gw-secret-password"}}}}}});
  s.state_dir = "/var/lib/clawgate-test";
  s.token = "gw-secret-token";  // as resolved from a flag, the environment or the file
  s.password = "gw-secret-password";
  const Environment parent = {{"PATH", "/usr/bin"},
                              {"OTHER_KEY", "sk-other-secret"},
                              {"TELEGRAM_BOT_TOKEN", "333:env-secret"}};
  const std::vector<std::string> secrets = {
      "gw-secret-token", "gw-secret-password", "sk-provider-secret", "sk-other-secret",
      "111:root-secret", "222:work-secret",    "/run/home-secret",   "333:env-secret"};
  const std::map<std::string, std::vector<std::string>> own = {
      // and a token file's path, as config.get shows it (the file itself is the worker's)
      {"front", {"gw-secret-token", "gw-secret-password", "/run/home-secret"}},
      {"agent", {"sk-provider-secret", "sk-other-secret"}},
      {"telegram", {"111:root-secret"}},  // it names a token: no need for the variable
      {"telegram:work", {"222:work-secret"}},
      {"telegram:home", {"/run/home-secret"}}};

  const std::vector<supervisor::ChildSpec> specs =
      supervisor::children_for(s, GatewayFlags{}, parent, "/opt/clawgate", "");
  ASSERT_EQ(specs.size(), own.size());
  for (const supervisor::ChildSpec& spec : specs) {
    // Everything the child is handed: its messages, what it reads at start, its environment.
    std::string handed =
        std::string(spec.config.bytes()) + std::string(spec.live.bytes()) + spec.start_text;
    for (const auto& [k, v] : spec.env) handed += "\n" + k + "=" + v;
    for (const std::string& secret : secrets) {
      const std::vector<std::string>& mine = own.at(spec.name);
      const bool is_mine = std::find(mine.begin(), mine.end(), secret) != mine.end();
      EXPECT_EQ(contains(handed, secret), is_mine) << spec.name << " and " << secret;
    }
  }
  // Where each secret travels: in its config message, or (a key by reference, the gateway's
  // token) in the environment.
  auto spec = [&](const std::string& name) {
    return *std::find_if(specs.begin(), specs.end(),
                         [&](const supervisor::ChildSpec& c) { return c.name == name; });
  };
  // The front never opens the file: it runs on the file as config.get shows it, secrets
  // redacted, and its own credentials from the environment.
  const supervisor::ChildSpec front = spec("front");
  EXPECT_TRUE(front.config.empty());
  const Json start = Json::parse(front.start_text);
  EXPECT_EQ(start["parsed"]["channels"]["telegram"]["accounts"]["work"]["botToken"],
            "__OPENCLAW_REDACTED__");
  const GatewaySettings seen =
      resolve_gateway_settings(GatewayFlags{}, front.env, start["parsed"].dump(), "test.json");
  EXPECT_EQ(seen.channels.size(), s.channels.size()) << "every account's policy is there";
  EXPECT_EQ(seen.token, "gw-secret-token");
  EXPECT_EQ(seen.password, "gw-secret-password");
  EXPECT_TRUE(contains(spec("agent").config.bytes(), "sk-provider-secret"));
  EXPECT_TRUE(contains(spec("agent").config.bytes(), "${OTHER_KEY}"));
  EXPECT_TRUE(contains(spec("telegram:home").config.bytes(), "/run/home-secret"));
}

}  // namespace
}  // namespace clawgate
