// SessionKey: the session-key grammar, in one place. A key names one conversation,
// "agent:<agentId>:<rest>": "agent:main:main" (the main session), "agent:main:bench-0",
// "agent:main:telegram:group:-1001234567890". parse() takes any key OpenClaw accepts and gives
// the canonical form OpenClaw stores it under (upstream's src/routing/session-key.ts and
// src/gateway/session-store-key.ts):
//   - surrounding white space is trimmed, and the key lowercased as JavaScript lowercases it,
//     except Signal group ids and Matrix room ids, which are case-sensitive on their platforms;
//   - "main" and "global" name the main session ("global" as upstream's chat.send takes it
//     when sessions are per sender, clawgate's only scope);
//   - any other key without the "agent:" head belongs to the default agent: "bench-0" is
//     "agent:main:bench-0", "Bench-0" the same;
//   - the agent segment stays as written (lowercased); agent_id() is its normalized id as
//     upstream routes it ([a-z0-9_-], other characters as "-", at most 64; the default agent
//     when nothing is left).
// Refused, with a message saying why (upstream's "malformed session key" where it has one):
// an empty key, invalid UTF-8, a control character (U+0000-U+001F, U+007F-U+009F), an "agent:"
// head without an agent id or without a rest ("agent:main", "agent::x", "agent:main:",
// "agent:main::x"), a bare key starting with ":" (upstream turns ":x" into "agent:main::x",
// which its own parser calls malformed), a rest longer than 512 characters (code points;
// upstream bounds chat.send keys at 512) or a key longer than 583. Canonical keys parse to
// themselves. Nothing here throws except std::bad_alloc.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace clawgate::core {

class SessionKey {
 public:
  static constexpr std::string_view kDefaultAgent = "main";
  static constexpr size_t kMaxRestChars = 512;    // code points after "agent:<id>:"
  static constexpr size_t kMaxAgentIdChars = 64;  // upstream's agent id bound
  static constexpr size_t kMaxKeyChars = 6 + kMaxAgentIdChars + 1 + kMaxRestChars;

  // What a key says about its conversation: upstream's session classification
  // (src/gateway/session-classification.ts), from the key alone.
  enum class Kind {
    main,       // agent:<id>:main
    subagent,   // agent:<id>:subagent:...
    acp,        // agent:<id>:acp:...
    cron,       // agent:<id>:cron:<job>...
    thread,     // ...:thread:<id>
    group,      // agent:<id>:<channel>:group:<peer>
    channel,    // agent:<id>:<channel>:channel:<peer>
    direct,     // agent:<id>:<channel>[:<account>]:direct:<peer>, agent:<id>:direct:<peer>
    dashboard,  // the rest's own prefixes, for keys no route explains
    tui,
    explicit_,
    hook,
    node,
    harness,
    voice,
    dreaming,
    system,
    custom,  // anything else ("agent:main:bench-0")
  };

  // The canonical key for `raw`, or nullopt with the reason in `*why` (when given).
  static std::optional<SessionKey> parse(std::string_view raw, std::string* why = nullptr);

  // The default agent's main session, "agent:main:main".
  static SessionKey main();

  // The session an inbound channel message belongs to, as upstream's buildAgentPeerSessionKey:
  // a direct message by session.dmScope ("main": the main session; "per-peer":
  // agent:main:direct:<peer>; "per-channel-peer": agent:main:<channel>:direct:<peer>;
  // "per-account-channel-peer": agent:main:<channel>:<account>:direct:<peer>), any other chat
  // one session per chat (agent:main:<channel>:group:<chat>, or agent:main:<channel>:channel:<chat>
  // for a server's channel). Peer ids are lowercased, except
  // where parse() keeps their case; the account id is normalized as upstream's account ids are
  // ("default" when empty). Nullopt, with the reason, when the ids make no valid key (a control
  // character, too long).
  struct Peer {
    std::string_view channel, account_id, peer_id;
    bool direct = true;
    std::string_view group_kind = "group";  // not direct: "group", or "channel" (Discord)
    std::string_view dm_scope = "main";
  };
  static std::optional<SessionKey> for_peer(const Peer& p, std::string* why = nullptr);

  // A cron job's own (isolated) session: agent:main:cron:<jobId>.
  static std::optional<SessionKey> for_cron_job(std::string_view job_id,
                                                std::string* why = nullptr);

  const std::string& str() const { return text_; }
  // The agent the key routes to (normalized; "main" for "agent:main:x" and "bench-0").
  const std::string& agent_id() const { return agent_; }
  std::string_view rest() const { return std::string_view(text_).substr(7 + segment_len_); }
  // The agent's main session: "agent:<agentId>:main" exactly ("agent: main :main" is not).
  bool is_main() const { return rest() == "main" && text_.compare(6, segment_len_, agent_) == 0; }
  Kind kind() const;
  // Upstream's name for kind(): "main", "direct", "group", ..., "explicit", "custom".
  static std::string_view kind_name(Kind k);
  // Automation rather than a conversation (cron, subagent, acp, hook, harness, dreaming,
  // system), as upstream's isBackground.
  bool background() const;
  // sessions.list's "kind" from the key (upstream's classifySessionKind): "cron", "group" (group
  // and channel chats), or "direct". A stored chatType of group or channel also makes "group".
  std::string_view list_kind() const;

  bool operator==(const SessionKey& o) const { return text_ == o.text_; }
  bool operator!=(const SessionKey& o) const { return text_ != o.text_; }
  bool operator<(const SessionKey& o) const { return text_ < o.text_; }

 private:
  SessionKey(std::string text, size_t segment_len, std::string agent)
      : text_(std::move(text)), segment_len_(segment_len), agent_(std::move(agent)) {}

  std::string text_;    // "agent:" + agent segment + ":" + rest
  size_t segment_len_;  // bytes of the agent segment
  std::string agent_;   // the segment's normalized agent id
};

}  // namespace clawgate::core
