#!/usr/bin/env bash
# Restarts (and optionally upgrades) hopd without dropping clients: drain, wait for open
# circuits to finish, replace the binary, restart, wait for /ready, resume. While draining,
# /ready answers 503, the federation announces the node as draining at once so balancers
# steer new clients to other relays, and new connections and reservations are refused;
# circuits already open keep relaying. See docs/OPERATIONS.md#upgrade-without-downtime.
#
#   scripts/upgrade.sh [--binary FILE [--sha256 HEX]] [--install-to PATH]
#                      [--url URL] [--token-file FILE] [--unit NAME]
#                      [--drain-timeout SECONDS] [--ready-timeout SECONDS]
#
#   --binary FILE         new hopd executable; checked (version, config check) before the
#                         drain, then installed atomically at --install-to
#   --sha256 HEX          refuse FILE unless it has this SHA-256
#   --install-to PATH     where the unit runs hopd from (default /usr/local/bin/hopd)
#   --config FILE         config the new binary must accept (default /etc/hopd/hopd.toml)
#   --url URL             hopd's ops server (default http://127.0.0.1:8080)
#   --token-file FILE     admin token (default /etc/hopd/admin.token; none if missing)
#   --unit NAME           systemd unit (default hopd.service)
#   --drain-timeout S     most seconds to wait for circuits to finish (default 300); then
#                         restart anyway (hopd's SIGTERM gives them node.drain_timeout more)
#   --ready-timeout S     most seconds to wait for the new process's /ready (default 60)
#
# Exit 0 when the new process is ready with the same peer ID; 1 otherwise. If anything
# fails before the restart, the drain is undone (resume) and the old process keeps serving.
set -euo pipefail

binary=""
sha256=""
install_to="/usr/local/bin/hopd"
config="/etc/hopd/hopd.toml"
url="http://127.0.0.1:8080"
token_file="/etc/hopd/admin.token"
unit="hopd.service"
drain_timeout=300
ready_timeout=60

say() { echo "upgrade.sh: $*"; }
die() {
  echo "upgrade.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case "$1" in
  --binary) binary="${2:?}"; shift 2 ;;
  --sha256) sha256="${2:?}"; shift 2 ;;
  --install-to) install_to="${2:?}"; shift 2 ;;
  --config) config="${2:?}"; shift 2 ;;
  --url) url="${2:?}"; url="${url%/}"; shift 2 ;;
  --token-file) token_file="${2:?}"; shift 2 ;;
  --unit) unit="${2:?}"; shift 2 ;;
  --drain-timeout) drain_timeout="${2:?}"; shift 2 ;;
  --ready-timeout) ready_timeout="${2:?}"; shift 2 ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$drain_timeout" =~ ^[0-9]+$ ]] || die "--drain-timeout must be whole seconds: current value is '$drain_timeout'"
[[ "$ready_timeout" =~ ^[0-9]+$ ]] || die "--ready-timeout must be whole seconds: current value is '$ready_timeout'"

auth=()
if [[ -f "$token_file" ]]; then
  auth=(-H "Authorization: Bearer $(head -n1 "$token_file" | tr -d '[:space:]')")
fi

# GET a route; prints the body; fails on transport errors only.
get() { curl -sS --max-time 5 "$url$1"; }
admin() { curl -fsS --max-time 10 -X POST "${auth[@]}" "$url/v1/admin/$1" >/dev/null; }
# A JSON field of the flat kind hopd's status has ("peerId":"…", "circuits":3).
field() { grep -oE "\"$1\":\"?[^\",}]*" | head -n1 | sed -E "s/^\"$1\":\"?//"; }
relay_circuits() {
  get /v1/status | grep -oE '"relay":\{[^}]*' | head -n1 | grep -oE '"circuits":[0-9]+' | cut -d: -f2
}
ready_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/ready" || true; }

status="$(get /v1/status)" || die "cannot reach hopd at $url"
peer_id="$(field peerId <<<"$status")"
old_version="$(field version <<<"$status")"
[[ -n "$peer_id" ]] || die "no peer ID in $url/v1/status: is this hopd?"
say "node $peer_id, version $old_version, $(relay_circuits) circuits open"

if [[ -n "$binary" ]]; then
  [[ -x "$binary" ]] || die "--binary '$binary' is not an executable file"
  if [[ -n "$sha256" ]]; then
    actual="$(sha256sum "$binary" | cut -d' ' -f1)"
    [[ "$actual" == "$sha256" ]] || die "'$binary' has SHA-256 $actual, not $sha256"
  fi
  new_version="$("$binary" version)" || die "'$binary version' failed"
  if [[ -f "$config" ]]; then
    "$binary" config check "$config" >/dev/null || die "$new_version rejects $config: not upgrading"
  fi
  say "new binary: $new_version"
fi

drained=0
restarted=0
undo() {
  if ((drained == 1 && restarted == 0)); then
    say "failed before the restart: resuming the old process"
    admin resume || echo "upgrade.sh: resume failed too: run 'hopd admin resume'" >&2
  fi
}
trap undo EXIT

admin drain || die "POST $url/v1/admin/drain failed (token? see --token-file)"
drained=1
say "draining: new clients go elsewhere, open circuits finish"
deadline=$((SECONDS + drain_timeout))
while :; do
  circuits="$(relay_circuits)"
  [[ "$circuits" == 0 ]] && break
  if ((SECONDS >= deadline)); then
    say "$circuits circuits still open after ${drain_timeout}s: restarting anyway (hopd drains them for node.drain_timeout more)"
    break
  fi
  sleep 1
done

if [[ -n "$binary" ]]; then
  tmp="$(mktemp "$(dirname "$install_to")/.hopd-upgrade.XXXXXX")"
  cp "$binary" "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$install_to"
  say "installed $install_to"
fi

restart_at=$SECONDS
restarted=1
systemctl restart "$unit"
deadline=$((SECONDS + ready_timeout))
while [[ "$(ready_code)" != 200 ]]; do
  ((SECONDS < deadline)) || die "$unit is not ready ${ready_timeout}s after the restart: journalctl -u $unit"
  sleep 0.5
done
status="$(get /v1/status)"
new_peer="$(field peerId <<<"$status")"
[[ "$new_peer" == "$peer_id" ]] || die "the node came back as $new_peer, not $peer_id: check its identity file"
# A drain lives in memory, so a new process starts undrained; resume in case one was asked
# for again in the meantime (a policy, an operator).
if [[ "$(field draining <<<"$status")" == true ]]; then admin resume; fi
say "ready again as $peer_id, version $(field version <<<"$status"), $((SECONDS - restart_at))s after the restart"
