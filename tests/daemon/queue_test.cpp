// Whole-gateway queue tests: ten Telegram messages to one chat within a moment, while the
// (fake) model takes its time, answered as messages.queue.mode says, checked where a user
// looks: the replies in the Telegram chat, in order, and the session's transcript, which reads
// turn by turn (user, assistant, user, ...) however the messages arrived.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"

namespace clawgate::test {
namespace {

using Clock = std::chrono::steady_clock;
using Turns = std::vector<std::pair<std::string, std::string>>;

const std::string kSaid = "Hello from the fake model. You said: ";

// Ten messages in several scripts: each must come back whole, in its place.
std::vector<std::string> ten_messages() {
  const char* words[] = {"你好", "مرحبا",     "👋🏽", "Grüße",      "こんにちは",
                         "שלום", "🇺🇦 привіт", "नमस्ते",     "안녕하세요", "🎉 done"};
  std::vector<std::string> out;
  for (int i = 0; i < 10; ++i) out.push_back("#" + std::to_string(i + 1) + " " + words[i]);
  return out;
}

class QueueTest : public ::testing::Test {
 protected:
  // A gateway answering Telegram with a model that takes ~600 ms a turn, `queue` as
  // messages.queue.
  void start(const Json& queue) {
    models_.script({{"first_delay_ms", 600}, {"chunk_chars", 500}, {"delay_ms", 0}});
    Json cfg = models_.config();
    cfg["channels"] = {{"telegram", emu_.channel_config()}};
    if (!queue.is_null()) cfg["messages"] = {{"queue", queue}};
    gw_ = std::make_unique<GatewayProcess>(std::map<std::string, std::string>{}, cfg.dump());
    client_ = std::make_unique<Client>(*gw_);
    ASSERT_TRUE(eventually([&] {
      return client_->gc.call("channels.status")["channelAccounts"]["telegram"][0]["connected"] ==
             true;
    })) << gw_->output();
  }

  // The ten messages from Bob, as fast as the emulator takes them; returns how long it took.
  int64_t burst() {
    const auto t0 = Clock::now();
    for (const auto& text : ten_messages())
      emu_.inject({{"chat_id", 4242}, {"from_id", 4242}, {"first_name", "Bob"}, {"text", text}});
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  }

  // The bot's replies once `n` have come and nothing more follows for a second.
  std::vector<std::string> replies(size_t n, int timeout_ms = 30000) {
    Json sent;
    EXPECT_TRUE(eventually(
        [&] {
          sent = emu_.sent()["messages"];
          return sent.size() >= n;
        },
        timeout_ms))
        << sent.dump() << "\n"
        << gw_->output();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    std::vector<std::string> out;
    sent = emu_.sent()["messages"];
    for (const auto& m : sent) {
      EXPECT_EQ(m["chat_id"], 4242);
      out.push_back(m["text"]);
    }
    return out;
  }

  Turns transcript() {
    Turns out;
    const Json h = client_->gc.call("chat.history", {{"sessionKey", "main"}});
    for (const auto& m : h["messages"]) out.push_back({m["role"], m["content"][0]["text"]});
    return out;
  }

  FakeModels models_;
  TelegramEmulator emu_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<Client> client_;
};

// The default (steer) cannot steer into a running turn here, so it is followup: every message
// is answered on its own, in order, and each turn sees the ones before it.
TEST_F(QueueTest, SteerByDefaultAnswersEachMessageInOrderOneTurnAtATime) {
  start(Json());
  const int64_t took = burst();
  RecordProperty("burst_ms", std::to_string(took));
  ASSERT_LT(took, 600) << "all ten came while the first turn was still running";
  const auto msgs = ten_messages();
  std::vector<std::string> want;
  for (const auto& m : msgs) want.push_back(kSaid + m);
  EXPECT_EQ(replies(10), want);
  Turns turns;
  for (const auto& m : msgs) {
    turns.push_back({"user", m});
    turns.push_back({"assistant", kSaid + m});
  }
  EXPECT_EQ(transcript(), turns);
  // One model request per message; the last one saw the whole conversation, in order.
  const Json reqs = models_.requests()["requests"];
  ASSERT_EQ(reqs.size(), 10u);
  const Json last = reqs[9]["body"]["messages"];
  ASSERT_GE(last.size(), 20u);
  EXPECT_EQ(last[last.size() - 1]["content"], msgs[9]);
  EXPECT_EQ(last[last.size() - 2]["content"], kSaid + msgs[8]);
}

TEST_F(QueueTest, FollowupAnswersEachMessageInOrder) {
  start({{"mode", "followup"}, {"debounceMsByChannel", {{"telegram", 100}}}});
  ASSERT_LT(burst(), 600);
  std::vector<std::string> want;
  for (const auto& m : ten_messages()) want.push_back(kSaid + m);
  EXPECT_EQ(replies(10), want);
  EXPECT_EQ(transcript().size(), 20u);
}

// collect: the first message is a turn of its own; the nine that came meanwhile are one turn,
// and the transcript keeps that turn as one user message.
TEST_F(QueueTest, CollectAnswersTheMessagesThatWaitedInOneTurn) {
  start({{"mode", "collect"}});
  ASSERT_LT(burst(), 600);
  const auto msgs = ten_messages();
  std::string combined = "[Queued messages while agent was busy]";
  for (size_t i = 1; i < msgs.size(); ++i)
    combined += "\n\n---\nQueued #" + std::to_string(i) + " (from Bob)\n" + msgs[i];
  const auto got = replies(2);
  EXPECT_EQ(got, (std::vector<std::string>{kSaid + msgs[0], kSaid + combined}));
  EXPECT_EQ(transcript(), (Turns{{"user", msgs[0]},
                                 {"assistant", kSaid + msgs[0]},
                                 {"user", combined},
                                 {"assistant", kSaid + combined}}));
  EXPECT_EQ(models_.requests()["requests"].size(), 2u);
}

// interrupt: every message stops the turn before it; only the newest is answered.
TEST_F(QueueTest, InterruptAnswersOnlyTheNewestMessage) {
  start({{"mode", "interrupt"}});
  ASSERT_LT(burst(), 600);
  const auto msgs = ten_messages();
  EXPECT_EQ(replies(1), std::vector<std::string>{kSaid + msgs[9]});
  Turns turns;
  for (const auto& m : msgs) turns.push_back({"user", m});
  turns.push_back({"assistant", kSaid + msgs[9]});
  EXPECT_EQ(transcript(), turns) << "each message, in order, then the one answer";
  EXPECT_EQ(models_.stats()["streams_completed"], 1) << "the model finished one answer only";
}

// cap 3, drop "summarize": the oldest waiting messages come back as one summary turn first.
TEST_F(QueueTest, AFullQueueSummarizesItsOldestMessages) {
  start({{"mode", "followup"}, {"cap", 3}});
  ASSERT_LT(burst(), 600);
  const auto msgs = ten_messages();
  const auto got = replies(5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], kSaid + msgs[0]);
  // #2..#7 overflowed; the summary keeps the newest three lines (#5, #6, #7).
  EXPECT_EQ(got[1], kSaid + "[Queue overflow] Dropped 6 messages due to cap.\nSummary:\n- " +
                        msgs[4] + "\n- " + msgs[5] + "\n- " + msgs[6]);
  EXPECT_EQ(got[2], kSaid + msgs[7]);
  EXPECT_EQ(got[3], kSaid + msgs[8]);
  EXPECT_EQ(got[4], kSaid + msgs[9]);
}

}  // namespace
}  // namespace clawgate::test
