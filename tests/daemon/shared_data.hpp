// The shared test data beside the checkout (../shared/data): text in many scripts and invalid
// UTF-8 sequences. A missing file fails the test that asked for it; it never skips.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace test_data {

inline std::string read_shared(const std::string& name) {
  const std::string path = std::string(CLAWGATE_SHARED_DATA) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "shared test data missing: " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// {"chinese": "...", "emoji_zwj": "...", ...}
inline const nlohmann::json& samples() {
  static const nlohmann::json j = [] {
    auto parsed = nlohmann::json::parse(read_shared("text-samples.json"), nullptr, false);
    return parsed.is_object() ? parsed : nlohmann::json::object();
  }();
  return j;
}
inline std::string sample(const std::string& name) {
  const auto& j = samples();
  if (!j.contains(name)) {
    ADD_FAILURE() << "no text sample " << name;
    return {};
  }
  return j[name].get<std::string>();
}

// (bytes, description) for every line of invalid-utf8.hex.
inline std::vector<std::pair<std::string, std::string>> invalid_sequences() {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(read_shared("invalid-utf8.hex"));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.find(' ');
    const std::string hex = line.substr(0, sp);
    std::string bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    out.emplace_back(bytes, sp == std::string::npos ? hex : line.substr(sp + 1));
  }
  return out;
}

}  // namespace test_data
