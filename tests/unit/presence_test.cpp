// Unit tests: presence table ownership, disconnect marking and its size bound.
#include <gtest/gtest.h>

#include "presence.hpp"

namespace clawgate::front {
namespace {

TEST(Presence, SelfFirstThenNewest) {
  PresenceTable p;
  p.set_self(Json{{"reason", "self"}, {"ts", 1}});
  p.upsert("a", Json{{"host", "a"}, {"ts", 2}}, 1);
  p.upsert("b", Json{{"host", "b"}, {"ts", 3}}, 2);
  const Json l = p.list();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0]["reason"], "self");
  EXPECT_EQ(l[1]["host"], "b");
}

TEST(Presence, DisconnectOnlyByTheOwningConnection) {
  PresenceTable p;
  p.upsert("dev", Json{{"host", "x"}, {"ts", 1}}, 1);
  p.upsert("dev", Json{{"host", "x"}, {"ts", 2}}, 2);  // the same device reconnected
  EXPECT_FALSE(p.disconnect("dev", 1, 10)) << "the old connection must not mark the new one gone";
  EXPECT_TRUE(p.disconnect("dev", 2, 10));
  EXPECT_EQ(p.list()[0]["reason"], "disconnect");
  EXPECT_EQ(p.list()[0]["ts"], 10);
}

TEST(Presence, BoundedAndLiveEntriesOutlastDisconnectedOnes) {
  PresenceTable p;
  p.upsert("live", Json{{"ts", 0}}, 99);
  for (size_t i = 0; i < PresenceTable::kMaxEntries + 20; ++i)
    p.upsert("gone" + std::to_string(i), Json{{"ts", 1}}, 0);
  EXPECT_EQ(p.size(), PresenceTable::kMaxEntries);
  bool live_kept = false;
  for (const auto& e : p.list()) live_kept |= e["ts"] == 0;
  EXPECT_TRUE(live_kept);
}

}  // namespace
}  // namespace clawgate::front
