// InboundJournal: the inbound messages a channel worker has already confirmed to its platform
// (Slack's Socket Mode ack within 3 s; Discord's Gateway, which never replays a message to a new
// session) but the front has not yet acknowledged, on disk in the account's state dir, so a
// worker killed in between hands them to the next one (the front drops repeats by message id).
// Generic over the platform: an entry is the data-link Inbound message itself, as JSON. Lines
// {"add": inbound} and {"ack": id}, each made durable before the call returns (AppendLog); a
// later add of an id still pending replaces it in place (a held message the platform's lookup
// completed); the file is emptied whenever nothing is pending and compacted when it grows past
// a bound.
// Fails: add()/ack() return false when the disk refuses (the caller logs it; the message stays
// in memory). What load reads is checked like input from a peer: a line that does not read as an
// Inbound (a field missing or of another type) is skipped, strings are repaired and bounded.
#pragma once
#include <capnp/message.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data.capnp.h"
#include "fs.hpp"

namespace clawgate::workers {

nlohmann::json inbound_to_json(ipc::Inbound::Reader m);
// Writes `j` into `out`; false (and `out` unusable) when a field is missing or of another type.
bool inbound_from_json(const nlohmann::json& j, ipc::Inbound::Builder out);

class InboundJournal {
 public:
  // Reads what a previous run left (at most `max` messages, the newest) and opens for appends.
  // Throws std::system_error when the file cannot be created.
  InboundJournal(const std::string& path, size_t max);
  // The messages pending from the previous run, in order, each a whole Data message (its
  // inbound member) as flat words (taken once).
  std::vector<kj::Array<capnp::word>> take_loaded() { return std::move(loaded_); }
  bool add(ipc::Inbound::Reader m);
  // `id` was acknowledged by the front; `pending` is what is still waiting (for compaction).
  bool ack(const std::string& id, const std::vector<ipc::Inbound::Reader>& pending);

 private:
  std::unique_ptr<AppendLog> log_;
  std::vector<kj::Array<capnp::word>> loaded_;
};

}  // namespace clawgate::workers
