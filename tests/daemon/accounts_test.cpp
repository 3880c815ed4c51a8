// Multi-account channels end to end: two Telegram accounts (two bots served by one emulator) on
// one gateway, each with its own worker process, driven as a user would (DMs to each bot,
// channels.status, send, kill -9, channels.restart, SIGHUP) and checked at each bot's end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "telegram_emulator.hpp"
#include "test_support.hpp"

namespace clawgate::test {
namespace {

const std::string kAlphaToken = "111111:alpha-token";
const std::string kBetaToken = "222222:beta-token";

// The root holds what both bots share (the emulator, the DM policy); each account only its
// token. defaultAccount: alpha.
Json two_accounts(const TelegramEmulator& emu, const Json& accounts = nullptr) {
  return {{"apiRoot", emu.url()},
          {"dmPolicy", "open"},
          {"pollTimeoutSeconds", 1},
          {"defaultAccount", "alpha"},
          {"accounts", accounts.is_null() ? Json{{"alpha", {{"botToken", kAlphaToken}}},
                                                 {"beta", {{"botToken", kBetaToken}}}}
                                          : accounts}};
}

std::string config_for(const Json& telegram) {
  return Json{{"channels", {{"telegram", telegram}}},
              {"session", {{"dmScope", "per-account-channel-peer"}}}}
      .dump();
}

// channels.status's entry for one account (null when it is not listed).
Json account(GatewayClient& c, const std::string& id) {
  const Json status = c.call("channels.status");  // kept: the loop reads into it
  for (const auto& a : status["channelAccounts"]["telegram"])
    if (a["accountId"] == id) return a;
  return nullptr;
}

bool connected(const GatewayProcess& gw, const std::vector<std::string>& ids) {
  try {
    Client c(gw);
    for (const auto& id : ids) {
      const Json a = account(c.gc, id);
      if (!a.is_object() || !a.value("connected", false)) return false;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

int child_pid(GatewayClient& c, const std::string& name) {
  const Json status = c.call("status");
  for (const auto& p : status["processes"])
    if (p["name"] == name) return p["pid"];
  return 0;
}

// The user messages of one session, in order.
std::vector<std::string> user_texts(GatewayClient& c, const std::string& session) {
  std::vector<std::string> out;
  const Json history = c.call("chat.history", {{"sessionKey", session}});
  for (const auto& m : history["messages"])
    if (m["role"] == "user") out.push_back(m["content"][0]["text"]);
  return out;
}

// The chats a bot has sent to, as the emulator logged them.
std::set<int64_t> chats_answered(TelegramEmulator& bot) {
  std::set<int64_t> out;
  const Json sent = bot.sent();
  for (const auto& m : sent["messages"]) out.insert(m["chat_id"].get<int64_t>());
  return out;
}

TEST(Accounts, EachBotAnswersItsOwnDirectMessagesOnly) {
  TelegramEmulator emu({kAlphaToken, kBetaToken});
  TelegramEmulator alpha = emu.bot(kAlphaToken), beta = emu.bot(kBetaToken);
  GatewayProcess gw({}, config_for(two_accounts(emu)));
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
  Client c(gw);

  const Json status = c.gc.call("channels.status");
  EXPECT_EQ(status["channelOrder"], Json::array({"telegram"})) << "one channel, two accounts";
  EXPECT_EQ(status["channelDefaultAccountId"]["telegram"], "alpha");
  ASSERT_EQ(status["channelAccounts"]["telegram"].size(), 2u) << status.dump(2);
  for (const char* id : {"alpha", "beta"}) {
    const Json a = account(c.gc, id);
    EXPECT_EQ(a["state"], "running") << a.dump();
    EXPECT_EQ(a["dmPolicy"], "open") << "inherited from the channel root";
    EXPECT_EQ(a["restarts"], 0);
  }
  EXPECT_EQ(account(c.gc, "alpha")["name"], "@" + alpha.bot_username());
  EXPECT_EQ(account(c.gc, "beta")["name"], "@" + beta.bot_username());
  EXPECT_GT(child_pid(c.gc, "telegram:alpha"), 0);
  EXPECT_GT(child_pid(c.gc, "telegram:beta"), 0);
  EXPECT_EQ(child_pid(c.gc, "telegram"), 0) << "no worker for an account nobody configured";
  const Json health = c.gc.call("health")["channels"]["telegram"];
  EXPECT_EQ(health["accounts"].size(), 2u) << health.dump();

  // A DM to each bot: each answers its own sender, through its own bot, and only that one.
  alpha.inject(1001, "你好，阿尔法 👋", "li");
  beta.inject(2002, "مرحبا يا بيتا 🌙", "amal");
  ASSERT_TRUE(eventually(
      [&] { return chats_answered(alpha).count(1001) && chats_answered(beta).count(2002); }, 15000))
      << gw.output();
  EXPECT_EQ(chats_answered(alpha), std::set<int64_t>{1001}) << alpha.sent().dump();
  EXPECT_EQ(chats_answered(beta), std::set<int64_t>{2002}) << beta.sent().dump();

  // Each conversation has its own session, keyed by account as upstream's
  // per-account-channel-peer scope keys it.
  EXPECT_EQ(user_texts(c.gc, "agent:main:telegram:alpha:direct:1001"),
            std::vector<std::string>{"你好，阿尔法 👋"});
  EXPECT_EQ(user_texts(c.gc, "agent:main:telegram:beta:direct:2002"),
            std::vector<std::string>{"مرحبا يا بيتا 🌙"});

  // send: a named account sends through its bot; no account, through the default (alpha).
  Json r = c.gc.call("send", {{"channel", "telegram"},
                              {"accountId", "beta"},
                              {"to", "3003"},
                              {"message", "从贝塔发出 🚀"},
                              {"idempotencyKey", "acct-1"}});
  EXPECT_EQ(r["status"], "sent") << r.dump();
  EXPECT_TRUE(chats_answered(beta).count(3003));
  EXPECT_FALSE(chats_answered(alpha).count(3003));
  r = c.gc.call("send", {{"channel", "telegram"},
                         {"to", "4004"},
                         {"message", "من الحساب الافتراضي ✉️"},
                         {"idempotencyKey", "acct-2"}});
  EXPECT_EQ(r["status"], "sent") << r.dump();
  EXPECT_TRUE(chats_answered(alpha).count(4004));
  EXPECT_FALSE(chats_answered(beta).count(4004));
  const Json bad = c.gc.request_frame("send", {{"channel", "telegram"},
                                               {"accountId", "gamma"},
                                               {"to", "1"},
                                               {"message", "x"},
                                               {"idempotencyKey", "acct-3"}});
  EXPECT_EQ(bad["error"]["code"], "INVALID_REQUEST") << bad.dump();
}

TEST(Accounts, PairingIsPerAccount) {
  TelegramEmulator emu({kAlphaToken, kBetaToken});
  TelegramEmulator alpha = emu.bot(kAlphaToken), beta = emu.bot(kBetaToken);
  Json telegram = two_accounts(emu);
  telegram["dmPolicy"] = "pairing";
  GatewayProcess gw({}, config_for(telegram));
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
  Client c(gw);
  beta.inject(5005, "请让我进来 🙏", "mei");
  ASSERT_TRUE(eventually([&] { return chats_answered(beta).count(5005) > 0; })) << gw.output();
  EXPECT_FALSE(chats_answered(alpha).count(5005)) << "the code comes from the bot asked";
  const Json list = c.gc.call("channels.pairing.list", {{"channel", "telegram"}});
  ASSERT_EQ(list["requests"].size(), 1u) << list.dump();
  EXPECT_EQ(list["requests"][0]["accountId"], "beta");
  const std::string code = list["requests"][0]["requestId"];
  EXPECT_TRUE(c.gc.call("channels.pairing.list",
                        {{"channel", "telegram"}, {"accountId", "alpha"}})["requests"]
                  .empty());

  // Approving it as alpha's does nothing; as beta's lets the sender in through beta only.
  const Json wrong =
      c.gc.request_frame("channels.pairing.approve",
                         {{"channel", "telegram"}, {"accountId", "alpha"}, {"requestId", code}});
  EXPECT_EQ(wrong["error"]["code"], "INVALID_REQUEST") << wrong.dump();
  const Json ok = c.gc.call("channels.pairing.approve",
                            {{"channel", "telegram"}, {"accountId", "beta"}, {"requestId", code}});
  EXPECT_EQ(ok["senderId"], "5005");
  const size_t before = beta.sent()["messages"].size();
  beta.inject(5005, "谢谢！现在可以了吗？");
  ASSERT_TRUE(eventually([&] {
    return user_texts(c.gc, "agent:main:telegram:beta:direct:5005").size() == 1;
  })) << gw.output();
  EXPECT_TRUE(eventually([&] { return beta.sent()["messages"].size() > before; }))
      << "beta answers the approved sender";
  alpha.inject(5005, "and through alpha? 🤔");
  ASSERT_TRUE(eventually([&] { return chats_answered(alpha).count(5005) > 0; })) << gw.output();
  EXPECT_NE(alpha.sent()["messages"][0]["text"].get<std::string>().find("Pairing code"),
            std::string::npos)
      << "alpha has not approved the sender: it hands out its own code";
}

TEST(Accounts, KillingOneAccountsWorkerRestartsOnlyThatAccount) {
  TelegramEmulator emu({kAlphaToken, kBetaToken});
  TelegramEmulator alpha = emu.bot(kAlphaToken), beta = emu.bot(kBetaToken);
  GatewayProcess gw({}, config_for(two_accounts(emu)));
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
  Client c(gw);
  const int alpha_pid = child_pid(c.gc, "telegram:alpha");
  const int beta_pid = child_pid(c.gc, "telegram:beta");
  ASSERT_GT(alpha_pid, 0);
  ASSERT_GT(beta_pid, 0);

  ASSERT_EQ(kill(alpha_pid, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        const Json a = account(c.gc, "alpha");
        return a["restarts"] == 1 && a["state"] == "running" && a["connected"] == true;
      },
      15000))
      << gw.output();
  const int alpha_again = child_pid(c.gc, "telegram:alpha");
  EXPECT_NE(alpha_again, alpha_pid);
  EXPECT_EQ(child_pid(c.gc, "telegram:beta"), beta_pid) << "beta's worker was not touched";
  EXPECT_EQ(account(c.gc, "beta")["restarts"], 0);
  EXPECT_TRUE(account(c.gc, "beta")["lastError"].is_null()) << account(c.gc, "beta").dump();
  EXPECT_TRUE(account(c.gc, "alpha")["lastError"].is_string()) << "alpha says why it restarted";

  // Both bots still answer, each its own sender.
  beta.inject(2010, "还在吗？🌍");
  alpha.inject(1010, "هل عدت؟ 🔁");
  ASSERT_TRUE(eventually(
      [&] { return chats_answered(beta).count(2010) && chats_answered(alpha).count(1010); }, 15000))
      << gw.output();
  EXPECT_FALSE(chats_answered(alpha).count(2010));
  EXPECT_FALSE(chats_answered(beta).count(1010));

  // An operator restarts beta: beta alone.
  const Json r = c.gc.call("channels.restart", {{"channel", "telegram"}, {"accountId", "beta"}});
  EXPECT_EQ(r["accountId"], "beta");
  ASSERT_TRUE(eventually(
      [&] {
        const Json b = account(c.gc, "beta");
        return b["restarts"] == 1 && b["state"] == "running" && b["connected"] == true;
      },
      15000))
      << gw.output();
  EXPECT_NE(child_pid(c.gc, "telegram:beta"), beta_pid);
  EXPECT_EQ(child_pid(c.gc, "telegram:alpha"), alpha_again);
  EXPECT_EQ(account(c.gc, "alpha")["restarts"], 1);
  const Json unknown =
      c.gc.request_frame("channels.restart", {{"channel", "telegram"}, {"accountId", "gamma"}});
  EXPECT_EQ(unknown["error"]["code"], "INVALID_REQUEST") << unknown.dump();
}

TEST(Accounts, SighupStartsAnAddedAccountAndStopsARemovedOneAlone) {
  TelegramEmulator emu({kAlphaToken, kBetaToken});
  TelegramEmulator beta = emu.bot(kBetaToken);
  const Json only_alpha = {{"alpha", {{"botToken", kAlphaToken}}}};
  GatewayProcess gw({}, config_for(two_accounts(emu, only_alpha)));
  const std::string config = gw.state_dir() + "/clawgate.json";
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha"}); }, 15000)) << gw.output();
  Client c(gw);
  const int alpha_pid = child_pid(c.gc, "telegram:alpha");
  ASSERT_GT(alpha_pid, 0);

  // beta added: its worker starts, alpha's keeps running.
  std::ofstream(config) << config_for(two_accounts(emu));
  kill(gw.pid(), SIGHUP);
  ASSERT_TRUE(eventually([&] { return connected(gw, {"alpha", "beta"}); }, 15000)) << gw.output();
  Client c2(gw);  // the front restarts with the new accounts table
  EXPECT_EQ(child_pid(c2.gc, "telegram:alpha"), alpha_pid);
  beta.inject(2020, "新账号 🆕");
  ASSERT_TRUE(eventually([&] { return chats_answered(beta).count(2020) > 0; }, 15000))
      << gw.output();
  const int beta_pid = child_pid(c2.gc, "telegram:beta");

  // alpha removed: its worker stops, beta's keeps running.
  const Json only_beta = {{"beta", {{"botToken", kBetaToken}}}};
  Json telegram = two_accounts(emu, only_beta);
  telegram["defaultAccount"] = "beta";
  std::ofstream(config) << config_for(telegram);
  kill(gw.pid(), SIGHUP);
  ASSERT_TRUE(eventually(
      [&] {
        try {
          Client c3(gw);
          return child_pid(c3.gc, "telegram:alpha") == 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      15000))
      << gw.output();
  Client c3(gw);
  EXPECT_EQ(child_pid(c3.gc, "telegram:beta"), beta_pid);
  EXPECT_EQ(c3.gc.call("channels.status")["channelDefaultAccountId"]["telegram"], "beta");
}

}  // namespace
}  // namespace clawgate::test
