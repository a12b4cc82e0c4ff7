#!/usr/bin/env bash
# Smoke test of one hopd executable: what release.yml runs on the native linux x86_64 binary
# after compiling it and before anything is published (tests/smoke_binary_test.ts runs it
# against a stand-in). Usage:
#
#   scripts/smoke_binary.sh BINARY [POLICY_DIR]      (POLICY_DIR defaults to ./policies)
#
# Steps, in order; each prints "smoke: ok STEP …", and the first that fails prints
# "smoke: FAILED STEP: why" (with the node's last log lines) and exits 1:
#   version      `hopd version` prints "hopd X.Y.Z (deno …)";
#   config       `hopd config example` prints a config that `hopd config check` accepts;
#   run          `hopd run` on that config (loopback, port 0, POLICY_DIR's policies) until
#                `hopd health` says ready and the policy engine has loaded every policy,
#                in its sandbox worker (the file compile.sh must embed);
#   policy test  `hopd policy test POLICY_DIR`: every fixture through the embedded QuickJS;
#   sigterm      SIGTERM to the running node: it exits 0 within SMOKE_STOP_TIMEOUT_S.
# Only loopback is used; everything it writes goes to a temporary directory it removes.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="$(realpath "${1:?usage: scripts/smoke_binary.sh BINARY [POLICY_DIR]}")"
policies="$(realpath "${2:-$repo/policies}")"
ready_timeout_s="${SMOKE_READY_TIMEOUT_S:-60}"
stop_timeout_s="${SMOKE_STOP_TIMEOUT_S:-30}"

work="$(mktemp -d "${TMPDIR:-/tmp}/hopd-smoke.XXXXXX")"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "smoke: FAILED $*" >&2
  if [[ -s "$work/run.log" ]]; then
    echo "smoke: last lines of the node's log:" >&2
    tail -n 20 "$work/run.log" >&2
  fi
  exit 1
}
ok() { echo "smoke: ok $*"; }
cd "$work"

version="$("$binary" version 2>&1)" || fail "version: exit $?: $version"
[[ "$version" =~ ^hopd\ [0-9]+\.[0-9]+\.[0-9]+.*\(deno\  ]] || fail "version: printed '$version'"
ok "version: $version"

"$binary" config example >hopd.toml 2>config.err || fail "config: example exited $?: $(<config.err)"
grep -q '^\[node\]' hopd.toml || fail "config: the example has no [node] section"
"$binary" config check hopd.toml >config.out 2>&1 || fail "config: check of the example exited $?: $(<config.out)"
ok "config: example ($(wc -l <hopd.toml) lines) accepted by config check"

# Policies shipped beside the binary, not their fixtures: what the engine must load.
expected=0
for file in "$policies"/*.js; do
  [[ -e "$file" && "$file" != *_test.js ]] && expected=$((expected + 1))
done
((expected > 0)) || fail "run: no policy in $policies"
mkdir plugins
# The shell opens a background command's redirection in the child, so under load the loop below
# could read run.log before the child has created it (seen in CI: "sed: can't read run.log").
: >run.log
HOPD_POLICY_DIR="$policies" HOPD_POLICY_PLUGINS_DIR="$work/plugins" \
  "$binary" run -c hopd.toml --data-dir "$work/data" --listen /ip4/127.0.0.1/tcp/0 \
  --http 127.0.0.1:0 --log-format json >run.log 2>&1 &
pid=$!
url=""
deadline=$((SECONDS + ready_timeout_s))
while :; do
  kill -0 "$pid" 2>/dev/null || fail "run: exited before ready"
  ((SECONDS < deadline)) || fail "run: not ready within ${ready_timeout_s} s (ops URL '${url}')"
  [[ -n "$url" ]] ||
    url="$(sed -n 's/.*"Ops HTTP server listening on.*"url":"\(http[^"]*\)".*/\1/p' run.log | head -n 1)"
  started="$(sed -n 's/.*"message":"\(Policy engine started: [0-9]* policies\).*/\1/p' run.log | head -n 1)"
  if [[ -n "$started" && "$started" != "Policy engine started: ${expected} policies" ]]; then
    fail "run: ${started}, not the ${expected} of ${policies}"
  fi
  if [[ -n "$url" ]] && "$binary" health --url "$url" --timeout 2s >health.out 2>&1 &&
    grep -q "Policy engine started: ${expected} policies" run.log; then
    break
  fi
  sleep 0.2
done
grep -q '"level":"ERROR"\|"level":"FATAL"' run.log && fail "run: logged an error while starting"
ok "run: $(<health.out), ${expected} policies loaded"

"$binary" policy test "$policies" >policy.out 2>&1 || fail "policy test: exit $?: $(tail -n 20 policy.out)"
summary="$(tail -n 1 policy.out)"
[[ "$summary" =~ ^${expected}\ modules:\ ${expected}\ ok,\ 0\ failed ]] ||
  fail "policy test: expected ${expected} modules ok, got '$summary'"
ok "policy test: $summary"

kill -TERM "$pid"
deadline=$((SECONDS + stop_timeout_s))
while kill -0 "$pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "sigterm: still running ${stop_timeout_s} s after SIGTERM"
  sleep 0.1
done
status=0
wait "$pid" || status=$?
pid=""
((status == 0)) || fail "sigterm: exited ${status}"
grep -q '"message":"Stopped"' run.log || fail "sigterm: exited 0 without logging 'Stopped'"
ok "sigterm: exited 0"
echo "smoke: passed ($binary)"
