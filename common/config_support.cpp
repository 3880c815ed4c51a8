// Config parsing support: see config_support.hpp.
#include "config_support.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "duration.hpp"
#include "net.hpp"
#include "utf8.hpp"

namespace clawgate::cfg {

namespace {

constexpr size_t kMaxKeyInPath = 64;       // code points of one key in a rendered path
constexpr size_t kMaxValueInMessage = 48;  // code points of a string value quoted in a message

// Code points a terminal would act on or hide rather than show: C0 and C1 controls, DEL, and
// the invisible format characters (zero-width, bidi embeddings, overrides and isolates, line and
// paragraph separators, BOM). A key or value holding one is quoted with it escaped, so a
// message can never reorder or hide the path it names.
bool invisible(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x2069) || c == 0xFEFF;
}

char32_t decode(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  char32_t cp = c & (0x3F >> extra);
  for (; extra > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; --extra)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  return extra ? 0xFFFD : cp;
}

bool needs_quotes(std::string_view key) {
  if (key.empty()) return true;
  for (size_t i = 0; i < key.size();) {
    const char32_t c = decode(key, i);
    if (c == ' ' || c == '.' || c == '[' || c == ']' || c == '"' || c == '\\' || invisible(c))
      return true;
  }
  return false;
}

// The key cut to kMaxKeyInPath code points (a grapheme-safe preview adds "…").
std::string short_key(std::string_view key) {
  return utf8::code_points(key) > kMaxKeyInPath ? utf8::preview(key, kMaxKeyInPath)
                                                : std::string(key);
}

}  // namespace

std::string Issue::text() const {
  if (kind == Kind::unknown) return "unknown config key: " + path;
  if (path.empty()) return message;
  return path + ": " + message;
}

void Issues::add(Issue::Kind kind, std::string path, std::string message) {
  ++counts_[static_cast<size_t>(kind)];
  if (items_.size() >= kMax) {
    ++dropped_;
    return;
  }
  items_.push_back({kind, std::move(path), std::move(message)});
}

size_t Issues::count(Issue::Kind kind) const {
  return counts_[static_cast<size_t>(kind)];
}

std::string quote_text(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const char32_t c = decode(s, i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (invisible(c)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  return out + "\"";
}

std::string render_key(std::string_view key) {
  const std::string k = short_key(key);
  return needs_quotes(k) ? "[" + quote_text(k) + "]" : k;
}

std::string render(const Path& p) {
  std::vector<const Path*> chain;
  const Path* root = &p;
  for (const Path* q = &p; q; q = q->parent) {
    if (q->parent) chain.push_back(q);
    root = q;
  }
  std::string out(root->prefix);
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Path& seg = **it;
    if (!seg.key.data()) {
      out += "[" + std::to_string(seg.index) + "]";
    } else {
      const std::string k = render_key(seg.key);
      if (!out.empty() && k[0] != '[') out += '.';
      out += k;
    }
  }
  return out;
}

std::string got(const Json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    const std::string shown =
        utf8::code_points(s) > kMaxValueInMessage ? utf8::preview(s, kMaxValueInMessage) : s;
    return " (got " + quote_text(utf8::repair(shown)) + ")";
  }
  if (v.is_object()) return " (got an object)";
  if (v.is_array()) return " (got an array)";
  return " (got " + dump_json(v) + ")";
}

namespace {

void error(Issues& is, const Path& p, const std::string& message) {
  is.add(Issue::Kind::error, render(p), message);
}

// Integral and within int64: 5 and 5.0 are, 5.5, 1e300 and 2^64 are not. Nothing converts a
// double before its range is known.
std::optional<int64_t> as_int64(const Json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_number_float()) return std::nullopt;
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::floor(d) != d || d < -9223372036854775808.0 ||
      d >= 9223372036854775808.0)
    return std::nullopt;
  return static_cast<int64_t>(d);
}

// "an integer from 1 to 50", "an integer of at least 1" (the JSON-safe maximum reads as none).
std::string int_range(int64_t lo, int64_t hi) {
  constexpr int64_t kMaxSafe = 9007199254740991;
  if (hi >= kMaxSafe) return "an integer of at least " + std::to_string(lo);
  return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace

bool expect_object(const Json& v, const Path& p, Issues& is) {
  if (v.is_object()) return true;
  error(is, p, "must be an object" + got(v));
  return false;
}

bool expect_array(const Json& v, const Path& p, Issues& is, size_t max_items) {
  if (!v.is_array()) {
    error(is, p, "must be an array" + got(v));
    return false;
  }
  if (v.size() > max_items) {
    error(is, p,
          "must have at most " + std::to_string(max_items) + " entries (has " +
              std::to_string(v.size()) + ")");
    return false;
  }
  return true;
}

bool check_max_properties(const Json& v, const Path& p, Issues& is, size_t max_properties) {
  if (v.size() <= max_properties) return true;
  error(is, p,
        "must have at most " + std::to_string(max_properties) + " keys (has " +
            std::to_string(v.size()) + ")");
  return false;
}

bool check_key_length(const std::string& key, const Path& p, Issues& is, size_t min_length,
                      size_t max_length) {
  const size_t n = utf8::code_points(key);
  if (n < min_length) {
    error(is, p,
          n == 0 ? std::string("key must not be empty")
                 : "key is shorter than " + std::to_string(min_length) + " characters");
    return false;
  }
  if (n <= max_length) return true;
  error(is, p, "key is longer than " + std::to_string(max_length) + " characters");
  return false;
}

bool read_bool(const Json& v, const Path& p, Issues& is, bool& out) {
  if (!v.is_boolean()) {
    error(is, p, "must be true or false" + got(v));
    return false;
  }
  out = v.get<bool>();
  return true;
}

bool read_int(const Json& v, const Path& p, Issues& is, int64_t lo, int64_t hi, int64_t& out) {
  const std::optional<int64_t> n = v.is_number() ? as_int64(v) : std::nullopt;
  if (!n || *n < lo || *n > hi) {
    error(is, p, "must be " + int_range(lo, hi) + got(v));
    return false;
  }
  out = *n;
  return true;
}

bool read_number(const Json& v, const Path& p, Issues& is, double lo, double hi, double& out) {
  const double d = v.is_number() ? v.get<double>() : NAN;
  if (!std::isfinite(d) || d < lo || d > hi) {
    error(is, p, "must be a number from " + dump_json(lo) + " to " + dump_json(hi) + got(v));
    return false;
  }
  out = d;
  return true;
}

bool read_string(const Json& v, const Path& p, Issues& is, size_t min_length, size_t max_length,
                 std::string& out) {
  if (!v.is_string()) {
    error(is, p, "must be a string" + got(v));
    return false;
  }
  const auto& s = v.get_ref<const std::string&>();
  const size_t n = utf8::code_points(s);
  if (n > max_length) {
    error(is, p,
          "must be at most " + std::to_string(max_length) + " characters long (is " +
              std::to_string(n) + ")");
    return false;
  }
  if (n < min_length) {
    error(is, p, "must be at least " + std::to_string(min_length) + " characters long");
    return false;
  }
  out = s;
  return true;
}

bool read_id(const Json& v, const Path& p, Issues& is, size_t min_length, size_t max_length,
             std::string& out) {
  if (v.is_number()) {
    const std::optional<int64_t> n = as_int64(v);
    if (!n) {
      error(is, p, "must be a string or an integer" + got(v));
      return false;
    }
    out = std::to_string(*n);
    return true;
  }
  if (!v.is_string()) {
    error(is, p, "must be a string or an integer" + got(v));
    return false;
  }
  return read_string(v, p, is, min_length, max_length, out);
}

bool read_enum_of(const Json& v, const Path& p, Issues& is, const std::string_view* allowed,
                  size_t n, std::string& out) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    for (size_t i = 0; i < n; ++i)
      if (allowed[i] == s) {
        out = s;
        return true;
      }
  }
  std::string list;
  for (size_t i = 0; i < n; ++i) list += (i ? ", " : "") + std::string(allowed[i]);
  error(is, p, "must be one of " + list + got(v));
  return false;
}

bool apply_check(const std::string& message, const Json& v, const Path& p, Issues& is) {
  if (message.empty()) return true;
  error(is, p, message + got(v));
  return false;
}

bool apply_key_check(const std::string& message, const Path& p, Issues& is) {
  if (message.empty()) return true;
  error(is, p, message);
  return false;
}

std::string check_bind(const std::string& s) {
  if (s == "loopback" || s == "lan" || s == "custom") return "";
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1)
    return "";
  if (s == "auto" || s == "tailnet")
    return "is not supported by clawgate: use loopback, lan or an IP address";
  return "must be loopback, lan or an IP address";
}

std::string check_ip_range(const std::string& s) {
  return parse_ip_range(s) ? "" : "not an IP address or CIDR range";
}

std::string check_http_url(const std::string& s) {
  size_t rest = 0;
  if (s.rfind("https://", 0) == 0)
    rest = 8;
  else if (s.rfind("http://", 0) == 0)
    rest = 7;
  else
    return "must start with http:// or https://";
  if (rest >= s.size() || s[rest] == '/' || s[rest] == '?' || s[rest] == '#') return "has no host";
  return "";
}

std::string check_duration(const std::string& s) {
  return parse_duration_ms(s) ? "" : "must be a number and a unit: ms, s, m, h or d (e.g. \"30m\")";
}

std::string check_model_ref(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size())
    return "must be \"provider/model\"";
  return "";
}

std::string check_file_path(const std::string& s) {
  if (s.find('\0') != std::string::npos) return "must not contain a NUL character";
  // Relative to what? The gateway's processes share no meaningful working directory.
  if (s.empty() || (s[0] != '/' && s.rfind("~/", 0) != 0))
    return "must be an absolute path or start with ~/";
  return "";
}

std::string check_account_id(const std::string& s) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  };
  const bool valid = !s.empty() && s.size() <= 64 && s[0] != '_' && s[0] != '-' &&
                     std::all_of(s.begin(), s.end(), ok);
  if (!valid)
    return "account id must be 1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit";
  std::string lower = s;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "constructor" || lower == "prototype")
    return "account id " + quote_text(lower) + " is reserved";
  return "";
}

}  // namespace clawgate::cfg
