#!/usr/bin/env python3
"""Embed a file in the binary: writes a C++ source defining `const char <symbol>[]` (and its
size) from the file's bytes, as raw string pieces. Used for the WebChat page and the A2UI
renderer.
Usage: embed_file.py INPUT OUTPUT SYMBOL"""
import sys

src, out, sym = sys.argv[1:4]
data = open(src, encoding="utf-8").read()
delim = "CLAWGATE_EMBED"
if ")" + delim + '"' in data:
    sys.exit("embed_file: %s contains the raw-string delimiter" % src)
pieces = [data[i:i + 8192] for i in range(0, len(data), 8192)] or [""]
with open(out, "w", encoding="utf-8") as f:
    f.write("// Generated from %s by embed_file.py. Do not edit.\n#include <cstddef>\n" % src)
    f.write("extern const char %s[];\nextern const std::size_t %s_size;\n" % (sym, sym))
    f.write("const char %s[] =\n" % sym)
    for p in pieces:
        f.write('    R"%s(%s)%s"\n' % (delim, p, delim))
    f.write(";\nconst std::size_t %s_size = sizeof(%s) - 1;\n" % (sym, sym))
