#!/usr/bin/env bash
# The one test command: set-up, lint, type-check (the build), then every test.
#   npm test                       everything (what CI runs)
#   npm test -- dist/test/unit     only the test files under the given paths (after set-up)
set -euo pipefail
cd "$(dirname "$0")/.."
export EXTENTLOG_REQUIRE_NATIVE=${EXTENTLOG_REQUIRE_NATIVE:-1}
bash scripts/setup.sh
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }

roots=("$@")
[ ${#roots[@]} -eq 0 ] && roots=(dist/test)
mapfile -t files < <(find "${roots[@]}" -name '*.test.js' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no test files under ${roots[*]}" >&2; exit 1; }
exec node --enable-source-maps --test --test-concurrency="${TEST_CONCURRENCY:-3}" \
  --test-timeout="${TEST_TIMEOUT_MS:-600000}" "${files[@]}"
