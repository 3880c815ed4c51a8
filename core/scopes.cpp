// Role scopes: see scopes.hpp.
#include "core/scopes.hpp"

#include <algorithm>
#include <set>

#include "utf8.hpp"

namespace clawgate::core {

namespace {
bool has(const Scopes& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}
}  // namespace

bool operator_scope_satisfied(const std::string& requested, const Scopes& granted) {
  if (requested.rfind("operator.", 0) != 0) return false;
  if (has(granted, requested) || has(granted, "operator.admin")) return true;
  const bool write_covers = requested == "operator.read" || requested == "operator.talk" ||
                            requested == "operator.sessions.read" ||
                            requested == "operator.sessions.write";
  if (write_covers && has(granted, "operator.write")) return true;
  return requested == "operator.sessions.read" &&
         (has(granted, "operator.read") || has(granted, "operator.sessions.write"));
}

std::optional<std::string> missing_scope(const std::string& role, const Scopes& requested,
                                         const Scopes& allowed) {
  const std::string r(utf8::trim(role));
  const std::string prefix = r + ".";
  Scopes trimmed;
  trimmed.reserve(allowed.size());
  for (const auto& a : allowed) trimmed.emplace_back(utf8::trim(a));
  for (const auto& scope : requested) {
    const std::string s(utf8::trim(scope));
    if (s.empty()) continue;
    const bool ok = r == "operator" ? operator_scope_satisfied(s, trimmed)
                                    : s.rfind(prefix, 0) == 0 && has(trimmed, s);
    if (!ok) return scope;
  }
  return std::nullopt;
}

Scopes normalize_device_scopes(const Scopes& scopes) {
  std::set<std::string> out;
  for (const auto& s : scopes) {
    std::string t(utf8::trim(s));
    if (!t.empty()) out.insert(std::move(t));
  }
  if (out.count("operator.admin")) {
    out.insert("operator.read");
    out.insert("operator.write");
  } else if (out.count("operator.write")) {
    out.insert("operator.read");
  }
  return Scopes(out.begin(), out.end());
}

Scopes merge_unique(std::initializer_list<const Scopes*> lists) {
  Scopes out;
  for (const Scopes* list : lists) {
    if (!list) continue;
    for (const auto& s : *list) {
      std::string t(utf8::trim(s));
      if (!t.empty() && !has(out, t)) out.push_back(std::move(t));
    }
  }
  return out;
}

std::optional<std::string> scope_outside_roles(const Scopes& roles, const Scopes& scopes) {
  for (const auto& scope : scopes) {
    const std::string s(utf8::trim(scope));
    if (s.empty()) continue;
    const bool owned = std::any_of(roles.begin(), roles.end(), [&](const std::string& role) {
      return s.rfind(std::string(utf8::trim(role)) + ".", 0) == 0;
    });
    if (!owned) return scope;
  }
  return std::nullopt;
}

Scopes role_token_scopes(const std::string& role, const Scopes& scopes) {
  Scopes out;
  for (auto& s : normalize_device_scopes(scopes))
    if ((s.rfind("operator.", 0) == 0) == (role == "operator")) out.push_back(std::move(s));
  return out;
}

bool same_set(const Scopes& a, const Scopes& b) {
  return std::set<std::string>(a.begin(), a.end()) == std::set<std::string>(b.begin(), b.end());
}

}  // namespace clawgate::core
