// InboundRouter: see inbound.hpp.
#include "core/inbound.hpp"

#include <algorithm>
#include <cctype>

#include "core/access.hpp"
#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {
constexpr size_t kSeenMax = 20'000;

// Upstream's pairing alphabet: no 0/O/1/I, so a code survives being read aloud.
std::string pairing_code() {
  static const char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const std::string r = random_bytes(8);
  std::string code;
  for (unsigned char c : r) code.push_back(kAlphabet[c % 32]);
  return code;
}

}  // namespace

InboundRouter::InboundRouter(std::string state_dir, const GatewaySettings& settings,
                             SessionStore* store)
    : dir_(std::move(state_dir)),
      dm_scope_(settings.dm_scope),
      channels_(settings.channels),
      own_store_(store ? nullptr : std::make_unique<SessionStore>(dir_)),
      store_(store ? store : own_store_.get()) {
  make_dirs(dir_ + "/pairing");
  const std::string seen_path = dir_ + "/inbound-seen.log";
  for (const std::string& id : read_lines(seen_path)) {
    if (seen_.insert(id).second) seen_order_.push_back(id);
  }
  while (seen_order_.size() > kSeenMax) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  seen_log_ = std::make_unique<AppendLog>(seen_path);
  if (seen_log_->size() > 4 * 1024 * 1024) {
    std::string content;
    for (const auto& id : seen_order_) content += id + "\n";
    seen_log_->rewrite(content);
  }
  if (auto text = read_file(dir_ + "/pairing/pairing.json")) {
    const Json j = Json::parse(*text, nullptr, false);
    if (j.is_object()) {
      const Json requests = j.value("requests", Json::array());
      for (const auto& r : requests) {
        PairingRequest p;
        p.code = r.value("code", "");
        p.channel = r.value("channel", "");
        p.account_id = r.value("accountId", "default");
        p.sender_id = r.value("senderId", "");
        p.sender_label = r.value("senderLabel", "");
        p.chat_id = r.value("chatId", "");
        p.created_ms = r.value("createdMs", int64_t{0});
        p.last_seen_ms = r.value("lastSeenMs", int64_t{0});
        if (!p.code.empty() && !p.channel.empty()) pending_.push_back(p);
      }
      // "approved": the default accounts' senders, as before accounts existed;
      // "approvedByAccount": every other account's, {channel: {accountId: [ids]}}.
      const Json approved = j.value("approved", Json::object());
      for (auto& [ch, ids] : approved.items())
        if (ids.is_array())
          for (const auto& id : ids)
            if (id.is_string()) approved_[{ch, "default"}].insert(id.get<std::string>());
      const Json by_account = j.value("approvedByAccount", Json::object());
      for (auto& [ch, accounts] : by_account.items())
        if (accounts.is_object())
          for (auto& [account, ids] : accounts.items())
            if (ids.is_array())
              for (const auto& id : ids)
                if (id.is_string()) approved_[{ch, account}].insert(id.get<std::string>());
    }
  }
}

const ChannelSettings* InboundRouter::channel_settings(const std::string& channel,
                                                       const std::string& account_id) const {
  return find_account(channels_, channel, account_id);
}

std::optional<SessionKey> InboundRouter::session_key_for(const InboundMessage& m,
                                                         std::string* why) const {
  SessionKey::Peer p;
  p.channel = m.channel;
  p.account_id = m.account_id;
  // Anything but a direct chat is a group: an unknown chat type gets the stricter rules.
  p.direct = m.chat_type == "direct";
  p.peer_id = p.direct ? m.sender_id : m.chat_id;
  // Upstream's peer kinds: a channel of a server (Discord) keys as "channel", any other as "group".
  p.group_kind = m.chat_type == "channel" ? "channel" : "group";
  p.dm_scope = dm_scope_;
  return SessionKey::for_peer(p, why);
}

GroupFacts InboundRouter::group_facts(const InboundMessage& m) {
  GroupFacts f{m.chat_id, m.sender_id, m.addressed()};
  f.group_id = m.group_id;
  f.parent_chat_id = m.parent_chat_id;
  f.sender_roles = m.sender_roles;
  f.group_name = m.group_name;
  f.chat_name = m.chat_name;
  f.parent_chat_name = m.parent_chat_name;
  return f;
}

bool InboundRouter::bot_allowed(const ChannelSettings& c, const InboundMessage& m) {
  // A group entry's own allowBots (Slack's channels.<id>.allowBots) wins over the account's.
  if (m.chat_type != "direct") {
    const GroupEntry* g = group_entry(c, group_facts(m));
    if (!g)
      if (auto star = c.groups.find("*"); star != c.groups.end()) g = &star->second;
    if (g && g->allow_bots) return *g->allow_bots;
  }
  if (c.allow_bots == "on") return true;
  return c.allow_bots == "mentions" && m.addressed();
}

bool InboundRouter::allowed(const ChannelSettings& c, const InboundMessage& m) const {
  // By id only: a username can change hands (config.cpp warns about username entries).
  if (sender_listed(c.allow_from, m.sender_id)) return true;
  auto it = approved_.find({c.name, c.account_id});
  return it != approved_.end() && it->second.count(m.sender_id);
}

InboundVerdict InboundRouter::handle(const InboundMessage& m, int64_t now_ms) {
  InboundVerdict v;
  const std::string seen_key = m.channel + "/" + m.account_id + "/" + m.id;
  if (seen_.count(seen_key)) {
    v.kind = InboundVerdict::duplicate;
    return v;
  }
  const ChannelSettings* c = channel_settings(m.channel, m.account_id);
  // How the log names where it came from: "telegram", or "telegram:alpha" for a named account.
  const std::string via = m.account_id == "default" ? m.channel : m.channel + ":" + m.account_id;
  const std::string policy = c ? c->dm_policy : "pairing";
  bool accept = true, context = false;
  if (!c) {  // no settings for this channel account: fail closed, and hand out no code
    accept = false;
    v.reason = via + " chat " + m.chat_id + ": channel account not configured";
  } else if (m.sender_is_bot && !bot_allowed(*c, m)) {
    // Another bot: ignored unless allowBots says otherwise (two bots must not loop), and never
    // offered a pairing code.
    accept = false;
    v.quiet = true;
    v.reason = via + " chat " + m.chat_id + ": message from bot " + m.sender_id +
               " ignored (allowBots is " + c->allow_bots + ")";
  } else if (m.chat_type != "direct") {
    const GroupDecision g = decide_group(*c, group_facts(m));
    accept = g.kind != GroupDecision::drop;
    context = g.kind == GroupDecision::context;
    v.reason = g.reason;
    // A refused group is reported once at info (its chat id is what an owner needs to allow
    // it); every later message of a busy group would only flood the log.
    const std::string key = m.channel + "/" + m.account_id + "/" + m.chat_id;
    v.quiet = context ||
              (!accept && (groups_reported_.count(key) || groups_reported_.size() >= kSeenMax));
    if (!accept && groups_reported_.size() < kSeenMax) groups_reported_.insert(key);
  } else {
    if (policy == "disabled") {
      accept = false;
      v.reason = "direct messages are disabled on " + via;
    } else if (policy == "allowlist") {
      accept = c && allowed(*c, m);
      if (!accept) v.reason = "sender " + m.sender_id + " is not in allowFrom";
    } else if (policy == "pairing") {
      accept = c && allowed(*c, m);
      if (!accept) {
        pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                      [&](const PairingRequest& p) {
                                        return now_ms - p.created_ms > kPairingTtlMs;
                                      }),
                       pending_.end());
        auto same_account = [&](const PairingRequest& p) {
          return p.channel == m.channel && p.account_id == m.account_id;
        };
        auto it = std::find_if(pending_.begin(), pending_.end(), [&](const PairingRequest& p) {
          return same_account(p) && p.sender_id == m.sender_id;
        });
        const size_t open =
            static_cast<size_t>(std::count_if(pending_.begin(), pending_.end(), same_account));
        if (it != pending_.end()) {
          it->last_seen_ms = now_ms;
          v.kind = InboundVerdict::pairing_pending;
          v.reason = "sender " + m.sender_id + " awaits pairing approval (code " + it->code + ")";
        } else if (open >= kPairingPerAccount) {
          v.kind = InboundVerdict::refused;
          v.reason = "pairing queue full on " + via + "; message from " + m.sender_id + " dropped";
        } else {
          PairingRequest p;
          p.code = pairing_code();
          p.channel = m.channel;
          p.account_id = m.account_id;
          p.sender_id = m.sender_id;
          p.sender_label = !m.sender_username.empty() ? "@" + m.sender_username : m.sender_name;
          if (p.sender_label.empty()) p.sender_label = m.sender_id;
          p.chat_id = m.chat_id;
          p.created_ms = p.last_seen_ms = now_ms;
          pending_.push_back(p);
          v.kind = InboundVerdict::pairing_sent;
          v.reply = "clawgate: access not configured.\n\nYour " + m.channel +
                    " user id: " + m.sender_id + "\nPairing code: " + p.code +
                    "\n\nAsk the bot owner to approve with:\nclawgate pairing approve " +
                    m.channel + " " + p.code;
          v.reason = "pairing code issued to " + m.sender_id;
        }
        save_pairing();
      }
    }
  }
  std::string why;
  if (accept && !(v.session_key = session_key_for(m, &why))) {
    accept = false;
    v.kind = InboundVerdict::refused;
    v.reason = via + " chat " + m.chat_id + ": no session for it (" + why + ")";
  }
  if (accept) {
    v.kind = context ? InboundVerdict::context : InboundVerdict::accepted;
    append_transcript(*v.session_key, m, now_ms, context);
  } else if (v.kind == InboundVerdict::accepted) {
    v.kind = InboundVerdict::refused;
  }
  seen_log_->append(seen_key);
  seen_.insert(seen_key);
  seen_order_.push_back(seen_key);
  if (seen_order_.size() > kSeenMax) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return v;
}

Json InboundRouter::transcript_entry(const InboundMessage& m, int64_t now_ms) {
  return Json{
      {"type", "message"},
      {"role", "user"},
      {"text", m.text},
      {"ts", m.ts_ms ? m.ts_ms : now_ms},
      {"channel", m.channel},
      {"accountId", m.account_id},
      {"from", {{"id", m.sender_id}, {"name", m.sender_name}, {"username", m.sender_username}}},
      {"chatId", m.chat_id},
      {"messageId", m.message_id},
      {"inboundId", m.id}};
}

void InboundRouter::append_transcript(const SessionKey& key, const InboundMessage& m,
                                      int64_t now_ms, bool context) {
  Json entry = transcript_entry(m, now_ms);
  // Seen in the group but not addressed to the bot: later turns show it to the agent as
  // context (runs.cpp), and no run answers it.
  if (context) entry["context"] = true;
  // Durable now, but not yet a turn: an earlier run still owns the session (see the header).
  if (!context && turn_waits && turn_waits(key)) entry["type"] = "queued";
  store_->append(
      key, std::move(entry),
      Json{{"lastChannel", m.channel},
           {"lastTo", m.chat_id},
           {"lastAccountId", m.account_id},
           {"chatType", m.chat_type},
           {"channel", m.channel},
           {"displayName", !m.sender_username.empty() ? "@" + m.sender_username : m.sender_name}});
  if (own_store_) own_store_->flush();  // nobody else flushes a store of our own
}

void InboundRouter::save_pairing() {
  Json reqs = Json::array();
  for (const auto& p : pending_)
    reqs.push_back({{"code", p.code},
                    {"channel", p.channel},
                    {"accountId", p.account_id},
                    {"senderId", p.sender_id},
                    {"senderLabel", p.sender_label},
                    {"chatId", p.chat_id},
                    {"createdMs", p.created_ms},
                    {"lastSeenMs", p.last_seen_ms}});
  Json approved = Json::object(), by_account = Json::object();
  for (const auto& [where, ids] : approved_) {
    if (where.second == "default")
      approved[where.first] = ids;
    else
      by_account[where.first][where.second] = ids;
  }
  atomic_write_file(
      dir_ + "/pairing/pairing.json",
      dump_json(Json{{"requests", reqs}, {"approved", approved}, {"approvedByAccount", by_account}},
                2));
}

std::vector<PairingRequest> InboundRouter::pairing_requests(int64_t now_ms) {
  std::vector<PairingRequest> out;
  for (const auto& p : pending_)
    if (now_ms - p.created_ms <= kPairingTtlMs) out.push_back(p);
  return out;
}

std::optional<PairingRequest> InboundRouter::approve(const std::string& channel,
                                                     const std::string& account_id,
                                                     const std::string& code, int64_t now_ms) {
  std::string wanted = code;
  std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const PairingRequest& p) {
    return p.channel == channel && p.account_id == account_id && p.code == wanted &&
           now_ms - p.created_ms <= kPairingTtlMs;
  });
  if (it == pending_.end()) return std::nullopt;
  PairingRequest p = *it;
  pending_.erase(it);
  approved_[{channel, p.account_id}].insert(p.sender_id);
  save_pairing();
  return p;
}

}  // namespace clawgate::core
