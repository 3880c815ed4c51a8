// Whole-gateway sandbox tests: the real supervisor, front, agent and Telegram worker. Each
// child's /proc/<pid>/environ holds its own secret and no other process's; `status` shows each
// process's sandbox as the kernel enforces it (cross-checked in /proc/<pid>/status); and the
// sandboxed processes still do their work (Telegram delivery, a model answer).
// Without Landlock ABI 4 in the kernel these tests skip, except under CI=true, where they fail.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gateway_process.hpp"
#include "sandbox.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

// A gateway whose three children each have a secret of their own in the environment.
struct SecretGateway {
  TelegramEmulator emu{"777:telegram-secret"};
  FakeModels models;
  std::unique_ptr<GatewayProcess> gw;
  SecretGateway() {
    Json telegram = emu.channel_config();
    telegram.erase("botToken");  // from TELEGRAM_BOT_TOKEN instead
    Json cfg = models.config();
    cfg["models"]["providers"]["fake"]["apiKey"] = "${SANDBOX_MODEL_KEY}";
    cfg["channels"] = {{"telegram", telegram}};
    gw = std::make_unique<GatewayProcess>(
        std::map<std::string, std::string>{{"TELEGRAM_BOT_TOKEN", "777:telegram-secret"},
                                           {"SANDBOX_MODEL_KEY", "sk-model-secret"},
                                           {"OPENAI_API_KEY", "sk-unreferenced-secret"},
                                           {"SOME_OTHER_SECRET", "other-secret"}},
        cfg.dump(), "gateway-secret-token");
  }
};

Json processes(GatewayClient& c) {
  Json by_name = Json::object();
  const Json status = c.call("status");  // kept: the loop must not range over a temporary
  for (const auto& p : status["processes"]) by_name[p["name"].get<std::string>()] = p;
  return by_name;
}

std::string environ_of(int pid) {
  std::string e = read_text("/proc/" + std::to_string(pid) + "/environ");
  for (char& ch : e)
    if (ch == '\0') ch = '\n';
  return e;
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Sandbox, EachChildsEnvironmentHoldsItsOwnSecretOnly) {
  SecretGateway g;
  Client c(*g.gw);
  Json p;
  ASSERT_TRUE(eventually([&] {
    p = processes(c.gc);
    return p["front"]["pid"] > 0 && p["agent"]["pid"] > 0 && p["telegram"]["pid"] > 0 &&
           p["telegram"]["state"] == "running";
  })) << g.gw->output();
  const std::string front = environ_of(p["front"]["pid"]);
  const std::string agent = environ_of(p["agent"]["pid"]);
  const std::string telegram = environ_of(p["telegram"]["pid"]);
  ASSERT_FALSE(front.empty());
  EXPECT_TRUE(has(front, "OPENCLAW_GATEWAY_TOKEN=gateway-secret-token")) << front;
  EXPECT_TRUE(has(telegram, "TELEGRAM_BOT_TOKEN=777:telegram-secret")) << telegram;
  EXPECT_TRUE(has(agent, "SANDBOX_MODEL_KEY=sk-model-secret")) << agent;
  for (const auto& [name, env] :
       {std::pair{"front", front}, {"agent", agent}, {"telegram", telegram}}) {
    EXPECT_FALSE(has(env, "sk-unreferenced-secret")) << name << " holds an unused provider key";
    EXPECT_FALSE(has(env, "other-secret")) << name << " inherited the supervisor's environment";
  }
  EXPECT_FALSE(has(front, "telegram-secret") || has(front, "sk-model-secret")) << front;
  EXPECT_FALSE(has(agent, "gateway-secret-token") || has(agent, "telegram-secret")) << agent;
  EXPECT_FALSE(has(telegram, "gateway-secret-token") || has(telegram, "sk-model-secret"))
      << telegram;
  // And they work with what they were given: the bot token and the model key.
  EXPECT_TRUE(eventually([&] {
    return c.gc.call("channels.status")["channelAccounts"]["telegram"][0].value("connected", false);
  })) << g.gw->output();
  const Json r = c.gc.call(
      "agent", {{"sessionKey", "main"}, {"message", "hi"}, {"idempotencyKey", "sandbox-run"}});
  EXPECT_EQ(r["runId"], "sandbox-run");
  const Json done = c.gc.call("agent.wait", {{"runId", "sandbox-run"}, {"timeoutMs", 10000}});
  EXPECT_EQ(done["status"], "ok") << done.dump() << g.gw->output();
}

TEST(Sandbox, StatusShowsEachProcesssSandboxAsTheKernelEnforcesIt) {
  const int abi = sandbox::landlock_abi();
  if (abi < 4) {
    if (in_ci()) FAIL() << "this kernel has no Landlock ABI 4; CI must run on one that does";
    GTEST_SKIP() << "kernel without Landlock ABI 4";
  }
  SecretGateway g;
  Client c(*g.gw);
  Json p;
  ASSERT_TRUE(eventually([&] {
    p = processes(c.gc);
    for (const char* n : {"front", "agent", "telegram"})
      if (!p[n].contains("sandbox") || p[n]["sandbox"].is_null()) return false;
    return true;
  })) << p.dump()
      << g.gw->output();
  const Json expected_missing =
      sandbox::sanitizer_build()
          ? Json::array({"seccomp: ptrace allowed (sanitizer build: LeakSanitizer needs it)"})
          : Json::array();
  for (const char* n : {"front", "agent", "telegram"}) {
    const Json& sb = p[n]["sandbox"];
    EXPECT_EQ(sb["noNewPrivs"], true) << n;
    EXPECT_EQ(sb["seccomp"], true) << n;
    EXPECT_EQ(sb["landlock"], true) << n;
    EXPECT_EQ(sb["landlockAbi"], abi) << n;
    EXPECT_EQ(sb["notApplied"], expected_missing) << n;
    // The kernel's own account agrees.
    const std::string st = read_text("/proc/" + std::to_string(p[n]["pid"].get<int>()) + "/status");
    EXPECT_TRUE(has(st, "NoNewPrivs:\t1")) << n;
    EXPECT_TRUE(has(st, "Seccomp:\t2")) << n << " (2 = filter mode)";
  }
  // The log says what each process got.
  EXPECT_TRUE(g.gw->wait_output("telegram: no_new_privs on, seccomp on, landlock ABI " +
                                std::to_string(abi)))
      << g.gw->output();
}

}  // namespace
}  // namespace clawgate::test
