#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, installing Debian's package
# when none is there (playwright-core's own browser download cannot work
# offline). Used by the test suite (test.d/30-chromium.sh) and `pnpm bench`.
set -euo pipefail
bin=/usr/bin/chromium
if [ ! -x "$bin" ]; then
  echo "installing chromium (Debian package)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
echo "$bin"
