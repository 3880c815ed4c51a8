// Fuzz target: the config parser (openclaw.json, JSON with comments -> GatewaySettings).
// Fails: ConfigError is the documented outcome for bad text; any other exception, a sanitizer
// report or a hang is a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  clawgate::GatewaySettings settings;
  std::string token, password;
  try {
    clawgate::apply_config_text(text, "fuzz.json", settings, &token, &password);
  } catch (const clawgate::ConfigError&) {
  }
  return 0;
}
