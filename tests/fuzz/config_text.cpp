// Fuzz target: the config parser (openclaw.json, JSON with comments -> GatewaySettings, through
// the parser generated from schema/config.schema.json) and everything that shows a config: the
// effective config, the redaction of values and raw text, the config.get snapshot, and key
// paths as `clawgate config get` takes them (the input's first line, when it has one).
// Fails: ConfigError is the documented outcome for bad text; any other exception, a sanitizer
// report or a hang is a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config.hpp"
#include "config_view.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  clawgate::GatewaySettings settings;
  std::string token, password;
  try {
    clawgate::apply_config_text(text, "fuzz.json", settings, &token, &password);
    const clawgate::cfg::Json snapshot =
        clawgate::config_snapshot(&settings, settings.file.get(), "fuzz-key");
    (void)snapshot.dump();
  } catch (const clawgate::ConfigError&) {
    const clawgate::ConfigFile refused = clawgate::check_config_text(text, "fuzz.json");
    (void)clawgate::config_snapshot(nullptr, &refused, "fuzz-key");
  }
  if (const auto path = clawgate::parse_config_path(text.substr(0, text.find('\n')))) {
    (void)clawgate::schema_place(*path);
    (void)clawgate::value_at(clawgate::redact_config(clawgate::effective_config(settings)), *path);
  }
  return 0;
}
