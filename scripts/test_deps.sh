#!/usr/bin/env bash
# Installs the Debian tools the tests drive, when missing: promtool (package prometheus)
# for the metrics checks, chromium for the browser tests and prometheus-alertmanager for
# the policy alert test, nftables and conntrack for the NAT lab of the hole-punch tests
# (tests/_helpers/netns.ts), pebble (with pebble-challtestsrv) for the ACME tests and
# stress-ng for the CPU hogs beside the bandwidth tests, python3-yaml for the release
# workflow's check (tests/smoke_binary_test.ts). Root uses apt-get directly, others sudo.
# The tests themselves never install anything: they fail with a message pointing here.
set -euo pipefail
packages=()
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
# systemd-analyze (the unit's checks) and strace (the sandbox test's syscall trace).
command -v systemd-analyze >/dev/null 2>&1 || packages+=(systemd)
command -v strace >/dev/null 2>&1 || packages+=(strace)
# stress-ng: the CPU hogs beside the bandwidth tests (caps must hold on a busy host).
command -v stress-ng >/dev/null 2>&1 || packages+=(stress-ng)
command -v chromium >/dev/null 2>&1 || packages+=(chromium fonts-liberation)
command -v prometheus-alertmanager >/dev/null 2>&1 || packages+=(prometheus-alertmanager)
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
command -v nft >/dev/null 2>&1 || packages+=(nftables)
command -v conntrack >/dev/null 2>&1 || packages+=(conntrack)
command -v pebble-challtestsrv >/dev/null 2>&1 || packages+=(pebble)
# certutil: the ACME browser test makes chromium trust pebble's root through an NSS database.
command -v certutil >/dev/null 2>&1 || packages+=(libnss3-tools)
# PyYAML: tests/smoke_binary_test.ts parses .github/workflows/release.yml with it.
python3 -c 'import yaml' >/dev/null 2>&1 || packages+=(python3-yaml)
((${#packages[@]} == 0)) && exit 0
sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
echo "installing Debian packages for the tests: ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
