// The device store's records as JSON (<state>/devices/pending.json and paired.json, and what
// device.pair.list shows): written field by field, read back with every field type- and
// bound-checked, so a hand-edited or damaged file cannot put an oversize or ill-typed value in
// memory.
// Fails: the readers return nullopt and name the first problem; the writers do not fail.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/devices.hpp"

namespace clawgate::core::records {

inline constexpr std::size_t kMaxRoleBytes = 64;
inline constexpr std::size_t kMaxClientBytes = 64;
inline constexpr std::size_t kMaxIpBytes = 128;
inline constexpr std::size_t kMaxReasonBytes = 64;

// with_bearer: the token itself too (the store's file; never a client's view).
nlohmann::json token_json(const DeviceToken& t, bool with_bearer);
std::optional<DeviceToken> read_token(const nlohmann::json& j, std::string& problem);
// internal: the fields only the store keeps (the file, not device.pair.list).
nlohmann::json pending_json(const PendingDevice& p, bool internal);
std::optional<PendingDevice> read_pending(const nlohmann::json& j, std::string& problem);
nlohmann::json paired_json(const PairedDevice& d);
std::optional<PairedDevice> read_paired(const nlohmann::json& j, std::string& problem);

}  // namespace clawgate::core::records
