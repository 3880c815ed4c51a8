// Unit tests: SseParser (text/event-stream) fed in arbitrary pieces: every split point and one
// byte at a time give the same events; CRLF, LF and lone CR; comments; multi-line data; event
// names; events without data; fields without a space; the oversize-event limit.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sse.hpp"

namespace clawgate::workers {
namespace {

using Events = std::vector<std::pair<std::string, std::string>>;

struct Collector {
  Events events;
  SseParser parser;
  explicit Collector(size_t max = 1 << 20)
      : parser([this](const std::string& e, const std::string& d) { events.emplace_back(e, d); },
               max) {}
};

Events parse_whole(std::string_view s, size_t max = 1 << 20) {
  Collector c(max);
  c.parser.feed(s);
  return c.events;
}

Events parse_bytewise(std::string_view s, size_t max = 1 << 20) {
  Collector c(max);
  for (char ch : s) c.parser.feed(std::string_view(&ch, 1));
  return c.events;
}

// A stream with every feature: comments, CRLF, LF, lone CR, names, multi-line data, an event
// with no data, no space after the colon, unknown fields, and a trailing undispatched event.
const std::string kStream =
    ": keep-alive\r\n"
    "event: delta\r\n"
    "data: {\"a\":1}\r\n"
    "\r\n"
    "data: line1\n"
    "data: line2\n"
    "\n"
    "event: ping\n"
    "\n"
    "data:nospace\r"
    "\r"
    ":\n"
    "id: 7\n"
    "retry: 1000\n"
    "foo: bar\n"
    "data:  two spaces\r\n"
    "\r\n"
    "event: message_stop\r"
    "data: {}\r"
    "\r"
    "data: never dispatched";

const Events kExpected = {
    {"delta", "{\"a\":1}"},     {"message", "line1\nline2"}, {"message", "nospace"},
    {"message", " two spaces"}, {"message_stop", "{}"},
};

TEST(SseParser, WholeStreamInOneFeed) {
  Collector c;
  c.parser.feed(kStream);
  EXPECT_EQ(c.events, kExpected);
  EXPECT_EQ(c.parser.comments(), 2u);
  EXPECT_FALSE(c.parser.error());
}

TEST(SseParser, OneByteAtATimeGivesTheSameEvents) {
  Collector c;
  for (char ch : kStream) c.parser.feed(std::string_view(&ch, 1));
  EXPECT_EQ(c.events, kExpected);
  EXPECT_EQ(c.parser.comments(), 2u);
  EXPECT_FALSE(c.parser.error());
}

TEST(SseParser, EverySplitPointGivesTheSameEvents) {
  for (size_t i = 0; i <= kStream.size(); ++i) {
    Collector c;
    c.parser.feed(std::string_view(kStream).substr(0, i));
    c.parser.feed(std::string_view(kStream).substr(i));
    EXPECT_EQ(c.events, kExpected) << "split at " << i;
    EXPECT_EQ(c.parser.comments(), 2u) << "split at " << i;
  }
}

TEST(SseParser, EveryPairOfSplitPointsGivesTheSameEvents) {
  const std::string_view s(kStream);
  for (size_t i = 0; i <= s.size(); ++i) {
    for (size_t j = i; j <= s.size(); ++j) {
      Collector c;
      c.parser.feed(s.substr(0, i));
      c.parser.feed(s.substr(i, j - i));
      c.parser.feed(s.substr(j));
      ASSERT_EQ(c.events, kExpected) << "split at " << i << " and " << j;
    }
  }
}

TEST(SseParser, EmptyFeedsAreHarmless) {
  Collector c;
  c.parser.feed("");
  c.parser.feed("data: x\n");
  c.parser.feed("");
  c.parser.feed("\n");
  EXPECT_EQ(c.events, (Events{{"message", "x"}}));
}

TEST(SseParser, LineEndingsLfCrlfAndLoneCr) {
  const Events want = {{"message", "a\nb"}};
  EXPECT_EQ(parse_whole("data: a\ndata: b\n\n"), want);
  EXPECT_EQ(parse_whole("data: a\r\ndata: b\r\n\r\n"), want);
  EXPECT_EQ(parse_whole("data: a\rdata: b\r\r"), want);
  EXPECT_EQ(parse_whole("data: a\r\ndata: b\r\r\n"), want);  // CR then CRLF: two line ends
  EXPECT_EQ(parse_bytewise("data: a\rdata: b\r\r"), want);
  EXPECT_EQ(parse_bytewise("data: a\r\ndata: b\r\n\r\n"), want);
}

TEST(SseParser, CrlfSplitAcrossFeedsIsOneLineEnd) {
  // If the LF after a CR in the previous feed counted as a blank line, "a" would be
  // dispatched on its own.
  Collector c;
  c.parser.feed("data: a\r");
  c.parser.feed("\ndata: b\r");
  c.parser.feed("\n\r");
  c.parser.feed("\n");
  EXPECT_EQ(c.events, (Events{{"message", "a\nb"}}));
}

TEST(SseParser, CommentsAreCountedNotDispatched) {
  Collector c;
  c.parser.feed(": keep-alive\n\n:\n\n: another\r\n\r\n");
  EXPECT_TRUE(c.events.empty());
  EXPECT_EQ(c.parser.comments(), 3u);
  // A comment in the middle of an event does not end or alter it.
  c.parser.feed("data: a\n: hi\ndata: b\n\n");
  EXPECT_EQ(c.events, (Events{{"message", "a\nb"}}));
  EXPECT_EQ(c.parser.comments(), 4u);
}

TEST(SseParser, MultiLineDataJoinedWithNewline) {
  EXPECT_EQ(parse_whole("data: one\ndata: two\ndata: three\n\n"),
            (Events{{"message", "one\ntwo\nthree"}}));
  EXPECT_EQ(parse_whole("data: one\ndata:\ndata: three\n\n"),
            (Events{{"message", "one\n\nthree"}}));
}

TEST(SseParser, EventNamesApplyToOneEventOnly) {
  EXPECT_EQ(parse_whole("event: content_block_delta\ndata: x\n\ndata: y\n\n"),
            (Events{{"content_block_delta", "x"}, {"message", "y"}}));
  // The last event: line wins.
  EXPECT_EQ(parse_whole("event: a\nevent: b\ndata: x\n\n"), (Events{{"b", "x"}}));
  // Order of event: and data: does not matter.
  EXPECT_EQ(parse_whole("data: x\nevent: late\n\n"), (Events{{"late", "x"}}));
}

TEST(SseParser, EventWithoutDataIsNotDispatched) {
  EXPECT_TRUE(parse_whole("event: ping\n\n").empty());
  EXPECT_TRUE(parse_whole("id: 1\nretry: 5\n\n").empty());
  EXPECT_TRUE(parse_whole("\n\n\r\n\r\r").empty());
  // Its name does not leak into the next event.
  EXPECT_EQ(parse_whole("event: ping\n\ndata: x\n\n"), (Events{{"message", "x"}}));
}

TEST(SseParser, FieldWithoutSpaceAfterColon) {
  EXPECT_EQ(parse_whole("event:name\ndata:value\n\n"), (Events{{"name", "value"}}));
  // Only one leading space is stripped; colons in the value are kept.
  EXPECT_EQ(parse_whole("data:  x: y\n\n"), (Events{{"message", " x: y"}}));
}

TEST(SseParser, NoDispatchWithoutTheBlankLine) {
  EXPECT_TRUE(parse_whole("data: x\n").empty());
  EXPECT_TRUE(parse_whole("data: x").empty());
}

TEST(SseParser, EventJustUnderTheLimitIsDispatched) {
  const std::string s = "data: " + std::string(20, 'x') + "\n\n";  // 26-byte line
  EXPECT_EQ(parse_whole(s, 32), (Events{{"message", std::string(20, 'x')}}));
  EXPECT_EQ(parse_bytewise(s, 32), (Events{{"message", std::string(20, 'x')}}));
}

TEST(SseParser, OversizeLineSetsErrorAndStopsDispatch) {
  Collector c(32);
  c.parser.feed("data: ok\n\n");
  ASSERT_EQ(c.events.size(), 1u);
  c.parser.feed("data: " + std::string(40, 'x'));
  EXPECT_TRUE(c.parser.error());
  c.parser.feed("\n\ndata: after\n\n");
  EXPECT_TRUE(c.parser.error());
  EXPECT_EQ(c.events, (Events{{"message", "ok"}}));
}

TEST(SseParser, OversizeAcrossDataLinesSetsError) {
  const std::string line = "data: 0123456789\n";  // 10 data bytes per line
  std::string s;
  for (int i = 0; i < 10; ++i) s += line;
  s += "\ndata: after\n\n";
  for (bool bytewise : {false, true}) {
    Collector c(64);
    if (bytewise) {
      for (char ch : s) c.parser.feed(std::string_view(&ch, 1));
    } else {
      c.parser.feed(s);
    }
    EXPECT_TRUE(c.parser.error()) << "bytewise " << bytewise;
    EXPECT_TRUE(c.events.empty()) << "bytewise " << bytewise;
  }
}

TEST(SseParser, HandlerMayBeCalledManyTimesInOneFeed) {
  std::string s;
  for (int i = 0; i < 100; ++i) s += "data: " + std::to_string(i) + "\n\n";
  const Events whole = parse_whole(s);
  ASSERT_EQ(whole.size(), 100u);
  EXPECT_EQ(whole[42], (std::pair<std::string, std::string>{"message", "42"}));
  EXPECT_EQ(parse_bytewise(s), whole);
}

}  // namespace
}  // namespace clawgate::workers
