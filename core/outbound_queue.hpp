// OutboundQueue: the front's durable queue of messages to deliver through channel workers.
// Every `send` is journalled (append + fdatasync) before it is acknowledged, and its outcome
// is journalled when the worker reports it; on start the journal is replayed, so a message is
// never silently lost to a front or worker crash. The journal also remembers the idempotency
// key of each message for the dedupe window, across restarts.
// Fails: enqueue throws QueueFull past `max_pending` entries or kMaxPendingBytes of text
// (nothing is written) and std::system_error
// when the disk refuses the write (nothing was acknowledged). A corrupt journal line is skipped
// with a warning, never fatal. An entry whose delivery keeps dying with its worker is counted
// (`lost` records) so the hub can set it aside after a few attempts.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fs.hpp"

namespace clawgate::core {

struct QueueFull : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OutboundEntry {
  std::string id, channel, account_id, to, text, idempotency_key;
  int64_t enqueued_ms = 0;
  // Deliveries lost with their worker link (journalled): past OutboundQueue's limit the entry
  // is set aside instead of sent again, so one message can never keep a channel down.
  int lost = 0;
  // Not journalled: delivery bookkeeping of this front process.
  bool in_flight = false;
  std::string in_flight_to;  // the worker link (name#generation) that has it
  int attempts = 0;
  int64_t not_before_ms = 0;
};

struct OutboundOutcome {
  std::string id, channel, idempotency_key;
  bool ok = false;
  nlohmann::json detail;  // ok: {messageIds:[...]}; failed: {code, message, ...}
  int64_t done_ms = 0;
};

class OutboundQueue {
 public:
  static constexpr int64_t kDedupeWindowMs = 5 * 60 * 1000;
  static constexpr size_t kMaxPendingBytes = 64u << 20;  // of text waiting, across channels

  OutboundQueue(const std::string& dir, size_t max_pending);
  // Replays the journal; returns warnings about skipped lines.
  std::vector<std::string> load(int64_t now_ms);

  const OutboundEntry& enqueue(OutboundEntry e, int64_t now_ms);
  void complete(const std::string& id, bool ok, nlohmann::json detail, int64_t now_ms);
  // Records that the delivery of `id` was lost with its worker (durably); returns how many
  // times that has happened to it.
  int lost(const std::string& id);

  OutboundEntry* find(const std::string& id);
  const OutboundEntry* pending_for_key(const std::string& key) const;
  const OutboundOutcome* outcome_for_key(const std::string& key, int64_t now_ms) const;
  // Pending entries of one account of `channel` in enqueue order.
  std::vector<OutboundEntry*> pending(const std::string& channel, const std::string& account_id);
  size_t pending_count() const { return pending_.size(); }
  uint64_t delivered_total() const { return delivered_; }

 private:
  void compact(int64_t now_ms);

  std::unique_ptr<AppendLog> log_;
  size_t max_pending_;
  uint64_t seq_ = 0, delivered_ = 0;
  size_t pending_bytes_ = 0;                   // text of the pending entries
  size_t live_bytes_ = 0;                      // the journal's size right after the last compaction
  std::map<uint64_t, OutboundEntry> pending_;  // by sequence: delivery order
  std::map<std::string, uint64_t> pending_by_id_;
  std::map<std::string, std::string> pending_by_key_;  // idempotency key -> id
  std::map<std::string, OutboundOutcome> recent_;      // idempotency key -> outcome
};

}  // namespace clawgate::core
