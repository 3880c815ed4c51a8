#!/usr/bin/env python3
"""Generate C++ validators and the method/event tables from schema/protocol.schema.json.

Owns: turning the JSON Schema subset clawgate uses (draft-07: type, const, enum, anyOf, $ref,
properties/required/additionalProperties/patternProperties, items/minItems/maxItems/uniqueItems,
minLength/maxLength/pattern, minimum/maximum) into straight-line C++ over nlohmann::json.
Fails: with a message and exit 1 on any keyword it does not understand, so the schema can never
silently mean more than the generated code checks.

Error texts follow the upstream gateway (ajv wording): "at /text: must be string",
"at root: unexpected property 'x'", "must have required property 'text'".
"""
import json
import re
import os
import sys

# Patterns the schema uses, each compiled by hand to a linear-time check (name of a C++
# predicate below). No pattern is ever given to a backtracking engine: an unknown one stops
# the build, so adding one means writing its check here.
PATTERNS = {
    "\\S": "has_non_space",                      # ECMAScript \S: any non-whitespace code point
    "^[^/\\\\]+$": "no_slashes",                # non-empty, no '/' or '\\'
    "^[a-f0-9]{64}$": "lower_hex_64",
    "^session:.+": "session_prefixed",             # "session:" then a non-line-terminator
}

KNOWN = {"type", "const", "enum", "anyOf", "$ref", "properties", "required", "additionalProperties",
         "patternProperties", "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength",
         "pattern", "minimum", "maximum", "default", "$comment", "maxProperties",
         "description", "deprecated", "title"}  # the last three are annotations


def cpp_str(s):
    return json.dumps(s, ensure_ascii=True)


class Gen:
    def __init__(self, doc):
        self.doc = doc
        self.defs = doc["definitions"]
        self.funcs = []  # (name, body)
        self.counter = 0
        self.regexes = []

    def fresh(self):
        self.counter += 1
        return "v%d" % self.counter

    def ref_name(self, ref):
        prefix = "#/definitions/"
        if not ref.startswith(prefix) or ref[len(prefix):] not in self.defs:
            sys.exit("gen_protocol: unresolved $ref %s" % ref)
        return "def_" + ref[len(prefix):].replace(".", "_")

    def node(self, s, where):
        """Emits a function validating schema s; returns its name."""
        if s is True or s == {}:
            return "accept_any"
        unknown = set(s) - KNOWN
        if unknown:
            sys.exit("gen_protocol: %s: unsupported keywords %s" % (where, sorted(unknown)))
        name = self.fresh()
        body = []
        if "$ref" in s:
            body.append("  %s(v, p, e);" % self.ref_name(s["$ref"]))
            self.funcs.append((name, "\n".join(body)))
            return name
        types = s.get("type")
        if isinstance(types, str):
            types = [types]
        if types:
            cond = " || ".join("is_%s(v)" % t for t in types)
            body.append("  if (!(%s)) { e.add(p, %s); return; }" % (cond, cpp_str("must be " + ",".join(types))))
        if "const" in s:
            body.append("  if (v != Json::parse(%s)) { e.add(p, \"must be equal to constant\"); return; }"
                        % cpp_str(json.dumps(s["const"])))
        if "enum" in s:
            vals = s["enum"]
            if all(isinstance(x, str) for x in vals):
                arr = ", ".join(cpp_str(x) for x in vals)
                body.append("  static constexpr std::string_view kAllowed[] = {%s};" % arr)
                body.append("  if (!one_of_strings(v, kAllowed)) { e.add(p, \"must be equal to one of the allowed values\"); return; }")
            else:
                body.append("  static const Json kAllowed = Json::parse(%s);" % cpp_str(json.dumps(vals)))
                body.append("  if (std::find(kAllowed.begin(), kAllowed.end(), v) == kAllowed.end()) { e.add(p, \"must be equal to one of the allowed values\"); return; }")
        if "anyOf" in s:
            subs = [self.node(x, where + "/anyOf") for x in s["anyOf"]]
            body.append("  {")
            body.append("    bool matched = false;")
            for sub in subs:
                body.append("    if (!matched) { Errors t; %s(v, p, t); matched = t.ok(); }" % sub)
            body.append("    if (!matched) { e.add(p, \"must match a schema in anyOf\"); return; }")
            body.append("  }")
        # strings
        if any(k in s for k in ("minLength", "maxLength", "pattern")):
            body.append("  if (v.is_string()) {")
            body.append("    const auto& str = v.get_ref<const std::string&>();")
            if "minLength" in s or "maxLength" in s:
                body.append("    const size_t n = utf8_length(str);")
            if "maxLength" in s:  # first: nothing else looks at an over-long string
                m = s["maxLength"]
                body.append("    if (n > %d) { e.add(p, %s); return; }" % (m, cpp_str("must NOT have more than %d characters" % m)))
            if "minLength" in s:
                m = s["minLength"]
                body.append("    if (n < %d) e.add(p, %s);" % (m, cpp_str("must NOT have fewer than %d characters" % m)))
            if "pattern" in s:
                fn = PATTERNS.get(s["pattern"])
                if not fn:
                    sys.exit("gen_protocol: %s: pattern %r has no hand-compiled check in PATTERNS" % (where, s["pattern"]))
                body.append("    if (!%s(str)) e.add(p, %s);" % (fn, cpp_str('must match pattern "%s"' % s["pattern"])))
            body.append("  }")
        # numbers
        if "minimum" in s or "maximum" in s:
            body.append("  if (v.is_number()) {")
            body.append("    const double d = v.get<double>();")
            if "minimum" in s:
                body.append("    if (d < %r) e.add(p, %s);" % (float(s["minimum"]), cpp_str("must be >= %s" % s["minimum"])))
            if "maximum" in s:
                body.append("    if (d > %r) e.add(p, %s);" % (float(s["maximum"]), cpp_str("must be <= %s" % s["maximum"])))
            body.append("  }")
        if "maxProperties" in s:
            m = s["maxProperties"]
            body.append("  if (v.is_object() && v.size() > %d) e.add(p, %s);" % (m, cpp_str("must NOT have more than %d properties" % m)))
        # objects
        if any(k in s for k in ("properties", "required", "additionalProperties", "patternProperties")):
            props = s.get("properties", {})
            body.append("  if (v.is_object()) {")
            for r in s.get("required", []):
                body.append("    if (!v.contains(%s)) e.add(p, %s);" % (cpp_str(r), cpp_str("must have required property '%s'" % r)))
            extra = s.get("additionalProperties", True)
            pattern = s.get("patternProperties")
            extra_fn = None
            if pattern:
                if list(pattern) != ["^.*$"]:
                    sys.exit("gen_protocol: %s: only patternProperties ^.*$ is supported" % where)
                extra_fn = self.node(pattern["^.*$"], where + "/patternProperties")
            elif isinstance(extra, dict):
                extra_fn = self.node(extra, where + "/additionalProperties")
            prop_fns = {k: self.node(v, where + "/" + k) for k, v in props.items()}
            body.append("    for (auto it = v.begin(); it != v.end(); ++it) {")
            body.append("      const std::string& k = it.key();")
            body.append("      const Path cp{&p, k, 0};")
            first = True
            for k, fn in prop_fns.items():
                kw = "if" if first else "} else if"
                body.append("      %s (k == %s) {" % (kw, cpp_str(k)))
                body.append("        %s(it.value(), cp, e);" % fn)
                first = False
            if extra_fn:
                tail = "%s(it.value(), cp, e);" % extra_fn
            elif extra is False and not pattern:
                tail = "e.add(p, \"unexpected property '\" + k + \"'\");"
                if not prop_fns:  # no key is read: the path is never used ({} params)
                    tail = "(void)cp;\n      " + tail
            else:
                tail = "(void)cp;"
            if first:
                body.append("      " + tail)
            else:
                body.append("      } else {")
                body.append("        " + tail)
                body.append("      }")
            body.append("      if (e.full()) return;")
            body.append("    }")
            body.append("  }")
        # arrays
        if any(k in s for k in ("items", "minItems", "maxItems", "uniqueItems")):
            body.append("  if (v.is_array()) {")
            if "minItems" in s:
                m = s["minItems"]
                body.append("    if (v.size() < %d) e.add(p, %s);" % (m, cpp_str("must NOT have fewer than %d items" % m)))
            if "maxItems" in s:  # first: nothing else walks an over-long array
                m = s["maxItems"]
                body.append("    if (v.size() > %d) { e.add(p, %s); return; }" % (m, cpp_str("must NOT have more than %d items" % m)))
            if s.get("uniqueItems"):
                body.append("    if (!all_unique(v)) e.add(p, \"must NOT have duplicate items\");")
            if "items" in s:
                fn = self.node(s["items"], where + "/items")
                body.append("    for (size_t i = 0; i < v.size() && !e.full(); ++i) {")
                body.append("      const Path cp{&p, {}, i};")
                body.append("      %s(v[i], cp, e);" % fn)
                body.append("    }")
            body.append("  }")
        if not body:
            body.append("  (void)v; (void)p; (void)e;")
        self.funcs.append((name, "\n".join(body)))
        return name


def apply_limits(doc, limits):
    """Gives every string and array reachable from connect's and the methods' params a bound:
    upstream's, else limits["paths"][path], else limits["defaults"]; a path's "default" becomes
    the property's (the typed params field holds it). Edits doc in place."""
    defs = doc["definitions"]
    paths = limits["paths"]
    used = set()
    for pth, over in paths.items():
        unknown = set(over) - {"maxLength", "maxItems", "maximum", "default"}
        if unknown:
            sys.exit("gen_protocol: limits.json %s: unknown keys %s" % (pth, sorted(unknown)))
    default_len = limits["defaults"]["maxLength"]
    default_items = limits["defaults"]["maxItems"]
    seen = set()

    def walk(n, path):
        if not isinstance(n, dict):
            return
        if "$ref" in n:
            d = n["$ref"].split("/")[-1]
            if d not in seen:
                seen.add(d)
                walk(defs[d], d)
            return
        over = paths.get(path)
        if over:
            used.add(path)
        t = n.get("type")
        types = t if isinstance(t, list) else [t]
        if "string" in types and "const" not in n and "enum" not in n and "maxLength" not in n:
            n["maxLength"] = (over or {}).get("maxLength", default_len)
        if "array" in types and "maxItems" not in n:
            n["maxItems"] = (over or {}).get("maxItems", default_items)
        if over and "maximum" in over:
            n["maximum"] = over["maximum"]
        if over and "default" in over:  # clawgate's reading of an absent key (typed params)
            n["default"] = over["default"]
        for k, v in list(n.items()):
            if k == "properties":
                for kk, vv in v.items():
                    walk(vv, path + "." + kk)
            elif k == "patternProperties":
                for vv in v.values():
                    walk(vv, path + ".*")
            elif k == "additionalProperties":
                walk(v, path + ".*")
            elif k == "items":
                walk(v, path + "[]")
            elif k == "anyOf":
                for vv in v:
                    walk(vv, path)

    roots = {"ConnectParams"} | {m["params"] for m in doc["methods"].values()}
    for r in sorted(roots):
        seen.add(r)
        walk(defs[r], r)
    # A stale path would silently bound nothing: refuse it.
    for pth in set(paths) - used:
        sys.exit("gen_protocol: limits.json names %s, which no params schema has" % pth)


# --- Typed params ------------------------------------------------------------------------------
# One struct per method whose params are an object with properties (or an anyOf of such objects,
# read as one object: every branch's properties, required when every branch requires it; a key
# whose schema differs between branches stays Json). Fields: camelCase -> snake_case; a scalar
# (string/boolean/integer/number, also an anyOf or enum of one of them) or an array of scalars
# is typed, anything else (objects, mixed anyOf, nullable, free-form) stays Json. A field not
# required is std::optional, or a plain field initialised to its "default" (limits.json gives
# clawgate's defaults). from_json reads validated params: every line is one helper call, so the
# code stays one struct and one function per method.

SCALARS = {"string": "std::string", "boolean": "bool", "integer": "int64_t", "number": "double"}
CPP_KEYWORDS = {"default", "delete", "new", "class", "struct", "union", "enum", "template", "this",
                "private", "public", "protected", "namespace", "operator", "register", "auto",
                "bool", "int", "char", "long", "short", "double", "float", "case", "switch",
                "return", "const", "static", "volatile", "explicit", "friend", "virtual", "using"}
# The connect request is the handshake, not a kMethods entry; its params get a struct too.
EXTRA_PARAMS = {"connect": "ConnectParams"}


def struct_name(method):
    """`channels.pairing.approve` -> ChannelsPairingApprove, `system-event` -> SystemEvent."""
    return "".join(p[0].upper() + p[1:] for p in re.split(r"[.\-]", method) if p)


def field_name(key, where):
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key):
        sys.exit("gen_protocol: %s: property %r makes no C++ field name" % (where, key))
    # A run of capitals is one word: payloadJSON -> payload_json, not payload_j_s_o_n.
    name = re.sub(r"[A-Z]+(?![a-z])|[A-Z]", lambda m: "_" + m.group(0).lower(), key)
    return name + "_" if name in CPP_KEYWORDS else name


def scalar_kind(n):
    """The one JSON type (a SCALARS key) every value n accepts has, else None."""
    if not isinstance(n, dict) or "$ref" in n:
        return None
    kinds = set()
    t = n.get("type")
    if isinstance(t, str):
        kinds.add(t)
    elif t is not None:
        return None
    else:  # no type: the enum's or const's values say it
        for v in n.get("enum", []) + ([n["const"]] if "const" in n else []):
            kinds.add({str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(v)))
    if "anyOf" in n:
        kinds |= {scalar_kind(x) for x in n["anyOf"]}
    if len(kinds) != 1:
        return None
    k = kinds.pop()
    return k if k in SCALARS else None


def cpp_type(n):
    """(C++ type, scalar kind or "array:<kind>" or "json") of a property schema."""
    k = scalar_kind(n)
    if k:
        return SCALARS[k], k
    if isinstance(n, dict) and n.get("type") == "array" and "anyOf" not in n:
        ik = scalar_kind(n.get("items"))
        if ik:
            return "std::vector<%s>" % SCALARS[ik], "array:" + ik
    return "Json", "json"


def accepts(n, v):
    """Whether v satisfies n, for the keywords a default can meet (checked at build time)."""
    if "anyOf" in n and not any(accepts(x, v) for x in n["anyOf"]):
        return False
    if "const" in n and v != n["const"]:
        return False
    if "enum" in n and v not in n["enum"]:
        return False
    t = n.get("type")
    py = {"string": str, "boolean": bool, "array": list, "number": (int, float), "integer": int}
    if t and (t not in py or not isinstance(v, py[t]) or (t != "boolean" and isinstance(v, bool))):
        return False
    if isinstance(v, str) and not n.get("minLength", 0) <= len(v) <= n.get("maxLength", len(v)):
        return False
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v < n.get("minimum", v) or v > n.get("maximum", v) or not -2**63 <= v < 2**63:
            return False
    if isinstance(v, list):
        if not n.get("minItems", 0) <= len(v) <= n.get("maxItems", len(v)):
            return False
        return all(accepts(n.get("items", {}), x) for x in v)
    return "pattern" not in n  # a default under a pattern would need the pattern's check here


def cpp_literal(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return cpp_str(v)
    if isinstance(v, int):
        return "%dLL" % v if not -2**31 <= v < 2**31 else "%d" % v
    if isinstance(v, float):
        return repr(v)
    return "{%s}" % ", ".join(cpp_literal(x) for x in v)


def object_shape(n):
    """(properties, required) of a params schema read as one object, or None."""
    if n.get("type") == "object" and n.get("properties"):
        return dict(n["properties"]), set(n.get("required", []))
    branches = n.get("anyOf")
    if not branches or set(n) - {"anyOf", "$comment", "description"}:
        return None
    props, required = {}, None
    for b in branches:  # closed objects only: a key one branch lacks cannot slip in through it
        if b.get("type") != "object" or not b.get("properties") or b.get("additionalProperties") is not False:
            return None
        for k, v in b["properties"].items():
            props[k] = v if props.get(k, v) == v else {}  # differs between branches: Json
        r = set(b.get("required", []))
        required = r if required is None else required & r
    return props, required


def params_structs(doc):
    """Header and source lines of namespace params (after apply_limits)."""
    defs = doc["definitions"]
    methods = dict(EXTRA_PARAMS)
    methods.update({m: s["params"] for m, s in doc["methods"].items()})
    h, c, done = [], [], {}
    for m, d in methods.items():
        name = struct_name(m)
        if d in done:  # another method with the same params definition: the same struct
            h.append("using %s = %s;" % (name, done[d]))
            continue
        shape = object_shape(defs[d])
        if not shape:
            continue
        done[d] = name
        props, required = shape
        h.append("// %s params (%s)." % (m, d))
        h.append("struct %s {" % name)
        c.append("void from_json(const Json& j, %s& o) {" % name)
        fields = {}
        for key, n in props.items():
            where = "%s.%s" % (d, key)
            f = field_name(key, where)
            if f in fields:
                sys.exit("gen_protocol: %s: field %s is also %s.%s's" % (where, f, d, fields[f]))
            fields[f] = key
            t, kind = cpp_type(n)
            has_default = isinstance(n, dict) and "default" in n
            if key in required:
                if has_default:
                    sys.exit("gen_protocol: %s: a required property has no use for a default" % where)
                h.append("  %s %s{};" % (t, f))
                c.append("  read_required(j, %s, o.%s);" % (cpp_str(key), f))
            elif has_default:
                if kind == "json" or not accepts(n, n["default"]):
                    sys.exit("gen_protocol: %s: default %s does not pass the property's schema "
                             "(a default must be a scalar or an array of them, within the bounds, "
                             "under no pattern)" % (where, json.dumps(n["default"])))
                h.append("  %s %s = %s;" % (t, f, cpp_literal(n["default"])))
                c.append("  read_present(j, %s, o.%s);" % (cpp_str(key), f))
            else:
                h.append("  std::optional<%s> %s;" % (t, f))
                c.append("  read_present(j, %s, o.%s);" % (cpp_str(key), f))
        h.append("};")
        h.append("void from_json(const Json& j, %s& o);" % name)
        c.append("}")
    return h, c

def pascal_enum(name):
    return name


def main():
    src, out_hpp, out_cpp = sys.argv[1:4]
    doc = json.load(open(src))
    apply_limits(doc, json.load(open(os.path.join(os.path.dirname(os.path.abspath(src)), "limits.json"))))
    g = Gen(doc)
    def_names = list(doc["definitions"])
    def_fns = {}
    for d in def_names:
        def_fns[d] = g.node(doc["definitions"][d], d)

    for m, spec in doc["methods"].items():
        for k in ("params", "result"):
            if k in spec and spec[k] not in doc["definitions"]:
                sys.exit("gen_protocol: method %s: unknown %s definition %s" % (m, k, spec[k]))
    for m, spec in doc["methods"].items():
        # A method is for operators (an operator.* scope), for nodes ("node", as upstream's
        # method list marks them), or for both ("anyRole": health).
        if not (spec.get("scope", "").startswith("operator.") or spec.get("scope") == "node"):
            sys.exit("gen_protocol: method %s: scope must be operator.* or \"node\"" % m)
        if spec.get("anyRole") and spec["scope"] == "node":
            sys.exit("gen_protocol: method %s: a node-only method cannot be anyRole" % m)
    for ev, spec in doc["events"].items():
        if spec.get("direct") and (spec.get("dropIfSlow") or spec.get("stateVersion") or spec.get("preAuth")):
            sys.exit("gen_protocol: event %s: a direct event is sent to one connection, unsequenced" % ev)
        if spec["payload"] not in doc["definitions"]:
            sys.exit("gen_protocol: event %s: unknown payload definition %s" % (ev, spec["payload"]))
        # Every event says who may receive it (upstream EVENT_SCOPE_GUARDS): no default, so a
        # new event cannot reach every connection by omission.
        if not isinstance(spec.get("scope"), str):
            sys.exit("gen_protocol: event %s: missing \"scope\" (\"\" for every connection)" % ev)

    h = []
    h.append("// Generated by schema/gen_protocol.py from schema/protocol.schema.json. Do not edit.")
    h.append("#pragma once")
    h.append("#include <array>\n#include <cstdint>\n#include <optional>\n#include <string>\n#include <string_view>\n#include <vector>")
    h.append("#include <nlohmann/json.hpp>")
    h.append("namespace clawgate::schema {")
    h.append("using Json = nlohmann::json;")
    h.append("enum class Def {")
    for d in def_names:
        h.append("  %s," % d)
    h.append("};")
    h.append("std::string_view def_name(Def d);")
    # One enumerator per method, in schema order (kMethods[i].id == Method(i)): handlers are
    # tables indexed by it, so a method the schema adds is a compile error or a startup
    # failure until something serves it.
    h.append("enum class Method : uint16_t {")
    for m in doc["methods"]:
        h.append("  %s," % method_ident(m))
    h.append("};")
    h.append("""
// Validation errors in the upstream (ajv) wording. Collection stops after kMax.
struct Errors {
  static constexpr size_t kMax = 8;
  std::vector<std::string> items;
  bool ok() const { return items.empty(); }
  bool full() const { return items.size() >= kMax; }
  std::string text() const;  // "at /a: must be string; must have required property 'b'"
};

// Validates v against definition d; returns true when valid, else fills e.
bool validate(Def d, const Json& v, Errors& e);

struct MethodSpec {
  Method id;
  std::string_view name;
  std::string_view scope;  // operator.read / operator.write / operator.admin / ...
  bool scopeExempt;        // callable with no scopes at all (upstream: health)
  Def params;
  bool hasResult;
  Def result;
  bool nodeOnly;  // scope "node": for node connections only (node.invoke.result, node.event)
  bool anyRole;   // callable by operators and nodes alike (health)
};

struct EventSpec {
  std::string_view name;
  std::string_view scope;  // needed to receive it; "" for every authenticated connection
  bool nodeEvent;          // a node receives it although it needs an operator scope
  Def payload;
  bool dropIfSlow;    // skipped for a client whose send buffer is over the limit
  bool stateVersion;  // carries {presence, health}
  bool preAuth;       // sent before hello-ok, without seq
  bool direct;        // sent to one connection, without seq; never broadcast
};
""")
    h.append("inline constexpr size_t kMethodCount = %d;" % len(doc["methods"]))
    h.append("inline constexpr size_t kEventCount = %d;" % len(doc["events"]))
    h.append("extern const std::array<MethodSpec, kMethodCount> kMethods;")
    h.append("extern const std::array<EventSpec, kEventCount> kEvents;")
    h.append("inline std::string_view method_name(Method m) {")
    h.append("  return kMethods[static_cast<size_t>(m)].name;")
    h.append("}")
    h.append("const MethodSpec* find_method(std::string_view name);")
    h.append("const EventSpec* find_event(std::string_view name);")
    params_h, params_c = params_structs(doc)
    h.append("""
// Typed params, one struct per method whose params are an object with known properties (see
// params_structs in gen_protocol.py): a required property is a plain field, an optional one a
// std::optional or, with a schema default, a field holding it; objects and mixed types stay
// Json. Read with params.get<params::ChatSend>() ONLY after validate() accepted params against
// the method's definition: validation is the check, from_json only converts. Given anything
// else, from_json throws std::logic_error naming the key (a bug, answered as an internal
// error at the event loop's edge), never a half-read struct.
namespace params {""")
    h.extend(params_h)
    h.append("}  // namespace params")
    h.append("}  // namespace clawgate::schema")

    c = []
    c.append("// Generated by schema/gen_protocol.py from schema/protocol.schema.json. Do not edit.")
    c.append('#include "protocol_gen.hpp"')
    c.append("#include <algorithm>\n#include <cmath>\n#include <cstdint>\n#include <stdexcept>")
    c.append("namespace clawgate::schema {")
    c.append("namespace {")
    c.append("""
struct Path {
  const Path* parent;
  std::string_view key;
  size_t index;
};

std::string render(const Path& p) {
  std::vector<const Path*> chain;
  for (const Path* q = &p; q && q->parent; q = q->parent) chain.push_back(q);
  if (chain.empty()) return "root";
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    out += '/';
    if ((*it)->key.data()) out += (*it)->key; else out += std::to_string((*it)->index);
  }
  return out;
}

}  // namespace

std::string Errors::text() const {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += "; ";
    out += s;
  }
  return out;
}

namespace {

struct E {
  Errors& errs;
  bool full() const { return errs.full(); }
  bool ok() const { return errs.ok(); }
  void add(const Path& p, std::string msg) {
    if (errs.full()) return;
    // Upstream omits the location for a missing property at the root.
    if (!p.parent && msg.rfind("must have required", 0) == 0) errs.items.push_back(std::move(msg));
    else errs.items.push_back("at " + render(p) + ": " + msg);
  }
};

inline bool is_string(const Json& v) { return v.is_string(); }
inline bool is_boolean(const Json& v) { return v.is_boolean(); }
inline bool is_null(const Json& v) { return v.is_null(); }
inline bool is_object(const Json& v) { return v.is_object(); }
inline bool is_array(const Json& v) { return v.is_array(); }
inline bool is_number(const Json& v) { return v.is_number(); }
// Integers must fit int64 (handlers read them with get<int64_t>()): 1e300 or 2^64 is refused
// here, never converted.
inline bool is_integer(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(INT64_MAX);
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d && d >= -9223372036854775808.0 &&
         d < 9223372036854775808.0;
}

// Decodes the code point at s[i] (advancing i); invalid bytes read as U+FFFD. Input strings
// were validated as UTF-8 by the JSON parser.
char32_t next_code_point(const std::string& s, size_t& i) {
  const unsigned char c = s[i++];
  if (c < 0x80) return c;
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  char32_t cp = c & (0x3F >> extra);
  for (; extra > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; --extra)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  return extra ? 0xFFFD : cp;
}

// ECMAScript's WhiteSpace and LineTerminator code points.
bool is_es_space(char32_t c) {
  return c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c == 0x20 ||
         c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

// The schema's patterns, hand-compiled (see PATTERNS in gen_protocol.py): one pass each.
bool has_non_space(const std::string& s) {
  for (size_t i = 0; i < s.size();)
    if (!is_es_space(next_code_point(s, i))) return true;
  return false;
}
bool no_slashes(const std::string& s) {
  return !s.empty() && s.find_first_of("/\\\\") == std::string::npos;
}
bool lower_hex_64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
bool session_prefixed(const std::string& s) {
  if (s.rfind("session:", 0) != 0 || s.size() == 8) return false;
  size_t i = 8;
  const char32_t c = next_code_point(s, i);
  return c != 0x0A && c != 0x0D && c != 0x2028 && c != 0x2029;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

template <size_t N>
bool one_of_strings(const Json& v, const std::string_view (&allowed)[N]) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  for (auto a : allowed) if (a == s) return true;
  return false;
}

bool all_unique(const Json& v) {
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = i + 1; j < v.size(); ++j)
      if (v[i] == v[j]) return false;
  return true;
}

void accept_any(const Json&, const Path&, E&) {}
""")
    for name, _ in g.funcs:
        c.append("void %s(const Json& v, const Path& p, E& e);" % name)
    for d in def_names:
        c.append("void def_%s(const Json& v, const Path& p, E& e) { %s(v, p, e); }" % (d.replace(".", "_"), def_fns[d]))
    for name, body in g.funcs:
        c.append("void %s(const Json& v, const Path& p, E& e) {\n%s\n}" % (name, body))
    # Errors used as a scratch type for anyOf: adapt
    c.append("}  // namespace")
    c.append("std::string_view def_name(Def d) {\n  switch (d) {")
    for d in def_names:
        c.append("    case Def::%s: return %s;" % (d, cpp_str(d)))
    c.append("  }\n  return {};\n}")
    c.append("bool validate(Def d, const Json& v, Errors& errors) {")
    c.append("  E e{errors};\n  const Path root{nullptr, {}, 0};\n  switch (d) {")
    for d in def_names:
        c.append("    case Def::%s: def_%s(v, root, e); break;" % (d, d.replace(".", "_")))
    c.append("  }\n  return errors.ok();\n}")
    c.append("const std::array<MethodSpec, kMethodCount> kMethods = {{")
    for m, spec in doc["methods"].items():
        res = spec.get("result")
        c.append("  {Method::%s, %s, %s, %s, Def::%s, %s, Def::%s, %s, %s}," % (
            method_ident(m), cpp_str(m), cpp_str(spec["scope"]), "true" if spec.get("scopeExempt") else "false",
            spec["params"], "true" if res else "false", res or spec["params"],
            "true" if spec["scope"] == "node" else "false", "true" if spec.get("anyRole") else "false"))
    c.append("}};")
    c.append("const std::array<EventSpec, kEventCount> kEvents = {{")
    for ev, spec in doc["events"].items():
        c.append("  {%s, %s, %s, Def::%s, %s, %s, %s, %s}," % (
            cpp_str(ev), cpp_str(spec["scope"]), "true" if spec.get("nodeEvent") else "false",
            spec["payload"], "true" if spec.get("dropIfSlow") else "false",
            "true" if spec.get("stateVersion") else "false", "true" if spec.get("preAuth") else "false",
            "true" if spec.get("direct") else "false"))
    c.append("}};")
    c.append("""const MethodSpec* find_method(std::string_view name) {
  for (const auto& m : kMethods) if (m.name == name) return &m;
  return nullptr;
}
const EventSpec* find_event(std::string_view name) {
  for (const auto& ev : kEvents) if (ev.name == name) return &ev;
  return nullptr;
}""")
    c.append("""namespace params {
namespace {

// Each read converts a validated value; false means it was not (see the header).
bool read(const Json& v, std::string& out) {
  if (!v.is_string()) return false;
  out = v.get_ref<const std::string&>();
  return true;
}
bool read(const Json& v, bool& out) {
  if (!v.is_boolean()) return false;
  out = v.get<bool>();
  return true;
}
bool read(const Json& v, double& out) {
  if (!v.is_number()) return false;
  out = v.get<double>();
  return true;
}
// The validator's is_integer: int64-sized integers, also written as 2.0 or 1e3; never a cast
// of an out-of-range double.
bool read(const Json& v, int64_t& out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > uint64_t(INT64_MAX)) return false;
    out = static_cast<int64_t>(v.get<uint64_t>());
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return true;
  }
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::floor(d) != d || d < -0x1p63 || d >= 0x1p63) return false;
  out = static_cast<int64_t>(d);
  return true;
}
bool read(const Json& v, Json& out) {
  out = v;
  return true;
}
template <typename T>
bool read(const Json& v, std::vector<T>& out) {
  if (!v.is_array()) return false;
  out.clear();
  out.reserve(v.size());
  for (const auto& x : v)
    if (!read(x, out.emplace_back())) return false;
  return true;
}
template <typename T>
bool read(const Json& v, std::optional<T>& out) {
  return read(v, out.emplace());
}

[[noreturn]] void not_validated(std::string_view key) {
  throw std::logic_error("params read before validation: " + std::string(key) +
                         " is missing or of the wrong type");
}
// Keys as string_view: the object's map compares them without building a std::string.
template <typename T>
void read_required(const Json& j, std::string_view key, T& out) {
  const auto it = j.is_object() ? j.find(key) : j.end();
  if (it == j.end() || !read(*it, out)) not_validated(key);
}
template <typename T>
void read_present(const Json& j, std::string_view key, T& out) {
  if (!j.is_object()) not_validated(key);
  const auto it = j.find(key);
  if (it != j.end() && !read(*it, out)) not_validated(key);
}

}  // namespace
""")
    c.extend(params_c)
    c.append("}  // namespace params")
    c.append("}  // namespace clawgate::schema")

    src_c = "\n".join(c) + "\n"
    # The anyOf scratch uses `Errors t; fn(v, p, t)`: wrap it so fn receives an E.
    src_c = src_c.replace("{ Errors t; ", "{ Errors te; E t{te}; ")
    open(out_hpp, "w").write("\n".join(h) + "\n")
    open(out_cpp, "w").write(src_c)


def method_ident(name):
    """`chat.send` -> chat_send, `system-presence` -> system_presence."""
    ident = re.sub(r"[^A-Za-z0-9]", "_", name)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", ident):
        sys.exit("gen_protocol: method name %r makes no C++ identifier" % name)
    return ident


if __name__ == "__main__":
    main()
