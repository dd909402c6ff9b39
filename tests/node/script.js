// A small Node.js service's traces, exported by the official OTLP/HTTP protobuf exporter to
// OTEL_EXPORTER_OTLP_ENDPOINT (otel-lens serve's receiver in tests/test_real_node.py).
// Prints one JSON line on stdout: the trace id and span ids it made, for the test to look up.
"use strict";

const { diag, DiagConsoleLogger, DiagLogLevel, SpanKind, SpanStatusCode, context, trace } = require("@opentelemetry/api");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { BatchSpanProcessor, NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = require("@opentelemetry/semantic-conventions");

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN); // export failures on stderr, for the test's message

async function main() {
  const exporter = new OTLPTraceExporter(); // endpoint, headers and protocol from the OTEL_EXPORTER_OTLP_* variables
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: "node-checkout",
      [ATTR_SERVICE_VERSION]: "3.1.4",
      "deployment.environment.name": "test",
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer("node-checkout.handlers", "3.1.4");

  const parent = tracer.startSpan("POST /checkout", {
    kind: SpanKind.SERVER,
    attributes: { "http.request.method": "POST", "http.route": "/checkout", "http.response.status_code": 201 },
  });
  const child = tracer.startSpan(
    "charge card",
    { kind: SpanKind.CLIENT, attributes: { "payment.provider": "acme", "payment.amount_cents": 1299, "payment.retry": false } },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent("card.authorized", { "auth.code": "A1B2", "auth.attempt": 1 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: "card declined on first try" });
  child.end();
  parent.end();

  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(
    JSON.stringify({
      trace_id: parent.spanContext().traceId,
      parent_span_id: parent.spanContext().spanId,
      child_span_id: child.spanContext().spanId,
    }) + "\n",
  );
}

main().catch((error) => {
  process.stderr.write(`node client failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
