// The Slack worker in this process (its own Asio loop on a thread) against the Slack emulator
// process, with the test as its front on a socketpair: what reaches the front from Socket Mode
// (acks first, repeats and the bot's own posts dropped, mentions, threads, kinds looked up),
// outbound chunks in order with thread_ts, rate limits honoured, a refresh without loss, a
// dropped connection replaced, the journal handing unacknowledged messages to the next worker,
// and the bot token's refusal as exit 78.
#include <gtest/gtest.h>
#include <unistd.h>

#include <capnp/message.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "clock.hpp"
#include "contract.hpp"
#include "data.capnp.h"
#include "link.hpp"
#include "log.hpp"
#include "slack_emulator.hpp"
#include "slack_text.hpp"
#include "slack_worker.hpp"
#include "test_support.hpp"

namespace clawgate::test {
namespace {

using workers::slack::SlackConfig;
using workers::slack::SlackWorker;

struct Inbound {
  std::string id, chat_id, sender, text, message_id;
  bool direct = false, mentioned = false, reply_to_bot = false;
};

// The worker and a fake front on one loop on a thread; everything the front hears is recorded.
class Harness {
 public:
  Harness(const SlackEmulator& emu, const std::string& state_dir, bool auto_ack = true,
          const std::string& bot_token = "", const std::string& signing_secret = "")
      : log_(clock_, nullptr), auto_ack_(auto_ack) {
    cfg_.bot_token = bot_token.empty() ? emu.bot_token() : bot_token;
    cfg_.http_mode = !signing_secret.empty();  // HTTP mode: no Socket Mode, no app token
    cfg_.signing_secret = signing_secret;
    cfg_.webhook_path = "/slack/events";
    if (!cfg_.http_mode) cfg_.app_token = emu.app_token();
    cfg_.api_root = emu.api_root();
    cfg_.state_dir = state_dir;
    cfg_.chunk_limit = 40;
    cfg_.ping_timeout_ms = 4000;
    worker_ = std::make_unique<SlackWorker>(io_, log_, cfg_);
    worker_->on_fatal = [this](int code, const std::string& why) {
      std::lock_guard<std::mutex> g(m_);
      fatal_ = code;
      fatal_why_ = why;
    };
    int fds[2];
    ipc::make_socketpair(fds);
    worker_->start();
    worker_->attach_front(fds[0], 1);
    front_ = ipc::Link::create(io_, fds[1], ipc::contract::data_link("worker"));
    front_->start([this](capnp::MessageReader& r) { on_message(r); }, [](const std::string&) {});
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Harness() {
    boost::asio::post(io_, [this] {
      worker_->stop();
      front_->close();
      io_.stop();
    });
    thread_.join();
  }

  std::vector<Inbound> inbound() {
    std::lock_guard<std::mutex> g(m_);
    return inbound_;
  }
  Json deliveries() {
    std::lock_guard<std::mutex> g(m_);
    return deliveries_;
  }
  int fatal() {
    std::lock_guard<std::mutex> g(m_);
    return fatal_;
  }
  std::string fatal_why() {
    std::lock_guard<std::mutex> g(m_);
    return fatal_why_;
  }
  bool connected() {
    std::lock_guard<std::mutex> g(m_);
    return connected_;
  }
  // Hands the worker an HTTP request as the front does (HTTP mode).
  void http(uint64_t id, const std::string& body, const std::string& timestamp,
            const std::string& signature, int retry_num = -1) {
    boost::asio::post(io_, [=] {
      capnp::MallocMessageBuilder b;
      auto r = b.initRoot<ipc::Data>().initHttpRequest();
      r.setRequestId(id);
      r.setContentType("application/json");
      r.setTimestamp(timestamp);
      r.setSignature(signature);
      r.setRetryNum(retry_num);
      r.setBody(
          capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(body.data()), body.size()));
      front_->send(b);
    });
  }
  std::map<uint64_t, std::pair<int, std::string>> http_answers() {
    std::lock_guard<std::mutex> g(m_);
    return http_answers_;
  }
  void send(const std::string& id, const std::string& to, const std::string& text) {
    boost::asio::post(io_, [this, id, to, text] {
      capnp::MallocMessageBuilder b;
      auto o = b.initRoot<ipc::Data>().initOutbound();
      o.setDeliveryId(id);
      o.setTo(to);
      o.setText(text);
      front_->send(b);
    });
  }

 private:
  void on_message(capnp::MessageReader& r) {
    auto msg = r.getRoot<ipc::Data>();
    std::lock_guard<std::mutex> g(m_);
    switch (msg.which()) {
      case ipc::Data::INBOUND: {
        auto in = msg.getInbound();
        inbound_.push_back({in.getId(), in.getChatId(), in.getSenderId(), in.getText(),
                            in.getMessageId(), in.getChatType() == ipc::ChatType::DIRECT,
                            in.getWasMentioned(), in.getReplyToBot()});
        if (auto_ack_) {
          capnp::MallocMessageBuilder b;
          b.initRoot<ipc::Data>().setInboundAck(in.getId());
          front_->send(b);
        }
        return;
      }
      case ipc::Data::DELIVERY: {
        auto d = msg.getDelivery();
        Json ids = Json::array();
        for (auto id : d.getMessageIds()) ids.push_back(std::string(id));
        deliveries_.push_back(
            {{"id", std::string(d.getDeliveryId())},
             {"ok", d.getOk()},
             {"ids", ids},
             {"error", d.hasError() ? std::string(d.getError().getMessage()) : ""}});
        return;
      }
      case ipc::Data::STATUS:
        connected_ = msg.getStatus().getConnected();
        return;
      case ipc::Data::HTTP_RESPONSE: {
        auto a = msg.getHttpResponse();
        http_answers_[a.getRequestId()] = {
            a.getStatus(),
            std::string(reinterpret_cast<const char*>(a.getBody().begin()), a.getBody().size())};
        return;
      }
      default:
        return;
    }
  }

  SystemClock clock_;
  Logger log_;
  boost::asio::io_context io_;
  SlackConfig cfg_;
  std::unique_ptr<SlackWorker> worker_;
  std::shared_ptr<ipc::Link> front_;
  std::thread thread_;
  std::mutex m_;
  bool auto_ack_;
  std::vector<Inbound> inbound_;
  Json deliveries_ = Json::array();
  std::map<uint64_t, std::pair<int, std::string>> http_answers_;
  int fatal_ = 0;
  std::string fatal_why_;
  bool connected_ = false;
};

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/slack-worker-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string path;
};

constexpr const char* kAt = "<@U0EMUBOT1>";

TEST(SlackWorker, EventsReachTheFrontOnceWithTheirFacts) {
  SlackEmulator emu;
  TempDir dir;
  Harness h(emu, dir.path);
  ASSERT_TRUE(eventually([&] { return h.connected(); })) << "no Socket Mode connection";
  emu.faults({{"ack_timeout_ms", 500}});
  emu.dm("U0USER001", "a &lt;b&gt; 你好");
  emu.inject({{"channel", "C0CHAN001"}, {"user", "U0USER001"}, {"text", std::string(kAt) + " hi"}});
  // An event that does not say what kind of conversation G0PRIV001 is: looked up.
  emu.add_channel("G0PRIV001", "mpim");
  emu.inject({{"channel", "G0PRIV001"},
              {"raw_event",
               {{"type", "message"},
                {"channel", "G0PRIV001"},
                {"user", "U0USER002"},
                {"text", "in a thread"},
                {"ts", "1700000000.000050"},
                {"thread_ts", "1700000000.000001"},
                {"parent_user_id", "U0EMUBOT1"}}}});
  emu.inject({{"channel", "C0CHAN001"},
              {"user", "U0OTHER01"},
              {"bot_id", "B0OTHER01"},
              {"text", "another bot"}});
  emu.inject({{"channel", "C0CHAN001"},
              {"user", "U0EMUBOT1"},
              {"bot_id", "B0EMUBOT1"},
              {"text", "my own echo"}});
  ASSERT_TRUE(eventually([&] { return h.inbound().size() >= 4; })) << h.inbound().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // retries would arrive by now
  const auto in = h.inbound();
  ASSERT_EQ(in.size(), 4u);
  EXPECT_EQ(in[0].chat_id, "D0USER001");
  EXPECT_TRUE(in[0].direct);
  EXPECT_EQ(in[0].text, "a <b> 你好");
  EXPECT_EQ(in[1].chat_id, "C0CHAN001");
  EXPECT_TRUE(in[1].mentioned) << "message + app_mention: once, mentioned";
  EXPECT_FALSE(in[1].direct);
  EXPECT_EQ(in[2].chat_id, "G0PRIV001:thread:1700000000.000001") << "looked up, a thread";
  EXPECT_TRUE(in[2].reply_to_bot);
  EXPECT_EQ(in[3].text, "another bot");
  EXPECT_EQ(in[3].sender, "U0OTHER01");
  const Json st = emu.stats();
  EXPECT_EQ(st["envelopes_retried"], 0) << "every envelope acknowledged in time: " << st.dump();
  EXPECT_EQ(st["conversations.info"], 1) << "G… looked up once";
  EXPECT_EQ(h.fatal(), 0);
}

TEST(SlackWorker, OutboundChunksGoOutInOrderIntoTheirThreadAndWaitOutRateLimits) {
  SlackEmulator emu;
  TempDir dir;
  Harness h(emu, dir.path);
  ASSERT_TRUE(eventually([&] { return h.connected(); }));
  emu.faults({{"no_echo", true}, {"rate_limit", {{"count", 1}, {"retry_after", 1}}}});
  emu.add_channel("C0CHAN001");
  const auto t0 = std::chrono::steady_clock::now();
  // 40-unit chunks: three pieces; a < that must be escaped; the mention kept whole.
  h.send("d-1", "C0CHAN001:thread:1700000000.000001",
         "first line is here\nsecond <@U0USER001> line a < b\nthird line of the reply");
  h.send("d-2", "user:U0USER001", "to a user");
  h.send("d-3", "C0NOPE001", "nowhere");
  h.send("d-4", "#general", "not an id");
  ASSERT_TRUE(eventually([&] { return h.deliveries().size() >= 4; }, 15000)) << h.deliveries();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(900)) << "Retry-After: 1 was honoured";
  const Json d = h.deliveries();
  std::map<std::string, Json> by_id;
  for (const auto& x : d) by_id[x["id"]] = x;
  EXPECT_TRUE(by_id["d-1"]["ok"]);
  EXPECT_EQ(by_id["d-1"]["ids"].size(), 3u);
  EXPECT_TRUE(by_id["d-2"]["ok"]);
  EXPECT_FALSE(by_id["d-3"]["ok"]);
  EXPECT_NE(by_id["d-3"]["error"].get<std::string>().find("channel_not_found"), std::string::npos);
  EXPECT_FALSE(by_id["d-4"]["ok"]);
  const Json sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), 4u) << sent.dump();
  EXPECT_EQ(sent[0]["text"], "first line is here");
  EXPECT_EQ(sent[1]["text"], "second <@U0USER001> line a &lt; b");
  EXPECT_EQ(sent[2]["text"], "third line of the reply");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sent[i]["thread_ts"], "1700000000.000001");
  EXPECT_EQ(sent[3]["channel"], "D0USER001");
  // A delivery the front sends again (it restarted before hearing back): the result, no post.
  h.send("d-1", "C0CHAN001", "again");
  ASSERT_TRUE(eventually([&] { return h.deliveries().size() >= 5; }));
  EXPECT_EQ(h.deliveries()[4]["ids"], by_id["d-1"]["ids"]);
  EXPECT_EQ(emu.sent()["messages"].size(), 4u);
}

TEST(SlackWorker, RefreshAndDroppedConnectionsLoseNothing) {
  SlackEmulator emu;
  TempDir dir;
  Harness h(emu, dir.path);
  ASSERT_TRUE(eventually([&] { return h.connected(); }));
  emu.faults({{"ack_timeout_ms", 1000}});
  emu.disconnect({{"reason", "refresh_requested"}, {"close_after_ms", 1000}});
  for (int i = 0; i < 5; ++i) {
    emu.dm("U0USER001", "refresh " + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(eventually([&] { return h.inbound().size() >= 5; }, 10000)) << h.inbound().size();
  ASSERT_TRUE(eventually([&] { return emu.stats()["open_connections"] == 1; }, 5000));
  Json st = emu.stats();
  EXPECT_EQ(st["connections_opened"], 2) << st.dump();
  EXPECT_EQ(st["max_open_connections"], 2) << "overlap: the new one before the old one went";
  // The TCP connection dies without a close frame: a new one, and what was sent meanwhile
  // (unacknowledged) comes again on it.
  emu.drop();
  emu.dm("U0USER001", "after the drop");
  ASSERT_TRUE(eventually([&] { return h.inbound().size() >= 6; }, 15000)) << emu.stats().dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto in = h.inbound();
  ASSERT_EQ(in.size(), 6u);
  EXPECT_EQ(in[5].text, "after the drop");
  EXPECT_TRUE(eventually([&] { return h.connected(); }));
}

// Socket Mode that goes quiet (the emulator stops reading: no pongs, no acks): the ping timeout
// (4 s here) replaces the connection, and the event sent into the dead one arrives on the new.
TEST(SlackWorker, AConnectionThatStopsAnsweringIsReplacedAndDeliveryGoesOn) {
  SlackEmulator emu;
  TempDir dir;
  Harness h(emu, dir.path);
  ASSERT_TRUE(eventually([&] { return h.connected(); }));
  emu.dm("U0USER001", "before");
  ASSERT_TRUE(eventually([&] { return h.inbound().size() == 1; }));
  const auto hung_at = std::chrono::steady_clock::now();
  emu.hang();
  emu.dm("U0USER001", "into the silence");
  ASSERT_TRUE(eventually([&] { return emu.stats()["connections_opened"] >= 2; }, 15000))
      << emu.stats().dump();
  const auto replaced = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - hung_at)
                            .count();
  EXPECT_GE(replaced, 2000) << "not before the pings went unanswered";
  EXPECT_LE(replaced, 10000);
  std::printf("[ measure ] slack: silent Socket Mode connection replaced after %lld ms\n",
              static_cast<long long>(replaced));
  ASSERT_TRUE(eventually([&] { return h.inbound().size() >= 2; }, 15000)) << emu.stats().dump();
  EXPECT_EQ(h.inbound()[1].text, "into the silence");
  emu.dm("U0USER001", "after");
  ASSERT_TRUE(eventually([&] { return h.inbound().size() >= 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(h.inbound().size(), 3u) << "each once";
  EXPECT_EQ(h.inbound()[2].text, "after");
  EXPECT_TRUE(eventually([&] { return h.connected(); }));
}

// HTTP mode: requests as the front hands them over; the worker checks the signature and
// answers, and a signed event goes the Socket Mode way (once, even when Slack retries it).
TEST(SlackWorker, HttpModeAnswersTheFrontAndFeedsTheSamePipeline) {
  SlackEmulator emu;
  TempDir dir;
  const std::string secret = "test-signing-secret";
  Harness h(emu, dir.path, true, "", secret);
  ASSERT_TRUE(eventually([&] { return h.connected(); })) << "ready once auth.test answered";
  EXPECT_EQ(emu.stats().value("connections_opened", 0), 0) << "no Socket Mode in HTTP mode";
  const std::string ts = std::to_string(std::time(nullptr));
  const std::string ev =
      R"({"type":"event_callback","event_id":"Ev0HTTP0001","team_id":"T0EMU0001","event":{"type":"message","channel":"D0USER001","channel_type":"im","user":"U0USER001","text":"hi over http","ts":"1700000000.000100"}})";
  h.http(1, ev, ts, workers::slack::sign_request(secret, ts, ev));
  h.http(2, ev, ts, workers::slack::sign_request(secret, ts, ev), 1);  // Slack's retry
  h.http(3, ev, ts, workers::slack::sign_request("wrong", ts, ev));
  const std::string old = std::to_string(std::time(nullptr) - 400);
  h.http(4, ev, old, workers::slack::sign_request(secret, old, ev));
  const std::string challenge = R"({"type":"url_verification","challenge":"ch4ll3nge"})";
  h.http(5, challenge, ts, workers::slack::sign_request(secret, ts, challenge));
  ASSERT_TRUE(eventually([&] { return h.http_answers().size() == 5; }));
  const auto a = h.http_answers();
  EXPECT_EQ(a.at(1).first, 200);
  EXPECT_EQ(a.at(2).first, 200);
  EXPECT_EQ(a.at(3).first, 401);
  EXPECT_EQ(a.at(4).first, 401);
  EXPECT_EQ(a.at(5), std::make_pair(200, std::string("ch4ll3nge")));
  ASSERT_TRUE(eventually([&] { return !h.inbound().empty(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto in = h.inbound();
  ASSERT_EQ(in.size(), 1u) << "the retry was dropped";
  EXPECT_EQ(in[0].text, "hi over http");
  EXPECT_TRUE(in[0].direct);
}

TEST(SlackWorker, MessagesTheFrontDidNotAcknowledgeGoToTheNextWorker) {
  SlackEmulator emu;
  TempDir dir;
  {
    Harness h(emu, dir.path, /*auto_ack=*/false);
    ASSERT_TRUE(eventually([&] { return h.connected(); }));
    emu.dm("U0USER001", "kept one");
    emu.dm("U0USER001", "kept two");
    ASSERT_TRUE(eventually([&] { return h.inbound().size() >= 2; }));
  }  // the worker goes away with both unacknowledged (Slack has its acks)
  Harness next(emu, dir.path);
  ASSERT_TRUE(eventually([&] { return next.inbound().size() >= 2; }));
  EXPECT_EQ(next.inbound()[0].text, "kept one");
  EXPECT_EQ(next.inbound()[1].text, "kept two");
}

// Throughput against the emulator (a Python server: it is the slower side), both ways.
TEST(SlackWorker, MeasureMessagesPerSecond) {
  SlackEmulator emu;
  TempDir dir;
  Harness h(emu, dir.path);
  ASSERT_TRUE(eventually([&] { return h.connected(); }));
  emu.faults({{"no_echo", true}});
  emu.add_channel("C0CHAN001");
  constexpr int kN = 200;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) emu.dm("U0USER001", "in " + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return h.inbound().size() >= kN; }, 30000));
  const double in_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i)
    h.send("m-" + std::to_string(i), "C0CHAN001", "out " + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return h.deliveries().size() >= kN; }, 30000));
  const double out_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Json sent = emu.sent()["messages"];
  ASSERT_EQ(sent.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(sent[i]["text"], "out " + std::to_string(i)) << "in order";
  std::printf(
      "[ measure ] slack worker vs emulator: %d inbound events in %.2f s (%.0f/s, each "
      "injected by one HTTP call); %d chat.postMessage deliveries in %.2f s (%.0f/s, one "
      "at a time, in order)\n",
      kN, in_s, kN / in_s, kN, out_s, kN / out_s);
}

TEST(SlackWorker, ABotTokenSlackRefusesIsFatal) {
  SlackEmulator emu;
  TempDir dir;
  Harness h(emu, dir.path, true, "xoxb-wrong");
  ASSERT_TRUE(eventually([&] { return h.fatal() != 0; }));
  EXPECT_EQ(h.fatal(), 78);
  EXPECT_NE(h.fatal_why().find("botToken"), std::string::npos) << h.fatal_why();
}

}  // namespace
}  // namespace clawgate::test
