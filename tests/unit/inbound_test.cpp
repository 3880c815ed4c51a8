// Unit tests: InboundRouter: DM policies (open, disabled, allowlist, pairing with codes and
// approval), group policy and mention gating (context-only messages), dedupe across restarts,
// session keys per dmScope, and transcript appends.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/inbound.hpp"
#include "fs.hpp"

namespace clawgate::core {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
const std::string kAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class InboundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/clawgate-inbound-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static GatewaySettings settings(const std::string& policy,
                                  std::vector<std::string> allow_from = {},
                                  const std::string& dm_scope = "main") {
    GatewaySettings s;
    ChannelSettings c;
    c.name = "telegram";
    c.dm_policy = policy;
    c.allow_from = std::move(allow_from);
    s.channels.push_back(c);
    s.dm_scope = dm_scope;
    return s;
  }

  // `s` with a second account of its first channel, with the same settings.
  static GatewaySettings with_account(GatewaySettings s, const std::string& account_id) {
    ChannelSettings c = s.channels.at(0);
    c.account_id = account_id;
    s.channels.push_back(c);
    return s;
  }

  // A direct message; every call gets a fresh message id unless one is given.
  InboundMessage dm(const std::string& sender, const std::string& username = "",
                    const std::string& text = "hello", std::string id = "") {
    InboundMessage m;
    m.channel = "telegram";
    m.account_id = "default";
    m.id = id.empty() ? std::to_string(++next_id_) : id;
    m.chat_id = sender;
    m.chat_type = "direct";
    m.sender_id = sender;
    m.sender_name = "Name " + sender;
    m.sender_username = username;
    m.text = text;
    m.message_id = "m" + m.id;
    return m;
  }

  // The pairing code from a pairing reply (the last word of the approve command).
  static std::string code_in(const std::string& reply) {
    const std::string cmd = "clawgate pairing approve telegram ";
    const auto at = reply.find(cmd);
    if (at == std::string::npos) return "";
    return reply.substr(at + cmd.size(), 8);
  }

  std::string dir_;
  int next_id_ = 1000;
};

// While an earlier turn owns the session, an accepted message is on disk as a queued record,
// not yet in the history the agent and clients read (its run writes it when its turn begins).
TEST_F(InboundTest, AMessageForABusySessionIsKeptAsAQueuedRecord) {
  SessionStore store(dir_);
  InboundRouter r(dir_, settings("open"), &store);
  std::set<std::string> busy;
  r.turn_waits = [&](const SessionKey& key) { return busy.count(key.str()) > 0; };
  EXPECT_EQ(r.handle(dm("42", "", "first 你好"), kT0).kind, InboundVerdict::accepted);
  busy.insert("agent:main:main");
  EXPECT_EQ(r.handle(dm("42", "", "second مرحبا 👋🏽"), kT0 + 1).kind,
            InboundVerdict::accepted);
  const auto history = store.read(SessionKey::main(), 10);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["text"], "first 你好");
  const std::string file =
      read_file(dir_ + "/sessions/" + SessionStore::file_name("agent:main:main")).value_or("");
  EXPECT_TRUE(contains(file, "\"type\":\"queued\"")) << file;
  EXPECT_TRUE(contains(file, "second مرحبا 👋🏽")) << file;
  EXPECT_EQ(store.entry(SessionKey::main())["messages"], 1) << "counted when it becomes a turn";
  const Json entry = InboundRouter::transcript_entry(dm("42", "bob", "x", "77"), kT0);
  EXPECT_EQ(entry["type"], "message");
  EXPECT_EQ(entry["inboundId"], "77");
  EXPECT_EQ(entry["from"]["username"], "bob");
}

TEST_F(InboundTest, OpenPolicyAcceptsAnyone) {
  InboundRouter r(dir_, settings("open"));
  const InboundVerdict v = r.handle(dm("42"), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::accepted);
  EXPECT_EQ(v.session_key.value().str(), "agent:main:main");
  EXPECT_TRUE(v.reply.empty());
}

TEST_F(InboundTest, DisabledPolicyRefusesDirectMessages) {
  InboundRouter r(dir_, settings("disabled"));
  const InboundVerdict v = r.handle(dm("42"), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::refused);
  EXPECT_FALSE(v.reason.empty());
  EXPECT_TRUE(v.reply.empty()) << "a disabled channel does not answer";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/sessions/agent_main_main.jsonl"))
      << "a refused message must not reach a transcript";
}

TEST_F(InboundTest, AllowlistAcceptsByIdOnlyAndRefusesOthers) {
  InboundRouter r(dir_, settings("allowlist", {"123", "@alice"}));
  EXPECT_EQ(r.handle(dm("123"), kT0).kind, InboundVerdict::accepted);
  EXPECT_EQ(r.handle(dm("555", "alice"), kT0).kind, InboundVerdict::refused)
      << "usernames can change hands: an @username entry never matches";
  const InboundVerdict v = r.handle(dm("777", "bob"), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::refused);
  EXPECT_TRUE(contains(v.reason, "777")) << v.reason;
  EXPECT_TRUE(v.reply.empty()) << "allowlist does not hand out pairing codes";
  EXPECT_EQ(r.handle(dm("1234"), kT0).kind, InboundVerdict::refused) << "no prefix matching";
  EXPECT_TRUE(r.pairing_requests(kT0).empty());

  InboundRouter wildcard(dir_ + "/w", settings("allowlist", {"*"}));
  EXPECT_EQ(wildcard.handle(dm("31337"), kT0).kind, InboundVerdict::accepted);
}

TEST_F(InboundTest, PairingIssuesOneCodePerSenderAndApprovalLetsThemIn) {
  InboundRouter r(dir_, settings("pairing"));
  const InboundVerdict first = r.handle(dm("42", "carol"), kT0);
  ASSERT_EQ(first.kind, InboundVerdict::pairing_sent);
  const std::string code = code_in(first.reply);
  ASSERT_EQ(code.size(), 8u) << first.reply;
  for (char c : code)
    EXPECT_NE(kAlphabet.find(c), std::string::npos) << "'" << c << "' in " << code;
  EXPECT_TRUE(contains(first.reply, "clawgate pairing approve telegram " + code)) << first.reply;
  EXPECT_TRUE(contains(first.reply, "42")) << "the reply tells the sender their id";

  const std::vector<PairingRequest> reqs = r.pairing_requests(kT0);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].code, code);
  EXPECT_EQ(reqs[0].sender_id, "42");
  EXPECT_EQ(reqs[0].sender_label, "@carol");

  // Asking again: no second code, no reply.
  const InboundVerdict again = r.handle(dm("42", "carol"), kT0 + 1000);
  EXPECT_EQ(again.kind, InboundVerdict::pairing_pending);
  EXPECT_TRUE(again.reply.empty());
  ASSERT_EQ(r.pairing_requests(kT0 + 1000).size(), 1u);
  EXPECT_EQ(r.pairing_requests(kT0 + 1000)[0].code, code);

  // Wrong channel or an unknown code approves nothing.
  EXPECT_FALSE(r.approve("discord", "default", code, kT0 + 2000).has_value());
  EXPECT_FALSE(r.approve("telegram", "default", "ZZZZZZZZ", kT0 + 2000).has_value());

  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto approved = r.approve("telegram", "default", lower, kT0 + 2000);
  ASSERT_TRUE(approved.has_value()) << "codes are case-insensitive";
  EXPECT_EQ(approved->sender_id, "42");
  EXPECT_TRUE(r.pairing_requests(kT0 + 2000).empty());
  EXPECT_FALSE(r.approve("telegram", "default", code, kT0 + 2000).has_value())
      << "a code works once";

  const InboundVerdict in = r.handle(dm("42", "carol", "now let me in"), kT0 + 3000);
  EXPECT_EQ(in.kind, InboundVerdict::accepted);
  EXPECT_EQ(in.session_key.value().str(), "agent:main:main");
  EXPECT_EQ(r.handle(dm("43"), kT0 + 3000).kind, InboundVerdict::pairing_sent)
      << "approval is per sender";
}

// Two accounts of one channel (two bots): settings, pairing requests and approvals are each
// account's own, as upstream keys them by channel and account.
TEST_F(InboundTest, PairingAndPoliciesArePerAccount) {
  GatewaySettings s = settings("pairing");
  s.channels[0].account_id = "alpha";
  s.channels[0].default_account_id = "alpha";
  ChannelSettings beta = s.channels[0];
  beta.account_id = "beta";
  beta.dm_policy = "allowlist";
  beta.allow_from = {"7"};
  s.channels.push_back(beta);
  s.dm_scope = "per-account-channel-peer";
  InboundRouter r(dir_, s);
  auto via = [&](const std::string& account, const std::string& sender, const std::string& text) {
    InboundMessage m = dm(sender, "", text);
    m.account_id = account;
    return m;
  };
  // beta's own policy: allowlist; alpha's: pairing.
  const InboundVerdict b = r.handle(via("beta", "7", "مرحبا 👋"), kT0);
  ASSERT_EQ(b.kind, InboundVerdict::accepted);
  EXPECT_EQ(b.session_key->str(), "agent:main:telegram:beta:direct:7");
  EXPECT_EQ(r.handle(via("alpha", "7", "你好"), kT0).kind, InboundVerdict::pairing_sent)
      << "beta's allowFrom is not alpha's";

  // A code approves on the account that issued it, and lets the sender in there only.
  const std::string code = r.pairing_requests(kT0).at(0).code;
  EXPECT_EQ(r.pairing_requests(kT0)[0].account_id, "alpha");
  EXPECT_FALSE(r.approve("telegram", "beta", code, kT0 + 1).has_value());
  ASSERT_TRUE(r.approve("telegram", "alpha", code, kT0 + 1).has_value());
  EXPECT_EQ(r.handle(via("alpha", "7", "谢谢 🙏"), kT0 + 2).kind, InboundVerdict::accepted);
  const InboundVerdict p = r.handle(via("alpha", "8", "hi"), kT0 + 3);
  ASSERT_EQ(p.kind, InboundVerdict::pairing_sent);
  ASSERT_TRUE(r.approve("telegram", "alpha", code_in(p.reply), kT0 + 4).has_value());
  EXPECT_EQ(r.handle(via("beta", "8", "hi"), kT0 + 5).kind, InboundVerdict::refused)
      << "an approval on alpha lets nobody in through beta";

  // Three open requests per account: alpha's full queue leaves room on another account.
  GatewaySettings both_pairing = s;
  both_pairing.channels[1].dm_policy = "pairing";
  InboundRouter q(dir_ + "/q", both_pairing);
  for (const char* sender : {"1", "2", "3"})
    EXPECT_EQ(q.handle(via("alpha", sender, "x"), kT0).kind, InboundVerdict::pairing_sent);
  EXPECT_EQ(q.handle(via("alpha", "4", "x"), kT0).kind, InboundVerdict::refused);
  EXPECT_EQ(q.handle(via("beta", "4", "x"), kT0).kind, InboundVerdict::pairing_sent);

  // Approvals survive a restart, per account.
  InboundRouter again(dir_, s);
  EXPECT_EQ(again.handle(via("alpha", "8", "back"), kT0 + 6).kind, InboundVerdict::accepted);
  EXPECT_EQ(again.handle(via("beta", "8", "back"), kT0 + 6).kind, InboundVerdict::refused);
}

TEST_F(InboundTest, PairingQueueHoldsThreeSendersAndExpiresAfterAnHour) {
  InboundRouter r(dir_, settings("pairing"));
  std::set<std::string> codes;
  for (const char* s : {"1", "2", "3"}) {
    const InboundVerdict v = r.handle(dm(s), kT0);
    ASSERT_EQ(v.kind, InboundVerdict::pairing_sent) << s;
    codes.insert(code_in(v.reply));
  }
  EXPECT_EQ(codes.size(), 3u) << "each sender gets its own code";
  const InboundVerdict fourth = r.handle(dm("4"), kT0 + 10);
  EXPECT_EQ(fourth.kind, InboundVerdict::refused);
  EXPECT_TRUE(fourth.reply.empty());
  EXPECT_EQ(r.pairing_requests(kT0 + 10).size(), 3u);
  EXPECT_EQ(r.handle(dm("2"), kT0 + 20).kind, InboundVerdict::pairing_pending)
      << "a sender already waiting is still told it is pending";

  // An hour later the old requests are gone: codes no longer approve, new senders get codes.
  const int64_t later = kT0 + InboundRouter::kPairingTtlMs + 1;
  EXPECT_TRUE(r.pairing_requests(later).empty());
  EXPECT_FALSE(r.approve("telegram", "default", *codes.begin(), later).has_value());
  EXPECT_EQ(r.handle(dm("4"), later).kind, InboundVerdict::pairing_sent);
}

TEST_F(InboundTest, ApprovalsAndPendingRequestsSurviveARestart) {
  std::string code_a, code_b;
  {
    InboundRouter r(dir_, settings("pairing"));
    code_a = code_in(r.handle(dm("100"), kT0).reply);
    code_b = code_in(r.handle(dm("200"), kT0).reply);
    ASSERT_TRUE(r.approve("telegram", "default", code_a, kT0 + 1).has_value());
  }
  InboundRouter r(dir_, settings("pairing"));
  EXPECT_EQ(r.handle(dm("100"), kT0 + 2).kind, InboundVerdict::accepted);
  const std::vector<PairingRequest> reqs = r.pairing_requests(kT0 + 2);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].code, code_b);
  EXPECT_EQ(r.handle(dm("200"), kT0 + 3).kind, InboundVerdict::pairing_pending);
  ASSERT_TRUE(r.approve("telegram", "default", code_b, kT0 + 4).has_value());
  EXPECT_EQ(r.handle(dm("200"), kT0 + 5).kind, InboundVerdict::accepted);
}

TEST_F(InboundTest, DuplicateMessageIdsAreDroppedAlsoAfterARestart) {
  {
    InboundRouter r(dir_, with_account(settings("open"), "work"));
    EXPECT_EQ(r.handle(dm("42", "", "once", "777"), kT0).kind, InboundVerdict::accepted);
    EXPECT_EQ(r.handle(dm("42", "", "once", "777"), kT0 + 1).kind, InboundVerdict::duplicate);
    // The same id on another account is another message.
    InboundMessage other = dm("42", "", "other account", "777");
    other.account_id = "work";
    EXPECT_EQ(r.handle(other, kT0 + 2).kind, InboundVerdict::accepted);
  }
  InboundRouter r(dir_, settings("open"));
  EXPECT_EQ(r.handle(dm("42", "", "once", "777"), kT0 + 3).kind, InboundVerdict::duplicate);
  EXPECT_EQ(r.handle(dm("42", "", "new", "778"), kT0 + 4).kind, InboundVerdict::accepted);

  const auto transcript = read_lines(dir_ + "/sessions/agent_main_main.jsonl");
  int onces = 0;
  for (const auto& line : transcript)
    if (nlohmann::json::parse(line).value("text", "") == "once") ++onces;
  EXPECT_EQ(onces, 1) << "a duplicate must not be appended twice";
}

TEST_F(InboundTest, AMessageThroughAnAccountNobodyConfiguredIsRefused) {
  InboundRouter r(dir_, settings("open"));
  InboundMessage m = dm("42", "", "你好");
  m.account_id = "ghost";
  EXPECT_EQ(r.handle(m, kT0).kind, InboundVerdict::refused) << "no settings: fail closed";
  m.chat_type = "group";
  m.chat_id = "-1001";
  m.id = "g1";
  EXPECT_EQ(r.handle(m, kT0).kind, InboundVerdict::refused);
}

TEST_F(InboundTest, SessionKeysFollowDmScope) {
  const InboundMessage m = [&] {
    InboundMessage x = dm("42");
    x.account_id = "work";
    return x;
  }();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"main", "agent:main:main"},
      {"per-peer", "agent:main:direct:42"},
      {"per-channel-peer", "agent:main:telegram:direct:42"},
      {"per-account-channel-peer", "agent:main:telegram:work:direct:42"},
  };
  for (const auto& [scope, key] : cases) {
    InboundRouter r(dir_ + "/" + scope, with_account(settings("open", {}, scope), "work"));
    EXPECT_EQ(r.session_key_for(m).value().str(), key) << scope;
    InboundMessage fresh = m;
    fresh.id = "id-" + scope;
    EXPECT_EQ(r.handle(fresh, kT0).session_key.value().str(), key) << scope;

    // Groups are keyed by chat whatever the DM scope.
    InboundMessage g = dm("42");
    g.chat_type = "group";
    g.chat_id = "-100123";
    EXPECT_EQ(r.session_key_for(g).value().str(), "agent:main:telegram:group:-100123") << scope;
  }
}

TEST_F(InboundTest, AcceptedMessagesAreAppendedToTheSessionTranscript) {
  GatewaySettings s = settings("open", {}, "per-channel-peer");
  s.channels[0].groups["-100"].require_mention = false;
  InboundRouter r(dir_, s);
  InboundMessage m1 = dm("42", "dave", "first \"message\" é 😀");
  m1.ts_ms = kT0 - 5;
  ASSERT_EQ(r.handle(m1, kT0).kind, InboundVerdict::accepted);
  ASSERT_EQ(r.handle(dm("42", "dave", "second"), kT0 + 1).kind, InboundVerdict::accepted);
  InboundMessage g = dm("7", "", "in the group");
  g.chat_type = "group";
  g.chat_id = "-100";
  ASSERT_EQ(r.handle(g, kT0 + 2).kind, InboundVerdict::accepted);

  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/sessions"))
    if (e.path().extension() == ".jsonl") files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 2u) << "one transcript per session";

  const auto text = read_file(dir_ + "/sessions/agent_main_telegram_direct_42.jsonl");
  ASSERT_TRUE(text.has_value());
  EXPECT_TRUE(contains(*text, "second"));
  const auto lines = read_lines(dir_ + "/sessions/agent_main_telegram_direct_42.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j.value("text", ""), "first \"message\" é 😀");
  EXPECT_EQ(j.value("role", ""), "user");
  EXPECT_EQ(j.value("ts", int64_t{0}), kT0 - 5);
  EXPECT_EQ(j["from"].value("id", ""), "42");

  const auto group = read_lines(dir_ + "/sessions/agent_main_telegram_group_-100.jsonl");
  ASSERT_EQ(group.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(group[0]).value("text", ""), "in the group");

  const auto index = read_file(dir_ + "/sessions/sessions.json");
  ASSERT_TRUE(index.has_value());
  const auto idx = nlohmann::json::parse(*index);
  ASSERT_TRUE(idx.contains("agent:main:telegram:direct:42"));
  EXPECT_EQ(idx["agent:main:telegram:direct:42"].value("messages", 0), 2);
}

InboundMessage group_msg(const std::string& sender, const std::string& text, const std::string& id,
                         bool mentioned = false) {
  InboundMessage m;
  m.channel = "telegram";
  m.account_id = "default";
  m.id = id;
  m.chat_id = "-1001";
  m.chat_type = "group";
  m.sender_id = sender;
  m.sender_name = "Name " + sender;
  m.text = text;
  m.message_id = "m" + id;
  m.was_mentioned = mentioned;
  return m;
}

TEST_F(InboundTest, OtherBotsAreDroppedUnlessAllowBotsLetsThemIn) {
  GatewaySettings s = settings("open", {"*"});
  InboundRouter off(dir_ + "/off", s);
  InboundMessage m = dm("555", "", "beep");
  m.sender_is_bot = true;
  InboundVerdict v = off.handle(m, kT0);
  EXPECT_EQ(v.kind, InboundVerdict::refused);
  EXPECT_NE(v.reason.find("allowBots"), std::string::npos) << v.reason;
  EXPECT_TRUE(v.quiet);
  s.channels[0].allow_bots = "mentions";
  InboundRouter mentions(dir_ + "/mentions", s);
  EXPECT_EQ(mentions.handle(m, kT0).kind, InboundVerdict::refused) << "not addressed";
  m.id = "b2";
  m.was_mentioned = true;
  EXPECT_EQ(mentions.handle(m, kT0).kind, InboundVerdict::accepted);
  s.channels[0].allow_bots = "on";
  InboundRouter on(dir_ + "/on", s);
  m.was_mentioned = false;
  EXPECT_EQ(on.handle(m, kT0).kind, InboundVerdict::accepted);
  // A group entry's own allowBots (Slack's per channel) wins over the account's.
  s.channels[0].allow_bots = "off";
  s.channels[0].groups["-1001"].allow_bots = true;
  s.channels[0].groups["-1001"].require_mention = false;
  s.channels[0].group_policy = "open";
  InboundRouter per_group(dir_ + "/group", s);
  InboundMessage g = group_msg("555", "beep", "g-1", false);
  g.sender_is_bot = true;
  EXPECT_EQ(per_group.handle(g, kT0).kind, InboundVerdict::accepted);
}

TEST_F(InboundTest, GroupsAreBlockedUntilAllowedAndStrangersNeverReachTheTranscript) {
  // The default: groupPolicy allowlist and no groups: a bot added to any group stays silent.
  InboundRouter r(dir_, settings("open", {"111"}));
  InboundVerdict v = r.handle(group_msg("111", "@bot 你好", "1", true), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::refused);
  EXPECT_TRUE(contains(v.reason, "-1001")) << v.reason;
  EXPECT_TRUE(v.reply.empty()) << "a refused group gets no answer at all";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/sessions/agent_main_telegram_group_-1001.jsonl"));
  EXPECT_FALSE(v.quiet) << "the first refusal is logged where the owner sees the chat id";
  v = r.handle(group_msg("111", "again", "1b", true), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::refused);
  EXPECT_TRUE(v.quiet) << "a busy refused group does not flood the log";

  GatewaySettings s = settings("open", {"111"});
  s.channels[0].groups["-1001"] = GroupEntry{};
  InboundRouter allowed(dir_ + "/2", s);
  v = allowed.handle(group_msg("999", "@bot مرحبا", "2", true), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::refused) << "a stranger in an allowed group";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/2/sessions/agent_main_telegram_group_-1001.jsonl"));
}

TEST_F(InboundTest, AnUnknownChatTypeGetsTheGroupRulesNotTheDmPolicy) {
  InboundRouter r(dir_, settings("open"));
  InboundMessage m = dm("42", "", "hi");
  m.chat_type = "broadcast";
  m.chat_id = "-1009";
  EXPECT_EQ(r.handle(m, kT0).kind, InboundVerdict::refused) << "dmPolicy open must not apply";
  EXPECT_EQ(r.session_key_for(m).value().str(), "agent:main:telegram:group:-1009");
  // A server's channel (Discord) has the group rules too, and upstream's "channel" key.
  m.chat_type = "channel";
  m.id = "43";
  EXPECT_EQ(r.handle(m, kT0).kind, InboundVerdict::refused) << "dmPolicy open must not apply";
  EXPECT_EQ(r.session_key_for(m).value().str(), "agent:main:telegram:channel:-1009");
}

TEST_F(InboundTest, DmPairingApprovalDoesNotAuthorizeGroups) {
  GatewaySettings s = settings("pairing");
  s.channels[0].groups["*"] = GroupEntry{};
  s.channels[0].group_allow_from = std::vector<std::string>{"111"};
  InboundRouter r(dir_, s);
  const InboundVerdict p = r.handle(dm("222"), kT0);
  ASSERT_EQ(p.kind, InboundVerdict::pairing_sent);
  ASSERT_TRUE(r.approve("telegram", "default", code_in(p.reply), kT0));
  EXPECT_EQ(r.handle(dm("222"), kT0).kind, InboundVerdict::accepted);
  EXPECT_EQ(r.handle(group_msg("222", "@bot hi 😀", "g1", true), kT0).kind, InboundVerdict::refused);
  EXPECT_EQ(r.handle(group_msg("111", "@bot hi 😀", "g2", true), kT0).kind,
            InboundVerdict::accepted);
}

TEST_F(InboundTest, UnmentionedGroupMessagesAreContextInTheGroupTranscript) {
  GatewaySettings s = settings("open", {"111", "333"});
  s.channels[0].groups["-1001"] = GroupEntry{};
  InboundRouter r(dir_, s);
  InboundVerdict v = r.handle(group_msg("333", "明天下午三点开会", "1"), kT0);
  EXPECT_EQ(v.kind, InboundVerdict::context);
  EXPECT_EQ(v.session_key.value().str(), "agent:main:telegram:group:-1001");
  InboundMessage reply = group_msg("111", "what time is the meeting?", "2");
  reply.reply_to_bot = true;
  EXPECT_EQ(r.handle(reply, kT0 + 1).kind, InboundVerdict::accepted) << "a reply to the bot";
  InboundMessage cmd = group_msg("111", "/status", "3");
  cmd.bot_command = true;
  EXPECT_EQ(r.handle(cmd, kT0 + 2).kind, InboundVerdict::accepted) << "a command for the bot";
  EXPECT_EQ(r.handle(group_msg("111", "@bot 🎉 ok", "4", true), kT0 + 3).kind,
            InboundVerdict::accepted);

  const auto lines = read_lines(dir_ + "/sessions/agent_main_telegram_group_-1001.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first.value("text", ""), "明天下午三点开会");
  EXPECT_TRUE(first.value("context", false)) << "marked so the agent reads it as context";
  for (size_t i = 1; i < lines.size(); ++i)
    EXPECT_FALSE(nlohmann::json::parse(lines[i]).value("context", false)) << lines[i];
  // The same update again is a duplicate, not a second context line.
  EXPECT_EQ(r.handle(group_msg("333", "明天下午三点开会", "1"), kT0 + 4).kind,
            InboundVerdict::duplicate);
}

}  // namespace
}  // namespace clawgate::core
