// Unit tests: protocol negotiation, shared-secret auth, the failed-auth rate limiter, IP
// normalisation and scope rules (virtual time via FakeClock).
#include <gtest/gtest.h>

#include "auth.hpp"
#include "protocol_gen.hpp"

namespace clawgate::front {
namespace {

TEST(Negotiate, PicksHighestCommonVersion) {
  EXPECT_EQ(negotiate_protocol(3, 3), 3);
  EXPECT_EQ(negotiate_protocol(3, 4), 4);
  EXPECT_EQ(negotiate_protocol(4, 4), 4);
  EXPECT_EQ(negotiate_protocol(1, 9), 4);
  EXPECT_EQ(negotiate_protocol(2, 3), 3);
}

TEST(Negotiate, RejectsRangesWithoutOverlap) {
  EXPECT_FALSE(negotiate_protocol(5, 6));
  EXPECT_FALSE(negotiate_protocol(1, 2));
  EXPECT_FALSE(negotiate_protocol(4, 3));  // inverted range
}

TEST(NormalizeIp, MapsIpv4MappedIpv6ToIpv4) {
  EXPECT_EQ(normalize_ip("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(normalize_ip("[::FFFF:127.0.0.1]"), "127.0.0.1");
  EXPECT_EQ(normalize_ip("fe80::1%eth0"), "fe80::1");
  EXPECT_EQ(normalize_ip("::1"), "::1");
  EXPECT_TRUE(is_loopback_ip(normalize_ip("::ffff:127.0.0.5")));
  EXPECT_FALSE(is_loopback_ip("10.0.0.1"));
}

TEST(SharedSecret, TokenOutcomesCarryUpstreamCodes) {
  auto r = check_shared_secret(AuthMode::token, "secret", "", std::string("secret"), std::nullopt);
  EXPECT_TRUE(r.ok);
  r = check_shared_secret(AuthMode::token, "secret", "", std::string("nope"), std::nullopt);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, "AUTH_TOKEN_MISMATCH");
  EXPECT_EQ(r.reason, "token_mismatch");
  r = check_shared_secret(AuthMode::token, "secret", "", std::nullopt, std::nullopt);
  EXPECT_EQ(r.code, "AUTH_TOKEN_MISSING");
  r = check_shared_secret(AuthMode::token, "secret", "", std::string("secret-but-longer"),
                          std::nullopt);
  EXPECT_FALSE(r.ok) << "a token with the right prefix must not pass";
  r = check_shared_secret(AuthMode::token, "", "", std::string("x"), std::nullopt);
  EXPECT_EQ(r.code, "AUTH_TOKEN_NOT_CONFIGURED");
}

TEST(SharedSecret, PasswordAndNone) {
  auto r = check_shared_secret(AuthMode::password, "", "pw", std::nullopt, std::string("pw"));
  EXPECT_TRUE(r.ok);
  r = check_shared_secret(AuthMode::password, "", "pw", std::string("pw"), std::nullopt);
  EXPECT_EQ(r.code, "AUTH_PASSWORD_MISSING") << "a token does not satisfy password mode";
  r = check_shared_secret(AuthMode::password, "", "pw", std::nullopt, std::string("PW"));
  EXPECT_EQ(r.code, "AUTH_PASSWORD_MISMATCH");
  EXPECT_TRUE(check_shared_secret(AuthMode::none, "", "", std::nullopt, std::nullopt).ok);
}

TEST(RateLimiter, LocksOutAfterMaxAttemptsAndReleasesAfterLockout) {
  FakeClock clock;
  AuthRateLimiter rl(clock, RateLimitSettings{3, 60'000, 300'000, true});
  const std::string ip = "10.0.0.7";
  rl.record_failure(ip);
  rl.record_failure(ip);
  EXPECT_EQ(rl.retry_after_ms(ip), 0);
  rl.record_failure(ip);
  EXPECT_EQ(rl.retry_after_ms(ip), 300'000);
  clock.advance(299'999);
  EXPECT_EQ(rl.retry_after_ms(ip), 1);
  clock.advance(1);
  EXPECT_EQ(rl.retry_after_ms(ip), 0);
  EXPECT_EQ(rl.retry_after_ms("10.0.0.8"), 0) << "other addresses are not affected";
}

TEST(RateLimiter, FailuresOutsideTheWindowDoNotCount) {
  FakeClock clock;
  AuthRateLimiter rl(clock, RateLimitSettings{3, 60'000, 300'000, true});
  rl.record_failure("10.0.0.1");
  rl.record_failure("10.0.0.1");
  clock.advance(60'000);
  rl.record_failure("10.0.0.1");
  EXPECT_EQ(rl.retry_after_ms("10.0.0.1"), 0);
}

TEST(RateLimiter, LoopbackExemptionIsConfigurable) {
  FakeClock clock;
  AuthRateLimiter exempt(clock, RateLimitSettings{1, 60'000, 1000, true});
  exempt.record_failure("127.0.0.1", true);
  EXPECT_EQ(exempt.retry_after_ms("127.0.0.1", true), 0);
  AuthRateLimiter strict(clock, RateLimitSettings{1, 60'000, 1000, false});
  strict.record_failure("127.0.0.1", true);
  EXPECT_EQ(strict.retry_after_ms("127.0.0.1", true), 1000);
}

TEST(RateLimiter, BucketsThatAreNotExemptableAreLimitedEvenWithTheExemption) {
  FakeClock clock;
  AuthRateLimiter rl(clock, RateLimitSettings{2, 60'000, 1000, true});
  rl.record_failure("browser-origin:http://localhost:3000");
  rl.record_failure("browser-origin:http://localhost:3000");
  EXPECT_EQ(rl.retry_after_ms("browser-origin:http://localhost:3000"), 1000);
  EXPECT_EQ(rl.retry_after_ms("browser-origin:http://localhost:3001"), 0) << "per origin";
}

TEST(RateLimiter, MemoryIsBounded) {
  FakeClock clock;
  AuthRateLimiter rl(clock, RateLimitSettings{100, 60'000, 1000, false});
  for (size_t i = 0; i < AuthRateLimiter::kMaxTracked + 50; ++i) {
    rl.record_failure("10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) +
                      "." + std::to_string(i % 256));
    clock.advance(1);
  }
  EXPECT_LE(rl.tracked(), AuthRateLimiter::kMaxTracked);
}

TEST(Scopes, AdminCoversAllWriteCoversRead) {
  EXPECT_TRUE(scope_satisfies({"operator.admin"}, "operator.read"));
  EXPECT_TRUE(scope_satisfies({"operator.admin"}, "operator.pairing"));
  EXPECT_TRUE(scope_satisfies({"operator.write"}, "operator.read"));
  EXPECT_FALSE(scope_satisfies({"operator.read"}, "operator.write"));
  EXPECT_FALSE(scope_satisfies({"operator.write"}, "operator.admin"));
  EXPECT_FALSE(scope_satisfies({}, "operator.read"));
  EXPECT_TRUE(scope_satisfies({"operator.pairing"}, "operator.pairing"));
}

TEST(EventScopes, ChatNeedsReadNodesGetOnlyNodeEventsUnknownEventsReachNobody) {
  const std::vector<std::string> none, read = {"operator.read"}, write = {"operator.write"},
                                       admin = {"operator.admin"};
  EXPECT_FALSE(event_visible(true, "operator.read", false, "operator", none));
  EXPECT_TRUE(event_visible(true, "operator.read", false, "operator", read));
  EXPECT_TRUE(event_visible(true, "operator.read", false, "operator", write));
  EXPECT_TRUE(event_visible(true, "operator.read", false, "operator", admin));
  EXPECT_FALSE(event_visible(true, "operator.read", false, "node", admin)) << "a node";
  EXPECT_TRUE(event_visible(true, "operator.read", true, "node", none)) << "a node event";
  EXPECT_TRUE(event_visible(true, "", false, "operator", none)) << "tick, health, shutdown";
  EXPECT_TRUE(event_visible(true, "", false, "node", none));
  EXPECT_FALSE(event_visible(false, "", false, "operator", admin)) << "unknown: fail closed";
}

TEST(EventScopes, TheGeneratedTableGuardsConversationEvents) {
  for (const char* ev : {"agent", "chat", "cron"})
    EXPECT_EQ(schema::find_event(ev)->scope, "operator.read") << ev;
  for (const char* ev : {"tick", "health", "heartbeat", "presence", "shutdown"})
    EXPECT_EQ(schema::find_event(ev)->scope, "") << ev;
}

}  // namespace
}  // namespace clawgate::front
