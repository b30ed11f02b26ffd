#!/usr/bin/env bash
# Resolves the OpenTelemetry Java SDK + OTLP exporter (scripts/otel-java/pom.xml)
# into .cache/otel-java/libs-<version> once, and prints that directory.
# Maven keeps the jars in ~/.m2 too, so a wiped .cache re-copies offline.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="$(sed -n 's:.*<otel.version>\(.*\)</otel.version>.*:\1:p' "$here/pom.xml")"
libs="$root/.cache/otel-java/libs-$version"
if [ ! -f "$libs/opentelemetry-exporter-otlp-$version.jar" ]; then
  echo "resolving the OpenTelemetry Java SDK $version from Maven Central into $libs" >&2
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies >&2
fi
echo "$libs"
