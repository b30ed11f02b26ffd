# Chromium for the dashboard's end-to-end tests: Debian's package, driven by
# playwright-core (whose own browser download cannot work offline).
if [ -z "${TOKENMETER_TEST_CHROMIUM:-}" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  fi
  export TOKENMETER_TEST_CHROMIUM=/usr/bin/chromium
fi
echo "chromium: $("$TOKENMETER_TEST_CHROMIUM" --version 2>/dev/null | head -1 || true)"
