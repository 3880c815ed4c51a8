// Small helpers the stores of devices, node pairings and node sessions share when they write
// records as JSON: optional fields are left out rather than written empty, and text taken from
// a client is repaired and cut on a code point before it is kept.
// Fails: nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "utf8.hpp"

namespace clawgate::core::records {

inline void put_text(nlohmann::json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
inline void put_time(nlohmann::json& j, const char* key, const std::optional<int64_t>& v) {
  if (v) j[key] = *v;
}
// `s` as valid UTF-8 of at most `max` bytes.
inline std::string cut(const std::string& s, std::size_t max) {
  return utf8::truncate_bytes(utf8::repair(s), max);
}

}  // namespace clawgate::core::records
