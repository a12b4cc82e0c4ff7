#!/usr/bin/env bash
# Chaos test of the federation (tests/chaos/chaos.ts): 5 hopd relays on loopback, stock
# js-libp2p clients holding reservations they got through /v1/select; 2 relays SIGKILLed.
# Every client of a killed relay must re-reserve on a survivor through select; every client
# of a survivor must keep its reservation and connection. Prints one JSON summary.
#
#   scripts/chaos_test.sh [--relays 5] [--kill 2] [--clients 20] [--interval 500ms]
#
# Exit 0 when every check passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec deno run -A --quiet tests/chaos/chaos.ts "$@"
