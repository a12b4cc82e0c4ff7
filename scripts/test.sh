#!/usr/bin/env bash
# The test command (`deno task test`): installs the Debian tools the tests drive when
# missing (scripts/test_deps.sh), then runs every test. Extra arguments go to `deno test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/test_deps.sh
exec deno test -A --parallel "$@"
