// OutboundQueue: see outbound_queue.hpp.
#include "core/outbound_queue.hpp"

#include <algorithm>

#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate::core {

using Json = nlohmann::json;

namespace {
constexpr size_t kCompactBytes = 4 * 1024 * 1024;

Json entry_json(const OutboundEntry& e) {
  Json j = {
      {"op", "enq"}, {"id", e.id},     {"channel", e.channel},     {"accountId", e.account_id},
      {"to", e.to},  {"text", e.text}, {"key", e.idempotency_key}, {"ts", e.enqueued_ms}};
  if (e.lost) j["lost"] = e.lost;
  return j;
}

Json outcome_json(const OutboundOutcome& o) {
  return {{"op", "done"}, {"id", o.id},         {"channel", o.channel}, {"key", o.idempotency_key},
          {"ok", o.ok},   {"detail", o.detail}, {"ts", o.done_ms}};
}
}  // namespace

OutboundQueue::OutboundQueue(const std::string& dir, size_t max_pending)
    : max_pending_(max_pending) {
  make_dirs(dir);
  log_ = std::make_unique<AppendLog>(dir + "/outbound.jsonl");
}

std::vector<std::string> OutboundQueue::load(int64_t now_ms) {
  std::vector<std::string> warnings;
  size_t n = 0;
  for (const std::string& line : read_lines(log_->path())) {
    ++n;
    const Json j = Json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("op") || !j.contains("id")) {
      warnings.push_back(log_->path() + ":" + std::to_string(n) + ": unreadable record skipped");
      continue;
    }
    try {
      if (j["op"] == "enq") {
        OutboundEntry e;
        e.id = j.at("id");
        e.channel = j.at("channel");
        e.account_id = j.value("accountId", "default");
        e.to = j.at("to");
        e.text = j.at("text");
        e.idempotency_key = j.value("key", "");
        e.enqueued_ms = j.value("ts", int64_t{0});
        e.lost = j.value("lost", 0);
        const uint64_t s = ++seq_;
        pending_by_id_[e.id] = s;
        if (!e.idempotency_key.empty()) pending_by_key_[e.idempotency_key] = e.id;
        pending_bytes_ += e.text.size();
        pending_[s] = std::move(e);
      } else if (j["op"] == "lost") {
        if (OutboundEntry* e = find(j.at("id"))) ++e->lost;
      } else if (j["op"] == "done") {
        OutboundOutcome o;
        o.id = j.at("id");
        o.channel = j.value("channel", "");
        o.idempotency_key = j.value("key", "");
        o.ok = j.value("ok", false);
        o.detail = j.value("detail", Json());
        o.done_ms = j.value("ts", int64_t{0});
        if (auto it = pending_by_id_.find(o.id); it != pending_by_id_.end()) {
          pending_bytes_ -= std::min(pending_bytes_, pending_[it->second].text.size());
          pending_.erase(it->second);
          pending_by_id_.erase(it);
        }
        pending_by_key_.erase(o.idempotency_key);
        if (!o.idempotency_key.empty() && now_ms - o.done_ms < kDedupeWindowMs)
          recent_[o.idempotency_key] = std::move(o);
      }
    } catch (const Json::exception&) {
      warnings.push_back(log_->path() + ":" + std::to_string(n) + ": malformed record skipped");
    }
  }
  compact(now_ms);
  return warnings;
}

const OutboundEntry& OutboundQueue::enqueue(OutboundEntry e, int64_t now_ms) {
  if (pending_.size() >= max_pending_)
    throw QueueFull("outbound queue is full (" + std::to_string(max_pending_) +
                    " messages waiting for delivery)");
  if (pending_bytes_ + e.text.size() > kMaxPendingBytes)
    throw QueueFull("outbound queue is full (" + std::to_string(pending_bytes_ >> 20) +
                    " MiB of messages waiting for delivery)");
  e.id = uuid_v4();
  e.enqueued_ms = now_ms;
  log_->append(dump_json(entry_json(e)));  // durable before anyone hears "accepted"
  const uint64_t s = ++seq_;
  pending_by_id_[e.id] = s;
  if (!e.idempotency_key.empty()) pending_by_key_[e.idempotency_key] = e.id;
  pending_bytes_ += e.text.size();
  return pending_[s] = std::move(e);
}

void OutboundQueue::complete(const std::string& id, bool ok, Json detail, int64_t now_ms) {
  auto it = pending_by_id_.find(id);
  if (it == pending_by_id_.end()) return;  // already completed (a stale or repeated result)
  OutboundEntry& e = pending_[it->second];
  OutboundOutcome o{e.id, e.channel, e.idempotency_key, ok, std::move(detail), now_ms};
  log_->append(dump_json(outcome_json(o)));
  if (ok) ++delivered_;
  pending_bytes_ -= std::min(pending_bytes_, e.text.size());
  pending_by_key_.erase(e.idempotency_key);
  pending_.erase(it->second);
  pending_by_id_.erase(it);
  if (!o.idempotency_key.empty()) recent_[o.idempotency_key] = std::move(o);
  // Compact once the journal is mostly history: a large live backlog is not rewritten on
  // every completion.
  if (log_->size() > std::max(kCompactBytes, 2 * live_bytes_)) compact(now_ms);
}

int OutboundQueue::lost(const std::string& id) {
  OutboundEntry* e = find(id);
  if (!e) return 0;
  log_->append(dump_json({{"op", "lost"}, {"id", id}}));
  return ++e->lost;
}

void OutboundQueue::compact(int64_t now_ms) {
  for (auto it = recent_.begin(); it != recent_.end();)
    it = now_ms - it->second.done_ms >= kDedupeWindowMs ? recent_.erase(it) : std::next(it);
  std::string content;
  for (const auto& [_, o] : recent_) content += dump_json(outcome_json(o)) + "\n";
  for (const auto& [_, e] : pending_) content += dump_json(entry_json(e)) + "\n";
  log_->rewrite(content);
  live_bytes_ = content.size();
}

OutboundEntry* OutboundQueue::find(const std::string& id) {
  auto it = pending_by_id_.find(id);
  return it == pending_by_id_.end() ? nullptr : &pending_[it->second];
}

const OutboundEntry* OutboundQueue::pending_for_key(const std::string& key) const {
  auto it = pending_by_key_.find(key);
  if (it == pending_by_key_.end()) return nullptr;
  return &pending_.at(pending_by_id_.at(it->second));
}

const OutboundOutcome* OutboundQueue::outcome_for_key(const std::string& key,
                                                      int64_t now_ms) const {
  auto it = recent_.find(key);
  if (it == recent_.end() || now_ms - it->second.done_ms >= kDedupeWindowMs) return nullptr;
  return &it->second;
}

std::vector<OutboundEntry*> OutboundQueue::pending(const std::string& channel,
                                                   const std::string& account_id) {
  std::vector<OutboundEntry*> out;
  for (auto& [_, e] : pending_)
    if (e.channel == channel && e.account_id == account_id) out.push_back(&e);
  return out;
}

}  // namespace clawgate::core
