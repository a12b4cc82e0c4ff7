#!/usr/bin/env bash
# Load test of hopd (bench/load_test.ts): N reservations held by stock js-libp2p clients, M
# circuits per second through them for a duration; prints one JSON report on stdout
# (progress on stderr). Loopback only; by default against its own hopd with limits off.
#
#   scripts/load_test.sh [--reservations N] [--rate M] [--duration SECONDS] [--targets T]
#                        [--settle SECONDS] [--sample SECONDS] [--ramp-concurrency C]
#                        [--ramp-timeout SECONDS]   # stop the ramp there, hold what is reserved
#                        [--relay MULTIADDR --ops-url URL]   # a running hopd instead
#   scripts/load_test.sh --soak     # the bench/RESULTS.md soak: 10,000 reservations,
#                                   # 5 circuits/s for 5 minutes
#   scripts/load_test.sh --help     # this text
#
# Exit 0 when the run completed (read "ok" and the figures in the JSON), 2 on bad arguments.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=()
for arg in "$@"; do
  if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then
    # The comment block above is the help.
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    exit 0
  elif [[ "$arg" == "--soak" ]]; then
    args+=(--reservations 10000 --rate 5 --duration 300 --settle 30 --sample 10)
  else
    args+=("$arg")
  fi
done
exec deno run -A --quiet bench/load_test.ts "${args[@]}"
