// Unit tests: supervisor restart policy (backoff with jitter, healthy-run reset, exit 78,
// operator-requested restarts, the intensity window) and exit descriptions. Pure, no processes.
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "clock.hpp"
#include "restart_policy.hpp"

namespace clawgate::supervisor {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The policy with every death backing off (no immediate first restart): the backoff arithmetic.
RestartPolicy backing_off() {
  RestartPolicy p;
  p.immediate_first_restart = false;
  return p;
}

// A child that ran for `run_ms` and crashed with exit code 1 at the clock's current time.
ChildExit crash(const FakeClock& clock, int64_t run_ms, int code = 1) {
  ChildExit e;
  e.exited_ms = clock.steady_ms();
  e.started_ms = e.exited_ms - run_ms;
  e.exit_code = code;
  return e;
}

TEST(RestartPolicy, FirstCrashBacksOffAroundInitialWithinJitterBounds) {
  const RestartPolicy p = backing_off();  // 250 ms initial, jitter 0.2
  FakeClock clock;
  {
    ChildHistory h;
    const RestartDecision d = decide_restart(p, h, crash(clock, 100), 0.0);
    EXPECT_TRUE(d.restart);
    EXPECT_EQ(d.state, ChildState::backoff);
    EXPECT_EQ(d.delay_ms, 200) << "random 0 is the low end: initial * (1 - jitter)";
    EXPECT_EQ(d.reason, "exited with code 1");
  }
  {
    ChildHistory h;
    EXPECT_EQ(decide_restart(p, h, crash(clock, 100), 0.5).delay_ms, 250);
  }
  {
    ChildHistory h;
    const int64_t high = decide_restart(p, h, crash(clock, 100), 0.999).delay_ms;
    EXPECT_GE(high, 299);
    EXPECT_LE(high, 300) << "random just under 1 is the high end: initial * (1 + jitter)";
  }
}

TEST(RestartPolicy, BackoffDoublesPerConsecutiveFailureUpToMax) {
  RestartPolicy p = backing_off();
  p.intensity_deaths = 1000;  // this test is about backoff alone
  FakeClock clock;
  ChildHistory h;
  int64_t expected = p.initial_backoff_ms;
  for (int i = 1; i <= 14; ++i) {
    clock.advance(1000);
    const RestartDecision d = decide_restart(p, h, crash(clock, 500), 0.5);
    EXPECT_TRUE(d.restart) << "failure " << i;
    EXPECT_EQ(d.state, ChildState::backoff) << "failure " << i;
    EXPECT_EQ(d.delay_ms, std::min(expected, p.max_backoff_ms)) << "failure " << i;
    expected *= 2;
  }
  // At the cap the jitter still spreads the delay, in both directions.
  ChildHistory lo = h, hi = h;
  clock.advance(1000);
  EXPECT_EQ(decide_restart(p, lo, crash(clock, 500), 0.0).delay_ms, 48'000);
  EXPECT_NEAR(decide_restart(p, hi, crash(clock, 500), 0.999).delay_ms, 72'000, 30);
}

TEST(RestartPolicy, HealthyRunResetsTheBackoff) {
  RestartPolicy p = backing_off();
  p.intensity_deaths = 1000;
  FakeClock clock;
  ChildHistory h;
  for (int i = 0; i < 4; ++i) {
    clock.advance(2000);
    decide_restart(p, h, crash(clock, 1000), 0.5);
  }
  clock.advance(2000);
  EXPECT_EQ(decide_restart(p, h, crash(clock, 1000), 0.5).delay_ms, 4000) << "5th failure: 250*16";

  // Ran just short of healthy: still counts as consecutive.
  clock.advance(p.healthy_after_ms);
  EXPECT_EQ(decide_restart(p, h, crash(clock, p.healthy_after_ms - 1), 0.5).delay_ms, 8000);

  // Ran long enough to count as healthy: the next crash starts over at the initial backoff.
  clock.advance(p.healthy_after_ms + 10);
  const RestartDecision d = decide_restart(p, h, crash(clock, p.healthy_after_ms), 0.5);
  EXPECT_EQ(d.delay_ms, p.initial_backoff_ms);
  EXPECT_EQ(d.state, ChildState::backoff);
  clock.advance(1000);
  EXPECT_EQ(decide_restart(p, h, crash(clock, 100), 0.5).delay_ms, 2 * p.initial_backoff_ms);
}

TEST(RestartPolicy, ByDefaultAOneOffCrashRestartsAtOnceAndRepeatsBackOff) {
  const RestartPolicy p;
  ASSERT_TRUE(p.immediate_first_restart);
  FakeClock clock;
  ChildHistory h;
  RestartDecision d = decide_restart(p, h, crash(clock, 100), 0.999);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay_ms, 0) << "the first death restarts at once, whatever the jitter";
  clock.advance(100);
  EXPECT_EQ(decide_restart(p, h, crash(clock, 100), 0.5).delay_ms, p.initial_backoff_ms);
  clock.advance(100);
  EXPECT_EQ(decide_restart(p, h, crash(clock, 100), 0.0).delay_ms, 400) << "500 * (1 - 0.2)";

  // After a healthy run a crash is a one-off again.
  clock.advance(10 * 60 * 1000);
  d = decide_restart(p, h, crash(clock, p.healthy_after_ms), 0.5);
  EXPECT_EQ(d.delay_ms, 0);
  EXPECT_NE(d.state, ChildState::failed);
  clock.advance(100);
  EXPECT_EQ(decide_restart(p, h, crash(clock, 100), 0.5).delay_ms, p.initial_backoff_ms);

  // An immediate restart is still a death: five quick ones are `failed`, at the slowest rate.
  ChildHistory quick;
  for (int i = 0; i < 5; ++i) {
    clock.advance(100);
    d = decide_restart(p, quick, crash(clock, 50), 0.5);
  }
  EXPECT_EQ(d.state, ChildState::failed);
  EXPECT_EQ(d.delay_ms, p.max_backoff_ms);
}

TEST(RestartPolicy, ConfigErrorExitIsNotRestarted) {
  const RestartPolicy p;
  FakeClock clock;
  ChildHistory h;
  const RestartDecision d = decide_restart(p, h, crash(clock, 50, 78), 0.5);
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(d.state, ChildState::stopped);
  EXPECT_TRUE(contains(d.reason, "exited with code 78")) << d.reason;
  EXPECT_TRUE(contains(d.reason, "configuration")) << d.reason;

  // A signal numbered 78 is not "exit 78": it is a crash and is retried.
  ChildExit sig = crash(clock, 50);
  sig.signaled = true;
  sig.signal = 78;
  sig.exit_code = 78;
  EXPECT_TRUE(decide_restart(p, h, sig, 0.5).restart);
}

TEST(RestartPolicy, RequestedExitRestartsImmediatelyWithoutCountingAsFailure) {
  const RestartPolicy p = backing_off();  // 5 deaths in 60 s is `failed`
  FakeClock clock;
  ChildHistory h;
  for (int i = 0; i < 2; ++i) {
    clock.advance(100);
    decide_restart(p, h, crash(clock, 50), 0.5);
  }
  // Many operator restarts within the window: no delay, no `failed`.
  for (int i = 0; i < 10; ++i) {
    clock.advance(100);
    ChildExit e = crash(clock, 50, 0);
    e.requested = true;
    const RestartDecision d = decide_restart(p, h, e, 0.0);
    EXPECT_TRUE(d.restart);
    EXPECT_EQ(d.delay_ms, 0);
    EXPECT_EQ(d.state, ChildState::starting);
  }
  // Also when the child was killed by the stop signal we sent.
  clock.advance(100);
  ChildExit killed = crash(clock, 50);
  killed.signaled = true;
  killed.signal = SIGTERM;
  killed.requested = true;
  EXPECT_EQ(decide_restart(p, h, killed, 0.5).delay_ms, 0);

  // The next real crash is only the third failure: 250 * 4, state backoff (3 deaths, not 5).
  clock.advance(100);
  const RestartDecision d = decide_restart(p, h, crash(clock, 50), 0.5);
  EXPECT_EQ(d.state, ChildState::backoff);
  EXPECT_EQ(d.delay_ms, 1000);
}

TEST(RestartPolicy, IntensityWindowMarksFailedAndRetriesAtTheSlowestRate) {
  const RestartPolicy p;  // 5 deaths within 60 s
  FakeClock clock;
  ChildHistory h;
  for (int i = 1; i <= 4; ++i) {
    clock.advance(5000);
    const RestartDecision d = decide_restart(p, h, crash(clock, 1000), 0.5);
    EXPECT_EQ(d.state, ChildState::backoff) << "death " << i;
  }
  clock.advance(5000);
  RestartDecision d = decide_restart(p, h, crash(clock, 1000), 0.5);
  EXPECT_EQ(d.state, ChildState::failed);
  EXPECT_TRUE(d.restart) << "a failed child is still retried, at the slowest rate";
  EXPECT_EQ(d.delay_ms, p.max_backoff_ms);
  EXPECT_TRUE(contains(d.reason, "exited with code 1")) << d.reason;
  EXPECT_TRUE(contains(d.reason, "5 deaths within 60 s")) << d.reason;

  ChildHistory low = h;
  clock.advance(5000);
  EXPECT_EQ(decide_restart(p, low, crash(clock, 1000), 0.0).delay_ms, 48'000)
      << "jitter applies to the failed rate too";
}

TEST(RestartPolicy, DeathsOlderThanTheWindowAreForgotten) {
  const RestartPolicy p = backing_off();
  FakeClock clock;
  ChildHistory h;
  // Four quick deaths, then a pause just longer than the window: the fifth is not `failed`.
  for (int i = 0; i < 4; ++i) {
    clock.advance(1000);
    decide_restart(p, h, crash(clock, 100), 0.5);
  }
  clock.advance(p.intensity_window_ms - 2000);  // first death is now window+1 s old
  RestartDecision d = decide_restart(p, h, crash(clock, 100), 0.5);
  EXPECT_EQ(d.state, ChildState::backoff) << d.reason;
  EXPECT_LT(h.deaths.size(), 5u);

  // A failed child recovers once its deaths age out: after a long healthy run, the next crash
  // is an ordinary first failure again.
  ChildHistory f;
  for (int i = 0; i < 5; ++i) {
    clock.advance(1000);
    d = decide_restart(p, f, crash(clock, 100), 0.5);
  }
  ASSERT_EQ(d.state, ChildState::failed);
  clock.advance(10 * 60 * 1000);
  d = decide_restart(p, f, crash(clock, 9 * 60 * 1000), 0.5);
  EXPECT_EQ(d.state, ChildState::backoff);
  EXPECT_EQ(d.delay_ms, p.initial_backoff_ms);
}

TEST(RestartPolicy, DescribeExit) {
  ChildExit e;
  e.exit_code = 1;
  EXPECT_EQ(describe_exit(e), "exited with code 1");
  e.exit_code = 0;
  EXPECT_EQ(describe_exit(e), "exited with code 0");
  e.signaled = true;
  e.signal = SIGKILL;
  EXPECT_EQ(describe_exit(e), "killed by SIGKILL");
  e.signal = SIGSEGV;
  EXPECT_EQ(describe_exit(e), "killed by SIGSEGV");

  FakeClock clock;
  ChildHistory h;
  ChildExit k = crash(clock, 10);
  k.signaled = true;
  k.signal = SIGABRT;
  EXPECT_EQ(decide_restart(RestartPolicy{}, h, k, 0.5).reason, "killed by SIGABRT");
}

TEST(RestartPolicy, StateNames) {
  EXPECT_STREQ(to_string(ChildState::backoff), "backoff");
  EXPECT_STREQ(to_string(ChildState::failed), "failed");
  EXPECT_STREQ(to_string(ChildState::stopped), "stopped");
}

}  // namespace
}  // namespace clawgate::supervisor
