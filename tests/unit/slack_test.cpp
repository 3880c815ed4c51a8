// Unit tests: Slack worker helpers: Socket Mode frames and Events API payloads read with every
// field bounded (hostile JSON must neither throw nor pass through), mentions and unescaping,
// Web API answers (errors, 429 Retry-After, garbage), outbound escaping and chunking (Chinese,
// Arabic, emoji: never a split code point, never a split token), targets, the dedupe set, and
// the v0 request signature (HMAC, the 5-minute window), HTTP mode's requests as the front hands
// them over (signature first, url_verification, events, forms, garbage), and the settings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "fs.hpp"
#include "http_events.hpp"
#include "shared_data.hpp"
#include "slack_api.hpp"
#include "slack_config.hpp"
#include "slack_events.hpp"
#include "slack_text.hpp"
#include "slack_worker.hpp"
#include "utf8.hpp"

namespace clawgate::workers::slack {
namespace {

using nlohmann::json;

BotIdentity me() {
  return {"U0BOT", "B0BOT", "T0TEAM", "bot"};
}

json message_payload(json event) {
  return {{"type", "event_callback"},
          {"event_id", "Ev1"},
          {"team_id", "T0TEAM"},
          {"event", std::move(event)}};
}

json plain_event() {
  return {{"type", "message"},     {"channel", "C0CHAN"},       {"user", "U0USER"},
          {"text", "hello"},       {"ts", "1700000000.000100"}, {"channel_type", "channel"},
          {"client_msg_id", "abc"}};
}

TEST(SlackFrames, HelloEventsAndDisconnect) {
  auto f = read_socket_frame(
      R"({"type":"hello","num_connections":2,"connection_info":{"app_id":"A1"},"debug_info":{}})");
  EXPECT_EQ(f.kind, SocketFrame::Kind::hello);
  EXPECT_EQ(f.num_connections, 2);
  EXPECT_EQ(f.app_id, "A1");
  f = read_socket_frame(
      R"({"envelope_id":"e-1","type":"events_api","retry_attempt":2,"payload":{"type":"event_callback"}})");
  EXPECT_EQ(f.kind, SocketFrame::Kind::events_api);
  EXPECT_EQ(f.envelope_id, "e-1");
  EXPECT_EQ(f.retry_attempt, 2);
  EXPECT_TRUE(f.payload.is_object());
  f = read_socket_frame(R"({"type":"disconnect","reason":"refresh_requested"})");
  EXPECT_EQ(f.kind, SocketFrame::Kind::disconnect);
  EXPECT_EQ(f.reason, "refresh_requested");
  f = read_socket_frame(R"({"type":"slash_commands","envelope_id":"e-2","payload":{}})");
  EXPECT_EQ(f.kind, SocketFrame::Kind::other);
  EXPECT_EQ(f.envelope_id, "e-2") << "other kinds are acknowledged too";
}

TEST(SlackFrames, HostileFramesNeitherThrowNorPassOn) {
  const std::vector<std::string> bad = {
      "",
      "null",
      "[]",
      "\"x\"",
      "{",
      R"({"type":5})",
      R"({"type":"events_api"})",
      R"({"type":"events_api","envelope_id":"e","payload":"x"})",
      R"({"type":"events_api","envelope_id":7,"payload":{"a":1}})",
      R"({"type":"hello","num_connections":1e300})",
      R"({"type":"hello","num_connections":-5})",
      std::string("{\"type\":\"hello\"\0}", 17),
      "{\"type\":\"disconnect\",\"reason\":\"\xff\xfe\"}"};
  for (const std::string& text : bad) {
    SocketFrame f;
    EXPECT_NO_THROW(f = read_socket_frame(text)) << text;
    EXPECT_NE(f.kind, SocketFrame::Kind::events_api) << text;
    EXPECT_GE(f.num_connections, 0);
    EXPECT_TRUE(utf8::valid(f.reason));
  }
  // A lone surrogate escape in the text (Slack passes what clients send) is repaired, not fatal.
  const auto f = read_socket_frame(
      R"({"type":"events_api","envelope_id":"e","payload":{"event":{"text":"hi\udcff"}}})");
  EXPECT_EQ(f.kind, SocketFrame::Kind::events_api);
  EXPECT_EQ(f.payload["event"]["text"], "hi\xEF\xBF\xBD");
  // An envelope id is bounded.
  const auto g = read_socket_frame(R"({"type":"events_api","envelope_id":")" +
                                   std::string(5000, 'e') + R"(","payload":{"a":1}})");
  EXPECT_LE(g.envelope_id.size(), 128u);
}

TEST(SlackEvents, PlainChannelMessage) {
  const EventRead r = read_event(message_payload(plain_event()), me());
  ASSERT_TRUE(r.message);
  const SlackMessage& m = *r.message;
  EXPECT_EQ(m.channel, "C0CHAN");
  EXPECT_EQ(m.user, "U0USER");
  EXPECT_EQ(m.ts, "1700000000.000100");
  EXPECT_EQ(m.ts_ms, 1700000000000);
  EXPECT_EQ(m.kind, ConvKind::channel);
  EXPECT_EQ(m.event_id, "Ev1");
  EXPECT_EQ(m.client_msg_id, "abc");
  EXPECT_FALSE(m.mentioned);
  EXPECT_FALSE(m.own);
  EXPECT_FALSE(m.from_bot);
  EXPECT_EQ(message_key(m), "C0CHAN:1700000000.000100");
}

TEST(SlackEvents, MentionsThreadsAndBots) {
  json e = plain_event();
  e["text"] = "hey <@U0BOT|bot> look";
  EXPECT_TRUE(read_event(message_payload(e), me()).message->mentioned);
  e["text"] = "hey <@U0BOTX> and &lt;@U0BOT&gt;";  // another user; typed characters
  EXPECT_FALSE(read_event(message_payload(e), me()).message->mentioned);
  EXPECT_EQ(read_event(message_payload(e), me()).message->text, "hey <@U0BOTX> and <@U0BOT>");
  e["type"] = "app_mention";
  e.erase("channel_type");
  auto m = read_event(message_payload(e), me()).message;
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->mentioned) << "an app_mention is a mention";
  EXPECT_EQ(m->kind, ConvKind::channel) << "from the C prefix";
  e = plain_event();
  e["thread_ts"] = "1699999999.000001";
  e["parent_user_id"] = "U0BOT";
  m = read_event(message_payload(e), me()).message;
  EXPECT_EQ(m->thread_ts, "1699999999.000001");
  EXPECT_TRUE(m->reply_to_bot);
  e["thread_ts"] = e["ts"];  // a thread root names itself
  EXPECT_EQ(read_event(message_payload(e), me()).message->thread_ts, "");
  e = plain_event();
  e["user"] = "U0BOT";
  e["bot_id"] = "B0BOT";
  EXPECT_TRUE(read_event(message_payload(e), me()).message->own);
  e = plain_event();
  e.erase("user");
  e["bot_id"] = "B0OTHER";
  e["subtype"] = "bot_message";
  m = read_event(message_payload(e), me()).message;
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->from_bot);
  EXPECT_FALSE(m->own);
  EXPECT_EQ(m->user, "B0OTHER");
}

TEST(SlackEvents, IgnoredKindsAndSubtypes) {
  for (const char* subtype : {"message_changed", "message_deleted", "channel_join", "x"}) {
    json e = plain_event();
    e["subtype"] = subtype;
    EXPECT_FALSE(read_event(message_payload(e), me()).message) << subtype;
  }
  json e = plain_event();
  e["type"] = "reaction_added";
  EXPECT_FALSE(read_event(message_payload(e), me()).message);
  EXPECT_FALSE(read_event({{"type", "url_verification"}}, me()).message);
  e = plain_event();
  e["subtype"] = "thread_broadcast";
  EXPECT_TRUE(read_event(message_payload(e), me()).message);
}

TEST(SlackEvents, HostileFieldsAreRefusedOrBounded) {
  // Ids that could smuggle separators into session keys or targets are refused.
  for (const json& channel : {json("C0:thread:1"), json("c0chan"), json(""), json(42),
                              json(std::string(33, 'C')), json("C0\nX"), json(nullptr)}) {
    json e = plain_event();
    e["channel"] = channel;
    const EventRead r = read_event(message_payload(e), me());
    EXPECT_FALSE(r.message) << channel.dump();
    EXPECT_FALSE(r.skipped.empty());
  }
  for (const json& ts : {json("1700000000"), json("a.b"), json(".5"), json("1."), json(1.5),
                         json(std::string(40, '1') + ".1")}) {
    json e = plain_event();
    e["ts"] = ts;
    EXPECT_FALSE(read_event(message_payload(e), me()).message) << ts.dump();
  }
  json e = plain_event();
  e["user"] = json::array();
  EXPECT_FALSE(read_event(message_payload(e), me()).message);
  e = plain_event();
  e["text"] = 17;
  EXPECT_EQ(read_event(message_payload(e), me()).message->text, "");
  e = plain_event();
  e["thread_ts"] = "garbage";
  EXPECT_EQ(read_event(message_payload(e), me()).message->thread_ts, "");
  // Text: repaired and cut on a code point at 64 KiB.
  e = plain_event();
  std::string big;
  while (big.size() < kMaxInboundTextBytes + 10) big += "\xE4\xB8\xAD";  // 中
  e["text"] = big;
  const auto m = read_event(message_payload(e), me()).message;
  ASSERT_TRUE(m);
  EXPECT_LE(m->text.size(), kMaxInboundTextBytes);
  EXPECT_TRUE(utf8::valid(m->text));
  EXPECT_EQ(m->original_bytes, big.size());
  for (const auto& [bytes, what] : test_data::invalid_sequences()) {
    json raw = plain_event();
    raw["text"] = bytes;  // nlohmann keeps the bytes; dump() would refuse them
    const auto r = read_event(message_payload(raw), me());
    ASSERT_TRUE(r.message) << what;
    EXPECT_TRUE(utf8::valid(r.message->text)) << what;
  }
  // Garbage payloads.
  for (const json& p :
       {json(nullptr), json::array(), json("x"), json{{"type", "event_callback"}, {"event", "x"}},
        json{{"type", "event_callback"}, {"event", {{"type", 3}}}}}) {
    EXPECT_NO_THROW(EXPECT_FALSE(read_event(p, me()).message)) << p.dump();
  }
}

TEST(SlackEvents, Timestamps) {
  EXPECT_EQ(ts_to_ms("1700000000.000100"), 1700000000000);
  EXPECT_EQ(ts_to_ms("1700000000.5"), 1700000000500);
  EXPECT_EQ(ts_to_ms("1.123456"), 1123);
  EXPECT_EQ(ts_to_ms("99999999999999.1"), 0) << "beyond any date Slack writes";
}

TEST(SlackEvents, ConversationKinds) {
  EXPECT_EQ(conv_kind_from_id("D123"), ConvKind::im);
  EXPECT_EQ(conv_kind_from_id("C123"), ConvKind::channel);
  EXPECT_EQ(conv_kind_from_id("G123"), ConvKind::unknown);
  EXPECT_EQ(conv_kind_from_info({{"is_mpim", true}, {"is_group", true}}), ConvKind::mpim);
  EXPECT_EQ(conv_kind_from_info({{"is_channel", false}, {"is_group", true}}), ConvKind::group);
  EXPECT_EQ(conv_kind_from_info({{"is_im", "yes"}}), ConvKind::unknown);
  EXPECT_EQ(conv_kind_from_info(json("x")), ConvKind::unknown);
}

TEST(SlackApi, Answers) {
  auto a = read_api_answer(200, "", R"({"ok":true,"ts":"1.2"})");
  EXPECT_TRUE(a.ok);
  EXPECT_EQ(a.body["ts"], "1.2");
  a = read_api_answer(200, "", R"({"ok":false,"error":"invalid_auth"})");
  EXPECT_FALSE(a.ok);
  EXPECT_TRUE(a.auth_failure());
  EXPECT_FALSE(a.transient());
  a = read_api_answer(200, "", R"({"ok":false,"error":"channel_not_found"})");
  EXPECT_FALSE(a.auth_failure());
  EXPECT_FALSE(a.transient());
  a = read_api_answer(429, "30", R"({"ok":false,"error":"ratelimited"})");
  EXPECT_EQ(a.error, "ratelimited");
  EXPECT_EQ(a.retry_after_s, 30);
  EXPECT_TRUE(a.transient());
  a = read_api_answer(429, "", "<html>");
  EXPECT_EQ(a.error, "ratelimited");
  EXPECT_EQ(a.retry_after_s, 1) << "no Retry-After: one second";
  EXPECT_EQ(read_api_answer(429, "99999999999", "").retry_after_s, 3600) << "capped at an hour";
  EXPECT_EQ(read_api_answer(429, "7200", "").retry_after_s, 3600);
  a = read_api_answer(503, "", "Service Unavailable");
  EXPECT_EQ(a.error, "http_503");
  EXPECT_TRUE(a.transient());
  a = read_api_answer(200, "", "not json");
  EXPECT_EQ(a.error, "invalid_response");
  EXPECT_TRUE(a.transient());
  a = read_api_answer(0, "", "", "connect: refused");
  EXPECT_TRUE(a.transient());
  a = read_api_answer(200, "", R"({"ok":"true"})");
  EXPECT_FALSE(a.ok) << "ok must be a boolean";
  a = read_api_answer(200, "", R"({"ok":false,"error":{"x":1}})");
  EXPECT_EQ(a.error, "invalid_response");
}

TEST(SlackApi, AuthTestAndConnectionUrl) {
  auto me =
      read_auth_test({{"user_id", "U1"}, {"bot_id", "B1"}, {"team_id", "T1"}, {"user", "bot"}});
  ASSERT_TRUE(me);
  EXPECT_EQ(me->user_id, "U1");
  EXPECT_EQ(me->bot_id, "B1");
  EXPECT_FALSE(read_auth_test({{"user_id", 5}}));
  EXPECT_FALSE(read_auth_test({{"user_id", "u1;x"}}));
  std::string why;
  EXPECT_EQ(read_connection_url({{"url", "wss://wss-primary.slack.com/link/?ticket=1"}}, &why),
            "wss://wss-primary.slack.com/link/?ticket=1");
  EXPECT_EQ(read_connection_url({{"url", "https://x"}}, &why), "");
  EXPECT_EQ(read_connection_url({{"url", "wss://x/ a"}}, &why), "");
  EXPECT_EQ(read_connection_url({{"url", "wss://x/" + std::string(3000, 'a')}}, &why), "");
  EXPECT_EQ(read_connection_url(json::object(), &why), "");
  EXPECT_FALSE(why.empty());
}

TEST(SlackText, EscapingKeepsSlackMarkup) {
  EXPECT_EQ(escape_text("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
  EXPECT_EQ(escape_text("hi <@U123> in <#C1|general> see <https://x.y/z|link> <!here>"),
            "hi <@U123> in <#C1|general> see <https://x.y/z|link> <!here>");
  EXPECT_EQ(escape_text("<script>"), "&lt;script&gt;");
  EXPECT_EQ(escape_text("already &amp; &lt;"), "already &amp; &lt;");
  EXPECT_EQ(escape_text("<@U1 <@U2>"), "&lt;@U1 <@U2>");
}

// Every chunk is valid UTF-8 within the limit (UTF-16 units), and the chunks add up to the
// text less the separators they were cut at.
void check_chunks(const std::string& text, size_t limit, const std::vector<std::string>& chunks) {
  std::string joined;
  for (const std::string& c : chunks) {
    EXPECT_TRUE(utf8::valid(c));
    EXPECT_LE(utf8::utf16_length(c), limit);
    EXPECT_FALSE(c.empty());
    joined += c;
  }
  std::string expect;
  for (const char ch : text)
    if (ch != ' ' && ch != '\n') expect += ch;
  std::string got;
  for (const char ch : joined)
    if (ch != ' ' && ch != '\n') got += ch;
  EXPECT_EQ(got, expect);
}

TEST(SlackText, ChunkingInManyScripts) {
  for (const char* name : {"chinese", "arabic_rtl", "emoji_zwj", "astral", "combining",
                           "long_cjk_4096_utf16", "long_emoji_4096_codepoints"}) {
    std::string text = test_data::sample(name);
    while (text.size() < 20000) text += " " + test_data::sample(name);
    for (size_t limit : {8, 13, 100, 4000}) {
      SCOPED_TRACE(std::string(name) + " limit " + std::to_string(limit));
      const auto chunks = chunk_text(text, limit);
      check_chunks(text, limit, chunks);
      if (utf8::utf16_length(text) > limit) {
        EXPECT_GT(chunks.size(), 1u);
      }
    }
  }
}

TEST(SlackText, ChunksBreakAtNewlinesAndKeepTokensWhole) {
  EXPECT_EQ(chunk_text("aaaa bbbb\ncccc dddd", 12),
            (std::vector<std::string>{"aaaa bbbb", "cccc dddd"}));
  EXPECT_EQ(chunk_text("   \n  ", 10), std::vector<std::string>{});
  // A mention or an entity across the limit moves to the next chunk whole.
  auto chunks = chunk_text("abcdefg<@U12345>", 10);
  EXPECT_EQ(chunks, (std::vector<std::string>{"abcdefg", "<@U12345>"}));
  chunks = chunk_text("abcdefgh&amp;x", 10);
  EXPECT_EQ(chunks, (std::vector<std::string>{"abcdefgh", "&amp;x"}));
  // A link label with spaces is not broken at its spaces.
  chunks = chunk_text("word <https://x.y|a b c> end", 20);
  for (const auto& c : chunks)
    EXPECT_TRUE(c.find('<') == std::string::npos || c.find('>') != std::string::npos) << c;
  // A token longer than a chunk is cut through rather than looping.
  chunks = chunk_text("<https://" + std::string(100, 'x') + ">", 16);
  EXPECT_GT(chunks.size(), 5u);
  check_chunks("<https://" + std::string(100, 'x') + ">", 16, chunks);
}

TEST(SlackTargets, Forms) {
  auto t = parse_target("C123");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->channel, "C123");
  EXPECT_EQ(t->thread_ts, "");
  t = parse_target("channel:C123:thread:1700000000.000100");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->channel, "C123");
  EXPECT_EQ(t->thread_ts, "1700000000.000100");
  EXPECT_EQ(parse_target("user:U9")->channel, "U9");
  EXPECT_EQ(parse_target("<@U9>")->channel, "U9");
  for (const char* bad : {"", "c123", "C1 23", "C123:thread:", "C123:thread:x.y", "#general",
                          "C123:thread:1.2:thread:3.4"})
    EXPECT_FALSE(parse_target(bad)) << bad;
  EXPECT_FALSE(parse_target(std::string(200, 'C')));
}

TEST(SlackDedupe, SeenKeysForgetsOldest) {
  SeenKeys seen(3);
  EXPECT_FALSE(seen.seen("a"));
  EXPECT_TRUE(seen.seen("a"));
  EXPECT_FALSE(seen.seen(""));
  EXPECT_FALSE(seen.seen(""));
  EXPECT_FALSE(seen.seen("b"));
  EXPECT_FALSE(seen.seen("c"));
  EXPECT_FALSE(seen.seen("d"));  // "a" forgotten
  EXPECT_FALSE(seen.seen("a"));
  EXPECT_TRUE(seen.seen("d"));
}

TEST(SlackSignature, V0HmacAndWindow) {
  // Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const std::string body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
      "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
      "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
      "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
      "803a0bc887a14d10d2c447fce8b6703c";
  const std::string ts = "1531420618";
  const std::string sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
  EXPECT_EQ(sign_request(secret, ts, body), sig);
  const int64_t now = 1531420618 + 10;
  EXPECT_EQ(verify_signature(secret, ts, sig, body, now), SignatureCheck::ok);
  EXPECT_EQ(verify_signature(secret, ts, sig, body + "x", now), SignatureCheck::mismatch);
  EXPECT_EQ(verify_signature("other", ts, sig, body, now), SignatureCheck::mismatch);
  EXPECT_EQ(verify_signature(secret, ts, sig.substr(0, 20), body, now), SignatureCheck::mismatch);
  EXPECT_EQ(verify_signature(secret, ts, sig, body, 1531420618 + 301), SignatureCheck::stale);
  EXPECT_EQ(verify_signature(secret, ts, sig, body, 1531420618 - 301), SignatureCheck::stale)
      << "from the future too";
  EXPECT_EQ(verify_signature(secret, "15314x0618", sig, body, now), SignatureCheck::stale);
  EXPECT_EQ(verify_signature(secret, "99999999999999999999", sig, body, now),
            SignatureCheck::stale);
  EXPECT_EQ(verify_signature(secret, "", sig, body, now), SignatureCheck::missing);
  EXPECT_EQ(verify_signature(secret, ts, "", body, now), SignatureCheck::missing);
  EXPECT_EQ(verify_signature("", ts, sig, body, now), SignatureCheck::missing);
}

// A request as Slack would sign it, `now_s` seconds in.
HttpEvent signed_request(const std::string& secret, const std::string& body, int64_t ts,
                         const std::string& content_type = "application/json") {
  HttpEvent e;
  e.request_id = 7;
  e.content_type = content_type;
  e.timestamp = std::to_string(ts);
  e.body = body;
  e.signature = sign_request(secret, e.timestamp, body);
  return e;
}

TEST(SlackHttpEvents, SignatureFirstThenChallengeEventsAndForms) {
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const int64_t now = 1'700'000'000;
  // url_verification: the challenge back, before the bot's identity is known too.
  auto a = answer_http_event(
      signed_request(secret, R"({"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV"})",
                     now),
      secret, now, /*ready=*/false);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "3eZbrw1aBm2rZgRNFdxV");
  EXPECT_FALSE(a.event);
  // An event: 200 and the payload for the Socket Mode pipeline, with Slack's retry number.
  const std::string ev =
      R"({"type":"event_callback","event_id":"Ev1","event":{"type":"message","channel":"D1","user":"U1","text":"hi","ts":"1.000001"}})";
  HttpEvent r = signed_request(secret, ev, now - 200);
  r.retry_num = 2;
  a = answer_http_event(r, secret, now, true);
  EXPECT_EQ(a.status, 200);
  EXPECT_TRUE(a.body.empty());
  ASSERT_TRUE(a.event);
  EXPECT_EQ((*a.event)["event_id"], "Ev1");
  EXPECT_EQ(a.retry_attempt, 2);
  // ...but not before auth.test: 503, Slack sends it again.
  a = answer_http_event(signed_request(secret, ev, now), secret, now, false);
  EXPECT_EQ(a.status, 503);
  EXPECT_FALSE(a.event);
  // Refused before anything is read: a wrong secret, a changed body, a stale or future
  // timestamp, no headers at all.
  EXPECT_EQ(answer_http_event(signed_request("other", ev, now), secret, now, true).status, 401);
  HttpEvent changed = signed_request(secret, ev, now);
  changed.body[changed.body.size() - 3] = 'X';
  a = answer_http_event(changed, secret, now, true);
  EXPECT_EQ(a.status, 401);
  EXPECT_FALSE(a.event);
  EXPECT_NE(a.note.find("mismatch"), std::string::npos) << a.note;
  a = answer_http_event(signed_request(secret, ev, now - 301), secret, now, true);
  EXPECT_EQ(a.status, 401);
  EXPECT_NE(a.note.find("window"), std::string::npos) << a.note;
  EXPECT_EQ(answer_http_event(signed_request(secret, ev, now + 301), secret, now, true).status,
            401);
  HttpEvent bare;
  bare.body = ev;
  EXPECT_EQ(answer_http_event(bare, secret, now, true).status, 401);
  EXPECT_EQ(answer_http_event(signed_request("", ev, now), "", now, true).status, 401)
      << "no secret configured: nothing passes";
  // Interactivity (form-encoded): 200, nothing goes on.
  a = answer_http_event(signed_request(secret, "payload=%7B%22type%22%3A%22block_actions%22%7D",
                                       now, "application/x-www-form-urlencoded"),
                        secret, now, true);
  EXPECT_EQ(a.status, 200);
  EXPECT_FALSE(a.event);
  // Signed garbage: 400; other payload kinds: 200, ignored.
  for (const std::string& bad :
       {std::string("not json"), std::string("[1,2]"),
        std::string(R"({"type":"url_verification"})"),
        std::string(R"({"type":"url_verification","challenge":12})"),
        std::string(R"({"type":"url_verification","challenge":"a b"})"),
        R"({"type":"url_verification","challenge":")" + std::string(300, 'x') + "\"}"})
    EXPECT_EQ(answer_http_event(signed_request(secret, bad, now), secret, now, true).status, 400)
        << bad;
  a = answer_http_event(signed_request(secret, R"({"type":"app_rate_limited"})", now), secret, now,
                        true);
  EXPECT_EQ(a.status, 200);
  EXPECT_FALSE(a.event);
}

TEST(SlackHttpEvents, TheRequestIsReadBoundedAndTheAnswerWritten) {
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<ipc::Data>().initHttpRequest();
  r.setRequestId(42);
  r.setContentType(std::string(500, 'c'));
  r.setTimestamp(std::string(100, '1'));
  r.setSignature("v0=" + std::string(300, 'a'));
  r.setRetryNum(1'000'000);
  const std::string body = "{\"type\":\"event_callback\"}";
  r.setBody(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(body.data()), body.size()));
  HttpEvent e = read_http_event(r.asReader());
  EXPECT_EQ(e.request_id, 42u);
  EXPECT_EQ(e.content_type.size(), 128u);
  EXPECT_EQ(e.timestamp.size(), 32u);
  EXPECT_EQ(e.signature.size(), 128u);
  EXPECT_EQ(e.retry_num, 100);
  EXPECT_EQ(e.body, body);
  // Over the limit: the body is not taken and the request cannot pass.
  std::string big(kMaxHttpEventBytes + 1, ' ');
  r.setBody(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(big.data()), big.size()));
  e = read_http_event(r.asReader());
  EXPECT_TRUE(e.body.empty());
  EXPECT_TRUE(e.signature.empty());

  HttpEventAnswer a;
  a.status = 401;
  a.body = "invalid signature";
  capnp::MallocMessageBuilder out;
  write_http_response(out, 42, a);
  auto w = out.getRoot<ipc::Data>().asReader();
  ASSERT_TRUE(w.isHttpResponse());
  EXPECT_EQ(w.getHttpResponse().getRequestId(), 42u);
  EXPECT_EQ(w.getHttpResponse().getStatus(), 401);
  EXPECT_EQ(w.getHttpResponse().getBody().size(), a.body.size());
}

TEST(SlackConfig, TokensNamedByTheKeyToFix) {
  cfg::SlackChannel s;
  s.bot_token = "xoxb-1";
  s.app_token = "xapp-1";
  s.api_root = "http://127.0.0.1:5/api/";
  s.text_chunk_limit = 3000;
  SlackConfig c = slack_config(s, "/tmp/st");
  EXPECT_EQ(c.bot_token, "xoxb-1");
  EXPECT_EQ(c.api_root, "http://127.0.0.1:5/api");
  EXPECT_EQ(c.chunk_limit, 3000u);
  auto error_of = [](const cfg::SlackChannel& x, const std::string& account = "default") {
    try {
      slack_config(x, "/tmp/st", account);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  cfg::SlackChannel no_app = s;
  no_app.app_token.reset();
  ::unsetenv("SLACK_APP_TOKEN");
  EXPECT_NE(error_of(no_app).find("channels.slack.appToken"), std::string::npos);
  ::setenv("SLACK_APP_TOKEN", "xapp-env", 1);
  EXPECT_EQ(slack_config(no_app, "/tmp/st").app_token, "xapp-env") << "the default account";
  EXPECT_NE(error_of(no_app, "work").find("channels.slack.accounts.work.appToken"),
            std::string::npos)
      << "the variable serves the default account only";
  ::unsetenv("SLACK_APP_TOKEN");
  cfg::SlackChannel swapped = s;
  swapped.bot_token = "xapp-oops";
  EXPECT_NE(error_of(swapped).find("botToken"), std::string::npos);
  swapped = s;
  swapped.app_token = "xoxb-oops";
  EXPECT_NE(error_of(swapped).find("appToken"), std::string::npos);
  // HTTP mode: the signing secret instead of the app token.
  cfg::SlackChannel http = s;
  http.mode = "http";
  http.app_token.reset();
  EXPECT_NE(error_of(http).find("channels.slack.signingSecret"), std::string::npos)
      << error_of(http);
  EXPECT_NE(error_of(http, "work").find("channels.slack.accounts.work.signingSecret"),
            std::string::npos);
  http.signing_secret = "s3cret";
  http.webhook_path = "/hooks/slack";
  const SlackConfig hc = slack_config(http, "/tmp/st");
  EXPECT_TRUE(hc.http_mode);
  EXPECT_EQ(hc.signing_secret, "s3cret");
  EXPECT_EQ(hc.webhook_path, "/hooks/slack");
  EXPECT_TRUE(hc.app_token.empty()) << "no app token needed, none taken";
  EXPECT_FALSE(c.http_mode);
  EXPECT_NE(error_of(s, "../x").find(""), std::string::npos);
  EXPECT_FALSE(error_of(s, "../x").empty()) << "an account id is checked again";
}

}  // namespace
}  // namespace clawgate::workers::slack
