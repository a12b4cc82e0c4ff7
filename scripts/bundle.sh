#!/usr/bin/env bash
# Bundles hopd into minified JavaScript files, the program the compiled binary embeds
# (scripts/compile.sh):
#   hopd.js                 main.ts and every module it imports, npm packages included, with
#                           the chunks it imports (chunk-*.js, and the dynamically imported
#                           features' own, *-HASH.js) beside it;
#   hopd_sandbox_worker.js  the policy sandbox worker (src/policy/_worker.ts and its imports),
#                           which hopd.js starts from beside itself (src/policy/sandbox_worker.ts).
# Why: a node run from ~1,300 modules keeps each one's record, source and npm resolution in the
# process; run from a few files it does not. That is most of what separates the two idle RSS rows
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
# The previous bundle's chunks go first (their names carry a hash of their content).
rm -f "$outdir"/*.js "$outdir"/*.js.map
# --code-splitting: what main.ts imports dynamically (the ACME client with its HTTP and X.509
# libraries, gossipsub) becomes chunks of its own, read only when [acme] or [federation] is
# enabled; in one file their 1.1 MB of source would sit in every node's heap.
deno bundle --quiet --platform deno --minify --code-splitting "${sourcemap[@]}" --outdir "$outdir" \
  main.ts
mv "$outdir/main.js" "$outdir/hopd.js"
if [[ -f "$outdir/main.js.map" ]]; then
  mv "$outdir/main.js.map" "$outdir/hopd.js.map"
  sed -i 's|sourceMappingURL=main.js.map|sourceMappingURL=hopd.js.map|' "$outdir/hopd.js"
fi
deno bundle --quiet --platform deno --minify "${sourcemap[@]}" \
  --output "$outdir/hopd_sandbox_worker.js" src/policy/_worker.ts
