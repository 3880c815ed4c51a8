// Role scopes as OpenClaw compares them (src/shared/operator-scope-compat.ts and
// src/shared/device-auth.ts): which granted scopes cover a requested one, the normalized form
// device tokens carry, and the first scope a role does not cover. Used by device pairing,
// device tokens and their management methods.
// Coverage: operator.admin covers every operator.* scope; operator.write covers read, talk,
// sessions.read and sessions.write; operator.read or sessions.write cover sessions.read. Any
// other role R needs "R."-prefixed scopes listed exactly. An empty request is always covered.
// Pure functions; never throw except std::bad_alloc.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace clawgate::core {

using Scopes = std::vector<std::string>;

// One operator scope against a granted list (no trimming).
bool operator_scope_satisfied(const std::string& requested, const Scopes& granted);

// The first requested scope (as given) that `role` with `allowed` does not cover; blank
// entries are skipped and entries are compared trimmed. nullopt: all covered.
std::optional<std::string> missing_scope(const std::string& role, const Scopes& requested,
                                         const Scopes& allowed);
inline bool role_scopes_allow(const std::string& role, const Scopes& requested,
                              const Scopes& allowed) {
  return !missing_scope(role, requested, allowed);
}

// Trimmed, blank entries dropped, deduplicated, implied scopes added (admin adds read and
// write, write adds read), sorted.
Scopes normalize_device_scopes(const Scopes& scopes);

// Trimmed, blank entries dropped, deduplicated in first-seen order (pairing's role and scope
// sets, merged from several lists).
Scopes merge_unique(std::initializer_list<const Scopes*> lists);

// The first scope that belongs to none of `roles` ("<role>." prefix), or nullopt.
std::optional<std::string> scope_outside_roles(const Scopes& roles, const Scopes& scopes);

// The normalized scopes one token role owns: operator.* for "operator", the rest otherwise.
Scopes role_token_scopes(const std::string& role, const Scopes& scopes);

// Same elements, order aside.
bool same_set(const Scopes& a, const Scopes& b);

}  // namespace clawgate::core
