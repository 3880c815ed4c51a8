#!/usr/bin/env python3
"""Generate what each kind of child is sent of the configuration on its control link, from
schema/config.schema.json and schema/child_config.json.

Owns: for each kind in child_config.json, a Cap'n Proto struct <Kind>Config with the keys that
kind is sent (child_config.capnp, imported by ipc/control.capnp as
"/clawgate/child_config.capnp"), and C++ (child_config_gen.hpp/.cpp, namespace clawgate::ipc):
write_<Kind>Config copies the typed settings (config_gen.hpp, gen_config.py) into it, and
read_<Kind>Config copies them back, refusing what config.schema.json refuses: text that is not
UTF-8 or is over maxLength code points, lists over maxItems, maps over maxProperties or with a
key that is over-long or repeated, integers and numbers out of range, strings not in their
enum, and the x-clawgate-check checks. The reading helpers are ipc/child_config_support.hpp.
Mapping: an object -> a struct of the selected keys (nested in <Kind>Config, named as its C++
struct), a map -> List(<Key>Entry {key, value}), an array -> List, a string, enum or id -> Text,
an integer -> Int32/Int64 (as the C++ field), a number -> Float64, a boolean -> Bool. A key
without a default (std::optional in C++) is unset when its pointer is null or, for a number or
a boolean, when its union says `unset`.
Fails: exit 1 naming the first key or node it cannot express.
Usage: gen_child_config.py config.schema.json child_config.json out.capnp out.hpp out.cpp
"""
import json
import re
import sys

from gen_config import CHECKS, Gen, die, cpp_str, snake, pascal

FILE_ID = "0xe9c8ebeb746094a2"  # `capnp id`; nested struct ids derive from it
CAPNP_NAME = re.compile(r"[a-z][A-Za-z0-9]*")
PRIMITIVE = {"integer", "number", "boolean"}


def check_function(check, where):
    if check not in CHECKS:
        die(where, "unknown x-clawgate-check %r" % check)
    return CHECKS[check]


def selection(keys, where):
    """child_config.json's key paths as a tree: key -> subtree, or True for all under it."""
    tree = {}
    for k in keys:
        parts = k.split(".")
        t = tree
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                if part in t:
                    die(where, "%s is listed twice, or with keys below it" % k)
                t[part] = True
            else:
                t = t.setdefault(part, {})
                if t is True:
                    die(where, "%s is below a key already sent whole" % k)
    return tree


class FieldSlot:
    """Where a writer puts a value: a struct field."""

    def __init__(self, obj, cap):
        self.obj, self.cap = obj, cap

    def set(self, v):
        return "%s.set%s(%s);" % (self.obj, self.cap, v)

    def init(self):
        return "%s.init%s()" % (self.obj, self.cap)

    def init_list(self, n):
        return "%s.init%s(%s)" % (self.obj, self.cap, n)


class ElemSlot:
    """Where a writer puts a value: an element of a list."""

    def __init__(self, lst, idx):
        self.lst, self.idx = lst, idx

    def set(self, v):
        return "%s.set(%s, %s);" % (self.lst, self.idx, v)

    def init(self):
        return "%s[%s]" % (self.lst, self.idx)

    def init_list(self, n):
        return "%s.init(%s, %s)" % (self.lst, self.idx, n)


class Kind:
    def __init__(self, g, root, kind, spec):
        self.g = g
        self.root = pascal(kind) + "Config"
        self.description = spec.get("description", "")
        self.nested = []          # capnp struct texts nested in the root struct
        self.names = {}           # nested struct name -> its selection, to catch clashes
        self.funcs = []           # C++ function definitions, callees first
        self.decls = []           # their declarations
        self.counter = 0
        self.where = "child_config.json/" + kind
        if not isinstance(spec.get("keys"), list) or not spec["keys"]:
            die(self.where, "needs keys")
        sel = selection(spec["keys"], self.where)
        src = spec.get("from")
        if src == "#":
            node, cpp = root, "Config"
        elif isinstance(src, str) and src.startswith("#/definitions/") and src[14:] in g.defs:
            node, cpp = g.defs[src[14:]], g.done_defs[src[14:]]
        else:
            die(self.where, "from must be # or #/definitions/<name>")
        self.cfg_root = cpp
        self.struct(node, cpp, self.root, sel, "", self.where)

    def fresh(self):
        self.counter += 1
        return "read_%s_v%d" % (self.root, self.counter)

    def add(self, signature, body):
        self.decls.append(signature + ";")
        self.funcs.append("%s {\n%s\n}" % (signature, body))

    def capnp_struct_ref(self, name):
        return self.root if name == self.root else self.root + "::" + name

    # Returns a dict for the node: capnp (its type in the schema), elem (its C++ type as
    # capnp::List's argument), reader (the C++ type a getter returns), cpp (the settings'
    # C++ type), pointer, read (a function name) and write(slot, expr) -> lines.
    def node(self, node, path, sel, where):
        node, defname = self.g.resolve(node, where)
        k = self.g.kind(node, where)
        if k in ("struct", "shorthand"):
            obj = node if k == "struct" else node["anyOf"][1]
            name = self.g.struct_of[id(node)]  # the C++ struct gen_config.py made of it
            self.struct(obj, name, name, sel, path, where)
            ref = self.capnp_struct_ref(name)
            return {"capnp": name, "elem": ref, "reader": ref + "::Reader",
                    "cpp": "cfg::" + name, "pointer": True,
                    "read": "read_%s_%s" % (self.root, name),
                    "write": lambda slot, e: ["write_%s_%s(%s, %s);" % (self.root, name, e,
                                                                        slot.init())]}
        if k == "map":
            return self.map(node, path, sel, where)
        if sel is not True:
            die(where, "keys below %s: it is not an object" % path)
        if k == "array":
            return self.array(node, path, where)
        if k in ("string", "id"):
            return self.text(node, where)
        if k == "integer":
            lo, hi = node["minimum"], node["maximum"]
            wide = not (-2**31 <= lo and hi <= 2**31 - 1)
            cpp = "int64_t" if wide else "int"
            name = self.fresh()
            self.add("bool %s(int64_t v, const Path& p, Issues& is, %s& out)" % (name, cpp),
                     "  int64_t t = 0;\n"
                     "  if (!read_int64(v, p, is, %dLL, %dLL, t)) return false;\n"
                     "  out = static_cast<%s>(t);  // within the bounds just checked\n"
                     "  return true;" % (lo, hi, cpp))
            ct = "int64_t" if wide else "int32_t"
            return {"capnp": "Int64" if wide else "Int32", "elem": ct, "reader": ct, "cpp": cpp,
                    "pointer": False, "read": name, "write": lambda slot, e: [slot.set(e)]}
        if k == "number":
            name = self.fresh()
            self.add("bool %s(double v, const Path& p, Issues& is, double& out)" % name,
                     "  return read_double(v, p, is, %r, %r, out);" % (
                         float(node["minimum"]), float(node["maximum"])))
            return {"capnp": "Float64", "elem": "double", "reader": "double", "cpp": "double",
                    "pointer": False, "read": name, "write": lambda slot, e: [slot.set(e)]}
        if k == "boolean":
            name = self.fresh()
            self.add("bool %s(bool v, const Path&, Issues&, bool& out)" % name,
                     "  out = v;\n  return true;")
            return {"capnp": "Bool", "elem": "bool", "reader": "bool", "cpp": "bool",
                    "pointer": False, "read": name, "write": lambda slot, e: [slot.set(e)]}
        die(where, "a %s node cannot be sent to a child" % k)

    def text(self, node, where):
        name = self.fresh()
        if "enum" in node:
            body = ("  static constexpr std::string_view kAllowed[] = {%s};\n"
                    "  return read_enum_text(v, p, is, kAllowed, out);"
                    % ", ".join(cpp_str(x) for x in node["enum"]))
        else:
            body = ("  std::string t;\n"
                    "  if (!read_text(v, p, is, %d, %d, t)) return false;\n"
                    % (node.get("minLength", 0), node["maxLength"]))
            check = node.get("x-clawgate-check")
            if check:
                body += ("  if (!cfg::apply_key_check(cfg::%s(t), p, is)) return false;\n"
                         % check_function(check, where))
            body += "  out = std::move(t);\n  return true;"
        self.add("bool %s(capnp::Text::Reader v, const Path& p, Issues& is, std::string& out)"
                 % name, body)
        return {"capnp": "Text", "elem": "capnp::Text", "reader": "capnp::Text::Reader",
                "cpp": "std::string", "pointer": True, "read": name,
                "write": lambda slot, e: [slot.set("text_of(%s)" % e)]}

    def array(self, node, path, where):
        it = self.node(node["items"], path + "[]", True, where + "/items")
        name = self.fresh()
        cpp = "std::vector<%s>" % it["cpp"]
        elem = "capnp::List<%s>" % it["elem"]
        self.add("bool %s(%s::Reader v, const Path& p, Issues& is, %s& out)" % (name, elem, cpp),
                 "  if (!check_items(v.size(), p, is, %d)) return false;\n"
                 "  out.clear();\n"
                 "  for (unsigned i = 0; i < v.size(); ++i) {\n"
                 "    const Path cp{&p, size_t{i}};\n"
                 "    %s t{};\n"
                 "    if (!%s(v[i], cp, is, t)) return false;\n"
                 "    out.push_back(std::move(t));\n"
                 "  }\n  return true;" % (node["maxItems"], it["cpp"], it["read"]))
        self.counter += 1
        l, i = "l%d" % self.counter, "i%d" % self.counter

        def write(slot, e):
            inner = it["write"](ElemSlot(l, i), "%s[%s]" % (e, i))
            return (["{",
                     "  auto %s = %s;" % (l, slot.init_list("static_cast<unsigned>(%s.size())" % e)),
                     "  for (unsigned %s = 0; %s < %s.size(); ++%s) {" % (i, i, l, i)]
                    + ["    " + x for x in inner] + ["  }", "}"])
        return {"capnp": "List(%s)" % it["capnp"], "elem": elem, "reader": elem + "::Reader",
                "cpp": cpp, "pointer": True, "read": name, "write": write}

    def map(self, node, path, sel, where):
        key = path.rsplit(".", 1)[-1]
        entry = pascal(key) + "Entry"
        names = node["propertyNames"]
        if sel is not True and set(sel) != {"*"}:
            die(where, "keys below the map %s go under *" % path)
        val_sel = True if sel is True else sel["*"]
        vt = self.node(node["additionalProperties"], path + ".*", val_sel,
                       where + "/additionalProperties")
        self.nest(entry, ("entry", vt["capnp"]),
                  "  struct %s {\n    key @0 :Text;\n    value @1 :%s;\n  }" % (entry, vt["capnp"]),
                  where)
        name = self.fresh()
        cpp = "std::map<std::string, %s>" % vt["cpp"]
        elem = "capnp::List<%s>" % self.capnp_struct_ref(entry)
        check = names.get("x-clawgate-check")
        check_line = ("    if (!cfg::apply_key_check(cfg::%s(k), cp, is)) return false;\n"
                      % check_function(check, where) if check else "")
        self.add("bool %s(%s::Reader v, const Path& p, Issues& is, %s& out)" % (name, elem, cpp),
                 "  if (!check_items(v.size(), p, is, %d)) return false;\n"
                 "  out.clear();\n"
                 "  for (auto e : v) {\n"
                 "    std::string k;\n"
                 "    if (!read_key(e.getKey(), p, is, %d, %d, k)) return false;\n"
                 "    const Path cp{&p, k};\n"
                 "%s"
                 "    %s t{};\n"
                 "    if (!%s(e.getValue(), cp, is, t)) return false;\n"
                 "    if (!out.emplace(k, std::move(t)).second) return repeated_key(cp, is);\n"
                 "  }\n  return true;" % (node["maxProperties"], names.get("minLength", 0),
                                          names["maxLength"], check_line, vt["cpp"], vt["read"]))
        self.counter += 1
        l, n, kv, xv = ("l%d" % self.counter, "n%d" % self.counter, "k%d" % self.counter,
                        "x%d" % self.counter)

        def write(slot, e):
            inner = vt["write"](FieldSlot("%s[%s]" % (l, n), "Value"), xv)
            return (["{",
                     "  auto %s = %s;" % (l, slot.init_list("static_cast<unsigned>(%s.size())" % e)),
                     "  unsigned %s = 0;" % n,
                     "  for (const auto& [%s, %s] : %s) {" % (kv, xv, e),
                     "    %s[%s].setKey(text_of(%s));" % (l, n, kv)]
                    + ["    " + x for x in inner] + ["    ++%s;" % n, "  }", "}"])
        return {"capnp": "List(%s)" % entry, "elem": elem, "reader": elem + "::Reader",
                "cpp": cpp, "pointer": True, "read": name, "write": write}

    def nest(self, name, key, text, where):
        if name in self.names:
            if self.names[name] != key:
                die(where, "two different structs would be %s.%s" % (self.root, name))
            return False
        self.names[name] = key
        self.nested.append(text)
        return True

    def struct(self, node, cpp_name, name, sel, path, where):
        key = ("struct", json.dumps(sel, sort_keys=True))
        placeholder = len(self.nested)  # the struct's text goes here once its fields are known
        if name != self.root and not self.nest(name, key, None, where):
            return
        props = node["properties"]
        if sel is not True:
            for k in sel:
                if k not in props or "x-clawgate-ignored" in self.g.resolve(props[k], where)[0]:
                    die(where, "%s is not a key clawgate reads here" % ((path + "." if path else "") + k))
        fields, writes, reads = [], [], []
        ordinal = 0
        for k, sub in props.items():
            target, _ = self.g.resolve(sub, where + "/properties/" + k)
            if "x-clawgate-ignored" in target or (sel is not True and k not in sel):
                continue
            if not CAPNP_NAME.fullmatch(k):
                die(where + "/properties/" + k, "not a Cap'n Proto field name")
            sub_sel = True if sel is True else sel[k]
            subpath = (path + "." if path else "") + k
            t = self.node(sub, subpath, sub_sel, where + "/properties/" + k)
            optional = "default" not in target and "default" not in sub
            cap = k[0].upper() + k[1:]
            field = snake(k, where)
            doc = " ".join(target.get("description", "").split())
            if optional and not t["pointer"]:
                fields.append("  %s :union {  # %s\n    unset @%d :Void;\n    value @%d :%s;\n  }"
                              % (k, doc, ordinal, ordinal + 1, t["capnp"]))
                ordinal += 2
                writes.append("  if (in.%s) out.get%s().setValue(*in.%s);" % (field, cap, field))
                reads.append("  if (v.get%s().isValue()) {\n"
                             "    const Path cp{&p, %s};\n"
                             "    %s t{};\n"
                             "    if (!%s(v.get%s().getValue(), cp, is, t)) return false;\n"
                             "    out.%s = t;\n  }" % (cap, cpp_str(k), t["cpp"], t["read"], cap,
                                                      field))
                continue
            fields.append("  %s @%d :%s;  # %s" % (k, ordinal, t["capnp"], doc))
            ordinal += 1
            if optional:
                writes.append("  if (in.%s) {" % field)
                writes += ["    " + x for x in t["write"](FieldSlot("out", cap), "(*in.%s)" % field)]
                writes.append("  }")
                reads.append("  if (v.has%s()) {\n"
                             "    const Path cp{&p, %s};\n"
                             "    %s t{};\n"
                             "    if (!%s(v.get%s(), cp, is, t)) return false;\n"
                             "    out.%s = std::move(t);\n  }" % (cap, cpp_str(k), t["cpp"],
                                                                 t["read"], cap, field))
            else:
                writes += ["  " + x for x in t["write"](FieldSlot("out", cap), "in." + field)]
                reads.append("  if (!%s(v.get%s(), Path{&p, %s}, is, out.%s)) return false;"
                             % (t["read"], cap, cpp_str(k), field))
        doc = " ".join(node.get("description", "").split())
        text = "  # %s\n  struct %s {\n%s\n  }" % (doc, name, "\n".join(
            "  " + line for f in fields for line in f.split("\n")))
        ref = self.capnp_struct_ref(name)
        if name == self.root:
            self.root_fields = fields
        else:
            self.nested[placeholder] = text
        self.add("void write_%s_%s(const cfg::%s& in, %s::Builder out)" % (self.root, name,
                                                                            cpp_name, ref),
                 "\n".join(writes) if writes else "  (void)in;\n  (void)out;")
        self.add("bool read_%s_%s(%s::Reader v, const Path& p, Issues& is, cfg::%s& out)"
                 % (self.root, name, ref, cpp_name),
                 "\n".join((reads or ["  (void)v;\n  (void)p;\n  (void)is;\n  (void)out;"])
                           + ["  return true;"]))

    def capnp(self):
        body = "\n".join(self.root_fields)
        nested = "\n\n".join(self.nested)
        doc = " ".join(self.description.split())
        return "# %s\nstruct %s {\n%s\n%s}\n" % (doc, self.root, body,
                                                "\n" + nested + "\n" if nested else "")


def main():
    schema_path, child_path, out_capnp, out_hpp, out_cpp = sys.argv[1:6]
    doc = json.loads(open(schema_path, encoding="utf-8").read())
    g = Gen(doc)
    root = dict(doc)
    for k in ("$schema", "$id", "title", "definitions"):
        root.pop(k, None)
    g.struct(root, "Config", "", "", hint=False)  # names every struct as config_gen.hpp does
    spec = json.loads(open(child_path, encoding="utf-8").read())
    kinds = [Kind(g, root, k, v) for k, v in spec.items() if not k.startswith("$")]

    banner = ("Generated by schema/gen_child_config.py from schema/config.schema.json and "
              "schema/child_config.json. Do not edit.")
    capnp = ["# " + banner,
             "# What each kind of child is sent of the configuration (Control.reload).",
             "@%s;" % FILE_ID,
             'using Cxx = import "/capnp/c++.capnp";',
             '$Cxx.namespace("clawgate::ipc");', ""]
    capnp += [k.capnp() for k in kinds]

    h = ["// " + banner,
         "// Copies the typed settings into each kind of child's config message and back; the",
         "// reading side refuses what config.schema.json refuses (child_config_support.hpp).",
         "#pragma once",
         "#include <string_view>",
         "",
         "#include <clawgate/child_config.capnp.h>",
         "",
         '#include "config_gen.hpp"',
         '#include "error.hpp"',
         "",
         "namespace clawgate::ipc {"]
    for k in kinds:
        h.append("// %s" % " ".join(k.description.split()))
        h.append("void write_%s(const cfg::%s& in, %s::Builder out);" % (k.root, k.cfg_root, k.root))
        h.append("// What write_%s wrote, in settings whose other keys keep their defaults; `where`"
                 % k.root)
        h.append("// is its path in the file, for messages. INVALID_REQUEST naming the key when a")
        h.append("// value is one config.schema.json refuses.")
        h.append("Result<cfg::%s> read_%s(%s::Reader in, std::string_view where);"
                 % (k.cfg_root, k.root, k.root))
    h.append("}  // namespace clawgate::ipc")

    c = ["// " + banner,
         '#include "child_config_gen.hpp"',
         "",
         '#include "child_config_support.hpp"',
         "",
         "namespace clawgate::ipc {",
         "namespace {",
         "using cfg::Issues;",
         "using cfg::Path;",
         "using namespace link_config;"]
    for k in kinds:
        c += k.decls
    for k in kinds:
        c += k.funcs
    c.append("}  // namespace")
    for k in kinds:
        c.append("void write_%s(const cfg::%s& in, %s::Builder out) {" % (k.root, k.cfg_root, k.root))
        c.append("  write_%s_%s(in, out);\n}" % (k.root, k.root))
        c.append("Result<cfg::%s> read_%s(%s::Reader in, std::string_view where) {"
                 % (k.cfg_root, k.root, k.root))
        c.append("  Issues is;\n  cfg::%s out;\n  read_%s_%s(in, Path::at(where), is, out);"
                 % (k.cfg_root, k.root, k.root))
        c.append("  return settings_or_error(std::move(out), is);\n}")
    c.append("}  // namespace clawgate::ipc")

    open(out_capnp, "w", encoding="utf-8").write("\n".join(capnp))
    open(out_hpp, "w", encoding="utf-8").write("\n".join(h) + "\n")
    open(out_cpp, "w", encoding="utf-8").write("\n".join(c) + "\n")


if __name__ == "__main__":
    main()
