// Unit tests: the front's durable outbound queue: replay after restart, completion and the
// idempotency-key dedupe window, the max_pending bound, and torn or corrupt journal lines.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/outbound_queue.hpp"
#include "fs.hpp"

namespace clawgate::core {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class OutboundQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/clawgate-outq-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/outbound";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string journal() const { return dir_ + "/outbound.jsonl"; }
  size_t journal_size() const {
    struct stat st {};
    return ::stat(journal().c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
  }

  static OutboundEntry entry(const std::string& to, const std::string& text, const std::string& key,
                             const std::string& channel = "telegram") {
    OutboundEntry e;
    e.channel = channel;
    e.account_id = "default";
    e.to = to;
    e.text = text;
    e.idempotency_key = key;
    return e;
  }

  std::string root_, dir_;
};

// Each account of a channel has its own queue order; the account is journalled with the entry,
// so a restarted front sends it through the same bot.
TEST_F(OutboundQueueTest, PendingEntriesAreKeptPerAccount) {
  {
    OutboundQueue q(dir_, 100);
    q.load(kT0);
    OutboundEntry a = entry("1", "你好 from alpha", "ka");
    a.account_id = "alpha";
    q.enqueue(a, kT0);
    q.enqueue(entry("2", "مرحبا from default", "kd"), kT0 + 1);
  }
  OutboundQueue q(dir_, 100);
  q.load(kT0 + 2);
  const auto alpha = q.pending("telegram", "alpha");
  ASSERT_EQ(alpha.size(), 1u);
  EXPECT_EQ(alpha[0]->text, "你好 from alpha");
  EXPECT_EQ(alpha[0]->account_id, "alpha");
  ASSERT_EQ(q.pending("telegram", "default").size(), 1u);
  EXPECT_TRUE(q.pending("telegram", "beta").empty());
}

TEST_F(OutboundQueueTest, PendingEntriesSurviveARestartInOrder) {
  std::vector<std::string> ids;
  {
    OutboundQueue q(dir_, 100);
    EXPECT_TRUE(q.load(kT0).empty());
    ids.push_back(q.enqueue(entry("111", "first", "k1"), kT0).id);
    ids.push_back(q.enqueue(entry("222", "second\nline two \"quoted\" é", "k2"), kT0 + 1).id);
    ids.push_back(q.enqueue(entry("-100", "other channel", "k3", "discord"), kT0 + 2).id);
    ids.push_back(q.enqueue(entry("111", "third", ""), kT0 + 3).id);
    EXPECT_EQ(q.pending_count(), 4u);
  }
  EXPECT_NE(ids[0], ids[1]) << "every entry gets its own id";

  OutboundQueue q(dir_, 100);
  EXPECT_TRUE(q.load(kT0 + 10).empty());
  EXPECT_EQ(q.pending_count(), 4u);
  const std::vector<OutboundEntry*> tg = q.pending("telegram", "default");
  ASSERT_EQ(tg.size(), 3u);
  EXPECT_EQ(tg[0]->id, ids[0]);
  EXPECT_EQ(tg[0]->to, "111");
  EXPECT_EQ(tg[0]->text, "first");
  EXPECT_EQ(tg[0]->idempotency_key, "k1");
  EXPECT_EQ(tg[0]->enqueued_ms, kT0);
  EXPECT_EQ(tg[1]->id, ids[1]);
  EXPECT_EQ(tg[1]->text, "second\nline two \"quoted\" é");
  EXPECT_EQ(tg[2]->id, ids[3]);
  EXPECT_EQ(tg[2]->text, "third");
  const std::vector<OutboundEntry*> dc = q.pending("discord", "default");
  ASSERT_EQ(dc.size(), 1u);
  EXPECT_EQ(dc[0]->to, "-100");
  ASSERT_NE(q.find(ids[1]), nullptr);
  EXPECT_EQ(q.find(ids[1])->to, "222");
  EXPECT_EQ(q.find("no-such-id"), nullptr);

  // A second restart (after load compacted the journal) still has them, in the same order.
  q.enqueue(entry("333", "fourth", "k4"), kT0 + 20);
  OutboundQueue again(dir_, 100);
  again.load(kT0 + 30);
  const std::vector<OutboundEntry*> tg2 = again.pending("telegram", "default");
  ASSERT_EQ(tg2.size(), 4u);
  EXPECT_EQ(tg2[0]->id, ids[0]);
  EXPECT_EQ(tg2[1]->id, ids[1]);
  EXPECT_EQ(tg2[2]->id, ids[3]);
  EXPECT_EQ(tg2[3]->text, "fourth");
}

TEST_F(OutboundQueueTest, CompletedEntriesAreRememberedForTheDedupeWindowOnly) {
  std::string id1, id2;
  {
    OutboundQueue q(dir_, 100);
    q.load(kT0);
    id1 = q.enqueue(entry("111", "hello", "key-1"), kT0).id;
    id2 = q.enqueue(entry("111", "world", "key-2"), kT0).id;
    ASSERT_NE(q.pending_for_key("key-1"), nullptr);
    EXPECT_EQ(q.pending_for_key("key-1")->id, id1);
    EXPECT_EQ(q.outcome_for_key("key-1", kT0), nullptr) << "not done yet";

    q.complete(id1, true, {{"messageIds", {"42"}}}, kT0 + 1000);
    EXPECT_EQ(q.pending_count(), 1u);
    EXPECT_EQ(q.pending_for_key("key-1"), nullptr);
    EXPECT_EQ(q.find(id1), nullptr);
    EXPECT_EQ(q.delivered_total(), 1u);
    const OutboundOutcome* o = q.outcome_for_key("key-1", kT0 + 2000);
    ASSERT_NE(o, nullptr);
    EXPECT_TRUE(o->ok);
    EXPECT_EQ(o->id, id1);
    // A repeated result for the same delivery changes nothing.
    q.complete(id1, false, {{"code", "UNAVAILABLE"}}, kT0 + 1500);
    EXPECT_TRUE(q.outcome_for_key("key-1", kT0 + 2000)->ok);
    EXPECT_EQ(q.outcome_for_key("key-1", kT0 + 1000 + OutboundQueue::kDedupeWindowMs), nullptr)
        << "forgotten once the 5 min window is over";

    q.complete(id2, false, {{"code", "INVALID_REQUEST"}, {"message", "chat not found"}},
               kT0 + 1000);
    EXPECT_EQ(q.delivered_total(), 1u) << "a failure is not a delivery";
  }

  // After a restart within the window.
  {
    OutboundQueue q(dir_, 100);
    EXPECT_TRUE(q.load(kT0 + 60'000).empty());
    EXPECT_EQ(q.pending_count(), 0u);
    EXPECT_EQ(q.pending_for_key("key-1"), nullptr);
    const OutboundOutcome* o = q.outcome_for_key("key-1", kT0 + 60'000);
    ASSERT_NE(o, nullptr);
    EXPECT_TRUE(o->ok);
    EXPECT_EQ(o->id, id1);
    EXPECT_EQ(o->detail, nlohmann::json({{"messageIds", {"42"}}}));
    const OutboundOutcome* f = q.outcome_for_key("key-2", kT0 + 60'000);
    ASSERT_NE(f, nullptr);
    EXPECT_FALSE(f->ok);
    EXPECT_EQ(f->detail.value("message", ""), "chat not found");
    EXPECT_EQ(q.outcome_for_key("key-1", kT0 + 1000 + 5 * 60 * 1000), nullptr);
  }
  // After a restart past the window: forgotten.
  {
    OutboundQueue q(dir_, 100);
    q.load(kT0 + 1000 + 5 * 60 * 1000 + 1);
    EXPECT_EQ(q.outcome_for_key("key-1", kT0 + 1000 + 5 * 60 * 1000 + 1), nullptr);
    EXPECT_EQ(q.outcome_for_key("key-2", kT0 + 1000 + 5 * 60 * 1000 + 1), nullptr);
    EXPECT_EQ(q.pending_count(), 0u) << "a completed entry must not come back";
  }
}

TEST_F(OutboundQueueTest, FullQueueRefusesAndWritesNothing) {
  OutboundQueue q(dir_, 2);
  q.load(kT0);
  const std::string id1 = q.enqueue(entry("1", "a", "ka"), kT0).id;
  q.enqueue(entry("1", "b", "kb"), kT0);
  const size_t before = journal_size();
  ASSERT_GT(before, 0u);
  EXPECT_THROW(q.enqueue(entry("1", "c", "kc"), kT0), QueueFull);
  EXPECT_EQ(journal_size(), before) << "a refused message must not be journalled";
  EXPECT_EQ(q.pending_count(), 2u);
  EXPECT_EQ(q.pending_for_key("kc"), nullptr);

  {
    OutboundQueue reloaded(dir_, 2);
    reloaded.load(kT0 + 1);
    EXPECT_EQ(reloaded.pending_count(), 2u) << "the refused message must not come back";
    EXPECT_EQ(reloaded.pending_for_key("kc"), nullptr);
  }

  // Room again once one is delivered.
  q.complete(id1, true, {{"messageIds", {"1"}}}, kT0 + 2);
  EXPECT_NO_THROW(q.enqueue(entry("1", "c", "kc"), kT0 + 3));
  EXPECT_EQ(q.pending_count(), 2u);
}

TEST_F(OutboundQueueTest, TornAndCorruptLinesAreSkippedWithAWarning) {
  std::vector<std::string> ids;
  {
    OutboundQueue q(dir_, 100);
    q.load(kT0);
    ids.push_back(q.enqueue(entry("1", "one", "k1"), kT0).id);
    ids.push_back(q.enqueue(entry("1", "two", "k2"), kT0).id);
    ids.push_back(q.enqueue(entry("1", "three", "k3"), kT0).id);
    ids.push_back(q.enqueue(entry("1", "four", "k4"), kT0).id);
  }
  // Corrupt line 2 (not JSON) and line 3 (JSON, but no "to"/"text"), and a torn append at the end.
  std::vector<std::string> lines = read_lines(journal());
  ASSERT_EQ(lines.size(), 4u);
  lines[1] = "{\"op\":\"enq\",\"id\":\"x\",\"chan";
  lines[2] = R"({"op":"enq","id":"y","channel":"telegram"})";
  {
    std::ofstream out(journal(), std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
    out << R"({"op":"enq","id":"torn","channel":"telegram","to":"1","text":"fi)";  // no newline
  }

  OutboundQueue q(dir_, 100);
  const std::vector<std::string> warnings = q.load(kT0 + 1);
  ASSERT_GE(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("outbound.jsonl:2"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("outbound.jsonl:3"), std::string::npos) << warnings[1];
  const std::vector<OutboundEntry*> p = q.pending("telegram", "default");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]->id, ids[0]);
  EXPECT_EQ(p[1]->id, ids[3]);
  EXPECT_EQ(q.find("torn"), nullptr);

  // Appending after the torn line does not glue the new record onto it.
  const std::string id5 = q.enqueue(entry("1", "five", "k5"), kT0 + 2).id;
  OutboundQueue again(dir_, 100);
  EXPECT_TRUE(again.load(kT0 + 3).empty()) << "the journal is clean after a replay";
  const std::vector<OutboundEntry*> p2 = again.pending("telegram", "default");
  ASSERT_EQ(p2.size(), 3u);
  EXPECT_EQ(p2[0]->id, ids[0]);
  EXPECT_EQ(p2[1]->id, ids[3]);
  EXPECT_EQ(p2[2]->id, id5);
}

TEST_F(OutboundQueueTest, LostDeliveriesAreCountedAcrossRestarts) {
  std::string id;
  {
    OutboundQueue q(dir_, 100);
    q.load(kT0);
    id = q.enqueue(entry("111", "死循环 💥", "k1"), kT0).id;
    EXPECT_EQ(q.lost(id), 1);
    EXPECT_EQ(q.lost(id), 2);
    EXPECT_EQ(q.lost("no-such-id"), 0);
  }
  {
    OutboundQueue q(dir_, 100);
    EXPECT_TRUE(q.load(kT0).empty());
    ASSERT_NE(q.find(id), nullptr);
    EXPECT_EQ(q.find(id)->lost, 2) << "the count survives a front restart (and a compaction)";
    EXPECT_EQ(q.lost(id), 3);
    q.complete(id, false, {{"message", "set aside"}}, kT0 + 1);
    EXPECT_EQ(q.pending_count(), 0u);
  }
}

}  // namespace
}  // namespace clawgate::core
