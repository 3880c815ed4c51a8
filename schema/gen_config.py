#!/usr/bin/env python3
"""Generate the typed settings structs and the parser from schema/config.schema.json.

Owns: turning the config schema into C++ (namespace clawgate::cfg): one struct per object
(named after its definition, else after its path: gateway.auth -> GatewayAuth), one field per
key (camelCase -> snake_case; a key with a "default" is a plain field initialised to it, one
without is std::optional), a reader per node that walks the parsed JSON once and records every
problem as an Issue naming its key path, to_json for the effective config, the schema text
itself, the uiHints that config.schema serves and the paths of sensitive values.

The subset it understands (anything else stops the build, so the schema can never mean more
than the parser checks): type (object, array, string, integer, number, boolean,
["string", "integer"] read as a string, or ["boolean", "string"] with an enum of true, false and
words, read as the text "true", "false" or the word), properties with additionalProperties false (or an
x-clawgate-ignored schema: the other keys are OpenClaw's, accepted unread), maps
(additionalProperties: <schema>, maxProperties, propertyNames.maxLength and .minLength, and
propertyNames.x-clawgate-check with the pattern it enforces, for editors), items/maxItems,
minLength/maxLength (code points), enum (strings), minimum/maximum, default, $ref to
#/definitions, and clawgate's annotations: x-clawgate (a key of clawgate's own),
x-clawgate-ignored (an OpenClaw key accepted and not read: true, or the warning to log),
x-clawgate-check (a named check in common/config_support.hpp), x-clawgate-shorthand (an anyOf
of a string and an object: the string sets that field), x-sensitive (redacted in config.get),
x-clawgate-account-of (a definition for one account of a channel: the channel's keys but its
accounts and defaultAccount, each the same schema without its default, so every key is optional
and an unset one is inherited; checked here so the two never drift apart).
Every node needs a description; a clawgate key's description must say "clawgate".
Fails: exit 1 with the schema path of the first node it cannot express.
"""
import json
import re
import sys

ANNOTATIONS = {"description", "title", "$comment", "default", "x-clawgate", "x-sensitive"}
KNOWN = ANNOTATIONS | {"type", "properties", "additionalProperties", "maxProperties", "propertyNames",
                       "items", "maxItems", "minLength", "maxLength", "enum", "minimum", "maximum",
                       "$ref", "anyOf", "x-clawgate-ignored", "x-clawgate-check",
                       "x-clawgate-shorthand", "x-clawgate-account-of"}
# x-clawgate-check name -> C++ function in common/config_support.hpp returning an error or "".
CHECKS = {"bind": "check_bind", "ip-range": "check_ip_range", "http-url": "check_http_url",
          "duration": "check_duration", "model-ref": "check_model_ref",
          "account-id": "check_account_id", "file-path": "check_file_path"}
# Keys of a channel that an account (x-clawgate-account-of) does not have.
CHANNEL_ONLY_KEYS = {"accounts", "defaultAccount"}
CPP_KEYWORDS = {"default", "delete", "new", "class", "struct", "union", "enum", "template", "this",
                "private", "public", "protected", "namespace", "operator", "register", "auto"}
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
MAX_SAFE = 2**53 - 1


def die(where, msg):
    sys.exit("gen_config: %s: %s" % (where or "<root>", msg))


def cpp_str(s):
    return json.dumps(s, ensure_ascii=True)


def snake(key, where):
    name = re.sub(r"^\$", "", key)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
        die(where, "key %r is not a C++ name; mark it x-clawgate-ignored or rename" % key)
    name = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)
    return name + "_" if name in CPP_KEYWORDS else name


def pascal(path):
    parts = [p for p in re.split(r"[.\[\]*]+", path) if p]
    return "".join(p[0].upper() + p[1:] for p in parts) or "Config"


class Gen:
    def __init__(self, doc):
        self.doc = doc
        self.defs = doc.get("definitions", {})
        self.structs = []        # (name, [(key, field, cpp_type, init, optional, reader)]) in order
        self.struct_of = {}      # id(node) -> its struct's name (for gen_child_config.py)
        self.done_defs = {}      # definition name -> struct name
        self.readers = []        # (name, cpp_type, body)
        self.counter = 0
        self.sensitive = []      # paths with * for map keys, [] for items
        self.hints = {}          # uiHints: path -> {label?, help, sensitive?, tags?}

    def resolve(self, node, where):
        ref = node.get("$ref")
        if ref is None:
            return node, None
        prefix = "#/definitions/"
        if not ref.startswith(prefix) or ref[len(prefix):] not in self.defs:
            die(where, "unresolved $ref %s" % ref)
        if set(node) - {"$ref", "description", "$comment"}:
            die(where, "a $ref takes no other keywords but description")
        return self.defs[ref[len(prefix):]], ref[len(prefix):]

    def check_node(self, node, where):
        unknown = set(node) - KNOWN
        if unknown:
            die(where, "unsupported keywords %s" % sorted(unknown))
        if not isinstance(node.get("description"), str) or not node["description"].strip():
            die(where, "every key needs a description")
        if node.get("x-clawgate") and "clawgate" not in node["description"]:
            die(where, "a clawgate key's description must say so (mention clawgate)")

    def hint(self, node, path):
        h = {"help": node["description"]}
        if "title" in node:
            h["label"] = node["title"]
        if node.get("x-sensitive"):
            h["sensitive"] = True
        if node.get("x-clawgate"):
            h["tags"] = ["clawgate"]
        self.hints[path] = h

    # additionalProperties: {"description": ..., "x-clawgate-ignored": true}: the object's other
    # keys are OpenClaw's and accepted unread (plugins.entries: every plugin id but canvas).
    def ignored_rest(self, node, where):
        rest = node.get("additionalProperties")
        if not isinstance(rest, dict) or rest.get("x-clawgate-ignored") is not True:
            return False
        self.check_node(rest, where + "/additionalProperties")
        if set(rest) - {"description", "x-clawgate-ignored"}:
            die(where + "/additionalProperties", "an ignored rest has a description only")
        return True

    def fresh(self):
        self.counter += 1
        return "read_v%d" % self.counter

    def kind(self, node, where):
        if "x-clawgate-ignored" in node:
            return "ignored"
        if "x-clawgate-shorthand" in node:
            return "shorthand"
        if "anyOf" in node:
            die(where, "anyOf is supported only with x-clawgate-shorthand")
        t = node.get("type")
        if t == ["string", "integer"]:
            return "id"
        if t == ["boolean", "string"]:
            return "flag"
        if t == "object":
            if "properties" in node:
                if node.get("additionalProperties") is not False and \
                        not self.ignored_rest(node, where):
                    die(where, "an object with properties must say additionalProperties: false "
                               "(or an x-clawgate-ignored schema for OpenClaw's other keys)")
                return "struct"
            if isinstance(node.get("additionalProperties"), dict):
                return "map"
            die(where, "an object needs properties or additionalProperties: <schema>")
        if t in ("array", "string", "integer", "number", "boolean"):
            return t
        die(where, "unsupported type %r" % (t,))

    # Returns (cpp_type, reader function name) for the node at `path`.
    def node(self, node, path, where):
        node, defname = self.resolve(node, where)
        if defname and defname in self.done_defs:
            return self.done_defs[defname], "read_" + self.done_defs[defname]
        self.check_node(node, where)
        k = self.kind(node, where)
        if k == "struct":
            name = defname or pascal(path)
            if defname:
                self.done_defs[defname] = name
            self.struct(node, name, path, where)
            return name, "read_" + name
        if k == "shorthand":
            return self.shorthand(node, defname or pascal(path), path, where)
        if k == "map":
            if "maxProperties" not in node:
                die(where, "a map needs maxProperties")
            names = node.get("propertyNames", {})
            key_max, key_min = names.get("maxLength"), names.get("minLength", 0)
            if not key_max or set(names) - {"minLength", "maxLength", "pattern", "x-clawgate-check"} \
                    or not 0 <= key_min <= key_max:
                die(where, "a map needs propertyNames: {maxLength} (and at most a minLength)")
            key_check = names.get("x-clawgate-check")
            if ("pattern" in names) != (key_check is not None):
                die(where, "propertyNames.pattern is for editors: it needs the x-clawgate-check "
                           "that enforces it (and a check needs its pattern)")
            if key_check is not None and key_check not in CHECKS:
                die(where, "unknown x-clawgate-check %r (add it to CHECKS and config_support)" % key_check)
            check_line = ("    if (!apply_key_check(%s(it.key()), cp, is)) continue;\n" % CHECKS[key_check]
                          if key_check else "")
            vt, vr = self.node(node["additionalProperties"], path + ".*", where + "/additionalProperties")
            cpp = "std::map<std::string, %s>" % vt
            name = self.fresh()
            body = ("  if (!expect_object(v, p, is)) return false;\n"
                    "  if (!check_max_properties(v, p, is, %d)) return false;\n"
                    "  out.clear();\n"
                    "  for (auto it = v.begin(); it != v.end(); ++it) {\n"
                    "    const Path cp{&p, it.key()};\n"
                    "    if (!check_key_length(it.key(), cp, is, %d, %d)) continue;\n"
                    "%s"
                    "    %s t{};\n"
                    "    if (%s(it.value(), cp, is, t)) out.emplace(it.key(), std::move(t));\n"
                    "  }\n  return true;" % (node["maxProperties"], key_min, key_max, check_line, vt, vr))
            self.readers.append((name, cpp, body))
            return cpp, name
        if k == "array":
            if "maxItems" not in node:
                die(where, "an array needs maxItems")
            it, ir = self.node(node["items"], path + "[]", where + "/items")
            cpp = "std::vector<%s>" % it
            name = self.fresh()
            body = ("  if (!expect_array(v, p, is, %d)) return false;\n"
                    "  out.clear();\n"
                    "  for (size_t i = 0; i < v.size(); ++i) {\n"
                    "    const Path cp{&p, i};\n"
                    "    %s t{};\n"
                    "    if (%s(v[i], cp, is, t)) out.push_back(std::move(t));\n"
                    "  }\n  return true;" % (node["maxItems"], it, ir))
            self.readers.append((name, cpp, body))
            return cpp, name
        if k in ("string", "id"):
            name = self.fresh()
            if node.get("x-sensitive"):
                self.sensitive.append(path)
            if "enum" in node:
                if not all(isinstance(x, str) for x in node["enum"]):
                    die(where, "enum values must be strings")
                body = ("  static constexpr std::string_view kAllowed[] = {%s};\n"
                        "  return read_enum(v, p, is, kAllowed, out);"
                        % ", ".join(cpp_str(x) for x in node["enum"]))
            else:
                if "maxLength" not in node:
                    die(where, "a string needs maxLength")
                fn = "read_id" if k == "id" else "read_string"
                body = ("  std::string t;\n"
                        "  if (!%s(v, p, is, %d, %d, t)) return false;\n" % (
                            fn, node.get("minLength", 0), node["maxLength"]))
                check = node.get("x-clawgate-check")
                if check:
                    if check not in CHECKS:
                        die(where, "unknown x-clawgate-check %r (add it to CHECKS and config_support)" % check)
                    body += "  if (!apply_check(%s(t), v, p, is)) return false;\n" % CHECKS[check]
                body += "  out = std::move(t);\n  return true;"
            self.readers.append((name, "std::string", body))
            return "std::string", name
        if k == "flag":
            # true, false or one of the enum's words, held as text ("true", "false", "mentions").
            words = [x for x in node.get("enum", []) if isinstance(x, str)]
            if set(x for x in node.get("enum", []) if not isinstance(x, str)) != {True, False} \
                    or not words:
                die(where, "a [boolean, string] needs an enum of true, false and its words")
            name = self.fresh()
            body = ("  if (v.is_boolean()) {\n"
                    "    out = v.get<bool>() ? \"true\" : \"false\";\n"
                    "    return true;\n"
                    "  }\n"
                    "  static constexpr std::string_view kAllowed[] = {\"true\", \"false\", %s};\n"
                    "  return read_enum(v, p, is, kAllowed, out);" % ", ".join(cpp_str(x) for x in words))
            self.readers.append((name, "std::string", body))
            return "std::string", name
        if k == "integer":
            lo, hi = node.get("minimum"), node.get("maximum")
            if not isinstance(lo, int) or not isinstance(hi, int) or lo > hi:
                die(where, "an integer needs integral minimum <= maximum")
            if lo < -MAX_SAFE or hi > MAX_SAFE:
                die(where, "integer bounds must stay within +-(2^53-1)")
            cpp = "int" if INT32_MIN <= lo and hi <= INT32_MAX else "int64_t"
            name = self.fresh()
            body = ("  int64_t t = 0;\n"
                    "  if (!read_int(v, p, is, %dLL, %dLL, t)) return false;\n"
                    "  out = static_cast<%s>(t);  // within the bounds just checked\n"
                    "  return true;" % (lo, hi, cpp))
            self.readers.append((name, cpp, body))
            return cpp, name
        if k == "number":
            lo, hi = node.get("minimum"), node.get("maximum")
            if lo is None or hi is None:
                die(where, "a number needs minimum and maximum")
            name = self.fresh()
            self.readers.append((name, "double", "  return read_number(v, p, is, %r, %r, out);" % (float(lo), float(hi))))
            return "double", name
        if k == "boolean":
            name = self.fresh()
            self.readers.append((name, "bool", "  return read_bool(v, p, is, out);"))
            return "bool", name
        die(where, "cannot read a %s node here" % k)

    def shorthand(self, node, name, path, where):
        field = node["x-clawgate-shorthand"]
        branches = node["anyOf"]
        if len(branches) != 2 or branches[0].get("type") != "string" or branches[1].get("type") != "object":
            die(where, "x-clawgate-shorthand needs anyOf [string, object]")
        if field not in branches[1].get("properties", {}):
            die(where, "x-clawgate-shorthand names %r, which the object branch lacks" % field)
        obj = dict(branches[1])
        obj.setdefault("description", node["description"])
        self.struct(obj, name, path, where + "/anyOf/1", hint=False)
        self.struct_of[id(node)] = name
        _, sr = self.node(branches[0], path, where + "/anyOf/0")
        fields = dict((k, (f, t, opt)) for k, f, t, _, opt, _ in self.structs[-1][1])
        f, t, opt = fields[field]
        if t != "std::string":
            die(where, "the shorthand field must be a string")
        reader = self.fresh()
        body = ("  if (v.is_string()) {\n"
                "    std::string t;\n"
                "    if (!%s(v, p, is, t)) return false;\n"
                "    out.%s = std::move(t);\n"
                "    return true;\n"
                "  }\n"
                "  if (!v.is_object()) {\n"
                "    is.add(Issue::Kind::error, render(p), \"must be a string or an object\" + got(v));\n"
                "    return false;\n"
                "  }\n"
                "  return read_%s(v, p, is, out);" % (sr, f, name))
        self.readers.append((reader, name, body))
        return name, reader

    def check_account_of(self, node, where):
        of = node["x-clawgate-account-of"]
        if of not in self.defs:
            die(where, "x-clawgate-account-of names no definition %r" % of)
        channel = self.defs[of]["properties"]
        mine = node["properties"]
        want = [k for k in channel if k not in CHANNEL_ONLY_KEYS]
        if list(mine) != want:
            die(where, "an account has the keys of %s but %s, in its order: %s" % (
                of, sorted(CHANNEL_ONLY_KEYS), want))
        strip = lambda n: {k: v for k, v in n.items() if k not in ("default", "description")}
        for k in want:
            if strip(mine[k]) != strip(channel[k]):
                die(where + "/properties/" + k, "differs from %s's %s (only description and "
                                                "default may)" % (of, k))
            if "default" in mine[k]:
                die(where + "/properties/" + k, "an account key has no default: unset inherits")

    def struct(self, node, name, path, where, hint=True):
        if any(n == name for n, _ in self.structs):
            die(where, "two objects would both be struct %s; move one to definitions" % name)
        if "x-clawgate-account-of" in node:
            self.check_account_of(node, where)
        self.struct_of[id(node)] = name
        fields = []
        body = ["  if (!expect_object(v, p, is)) return false;",
                "  for (auto it = v.begin(); it != v.end(); ++it) {",
                "    const std::string& k = it.key();",
                "    const Json& x = it.value();",
                "    const Path cp{&p, k};"]
        first = True
        for key, sub in node["properties"].items():
            kw = "if" if first else "} else if"
            first = False
            subpath = (path + "." if path else "") + key
            subwhere = where + "/properties/" + key
            target, _ = self.resolve(sub, subwhere)
            if "x-clawgate-ignored" in target:
                self.check_node(target, subwhere)
                self.hint(target, subpath)
                msg = target["x-clawgate-ignored"]
                body.append("    %s (k == %s) {" % (kw, cpp_str(key)))
                if msg is True:
                    body.append("      (void)x;  // OpenClaw's; not read")
                elif isinstance(msg, str) and msg:
                    body.append("      (void)x;")
                    body.append("      is.add(Issue::Kind::unsupported, render(cp), %s);" % cpp_str(msg))
                else:
                    die(subwhere, "x-clawgate-ignored is true or a warning text")
                continue
            cpp, reader = self.node(sub, subpath, subwhere)
            self.hint(target, subpath)
            field = snake(key, subwhere)
            has_default = "default" in target or "default" in sub
            default = sub.get("default", target.get("default"))
            init = self.init(cpp, default, subwhere) if has_default else None
            fields.append((key, field, cpp, init, not has_default, reader))
            body.append("    %s (k == %s) {" % (kw, cpp_str(key)))
            if has_default:
                body.append("      %s(x, cp, is, out.%s);" % (reader, field))
            else:
                body.append("      %s t{};" % cpp)
                body.append("      if (%s(x, cp, is, t)) out.%s = std::move(t);" % (reader, field))
        tail = "      is.add(Issue::Kind::unknown, render(cp), \"unknown config key\");"
        if self.ignored_rest(node, where):
            tail = "      (void)cp;  // OpenClaw's (additionalProperties: ignored); not read"
        if first:
            body.append("    (void)x;")
            body.append(tail[2:])
        else:
            body.append("    } else {")
            body.append("      (void)x;")
            body.append(tail)
            body.append("    }")
        body.append("  }")
        body.append("  return true;")
        self.structs.append((name, fields))
        self.readers.append(("read_" + name, name, "\n".join(body)))

    def init(self, cpp, default, where):
        if cpp == "bool":
            if not isinstance(default, bool):
                die(where, "default must be a boolean")
            return "true" if default else "false"
        if cpp in ("int", "int64_t"):
            if not isinstance(default, int) or isinstance(default, bool):
                die(where, "default must be an integer")
            return "%d" % default + ("LL" if cpp == "int64_t" else "")
        if cpp == "double":
            return repr(float(default))
        if cpp == "std::string":
            if not isinstance(default, str):
                die(where, "default must be a string")
            return cpp_str(default)
        if default in ([], {}):
            return "{}"
        die(where, "only empty defaults are supported for %s" % cpp)


def main():
    src, out_hpp, out_cpp = sys.argv[1:4]
    text = open(src, encoding="utf-8").read()
    doc = json.loads(text)
    if doc.get("type") != "object" or doc.get("additionalProperties") is not False:
        die("", "the root must be a closed object")
    g = Gen(doc)
    root = dict(doc)
    for k in ("$schema", "$id", "title", "definitions"):
        root.pop(k, None)
    g.struct(root, "Config", "", "", hint=False)
    # Definitions are the sections a worker parses on its own.
    entry_points = []
    for d in g.defs:
        if d not in g.done_defs:
            die("definitions/" + d, "not used by any key")
        entry_points.append(g.done_defs[d])

    h = []
    h.append("// Generated by schema/gen_config.py from schema/config.schema.json. Do not edit.")
    h.append("// The typed settings of openclaw.json and their parser; see common/config_support.hpp.")
    h.append("#pragma once")
    h.append("#include <cstdint>\n#include <map>\n#include <optional>\n#include <string>\n#include <string_view>\n#include <vector>")
    h.append("#include <nlohmann/json.hpp>")
    h.append('#include "config_support.hpp"')
    h.append("namespace clawgate::cfg {")
    for name, fields in g.structs:
        h.append("struct %s {" % name)
        for key, field, cpp, init, optional, _ in fields:
            decl = ("std::optional<%s> %s;" % (cpp, field)) if optional else ("%s %s = %s;" % (cpp, field, init))
            h.append("  %s  // %s" % (decl, key))
        h.append("};")
        h.append("Json to_json(const %s& s);" % name)
    h.append("")
    h.append("// Reads the whole file (its root object). Every problem is added to `is` with its path;")
    h.append("// what could be read is returned either way.")
    h.append("Config parse_config(const Json& root, Issues& is);")
    h.append("// Reads one section a worker was handed; `where` is its path in the file (for messages).")
    for name in entry_points:
        h.append("%s parse_%s(const Json& v, std::string_view where, Issues& is);" % (name, name))
    h.append("std::string_view schema_text();  // schema/config.schema.json, as built in")
    h.append("std::string_view ui_hints_text();  // {path: {help, label?, sensitive?, tags?}} for config.schema")
    h.append("// Paths of the values the schema marks sensitive (\"*\" stands for any map key).")
    h.append("extern const std::vector<std::string_view> kSensitivePaths;")
    h.append("}  // namespace clawgate::cfg")

    c = []
    c.append("// Generated by schema/gen_config.py from schema/config.schema.json. Do not edit.")
    c.append('#include "config_gen.hpp"')
    c.append("namespace clawgate::cfg {")
    c.append("namespace {")
    for name, cpp, _ in g.readers:
        c.append("bool %s(const Json& v, const Path& p, Issues& is, %s& out);" % (name, cpp))
    for name, cpp, body in g.readers:
        c.append("bool %s(const Json& v, const Path& p, Issues& is, %s& out) {\n%s\n}" % (name, cpp, body))
    c.append("}  // namespace")
    c.append("Config parse_config(const Json& root, Issues& is) {")
    c.append("  Config out;\n  const Path p{};\n  read_Config(root, p, is, out);\n  return out;\n}")
    for name in entry_points:
        c.append("%s parse_%s(const Json& v, std::string_view where, Issues& is) {" % (name, name))
        c.append("  %s out;\n  const Path p = Path::at(where);\n  read_%s(v, p, is, out);\n  return out;\n}" % (name, name))
    for name, fields in g.structs:
        c.append("Json to_json(const %s& s) {" % name)
        c.append("  Json j = Json::object();")
        for key, field, cpp, init, optional, _ in fields:
            if optional:
                c.append("  if (s.%s) j[%s] = json_of(*s.%s);" % (field, cpp_str(key), field))
            else:
                c.append("  j[%s] = json_of(s.%s);" % (cpp_str(key), field))
        c.append("  return j;\n}")
    delim = "cgschema"
    if ")" + delim + '"' in text:
        die("", "the schema text contains the raw-string delimiter")
    c.append("std::string_view schema_text() {")
    c.append('  static constexpr std::string_view kText = R"%s(%s)%s";' % (delim, text, delim))
    c.append("  return kText;\n}")
    hints = json.dumps(g.hints, ensure_ascii=False, sort_keys=True)
    c.append("std::string_view ui_hints_text() {")
    c.append('  static constexpr std::string_view kText = R"%s(%s)%s";' % (delim, hints, delim))
    c.append("  return kText;\n}")
    c.append("const std::vector<std::string_view> kSensitivePaths = {%s};" % ", ".join(cpp_str(p) for p in g.sensitive))
    c.append("}  // namespace clawgate::cfg")

    open(out_hpp, "w", encoding="utf-8").write("\n".join(h) + "\n")
    open(out_cpp, "w", encoding="utf-8").write("\n".join(c) + "\n")


if __name__ == "__main__":
    main()
