#!/usr/bin/env bash
# Restores a backup made by scripts/backup.sh: checks every file against the MANIFEST, then
# puts the config back in the config directory and the identity and bans in the state
# directory, owned by the service user. Stop hopd first (`systemctl stop hopd`): a running
# node would overwrite bans.json. See docs/DISASTER_RECOVERY.md.
#
#   scripts/restore.sh ARCHIVE [--config-dir DIR] [--state-dir DIR] [--owner USER:GROUP] [--force]
#
#   --config-dir DIR    default /etc/hopd
#   --state-dir DIR     default /var/lib/hopd
#   --owner U:G         owner of the state files (default hopd:hopd when that user exists
#                       and this runs as root; else left as is)
#   --force             replace an existing, different identity (the node's peer ID changes
#                       to the backup's: what a restore is for, but never by accident)
#
# Exit 0 when restored; 1 on a corrupt archive, a running hopd or a refused identity change.
set -euo pipefail

archive=""
config_dir="/etc/hopd"
state_dir="/var/lib/hopd"
owner=""
force=0

die() {
  echo "restore.sh: $*" >&2
  exit 1
}

while (($# > 0)); do
  case "$1" in
  --config-dir) config_dir="${2:?}"; shift 2 ;;
  --state-dir) state_dir="${2:?}"; shift 2 ;;
  --owner) owner="${2:?}"; shift 2 ;;
  --force) force=1; shift ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  -*) die "unknown argument '$1' (see --help)" ;;
  *) [[ -z "$archive" ]] || die "one archive at a time"; archive="$1"; shift ;;
  esac
done
[[ -n "$archive" ]] || die "usage: restore.sh ARCHIVE [--config-dir DIR] [--state-dir DIR] [--owner U:G] [--force]"
[[ -f "$archive" ]] || die "no archive at $archive"

if [[ -d /run/systemd/system ]] && systemctl is-active --quiet hopd.service 2>/dev/null; then
  die "hopd.service is running: systemctl stop hopd first"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$archive" -C "$work" || die "$archive is not a readable tar.gz"
backup="$work/hopd-backup"
[[ -f "$backup/MANIFEST" ]] || die "$archive has no MANIFEST: not a hopd backup"
(cd "$backup" && grep -v '^#' MANIFEST | sha256sum --quiet -c -) ||
  die "$archive is corrupt: files do not match its MANIFEST"
[[ -f "$backup/state/identity.key" ]] || die "$archive holds no identity"

if [[ -f "$state_dir/identity.key" ]] && ! cmp -s "$state_dir/identity.key" "$backup/state/identity.key"; then
  ((force)) || die "$state_dir/identity.key holds a different identity: --force replaces it"
fi

if [[ -z "$owner" && "$(id -u)" == 0 ]] && getent passwd hopd >/dev/null 2>&1; then
  owner="hopd:hopd"
fi

mkdir -p "$config_dir"
cp -a "$backup/config/." "$config_dir/"
mkdir -p "$state_dir"
chmod 0700 "$state_dir"
cp -a "$backup/state/." "$state_dir/"
chmod 0600 "$state_dir"/identity.key
[[ -z "$owner" ]] || chown -R "$owner" "$state_dir"
restored=$(grep -vc '^#' "$backup/MANIFEST")
echo "restore.sh: restored $restored files into $config_dir and $state_dir ($(head -n1 "$backup/MANIFEST" | sed 's/^# //'))"
