# Front <-> channel worker data socket (a socketpair made by the supervisor; the front's end is
# handed over with a control `peer` message). The worker keeps every inbound message until the
# front acknowledges it, so nothing is lost while the front restarts.
@0xca7bbab044d05e6e;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("clawgate::ipc");

using Common = import "common.capnp";

struct DataHello {
  channel @0 :Text;
  accountId @1 :Text;
  generation @2 :UInt32;
}

# A value this build does not know is garbage: the front refuses that message (logged, and
# acknowledged so the worker does not offer it again).
enum ChatType {
  direct @0;   # one person and the bot
  group @1;    # a group chat (Telegram: group, supergroup, channel)
  channel @2;  # a channel of a workspace or server (Discord guild channels and their threads)
}

struct Inbound {
  id @0 :Text;              # unique per channel account (Telegram: update_id); the ack key
  chatId @1 :Text;
  chatType @2 :ChatType;
  senderId @3 :Text;
  senderName @4 :Text;
  senderUsername @5 :Text;
  text @6 :Text;
  messageId @7 :Text;
  tsMs @8 :Int64;
  # Mention gating facts (groups), as the worker saw them:
  wasMentioned @9 :Bool;    # the bot's handle is mentioned (Telegram: @username or text_mention)
  replyToBot @10 :Bool;     # a reply to one of the bot's own messages
  botCommand @11 :Bool;     # starts with a command meant for this bot (/cmd or /cmd@this_bot)
  # Where a group or channel message sits, for group access (core/access.hpp); "" when none:
  groupId @12 :Text;        # the chat's group: Discord guild id, Slack team id
  threadId @13 :Text;       # the thread the message is in (Discord: the thread's channel id)
  parentChatId @14 :Text;   # a thread's parent chat (Discord: the channel the thread is in)
  senderIsBot @15 :Bool;    # written by another bot (the worker never sends its own messages)
  senderRoles @16 :List(Text);  # Discord: the sender's role ids in the guild
  # Names, where config keys may name a place instead of its id (Discord: a guild by its slug, a
  # channel by its name or slug); "" when unknown. Bounded like every text (contract.hpp).
  groupName @17 :Text;      # Discord: the guild's name
  chatName @18 :Text;       # Discord: the channel's (or thread's) name
  parentChatName @19 :Text; # Discord: a thread's parent channel's name
}

struct Outbound {
  deliveryId @0 :Text;      # the front's queue id; results name it
  to @1 :Text;
  text @2 :Text;
  replyToId @3 :Text;
}

struct Delivery {
  deliveryId @0 :Text;
  ok @1 :Bool;
  messageIds @2 :List(Text);  # one per chunk sent
  error @3 :Common.IpcError;
}

# Front -> worker: a run answering this chat is in progress (active) or over. The worker shows
# the platform's typing indicator while active (refreshed as the platform needs), at most a
# bounded time; a worker whose platform has none ignores it.
struct Typing {
  to @0 :Text;
  active @1 :Bool;
}

struct WorkerStatus {
  connected @0 :Bool;
  detail @1 :Text;          # e.g. "polling as @my_bot"
  lastError @2 :Common.IpcError;
  lastInboundMs @3 :Int64;
  lastOutboundMs @4 :Int64;
  botUsername @5 :Text;
  # The live probe (channels.status): latency of the platform's heartbeat and rate-limit state.
  latencyMs @6 :Int64 = -1; # last heartbeat round trip; -1 unknown
  lastEventMs @7 :Int64;    # last event from the platform (any kind), 0 none
  rateLimitedUntilMs @8 :Int64;  # wall time sends wait for a rate limit, 0 none
}

struct Data {
  union {
    hello @0 :DataHello;      # worker -> front, first message
    inbound @1 :Inbound;      # worker -> front
    inboundAck @2 :Text;      # front -> worker: persisted, may be forgotten
    outbound @3 :Outbound;    # front -> worker
    delivery @4 :Delivery;    # worker -> front
    status @5 :WorkerStatus;  # worker -> front, on change
    typing @6 :Typing;        # front -> worker (a worker that shows none ignores it)
    httpRequest @7 :Common.HttpRequest;    # front -> worker (Slack HTTP mode only)
    httpResponse @8 :Common.HttpResponse;  # worker -> front
  }
}
