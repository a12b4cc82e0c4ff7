#!/usr/bin/env bash
# Bundles hopd into two minified JavaScript files, the program the compiled binary embeds
# (scripts/compile.sh):
#   hopd.js                 main.ts and every module it imports, npm packages included;
#   hopd_sandbox_worker.js  the policy sandbox worker (src/policy/_worker.ts and its imports),
#                           which hopd.js starts from beside itself (src/policy/sandbox_worker.ts).
# Why: a node run from ~1,300 modules keeps each one's record, source and npm resolution in the
# process; run from one file it does not. That is most of what separates the two idle RSS rows
# of bench/RESULTS.md's "Latest figures" ("memory at rest, third session" has the run).
# Minified, a stack trace names hopd.js's line and column; --sourcemap writes hopd.js.map beside
# it, which Deno reads to name the source file and line instead (an 11 MB file, left out of the
# release binary).
# Usage: scripts/bundle.sh [--outdir DIR] [--sourcemap]   (default dist/)
set -euo pipefail
outdir="dist"
sourcemap=()
while (($# > 0)); do
  case "$1" in
  --outdir)
    outdir="${2:?--outdir needs a directory}"
    shift 2
    ;;
  --sourcemap)
    sourcemap=(--sourcemap=linked)
    shift
    ;;
  *)
    echo "bundle: unknown argument $1 (usage: scripts/bundle.sh [--outdir DIR] [--sourcemap])" >&2
    exit 2
    ;;
  esac
done
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deno install --frozen >/dev/null
# Not --keep-names: Deno 2.9.6 then leaves esbuild's require shim in place of its own, and the
# first require("node:util") of an npm package throws "Dynamic require ... is not supported".
for entry in "main.ts hopd.js" "src/policy/_worker.ts hopd_sandbox_worker.js"; do
  read -r source output <<<"$entry"
  deno bundle --quiet --platform deno --minify "${sourcemap[@]}" --output "$outdir/$output" "$source"
done
