#!/usr/bin/env bash
# The test command (`deno task test`): installs the Debian tools the tests drive when
# missing (scripts/test_deps.sh), then runs every test: first all files in parallel, then
# the timing-sensitive bandwidth tests and the load-test smoke alone (they measure rates
# over seconds, which a machine busy with other tests would skew), then the interop matrix
# with go-, rust- and js-libp2p clients (`deno task interop`, docs/INTEROP.md). With
# arguments (files, --filter …) it runs just `deno test -A --parallel <arguments>`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/test_deps.sh || exit 1
if (($# > 0)); then
  exec deno test -A --parallel "$@"
fi
SERIAL=(tests/bandwidth_e2e_test.ts tests/load_test_smoke_test.ts)
status=0
deno test -A --parallel "${SERIAL[@]/#/--ignore=}" || status=1
deno test -A "${SERIAL[@]}" || status=1
deno task interop || status=1
exit "$status"
