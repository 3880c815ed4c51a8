// Presence table: see presence.hpp.
#include "presence.hpp"

#include <algorithm>
#include <vector>

namespace clawgate::front {

void PresenceTable::upsert(const std::string& key, Json entry, uint64_t owner) {
  Slot& s = entries_[key];
  s.entry = std::move(entry);
  s.owner = owner;
  s.order = next_order_++;
  evict();
}

bool PresenceTable::disconnect(const std::string& key, uint64_t owner, int64_t now_ms) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.owner != owner) return false;
  it->second.owner = 0;
  it->second.entry["reason"] = "disconnect";
  it->second.entry["ts"] = now_ms;
  it->second.order = next_order_++;
  return true;
}

void PresenceTable::evict() {
  while (entries_.size() > kMaxEntries) {
    // Prefer dropping the oldest entry no live connection holds.
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const bool better = victim == entries_.end() ||
                          (it->second.owner == 0 && victim->second.owner != 0) ||
                          ((it->second.owner == 0) == (victim->second.owner == 0) &&
                           it->second.order < victim->second.order);
      if (better) victim = it;
    }
    entries_.erase(victim);
  }
}

Json PresenceTable::list() const {
  std::vector<const Slot*> slots;
  slots.reserve(entries_.size());
  for (const auto& [_, s] : entries_) slots.push_back(&s);
  std::sort(slots.begin(), slots.end(),
            [](const Slot* a, const Slot* b) { return a->order > b->order; });
  Json out = Json::array();
  if (!self_.is_null()) out.push_back(self_);
  for (const Slot* s : slots) out.push_back(s->entry);
  return out;
}

}  // namespace clawgate::front
