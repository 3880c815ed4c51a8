// Unit tests: SessionLanes in virtual time (FakeClock). One run per session; what each queue
// mode does with messages that arrive meanwhile (followup, steer falling back to followup,
// collect, interrupt), the 500 ms quiet window, the per-session cap with each drop policy,
// agents.defaults.maxConcurrent across sessions, the background budget, and the process-wide
// bounds. Text in Chinese, Arabic and emoji goes through a collected turn and a summary line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "clock.hpp"
#include "core/lanes.hpp"
#include "utf8.hpp"

namespace clawgate::core {
namespace {

using Ids = std::vector<std::string>;

LaneMessage msg(const std::string& id, QueueMode mode = QueueMode::followup,
                const std::string& text = "", const std::string& sender = "",
                const std::string& route = "telegram\ndefault\n4242") {
  LaneMessage m;
  m.run_id = id;
  m.text = text.empty() ? "text of " + id : text;
  m.sender = sender;
  m.route = route;
  m.mode = mode;
  return m;
}

LaneMessage background(const std::string& id) {
  LaneMessage m = msg(id);
  m.background = true;
  return m;
}

Ids adopted(const LaneActions& a) {
  Ids out;
  for (const auto& t : a.adopted) out.push_back(t.run_id);
  return out;
}

Ids dropped(const LaneActions& a) {
  Ids out;
  for (const auto& d : a.dropped) out.push_back(d.run_id);
  return out;
}

class LanesTest : public ::testing::Test {
 protected:
  explicit LanesTest(LaneOptions o = {}) : lanes_(o) {}
  // Submits; expects it taken.
  LaneActions submit(const std::string& session, LaneMessage m) {
    auto s = lanes_.submit(session, std::move(m), clock_.steady_ms());
    EXPECT_EQ(s.refused, "");
    return s.actions;
  }
  LaneActions end(const std::string& session, const std::string& id) {
    return lanes_.ended(session, id, clock_.steady_ms());
  }
  LaneActions poll() { return lanes_.poll(clock_.steady_ms()); }

  FakeClock clock_;
  SessionLanes lanes_;
};

TEST_F(LanesTest, AFreeSessionStartsAMessageAtOnce) {
  EXPECT_FALSE(lanes_.busy("s"));
  const LaneActions a = submit("s", msg("a"));
  EXPECT_EQ(adopted(a), Ids{"a"});
  EXPECT_EQ(a.started, Ids{"a"});
  EXPECT_FALSE(a.adopted[0].combined) << "its own message, not a combined one";
  EXPECT_EQ(a.adopted[0].text, "text of a");
  EXPECT_TRUE(lanes_.busy("s"));
  EXPECT_EQ(lanes_.running(), 1u);
  const LaneActions e = end("s", "a");
  EXPECT_TRUE(e.empty());
  EXPECT_FALSE(lanes_.busy("s"));
  EXPECT_EQ(lanes_.running(), 0u);
}

// followup: every message is a turn of its own, in arrival order, after the one before ends
// and once the session has been quiet for 500 ms.
TEST_F(LanesTest, FollowupRunsEachWaitingMessageAsItsOwnTurnInOrder) {
  submit("s", msg("a"));
  EXPECT_TRUE(submit("s", msg("b")).empty()) << "a owns the session: b waits";
  clock_.advance(100);
  EXPECT_TRUE(submit("s", msg("c")).empty());
  clock_.advance(100);
  EXPECT_TRUE(submit("s", msg("d")).empty());
  EXPECT_EQ(lanes_.waiting_runs("s"), (Ids{"b", "c", "d"}));
  clock_.advance(100);  // a ends 100 ms after the last message: the burst is not over yet
  EXPECT_TRUE(end("s", "a").empty());
  ASSERT_TRUE(lanes_.next_wake_ms());
  EXPECT_EQ(*lanes_.next_wake_ms(), clock_.steady_ms() + 400) << "500 ms after d came";
  clock_.advance(399);
  EXPECT_TRUE(poll().empty());
  clock_.advance(1);
  LaneActions a = poll();
  EXPECT_EQ(adopted(a), Ids{"b"});
  EXPECT_EQ(a.started, Ids{"b"});
  // The session has long been quiet: c follows b at once, then d.
  clock_.advance(2000);
  EXPECT_EQ(end("s", "b").started, Ids{"c"});
  EXPECT_EQ(end("s", "c").started, Ids{"d"});
  EXPECT_TRUE(end("s", "d").empty());
  EXPECT_FALSE(lanes_.busy("s"));
  EXPECT_EQ(lanes_.queued(), 0u);
  EXPECT_EQ(lanes_.queued_bytes(), 0u);
}

// steer: the agent worker takes no input while it streams, so a message cannot be injected
// into the active run; it waits and runs after it, exactly as followup.
TEST_F(LanesTest, SteerFallsBackToFollowup) {
  submit("s", msg("a", QueueMode::steer));
  submit("s", msg("b", QueueMode::steer));
  submit("s", msg("c", QueueMode::steer));
  clock_.advance(600);
  EXPECT_EQ(end("s", "a").started, Ids{"b"});
  const LaneActions a = end("s", "b");
  ASSERT_EQ(a.adopted.size(), 1u);
  EXPECT_EQ(a.adopted[0].run_id, "c");
  EXPECT_TRUE(a.adopted[0].merged.empty()) << "never combined";
}

// collect: what waited becomes one turn, named and numbered as upstream does, carried by the
// newest message; every script survives whole.
TEST_F(LanesTest, CollectMakesOneTurnOfEverythingThatWaited) {
  submit("s", msg("a", QueueMode::collect));
  submit("s", msg("b", QueueMode::collect, "你好，明天的会议在三楼吗？", "李雷"));
  submit("s", msg("c", QueueMode::collect, "مرحبا، هل الاجتماع غدا؟", "سارة"));
  submit("s",
         msg("d", QueueMode::collect, "🎉👍🏽 see you there 👨‍👩‍👧\n\n", ""));
  clock_.advance(500);
  const LaneActions a = end("s", "a");
  ASSERT_EQ(a.adopted.size(), 1u);
  const LaneTurn& t = a.adopted[0];
  EXPECT_EQ(t.run_id, "d");
  EXPECT_EQ(t.merged, (Ids{"b", "c"}));
  EXPECT_TRUE(t.combined);
  EXPECT_EQ(t.text,
            "[Queued messages while agent was busy]\n\n"
            "---\nQueued #1 (from 李雷)\n你好，明天的会议在三楼吗？\n\n"
            "---\nQueued #2 (from سارة)\nمرحبا، هل الاجتماع غدا؟\n\n"
            "---\nQueued #3\n🎉👍🏽 see you there 👨‍👩‍👧");
  EXPECT_TRUE(utf8::valid(t.text));
  EXPECT_EQ(a.started, Ids{"d"});
  EXPECT_TRUE(lanes_.waiting_runs("s").empty());
  EXPECT_TRUE(end("s", "d").empty()) << "nothing left: one turn answered all three";
}

TEST_F(LanesTest, CollectNeverMixesDestinations) {
  submit("s", msg("a", QueueMode::collect));
  submit("s", msg("b", QueueMode::collect, "", "", "telegram\ndefault\n1"));
  submit("s", msg("c", QueueMode::collect, "", "", "telegram\ndefault\n1"));
  submit("s", msg("d", QueueMode::collect, "", "", "telegram\ndefault\n2"));
  submit("s", msg("e", QueueMode::collect, "", "", "telegram\ndefault\n1"));
  clock_.advance(500);
  LaneActions a = end("s", "a");
  ASSERT_EQ(a.adopted.size(), 1u);
  EXPECT_EQ(a.adopted[0].run_id, "c");
  EXPECT_EQ(a.adopted[0].merged, Ids{"b"});
  a = end("s", "c");
  ASSERT_EQ(a.adopted.size(), 1u);
  EXPECT_EQ(a.adopted[0].run_id, "d");
  EXPECT_FALSE(a.adopted[0].combined) << "alone: its own message";
  EXPECT_EQ(a.adopted[0].text, "text of d");
  EXPECT_EQ(adopted(end("s", "d")), Ids{"e"});
}

// interrupt: the active run is aborted, whatever waited is dropped, the newest message runs as
// soon as the aborted run has ended, without a quiet window.
TEST_F(LanesTest, InterruptAbortsTheActiveRunAndRunsTheNewestMessage) {
  submit("s", msg("a", QueueMode::interrupt));
  submit("s", msg("b", QueueMode::followup));
  const LaneActions a = submit("s", msg("c", QueueMode::interrupt));
  EXPECT_EQ(a.interrupt, Ids{"a"});
  ASSERT_EQ(a.dropped.size(), 1u);
  EXPECT_EQ(a.dropped[0].run_id, "b");
  EXPECT_TRUE(a.dropped[0].aborted) << "superseded, not failed";
  EXPECT_TRUE(a.adopted.empty()) << "c waits for a to end";
  const LaneActions e = end("s", "a");  // no time passes: the abort ends it at once
  EXPECT_EQ(adopted(e), Ids{"c"});
  EXPECT_EQ(e.started, Ids{"c"});
}

TEST_F(LanesTest, ATurnWaitsUntilTheQuietWindowOfItsChannel) {
  submit("s", msg("a"));
  LaneMessage b = msg("b");
  b.debounce_ms = 0;  // messages.queue.debounceMsByChannel.<channel>: 0
  submit("s", b);
  EXPECT_EQ(end("s", "a").started, Ids{"b"}) << "no quiet window";
  LaneMessage c = msg("c");
  c.debounce_ms = 2000;
  submit("s", c);
  clock_.advance(1999);
  EXPECT_TRUE(end("s", "b").empty());
  clock_.advance(1);
  EXPECT_EQ(poll().started, Ids{"c"});
}

class CappedLanesTest : public LanesTest {
 protected:
  explicit CappedLanesTest(QueueDrop drop) : LanesTest(LaneOptions{2, drop, 8}) {}
};

struct DropNew : CappedLanesTest {
  DropNew() : CappedLanesTest(QueueDrop::newest) {}
};
struct DropOld : CappedLanesTest {
  DropOld() : CappedLanesTest(QueueDrop::old) {}
};
struct DropSummarize : CappedLanesTest {
  DropSummarize() : CappedLanesTest(QueueDrop::summarize) {}
};

TEST_F(DropNew, AFullSessionRefusesTheNewestMessage) {
  submit("s", msg("a"));
  submit("s", msg("b"));
  submit("s", msg("c"));
  const auto r = lanes_.submit("s", msg("d"), clock_.steady_ms());
  EXPECT_NE(r.refused.find("cap 2"), std::string::npos) << r.refused;
  EXPECT_EQ(lanes_.waiting_runs("s"), (Ids{"b", "c"}));
}

TEST_F(DropOld, AFullSessionDropsItsOldestMessage) {
  submit("s", msg("a"));
  submit("s", msg("b"));
  submit("s", msg("c"));
  const LaneActions a = submit("s", msg("d"));
  EXPECT_EQ(dropped(a), Ids{"b"});
  EXPECT_FALSE(a.dropped[0].aborted);
  EXPECT_NE(a.dropped[0].reason.find("cap 2"), std::string::npos) << a.dropped[0].reason;
  EXPECT_EQ(lanes_.waiting_runs("s"), (Ids{"c", "d"}));
}

// summarize (the default): the oldest messages become one summary turn before the rest; the
// summary keeps the newest `cap` lines, each cut between characters.
TEST_F(DropSummarize, OverflowBecomesOneSummaryTurnFirst) {
  std::string long_zh;
  for (int i = 0; i < 200; ++i) long_zh += "汉";
  submit("s", msg("a"));
  submit("s", msg("b", QueueMode::followup, "first   message\nwith  spaces"));
  submit("s", msg("c", QueueMode::followup, long_zh));
  submit("s", msg("d", QueueMode::followup, "مرحبا 👋🏽"));
  EXPECT_TRUE(submit("s", msg("e")).dropped.empty()) << "b and c summarised, kept for later";
  const LaneActions f = submit("s", msg("f"));
  EXPECT_EQ(dropped(f), Ids{"b"}) << "the summary keeps 2 lines: b's is gone, and b with it";
  EXPECT_EQ(lanes_.waiting_runs("s"), (Ids{"c", "d", "e", "f"}));
  clock_.advance(500);
  const LaneActions a = end("s", "a");
  ASSERT_EQ(a.adopted.size(), 1u);
  const LaneTurn& t = a.adopted[0];
  EXPECT_EQ(t.run_id, "d");
  EXPECT_EQ(t.merged, Ids{"c"});
  const std::string cut = SessionLanes::summary_line(long_zh);
  EXPECT_EQ(utf8::code_points(cut), 160u);
  EXPECT_EQ(cut.substr(cut.size() - 3), "…");
  EXPECT_TRUE(t.combined);
  EXPECT_EQ(t.text, "[Queue overflow] Dropped 3 messages due to cap.\nSummary:\n- " + cut +
                        "\n- مرحبا 👋🏽");
  EXPECT_EQ(SessionLanes::summary_line(" first   message\nwith  spaces "),
            "first message with spaces");
  // Then the messages that fitted, one turn each.
  EXPECT_EQ(adopted(end("s", "d")), Ids{"e"});
  EXPECT_EQ(adopted(end("s", "e")), Ids{"f"});
}

// agents.defaults.maxConcurrent: runs across sessions hold a slot; the others wait, the oldest
// turn first, and each still owns its session meanwhile.
TEST(LanesMaxConcurrent, CapsRunsAcrossSessionsAndHandsSlotsOverInOrder) {
  FakeClock clock;
  SessionLanes lanes(LaneOptions{20, QueueDrop::summarize, 2});
  auto go = [&](const std::string& s, const std::string& id) {
    return lanes.submit(s, msg(id), clock.steady_ms()).actions;
  };
  EXPECT_EQ(go("s1", "a").started, Ids{"a"});
  EXPECT_EQ(go("s2", "b").started, Ids{"b"});
  LaneActions c = go("s3", "c");
  EXPECT_EQ(adopted(c), Ids{"c"}) << "its turn (and its transcript line) is taken now";
  EXPECT_TRUE(c.started.empty()) << "but no slot";
  clock.advance(10);
  EXPECT_TRUE(go("s4", "d").started.empty());
  EXPECT_TRUE(lanes.busy("s3"));
  EXPECT_EQ(lanes.running(), 2u);
  EXPECT_EQ(lanes.ended("s2", "b", clock.steady_ms()).started, Ids{"c"}) << "the older one";
  EXPECT_EQ(lanes.ended("s1", "a", clock.steady_ms()).started, Ids{"d"});
  EXPECT_TRUE(lanes.ended("s3", "c", clock.steady_ms()).empty());
  EXPECT_TRUE(lanes.ended("s4", "d", clock.steady_ms()).empty());
  EXPECT_EQ(lanes.running(), 0u);
}

TEST(LanesMaxConcurrent, CronAndHeartbeatHaveTheirOwnBudgetAndWaitForTheirSession) {
  FakeClock clock;
  SessionLanes lanes(LaneOptions{1, QueueDrop::newest, 1});
  EXPECT_EQ(lanes.submit("main", msg("a"), clock.steady_ms()).actions.started, Ids{"a"});
  EXPECT_EQ(lanes.submit("cron:1", background("cron-1"), clock.steady_ms()).actions.started,
            Ids{"cron-1"})
      << "the foreground slot is taken, the background budget is not";
  EXPECT_EQ(lanes.background_running(), 1u);
  // The heartbeat waits for main's run, outside the cap (cap 1 with drop "new").
  EXPECT_EQ(lanes.submit("main", msg("b"), clock.steady_ms()).refused, "");
  EXPECT_EQ(lanes.submit("main", background("hb"), clock.steady_ms()).refused, "");
  clock.advance(500);
  EXPECT_EQ(lanes.ended("main", "a", clock.steady_ms()).started, Ids{"b"});
  const LaneActions h = lanes.ended("main", "b", clock.steady_ms());
  ASSERT_EQ(h.adopted.size(), 1u);
  EXPECT_TRUE(h.adopted[0].background);
  EXPECT_EQ(h.started, Ids{"hb"});
  EXPECT_EQ(lanes.background_running(), 2u);
}

TEST_F(LanesTest, AWaitingRunThatEndsIsForgottenAndSessionWideAbortsSeeItFirst) {
  submit("s", msg("a"));
  submit("s", msg("b"));
  submit("s", msg("c"));
  EXPECT_EQ(lanes_.waiting_runs("s"), (Ids{"b", "c"}));
  EXPECT_TRUE(end("s", "b").empty()) << "a still owns the session";
  EXPECT_EQ(lanes_.waiting_runs("s"), Ids{"c"});
  EXPECT_EQ(lanes_.queued(), 1u);
  clock_.advance(500);
  EXPECT_EQ(end("s", "a").started, Ids{"c"});
  EXPECT_TRUE(end("s", "nobody").empty());
  EXPECT_TRUE(lanes_.ended("unknown-session", "x", clock_.steady_ms()).empty());
}

// However many sessions, waiting messages stay within the process-wide bounds.
TEST(LanesBounds, WaitingMessagesAcrossSessionsAreBounded) {
  FakeClock clock;
  SessionLanes lanes(LaneOptions{QueueSettings::kMaxCap, QueueDrop::newest, 8});
  size_t taken = 0;
  std::string refused;
  for (int s = 0; s < 6 && refused.empty(); ++s) {
    const std::string session = "s" + std::to_string(s);
    lanes.submit(session, msg(session + "-active"), clock.steady_ms());
    for (int i = 0; i < QueueSettings::kMaxCap && refused.empty(); ++i) {
      auto r = lanes.submit(session, msg(session + "-" + std::to_string(i)), clock.steady_ms());
      refused = r.refused;
      taken += r.refused.empty() ? 1 : 0;
    }
  }
  EXPECT_EQ(taken, SessionLanes::kMaxQueuedTotal);
  EXPECT_NE(refused.find("across sessions"), std::string::npos) << refused;
  EXPECT_EQ(lanes.queued(), SessionLanes::kMaxQueuedTotal);

  SessionLanes big(LaneOptions{QueueSettings::kMaxCap, QueueDrop::newest, 8});
  big.submit("s", msg("active"), clock.steady_ms());
  const std::string mib(1u << 20, 'x');
  size_t n = 0;
  while (big.submit("s", msg("m" + std::to_string(n), QueueMode::followup, mib), clock.steady_ms())
             .refused.empty())
    ++n;
  EXPECT_LT(n, 64u);
  EXPECT_LE(big.queued_bytes(), SessionLanes::kMaxQueuedBytes);
}

TEST(LanesBounds, ACollectedTurnStopsTakingMessagesPastItsTextBound) {
  FakeClock clock;
  SessionLanes lanes(LaneOptions{});
  lanes.submit("s", msg("a"), clock.steady_ms());
  const std::string big(600 * 1024, 'x');
  for (const char* id : {"b", "c", "d"})
    lanes.submit("s", msg(id, QueueMode::collect, big), clock.steady_ms());
  clock.advance(500);
  LaneActions a = lanes.ended("s", "a", clock.steady_ms());
  ASSERT_EQ(a.adopted.size(), 1u);
  EXPECT_EQ(a.adopted[0].run_id, "b") << "b and c together pass 1 MiB: b goes alone";
  a = lanes.ended("s", "b", clock.steady_ms());
  ASSERT_EQ(a.adopted.size(), 1u);
  EXPECT_EQ(a.adopted[0].run_id, "c");
}

}  // namespace
}  // namespace clawgate::core
