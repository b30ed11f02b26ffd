# OpenTelemetry Java SDK + OTLP exporter from Maven Central, for the Java
# exporter test (test/otlp-java-sdk.test.ts compiles and runs test/java/GenAiExport.java).
TOKENMETER_TEST_OTEL_JAVA_LIBS="$(scripts/otel-java/resolve.sh)"
export TOKENMETER_TEST_OTEL_JAVA_LIBS
echo "OpenTelemetry Java SDK jars in $TOKENMETER_TEST_OTEL_JAVA_LIBS"
