#!/usr/bin/env bash
# Starts one on-demand Tokenmeter job in the cluster of the current kubectl context.
#
#   deploy/k8s/jobs/run.sh <overlay> <job> [--print] <arguments of `tokenmeter <job>`>
#
#   deploy/k8s/jobs/run.sh single-node rebuild-rollups --from 2026-01-01 --to 2026-02-01
#   deploy/k8s/jobs/run.sh cluster reprice --from 2026-01-01 --to 2026-02-01 --model gpt-4o
#   deploy/k8s/jobs/run.sh single-node backfill --from 2026-01-01 --to 2026-02-01 --file /backfill/jan.ndjson
#
# Renders deploy/k8s/overlays/<overlay>/jobs, keeps the one Job template asked
# for, names it tokenmeter-<job>-<UTC timestamp>, fills in the arguments and
# applies it; --print writes the manifest to stdout instead. The ConfigMap it
# refers to is the overlay's (same hashed name): apply the overlay first.
# Exit codes: 0 applied/printed, 2 bad usage, else kubectl's.
set -euo pipefail

usage() { sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
overlay=$1 job=$2
shift 2
case $job in rebuild-rollups | reprice | backfill) ;; *) echo "unknown job: $job" >&2; usage ;; esac
print=0
if [ "${1:-}" = "--print" ]; then print=1; shift; fi
for a in "$@"; do
  # The arguments end up in YAML: allow only what dates, models and paths need.
  [[ $a =~ ^[A-Za-z0-9:._/=+@-]+$ ]] || { echo "argument not allowed: $a" >&2; exit 2; }
done

dir=$(cd "$(dirname "$0")" && pwd)
[ -d "$dir/../overlays/$overlay/jobs" ] || { echo "no such overlay: $overlay" >&2; exit 2; }
name="tokenmeter-$job-$(date -u +%Y%m%d%H%M%S)"
args=$(printf '%s\n' "$@")

manifest=$(kubectl kustomize "$dir/../overlays/$overlay/jobs" | JOB="$job" NAME="$name" ARGS="$args" awk '
  # Keep the one Job asked for; rename it and expand __ARGS__.
  function emit() { if (doc ~ /\nkind: Job\n/ && doc ~ ("\n  name: " ENVIRON["NAME"] "\n")) printf "%s", doc; doc = "\n" }
  BEGIN { doc = "\n"; split(ENVIRON["ARGS"], list, "\n") }
  /^---$/ { emit(); next }
  /^  name: tokenmeter-/ && $2 == "tokenmeter-" ENVIRON["JOB"] { $0 = "  name: " ENVIRON["NAME"] }
  /^ *- __ARGS__$/ {
    indent = $0; sub(/-.*/, "", indent)
    for (i = 1; i <= length(list); i++) if (list[i] != "") doc = doc indent "- \"" list[i] "\"\n"
    next
  }
  { doc = doc $0 "\n" }
  END { emit() }
' | sed '1{/^$/d}')

if [ "$print" = 1 ]; then
  printf '%s\n' "$manifest"
  exit 0
fi
printf '%s\n' "$manifest" | kubectl apply -f -
echo "started job/$name; follow it with: kubectl logs -f -n tokenmeter job/$name" >&2
