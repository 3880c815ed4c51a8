// Unit tests: frame builders, close-reason truncation, nesting/NUL guards, origin policy.
#include <gtest/gtest.h>

#include "wire.hpp"

namespace clawgate::front {
namespace {

TEST(Wire, FramesAreCompactJsonInUpstreamKeyOrder) {
  EXPECT_EQ(response_ok_frame("a\"b", "{\"x\":1}"),
            R"({"type":"res","id":"a\"b","ok":true,"payload":{"x":1}})");
  const std::string sv = R"({"presence":2,"health":3})";
  EXPECT_EQ(
      event_frame("presence", "{}", 7, &sv),
      R"({"type":"event","event":"presence","payload":{},"seq":7,"stateVersion":{"presence":2,"health":3}})");
  EXPECT_EQ(event_frame("connect.challenge", "{}", std::nullopt, nullptr),
            R"({"type":"event","event":"connect.challenge","payload":{}})");
}

TEST(Wire, CloseReasonIsCutOnACharacterBoundary) {
  const std::string ascii(200, 'a');
  EXPECT_EQ(truncate_close_reason(ascii).size(), 120u);
  std::string multi;
  for (int i = 0; i < 50; ++i) multi += "é";  // 2 bytes each
  const std::string cut = truncate_close_reason(std::string(119, 'a') + multi);
  EXPECT_LE(cut.size(), 120u);
  EXPECT_EQ(cut, std::string(119, 'a'));
}

TEST(Wire, DepthGuardIgnoresBracketsInStrings) {
  EXPECT_TRUE(json_depth_within(R"({"a":"[[[[[[[[[["})", 2));
  EXPECT_TRUE(json_depth_within(R"({"a":[1]})", 2));
  EXPECT_FALSE(json_depth_within(R"({"a":[[1]]})", 2));
  EXPECT_TRUE(json_depth_within(R"({"a":"\"[[[["})", 1));
}

TEST(Wire, NulAnywhereIsFound) {
  EXPECT_FALSE(contains_nul(Json{{"a", "b"}}));
  EXPECT_TRUE(contains_nul(Json{{"a", std::string("b\0c", 3)}}));
  EXPECT_TRUE(contains_nul(Json{{"a", Json::array({1, std::string("\0", 1)})}}));
  EXPECT_TRUE(contains_nul(Json{{std::string("k\0", 2), 1}}));
}

TEST(Wire, OnlyLocalOrConfiguredOriginsAreAllowed) {
  EXPECT_TRUE(origin_allowed("http://localhost:18789", {}));
  EXPECT_TRUE(origin_allowed("http://127.0.0.1", {}));
  EXPECT_TRUE(origin_allowed("https://[::1]:443", {}));
  EXPECT_TRUE(origin_allowed("http://app.localhost:3000", {}));
  EXPECT_FALSE(origin_allowed("https://evil.example", {}));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1.evil.example", {}));
  EXPECT_FALSE(origin_allowed("http://localhost.evil.example", {}));
  EXPECT_FALSE(origin_allowed("null", {}));
  EXPECT_TRUE(origin_allowed("https://ui.example", {"https://ui.example"}));
  EXPECT_FALSE(origin_allowed("https://ui.example.org", {"https://ui.example"}));
}

}  // namespace
}  // namespace clawgate::front
