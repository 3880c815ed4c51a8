// What the generated config parser (config_gen.cpp, from schema/config.schema.json) is made
// of: the issues a config file can have, each naming its key path; the path of a value while
// the parsed JSON is walked; the bounded readers for each kind of value; the named checks the
// schema refers to (x-clawgate-check).
// Fails: never throws for file content. A value of the wrong type, out of range, over-long or
// failing its check becomes an Issue (kind error) and the field keeps its default.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace clawgate::cfg {

using Json = nlohmann::json;

struct Issue {
  enum class Kind {
    error,        // the value cannot be used: the gateway refuses the file (exit 78)
    unknown,      // a key neither OpenClaw nor clawgate knows: OpenClaw refuses it,
                  // `clawgate config validate` too; the gateway warns and ignores it
    unsupported,  // an OpenClaw key clawgate does not implement: a warning
    warning,      // a value that works but likely not as meant (an @username in allowFrom)
  };
  Kind kind = Kind::error;
  std::string path;     // e.g. channels.telegram.groups["-100.1"].allowFrom[2]; "" for the file
  std::string message;  // e.g. must be true or false (got "yes")
  // "path: message", or "unknown config key: path" for an unknown key (the gateway's wording).
  std::string text() const;
};

// Every issue of one file, in the order found. Only the first kMax are kept (a file with a
// thousand bad entries still gets a short report); the rest are counted.
class Issues {
 public:
  static constexpr size_t kMax = 100;
  void add(Issue::Kind kind, std::string path, std::string message);
  const std::vector<Issue>& items() const { return items_; }
  size_t dropped() const { return dropped_; }
  size_t count(Issue::Kind kind) const;
  bool has_errors() const { return count(Issue::Kind::error) > 0; }

 private:
  std::vector<Issue> items_;
  size_t dropped_ = 0;
  size_t counts_[4] = {0, 0, 0, 0};
};

// Where a value sits in the file while it is read: a chain of keys and indexes on the stack,
// rendered only when there is something to say.
struct Path {
  Path() = default;
  Path(const Path* parent, std::string_view key) : parent(parent), key(key) {}
  Path(const Path* parent, size_t index) : parent(parent), index(index) {}
  // The root of a walk that starts inside the file, at `prefix` ("channels.telegram").
  static Path at(std::string_view prefix) {
    Path p;
    p.prefix = prefix;
    return p;
  }
  const Path* parent = nullptr;
  std::string_view key;  // a key; with key.data() == nullptr, `index` is an array index
  size_t index = 0;
  std::string_view prefix;  // at the root only
};

// OpenClaw's human form: dots between keys, ["..."] around a key that has a dot, bracket,
// quote, space or control character (or is empty), [n] for an array index. A key longer than
// 64 code points is cut (with "…"): a path names a place, it does not echo input.
std::string render(const Path& p);
// One key as it appears in a rendered path ("groups", or ["-100.5"]).
std::string render_key(std::string_view key);
// `s` in double quotes for a message: quotes and backslashes escaped as in JSON, and every
// control or invisible format character (bidi overrides, zero-width) as \uXXXX.
std::string quote_text(std::string_view s);

// " (got <value>)": a short, valid-UTF-8 rendering of a scalar for messages ("an object" for
// containers); strings are cut on code points at 48.
std::string got(const Json& v);

// The readers: each checks the JSON type and the bounds before converting anything, records
// an error at `p` and returns false when the value cannot be used.
bool expect_object(const Json& v, const Path& p, Issues& is);
bool expect_array(const Json& v, const Path& p, Issues& is, size_t max_items);
bool check_max_properties(const Json& v, const Path& p, Issues& is, size_t max_properties);
// A map key of min_length to max_length code points (propertyNames).
bool check_key_length(const std::string& key, const Path& p, Issues& is, size_t min_length,
                      size_t max_length);
bool read_bool(const Json& v, const Path& p, Issues& is, bool& out);
// Integral JSON numbers (5 and 5.0) within [lo, hi]; never converts a value out of range.
bool read_int(const Json& v, const Path& p, Issues& is, int64_t lo, int64_t hi, int64_t& out);
bool read_number(const Json& v, const Path& p, Issues& is, double lo, double hi, double& out);
// Lengths count code points, so Chinese or emoji text has the same room as English.
bool read_string(const Json& v, const Path& p, Issues& is, size_t min_length, size_t max_length,
                 std::string& out);
// A string, or an integer (a Telegram id written as a number) read as its decimal text.
bool read_id(const Json& v, const Path& p, Issues& is, size_t min_length, size_t max_length,
             std::string& out);
bool read_enum_of(const Json& v, const Path& p, Issues& is, const std::string_view* allowed,
                  size_t n, std::string& out);
template <size_t N>
bool read_enum(const Json& v, const Path& p, Issues& is, const std::string_view (&allowed)[N],
               std::string& out) {
  return read_enum_of(v, p, is, allowed, N, out);
}

// Named checks (x-clawgate-check in the schema): "" when the value is fine, else the message.
std::string check_bind(const std::string& s);       // loopback | lan | custom | an IP address
std::string check_ip_range(const std::string& s);   // an IP address or CIDR range
std::string check_http_url(const std::string& s);   // http:// or https:// with a host
std::string check_duration(const std::string& s);   // "30m", "1h", "0m", ...
std::string check_model_ref(const std::string& s);  // "provider/model"
std::string check_file_path(const std::string& s);  // absolute, or ~/...; no NUL
// A channel account id as upstream's are valid: 1 to 64 of a-z, 0-9, _ and -, the first a letter
// or digit; upper case letters are accepted (the id is their lower case). Not the names a
// JavaScript object holds as prototype keys, which upstream refuses.
std::string check_account_id(const std::string& s);
bool apply_check(const std::string& error, const Json& v, const Path& p, Issues& is);
// The same for a map key (propertyNames): the error names the key's path, without echoing it.
bool apply_key_check(const std::string& error, const Path& p, Issues& is);

// The effective value of a typed field, as JSON (to_json of a struct is generated).
template <class T>
Json json_of(const T& v);
template <class T>
Json json_of(const std::vector<T>& v) {
  Json a = Json::array();
  for (const auto& x : v) a.push_back(json_of(x));
  return a;
}
template <class T>
Json json_of(const std::map<std::string, T>& m) {
  Json o = Json::object();
  for (const auto& [k, x] : m) o[k] = json_of(x);
  return o;
}
template <class T>
Json json_of(const T& v) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
    return Json(v);
  } else {
    return to_json(v);  // a generated struct's, found by argument-dependent lookup
  }
}

}  // namespace clawgate::cfg
