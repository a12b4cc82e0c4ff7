#!/usr/bin/env bash
# The test command (`deno task test`): installs the Debian tools the tests drive when
# missing (scripts/test_deps.sh), then runs every test in phases, one after another, and
# ends with one summary of every phase: a line per phase, then the last line
#
#   tests: N passed, N failed (P phases)
#
# which .ci/run reads. With arguments (files, --filter …) it runs just
# `deno test -A --parallel <arguments>`. `deno task test:unit` is the fast loop: the unit
# tests beside the code, nothing installed, no end-to-end run.
#
# First it type-checks the tree (`deno task check`; the phases then run with --no-check) and
# bundles hopd (scripts/bundle.sh); the tests start hopd from that bundle, as the release binary
# runs it (TEST_HOPD_BUNDLE; `deno test FILE` by hand runs main.ts).
#
# The phases (see main below; the summary lists them in the order they ended):
#   parallel  every test file except the timing-sensitive ones, the longest-running first
#             (LONGEST_FIRST), PARALLEL_JOBS (3) files at a time, not deno's default of one per
#             core: most end-to-end files wait on a child or a timer (bench/RESULTS.md, test
#             command sections); DENO_JOBS set in the environment overrides it. With
#             TEST_COVERAGE_DIR
#             set (an absolute path, as .ci/run sets it) the test processes write their coverage
#             profiles there, which `deno task coverage --report DIR` reads, so CI runs the unit
#             suites once, not twice. The hopd children the end-to-end tests spawn (through
#             tests/_helpers/child_env.ts) are then left out of coverage: under it they ran
#             twice as slow (tests/policy_e2e_test.ts 14 s -> 31 s).
#   serial    the bandwidth caps (with their own CPU hogs) and the load-test smoke, without
#             the other deno tests: they measure rates over seconds, which those would skew
#             (the interop phase's cases, mostly waiting, run beside them);
#   interop   go-, rust- and js-libp2p clients through hopd (`deno task interop`), started
#             first and run beside the two phases above (it mostly waits on timers); its output
#             is shown whole when it ends, after theirs.
#
# To add a phase, add one `phase NAME COMMAND…` line to main (`beside NAME COMMAND…` runs it
# in the background beside the later ones, collected by `wait_beside`). Its output must contain a
# deno test summary ("ok | N passed | N failed …") or a line "NAME: N passed, N failed"; the
# last such line counts. A phase that prints none counts as one failure, and so does one
# that exits non-zero with no failure counted: nothing passes unseen.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

PHASE_NAMES=()
PHASE_PASSED=()
PHASE_FAILED=()
PHASE_SECONDS=()
PHASE_NOTES=()

# Prints "PASSED FAILED" from the last summary line in a phase's output, or nothing.
summary_counts() {
  local name="$1" output="$2"
  sed 's/\x1b\[[0-9;]*m//g' "$output" |
    grep -E "^(ok|FAILED) \| [0-9]+ passed|^${name}: [0-9]+ passed, [0-9]+ failed" |
    tail -n 1 |
    sed -E 's/.*[|:] ([0-9]+) passed.*[|,] ([0-9]+) failed.*/\1 \2/'
}

# phase NAME COMMAND…: runs the command with its output shown as it comes, and records the
# phase's counts.
phase() {
  local name="$1"
  shift
  local output started status
  output="$(mktemp)"
  started=$SECONDS
  # The parallel phase names its ~150 files one by one: the header shows the first few.
  local shown="$*"
  (($# <= 16)) || shown="${*:1:16} … and $(($# - 16)) more"
  printf '\n==> phase %s: %s\n' "$name" "$shown"
  "$@" 2>&1 | tee "$output"
  status=${PIPESTATUS[0]}
  record "$name" "$output" "$status" "$started" "$SECONDS"
}

BESIDE_PIDS=()
BESIDE_NAMES=()
BESIDE_OUTPUTS=()
BESIDE_STARTED=()

# beside NAME COMMAND…: starts a phase in the background, beside the phases that follow; its
# output is kept and shown whole by wait_beside, so it does not interleave with theirs.
beside() {
  local name="$1"
  shift
  local output
  output="$(mktemp)"
  printf '\n==> phase %s (beside the next phases, its output when it ends): %s\n' "$name" "$*"
  # The subshell notes its exit status and when it ended (SECONDS runs on in a subshell), so
  # the summary gives the phase's own time, not the time until it was collected.
  (
    "$@" >"$output" 2>&1
    echo "$? $SECONDS" >"${output}.end"
  ) &
  BESIDE_PIDS+=("$!")
  BESIDE_NAMES+=("$name")
  BESIDE_OUTPUTS+=("$output")
  BESIDE_STARTED+=("$SECONDS")
}

# wait_beside: waits for every phase `beside` started, shows its output and records its counts.
wait_beside() {
  local i output status ended
  for i in "${!BESIDE_PIDS[@]}"; do
    output="${BESIDE_OUTPUTS[$i]}"
    wait "${BESIDE_PIDS[$i]}"
    read -r status ended <"${output}.end" || status=1 ended=$SECONDS
    rm -f "${output}.end"
    printf '\n==> phase %s (ran beside the others)\n' "${BESIDE_NAMES[$i]}"
    cat "$output"
    record "${BESIDE_NAMES[$i]}" "$output" "$status" "${BESIDE_STARTED[$i]}" "$ended"
  done
  BESIDE_PIDS=()
}

# record NAME OUTPUT STATUS STARTED ENDED: a finished phase's counts from its output file
# (removed), and its seconds.
record() {
  local name="$1" output="$2" status="$3" started="$4" ended="$5"
  local counts passed failed note=""
  counts="$(summary_counts "$name" "$output")"
  rm -f "$output"
  if [[ -z "$counts" ]]; then
    passed=0
    failed=1
    note=" (no summary line; exit ${status})"
  else
    read -r passed failed <<<"$counts"
    if ((status != 0 && failed == 0)); then
      failed=1
      note=" (exit ${status} with no failure counted)"
    fi
  fi
  PHASE_NAMES+=("$name")
  PHASE_PASSED+=("$passed")
  PHASE_FAILED+=("$failed")
  PHASE_SECONDS+=("$((ended - started))")
  PHASE_NOTES+=("$note")
}

# The one summary, last: a line per phase, then the total line .ci/run reads.
summarize() {
  local i passed=0 failed=0
  printf '\n==> summary\n'
  for i in "${!PHASE_NAMES[@]}"; do
    printf '  %-9s %5d passed, %3d failed  %4ds%s\n' "${PHASE_NAMES[$i]}" \
      "${PHASE_PASSED[$i]}" "${PHASE_FAILED[$i]}" "${PHASE_SECONDS[$i]}" "${PHASE_NOTES[$i]}"
    passed=$((passed + PHASE_PASSED[i]))
    failed=$((failed + PHASE_FAILED[i]))
  done
  echo "tests: ${passed} passed, ${failed} failed (${#PHASE_NAMES[@]} phases)"
  ((failed == 0))
}

# Test files the parallel phase runs at once: one more than the 2 cores of the machines it runs
# on. 4 was faster (bench/RESULTS.md) but, beside stress-ng --cpu 2, starved two timed waits.
PARALLEL_JOBS=3

# bundle_hopd: hopd bundled once (scripts/bundle.sh: the program the release binary embeds) into
# a temporary directory removed on exit, named by TEST_HOPD_BUNDLE, which every phase's tests then
# start instead of main.ts (tests/_helpers/hopd_process.ts): a start from source builds and
# evaluates ~1,150 modules, about 0.6 CPU-s more, and the tests start hopd a few hundred times
# (bench/RESULTS.md, "test children from the bundle"). Fails, with a total line, when the bundle
# cannot be made: then nothing could test hopd.
BUNDLE_DIR=""
bundle_hopd() {
  BUNDLE_DIR="$(mktemp -d)"
  trap 'rm -rf "$BUNDLE_DIR"' EXIT
  printf '\n==> bundle: scripts/bundle.sh --outdir %s\n' "$BUNDLE_DIR"
  if ! bash scripts/bundle.sh --outdir "$BUNDLE_DIR"; then
    echo "tests: 0 passed, 1 failed (scripts/bundle.sh failed: no hopd to test)"
    return 1
  fi
  export TEST_HOPD_BUNDLE="${BUNDLE_DIR}/hopd.js"
}

# typecheck: `deno task check` once, before the phases, which then run with --no-check: it checks
# every module the tests run (and the rest of the tree). In .ci/run, whose type-check step just
# before checked the same roots, it is a cache hit, where `deno test`'s own check of its different
# roots cost 15-18 s on a fresh clone; by hand it costs what that check did.
typecheck() {
  printf '\n==> type check: deno task check\n'
  if ! deno task check; then
    echo "tests: 0 passed, 1 failed (deno task check failed)"
    return 1
  fi
}

# The parallel phase's test files that take longest from start to end, longest first: deno test
# starts the files in the order it is given them, so these overlap the short ones instead of
# keeping one worker busy after the others have finished, as they did started in path order
# (tests/ last; bench/RESULTS.md, test command section). Most of their time is waiting (a
# renewal window, a descriptor flood, a transfer at its cap), not CPU. A file renamed or removed
# fails the phase ("module not found"), so the list cannot rot silently.
LONGEST_FIRST=(
  tests/acme_e2e_test.ts
  tests/socket_exhaustion_e2e_test.ts
  tests/bandwidth_long_transfer_test.ts
  tests/hooks_e2e_test.ts
  tests/smoke_binary_test.ts
  tests/admin_e2e_test.ts
  tests/relay_e2e_test.ts
  tests/upgrade_test.ts
  tests/install_test.ts
  tests/policy_e2e_test.ts
)

# parallel_files SERIAL…: the parallel phase's test files, one a line: LONGEST_FIRST, then every
# other *_test.ts of the tree in path order, none of SERIAL. Named one by one because deno test
# drops every --ignore once it is given a file (deno 2.9.6), and a directory argument would run
# the serial files too. tests/test_script_test.ts checks that every file with a Deno.test is in
# this phase or the serial one.
parallel_files() {
  # printf with no arguments would still print one empty line: a "" deno test takes for ".".
  ((${#LONGEST_FIRST[@]} == 0)) || printf '%s\n' "${LONGEST_FIRST[@]}"
  find . \( -path ./node_modules -o -path ./.git -o -path ./dist -o -path ./hopd-data \
    -o -path ./bench/.out \) -prune -o -type f -name '*_test.ts' -print |
    sed 's|^\./||' | LC_ALL=C sort | grep -vxF -f <(printf '%s\n' "${LONGEST_FIRST[@]}" "$@")
}

main() {
  local serial=(tests/bandwidth_e2e_test.ts tests/load_test_smoke_test.ts) parallel
  mapfile -t parallel < <(parallel_files "${serial[@]}")
  typecheck || return 1
  bundle_hopd || return 1
  local coverage=()
  if [[ -n "${TEST_COVERAGE_DIR:-}" ]]; then
    coverage=("--coverage=${TEST_COVERAGE_DIR}" --coverage-raw-data-only)
  fi
  # The interop phase mostly waits (its cases wait out timers: a client's 10 s for a direct
  # connection, hopd's duration limits), at about a third of a core: it runs beside the
  # others instead of after them (bench/RESULTS.md, test command section).
  beside interop deno task interop
  DENO_JOBS="${DENO_JOBS:-$PARALLEL_JOBS}" \
    phase parallel deno test -A --no-check --parallel "${coverage[@]}" "${parallel[@]}"
  phase serial deno test -A --no-check "${serial[@]}"
  wait_beside
  summarize
}

# Sourced (tests/test_script_test.ts does, to check the summary), it only defines the above.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
bash scripts/test_deps.sh || exit 1
if (($# > 0)); then
  exec deno test -A --parallel "$@"
fi
main
