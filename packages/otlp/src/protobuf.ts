import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { normalizeExport } from "./normalize.js";
import { type DecodedExport, OtlpDecodeError } from "./span.js";

const PROTO_DIR = fileURLToPath(new URL("../proto/", import.meta.url));

/** The vendored opentelemetry-proto definitions (proto/README.md), parsed once at first use. */
function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => `${PROTO_DIR}${target}`;
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
  // google.rpc.Status from googleapis' google/rpc/status.proto; `details` (repeated Any, field 3) is left
  // out because this receiver never sends any, and an absent repeated field encodes to nothing.
  root.add(new protobuf.Type("Status").add(new protobuf.Field("code", 1, "int32")).add(new protobuf.Field("message", 2, "string")));
  root.resolveAll();
  return root;
}

let types: { request: protobuf.Type; response: protobuf.Type; status: protobuf.Type } | null = null;
function messages() {
  if (types === null) {
    const root = loadRoot();
    types = {
      request: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
      response: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse"),
      status: root.lookupType("Status"),
    };
  }
  return types;
}

/** Decodes an `application/x-protobuf` ExportTraceServiceRequest. Malformed wire data → {@link OtlpDecodeError}. */
export function decodeProtobufExport(body: Uint8Array): DecodedExport {
  let msg: protobuf.Message;
  try {
    msg = messages().request.decode(body);
  } catch (err) {
    throw new OtlpDecodeError(`not a valid ExportTraceServiceRequest protobuf: ${(err as Error).message}`);
  }
  return normalizeExport(msg);
}

/** What the receiver answers with: spans rejected (0 → no partialSuccess) and why. */
export interface ExportResult {
  rejectedSpans: number;
  errorMessage: string;
}

/** ExportTraceServiceResponse, protobuf. An all-accepted export is the empty message. */
export function encodeProtobufResponse(r: ExportResult): Uint8Array {
  const { response } = messages();
  const body =
    r.rejectedSpans > 0 || r.errorMessage ? { partialSuccess: { rejectedSpans: r.rejectedSpans, errorMessage: r.errorMessage } } : {};
  return response.encode(response.fromObject(body)).finish();
}

/** google.rpc.Status, protobuf: the OTLP/HTTP error body. */
export function encodeProtobufStatus(code: number, message: string): Uint8Array {
  const { status } = messages();
  return status.encode(status.fromObject({ code, message })).finish();
}

/** Decodes a Status (tests read error bodies with it). */
export function decodeProtobufStatus(body: Uint8Array): { code: number; message: string } {
  const m = messages().status.decode(body) as unknown as { code: number; message: string };
  return { code: m.code, message: m.message };
}

/** Decodes an ExportTraceServiceResponse (tests read answers with it). */
export function decodeProtobufResponse(body: Uint8Array): ExportResult {
  const m = messages().response.toObject(messages().response.decode(body), { longs: Number, defaults: true }) as {
    partialSuccess?: { rejectedSpans: number; errorMessage: string };
  };
  return { rejectedSpans: m.partialSuccess?.rejectedSpans ?? 0, errorMessage: m.partialSuccess?.errorMessage ?? "" };
}

/** Encodes an export from its OTLP/JSON-shaped object (tests and the benchmark build protobuf bodies with it). */
export function encodeProtobufExport(exportObject: object): Uint8Array {
  const { request } = messages();
  return request.encode(request.fromObject(exportObject)).finish();
}
