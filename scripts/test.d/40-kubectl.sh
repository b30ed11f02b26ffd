# kubectl, for `kubectl kustomize` in test/deploy.test.ts (renders the k8s
# overlays offline; no cluster is contacted). Debian's package if missing.
if ! command -v kubectl >/dev/null; then
  echo "installing kubectl"
  if [ "${TOKENMETER_APT_UPDATED:-}" != 1 ]; then apt-get update -qq >/dev/null && export TOKENMETER_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null
fi
export TOKENMETER_TEST_KUBECTL="${TOKENMETER_TEST_KUBECTL:-$(command -v kubectl)}"
echo "kubectl: $("$TOKENMETER_TEST_KUBECTL" version --client 2>/dev/null | head -1)"
