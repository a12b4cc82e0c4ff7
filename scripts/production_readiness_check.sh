#!/usr/bin/env bash
# Runs every check that says this tree is fit to ship and run, and prints a pass/fail table:
# static checks (fmt, lint, types, compile graph), the whole test suite, and the operations
# kit on its own (alert rules and their unit tests, the systemd unit, install into a temp
# root, the DR drill, a load-test smoke, a chaos smoke when scripts/chaos_test.sh exists).
#
#   scripts/production_readiness_check.sh [--no-tests] [--keep-logs]
#
#   --no-tests    skip `deno task test` (the slowest row; CI runs it anyway)
#   --keep-logs   keep each check's log (printed path) even when everything passed
#
# Exit 0 when no check failed. A SKIP row says why (a tool or a script that is not there).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

run_tests=1
keep_logs=0
for arg in "$@"; do
  case "$arg" in
  --no-tests) run_tests=0 ;;
  --keep-logs) keep_logs=1 ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "production_readiness_check.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
export NO_COLOR=1
logs="$(mktemp -d "${TMPDIR:-/tmp}/hopd-readiness.XXXXXX")"
rows=()
failed=0

# check NAME COMMAND...: runs it, logs its output, records PASS/FAIL and seconds.
check() {
  local name="$1"
  shift
  local log="$logs/$(tr -c 'a-zA-Z0-9' '_' <<<"$name").log"
  local start=$SECONDS
  printf '%-44s ' "$name" >&2
  if "$@" >"$log" 2>&1; then
    rows+=("$(printf '%-44s PASS %5ss' "$name" $((SECONDS - start)))")
    echo "PASS" >&2
  else
    rows+=("$(printf '%-44s FAIL %5ss  %s' "$name" $((SECONDS - start)) "$log")")
    failed=$((failed + 1))
    echo "FAIL ($log)" >&2
  fi
}
skip() { rows+=("$(printf '%-44s SKIP        %s' "$1" "$2")"); }

verify_unit() {
  local dir out
  dir="$(mktemp -d)"
  printf '#!/bin/sh\n' >"$dir/hopd" && chmod +x "$dir/hopd"
  sed "s|/usr/local/bin/hopd|$dir/hopd|" scripts/hopd.service >"$dir/hopd.service"
  out="$(systemd-analyze verify "$dir/hopd.service" 2>&1)"
  rm -rf "$dir"
  echo "$out"
  [[ -z "$out" ]]
}
unit_exposure() {
  local out level
  out="$(systemd-analyze security --offline=true scripts/hopd.service 2>&1)"
  level="$(sed -nE 's/.*Overall exposure level for [^:]+: ([0-9.]+).*/\1/p' <<<"$out")"
  echo "exposure: ${level:-none}"
  [[ -n "$level" ]] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'
}
load_smoke() {
  local out
  out="$(bash scripts/load_test.sh --reservations 10 --rate 2 --duration 3 --targets 2 --settle 0 --sample 1)" || return 1
  echo "$out"
  grep -q '"reserved": 10,' <<<"$out" && grep -q '"relayErrors": 0,' <<<"$out"
}

check "fmt (deno fmt --check)" deno fmt --check
check "lint (deno lint)" deno lint
check "type check (deno task check)" deno task check
check "compile graph (deno task compile:check)" deno task compile:check
if ((run_tests)); then
  check "unit and end-to-end tests (deno task test)" deno task test
else
  skip "unit and end-to-end tests (deno task test)" "--no-tests"
fi
if command -v promtool >/dev/null 2>&1; then
  check "promtool check rules" promtool check rules monitoring/prometheus/hopd.rules.yml
  check "promtool test rules" promtool test rules monitoring/prometheus/hopd.rules.test.yml
else
  skip "promtool check/test rules" "promtool missing (scripts/test_deps.sh installs it)"
fi
check "dashboard matches its builder" deno run -A monitoring/grafana/build_dashboard.ts --check
if command -v systemd-analyze >/dev/null 2>&1; then
  check "systemd-analyze verify (no output)" verify_unit
  check "systemd-analyze security (exposure <= 2.0)" unit_exposure
else
  skip "systemd-analyze verify/security" "systemd-analyze missing"
fi
check "install.sh into a temp root (and sandbox)" deno test -A --quiet tests/systemd_unit_test.ts
check "upgrade.sh against a live node" deno test -A --quiet tests/upgrade_test.ts
check "disaster-recovery drill" bash scripts/dr_drill.sh
check "load test smoke" load_smoke
if [[ -x scripts/chaos_test.sh || -f scripts/chaos_test.sh ]]; then
  # The federation's chaos test; its smoke mode is a short run.
  check "chaos test smoke" bash scripts/chaos_test.sh ${CHAOS_SMOKE_ARGS:---smoke}
else
  skip "chaos test smoke" "scripts/chaos_test.sh not present"
fi

echo
printf '%-44s %s\n' "check" "result"
printf '%s\n' "${rows[@]}"
echo
if ((failed > 0)); then
  echo "NOT READY: $failed check(s) failed (logs in $logs)"
  exit 1
fi
((keep_logs)) && echo "logs in $logs" || rm -rf "$logs"
echo "READY: every check passed"
