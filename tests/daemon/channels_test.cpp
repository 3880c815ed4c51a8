// Whole-gateway channel tests: the real supervisor, front and Telegram worker processes against
// the local Bot API emulator, driven through the protocol like a user would (send, pairing,
// channels.status/restart) and checked at the emulator's end.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "gateway_process.hpp"
#include "shared_data.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "utf8.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string config_with(const Json& telegram, const Json& extra = Json::object()) {
  Json c = {{"channels", {{"telegram", telegram}}}};
  c.update(extra);
  return c.dump();
}

Json telegram_account(GatewayClient& c) {
  return c.call("channels.status")["channelAccounts"]["telegram"][0];
}

bool telegram_connected(const GatewayProcess& gw) {
  try {
    Client c(gw);
    return telegram_account(c.gc).value("connected", false);
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> sent_texts(TelegramEmulator& emu) {
  std::vector<std::string> out;
  const Json sent = emu.sent();
  for (const auto& m : sent["messages"]) out.push_back(m["text"]);
  return out;
}

Json send_params(const std::string& to, const std::string& text, const std::string& key) {
  return {{"channel", "telegram"}, {"to", to}, {"message", text}, {"idempotencyKey", key}};
}

TEST(Channels, SendIsDeliveredOnceAndRetriesAreDeduplicated) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); })) << gw.output();
  Client c(gw);
  const Json r1 = c.gc.call("send", send_params("42", "hello from clawgate", "k-1"));
  EXPECT_EQ(r1["status"], "sent");
  EXPECT_EQ(r1["channel"], "telegram");
  EXPECT_FALSE(r1["messageId"].get<std::string>().empty());
  // The same key again, on another connection: the same result and no second message.
  Client c2(gw);
  const Json r2 = c2.gc.call("send", send_params("42", "hello from clawgate", "k-1"));
  EXPECT_EQ(r2["messageId"], r1["messageId"]);
  const Json sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["chat_id"], 42);
  EXPECT_EQ(sent[0]["text"], "hello from clawgate");
}

TEST(Channels, LongMessagesAreChunkedToTheTelegramLimit) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  Client c(gw);
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + " of a long answer\n";
  const Json r = c.gc.call("send", send_params("7", text, "long-1"));
  const auto texts = sent_texts(emu);
  ASSERT_GE(texts.size(), 6u);  // ~25 KB in chunks of at most 4096 characters
  std::string joined;
  for (const auto& t : texts) {
    EXPECT_LE(t.size(), 4096u);
    joined += (joined.empty() ? "" : "\n") + t;  // split at newlines, which are dropped
  }
  EXPECT_TRUE(joined == text) << "chunks rejoined differ from the message";
  EXPECT_EQ(r["messageIds"].size(), texts.size());
}

// Telegram measures text in UTF-16 code units: 4096 emoji are 8192 units, which the Bot API
// (and the emulator) refuses as "message is too long" unless the gateway cuts them in two.
TEST(Channels, EmojiAndCjkAreChunkedInUtf16Units) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  Client c(gw);
  int n = 0;
  for (const char* name : {"long_emoji_4096_codepoints", "long_cjk_4096_utf16"}) {
    SCOPED_TRACE(name);
    const std::string text = test_data::sample(name);
    const size_t before = emu.sent()["messages"].size();
    const Json r = c.gc.call("send", send_params("77", text, "u16-" + std::to_string(++n)), 20000);
    EXPECT_EQ(r["status"], "sent") << r.dump();
    const Json sent = emu.sent()["messages"];
    ASSERT_EQ(sent.size(), before + 2) << "two messages, each within 4096 units";
    std::string joined;
    for (size_t i = before; i < sent.size(); ++i) {
      const std::string t = sent[i]["text"];
      EXPECT_LE(utf8::utf16_length(t), 4096u);
      joined += t;
    }
    EXPECT_TRUE(joined == text) << "nothing lost or split inside a character";
  }
}

std::vector<std::string> user_texts(GatewayClient& c, const std::string& session = "main") {
  std::vector<std::string> out;
  const Json h = c.call("chat.history", {{"sessionKey", session}});
  for (const auto& m : h["messages"])
    if (m["role"] == "user") out.push_back(m["content"][0]["text"]);
  return out;
}

// What Telegram sends is repaired at the worker: invalid UTF-8 becomes U+FFFD, an update that
// cannot be parsed at all is skipped (not retried forever), and huge text is cut at 64 KiB.
TEST(Channels, BadBytesFromTelegramAreRepairedAndNeverStallPolling) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  Client c(gw);
  const std::string fffd = "\xEF\xBF\xBD";
  // 你好 <0xFF> 😀: the bad byte arrives raw in the JSON body.
  emu.inject({{"chat_id", 501}, {"text_hex", "e4bda0e5a5bdff20f09f9880"}});
  ASSERT_TRUE(eventually([&] { return user_texts(c.gc).size() == 1; })) << gw.output();
  EXPECT_EQ(user_texts(c.gc)[0], "你好" + fffd + " 😀");
  // The same byte as a \udcff escape (a lone surrogate): the parser refuses it, repaired too.
  emu.faults({{"ascii_json", true}});
  emu.inject({{"chat_id", 502}, {"text_hex", "d985d8b1d8add8a8d8a7ff"}});  // مرحبا <0xFF>
  ASSERT_TRUE(eventually([&] { return user_texts(c.gc).size() == 2; })) << gw.output();
  emu.faults(Json::object());
  EXPECT_EQ(user_texts(c.gc)[1], "مرحبا" + fffd);
  // An update whose JSON is broken beyond repair is skipped; the next one arrives.
  emu.inject({{"chat_id", 503}, {"text", "x"}, {"malformed", true}});
  emu.inject({{"chat_id", 504}, {"text", "after the bad one 😀"}});
  ASSERT_TRUE(eventually([&] { return user_texts(c.gc).size() == 3; }, 15000)) << gw.output();
  EXPECT_EQ(user_texts(c.gc)[2], "after the bad one 😀");
  EXPECT_NE(gw.output().find("cannot be parsed"), std::string::npos) << "the skip is logged";
  // 100 KiB of text: cut on a code-point boundary at 64 KiB, with a log line.
  std::string huge;
  while (huge.size() < 100 * 1024) huge += "a😀中";
  emu.inject({{"chat_id", 505}, {"text", huge}});
  ASSERT_TRUE(eventually([&] { return user_texts(c.gc).size() == 4; })) << gw.output();
  const std::string got = user_texts(c.gc)[3];
  EXPECT_LE(got.size(), 64u * 1024);
  EXPECT_GE(got.size(), 64u * 1024 - 3);
  EXPECT_TRUE(utf8::valid(got));
  EXPECT_EQ(huge.compare(0, got.size(), got), 0);
  EXPECT_NE(gw.output().find("bytes cut to"), std::string::npos);
}

TEST(Channels, RateLimitedSendsWaitForRetryAfterAndArrive) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  emu.faults({{"rate_limit", {{"count", 2}, {"retry_after", 1}}}});
  Client c(gw);
  const auto t0 = Clock::now();
  const Json r = c.gc.call("send", send_params("5", "after the flood", "rl-1"), 20000);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  EXPECT_EQ(r["status"], "sent");
  EXPECT_GE(waited.count(), 1900) << "retry_after (1 s) honoured twice";
  EXPECT_EQ(emu.stats()["rate_limited"], 2);
  EXPECT_EQ(sent_texts(emu), std::vector<std::string>{"after the flood"});
}

TEST(Channels, BadRequestsGetClearErrors) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  Client c(gw);
  Json p = send_params("1", "x", "e-1");
  p["channel"] = "nosuchchannel";
  Json r = c.gc.request_frame("send", p);
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST");
  EXPECT_EQ(r["error"]["message"], "unsupported channel: nosuchchannel");
  r = c.gc.request_frame("send", {{"to", "1"}, {"message", "x"}});
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST") << "idempotencyKey is required";
  r = c.gc.request_frame("channels.restart", {{"channel", "discord"}});
  EXPECT_EQ(r["error"]["code"], "INVALID_REQUEST");
  // Telegram refuses the chat: the send fails with the platform's reason, nothing is retried.
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  p = send_params("@nobody", "x", "e-2");
  r = c.gc.request_frame("send", p);
  EXPECT_FALSE(r["ok"]);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("chat not found"), std::string::npos)
      << r.dump();
}

TEST(Channels, PairingGatesUnknownSendersUntilApproved) {
  TelegramEmulator emu;
  Json tg = emu.channel_config();
  tg["dmPolicy"] = "pairing";
  GatewayProcess gw({}, config_with(tg));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  emu.inject(1001, "hi, who are you?", "ann");
  ASSERT_TRUE(eventually([&] { return !emu.sent()["messages"].empty(); }));
  const std::string reply = emu.sent()["messages"][0]["text"];
  EXPECT_NE(reply.find("clawgate pairing approve telegram"), std::string::npos) << reply;

  Client c(gw);
  const Json list = c.gc.call("channels.pairing.list", {{"channel", "telegram"}});
  ASSERT_EQ(list["requests"].size(), 1u);
  const std::string code = list["requests"][0]["requestId"];
  EXPECT_EQ(code.size(), 8u);
  EXPECT_NE(reply.find(code), std::string::npos);
  EXPECT_EQ(list["requests"][0]["senderLabel"], "@ann");
  // Nothing from the unknown sender reached a session.
  EXPECT_EQ(read_text(gw.state_dir() + "/sessions/agent_main_main.jsonl"), "");

  const Json ok =
      c.gc.call("channels.pairing.approve",
                {{"channel", "telegram"}, {"accountId", "default"}, {"requestId", code}});
  EXPECT_EQ(ok["senderId"], "1001");
  emu.inject(1001, "thanks, here is my question");
  ASSERT_TRUE(eventually([&] {
    return read_text(gw.state_dir() + "/sessions/agent_main_main.jsonl")
               .find("here is my question") != std::string::npos;
  }));
  EXPECT_TRUE(c.gc.call("channels.pairing.list")["requests"].empty());
}

TEST(Channels, StatusAndOperatorRestart) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  Client c(gw);
  Json a = telegram_account(c.gc);
  EXPECT_EQ(a["state"], "running");
  EXPECT_EQ(a["restarts"], 0);
  EXPECT_NE(a["detail"].get<std::string>().find("polling as @"), std::string::npos);
  const Json health = c.gc.call("health");
  EXPECT_EQ(health["channels"]["telegram"]["state"], "running");
  EXPECT_EQ(health["channelOrder"], Json::array({"telegram"}));

  const Json r = c.gc.call("channels.restart", {{"channel", "telegram"}});
  EXPECT_EQ(r["ok"], true);
  ASSERT_TRUE(eventually([&] {
    const Json x = telegram_account(c.gc);
    return x["restarts"] == 1 && x["state"] == "running" && x["connected"] == true;
  }));
  // The client that asked stays connected, and the channel still delivers.
  EXPECT_EQ(c.gc.call("send", send_params("9", "still here", "rs-1"))["status"], "sent");
}

TEST(Channels, MissingTokenStopsTheWorkerWithoutARestartLoop) {
  GatewayProcess gw({{"TELEGRAM_BOT_TOKEN", ""}},
                    config_with({{"apiRoot", "http://127.0.0.1:9"}, {"dmPolicy", "open"}}));
  Client c(gw);
  ASSERT_TRUE(eventually([&] { return telegram_account(c.gc)["state"] == "stopped"; }))
      << gw.output();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const Json a = telegram_account(c.gc);
  EXPECT_EQ(a["state"], "stopped");
  EXPECT_EQ(a["restarts"], 0) << "exit 78 is not retried";
  EXPECT_NE(a["lastError"].get<std::string>().find("configuration"), std::string::npos) << a.dump();
  EXPECT_NE(gw.output().find("no Telegram bot token"), std::string::npos);
}

TEST(Channels, AnotherPollerIsATypedConflictNotARestartStorm) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config(5)));
  ASSERT_TRUE(eventually([&] { return telegram_connected(gw); }));
  // A second bot instance starts polling the same token: Telegram ends the older request 409.
  std::thread other([&] {
    for (int i = 0; i < 3; ++i) emu.bot_call("getUpdates", {{"timeout", 1}}, 5000);
  });
  Client c(gw);
  const bool saw_conflict = eventually(
      [&] {
        const Json a = telegram_account(c.gc);
        return a["lastError"].is_string() &&
               a["lastError"].get<std::string>().find("Conflict") != std::string::npos;
      },
      8000);
  other.join();
  EXPECT_TRUE(saw_conflict);
  EXPECT_EQ(telegram_account(c.gc)["restarts"], 0) << "409 is retried in place, not restarted";
  EXPECT_GE(emu.stats()["conflicts"].get<int>(), 1);
}

TEST(Supervisor, OneGatewayPerStateDirectory) {
  GatewayProcess gw;
  // A second gateway on the same state dir (another port) is refused before it binds.
  const std::string cmd = "CLAWGATE_STATE_DIR='" + gw.state_dir() + "' " + CLAWGATE_BIN +
                          " gateway --port 0 --token x 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(out.find("another clawgate gateway (pid " + std::to_string(gw.pid()) + ")"),
            std::string::npos)
      << out;
}

TEST(Supervisor, PortInUseIsAClearErrorWithoutSpawning) {
  GatewayProcess gw;
  const std::string port = gw.url().substr(gw.url().rfind(':') + 1);
  char dir[] = "/tmp/clawgate-test-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string cmd = std::string("CLAWGATE_STATE_DIR=") + dir + " " + CLAWGATE_BIN +
                          " gateway --port " + port + " --token x 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  std::system((std::string("rm -rf ") + dir).c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(out.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << out;
  EXPECT_EQ(out.find("started pid"), std::string::npos) << "nothing spawned";
}

int child_pid(GatewayClient& c, const std::string& name) {
  const Json status = c.call("status");
  for (const auto& p : status["processes"])
    if (p["name"] == name) return p["pid"];
  return 0;
}

TEST(Supervisor, SighupRestartsOnlyTheChildrenWhoseSectionChanged) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config(1)));
  const std::string config = gw.state_dir() + "/clawgate.json";
  Client c(gw);
  int front = 0, worker = 0;
  ASSERT_TRUE(eventually([&] {
    front = child_pid(c.gc, "front");
    worker = child_pid(c.gc, "telegram");
    return front > 0 && worker > 0;
  }));
  // The Telegram section changes: only the worker is replaced.
  std::ofstream(config) << config_with(emu.channel_config(2));
  kill(gw.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] {
    const int w = child_pid(c.gc, "telegram");
    return w > 0 && w != worker;
  })) << gw.output();
  EXPECT_EQ(child_pid(c.gc, "front"), front) << "the front's configuration did not change";
  EXPECT_TRUE(c.gc.call("health")["ok"]) << "the client stayed connected";
  // The channel disabled: its worker stops and leaves the table.
  Json off = emu.channel_config(2);
  off["enabled"] = false;
  std::ofstream(config) << config_with(off);
  kill(gw.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return child_pid(c.gc, "telegram") == 0; })) << gw.output();
  // A broken file is refused and everything keeps running.
  std::ofstream(config) << "{ not json";
  kill(gw.pid(), SIGHUP);
  EXPECT_TRUE(gw.wait_output("reload refused", 5000));
  EXPECT_EQ(child_pid(c.gc, "front"), front);
}

TEST(Supervisor, NotifiesSystemdReadyWatchdogAndStopping) {
  char dir[] = "/tmp/clawgate-notify-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  const std::string path = std::string(dir) + "/notify.sock";
  const int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{0, 100'000};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  auto collect_until = [&](const std::string& want, int timeout_ms) {
    return eventually(
        [&] {
          char buf[512];
          const ssize_t n = recv(sock, buf, sizeof buf, 0);
          if (n > 0) got.append(buf, static_cast<size_t>(n)).push_back('\n');
          return got.find(want) != std::string::npos;
        },
        timeout_ms);
  };
  {
    GatewayProcess gw({{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "200000"}});
    EXPECT_TRUE(collect_until("READY=1", 5000)) << got;
    got.clear();
    EXPECT_TRUE(collect_until("WATCHDOG=1", 2000)) << "pinged at half the watchdog interval";
    EXPECT_EQ(gw.terminate(), 0);
    EXPECT_TRUE(collect_until("STOPPING=1", 2000)) << got;
  }
  close(sock);
  std::system((std::string("rm -rf ") + dir).c_str());
}

}  // namespace
}  // namespace clawgate::test
