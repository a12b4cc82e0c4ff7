#!/usr/bin/env bash
# Installs hopd on a systemd host: the binary, the "hopd" system user, the unit, the config
# and state directories, a default config and an admin token. Idempotent: run it again with a
# new binary to replace the binary and the unit; the config, the token, the identity and the
# bans are never overwritten. See docs/OPERATIONS.md#install.
#
#   scripts/install.sh --binary FILE [--sha256 HEX] [--root DIR] [--low-port] [--enable]
#   scripts/install.sh --uninstall [--purge] [--root DIR]
#
#   --binary FILE   the hopd executable (a release asset such as hopd-linux-x86_64, or
#                   dist/hopd from `deno task compile`); default dist/hopd
#   --sha256 HEX    refuse to install unless FILE has this SHA-256 (from SHA256SUMS)
#   --root DIR      install into DIR instead of / (images, chroots, tests): no systemctl
#                   calls except `systemctl --root=DIR enable` with --enable
#   --low-port      also install the drop-in that lets hopd bind ports below 1024
#   --enable        enable the unit at boot and start it now (with --root: enable only)
#   --uninstall     stop and disable the unit; remove the binary, the unit, its drop-ins,
#                   the sysusers entry and the docs. Keeps /etc/hopd (config, token,
#                   policies), /var/lib/hopd (identity, bans) and the hopd user.
#   --purge         with --uninstall: also remove /etc/hopd, /var/lib/hopd (and
#                   /var/lib/private/hopd) and the hopd user. The identity is gone for good.
#
# Installed paths (under --root): /usr/local/bin/hopd, /etc/systemd/system/hopd.service,
# /etc/systemd/system/hopd.service.d/low-port.conf, /usr/lib/sysusers.d/hopd.conf,
# /etc/hopd/{hopd.toml,admin.token,plugins/}, /etc/hopd/policies/ (the shipped policies, their
# fixtures and hopd.d.ts; an operator's edits are kept, see install_policies),
# /usr/local/share/doc/hopd/ (docs/*.md and every file they link to, at their repository
# paths), and the hopd user and group in /etc/{passwd,group,shadow,gshadow}. Standard directories it had to
# create (/usr/local/bin, /etc/systemd/system, ...) stay after --uninstall, and so do the
# backup files the user tools keep (/etc/passwd- and the like).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

binary="$repo/dist/hopd"
sha256=""
root=""
low_port=0
enable=0
uninstall=0
purge=0

die() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "install.sh: $*"; }

while (($# > 0)); do
  case "$1" in
  --binary) binary="${2:?--binary needs a file}"; shift 2 ;;
  --sha256) sha256="${2:?--sha256 needs a hex digest}"; shift 2 ;;
  --root) root="${2:?--root needs a directory}"; shift 2 ;;
  --low-port) low_port=1; shift ;;
  --enable) enable=1; shift ;;
  --uninstall) uninstall=1; shift ;;
  --purge) purge=1; shift ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
done
((purge == 0 || uninstall == 1)) || die "--purge goes with --uninstall"
if [[ -n "$root" ]]; then
  [[ -d "$root" ]] || die "--root $root is not a directory"
  root="$(cd "$root" && pwd)"
  [[ "$root" != "/" ]] || root=""
fi
[[ -n "$root" || "$(id -u)" == 0 ]] || die "run as root (or with --root DIR)"

BIN="$root/usr/local/bin/hopd"
UNIT="$root/etc/systemd/system/hopd.service"
DROPIN_DIR="$root/etc/systemd/system/hopd.service.d"
SYSUSERS="$root/usr/lib/sysusers.d/hopd.conf"
ETC="$root/etc/hopd"
DOC="$root/usr/local/share/doc/hopd"
STATE="$root/var/lib/hopd"
PRIVATE_STATE="$root/var/lib/private/hopd"

# systemctl on the live system only; with --root, only the offline `enable`.
systemctl_live() {
  [[ -z "$root" ]] || return 0
  command -v systemctl >/dev/null 2>&1 || return 0
  [[ -d /run/systemd/system ]] || { say "systemd is not running: skipped systemctl $*"; return 0; }
  systemctl "$@"
}

# Writes $2 to $1 atomically, only when the content differs (so a second run changes nothing).
put_file() {
  local target="$1" source="$2" mode="$3"
  mkdir -p "$(dirname "$target")"
  if [[ -f "$target" ]] && cmp -s "$source" "$target"; then
    chmod "$mode" "$target"
    return 0
  fi
  local tmp
  tmp="$(mktemp "$(dirname "$target")/.hopd-install.XXXXXX")"
  cp "$source" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$target"
  say "wrote ${target#"$root"}"
}

# The docs: every docs/*.md and every file they link to, followed link by link (relative
# links only), at the same paths under $DOC as in the repository so that every link holds
# (docs/OPERATIONS.md's ../bench/RESULTS.md is $DOC/bench/RESULTS.md). Files of an older
# layout that are no longer part of the set are removed.
doc_set() {
  local -A seen=()
  local -a queue=()
  local file link target
  for file in "$repo"/docs/*.md; do queue+=("docs/${file##*/}"); done
  while ((${#queue[@]} > 0)); do
    file="${queue[0]}"
    queue=("${queue[@]:1}")
    [[ -z "${seen[$file]:-}" && -f "$repo/$file" ]] || continue
    seen[$file]=1
    while IFS= read -r link; do
      link="${link#](}"
      link="${link%%#*}"
      [[ -n "$link" && "$link" != *://* && "$link" != mailto:* ]] || continue
      target="$(realpath -m --relative-to="$repo" "$repo/$(dirname "$file")/$link")"
      [[ "$target" != ../* ]] && queue+=("$target")
    done < <(grep -oE '\]\([^)[:space:]]+' "$repo/$file" || true)
  done
  printf '%s\n' "${!seen[@]}" | sort
}

install_docs() {
  local -A wanted=()
  local file
  while IFS= read -r file; do
    wanted[$file]=1
    put_file "$DOC/$file" "$repo/$file" 0644
  done < <(doc_set)
  while IFS= read -r file; do
    file="${file#"$DOC"/}"
    if [[ -z "${wanted[$file]:-}" ]]; then
      rm -f "$DOC/$file"
      say "removed ${DOC#"$root"}/$file (no longer shipped)"
    fi
  done < <(find "$DOC" -type f 2>/dev/null)
  find "$DOC" -mindepth 1 -type d -empty -delete 2>/dev/null || true
}

# The shipped policies (policies/*.js with their *_test.js fixtures, and hopd.d.ts) go to
# $ETC/policies, where a running hopd loads them live. An operator's edits win: the
# manifest $ETC/policies/.shipped records the SHA-256 of each file as last shipped, and on
# an upgrade a file is replaced only while it still is what was shipped. An edited file is
# kept and the new version written beside it as <file>.new (hopd loads only <name>.js, never
# <name>.js.new); a shipped file the operator deleted stays deleted; a file a release no
# longer ships is removed if unedited, kept otherwise.
install_policies() {
  local dir="$ETC/policies" manifest="$ETC/policies/.shipped" file name new_sum old_sum current
  local -A shipped=()
  if [[ -f "$manifest" ]]; then
    while read -r old_sum name; do shipped[$name]="$old_sum"; done <"$manifest"
  fi
  local next
  next="$(mktemp "$dir/.hopd-install.XXXXXX")"
  for file in "$repo"/policies/*.js "$repo"/policies/hopd.d.ts; do
    [[ -f "$file" ]] || continue
    name="${file##*/}"
    new_sum="$(sha256sum "$file" | cut -d' ' -f1)"
    old_sum="${shipped[$name]:-}"
    unset 'shipped[$name]'
    printf '%s %s\n' "$new_sum" "$name" >>"$next"
    if [[ ! -e "$dir/$name" ]]; then
      if [[ -n "$old_sum" ]]; then
        say "kept ${dir#"$root"}/$name deleted (deleted after an earlier install)"
      else
        put_file "$dir/$name" "$file" 0644
      fi
      continue
    fi
    current="$(sha256sum "$dir/$name" | cut -d' ' -f1)"
    if [[ "$current" == "$new_sum" ]]; then
      rm -f "$dir/$name.new"
    elif [[ -n "$old_sum" && "$current" == "$old_sum" ]]; then
      put_file "$dir/$name" "$file" 0644
    else
      put_file "$dir/$name.new" "$file" 0644
      say "kept your edited ${dir#"$root"}/$name; this release's version is $name.new"
    fi
  done
  for name in "${!shipped[@]}"; do
    [[ -f "$dir/$name" ]] || continue
    if [[ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" == "${shipped[$name]}" ]]; then
      rm -f "$dir/$name"
      say "removed ${dir#"$root"}/$name (no longer shipped)"
    fi
  done
  if [[ -f "$manifest" ]] && cmp -s "$next" "$manifest"; then
    rm -f "$next"
  else
    chmod 0644 "$next"
    mv -f "$next" "$manifest"
  fi
}

uninstall_hopd() {
  systemctl_live disable --now hopd.service 2>/dev/null || true
  # The link `enable` made (offline with --root: systemctl_live skipped it).
  rm -f "$root/etc/systemd/system/multi-user.target.wants/hopd.service"
  rm -f "$BIN" "$UNIT" "$SYSUSERS"
  rm -rf "$DROPIN_DIR" "$DOC"
  systemctl_live daemon-reload
  if ((purge)); then
    rm -rf "$ETC" "$STATE" "$PRIVATE_STATE"
    rmdir "$root/var/lib/private" 2>/dev/null || true
    if grep -q '^hopd:' "$root/etc/passwd" 2>/dev/null; then
      if [[ -n "$root" ]]; then userdel --prefix "$root" hopd; else userdel hopd; fi
    fi
    if grep -q '^hopd:' "$root/etc/group" 2>/dev/null; then
      if [[ -n "$root" ]]; then groupdel --prefix "$root" hopd; else groupdel hopd; fi
    fi
    say "purged: config, state (identity, bans) and the hopd user are gone"
  else
    say "uninstalled; kept ${ETC#"$root"} (config, token, policies), ${STATE#"$root"} (identity, bans) and the hopd user (--purge removes them)"
  fi
}

install_hopd() {
  [[ -f "$binary" && -x "$binary" ]] || die "binary '$binary' is missing or not executable (build it with 'deno task compile' or download a release)"
  if [[ -n "$sha256" ]]; then
    local actual
    actual="$(sha256sum "$binary" | cut -d' ' -f1)"
    [[ "$actual" == "$sha256" ]] || die "binary '$binary' has SHA-256 $actual, not $sha256"
  fi
  local version
  version="$("$binary" version 2>/dev/null)" || die "'$binary version' failed: not a working hopd binary"

  # The user first, so files can be given to it.
  put_file "$SYSUSERS" <(printf 'u hopd - "hopd libp2p relay" /nonexistent /usr/sbin/nologin\n') 0644
  mkdir -p "$root/etc"
  if [[ -n "$root" ]]; then
    systemd-sysusers --root="$root" "$SYSUSERS" >/dev/null
  else
    systemd-sysusers "$SYSUSERS" >/dev/null
  fi

  put_file "$BIN" "$binary" 0755
  put_file "$UNIT" "$here/hopd.service" 0644
  if ((low_port)); then
    put_file "$DROPIN_DIR/low-port.conf" "$here/hopd-low-port.conf" 0644
  fi
  install_docs

  mkdir -p "$ETC/policies" "$ETC/plugins"
  chmod 0755 "$ETC" "$ETC/policies" "$ETC/plugins"
  install_policies
  if [[ ! -e "$ETC/hopd.toml" ]]; then
    put_file "$ETC/hopd.toml" "$here/hopd.toml" 0644
  fi
  if [[ ! -e "$ETC/admin.token" ]]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ETC/admin.token" && echo >>"$ETC/admin.token")
    say "wrote ${ETC#"$root"}/admin.token (root only; the service gets a copy)"
  fi
  chmod 0600 "$ETC/admin.token"

  "$binary" config check "$ETC/hopd.toml" >/dev/null ||
    die "${ETC#"$root"}/hopd.toml does not validate: fix it, then run install.sh again"

  if [[ -z "$root" ]]; then
    systemctl_live daemon-reload
    if ((enable)); then systemctl_live enable --now hopd.service; fi
    if systemctl_live is-active --quiet hopd.service 2>/dev/null; then
      say "hopd is running the previous binary: restart it without dropping clients with scripts/upgrade.sh"
    fi
  elif ((enable)); then
    systemctl --root="$root" enable hopd.service >/dev/null 2>&1
  fi
  say "installed $version"
}

if ((uninstall)); then uninstall_hopd; else install_hopd; fi
