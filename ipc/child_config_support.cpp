// The Cap'n Proto side of the config readers: see child_config_support.hpp.
#include "child_config_support.hpp"

#include <cmath>

#include "utf8.hpp"

namespace clawgate::ipc::link_config {

namespace {

bool error(cfg::Issues& is, const cfg::Path& p, const std::string& message) {
  is.add(cfg::Issue::Kind::error, cfg::render(p), message);
  return false;
}

std::string_view view(capnp::Text::Reader v) {
  return {v.begin(), v.size()};
}

}  // namespace

bool read_text(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is, size_t min_length,
               size_t max_length, std::string& out) {
  const std::string_view s = view(v);
  if (!utf8::valid(s)) return error(is, p, "must be UTF-8 text");
  const size_t n = utf8::code_points(s);
  if (n > max_length)
    return error(is, p,
                 "must be at most " + std::to_string(max_length) + " characters long (is " +
                     std::to_string(n) + ")");
  if (n < min_length)
    return error(is, p, "must be at least " + std::to_string(min_length) + " characters long");
  out.assign(s);
  return true;
}

bool read_key(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is, size_t min_length,
              size_t max_length, std::string& out) {
  const std::string_view s = view(v);
  if (!utf8::valid(s)) return error(is, p, "a key is not UTF-8 text");
  out.assign(s);
  return cfg::check_key_length(out, p, is, min_length, max_length);
}

bool read_int64(int64_t v, const cfg::Path& p, cfg::Issues& is, int64_t lo, int64_t hi,
                int64_t& out) {
  if (v < lo || v > hi)
    return error(is, p,
                 "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                     " (got " + std::to_string(v) + ")");
  out = v;
  return true;
}

bool read_double(double v, const cfg::Path& p, cfg::Issues& is, double lo, double hi, double& out) {
  if (!std::isfinite(v) || v < lo || v > hi)
    return error(is, p, "must be a number from " + dump_json(lo) + " to " + dump_json(hi));
  out = v;
  return true;
}

bool read_enum_of(capnp::Text::Reader v, const cfg::Path& p, cfg::Issues& is,
                  const std::string_view* allowed, size_t n, std::string& out) {
  const std::string_view s = view(v);
  for (size_t i = 0; i < n; ++i)
    if (allowed[i] == s) {
      out.assign(s);
      return true;
    }
  std::string list;
  for (size_t i = 0; i < n; ++i) list += (i ? ", " : "") + std::string(allowed[i]);
  return error(is, p, "must be one of " + list);
}

bool check_items(size_t n, const cfg::Path& p, cfg::Issues& is, size_t max_items) {
  if (n <= max_items) return true;
  return error(is, p,
               "must have at most " + std::to_string(max_items) + " entries (has " +
                   std::to_string(n) + ")");
}

bool repeated_key(const cfg::Path& p, cfg::Issues& is) {
  return error(is, p, "is given twice");
}

}  // namespace clawgate::ipc::link_config
