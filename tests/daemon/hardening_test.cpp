// Whole-gateway hardening tests: inputs that used to crash the front or wedge a channel, each
// sent as a client or a platform would, and followed by a check that service goes on.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

std::string config_with(const Json& telegram) {
  return Json{{"channels", {{"telegram", telegram}}}}.dump();
}

Json telegram_account(GatewayClient& c) {
  return c.call("channels.status")["channelAccounts"]["telegram"][0];
}

int worker_pid(GatewayClient& c) {
  const Json status = c.call("status");
  for (const auto& p : status["processes"])
    if (p.value("name", "") == "telegram") return p.value("pid", 0);
  return 0;
}

TEST(Hardening, AHundredThousandCharacterIdIsAnErrorNotACrash) {
  // Used to kill the front: the validator's std::regex recursed once per character.
  GatewayProcess gw;
  Client c(gw);
  const Json r = c.gc.request_frame("cron.runs", {{"id", std::string(100'000, 'a')}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("must NOT have more than"),
            std::string::npos)
      << r;
  // Integral floats no int64 holds are refused before anyone converts them.
  const Json w = c.gc.request_frame("agent.wait", {{"runId", "r"}, {"timeoutMs", 1e300}});
  EXPECT_EQ(w["error"]["code"], "INVALID_REQUEST") << w;
  // A huge (but representable) wait is clamped, not overflowed: the call still times out.
  Client other(gw);
  EXPECT_EQ(c.gc.call("health")["ok"], true);
  EXPECT_EQ(other.gc.call("health")["ok"], true);
}

TEST(Hardening, PreviewRequestsAreBoundedSoOneClientCannotStallTheFront) {
  GatewayProcess gw;
  Client c(gw);
  Json keys = Json::array();
  for (int i = 0; i < 10'000; ++i) keys.push_back("main");
  const Json r = c.gc.request_frame("sessions.preview", {{"keys", keys}});
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST") << r.dump().substr(0, 300);
  const Json ok = c.gc.call("sessions.preview", {{"keys", {"main"}}, {"limit", 1'000'000'000}});
  EXPECT_EQ(ok["previews"].size(), 1u);
}

TEST(Hardening, ASendTooLongForItsChannelIsRefusedClearly) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  Client c(gw);
  std::string huge;
  for (int i = 0; i < 70'000; ++i) huge += "漢";
  const Json r =
      c.gc.request_frame("send", {{"to", "42"}, {"message", huge}, {"idempotencyKey", "too-long"}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST") << r["error"];
  EXPECT_TRUE(emu.sent()["messages"].empty()) << "nothing of it reached Telegram";
}

TEST(Hardening, AMessageThatKeepsKillingItsWorkerIsSetAsideNotRetriedForever) {
  TelegramEmulator emu;
  GatewayProcess gw({{"CLAWGATE_RESTART_BACKOFF_MS", "50"}}, config_with(emu.channel_config()));
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return telegram_account(c.gc)["connected"] == true; }));
  // Telegram holds every answer, so the message stays in flight while its worker is killed.
  emu.faults({{"slow_ms", 60'000}});
  WsClient ws2;
  GatewayClient sender(ws2);
  ConnectOptions o;
  o.url = gw.url();
  o.token = gw.token();
  sender.connect(o);
  const std::string id = sender.send_request(
      "send", {{"to", "42"}, {"message", "毒药 ☠️ poison"}, {"idempotencyKey", "poison"}});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_TRUE(eventually([&] { return emu.stats().value("sendMessage", 0) >= attempt; }, 15000))
        << "attempt " << attempt << " never reached Telegram";
    int pid = 0;
    ASSERT_TRUE(eventually([&] { return (pid = worker_pid(c.gc)) > 0; }))
        << "attempt " << attempt << ": " << c.gc.call("status")["processes"];
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return worker_pid(c.gc) != pid && worker_pid(c.gc) > 0; }))
        << "attempt " << attempt << ": " << c.gc.call("status")["processes"];
  }
  // The third loss sets it aside: the sender hears why, the channel status says so.
  const Json res = sender.wait_response(id, 15000);
  EXPECT_EQ(res["ok"], false) << res;
  EXPECT_NE(res["error"]["message"].get<std::string>().find("set aside"), std::string::npos) << res;
  const Json acct = telegram_account(c.gc);
  EXPECT_EQ(acct["setAsideOutbound"], 1) << acct;
  // The channel goes on: the next message is delivered once Telegram answers again.
  emu.faults(Json::object());
  const Json next = c.gc.call(
      "send", {{"to", "42"}, {"message", "still here"}, {"idempotencyKey", "next"}}, 20000);
  EXPECT_EQ(next["status"], "sent") << next;
  ASSERT_TRUE(eventually([&] { return emu.stats().value("sendMessage", 0) == 4; }, 2000))
      << emu.stats() << ": the set-aside message was sent again";
}

TEST(Hardening, ARunawayAnswerIsCutAtOneMebibyteAndTheRunSaysSo) {
  FakeModels models;
  std::string reply;
  while (reply.size() < (1u << 20) + 100'000) reply += "无尽的回答 endless answer ";
  models.script({{"reply", reply}, {"chunk_chars", 4000}, {"delay_ms", 0}});
  GatewayProcess gw({}, models.config().dump());
  Client c(gw);
  c.gc.call("chat.send", {{"sessionKey", "main"}, {"message", "go"}, {"idempotencyKey", "big"}});
  Json final;
  ASSERT_TRUE(eventually(
      [&] {
        const Json e = c.gc.wait_event("chat", 20000);
        if (e["payload"].value("state", "") == "delta") return false;
        final = e["payload"];
        return true;
      },
      30000));
  EXPECT_EQ(final["state"], "error") << final.dump().substr(0, 300);
  EXPECT_NE(final.value("errorMessage", "").find("passed 1 MiB"), std::string::npos)
      << final.dump().substr(0, 300);
  EXPECT_EQ(c.gc.call("health")["ok"], true);
}

TEST(Hardening, WaitingCallersAreBounded) {
  GatewayProcess gw;
  Client c(gw);
  std::vector<std::string> ids;
  for (int i = 0; i < 64; ++i)
    ids.push_back(c.gc.send_request("agent.wait", {{"runId", "nope"}, {"timeoutMs", 60'000}}));
  const Json over = c.gc.request_frame("agent.wait", {{"runId", "nope"}, {"timeoutMs", 60'000}});
  EXPECT_EQ(over["ok"], false);
  EXPECT_EQ(over["error"]["code"], "UNAVAILABLE") << over;
  EXPECT_EQ(over["error"]["retryable"], true) << over;
  // Another run's waiters are not affected.
  const Json other = c.gc.call("agent.wait", {{"runId", "other"}, {"timeoutMs", 10}});
  EXPECT_EQ(other["status"], "timeout");
}

}  // namespace
}  // namespace clawgate::test
