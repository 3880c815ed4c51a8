// Unit tests: the cron helpers behind cron.add and the heartbeat: parse_duration_ms,
// parse_iso_time_ms (zones, offsets, fractions, validation) and next_cron_ms (steps, lists,
// ranges, Sunday as 0 and 7, dom/dow "either" rule, strictly-after, bounded search). UTC only.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/cron.hpp"

namespace clawgate::core {
namespace {

// Epoch ms of a UTC civil time (Howard Hinnant's days_from_civil), independent of timegm.
int64_t utc_ms(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0, int ms = 0) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  return ((days * 24 + hh) * 60 + mm) * 60'000 + ss * 1000 + ms;
}

TEST(CronHelpers, UtcMsHelperMatchesKnownEpochValues) {
  EXPECT_EQ(utc_ms(1970, 1, 1), 0);
  EXPECT_EQ(utc_ms(2000, 1, 1), 946'684'800'000);
  EXPECT_EQ(utc_ms(2026, 11, 24, 20), 1'795'550'400'000);
}

// --- parse_duration_ms ---

TEST(ParseDuration, UnitsConvertToMilliseconds) {
  EXPECT_EQ(parse_duration_ms("30m"), 30 * 60'000);
  EXPECT_EQ(parse_duration_ms("1h"), 3'600'000);
  EXPECT_EQ(parse_duration_ms("45s"), 45'000);
  EXPECT_EQ(parse_duration_ms("500ms"), 500);
  EXPECT_EQ(parse_duration_ms("2d"), 2 * 86'400'000LL);
  EXPECT_EQ(parse_duration_ms("0m"), 0);  // "0m" turns the heartbeat off
  EXPECT_EQ(parse_duration_ms("0ms"), 0);
  EXPECT_EQ(parse_duration_ms("90m"), 90 * 60'000);
}

TEST(ParseDuration, MalformedIsNullopt) {
  for (const char* bad : {"", "m", "ms", "h5", "5x", "5mm", "5 m", " 5m", "5m ", "-5m", "+5m",
                          "1.5h", "5M", "5H", "1h30m", "abc", "5min"}) {
    EXPECT_FALSE(parse_duration_ms(bad).has_value()) << "input: \"" << bad << "\"";
  }
}

// BUG: wsfront/cron.cpp parse_duration_ms: std::stoll throws std::out_of_range for a digit run
// that does not fit int64 instead of returning nullopt (the header promises nullopt when
// malformed). A heartbeat "every" like this makes the CronService constructor throw.
TEST(ParseDuration, OverlongNumberIsNulloptNotException) {
  std::optional<int64_t> r;
  EXPECT_NO_THROW(r = parse_duration_ms("99999999999999999999m"));
  EXPECT_FALSE(r.has_value());
}

// --- parse_iso_time_ms ---

TEST(ParseIsoTime, UtcWithAndWithoutZ) {
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00Z"), 1'795'550'400'000);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00"), 1'795'550'400'000);  // no zone = UTC
  EXPECT_EQ(parse_iso_time_ms("2000-01-01T00:00:00Z"), 946'684'800'000);
  EXPECT_EQ(parse_iso_time_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso_time_ms("2024-02-29T12:00:00Z"), utc_ms(2024, 2, 29, 12));  // leap day
  EXPECT_EQ(parse_iso_time_ms("2026-12-31T23:59:59Z"), utc_ms(2026, 12, 31, 23, 59, 59));
}

TEST(ParseIsoTime, OffsetsAreSubtracted) {
  const int64_t want = utc_ms(2026, 11, 24, 20);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T22:00:00+02:00"), want);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T14:30:00-05:30"), want);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00+00:00"), want);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00-00:00"), want);
  // Crossing a day (and a year) boundary through the offset.
  EXPECT_EQ(parse_iso_time_ms("2027-01-01T01:00:00+02:00"), utc_ms(2026, 12, 31, 23));
  EXPECT_EQ(parse_iso_time_ms("2026-12-31T22:00:00-05:00"), utc_ms(2027, 1, 1, 3));
}

TEST(ParseIsoTime, FractionsGiveMilliseconds) {
  const int64_t base = utc_ms(2026, 11, 24, 20);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00.5Z"), base + 500);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00.05Z"), base + 50);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00.123Z"), base + 123);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00.123456Z"), base + 123);  // truncated
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00.999999999Z"), base + 999);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T20:00:00.5"), base + 500);
  EXPECT_EQ(parse_iso_time_ms("2026-11-24T22:00:00.250+02:00"), base + 250);
}

TEST(ParseIsoTime, InvalidFieldsAreNullopt) {
  for (const char* bad : {
           "2026-13-01T00:00:00Z",  // month 13
           "2026-00-01T00:00:00Z",  // month 0
           "2026-01-32T00:00:00Z",  // day 32
           "2026-01-00T00:00:00Z",  // day 0
           "2026-01-01T24:00:00Z",  // hour 24
           "2026-01-01T00:60:00Z",  // minute 60
           "2026-01-01T00:00:61Z",  // second 61
       }) {
    EXPECT_FALSE(parse_iso_time_ms(bad).has_value()) << "input: " << bad;
  }
}

TEST(ParseIsoTime, GarbageIsNullopt) {
  for (const char* bad :
       {"", "garbage", "now", "2026", "2026-11-24T20:00", "20261124T200000Z",
        "2026/11/24T20:00:00Z", "2026-11-24 20:00:00Z?", "2026-11-24T20:00:00ZZ",
        "2026-11-24T20:00:00Q", "2026-11-24T20:00:00+0200", "2026-11-24T20:00:00+02",
        "2026-11-24T20:00:00+02:00x", "x2026-11-24T20:00:00Z"}) {
    EXPECT_FALSE(parse_iso_time_ms(bad).has_value()) << "input: \"" << bad << "\"";
  }
}

// BUG: wsfront/cron.cpp parse_iso_time_ms: a non-numeric offset (right length, ':' in place)
// reaches std::stoi, which throws std::invalid_argument instead of the function returning
// nullopt. cron.add then answers UNAVAILABLE "internal error" instead of INVALID_REQUEST.
TEST(ParseIsoTime, NonNumericOffsetIsNulloptNotException) {
  std::optional<int64_t> r;
  EXPECT_NO_THROW(r = parse_iso_time_ms("2026-11-24T20:00:00+ab:cd"));
  EXPECT_FALSE(r.has_value());
}

// BUG: wsfront/cron.cpp parse_iso_time_ms: only upper bounds are checked for hour/minute/second,
// and %2d accepts a sign, so "T-1:00:00" is taken as 23:00 the previous day.
TEST(ParseIsoTime, NegativeTimeFieldsAreNullopt) {
  EXPECT_FALSE(parse_iso_time_ms("2026-11-24T-1:00:00Z").has_value());
  EXPECT_FALSE(parse_iso_time_ms("2026-11-24T20:-1:00Z").has_value());
}

// BUG: wsfront/cron.cpp parse_iso_time_ms: the day is only checked against 1..31, and timegm
// normalises the rest, so 2026-02-30 silently becomes 2026-03-02.
TEST(ParseIsoTime, DayPastTheEndOfTheMonthIsNullopt) {
  EXPECT_FALSE(parse_iso_time_ms("2026-02-30T00:00:00Z").has_value());
  EXPECT_FALSE(parse_iso_time_ms("2026-02-29T00:00:00Z").has_value());  // 2026 is not leap
  EXPECT_FALSE(parse_iso_time_ms("2026-04-31T00:00:00Z").has_value());
}

// --- next_cron_ms (UTC) ---

// Wednesday 2026-01-07 10:07:00 UTC.
const int64_t kWed1007 = utc_ms(2026, 1, 7, 10, 7);

TEST(NextCron, EveryFifteenMinutes) {
  EXPECT_EQ(next_cron_ms("*/15 * * * *", kWed1007, true), utc_ms(2026, 1, 7, 10, 15));
  // Leap days are years away, not "invalid"; an impossible date is nullopt, quickly.
  EXPECT_EQ(next_cron_ms("0 0 29 2 *", kWed1007, true), utc_ms(2028, 2, 29, 0, 0));
  EXPECT_EQ(next_cron_ms("0 0 30 2 *", kWed1007, true), std::nullopt);
  EXPECT_EQ(next_cron_ms("*/15 * * * *", kWed1007 + 30'500, true), utc_ms(2026, 1, 7, 10, 15));
  EXPECT_EQ(next_cron_ms("*/15 * * * *", utc_ms(2026, 1, 7, 10, 50), true),
            utc_ms(2026, 1, 7, 11, 0));
}

TEST(NextCron, StrictlyAfter) {
  const int64_t at = utc_ms(2026, 1, 7, 10, 15);
  EXPECT_EQ(next_cron_ms("*/15 * * * *", at, true), utc_ms(2026, 1, 7, 10, 30));
  EXPECT_EQ(next_cron_ms("*/15 * * * *", at - 1, true), at);
  EXPECT_EQ(next_cron_ms("*/15 * * * *", at + 1, true), utc_ms(2026, 1, 7, 10, 30));
  EXPECT_EQ(next_cron_ms("* * * * *", at, true), at + 60'000);
  EXPECT_EQ(next_cron_ms("* * * * *", at + 59'999, true), at + 60'000);
}

TEST(NextCron, MondaysAtNineFromAWednesday) {
  EXPECT_EQ(next_cron_ms("0 9 * * 1", kWed1007, true), utc_ms(2026, 1, 12, 9));
  // Exactly at the match: the following Monday.
  EXPECT_EQ(next_cron_ms("0 9 * * 1", utc_ms(2026, 1, 12, 9), true), utc_ms(2026, 1, 19, 9));
}

TEST(NextCron, FirstOfNextMonth) {
  EXPECT_EQ(next_cron_ms("30 2 1 * *", kWed1007, true), utc_ms(2026, 2, 1, 2, 30));
  EXPECT_EQ(next_cron_ms("30 2 1 * *", utc_ms(2026, 12, 15), true), utc_ms(2027, 1, 1, 2, 30));
  EXPECT_EQ(next_cron_ms("0 0 1 1 *", kWed1007, true), utc_ms(2027, 1, 1));
}

TEST(NextCron, ListsAndRanges) {
  const char* expr = "0 8-10,14 * * *";
  EXPECT_EQ(next_cron_ms(expr, kWed1007, true), utc_ms(2026, 1, 7, 14));
  EXPECT_EQ(next_cron_ms(expr, utc_ms(2026, 1, 7, 14), true), utc_ms(2026, 1, 8, 8));
  EXPECT_EQ(next_cron_ms(expr, utc_ms(2026, 1, 8, 8), true), utc_ms(2026, 1, 8, 9));
  EXPECT_EQ(next_cron_ms(expr, utc_ms(2026, 1, 8, 9, 30), true), utc_ms(2026, 1, 8, 10));
  EXPECT_EQ(next_cron_ms("5,10,55 * * * *", kWed1007, true), utc_ms(2026, 1, 7, 10, 10));
  EXPECT_EQ(next_cron_ms("10-20/5 * * * *", utc_ms(2026, 1, 7, 10, 11), true),
            utc_ms(2026, 1, 7, 10, 15));
  EXPECT_EQ(next_cron_ms("10-20/5 * * * *", utc_ms(2026, 1, 7, 10, 20), true),
            utc_ms(2026, 1, 7, 11, 10));
  EXPECT_EQ(next_cron_ms("0 0 * 3-5 *", kWed1007, true), utc_ms(2026, 3, 1));
}

TEST(NextCron, SundayIsZeroAndSeven) {
  const int64_t sun_noon = utc_ms(2026, 1, 11, 12);
  EXPECT_EQ(next_cron_ms("0 12 * * 0", kWed1007, true), sun_noon);
  EXPECT_EQ(next_cron_ms("0 12 * * 7", kWed1007, true), sun_noon);
  // Ranges reaching 7 include Sunday; from Saturday afternoon that is the next match.
  EXPECT_EQ(next_cron_ms("0 12 * * 5-7", utc_ms(2026, 1, 10, 13), true), sun_noon);
  EXPECT_EQ(next_cron_ms("0 12 * * 6,7", utc_ms(2026, 1, 10, 13), true), sun_noon);
  // Saturday (6) only: not Sunday.
  EXPECT_EQ(next_cron_ms("0 12 * * 6", utc_ms(2026, 1, 10, 13), true), utc_ms(2026, 1, 17, 12));
}

TEST(NextCron, DomAndDowBothRestrictedMeansEither) {
  // The 13th or any Friday: Fri 9th, Tue 13th, Fri 16th.
  const char* expr = "0 0 13 * 5";
  EXPECT_EQ(next_cron_ms(expr, kWed1007, true), utc_ms(2026, 1, 9));
  EXPECT_EQ(next_cron_ms(expr, utc_ms(2026, 1, 9), true), utc_ms(2026, 1, 13));
  EXPECT_EQ(next_cron_ms(expr, utc_ms(2026, 1, 13), true), utc_ms(2026, 1, 16));
  // Only one restricted: that one alone decides.
  EXPECT_EQ(next_cron_ms("0 0 13 * *", kWed1007, true), utc_ms(2026, 1, 13));
  EXPECT_EQ(next_cron_ms("0 0 * * 5", kWed1007, true), utc_ms(2026, 1, 9));
}

TEST(NextCron, LeapDayWithinAYear) {
  // 2027-03-01 -> 2028-02-29 is 365 days away: found.
  EXPECT_EQ(next_cron_ms("0 0 29 2 *", utc_ms(2027, 3, 1), true), utc_ms(2028, 2, 29));
}

TEST(NextCron, MalformedIsNullopt) {
  for (const char* bad : {"",           "* * *",        "* * * *",     "* * * * * *",
                          "61 * * * *", "60 * * * *",   "*/0 * * * *", "* 24 * * *",
                          "* * 0 * *",  "* * 32 * *",   "* * * 0 *",   "* * * 13 *",
                          "* * * * 8",  "5-1 * * * *",  "a * * * *",   "1,,2 * * * *",
                          "-5 * * * *", "*/-1 * * * *", "*/x * * * *", "99999999999 * * * *"}) {
    EXPECT_FALSE(next_cron_ms(bad, kWed1007, true).has_value()) << "expr: \"" << bad << "\"";
  }
}

TEST(NextCron, NeverMatchingIsNulloptWithinBoundedTime) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(next_cron_ms("0 0 30 2 *", kWed1007, true).has_value());
  EXPECT_FALSE(next_cron_ms("0 0 31 4 *", kWed1007, true).has_value());
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// BUG: wsfront/cron.cpp parse_field uses std::stoi, which ignores trailing characters, so a
// malformed field such as "5x" is accepted as 5 (the header promises nullopt when malformed).
TEST(NextCron, TrailingGarbageInAFieldIsNullopt) {
  EXPECT_FALSE(next_cron_ms("5x * * * *", kWed1007, true).has_value());
  EXPECT_FALSE(next_cron_ms("1-5-7 * * * *", kWed1007, true).has_value());
}

}  // namespace
}  // namespace clawgate::core

namespace clawgate::core {
namespace {

TEST(NextCron, HugeStepsAreRejectedOrHarmlessNeverACrash) {
  const int64_t t = 1795550000000;
  EXPECT_FALSE(next_cron_ms("1/2147483647 * * * *", t, true));   // more digits than allowed
  const auto ok = next_cron_ms("1/999999999 * * * *", t, true);  // only minute 1 matches
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok / 60000) % 60, 1);
}

}  // namespace
}  // namespace clawgate::core
