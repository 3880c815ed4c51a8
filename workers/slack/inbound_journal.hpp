// InboundJournal: the Slack messages this worker has acknowledged to Slack (Socket Mode wants an
// ack within 3 s, before the front has seen them) but the front has not yet acknowledged to it,
// on disk in the account's state dir, so a worker killed in between hands them to the next one
// (the front drops repeats by message id). Lines {"add": message} and {"ack": id}, each made
// durable before the call returns (AppendLog); the file is emptied whenever nothing is pending
// and compacted when it grows past a bound.
// Fails: add()/ack() return false when the disk refuses (the caller logs it; the message stays
// in memory). What load() reads is checked like any Slack input: a line that does not read as a
// message is skipped.
#pragma once
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fs.hpp"
#include "slack_events.hpp"

namespace clawgate::workers::slack {

nlohmann::json message_to_json(const SlackMessage& m);
// nullopt when a field is missing or not what read_event would have produced.
std::optional<SlackMessage> message_from_json(const nlohmann::json& j);

class InboundJournal {
 public:
  // Reads what a previous run left (at most `max` messages, the newest) and opens for appends.
  // Throws std::system_error when the file cannot be created.
  InboundJournal(const std::string& path, size_t max);
  // The messages pending from the previous run, in order (taken once).
  std::vector<SlackMessage> take_loaded() { return std::move(loaded_); }
  bool add(const SlackMessage& m);
  // `id` was acknowledged by the front; `pending` is what is still waiting (for compaction).
  bool ack(const std::string& id, const std::vector<const SlackMessage*>& pending);

 private:
  std::unique_ptr<AppendLog> log_;
  std::vector<SlackMessage> loaded_;
};

}  // namespace clawgate::workers::slack
