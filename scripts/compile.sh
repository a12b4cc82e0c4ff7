#!/usr/bin/env bash
# deno compile for hopd with the one permission set from deno.json ("permissions.hopd").
# Usage: scripts/compile.sh [--hooks-config FILE] [--target TRIPLE] [--output FILE]   (any deno compile flags)
#   --hooks-config FILE  also grant the run permission for exactly the commands of FILE's
#                        [policy] hooks (as `hopd config allow-run FILE` lists them); the
#                        permission set itself runs nothing, so without it no hook can run.
# Extra flags go before main.ts so they are never embedded as program arguments.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deno install --frozen >/dev/null
flags=()
while (($# > 0)); do
  case "$1" in
  --hooks-config)
    hooks_config="${2:?--hooks-config needs a config file}"
    shift 2
    # hopd's own loader: the list is exactly what the running binary will read (and a config
    # it refuses stops the build here).
    commands="$(deno run -P=hopd --quiet main.ts config allow-run "$hooks_config")"
    if [[ -n "$commands" ]]; then
      flags+=("--allow-run=$commands")
      echo "compile: run permission for the hooks of $hooks_config: $commands" >&2
    fi
    ;;
  *)
    flags+=("$1")
    shift
    ;;
  esac
done
# The binary embeds hopd bundled (scripts/bundle.sh): a few files instead of ~1,300 modules, which
# keeps an idle node smaller (bench/RESULTS.md, "memory at rest, third session"). The policy
# sandbox worker and the chunks of features imported when enabled (ACME, federation) are loaded
# by URL at run time, so the whole bundle directory is embedded explicitly.
# HOPD_BUNDLE_DIR: where the bundle is written (default dist/bundle).
bundle_dir="${HOPD_BUNDLE_DIR:-dist/bundle}"
bash scripts/bundle.sh --outdir "$bundle_dir"
deno compile --config deno.json -P=hopd --include "$bundle_dir" "${flags[@]}" "$bundle_dir/hopd.js"
