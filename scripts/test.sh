#!/usr/bin/env bash
# The test command (`deno task test`): makes sure the Debian tools the tests drive are
# present, then runs every test. Extra arguments go to `deno test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v promtool >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing promtool (Debian package prometheus) for the metrics tests" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "error: the tests need promtool: install the Debian package 'prometheus' first" >&2
    exit 1
  fi
fi
exec deno test -A --parallel "$@"
