#!/usr/bin/env bash
# Runs a command under the parts of scripts/hopd.service's sandbox that can be built without
# systemd as PID 1 (for tests/systemd_unit_test.ts; needs root for the mount namespace):
#   ProtectSystem=strict  the root file system is read-only (one writable dir: STATE, at /mnt)
#   PrivateTmp=yes        a fresh tmpfs on /tmp
#   PrivateDevices=yes    /dev holds only null, zero, full, random, urandom, tty, shm, pts
#   ProcSubset=pid        /proc shows processes only (no /proc/meminfo, /proc/sys, ...)
#   ProtectProc=invisible other users' processes are hidden
#   NoNewPrivileges=yes, CapabilityBoundingSet= (empty), no ambient or inheritable caps
# Not built here (checked from the outside by the test instead): the seccomp filter
# (SystemCallFilter=, RestrictAddressFamilies=), DynamicUser's uid and the other namespaces.
#
#   unshare --mount --propagation private systemd_sandbox.sh STATE_DIR WORK_DIR -- CMD ARGS...
set -euo pipefail
state="$1" workdir="$2"
shift 3
mount --bind "$state" /mnt
# A work tree under /tmp (a clone made there) would vanish under the fresh /tmp: show it,
# read-only, inside the state dir instead (bound before the tmpfs hides it).
case "$workdir" in
/tmp/*)
  mkdir -p /mnt/.work
  mount --bind "$workdir" /mnt/.work
  mount -o remount,bind,ro /mnt/.work
  workdir=/mnt/.work
  ;;
esac
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir /tmp/.dev
mount -t tmpfs -o mode=755,nosuid tmpfs /tmp/.dev
for node in null zero full random urandom tty; do
  touch "/tmp/.dev/$node"
  mount --bind "/dev/$node" "/tmp/.dev/$node"
done
mkdir /tmp/.dev/shm /tmp/.dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp/.dev/shm
mount --move /tmp/.dev /dev
mount -t proc -o subset=pid,hidepid=invisible,nosuid,nodev,noexec proc /proc
mount -o remount,bind,ro /
cd "$workdir"
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- "$@"
