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
# The phases (see main below):
#   parallel  every test file at once, except the timing-sensitive ones. With TEST_COVERAGE_DIR
#             set (an absolute path, as .ci/run sets it) the test processes write their coverage
#             profiles there, which `deno task coverage --report DIR` reads, so CI runs the unit
#             suites once, not twice. The hopd children the end-to-end tests spawn (through
#             tests/_helpers/child_env.ts) are then left out of coverage: under it they ran
#             twice as slow (tests/policy_e2e_test.ts 14 s -> 31 s).
#   serial    the bandwidth caps (with their own CPU hogs) and the load-test smoke, alone:
#             they measure rates over seconds, which the other tests would skew;
#   interop   go-, rust- and js-libp2p clients through hopd (`deno task interop`).
#
# To add a phase, add one `phase NAME COMMAND…` line to main. Its output must contain a
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
  local output started status counts passed failed note=""
  output="$(mktemp)"
  started=$SECONDS
  printf '\n==> phase %s: %s\n' "$name" "$*"
  "$@" 2>&1 | tee "$output"
  status=${PIPESTATUS[0]}
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
  PHASE_SECONDS+=("$((SECONDS - started))")
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

main() {
  local serial=(tests/bandwidth_e2e_test.ts tests/load_test_smoke_test.ts)
  local coverage=()
  if [[ -n "${TEST_COVERAGE_DIR:-}" ]]; then
    coverage=("--coverage=${TEST_COVERAGE_DIR}" --coverage-raw-data-only)
  fi
  phase parallel deno test -A --parallel "${coverage[@]}" "${serial[@]/#/--ignore=}"
  phase serial deno test -A "${serial[@]}"
  phase interop deno task interop
  summarize
}

# Sourced (tests/test_script_test.ts does, to check the summary), it only defines the above.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
bash scripts/test_deps.sh || exit 1
if (($# > 0)); then
  exec deno test -A --parallel "$@"
fi
main
