// Presence: who is connected (and recently was), keyed as upstream does (device id, else
// instance id, else connection id), plus entries posted by `system-event`. Entries are kept in
// the published PresenceEntry shape. Bounded: at most kMaxEntries; when full the oldest
// disconnected/system entries are dropped first, never the gateway's own entry.
// Fails: never throws.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace clawgate::front {

using Json = nlohmann::json;

class PresenceTable {
 public:
  static constexpr size_t kMaxEntries = 200;

  void set_self(Json entry) { self_ = std::move(entry); }
  // Inserts or replaces the entry under key; `owner` is the connection that holds it (0: none).
  void upsert(const std::string& key, Json entry, uint64_t owner);
  // Marks key as disconnected if `owner` still holds it; returns whether anything changed.
  bool disconnect(const std::string& key, uint64_t owner, int64_t now_ms);
  Json list() const;  // self first, then newest first
  size_t size() const { return entries_.size(); }

 private:
  struct Slot {
    Json entry;
    uint64_t owner = 0;
    uint64_t order = 0;
  };
  void evict();
  Json self_;
  std::map<std::string, Slot> entries_;
  uint64_t next_order_ = 1;
};

}  // namespace clawgate::front
