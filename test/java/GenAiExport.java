import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporterBuilder;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds GenAI spans with the OpenTelemetry Java SDK and sends them with its
 * OTLP/HTTP protobuf exporter, twice (the same span ids: an exporter retry).
 * Used by test/otlp-java-sdk.test.ts.
 *
 *   java -cp '<libs>/*:<classes>' GenAiExport <traces endpoint> <bearer token> <base epoch ms> [gzip] < spans.tsv
 *
 * One span per stdin line, tab-separated: name, start offset ms, duration ms,
 * error message ("" if none), then attributes as key=s:text, key=i:123 or key=d:0.35.
 */
public final class GenAiExport {
  public static void main(String[] args) throws Exception {
    String endpoint = args[0];
    String token = args[1];
    long baseMs = Long.parseLong(args[2]);
    boolean gzip = args.length > 3 && args[3].equals("gzip");

    // 1. Record the spans in memory, so the very same export can be sent twice.
    List<SpanData> recorded = new ArrayList<>();
    SpanExporter memory = new SpanExporter() {
      @Override public CompletableResultCode export(Collection<SpanData> spans) { recorded.addAll(spans); return CompletableResultCode.ofSuccess(); }
      @Override public CompletableResultCode flush() { return CompletableResultCode.ofSuccess(); }
      @Override public CompletableResultCode shutdown() { return CompletableResultCode.ofSuccess(); }
    };
    Resource resource = Resource.getDefault().merge(Resource.create(Attributes.of(
        AttributeKey.stringKey("service.name"), "support-bot-java",
        AttributeKey.stringKey("tokenmeter.project_id"), "proj-otel")));
    SdkTracerProvider provider = SdkTracerProvider.builder().setResource(resource).addSpanProcessor(SimpleSpanProcessor.create(memory)).build();
    Tracer tracer = provider.get("test-genai-app-java", "1.0.0");

    // 2. The spans from stdin.
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      if (line.isBlank()) continue;
      String[] f = line.split("\t");
      long start = baseMs + Long.parseLong(f[1]);
      SpanBuilder b = tracer.spanBuilder(f[0]).setNoParent().setSpanKind(SpanKind.CLIENT).setStartTimestamp(start, TimeUnit.MILLISECONDS);
      for (int i = 4; i < f.length; i++) {
        int eq = f[i].indexOf('=');
        String key = f[i].substring(0, eq);
        String type = f[i].substring(eq + 1, eq + 2);
        String value = f[i].substring(eq + 3);
        switch (type) {
          case "i" -> b.setAttribute(AttributeKey.longKey(key), Long.parseLong(value));
          case "d" -> b.setAttribute(AttributeKey.doubleKey(key), Double.parseDouble(value));
          default -> b.setAttribute(AttributeKey.stringKey(key), value);
        }
      }
      Span span = b.startSpan();
      if (!f[3].isEmpty()) span.setStatus(StatusCode.ERROR, f[3]);
      span.end(start + Long.parseLong(f[2]), TimeUnit.MILLISECONDS);
    }
    provider.shutdown().join(10, TimeUnit.SECONDS);

    // 3. Export them with the real OTLP/HTTP (protobuf) exporter, twice.
    OtlpHttpSpanExporterBuilder builder = OtlpHttpSpanExporter.builder()
        .setEndpoint(endpoint)
        .addHeader("Authorization", "Bearer " + token)
        .setTimeout(Duration.ofSeconds(20));
    if (gzip) builder.setCompression("gzip");
    OtlpHttpSpanExporter exporter = builder.build();
    for (int attempt = 1; attempt <= 2; attempt++) {
      CompletableResultCode result = exporter.export(recorded).join(30, TimeUnit.SECONDS);
      if (!result.isSuccess()) {
        System.err.println("export " + attempt + " failed");
        System.exit(2);
      }
    }
    exporter.shutdown().join(10, TimeUnit.SECONDS);
    System.out.println("exported " + recorded.size() + " spans twice");
  }
}
