#!/usr/bin/env bash
# Disaster-recovery drill (docs/DISASTER_RECOVERY.md), run in CI by tests/dr_drill_test.ts:
# starts a hopd with its own config, token and policy in temporary directories, bans a peer
# and a CIDR block through the admin API, backs everything up with scripts/backup.sh, stops
# the node and wipes both directories, restores with scripts/restore.sh, starts hopd again
# and checks that the peer ID, the bans, the config, the token and the policy are back.
# Loopback only (ports chosen by the OS); everything lives in one temp dir, removed at exit.
#
#   scripts/dr_drill.sh [--hopd "COMMAND"]
#
#   --hopd COMMAND  how to run hopd (default: deno run -P=hopd main.ts, as the binary does);
#                   e.g. --hopd /usr/local/bin/hopd to drill a release binary
#
# Prints one line per check and a JSON summary last; exit 0 when every check passed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
hopd_cmd="deno run -P=hopd --quiet --config $repo/deno.json $repo/main.ts"
while (($# > 0)); do
  case "$1" in
  --hopd) hopd_cmd="${2:?}"; shift 2 ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "dr_drill.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

drill="$(mktemp -d "${TMPDIR:-/tmp}/hopd-dr-drill.XXXXXX")"
etc="$drill/etc/hopd"
state="$drill/var/lib/hopd"
pid=""
failures=0
checks=0
cleanup() {
  [[ -z "$pid" ]] || kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$drill"
}
trap cleanup EXIT

check() {
  local name="$1"
  shift
  checks=$((checks + 1))
  if "$@"; then
    echo "ok   $name"
  else
    echo "FAIL $name"
    failures=$((failures + 1))
  fi
}

# Starts hopd on loopback and sets $pid and $ops from its "Ops HTTP server listening" line.
start_hopd() {
  local log="$drill/hopd-$1.log"
  HOPD_ADMIN_TOKEN_FILE="$etc/admin.token" NO_COLOR=1 $hopd_cmd run --config "$etc/hopd.toml" \
    --data-dir "$state" --http 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 --log-format json \
    >"$log" 2>&1 &
  pid=$!
  local port=""
  for _ in $(seq 300); do
    port="$(grep -o '"port":[0-9]*' "$log" | head -n1 | cut -d: -f2 || true)"
    [[ -n "$port" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "dr_drill.sh: hopd exited" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$port" ]] || { cat "$log" >&2; echo "dr_drill.sh: hopd did not start" >&2; exit 1; }
  ops="http://127.0.0.1:$port"
}

stop_hopd() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

token() { head -n1 "$etc/admin.token"; }
admin() { curl -fsS -H "Authorization: Bearer $(token)" -H 'Content-Type: application/json' "$@"; }
peer_id() { curl -fsS "$ops/v1/status" | grep -oE '"peerId":"[^"]+"' | head -n1 | cut -d'"' -f4; }

# The node as it runs in production: config, token, one policy, bans.
mkdir -p "$etc/policies" "$state"
sed "s|/etc/hopd/|$etc/|g" "$here/hopd.toml" >"$etc/hopd.toml"
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$etc/admin.token")
cat >"$etc/policies/drill_marker.js" <<'EOF'
// Marker for the DR drill: a policy file must survive backup and restore byte for byte.
export default { name: "drill_marker" };
EOF
start_hopd before
peer_before="$(peer_id)"
banned_peer="12D3KooWLRPJAA5o6Z6RDXQhKQ7TqkRjhjKQ1tQkJmrZxDfvDQu4"
admin -X POST "$ops/v1/admin/bans" -d "{\"peer\":\"$banned_peer\",\"reason\":\"dr drill\"}" >/dev/null
admin -X POST "$ops/v1/admin/bans" -d '{"cidr":"203.0.113.0/24","ttl":"24h","reason":"dr drill"}' >/dev/null
bans_before="$(admin "$ops/v1/admin/bans" | grep -oE '"target":"[^"]+"' | sort | tr '\n' ' ')"
sums_before="$(cd "$etc" && sha256sum hopd.toml admin.token policies/drill_marker.js)"

# Back up while it runs, then lose the machine's hopd directories.
archive="$("$here/backup.sh" --config-dir "$etc" --state-dir "$state" --output "$drill/backup.tar.gz")"
stop_hopd
rm -rf "$drill/etc" "$drill/var"
check "directories wiped" test ! -e "$state/identity.key"

"$here/restore.sh" "$archive" --config-dir "$etc" --state-dir "$state"
start_hopd after
peer_after="$(peer_id)"
bans_after="$(admin "$ops/v1/admin/bans" | grep -oE '"target":"[^"]+"' | sort | tr '\n' ' ')"
sums_after="$(cd "$etc" && sha256sum hopd.toml admin.token policies/drill_marker.js)"
check "same peer ID ($peer_before)" test "$peer_before" == "$peer_after"
check "both bans back ($bans_after)" test "$bans_before" == "$bans_after" -a -n "$bans_before"
check "peer ban present" grep -q "$banned_peer" <<<"$bans_after"
check "config, token and policy byte-identical" test "$sums_before" == "$sums_after"
check "identity file mode 0600" test "$(stat -c %a "$state/identity.key")" == 600
check "node ready after restore" test "$(curl -s -o /dev/null -w '%{http_code}' "$ops/ready")" == 200
# A corrupt archive is refused before anything is touched.
printf 'garbage' | dd of="$archive" bs=1 seek=200 conv=notrunc status=none
check "corrupt archive refused" bash -c "! '$here/restore.sh' '$archive' --config-dir '$drill/x' --state-dir '$drill/y' 2>/dev/null"
stop_hopd

echo "{\"checks\":$checks,\"failed\":$failures,\"peerId\":\"$peer_before\"}"
((failures == 0))
