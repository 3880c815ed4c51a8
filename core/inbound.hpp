// InboundRouter: what happens to a message a channel worker received, before any agent sees it.
// Every channel account has its own settings (the root's inherited, config.hpp), its own
// pairing requests and its own approved senders, as upstream keys them by channel and account.
// 1. Dedupe by (channel, account, id): a worker resends what the front had not acknowledged.
// 2. DM policy (pairing | allowlist | open | disabled): in `pairing`, an unknown sender gets an
//    8-character code (at most 3 open per channel account, 1 h each) that an operator approves
//    with `clawgate pairing approve <channel> <code>`; approved senders are kept in the state
//    dir, per account (an approval on one bot lets nobody in through another).
// 3. Other bots' messages are dropped unless allowBots lets them in (off | on | mentions).
//    Group policy (access.hpp): groupPolicy, groups, groupAllowFrom, mention gating. A permitted
//    group message that is not addressed to the bot is stored as context, not answered.
// 4. Routing to a session key as upstream (session.dmScope; groups by chat), appended to that
//    session's transcript (JSONL, fdatasync) and the sessions index. When that session's turn
//    is taken (turn_waits), the message is kept as a "queued" record instead, and its run
//    writes it as a message when its turn begins, so a transcript reads in turn order.
// Fails: std::system_error when the state dir refuses a write; the caller then does not
// acknowledge the message, so the worker keeps it and sends it again.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/access.hpp"
#include "core/session_key.hpp"
#include "core/sessions.hpp"
#include "fs.hpp"

namespace clawgate::core {

struct InboundMessage {
  // chat_type: direct | group | channel (ipc ChatType's words).
  std::string channel, account_id, id, chat_id, chat_type, sender_id, sender_name, sender_username,
      text, message_id;
  int64_t ts_ms = 0;
  // What mention gating needs, as the channel worker saw it.
  bool was_mentioned = false;  // the bot's handle is mentioned
  bool reply_to_bot = false;   // a reply to one of the bot's messages
  bool bot_command = false;    // a command meant for this bot
  bool addressed() const { return was_mentioned || reply_to_bot || bot_command; }
  // Where a group message sits ("" when the channel has no such thing): the chat's group
  // (Discord guild), the thread it is in, and a thread's parent chat.
  std::string group_id, thread_id, parent_chat_id;
  // Their names where the platform has them (Discord), for config keys written as names.
  std::string group_name, chat_name, parent_chat_name;
  bool sender_is_bot = false;  // another bot wrote it (ChannelSettings::allow_bots decides)
  std::vector<std::string> sender_roles;  // Discord: role ids, for guilds.<id>.roles
};

struct PairingRequest {
  std::string code, channel, account_id, sender_id, sender_label, chat_id;
  int64_t created_ms = 0, last_seen_ms = 0;
};

struct InboundVerdict {
  // context: a group message kept in the group's transcript for later turns, not answered.
  enum Kind { accepted, context, duplicate, pairing_sent, pairing_pending, refused } kind = refused;
  std::optional<SessionKey> session_key;  // accepted, context
  std::string reply;                      // text to send back to the sender (pairing), "" for none
  std::string reason;                     // refused / dropped, for the log
  bool quiet = false;  // routine (e.g. chatter in a group): log at debug, not info
};

class InboundRouter {
 public:
  static constexpr int64_t kPairingTtlMs = 60 * 60 * 1000;
  static constexpr size_t kPairingPerAccount = 3;

  // `store`: the sessions to append to (the front shares one); null: one of its own.
  InboundRouter(std::string state_dir, const GatewaySettings& settings,
                SessionStore* store = nullptr);
  InboundVerdict handle(const InboundMessage& m, int64_t now_ms);

  std::vector<PairingRequest> pairing_requests(int64_t now_ms);
  // Approves the request with `code` on `account_id` of `channel`; returns it, or nothing if
  // unknown, expired or issued by another account.
  std::optional<PairingRequest> approve(const std::string& channel, const std::string& account_id,
                                        const std::string& code, int64_t now_ms);
  // The message's session (SessionKey::for_peer under session.dmScope), or nullopt with the
  // reason when its ids make no valid key.
  std::optional<SessionKey> session_key_for(const InboundMessage& m,
                                            std::string* why = nullptr) const;
  // One account's settings ("" for the channel's default account); null when not configured.
  const ChannelSettings* channel_settings(const std::string& channel,
                                          const std::string& account_id = "") const;
  // The transcript entry for an accepted message (type "message", role "user", its channel,
  // sender and ids).
  static nlohmann::json transcript_entry(const InboundMessage& m, int64_t now_ms);
  // Set by the core: true when a message for this session would wait for an earlier turn.
  std::function<bool(const SessionKey& session_key)> turn_waits;

 private:
  bool allowed(const ChannelSettings& c, const InboundMessage& m) const;
  // Whether a message another bot wrote may be handled (allowBots).
  static bool bot_allowed(const ChannelSettings& c, const InboundMessage& m);
  static GroupFacts group_facts(const InboundMessage& m);
  void save_pairing();
  void append_transcript(const SessionKey& key, const InboundMessage& m, int64_t now_ms,
                         bool context);

  std::string dir_;
  std::string dm_scope_;
  std::vector<ChannelSettings> channels_;
  std::unique_ptr<AppendLog> seen_log_;
  std::set<std::string> seen_;
  std::set<std::string> groups_reported_;  // refused groups already logged at info
  std::deque<std::string> seen_order_;     // bounded: oldest forgotten first
  std::vector<PairingRequest> pending_;
  // (channel, account) -> approved sender ids
  std::map<std::pair<std::string, std::string>, std::set<std::string>> approved_;
  std::unique_ptr<SessionStore> own_store_;
  SessionStore* store_;
};

}  // namespace clawgate::core
