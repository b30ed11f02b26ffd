# Chromium for the dashboard's end-to-end tests: Debian's package, driven by
# playwright-core (scripts/chromium.sh installs it when missing).
if [ -z "${TOKENMETER_TEST_CHROMIUM:-}" ]; then
  TOKENMETER_TEST_CHROMIUM="$(scripts/chromium.sh)"
  export TOKENMETER_TEST_CHROMIUM
fi
echo "chromium: $("$TOKENMETER_TEST_CHROMIUM" --version 2>/dev/null | head -1 || true)"
