// What clawgate shows of its configuration: the effective config (the file's keys with every
// default and override filled in), secrets redacted as OpenClaw redacts them, the config.get
// snapshot, the config.schema answer, and key paths as `clawgate config get` takes them.
// Fails: nothing here throws for config content; a path that cannot be parsed is nullopt.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace clawgate {

// OpenClaw's redaction sentinel: a client treats it as opaque.
inline constexpr const char* kRedacted = "__OPENCLAW_REDACTED__";

// The file as written, overlaid with every key clawgate reads at its effective value (defaults,
// then the environment's and flags' overrides). Keys clawgate ignores stay as written.
cfg::Json effective_config(const GatewaySettings& s);

// A copy of a config with secrets replaced by kRedacted, as upstream does: values the schema
// marks sensitive (x-sensitive) and any key whose path looks like one (…token, …password…,
// …secret…, …apiKey…, …privateKey…; not maxTokens and the like); a "${VAR}" reference or an
// empty string is not a secret and stays; a SecretRef keeps its shape with its id redacted; a
// URL key (…baseUrl, …httpUrl) carrying credentials is redacted whole. `secrets`, when given,
// receives every value replaced.
cfg::Json redact_config(const cfg::Json& config, std::vector<std::string>* secrets = nullptr);

// The raw text with those secrets replaced, if the result still reads as exactly the redacted
// config; nullopt when it does not (then no raw text is shown at all).
std::optional<std::string> redact_raw(const std::string& raw, const cfg::Json& redacted_parsed,
                                      const std::vector<std::string>& secrets);

// The config.get payload (upstream's snapshot): {path, exists, raw, parsed, sourceConfig,
// resolved, valid, config, runtimeConfig, hash, issues, warnings, legacyIssues, includedPaths}
// with every secret redacted. `s` is what runs (null when the file was refused: then config is
// {} as upstream); `file` the file it came from (null without one). `hash_key` keys the hash.
cfg::Json config_snapshot(const GatewaySettings* s, const ConfigFile* file,
                          std::string_view hash_key);

// The config.schema payload: {schema, uiHints, version, generatedAt}.
cfg::Json config_schema_response(const std::string& version, int64_t now_ms);

// A key path as OpenClaw writes it: dots, ["quoted key"], [index]. nullopt when malformed or
// longer than 1024 characters.
struct PathSegment {
  std::string key;  // empty with is_index
  size_t index = 0;
  bool is_index = false;
};
std::optional<std::vector<PathSegment>> parse_config_path(const std::string& path);
// The value at `path` in `config`, or nullptr when nothing is there.
const cfg::Json* value_at(const cfg::Json& config, const std::vector<PathSegment>& path);
// What the schema says of `path`: a key clawgate reads, one it accepts and ignores (OpenClaw's,
// or anything under such a key), or nothing it knows.
enum class SchemaPlace { unknown, read, ignored };
SchemaPlace schema_place(const std::vector<PathSegment>& path);

}  // namespace clawgate
