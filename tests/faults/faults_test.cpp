// Fault tests: real processes, real signals. kill -9 a worker mid-stream and the front mid-gap,
// crash loops, exit 78, a stopped (SIGSTOP) worker and garbage on a control socket; each time
// the rest of the gateway keeps serving and nothing accepted is lost. Every wait is bounded.
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"
#include "ws_client.hpp"

namespace clawgate::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kConnectMs = 3000;  // reconnect loops retry sooner than the default

// Latency figures come from these waits: poll tightly.
bool eventually_fast(const std::function<bool()>& pred, int timeout_ms = 10000) {
  return eventually(pred, timeout_ms, 5);
}

int64_t ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::string config_with(const Json& telegram) {
  return Json{{"channels", {{"telegram", telegram}}}}.dump();
}

// name -> {pid, state, restarts, lastError} from `status`.
std::map<std::string, Json> processes(GatewayClient& c) {
  std::map<std::string, Json> out;
  const Json status = c.call("status");
  for (const auto& p : status["processes"]) out[p["name"]] = p;
  return out;
}

// The pid of a child once the supervisor has reported it (right after start it may not have).
int pid_of(GatewayClient& c, const std::string& name) {
  int pid = 0;
  eventually_fast([&] {
    const Json p = processes(c)[name];
    pid = p.is_object() ? p.value("pid", 0) : 0;
    return pid > 0;
  });
  return pid;
}

Json telegram_account(GatewayClient& c) {
  return c.call("channels.status")["channelAccounts"]["telegram"][0];
}

// A libexec dir with the real front and a fake `clawgate-telegram` shell script.
class FakeWorkerDir {
 public:
  explicit FakeWorkerDir(const std::string& script) {
    char tmpl[] = "/tmp/clawgate-fake-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string bin = CLAWGATE_BIN;
    const std::string front = bin.substr(0, bin.rfind('/')) + "/clawgate-front";
    EXPECT_EQ(symlink(front.c_str(), (dir_ + "/clawgate-front").c_str()), 0);
    const std::string w = dir_ + "/clawgate-telegram";
    std::ofstream(w) << "#!/bin/sh\n" << script << "\n";
    chmod(w.c_str(), 0755);
  }
  ~FakeWorkerDir() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

TEST(Faults, KillingTheTelegramWorkerMidStreamLosesNoSend) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  ASSERT_TRUE(eventually_fast([&] {
    try {
      Client c(gw, kConnectMs);
      return telegram_account(c.gc)["connected"] == true;
    } catch (...) {
      return false;
    }
  }));
  Client watcher(gw, kConnectMs);  // a client that only watches: it must never be disconnected
  Client sender(gw, kConnectMs);
  const int worker_pid = pid_of(sender.gc, "telegram");
  ASSERT_GT(worker_pid, 0);
  constexpr int kSends = 300;
  std::vector<std::string> ids;
  Clock::time_point killed_at;
  std::thread serving;
  int64_t serving_ms = -1;
  const auto t0 = Clock::now();
  for (int i = 0; i < kSends; ++i) {
    ids.push_back(
        sender.gc.send_request("send", {{"channel", "telegram"},
                                        {"to", "77"},
                                        {"message", "msg-" + std::to_string(i)},
                                        {"idempotencyKey", "stream-" + std::to_string(i)}}));
    if (i == kSends / 3) {
      // Let deliveries get going, then kill the worker while they stream.
      ASSERT_TRUE(eventually_fast([&] { return emu.stats()["sendMessage"].get<int>() >= 20; }));
      killed_at = Clock::now();
      ASSERT_EQ(kill(worker_pid, SIGKILL), 0);
      // Another client watches for the channel to serve again (new worker, polling).
      serving = std::thread([&] {
        Client w(gw, kConnectMs);
        eventually_fast([&] {
          const Json a = telegram_account(w.gc);
          return processes(w.gc)["telegram"]["pid"] != worker_pid && a["connected"] == true;
        });
        serving_ms = ms_since(killed_at);
      });
    }
  }
  int ok = 0;
  for (const auto& id : ids) ok += sender.gc.wait_response(id, 30000).value("ok", false);
  EXPECT_EQ(ok, kSends);
  const int64_t all_ms = ms_since(t0);
  if (serving.joinable()) serving.join();

  // Every message reached Telegram; at most the one in flight at the kill arrived twice.
  std::map<std::string, int> seen;
  ASSERT_TRUE(eventually_fast([&] {
    seen.clear();
    const Json sent = emu.sent();
    for (const auto& m : sent["messages"]) seen[m["text"]]++;
    return seen.size() == static_cast<size_t>(kSends);
  }));
  int dups = 0;
  std::string which;
  for (const auto& [text, n] : seen) {
    dups += n - 1;
    if (n > 1) which += text + " ";
  }
  EXPECT_LE(dups, 1) << "duplicates beyond the one request in flight at the kill: " << which;

  const auto procs = processes(sender.gc);
  EXPECT_NE(procs.at("telegram")["pid"], worker_pid);
  EXPECT_EQ(procs.at("telegram")["restarts"], 1);
  EXPECT_NE(procs.at("telegram")["lastError"].get<std::string>().find("SIGKILL"),
            std::string::npos);
  EXPECT_TRUE(watcher.gc.call("health")["ok"]) << "no client was disconnected";
  const Json a = telegram_account(sender.gc);
  const int64_t restart_ms = a["lastStartAt"].get<int64_t>() - a["lastStopAt"].get<int64_t>();
  std::printf(
      "[ measure ] worker kill -9 -> respawned after %lld ms, polling Telegram again after "
      "%lld ms; %d sends through the queue in %lld ms (%.0f/s, kill included); "
      "duplicates: %d\n",
      static_cast<long long>(restart_ms), static_cast<long long>(serving_ms), kSends,
      static_cast<long long>(all_ms), kSends * 1000.0 / static_cast<double>(all_ms), dups);
}

TEST(Faults, KillingTheFrontKeepsInboundMessagesAndClientsReconnect) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  int front_pid = 0, worker_pid = 0;
  ASSERT_TRUE(eventually_fast([&] {
    try {
      Client c(gw, kConnectMs);
      front_pid = pid_of(c.gc, "front");
      worker_pid = pid_of(c.gc, "telegram");
      return telegram_account(c.gc)["connected"] == true;
    } catch (...) {
      return false;
    }
  }));
  ASSERT_EQ(kill(front_pid, SIGKILL), 0);
  // Messages arriving while no front is up.
  for (int i = 0; i < 5; ++i) emu.inject(500 + i, "during the gap " + std::to_string(i));
  const auto t0 = Clock::now();
  std::unique_ptr<Client> c;
  ASSERT_TRUE(eventually_fast([&] {
    try {
      c = std::make_unique<Client>(gw, kConnectMs);
      return true;
    } catch (...) {
      return false;
    }
  }));
  const int64_t reconnect_ms = ms_since(t0);
  const std::string transcript = gw.state_dir() + "/sessions/agent_main_main.jsonl";
  ASSERT_TRUE(eventually_fast([&] {
    const std::string t = read_text(transcript);
    for (int i = 0; i < 5; ++i)
      if (t.find("during the gap " + std::to_string(i)) == std::string::npos) return false;
    return true;
  })) << read_text(transcript);
  auto p = processes(c->gc);
  EXPECT_NE(p["front"]["pid"], front_pid);
  EXPECT_EQ(p["telegram"]["pid"], worker_pid) << "the worker kept its Telegram session";
  EXPECT_EQ(p["telegram"]["restarts"], 0);
  // Each message landed once, even though the new front got them from the worker's queue.
  const std::string t = read_text(transcript);
  size_t count = 0;
  for (size_t at = 0; (at = t.find("during the gap", at)) != std::string::npos; ++at) ++count;
  EXPECT_EQ(count, 5u);
  std::printf("[ measure ] front kill -9 -> a client connected again after %lld ms\n",
              static_cast<long long>(reconnect_ms));
}

TEST(Faults, ACrashLoopBacksOffThenShowsFailedWithoutTouchingOthers) {
  FakeWorkerDir fake("exit 3");
  GatewayProcess gw({{"CLAWGATE_LIBEXEC_DIR", fake.path()},
                     {"CLAWGATE_RESTART_BACKOFF_MS", "40"},
                     {"CLAWGATE_RESTART_MAX_BACKOFF_MS", "400"}},
                    config_with({{"botToken", "1:x"}}));
  Client c(gw, kConnectMs);
  const int front_pid = pid_of(c.gc, "front");
  bool saw_backoff = false;
  ASSERT_TRUE(eventually_fast([&] {
    const Json a = telegram_account(c.gc);
    saw_backoff = saw_backoff || a["state"] == "backoff";
    return a["state"] == "failed";
  })) << gw.output();
  EXPECT_TRUE(saw_backoff);
  const Json a = telegram_account(c.gc);
  EXPECT_GE(a["restarts"].get<int>(), 4);
  EXPECT_NE(a["lastError"].get<std::string>().find("exited with code 3"), std::string::npos);
  // Still retried (slowly) after `failed`.
  const int restarts = a["restarts"];
  EXPECT_TRUE(eventually_fast([&] { return telegram_account(c.gc)["restarts"] > restarts; }, 3000));
  EXPECT_EQ(processes(c.gc)["front"]["pid"], front_pid);
  EXPECT_TRUE(c.gc.call("health")["ok"]);
}

TEST(Faults, ExitCode78IsNotRestarted) {
  FakeWorkerDir fake("echo 'bad config' >&2; exit 78");
  GatewayProcess gw({{"CLAWGATE_LIBEXEC_DIR", fake.path()}}, config_with({{"botToken", "1:x"}}));
  Client c(gw, kConnectMs);
  ASSERT_TRUE(eventually_fast([&] { return telegram_account(c.gc)["state"] == "stopped"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  const Json a = telegram_account(c.gc);
  EXPECT_EQ(a["state"], "stopped");
  EXPECT_EQ(a["restarts"], 0);
  EXPECT_NE(a["lastError"].get<std::string>().find("78"), std::string::npos);
}

TEST(Faults, AStoppedWorkerIsFoundByItsMissingHeartbeatAndRestarted) {
  TelegramEmulator emu;
  GatewayProcess gw({{"CLAWGATE_HEARTBEAT_MS", "100"}, {"CLAWGATE_HEARTBEAT_TIMEOUT_MS", "600"}},
                    config_with(emu.channel_config()));
  Client c(gw, kConnectMs);
  ASSERT_TRUE(eventually_fast([&] { return telegram_account(c.gc)["state"] == "running"; }));
  const int pid = pid_of(c.gc, "telegram");
  ASSERT_GT(pid, 0);
  const auto t0 = Clock::now();
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int new_pid = 0;
  ASSERT_TRUE(eventually_fast([&] {
    const Json p = processes(c.gc)["telegram"];
    new_pid = p.value("pid", 0);
    return new_pid > 0 && new_pid != pid && p["state"] == "running";
  })) << processes(c.gc)["telegram"].dump();
  const int64_t detect_ms = ms_since(t0);
  const Json p = processes(c.gc)["telegram"];
  EXPECT_NE(p["lastError"].get<std::string>().find("hung"), std::string::npos) << p.dump();
  EXPECT_EQ(p["restarts"], 1);
  // The stopped process is gone, not left behind frozen: killed and reaped by the supervisor
  // (kill(pid, 0) still succeeds on a zombie).
  EXPECT_TRUE(eventually_fast([&] { return kill(pid, 0) == -1 && errno == ESRCH; }, 5000))
      << "the stopped worker " << pid
      << " is still there: " << read_text("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_EQ(kill(new_pid, 0), 0) << "the replacement is alive";
  // And the replacement serves: it polls Telegram and delivers a send.
  ASSERT_TRUE(eventually_fast([&] { return telegram_account(c.gc)["connected"] == true; }));
  const Json r = c.gc.call("send", {{"channel", "telegram"},
                                    {"to", "31"},
                                    {"message", "after the stop"},
                                    {"idempotencyKey", "st-1"}});
  EXPECT_EQ(r["status"], "sent") << r.dump();
  ASSERT_TRUE(eventually_fast([&] { return !emu.sent()["messages"].empty(); }));
  const Json sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["text"], "after the stop");
  EXPECT_EQ(processes(c.gc)["telegram"]["pid"], new_pid) << "the same replacement, not another";
  std::printf("[ measure ] SIGSTOP -> replaced by a running worker after %lld ms (timeout 600)\n",
              static_cast<long long>(detect_ms));
}

TEST(Faults, GarbageOnTheControlSocketRestartsThatChildOnly) {
  FakeWorkerDir fake("printf 'this is not capnp at all, not at all' >&3; sleep 30");
  GatewayProcess gw({{"CLAWGATE_LIBEXEC_DIR", fake.path()}, {"CLAWGATE_RESTART_BACKOFF_MS", "50"}},
                    config_with({{"botToken", "1:x"}}));
  Client c(gw, kConnectMs);
  ASSERT_TRUE(eventually_fast([&] { return telegram_account(c.gc)["restarts"].get<int>() >= 2; }))
      << gw.output();
  EXPECT_TRUE(gw.wait_output("garbage", 1000)) << gw.output();
  EXPECT_TRUE(c.gc.call("health")["ok"]) << "supervisor and front unaffected";
  EXPECT_EQ(processes(c.gc)["front"]["restarts"], 0);
}

TEST(Faults, ChildrenDieWithTheSupervisor) {
  TelegramEmulator emu;
  GatewayProcess gw({}, config_with(emu.channel_config()));
  Client c(gw, kConnectMs);
  const int front = pid_of(c.gc, "front"), worker = pid_of(c.gc, "telegram");
  ASSERT_GT(front, 0);
  ASSERT_GT(worker, 0);
  ASSERT_EQ(kill(gw.pid(), SIGKILL), 0);
  // No orphan keeps the port or the bot token busy.
  // (A dead child may linger as a zombie until init reaps it: that counts as gone.)
  auto alive = [](int pid) {
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
  };
  EXPECT_TRUE(eventually_fast([&] { return !alive(front) && !alive(worker); }, 5000));
}

// What one client saw of one run's chat events.
struct ChatSeen {
  size_t deltas = 0;
  std::string final_text;  // set once the final arrives
  bool final = false;
};

// Reads `c`'s events until the chat final of `run_id` (or timeout_ms passes).
ChatSeen read_chat_run(GatewayClient& c, const std::string& run_id, int timeout_ms) {
  ChatSeen seen;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!seen.final && Clock::now() < deadline) {
    Json e;
    try {
      e = c.next_event(1000);
    } catch (const TimeoutError&) {
      continue;
    }
    const Json& p = e["payload"];
    if (e["event"] != "chat" || p.value("runId", "") != run_id) continue;
    if (p["state"] == "delta") ++seen.deltas;
    if (p["state"] == "final") {
      seen.final = true;
      seen.final_text = p["message"]["content"][0].value("text", "");
    }
  }
  return seen;
}

TEST(Faults, ASlowWebChatClientMissesDeltasButGetsTheFinal) {
  FakeModels models;
  std::string answer;
  for (int i = 0; answer.size() < 800'000; ++i) answer += "word" + std::to_string(i) + " ";
  // ~200 pieces 15 ms apart: a run of about 3 s, so a client that keeps up sees ~20 (throttled,
  // cumulative) deltas. Each carries the whole text so far, twice (chat delta, agent event):
  // ~16 MB in all, far more than the kernel's socket buffers take for a reader that does not
  // read, so the front itself has to drop deltas for the slow client.
  models.script({{"reply", answer}, {"chunk_chars", 4000}, {"delay_ms", 15}});
  // Room for the 800 KB final on top of the droppable half of the limit.
  GatewayProcess gw({{"CLAWGATE_MAX_BUFFERED_BYTES", "2097152"}}, models.config().dump());
  // The slow one: a 4 KiB receive buffer, and it reads nothing until the run is over.
  WsClient slow_ws;
  GatewayClient slow(slow_ws);
  ConnectOptions so;
  so.url = gw.url();
  so.token = gw.token();
  // As the local CLI: a device-less webchat-ui would be granted no scopes (it pairs instead),
  // and what is measured here is the send buffer, not who the client says it is.
  so.scopes = {"operator.read", "operator.write"};
  so.ws.recv_buffer = 4096;
  slow.connect(so);
  // The fast one reads the same run as it streams.
  Client fast(gw, kConnectMs);
  const Json started = fast.gc.call(
      "chat.send", {{"sessionKey", "main"}, {"message", "long one"}, {"idempotencyKey", "slow-1"}});
  ASSERT_EQ(started["status"], "started");
  const ChatSeen f = read_chat_run(fast.gc, "slow-1", 30000);
  ASSERT_TRUE(f.final) << "the fast client never saw the run end";
  // ...then the slow one drains its socket.
  const ChatSeen s = read_chat_run(slow, "slow-1", 30000);
  ASSERT_TRUE(s.final) << "the slow client got no final";
  EXPECT_TRUE(f.final_text == answer) << "the fast client's final carries the whole answer";
  EXPECT_TRUE(s.final_text == answer) << "the slow client's final carries the whole answer";
  EXPECT_GE(f.deltas, 5u) << "the run streamed long enough for several deltas";
  EXPECT_LT(s.deltas, f.deltas) << "deltas were dropped for the slow client only";
  EXPECT_TRUE(slow.call("health")["ok"]) << "and it was not disconnected";
  std::printf("[ measure ] slow client: %zu deltas, fast client: %zu, both finals intact\n",
              s.deltas, f.deltas);
}

TEST(Faults, KillingTheFrontMidConversationLeavesTranscriptsReadable) {
  FakeModels models;
  // Each answer (~45 characters) streams 4 characters every 20 ms: ~250 ms per run, one run at
  // a time in each of the 4 sessions, so the burst below keeps runs streaming for about 2.5 s
  // (the rest wait their turn, on disk as queued records).
  models.script({{"chunk_chars", 4}, {"delay_ms", 20}});
  GatewayProcess gw({}, models.config().dump());
  std::unique_ptr<Client> c = std::make_unique<Client>(gw, kConnectMs);
  const int front = pid_of(c->gc, "front");
  ASSERT_GT(front, 0);
  constexpr int kRuns = 40, kSessions = 4;
  auto session_of = [](int i) { return "agent:main:s" + std::to_string(i % kSessions); };
  std::vector<std::string> ids;
  for (int i = 0; i < kRuns; ++i)
    ids.push_back(c->gc.send_request("chat.send", {{"sessionKey", session_of(i)},
                                                   {"message", "burst " + std::to_string(i)},
                                                   {"idempotencyKey", "b-" + std::to_string(i)}}));
  // Every send is accepted (its user line is on disk before the answer) before the kill.
  for (int i = 0; i < kRuns; ++i) {
    const Json r = c->gc.wait_response(ids[i]);
    ASSERT_TRUE(r["ok"]) << r.dump();
    EXPECT_EQ(r["payload"]["runId"], "b-" + std::to_string(i));
    EXPECT_EQ(r["payload"]["status"], "started");
  }
  // Wait until a run is visibly streaming (a delta, no final yet), then kill the front.
  std::set<std::string> finals;
  std::string streaming;
  auto note = [&](const Json& e) {
    const Json& p = e["payload"];
    if (e["event"] != "chat") return;
    const std::string run = p.value("runId", "");
    if (p["state"] == "final") finals.insert(run);
    if (p["state"] == "delta" && !finals.count(run)) streaming = run;
  };
  ASSERT_TRUE(eventually_fast([&] {
    note(c->gc.next_event(5000));
    return !streaming.empty();
  })) << "no run was seen streaming";
  ASSERT_EQ(kill(front, SIGKILL), 0);
  // What the old front sent before it died, up to the dropped connection.
  try {
    for (;;) note(c->gc.next_event(5000));
  } catch (const std::exception&) {
  }
  EXPECT_EQ(finals.count(streaming), 0u)
      << "run " << streaming << " ended before the kill: the kill did not land mid-run";
  EXPECT_LT(finals.size(), static_cast<size_t>(kRuns)) << "every run had ended before the kill";
  c.reset();
  ASSERT_TRUE(eventually_fast([&] {
    try {
      c = std::make_unique<Client>(gw, kConnectMs);
      return true;
    } catch (...) {
      return false;
    }
  }));
  EXPECT_NE(pid_of(c->gc, "front"), front) << "a new front serves";
  // Every session reads back; every complete line on disk is valid JSON.
  std::map<std::string, std::string> history;  // session -> its messages, as "role: text\n"
  for (int s = 0; s < kSessions; ++s) {
    const std::string key = session_of(s);
    const Json h = c->gc.call("chat.history", {{"sessionKey", key}});
    ASSERT_TRUE(h["messages"].is_array()) << key;
    for (const auto& m : h["messages"])
      history[key] +=
          m["role"].get<std::string>() + ": " + m["content"][0].value("text", "") + "\n";
    const std::string text =
        read_text(gw.state_dir() + "/sessions/agent_main_s" + std::to_string(s) + ".jsonl");
    size_t start = 0, lines = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1, ++lines)
      EXPECT_FALSE(Json::parse(text.substr(start, nl - start), nullptr, false).is_discarded())
          << key << " line " << lines;
  }
  // Nothing a client was told about is lost: every accepted message is in its session once,
  // and every answer whose final was broadcast is there too.
  for (int i = 0; i < kRuns; ++i) {
    const std::string& h = history[session_of(i)];
    const std::string user = "user: burst " + std::to_string(i) + "\n";
    size_t n = 0;
    for (size_t at = 0; (at = h.find(user, at)) != std::string::npos; at += user.size()) ++n;
    EXPECT_EQ(n, 1u) << "accepted message " << i << " in " << session_of(i) << ":\n" << h;
    if (!finals.count("b-" + std::to_string(i))) continue;
    const std::string answer =
        "assistant: Hello from the fake model. You said: burst " + std::to_string(i) + "\n";
    EXPECT_NE(h.find(answer), std::string::npos)
        << "answer " << i << " was final on the wire but is not in the transcript:\n"
        << h;
  }
  // And the sessions still take new messages, answered in full.
  const Json r = c->gc.call(
      "chat.send",
      {{"sessionKey", "agent:main:s0"}, {"message", "after"}, {"idempotencyKey", "after-1"}});
  EXPECT_EQ(r["status"], "started");
  const ChatSeen after = read_chat_run(c->gc, "after-1", 20000);
  ASSERT_TRUE(after.final) << "the run after the restart never ended";
  EXPECT_EQ(after.final_text, "Hello from the fake model. You said: after");
  std::printf("[ measure ] front killed while %s streamed; %zu of %d runs had ended\n",
              streaming.c_str(), finals.size(), kRuns);
}

}  // namespace
}  // namespace clawgate::test
