#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs and starts what the tests
# need (Redis if none answers, a Kafka broker from Maven Central, Chromium),
# runs typecheck, lint and vitest, then stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export TOKENMETER_TEST_STATE="${TOKENMETER_TEST_STATE:-$root/.cache/test}"
mkdir -p "$TOKENMETER_TEST_STATE"

cleanup() {
  for f in scripts/test.d/*.stop; do [ -e "$f" ] && bash "$f" || true; done
}
trap cleanup EXIT

# Each step prepares one part and may export variables for the tests.
for f in scripts/test.d/*.sh; do
  [ -e "$f" ] || continue
  echo "==> $(basename "$f")"
  # shellcheck source=/dev/null
  source "$f"
done

echo "==> typecheck"
node_modules/.bin/tsc -p tsconfig.json --noEmit
echo "==> lint"
node_modules/.bin/biome check .
echo "==> vitest"
node_modules/.bin/vitest run "$@"
