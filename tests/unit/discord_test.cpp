// Unit tests: Discord worker pieces without a socket: chunk_text (UTF-16 limits and line limits
// in Chinese, Arabic and emoji, code fences kept balanced, UTF-8 safety), parse_target, the
// payload readers on hostile JSON (every field bounded, ids range-checked as snowflakes), REST
// rate limits, and the Gateway state machine (heartbeat, ACK, resume, invalid session,
// reconnect, close codes, backoff, identify budget) on a fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "discord_payload.hpp"
#include "discord_rest.hpp"
#include "discord_text.hpp"
#include "gateway_session.hpp"
#include "places.hpp"
#include "utf8.hpp"

namespace clawgate::workers::discord {
namespace {

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

size_t lines_of(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + 1;
}

void expect_chunks_within(const std::vector<std::string>& chunks, size_t units, size_t lines) {
  for (const auto& c : chunks) {
    EXPECT_TRUE(utf8::valid(c)) << "a chunk is not UTF-8";
    EXPECT_LE(utf8::utf16_length(c), units) << c.substr(0, 40);
    EXPECT_LE(lines_of(c), lines) << c.substr(0, 40);
    EXPECT_FALSE(c.empty());
  }
}

std::string joined(const std::vector<std::string>& chunks, const std::string& sep = "") {
  std::string out;
  for (size_t i = 0; i < chunks.size(); ++i) out += (i ? sep : "") + chunks[i];
  return out;
}

TEST(DiscordText, ShortTextIsOneMessageUnchanged) {
  EXPECT_EQ(chunk_text("hello", 2000, 17), std::vector<std::string>{"hello"});
  EXPECT_TRUE(chunk_text("  \n \n", 2000, 17).empty()) << "Discord refuses blank messages";
  EXPECT_TRUE(chunk_text("", 2000, 17).empty());
}

TEST(DiscordText, ChineseIsCutAtTheLimitAndNothingIsLost) {
  const std::string text = repeat("你好世界", 1250);  // 5000 code points, 5000 UTF-16 units
  const auto chunks = chunk_text(text, 2000, 17);
  ASSERT_EQ(chunks.size(), 3u);
  expect_chunks_within(chunks, 2000, 17);
  EXPECT_EQ(joined(chunks), text);
}

TEST(DiscordText, EmojiCountTwoUnitsAndAreNeverSplit) {
  const std::string text = repeat("😀", 1500);  // 3000 UTF-16 units
  const auto chunks = chunk_text(text, 2000, 17);
  ASSERT_EQ(chunks.size(), 2u);
  expect_chunks_within(chunks, 2000, 17);
  EXPECT_EQ(utf8::utf16_length(chunks[0]), 2000u);
  EXPECT_EQ(joined(chunks), text);
  // A limit of one unit still never cuts a surrogate pair's code point.
  const auto tiny = chunk_text("😀a😀", 1, 17);
  EXPECT_EQ(joined(tiny), "😀a😀");
  for (const auto& c : tiny) EXPECT_TRUE(utf8::valid(c));
}

TEST(DiscordText, ArabicBreaksAtSpacesWithinTheLimit) {
  const std::string word = "مرحبا";  // 5 units
  std::string text;
  for (int i = 0; i < 1000; ++i) text += (i ? " " : "") + word;
  const auto chunks = chunk_text(text, 100, 17);
  expect_chunks_within(chunks, 100, 17);
  for (const auto& c : chunks) {
    EXPECT_NE(c.front(), ' ');
    EXPECT_NE(c.back(), ' ') << "the break's space is dropped";
  }
  EXPECT_EQ(joined(chunks, " "), text);
}

TEST(DiscordText, TallMessagesSplitAtMaxLines) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += (i ? "\n" : "") + std::string("第") + std::to_string(i) + "行 😀";
  const auto chunks = chunk_text(text, 2000, 17);
  ASSERT_EQ(chunks.size(), 3u);
  expect_chunks_within(chunks, 2000, 17);
  EXPECT_EQ(lines_of(chunks[0]), 17u);
  EXPECT_EQ(joined(chunks, "\n"), text);
}

TEST(DiscordText, CodeFencesStayBalancedAcrossMessages) {
  std::string text = "Here:\n```python\n";
  for (int i = 0; i < 30; ++i) text += "print('行 " + std::to_string(i) + "')\n";
  text += "```\nDone.";
  const auto chunks = chunk_text(text, 2000, 17);
  ASSERT_GE(chunks.size(), 2u);
  expect_chunks_within(chunks, 2000, 17);
  for (const auto& c : chunks) {
    size_t fences = 0;
    for (size_t at = 0; (at = c.find("```", at)) != std::string::npos; at += 3) ++fences;
    EXPECT_EQ(fences % 2, 0u) << "unbalanced:\n" << c;
  }
  EXPECT_EQ(chunks[1].rfind("```python\n", 0), 0u) << "reopened with its language: " << chunks[1];
  // Small limits cut without balancing rather than looping.
  const auto cramped = chunk_text(text, 12, 2);
  expect_chunks_within(cramped, 12, 2);
}

TEST(DiscordText, InvalidUtf8IsRepaired) {
  const auto chunks = chunk_text(std::string("ok \xff\xfe end"), 2000, 17);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_TRUE(utf8::valid(chunks[0]));
}

TEST(DiscordText, Targets) {
  EXPECT_EQ(parse_target("channel:123")->id, "123");
  EXPECT_EQ(parse_target("channel:123")->kind, Target::channel);
  EXPECT_EQ(parse_target("123")->kind, Target::channel);
  EXPECT_EQ(parse_target("<#456>")->id, "456");
  EXPECT_EQ(parse_target("user:789")->kind, Target::user);
  EXPECT_EQ(parse_target("<@789>")->kind, Target::user);
  EXPECT_EQ(parse_target("<@!789>")->id, "789");
  EXPECT_EQ(parse_target(" USER:7 ")->id, "7");
  for (const char* bad : {"", "channel:", "user:abc", "@bob", "channel:0", "-5", "<@>",
                          "99999999999999999999", "channel:12 3", "<@!>"})
    EXPECT_FALSE(parse_target(bad)) << bad;
}

TEST(DiscordPayload, SnowflakesAreRangeChecked) {
  EXPECT_TRUE(is_snowflake("1"));
  EXPECT_TRUE(is_snowflake("9223372036854775807"));
  for (const char* bad : {"", "0", "00", "9223372036854775808", "18446744073709551616",
                          "123456789012345678901", "-1", "1e5", " 1", "１２"})
    EXPECT_FALSE(is_snowflake(bad)) << bad;
  EXPECT_EQ(snowflake_ms("175928847299117063"), 1462015105796);  // Discord's docs example
  EXPECT_EQ(snowflake_ms("x"), 0);
}

TEST(DiscordPayload, FramesAreReadOnlyWithTheirTypes) {
  auto f = parse_frame(R"({"op":0,"s":5,"t":"MESSAGE_CREATE","d":{"id":"1"}})");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, 0);
  EXPECT_EQ(f->s, 5);
  EXPECT_EQ(f->t, "MESSAGE_CREATE");
  for (const char* bad : {"", "[]", "null", "{\"op\":\"1\"}", "{\"op\":1.5}", "{\"op\":-1}",
                          "{\"op\":99999999999999999999}", "{\"d\":{}}", "{op:1}"})
    EXPECT_FALSE(parse_frame(bad)) << bad;
  EXPECT_FALSE(parse_frame(R"({"op":0,"s":-4})")->s) << "a negative sequence is no sequence";
  const std::string deep = repeat("[", 100000) + repeat("]", 100000);
  (void)parse_frame(R"({"op":0,"d":)" + deep + "}");  // no crash, no unbounded recursion
  EXPECT_EQ(hello_interval(Json{{"heartbeat_interval", 41250}}), 41250);
  for (const Json& bad : {Json{{"heartbeat_interval", 0}}, Json{{"heartbeat_interval", 1e12}},
                          Json{{"heartbeat_interval", "41250"}}, Json::array()})
    EXPECT_FALSE(hello_interval(bad)) << bad.dump();
}

TEST(DiscordPayload, ReadyNeedsASessionAndTheBotUser) {
  Json d = {{"session_id", "abc"},
            {"resume_gateway_url", "wss://resume.example"},
            {"user", {{"id", "42"}, {"username", "bot"}}},
            {"application", {{"id", "43"}}}};
  auto r = read_ready(d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user_id, "42");
  EXPECT_EQ(r->resume_url, "wss://resume.example");
  EXPECT_EQ(r->application_id, "43");
  d["resume_gateway_url"] = "https://not-a-ws";
  EXPECT_EQ(read_ready(d)->resume_url, "") << "only ws:// and wss:// URLs";
  d["session_id"] = "has space";
  EXPECT_FALSE(read_ready(d));
  d["session_id"] = repeat("a", 300);
  EXPECT_FALSE(read_ready(d));
  d["session_id"] = "ok";
  d["user"]["id"] = 42;  // ids are strings
  EXPECT_FALSE(read_ready(d));
}

Me me() {
  Me m;
  m.user_id = "900";
  m.role_by_guild["10"] = "77";
  return m;
}

Json message(const std::string& content, bool guild = true) {
  Json d = {{"id", "1000000000000000001"},
            {"channel_id", "20"},
            {"content", content},
            {"author", {{"id", "30"}, {"username", "ann"}, {"global_name", "Ann"}}}};
  if (guild) {
    d["guild_id"] = "10";
    d["member"] = {{"roles", {"5", "6"}}};
  }
  return d;
}

TEST(DiscordPayload, MessagesCarryTheFactsTheFrontNeeds) {
  auto m = read_message(message("hi"), me());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->guild_id, "10");
  EXPECT_EQ(m->author_name, "Ann");
  EXPECT_EQ(m->roles, (std::vector<std::string>{"5", "6"}));
  EXPECT_FALSE(m->mentioned);
  EXPECT_EQ(m->ts_ms, snowflake_ms("1000000000000000001"));
  EXPECT_TRUE(read_message(message("<@900> hi"), me())->mentioned);
  EXPECT_TRUE(read_message(message("<@!900> hi"), me())->mentioned);
  EXPECT_TRUE(read_message(message("<@&77> hi"), me())->mentioned) << "the bot's role";
  EXPECT_FALSE(read_message(message("<@&78> <@9001>"), me())->mentioned);
  Json d = message("x");
  d["mentions"] = Json::array({{{"id", "900"}}});
  EXPECT_TRUE(read_message(d, me())->mentioned);
  d = message("x");
  d["mention_roles"] = Json::array({"77"});
  EXPECT_TRUE(read_message(d, me())->mentioned);
  d = message("x");
  d["referenced_message"] = {{"author", {{"id", "900"}}}};
  EXPECT_TRUE(read_message(d, me())->reply_to_bot);
  d = message("x");
  d["author"]["id"] = "900";
  EXPECT_TRUE(read_message(d, me())->own);
  d = message("x", false);
  d["author"]["bot"] = true;
  EXPECT_TRUE(read_message(d, me())->author_bot);
  EXPECT_EQ(read_message(d, me())->guild_id, "");
}

TEST(DiscordPayload, HostileMessagesAreBoundedOrRefused) {
  for (const char* key : {"id", "channel_id"}) {
    Json d = message("x");
    d[key] = 1000;  // a number, not a snowflake string
    EXPECT_FALSE(read_message(d, me())) << key;
    d[key] = "0";
    EXPECT_FALSE(read_message(d, me())) << key;
    d[key] = "99999999999999999999";
    EXPECT_FALSE(read_message(d, me())) << key;
  }
  Json d = message("x");
  d["author"] = "nobody";
  EXPECT_FALSE(read_message(d, me()));
  d = message("x");
  d["content"] = Json::object();
  EXPECT_EQ(read_message(d, me())->text, "") << "content of another type reads as none";
  d = message(repeat("😀", 40000));  // 160000 bytes
  auto m = read_message(d, me());
  EXPECT_LE(m->text.size(), kMaxInboundTextBytes);
  EXPECT_TRUE(utf8::valid(m->text));
  EXPECT_EQ(m->original_bytes, 160000u);
  d = message("x");
  d["author"]["username"] = repeat("名", 5000);
  EXPECT_LE(utf8::code_points(read_message(d, me())->author_username), kMaxNameChars + 1);
  d = message("x");
  d["member"]["roles"] = Json::array();
  for (int i = 1; i <= 10000; ++i) d["member"]["roles"].push_back(std::to_string(i));
  d["member"]["roles"].push_back("not-a-role");
  EXPECT_EQ(read_message(d, me())->roles.size(), kMaxListItems);
  d = message("x");
  d["member"]["roles"] = {"1", 2, "x", "-3", "4"};
  EXPECT_EQ(read_message(d, me())->roles, (std::vector<std::string>{"1", "4"}));
  d = message("x");
  d["mentions"] = "everyone";
  d["referenced_message"] = 5;
  EXPECT_TRUE(read_message(d, me()));
  EXPECT_FALSE(read_message(Json::array(), me()));
  EXPECT_FALSE(read_message(Json(), me()));
}

TEST(DiscordPayload, GuildsThreadsAndGatewayBot) {
  const Json g = {{"id", "10"},
                  {"name", "Café ☕ Crew"},
                  {"roles", {{{"id", "77"}, {"tags", {{"bot_id", "900"}}}}, {{"id", "78"}}}},
                  {"channels",
                   {{{"id", "20"}, {"type", 0}, {"name", "综合"}, {"parent_id", "5"}},
                    {{"id", "21"}, {"type", 0}, {"name", 7}}}},
                  {"threads",
                   {{{"id", "50"}, {"type", 11}, {"parent_id", "20"}, {"name", "help"}},
                    {{"id", "51"}, {"type", 0}, {"parent_id", "20"}},
                    {{"id", "x"}, {"type", 11}, {"parent_id", "20"}}}}};
  auto facts = read_guild(g, "900");
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->name, "Café ☕ Crew");
  EXPECT_EQ(facts->bot_role_id, "77");
  ASSERT_EQ(facts->channels.size(), 4u) << "the bad id is skipped";
  EXPECT_EQ(facts->channels[0].name, "综合");
  EXPECT_EQ(facts->channels[0].guild_id, "10") << "GUILD_CREATE's channels omit it";
  EXPECT_EQ(facts->channels[0].parent_id, "") << "a channel's parent is its category, not kept";
  EXPECT_EQ(facts->channels[1].name, "") << "a name of the wrong type is none";
  EXPECT_TRUE(facts->channels[2].thread);
  EXPECT_EQ(facts->channels[2].parent_id, "20");
  EXPECT_FALSE(facts->channels[3].thread) << "type 0 is no thread";
  EXPECT_FALSE(read_guild(Json{{"id", 10}}, "900"));
  Json long_name = g;
  long_name["name"] = std::string(300, 'a');
  EXPECT_LE(utf8::code_points(read_guild(long_name, "900")->name), kMaxPlaceNameChars + 1);
  auto gb = read_gateway_bot(Json{
      {"url", "wss://gateway.discord.gg"},
      {"session_start_limit", {{"remaining", 0}, {"reset_after", 5000}, {"max_concurrency", 1}}}});
  ASSERT_TRUE(gb);
  EXPECT_EQ(gb->remaining, 0);
  EXPECT_EQ(gb->reset_after_ms, 5000);
  EXPECT_FALSE(read_gateway_bot(Json{{"url", "http://x"}}));
  EXPECT_FALSE(read_gateway_bot(Json{{"url", "wss://a b"}}));
  EXPECT_EQ(
      read_gateway_bot(Json{{"url", "wss://g"}, {"session_start_limit", {{"reset_after", -5}}}})
          ->reset_after_ms,
      0);
}

TEST(DiscordPayload, RateLimitHeadersAndBodies) {
  RateLimit r = read_rate_limit(200,
                                {{"X-RateLimit-Remaining", "0"},
                                 {"x-ratelimit-reset-after", "1.25"},
                                 {"X-RateLimit-Bucket", "abc123"}},
                                "");
  EXPECT_FALSE(r.limited);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset_after_ms, 1250);
  EXPECT_EQ(r.bucket, "abc123");
  r = read_rate_limit(429, {}, R"({"message":"slow","retry_after":0.5,"global":true})");
  EXPECT_TRUE(r.limited);
  EXPECT_TRUE(r.global);
  EXPECT_EQ(r.retry_after_ms, 500);
  r = read_rate_limit(429, {{"X-RateLimit-Global", "true"}}, "not json");
  EXPECT_TRUE(r.global);
  EXPECT_EQ(r.retry_after_ms, 1000) << "a 429 that says nothing still waits";
  r = read_rate_limit(429, {}, R"({"retry_after":1e300})");
  EXPECT_EQ(r.retry_after_ms, 86'400'000) << "clamped to a day";
  r = read_rate_limit(429, {}, R"({"retry_after":"5"})");
  EXPECT_EQ(r.retry_after_ms, 1000);
  r = read_rate_limit(200, {{"X-RateLimit-Reset-After", "-1"}, {"X-RateLimit-Bucket", "a b"}}, "");
  EXPECT_EQ(r.reset_after_ms, 0);
  EXPECT_EQ(r.bucket, "");
}

TEST(DiscordRest, RouteAndGlobalLimitsDelayRequests) {
  RateLimits l;
  const std::string route = "POST /channels/1/messages";
  EXPECT_EQ(l.wait_ms(route, 0), 0);
  RateLimit ok;
  ok.remaining = 0;
  ok.reset_after_ms = 800;
  l.update(route, ok, 1000);
  EXPECT_EQ(l.wait_ms(route, 1000), 800);
  EXPECT_EQ(l.wait_ms("POST /channels/2/messages", 1000), 0) << "another channel, another bucket";
  EXPECT_EQ(l.wait_ms(route, 2000), 0);
  RateLimit global;
  global.limited = global.global = true;
  global.retry_after_ms = 3000;
  l.update("GET /gateway/bot", global, 5000);
  EXPECT_EQ(l.wait_ms("POST /channels/2/messages", 5000), 3000);
  EXPECT_EQ(l.limited_until(5000), 8000);
  for (int i = 0; i < 10000; ++i) {
    RateLimit x;
    x.limited = true;
    x.retry_after_ms = 100;
    l.update("POST /channels/" + std::to_string(i) + "/messages", x, 10000);
  }
  SUCCEED() << "bounded at kMaxRoutes";
}

// The Gateway state machine on a fake clock: what it sends, closes and arms.
struct Harness {
  std::vector<Json> sent;
  std::vector<std::pair<uint16_t, std::string>> closes;
  std::vector<int64_t> armed;
  std::vector<std::string> dispatched;
  int ready = 0;
  double random = 0.25;
  GatewaySession s;
  Harness() : s(hooks(), "tok", "channels.discord.token", [this] { return random; }) {}
  GatewaySession::Hooks hooks() {
    GatewaySession::Hooks h;
    h.send = [this](std::string f) { sent.push_back(Json::parse(f)); };
    h.close = [this](uint16_t c, std::string r) { closes.emplace_back(c, r); };
    h.arm_heartbeat = [this](int64_t ms) { armed.push_back(ms); };
    h.dispatch = [this](const Frame& f) { dispatched.push_back(f.t); };
    h.on_ready = [this] { ++ready; };
    return h;
  }
  void text(const Json& j, int64_t now) { s.on_text(j.dump(), now); }
  void hello(int64_t now, int interval = 40000) {
    text({{"op", 10}, {"d", {{"heartbeat_interval", interval}}}}, now);
  }
  void ready_at(int64_t now, int64_t seq = 1) {
    text({{"op", 0},
          {"s", seq},
          {"t", "READY"},
          {"d",
           {{"session_id", "sess"},
            {"resume_gateway_url", "wss://resume"},
            {"user", {{"id", "900"}, {"username", "bot"}}}}}},
         now);
  }
};

TEST(DiscordGateway, HelloIdentifyReadyAndHeartbeats) {
  Harness h;
  h.s.on_open(0);
  h.hello(0);
  ASSERT_EQ(h.armed, std::vector<int64_t>{10000}) << "the first beat after interval x random";
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0]["op"], 2);
  EXPECT_EQ(h.sent[0]["d"]["token"], "tok");
  EXPECT_EQ(h.sent[0]["d"]["intents"], kIntents);
  EXPECT_EQ(kIntents, 37377) << "GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT";
  h.ready_at(100, 1);
  EXPECT_TRUE(h.s.ready());
  EXPECT_EQ(h.ready, 1);
  EXPECT_EQ(h.s.session_id(), "sess");
  h.text({{"op", 0}, {"s", 7}, {"t", "MESSAGE_CREATE"}, {"d", Json::object()}}, 200);
  EXPECT_EQ(h.s.seq(), 7);
  EXPECT_EQ(h.dispatched, (std::vector<std::string>{"READY", "MESSAGE_CREATE"}));
  h.s.on_heartbeat(10000);
  EXPECT_EQ(h.sent.back(), (Json{{"op", 1}, {"d", 7}}));
  EXPECT_EQ(h.armed.back(), 40000);
  h.text({{"op", 11}}, 10042);
  EXPECT_EQ(h.s.latency_ms(), 42);
  h.s.on_heartbeat(50000);
  EXPECT_TRUE(h.closes.empty()) << "acknowledged: no zombie";
  // Discord may ask for a beat at once (op 1).
  const size_t before = h.sent.size();
  h.text({{"op", 1}}, 50010);
  EXPECT_EQ(h.sent.size(), before + 1);
  EXPECT_EQ(h.sent.back()["op"], 1);
}

TEST(DiscordGateway, AMissedAckIsAZombieThatResumes) {
  Harness h;
  h.s.on_open(0);
  h.hello(0);
  h.ready_at(10, 3);
  h.s.on_heartbeat(10000);  // no ACK follows
  h.s.on_heartbeat(50000);
  ASSERT_EQ(h.closes.size(), 1u);
  EXPECT_EQ(h.closes[0].first, 4000) << "not 1000: the session must stay resumable";
  const auto next = h.s.on_closed(4000, "", "", 50001);
  EXPECT_FALSE(next.fatal);
  EXPECT_TRUE(next.resume);
  EXPECT_EQ(next.url, "wss://resume");
  EXPECT_LT(next.delay_ms, 1000) << "a healthy session reconnects promptly";
  // The next connection resumes with the session, its sequence and the token.
  h.sent.clear();
  h.s.on_open(50300);
  h.hello(50300);
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0],
            (Json{{"op", 6}, {"d", {{"token", "tok"}, {"session_id", "sess"}, {"seq", 3}}}}));
  h.text({{"op", 0}, {"s", 4}, {"t", "RESUMED"}, {"d", Json::object()}}, 50400);
  EXPECT_TRUE(h.s.ready());
  EXPECT_EQ(h.s.failures(), 0);
}

TEST(DiscordGateway, InvalidSessionReconnectAndCloseCodes) {
  Harness h;
  h.s.on_open(0);
  h.hello(0);
  h.ready_at(10, 3);
  h.text({{"op", 7}, {"d", nullptr}}, 20);  // RECONNECT
  EXPECT_EQ(h.closes.back().first, 4000);
  EXPECT_TRUE(h.s.on_closed(4000, "", "", 21).resume);

  h.s.on_open(1000);
  h.hello(1000);
  h.text({{"op", 9}, {"d", true}}, 1010);  // resumable
  EXPECT_EQ(h.closes.back().first, 4000);
  EXPECT_TRUE(h.s.on_closed(4000, "", "", 1011).resume);

  h.s.on_open(2000);
  h.hello(2000);
  h.text({{"op", 9}, {"d", false}}, 2010);  // not resumable: a fresh identify in 1-5 s
  EXPECT_EQ(h.closes.back().first, 1000);
  auto n = h.s.on_closed(1000, "", "", 2011);
  EXPECT_FALSE(n.resume);
  EXPECT_GE(n.delay_ms, 1000);
  EXPECT_LE(n.delay_ms, 5000);
  EXPECT_EQ(h.s.session_id(), "");

  // Codes after which the session is gone.
  for (uint16_t code : {4007, 4009}) {
    Harness g;
    g.s.on_open(0);
    g.hello(0);
    g.ready_at(10);
    EXPECT_FALSE(g.s.on_closed(code, "", "", 20).resume) << code;
  }
  // Codes no retry mends: exit 78 naming what to fix.
  Harness t;
  t.s.on_open(0);
  auto fatal = t.s.on_closed(4004, "Authentication failed.", "", 5);
  EXPECT_TRUE(fatal.fatal);
  EXPECT_EQ(fatal.exit_code, 78);
  EXPECT_NE(fatal.why.find("channels.discord.token"), std::string::npos) << fatal.why;
  fatal = t.s.on_closed(4014, "", "", 5);
  EXPECT_TRUE(fatal.fatal);
  EXPECT_NE(fatal.why.find("Message Content Intent"), std::string::npos) << fatal.why;
  EXPECT_NE(fatal.why.find("Developer Portal"), std::string::npos) << fatal.why;
  for (uint16_t code : {4010, 4011, 4012, 4013}) EXPECT_TRUE(t.s.on_closed(code, "", "", 5).fatal);
  EXPECT_FALSE(t.s.on_closed(4000, "", "", 5).fatal);
  EXPECT_FALSE(t.s.on_closed(0, "", "connection reset", 5).fatal);
}

TEST(DiscordGateway, FailingConnectionsBackOffExponentiallyWithJitter) {
  Harness h;
  std::vector<int64_t> delays;
  int64_t now = 0;
  for (int i = 0; i < 10; ++i) {
    h.s.on_open(now);
    const auto n = h.s.on_closed(0, "", "refused", now);  // never got to READY
    delays.push_back(n.delay_ms);
    now += n.delay_ms + 1;
  }
  for (size_t i = 1; i < 7; ++i) EXPECT_GT(delays[i], delays[i - 1]) << i;
  for (int64_t d : delays) EXPECT_LE(d, GatewaySession::kMaxBackoffMs * 12 / 10);
  // Jitter: another random draw gives other delays (never a fixed interval).
  Harness other;
  other.random = 0.9;
  other.s.on_open(0);
  other.s.on_closed(0, "", "refused", 0);
  other.s.on_open(0);
  EXPECT_NE(other.s.on_closed(0, "", "refused", 0).delay_ms, delays[1]);
}

TEST(DiscordGateway, IdentifiesWaitForTheBudgetAndFiveSecondsApart) {
  Harness h;
  h.s.set_identify_budget(0, 30'000, 1000);
  EXPECT_EQ(h.s.identify_wait_ms(1000), 30'000);
  h.s.set_identify_budget(5, 0, 1000);
  EXPECT_EQ(h.s.identify_wait_ms(1000), 0);
  h.s.on_open(1000);
  h.hello(1000);  // identifies
  EXPECT_EQ(h.s.identify_wait_ms(2000), 4000);
  // A fresh connection right after waits the spacing out.
  const auto n = h.s.on_closed(4009, "", "", 2000);
  EXPECT_FALSE(n.resume);
  EXPECT_GE(n.delay_ms, 4000);
}

TEST(DiscordGateway, GarbageFromTheGatewayIsIgnored) {
  Harness h;
  h.s.on_open(0);
  for (const char* junk : {"", "{", "[1,2]", "{\"op\":\"x\"}", "{\"op\":0,\"t\":5,\"d\":[]}",
                           "{\"op\":10,\"d\":{\"heartbeat_interval\":-1}}"})
    h.s.on_text(junk, 0);
  EXPECT_FALSE(h.s.ready());
  h.hello(1);
  h.text({{"op", 0}, {"s", 2}, {"t", "READY"}, {"d", {{"session_id", 5}}}}, 2);
  EXPECT_FALSE(h.s.ready()) << "an unreadable READY ends the connection";
  EXPECT_EQ(h.closes.size(), 2u);  // the bad HELLO, the bad READY
}

Frame dispatch(const std::string& t, Json d) {
  Frame f;
  f.op = kDispatch;
  f.t = t;
  f.d = std::move(d);
  return f;
}

Message in(const std::string& guild, const std::string& channel) {
  Message m;
  m.guild_id = guild;
  m.channel_id = channel;
  return m;
}

TEST(DiscordPlaces, NamesAndThreadParentsFromTheGatewayFillMessages) {
  Places p;
  Me me;
  me.user_id = "900";
  p.on_dispatch(
      dispatch("GUILD_CREATE", {{"id", "10"},
                                {"name", "My Server"},
                                {"roles", {{{"id", "77"}, {"tags", {{"bot_id", "900"}}}}}},
                                {"channels", {{{"id", "20"}, {"type", 0}, {"name", "support"}}}},
                                {"threads", Json::array()}}),
      me);
  EXPECT_EQ(me.role_by_guild["10"], "77");
  Message m = in("10", "20");
  p.fill(m);
  EXPECT_EQ(m.guild_name, "My Server");
  EXPECT_EQ(m.channel_name, "support");
  EXPECT_EQ(m.parent_id, "");
  // A thread announced later, and one from THREAD_LIST_SYNC: each names its parent.
  p.on_dispatch(dispatch("THREAD_CREATE", {{"id", "50"},
                                           {"guild_id", "10"},
                                           {"type", 11},
                                           {"parent_id", "20"},
                                           {"name", "printer"}}),
                me);
  p.on_dispatch(dispatch("THREAD_LIST_SYNC",
                         {{"guild_id", "10"},
                          {"threads", {{{"id", "51"}, {"type", 12}, {"parent_id", "20"}}}}}),
                me);
  for (const char* thread : {"50", "51"}) {
    Message t = in("10", thread);
    p.fill(t);
    EXPECT_EQ(t.parent_id, "20") << thread;
    EXPECT_EQ(t.parent_name, "support") << thread;
  }
  // Renamed, then deleted: the new name, then nothing known.
  p.on_dispatch(dispatch("GUILD_UPDATE", {{"id", "10"}, {"name", "Our Server"}}), me);
  p.on_dispatch(dispatch("CHANNEL_UPDATE",
                         {{"id", "20"}, {"guild_id", "10"}, {"type", 0}, {"name", "help-desk"}}),
                me);
  m = in("10", "20");
  p.fill(m);
  EXPECT_EQ(m.guild_name, "Our Server");
  EXPECT_EQ(m.channel_name, "help-desk");
  p.on_dispatch(dispatch("THREAD_DELETE", {{"id", "50"}, {"guild_id", "10"}}), me);
  EXPECT_FALSE(p.knows("50"));
  EXPECT_TRUE(p.knows("51"));
  // A DM is nobody's place; garbage teaches nothing.
  Message dm = in("", "20");
  p.fill(dm);
  EXPECT_EQ(dm.channel_name, "");
  const size_t before = p.size();
  p.on_dispatch(dispatch("THREAD_LIST_SYNC", {{"guild_id", "10"}, {"threads", "x"}}), me);
  p.on_dispatch(dispatch("CHANNEL_CREATE", {{"id", "-1"}, {"guild_id", "10"}}), me);
  p.on_dispatch(dispatch("CHANNEL_CREATE", Json::array()), me);
  EXPECT_EQ(p.size(), before);
}

TEST(DiscordPlaces, TheTableIsBounded) {
  Places p;
  for (size_t i = 1; i <= Places::kMaxPlaces + 10; ++i)
    p.learn(ChannelFacts{std::to_string(i), "10", "", "c", false});
  EXPECT_EQ(p.size(), Places::kMaxPlaces);
  EXPECT_TRUE(p.full());
  p.learn(ChannelFacts{"1", "10", "", "renamed", false});  // a known one still changes
  Message m = in("10", "1");
  p.fill(m);
  EXPECT_EQ(m.channel_name, "renamed");
}

}  // namespace
}  // namespace clawgate::workers::discord
