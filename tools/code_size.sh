#!/usr/bin/env bash
# tools/code_size.sh: where the code is. Lines of C++ (.cpp/.hpp, generated code excluded) per
# top-level folder, and the longest functions of the product, tests and benchmarks aside
# (universal-ctags' end lines; a lambda counts inside the function that holds it).
# Usage: tools/code_size.sh [TREE] [N]   TREE defaults to this checkout, N (15) functions.
#   To compare with an older commit: git worktree add /tmp/old <commit>; tools/code_size.sh /tmp/old
# Fails: exit 2 when ctags is not universal-ctags (./dev installs it).
set -euo pipefail
TREE=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
N=${2:-15}
ctags --version 2>/dev/null | grep -q "Universal Ctags" ||
  { echo "code_size.sh: needs universal-ctags" >&2; exit 2; }
cd "$TREE"
mapfile -t files < <(find . -path ./build -prune -o -path '*/node_modules' -prune -o \
  -type f \( -name '*.cpp' -o -name '*.hpp' \) -print | sed 's|^\./||' | sort)
echo "lines of C++ per folder ($TREE)"
for f in "${files[@]}"; do printf '%s %s\n' "${f%%/*}" "$(wc -l <"$f")"; done |
  awk '{n[$1]+=$2; t+=$2} END {for (k in n) printf "  %-12s %7d\n", k, n[k]; printf "  %-12s %7d\n", "total", t}' |
  sort -k2 -n -r
echo
echo "longest functions outside tests/ and bench/ (lines)"
mapfile -t product < <(printf '%s\n' "${files[@]}" | grep -v -E '^(tests|bench)/')
ctags --c++-kinds=f --fields=+ne --extras=-q -o - "${product[@]}" 2>/dev/null |
  awk -F'\t' '$1 !~ /^__anon/ {
      line = ""; end = ""; scope = ""
      for (i = 4; i <= NF; i++) {
        if ($i ~ /^line:/) line = substr($i, 6)
        else if ($i ~ /^end:/) end = substr($i, 5)
        else if ($i ~ /^(class|struct|namespace):/) { scope = $i; sub(/^[a-z]+:/, "", scope); sub(/^clawgate::/, "", scope); gsub(/__anon[0-9a-f]+(::)?/, "", scope) }
      }
      if (line != "" && end != "") printf "%d\t%s%s\t%s:%s\n", end - line + 1, (scope == "" ? "" : scope "::"), $1, $2, line
    }' | sort -t$'\t' -k1,1 -n -r | head -n "$N" | awk -F'\t' '{printf "  %5d  %-48s %s\n", $1, $2, $3}'
