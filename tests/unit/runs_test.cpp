// Unit tests: RunManager methods with the largest integers the protocol allows (INT64_MAX):
// a wait longer than the timer can hold, an activity window longer than int64 milliseconds
// (seen reviewing the fuzz harness, reproduced through fuzz_front_frames). Run under the
// ASan/UBSan preset, an overflow fails the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/runs.hpp"

namespace clawgate::core {
namespace {

constexpr int64_t kMax = INT64_MAX;  // the largest integer the schema accepts

class RunsTest : public ::testing::Test {
 protected:
  RunsTest()
      : dir_("/tmp/clawgate-runs-test-" + std::to_string(::getpid())),
        log_(clock_, &ring_, LogLevel::error) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sessions_ = std::make_unique<SessionStore>(dir_);
    runs_ = std::make_unique<RunManager>(io_, clock_, log_, *sessions_, nullptr,
                                         [](const std::string&, const Json&, bool) {});
  }
  ~RunsTest() override {
    runs_.reset();
    sessions_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  LogRing ring_;
  Logger log_;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<RunManager> runs_;
};

// {"method":"agent.wait","params":{"runId":"x","timeoutMs":<huge>}} must not overflow the
// timer's duration (milliseconds to nanoseconds).
TEST_F(RunsTest, AgentWaitWithTheLargestTimeoutKeepsWaiting) {
  bool replied = false;
  ASSERT_TRUE(runs_->call("agent.wait", Json{{"runId", "x"}, {"timeoutMs", kMax}},
                          [&](HubReply) { replied = true; }));
  io_.poll();
  EXPECT_FALSE(replied);
}

// {"method":"sessions.list","params":{"activeMinutes":<huge>}}: activeMinutes * 60'000
// overflowed int64_t. Such a window holds every session.
TEST_F(RunsTest, SessionsListWithTheLargestActiveWindowListsEverySession) {
  sessions_->append(SessionStore::kMainKey,
                    Json{{"type", "message"}, {"role", "user"}, {"text", "hi"}, {"ts", 1}});
  Json payload;
  ASSERT_TRUE(runs_->call("sessions.list", Json{{"activeMinutes", kMax}},
                          [&](HubReply r) { payload = r.payload.value_or(Json()); }));
  ASSERT_TRUE(payload.contains("sessions")) << payload.dump();
  EXPECT_EQ(payload["sessions"].size(), 1u) << payload.dump();
}

}  // namespace
}  // namespace clawgate::core
