// Unit tests: the bounded log ring behind logs.tail (cursor, limits, reset after overflow).
#include <gtest/gtest.h>

#include "log.hpp"

namespace clawgate {
namespace {

TEST(LogRing, TailReturnsNewestLinesWithinLimit) {
  LogRing r;
  for (int i = 0; i < 10; ++i) r.append("line" + std::to_string(i));
  auto t = r.tail(-1, 3, 1'000'000);
  ASSERT_EQ(t.lines.size(), 3u);
  EXPECT_EQ(t.lines.front(), "line7");
  EXPECT_EQ(t.lines.back(), "line9");
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.cursor, t.size);
}

TEST(LogRing, CursorContinuesWhereTheLastReadStopped) {
  LogRing r;
  r.append("a");
  r.append("b");
  auto t = r.tail(-1, 100, 1'000'000);
  ASSERT_EQ(t.lines.size(), 2u);
  r.append("c");
  auto t2 = r.tail(t.cursor, 100, 1'000'000);
  ASSERT_EQ(t2.lines.size(), 1u);
  EXPECT_EQ(t2.lines[0], "c");
  EXPECT_FALSE(t2.reset);
  auto t3 = r.tail(0, 1, 1'000'000);
  EXPECT_EQ(t3.lines[0], "a");
  EXPECT_TRUE(t3.truncated);
  EXPECT_EQ(r.tail(t3.cursor, 10, 1'000'000).lines[0], "b");
}

TEST(LogRing, MaxBytesBoundsTheReply) {
  LogRing r;
  for (int i = 0; i < 100; ++i) r.append(std::string(99, 'x'));  // 100 bytes with newline
  auto t = r.tail(-1, 5000, 1000);
  EXPECT_EQ(t.lines.size(), 10u);
}

TEST(LogRing, OverflowDropsOldestAndStaleCursorsReset) {
  LogRing r;
  for (size_t i = 0; i < LogRing::kMaxLines + 10; ++i) r.append("l" + std::to_string(i));
  auto t = r.tail(0, 1, 1'000'000);
  EXPECT_TRUE(t.reset);
  EXPECT_EQ(t.lines[0], "l10");
  auto future = r.tail(t.size + 100, 1, 1'000'000);
  EXPECT_TRUE(future.reset);
  EXPECT_TRUE(future.lines.empty());
}

TEST(LogValue, EscapesControlsAndInvalidUtf8) {
  EXPECT_EQ(log_value("https://ok.example"), "https://ok.example");
  EXPECT_EQ(log_value("a\nb\rc\x1b[31m"), "a\\x0ab\\x0dc\\x1b[31m");
  EXPECT_EQ(log_value("back\\slash"), "back\\\\slash");
  EXPECT_EQ(log_value("\x7f\xff"), "\\x7f\\xff");
  EXPECT_EQ(log_value("caf\xc3\xa9"), "caf\xc3\xa9") << "UTF-8 text stays readable";
  EXPECT_EQ(log_value("\xc2\x85"), "\\u{0085}") << "C1 next-line";
  EXPECT_EQ(log_value("x\xe2\x80\xaey"), "x\\u{202e}y") << "bidi override";
  EXPECT_EQ(log_value("\xc0\xaf"), "\\xc0\\xaf") << "overlong form";
}

TEST(LogValue, CutsOnACodePointBoundary) {
  std::string many;
  for (int i = 0; i < 100; ++i) many += "\xc3\xa9";  // 200 bytes of é
  const std::string v = log_value(many, 51);
  EXPECT_EQ(v.substr(0, 50), many.substr(0, 50));
  EXPECT_EQ(v.substr(50), "...(150 more bytes)");
  EXPECT_LE(log_value(std::string(100000, 'A')).size(), 230u);
}

}  // namespace
}  // namespace clawgate
