// Whole-gateway Slack HTTP mode (Request URLs): the real supervisor, front, agent and Slack
// worker processes, the Slack emulator playing Slack's side (it signs and POSTs to the gateway
// port) and the fake model server. The Request URL is verified, a signed event reaches the agent
// and the reply goes out with chat.postMessage, a retry of it is delivered once, a forged or
// stale one is refused with 401 and goes nowhere; a worker that is stopped is a 503 within
// Slack's 3 s, and Slack's retry is delivered by the worker the supervisor starts next; no
// signingSecret ends the worker with exit 78 naming the key.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>

#include "gateway_process.hpp"
#include "slack_emulator.hpp"
#include "telegram_emulator.hpp"  // FakeModels
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

constexpr const char* kUser = "U0USER001";
constexpr const char* kDm = "D0USER001";
constexpr const char* kSecret = "8f742231b10e8888abcd99yyyzzz85a5";

Json slack_account(GatewayClient& c) {
  const Json s = c.call("channels.status");
  const Json& list = s["channelAccounts"]["slack"];
  return list.is_array() && !list.empty() ? list[0] : Json::object();
}

int pid_of(GatewayClient& c, const std::string& name) {
  const Json status = c.call("status");  // held: a range over a temporary's member dangles
  for (const auto& p : status["processes"])
    if (p["name"] == name) return p.value("pid", 0);
  return 0;
}

// Models + Slack in HTTP mode: no app token, a signing secret, DMs from kUser.
Json http_config(const FakeModels& models, const SlackEmulator& emu) {
  Json cfg = models.config();
  Json slack = emu.channel_config();
  slack.erase("appToken");
  slack["mode"] = "http";
  slack["signingSecret"] = kSecret;
  slack["dmPolicy"] = "allowlist";
  slack["allowFrom"] = {kUser};
  cfg["channels"] = {{"slack", slack}};
  return cfg;
}

std::string events_url(const GatewayProcess& gw) {
  const std::string& u = gw.url();  // ws://127.0.0.1:<port>
  return "http://" + u.substr(u.find("://") + 3) + "/slack/events";
}

int http_status(const GatewayProcess& gw, http::verb verb, const std::string& target) {
  const std::string& u = gw.url();
  const auto port = static_cast<unsigned short>(std::stoi(u.substr(u.rfind(':') + 1)));
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.prepare_payload();
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return static_cast<int>(res.result_int());
}

std::string answer(const std::string& text) {
  return "Hello from the fake model. You said: " + text;
}

TEST(SlackHttp, SignedEventsReachTheAgentOnceAndForgedOnesNowhere) {
  FakeModels models;
  SlackEmulator emu;
  GatewayProcess gw({}, http_config(models, emu).dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return slack_account(c.gc).value("connected", false); }))
      << slack_account(c.gc).dump() << gw.output();
  EXPECT_NE(slack_account(c.gc).value("detail", "").find("/slack/events"), std::string::npos)
      << slack_account(c.gc).dump();
  EXPECT_EQ(slack_account(c.gc)["mode"], "http");
  const std::string url = events_url(gw);

  // Slack verifies the Request URL first.
  Json r = emu.http_event(url, kSecret, {{"url_verification", true}});
  EXPECT_EQ(r["status"], 200) << r.dump();
  EXPECT_EQ(r["body"], r["sent"]["challenge"]) << r.dump();

  // A DM: 200 at once, then the agent's answer through chat.postMessage.
  const auto t0 = Clock::now();
  r = emu.http_event(url, kSecret, {{"channel", kDm}, {"user", kUser}, {"text", "over HTTP ✓"}});
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(r["status"], 200) << r.dump() << gw.output();
  std::printf("[ measure ] signed HTTP event answered in %lld ms (through front and worker)\n",
              static_cast<long long>(took));
  Json sent;
  ASSERT_TRUE(eventually([&] {
    sent = emu.sent()["messages"];
    return !sent.empty();
  })) << gw.output();
  EXPECT_EQ(sent[0]["channel"], kDm);
  EXPECT_EQ(sent[0]["text"], answer("over HTTP ✓"));

  // Slack's retry of the same event (same event id, a new signature): 200, not answered again.
  const Json first = r["sent"];
  r = emu.http_event(url, kSecret, {{"body", first}, {"retry_num", 1}});
  EXPECT_EQ(r["status"], 200) << r.dump();
  // Forged (bad signature, wrong secret) and replayed (stale timestamp): 401, nowhere.
  r = emu.http_event(
      url, kSecret,
      {{"channel", kDm}, {"user", kUser}, {"text", "forged"}, {"bad_signature", true}});
  EXPECT_EQ(r["status"], 401) << r.dump();
  r = emu.http_event(url, "not-the-secret", {{"channel", kDm}, {"user", kUser}, {"text", "other"}});
  EXPECT_EQ(r["status"], 401) << r.dump();
  r = emu.http_event(url, kSecret, {{"body", first}, {"timestamp_offset_s", -600}});
  EXPECT_EQ(r["status"], 401) << r.dump();
  // Interactivity payloads: 200 and ignored.
  r = emu.http_event(url, kSecret, {{"form_payload", {{"type", "block_actions"}}}});
  EXPECT_EQ(r["status"], 200) << r.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(emu.sent()["messages"].size(), 1u) << emu.sent().dump();
  EXPECT_EQ(models.requests()["requests"].size(), 1u);

  // The path takes POST only; every other path keeps its meaning.
  EXPECT_EQ(http_status(gw, http::verb::get, "/slack/events"), 405);
  EXPECT_EQ(http_status(gw, http::verb::post, "/slack/other"), 426);
  EXPECT_EQ(http_status(gw, http::verb::get, "/healthz"), 200);
}

TEST(SlackHttp, AStoppedWorkerIsA503InTimeAndSlacksRetryReachesTheNextOne) {
  FakeModels models;
  SlackEmulator emu;
  GatewayProcess gw({}, http_config(models, emu).dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return slack_account(c.gc).value("connected", false); }))
      << gw.output();
  int pid = 0;
  ASSERT_TRUE(eventually([&] { return (pid = pid_of(c.gc, "slack")) > 0; }));
  const std::string url = events_url(gw);
  // Stopped: the front's deadline answers, under Slack's 3 s.
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  auto t0 = Clock::now();
  Json r = emu.http_event(url, kSecret, {{"channel", kDm}, {"user", kUser}, {"text", "meanwhile"}});
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(r["status"], 503) << r.dump();
  EXPECT_LT(waited, 3000);
  EXPECT_GE(waited, 2000);
  // Killed: the supervisor starts another; Slack's retry reaches it and is answered once.
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        const int now = pid_of(c.gc, "slack");
        return now > 0 && now != pid && slack_account(c.gc).value("connected", false);
      },
      15000))
      << gw.output();
  r = emu.http_event(url, kSecret, {{"body", r["sent"]}, {"retry_num", 1}});
  EXPECT_EQ(r["status"], 200) << r.dump() << gw.output();
  Json sent;
  ASSERT_TRUE(eventually([&] {
    sent = emu.sent()["messages"];
    return !sent.empty();
  })) << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["text"], answer("meanwhile"));
}

TEST(SlackHttp, NoSigningSecretEndsTheWorkerWithExit78NamingTheKey) {
  SlackEmulator emu;
  Json slack = emu.channel_config();
  slack.erase("appToken");
  slack["mode"] = "http";
  GatewayProcess gw({}, Json{{"channels", {{"slack", slack}}}}.dump());
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return slack_account(c.gc).value("state", "") == "stopped"; }))
      << slack_account(c.gc).dump() << gw.output();
  EXPECT_EQ(slack_account(c.gc)["restarts"], 0);
  EXPECT_TRUE(gw.wait_output("channels.slack.signingSecret", 2000)) << gw.output();
  // While its worker is away the path answers 503 (Slack retries later), not 404.
  Json r = emu.http_event(events_url(gw), kSecret, {{"url_verification", true}});
  EXPECT_EQ(r["status"], 503) << r.dump();
}

}  // namespace
}  // namespace clawgate::test
