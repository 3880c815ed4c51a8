// What clawgate shows of its configuration: see config_view.hpp.
#include "config_view.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "crypto.hpp"
#include "utf8.hpp"

namespace clawgate {
namespace {

using Json = cfg::Json;

// `top` over `base`: objects merge key by key, anything else replaces.
Json overlay(Json base, const Json& top) {
  if (!base.is_object() || !top.is_object()) return top;
  for (auto it = top.begin(); it != top.end(); ++it) {
    auto b = base.find(it.key());
    if (b != base.end())
      *b = overlay(std::move(*b), it.value());
    else
      base[it.key()] = it.value();
  }
  return base;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

// `a`, at most one character, then `b` (upstream's /api.?key/ without a regex engine).
bool joined(const std::string& s, std::string_view a, std::string_view b) {
  for (size_t pos = s.find(a); pos != std::string::npos; pos = s.find(a, pos + 1)) {
    const size_t after = pos + a.size();
    if (s.compare(after, b.size(), b.data(), b.size()) == 0 ||
        (after < s.size() && s.compare(after + 1, b.size(), b.data(), b.size()) == 0))
      return true;
  }
  return false;
}

// Upstream's path heuristic (src/config/sensitive-paths.ts).
bool path_looks_sensitive(const std::string& path) {
  const std::string p = lower(path);
  if (p.find("localservice.env.") != std::string::npos) return true;
  for (const char* ok :
       {"maxtokens", "maxoutputtokens", "maxinputtokens", "maxcompletiontokens", "contexttokens",
        "totaltokens", "tokencount", "tokenlimit", "tokenbudget", "passwordfile"})
    if (ends_with(p, ok)) return false;
  return ends_with(p, "token") || p.find("password") != std::string::npos ||
         p.find("secret") != std::string::npos || joined(p, "api", "key") ||
         joined(p, "encrypt", "key") || joined(p, "private", "key") ||
         ends_with(p, "serviceaccount") || ends_with(p, "serviceaccountref");
}

std::vector<std::string> split_dots(std::string_view s) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '.')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

// The schema's x-sensitive paths ("*" for any map key) against the keys walked so far.
bool schema_sensitive(const std::vector<std::string>& keys) {
  static const std::vector<std::vector<std::string>> kPaths = [] {
    std::vector<std::vector<std::string>> v;
    for (auto p : cfg::kSensitivePaths) v.push_back(split_dots(p));
    return v;
  }();
  for (const auto& p : kPaths) {
    if (p.size() != keys.size()) continue;
    bool match = true;
    for (size_t i = 0; i < p.size() && match; ++i) match = p[i] == "*" || p[i] == keys[i];
    if (match) return true;
  }
  return false;
}

// Not a secret: empty, blank, or a whole "${VAR}" reference.
bool concrete(const std::string& v) {
  const size_t a = v.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return false;
  const size_t b = v.find_last_not_of(" \t\r\n");
  const std::string t = v.substr(a, b - a + 1);
  const bool reference =
      t.size() >= 3 && t.rfind("${", 0) == 0 && t.back() == '}' && t.find('}') == t.size() - 1;
  return !reference;
}

bool url_key(const std::string& path) {
  return ends_with(path, ".baseUrl") || ends_with(path, ".httpUrl") || ends_with(path, ".cdpUrl") ||
         ends_with(path, ".request.proxy.url") ||
         (path.rfind("mcp.servers.", 0) == 0 && ends_with(path, ".url")) ||
         (path.rfind("nodeHost.mcp.servers.", 0) == 0 && ends_with(path, ".url"));
}

// user:password@ in the authority, or a query parameter whose name reads like a secret.
bool url_carries_credentials(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = url.find_first_of("/?#", start);
  const std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
  if (authority.find('@') != std::string::npos) return true;
  const size_t q = url.find('?');
  if (q == std::string::npos) return false;
  std::string query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  size_t pos = 0;
  while (pos <= query.size()) {
    const size_t amp = std::min(query.find('&', pos), query.size());
    const std::string pair = query.substr(pos, amp - pos);
    const std::string name = lower(pair.substr(0, pair.find('=')));
    if (path_looks_sensitive(name) || name == "key" || name == "sig" || name == "signature" ||
        name == "auth" || name == "code")
      return true;
    pos = amp + 1;
  }
  return false;
}

struct Redactor {
  std::vector<std::string>* secrets;
  std::vector<std::string> keys;  // the path walked, for the schema's matches

  Json secret(const std::string& v) {
    if (secrets) secrets->push_back(v);
    return kRedacted;
  }

  Json walk(const Json& v, const std::string& path, bool sensitive, bool by_schema) {
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (sensitive && concrete(s)) return secret(s);
      if (url_key(path) && url_carries_credentials(s)) return secret(s);
      return v;
    }
    if (v.is_array()) {
      Json out = Json::array();
      for (const auto& x : v) out.push_back(walk(x, path + "[]", sensitive, by_schema));
      return out;
    }
    if (v.is_object()) {
      // A SecretRef keeps its shape (clients restore it by source/provider), not its id.
      if (sensitive && v.contains("source") && v["source"].is_string() && v.contains("id") &&
          v["id"].is_string()) {
        Json out = v;
        if (concrete(v["id"].get<std::string>())) out["id"] = secret(v["id"].get<std::string>());
        return out;
      }
      if (sensitive && by_schema) {
        collect(v);
        return kRedacted;
      }
      Json out = Json::object();
      for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string child = path.empty() ? it.key() : path + "." + it.key();
        keys.push_back(it.key());
        const bool marked = schema_sensitive(keys);
        out[it.key()] = walk(it.value(), child, marked || path_looks_sensitive(child), marked);
        keys.pop_back();
      }
      return out;
    }
    if (sensitive && by_schema && !v.is_null()) return kRedacted;
    return v;
  }

  // Every string under a value redacted whole (so the raw text loses them too).
  void collect(const Json& v) {
    if (v.is_string() && concrete(v.get<std::string>())) {
      if (secrets) secrets->push_back(v.get<std::string>());
    } else if (v.is_structured()) {
      for (const auto& x : v) collect(x);
    }
  }
};

std::string iso_time(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Json issue_list(const cfg::Issues& issues, bool errors) {
  Json out = Json::array();
  for (const auto& i : issues.items()) {
    // The gateway runs with unknown keys (it warns): they are warnings here, as in its log.
    if ((i.kind == cfg::Issue::Kind::error) != errors) continue;
    out.push_back(
        {{"path", i.path},
         {"message", i.kind == cfg::Issue::Kind::unknown ? "unknown config key" : i.message}});
  }
  return out;
}

}  // namespace

Json effective_config(const GatewaySettings& s) {
  const Json file = s.file && s.file->parsed.is_object() ? s.file->parsed : Json::object();
  return overlay(file, cfg::to_json(s.config));
}

Json redact_config(const Json& config, std::vector<std::string>* secrets) {
  Redactor r{secrets, {}};
  return r.walk(config, "", false, false);
}

std::optional<std::string> redact_raw(const std::string& raw, const Json& redacted_parsed,
                                      const std::vector<std::string>& secrets) {
  std::vector<std::string> needles;
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    needles.push_back(s);
    // As the file may write it: JSON-escaped (quotes, backslashes, \u escapes).
    const std::string escaped = dump_json(Json(s));
    needles.push_back(escaped.substr(1, escaped.size() - 2));
  }
  std::sort(needles.begin(), needles.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  needles.erase(std::unique(needles.begin(), needles.end()), needles.end());
  std::string text = raw;
  for (const auto& n : needles) {
    for (size_t pos = text.find(n); pos != std::string::npos;
         pos = text.find(n, pos + std::char_traits<char>::length(kRedacted)))
      text.replace(pos, n.size(), kRedacted);
  }
  // Shown only if it reads back as exactly the redacted config: a secret written some other
  // way, or a short one that also matched keys, means no raw text at all.
  const Json back = Json::parse(text, nullptr, false, /*ignore_comments=*/true);
  if (back.is_discarded() || back != redacted_parsed) return std::nullopt;
  return text;
}

Json config_snapshot(const GatewaySettings* s, const ConfigFile* file, std::string_view hash_key) {
  Json out = {{"path", file ? Json(file->path) : Json(nullptr)},
              {"exists", file && file->exists},
              {"includedPaths", Json::array()},
              {"includeProvenance", Json::array()},
              {"legacyIssues", Json::array()}};
  const bool valid = s != nullptr && (!file || !file->issues.has_errors());
  out["valid"] = valid;
  static const cfg::Issues kNone;
  const cfg::Issues& issues = file ? file->issues : kNone;
  out["issues"] = issue_list(issues, true);
  out["warnings"] = issue_list(issues, false);
  if (file && file->exists && !hash_key.empty())
    out["hash"] = "hmac-sha256:v1:" + base64url(hmac_sha256(hash_key, file->raw));
  if (!valid) {
    // Upstream shows nothing of a file it refused: a half-read config could carry secrets in
    // places the redaction does not know.
    for (const char* k : {"raw", "parsed"}) out[k] = nullptr;
    for (const char* k : {"sourceConfig", "resolved", "config", "runtimeConfig"})
      out[k] = Json::object();
    return out;
  }
  std::vector<std::string> secrets;
  const Json config = redact_config(effective_config(*s), &secrets);
  out["config"] = config;
  out["runtimeConfig"] = config;
  if (file && file->exists && file->parsed.is_object()) {
    const Json parsed = redact_config(file->parsed, &secrets);
    out["parsed"] = parsed;
    out["sourceConfig"] = parsed;
    out["resolved"] = parsed;
    const auto raw = redact_raw(file->raw, parsed, secrets);
    // The file's text as written may hold bytes that are not UTF-8 (in a comment, where the
    // parser never looks); a JSON answer can only carry them as U+FFFD.
    out["raw"] = raw ? Json(utf8::repair(*raw)) : Json(nullptr);
  } else {
    out["raw"] = nullptr;
    out["parsed"] = Json::object();
    out["sourceConfig"] = Json::object();
    out["resolved"] = Json::object();
  }
  return out;
}

Json config_schema_response(const std::string& version, int64_t now_ms) {
  static const Json schema = Json::parse(cfg::schema_text());
  static const Json hints = Json::parse(cfg::ui_hints_text());
  return {{"schema", schema},
          {"uiHints", hints},
          {"version", version},
          {"generatedAt", iso_time(now_ms)}};
}

std::optional<std::vector<PathSegment>> parse_config_path(const std::string& path) {
  if (path.empty() || path.size() > 1024) return std::nullopt;
  std::vector<PathSegment> out;
  size_t i = 0;
  bool expect_key = true;  // at the start and after a dot
  while (i < path.size()) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string::npos) return std::nullopt;
      const std::string inner = path.substr(i + 1, close - i - 1);
      PathSegment seg;
      if (!inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos &&
          inner.size() <= 9) {
        seg.is_index = true;
        seg.index = std::stoul(inner);
        i = close + 1;
      } else if (!inner.empty() && inner[0] == '"') {
        // A quoted key may hold ']' itself: read the JSON string up to its closing quote.
        size_t end = i + 2;
        while (end < path.size() && path[end] != '"') end += path[end] == '\\' ? 2 : 1;
        if (end + 1 >= path.size() || path[end + 1] != ']') return std::nullopt;
        const Json key = Json::parse(path.substr(i + 1, end - i), nullptr, false);
        if (!key.is_string()) return std::nullopt;
        seg.key = key.get<std::string>();
        i = end + 2;
      } else {
        return std::nullopt;
      }
      out.push_back(std::move(seg));
      expect_key = false;
      continue;
    }
    if (path[i] == '.') {
      if (expect_key) return std::nullopt;
      expect_key = true;
      ++i;
      continue;
    }
    if (!expect_key) return std::nullopt;
    const size_t end = std::min(path.find_first_of(".[", i), path.size());
    if (path.find(']', i) < end) return std::nullopt;
    out.push_back({path.substr(i, end - i), 0, false});
    i = end;
    expect_key = false;
  }
  if (expect_key) return std::nullopt;
  return out;
}

const Json* value_at(const Json& config, const std::vector<PathSegment>& path) {
  const Json* v = &config;
  for (const auto& seg : path) {
    if (seg.is_index) {
      if (!v->is_array() || seg.index >= v->size()) return nullptr;
      v = &(*v)[seg.index];
    } else {
      if (!v->is_object()) return nullptr;
      auto it = v->find(seg.key);
      if (it == v->end()) return nullptr;
      v = &*it;
    }
  }
  return v;
}

SchemaPlace schema_place(const std::vector<PathSegment>& path) {
  static const Json schema = Json::parse(cfg::schema_text());
  const Json& defs = schema["definitions"];
  const Json* node = &schema;
  auto resolve = [&defs](const Json* n) {
    if (n->contains("$ref")) {
      const std::string ref = (*n)["$ref"].get<std::string>();
      return &defs[ref.substr(ref.rfind('/') + 1)];
    }
    return n;
  };
  for (const auto& seg : path) {
    node = resolve(node);
    if (node->contains("x-clawgate-ignored")) return SchemaPlace::ignored;  // any shape below
    if (node->contains("anyOf")) node = &(*node)["anyOf"].back();           // the object form
    if (seg.is_index) {
      if (!node->contains("items")) return SchemaPlace::unknown;
      node = &(*node)["items"];
    } else if (node->contains("properties") && (*node)["properties"].contains(seg.key)) {
      node = &(*node)["properties"][seg.key];
    } else if (node->contains("additionalProperties") &&
               (*node)["additionalProperties"].is_object()) {
      node = &(*node)["additionalProperties"];
    } else {
      return SchemaPlace::unknown;
    }
  }
  return resolve(node)->contains("x-clawgate-ignored") ? SchemaPlace::ignored : SchemaPlace::read;
}

}  // namespace clawgate
