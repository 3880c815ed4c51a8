// What the generated child-config code (child_config_gen.cpp, from schema/gen_child_config.py)
// is made of: the Cap'n Proto side of config_support.hpp's bounded readers. A value that
// arrives on the control link is checked as the config file's own value was (UTF-8, lengths in
// code points, integer and number ranges, list sizes, map keys), so what config.schema.json
// bounds stays bounded whoever wrote the message.
// Fails: never throws for message content; a value that cannot be used becomes an Issue (kind
// error) naming its key path, and settings_or_error turns the first one into INVALID_REQUEST.
#pragma once
#include <capnp/blob.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "config_support.hpp"
#include "error.hpp"

namespace clawgate::ipc::link_config {

// `s` as Cap'n Proto text, NUL bytes inside it included (a plain std::string converts through
// strlen and would cut there).
inline capnp::Text::Reader text_of(const std::string& s) {
  return {s.data(), s.size()};
}

// UTF-8 text of min_length to max_length code points.
bool read_text(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is, size_t min_length,
               size_t max_length, std::string& out);
// A map key (propertyNames): UTF-8 of min_length to max_length code points. The problem is
// reported at the map's path `p`, without the key.
bool read_key(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is, size_t min_length,
              size_t max_length, std::string& out);
bool read_int64(int64_t v, const cfg::Path& p, cfg::Issues& is, int64_t lo, int64_t hi,
                int64_t& out);
// Finite and within [lo, hi].
bool read_double(double v, const cfg::Path& p, cfg::Issues& is, double lo, double hi, double& out);
bool read_enum_of(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is,
                  const std::string_view* allowed, size_t n, std::string& out);
template <size_t N>
bool read_enum_text(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is,
                    const std::string_view (&allowed)[N], std::string& out) {
  return read_enum_of(v, p, is, allowed, N, out);
}
// A list or map of at most max_items entries.
bool check_items(size_t n, const cfg::Path& p, cfg::Issues& is, size_t max_items);
// A map key seen twice (a JSON file cannot say that; a message can). Returns false.
bool repeated_key(const cfg::Path& p, cfg::Issues& is);

// `settings`, or INVALID_REQUEST with the first error (and how many more there were).
template <class T>
Result<T> settings_or_error(T settings, const cfg::Issues& is) {
  if (!is.has_errors()) return settings;
  for (const auto& i : is.items())
    if (i.kind == cfg::Issue::Kind::error) return Error::invalid(i.text());
  return Error::invalid("invalid settings");  // an error past Issues::kMax: counted, not kept
}

}  // namespace clawgate::ipc::link_config
