#!/usr/bin/env bash
# Backs up what a hopd node cannot rebuild: its identity (the peer ID clients dial), its
# config and admin token, its policies and plugins, and its bans. One tar.gz with a
# MANIFEST of SHA-256 sums, written mode 0600 (it holds the private key: store it
# encrypted). Safe while hopd runs: hopd replaces bans.json and identity.key atomically.
# See docs/DISASTER_RECOVERY.md.
#
#   scripts/backup.sh [--config-dir DIR] [--state-dir DIR] [--output FILE] [--with-decisions]
#
#   --config-dir DIR   default /etc/hopd (hopd.toml, admin.token, policies/, plugins/, …)
#   --state-dir DIR    default /var/lib/hopd (identity.key, bans.json)
#   --output FILE      default ./hopd-backup-<host>-<UTC time>.tar.gz
#   --with-decisions   also keep the policy decision log (decisions.ndjson*)
#
# Prints the archive's path on stdout. Exit 1 when there is no identity to back up.
set -euo pipefail

config_dir="/etc/hopd"
state_dir="/var/lib/hopd"
output=""
with_decisions=0

die() {
  echo "backup.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case "$1" in
  --config-dir) config_dir="${2:?}"; shift 2 ;;
  --state-dir) state_dir="${2:?}"; shift 2 ;;
  --output) output="${2:?}"; shift 2 ;;
  --with-decisions) with_decisions=1; shift ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -f "$state_dir/identity.key" ]] || die "no identity at $state_dir/identity.key (wrong --state-dir?)"
[[ -d "$config_dir" ]] || die "no config directory $config_dir (wrong --config-dir?)"
output="${output:-./hopd-backup-$(hostname -s 2>/dev/null || echo host)-$(date -u +%Y%m%dT%H%M%SZ).tar.gz}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/hopd-backup/config" "$work/hopd-backup/state"
cp -a "$config_dir/." "$work/hopd-backup/config/"
cp -a "$state_dir/identity.key" "$work/hopd-backup/state/"
for file in bans.json; do
  [[ -f "$state_dir/$file" ]] && cp -a "$state_dir/$file" "$work/hopd-backup/state/"
done
if ((with_decisions)); then
  for file in "$state_dir"/decisions.ndjson*; do
    [[ -f "$file" ]] && cp -a "$file" "$work/hopd-backup/state/"
  done
fi
(
  cd "$work/hopd-backup"
  {
    echo "# hopd backup $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(hostname 2>/dev/null || echo unknown)"
    echo "# config: $config_dir  state: $state_dir"
    find config state -type f -print0 | sort -z | xargs -0 sha256sum
  } >MANIFEST
)
umask 077
tar -czf "$output.tmp" -C "$work" hopd-backup
mv -f "$output.tmp" "$output"
echo "$output"
