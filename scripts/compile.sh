#!/usr/bin/env bash
# deno compile for hopd with the one permission set from deno.json ("permissions.hopd").
# Usage: scripts/compile.sh [--target TRIPLE] [--output FILE]   (any deno compile flags)
# Extra flags go before main.ts so they are never embedded as program arguments.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deno install --frozen >/dev/null
excludes=()
# prom-client pulls bintrees, whose 2 MB test/perf/100k file overflows deno compile 2.9's stack.
for dir in node_modules/.deno/bintrees@*/node_modules/bintrees/test; do
  [[ -d "$dir" ]] && excludes+=(--exclude "$dir")
done
# The policy sandbox worker is loaded by URL at run time, so it must be embedded explicitly.
exec deno compile -P=hopd --include src/policy/_worker.ts "${excludes[@]}" "$@" main.ts
