// Exports one OpenInference/GenAI-shaped agent trace with the OpenTelemetry JS SDK's own
// OTLP/HTTP exporter, which sends OTLP/JSON (hex ids), as a Node.js app instrumented with
// OpenTelemetry would. tests/api/test_otlp_js_exporter.py runs it against a live server.
//
//   node send_agent_trace.mjs <traces endpoint> <api key> <gzip|none>
//
// Prints one JSON line: the trace id, each span's id, and every export's result code
// (0 is SUCCESS), so the test knows the server acknowledged everything.
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

const [url, key, compression] = process.argv.slice(2);
const exporter = new OTLPTraceExporter({
  url,
  headers: { "x-api-key": key },
  compression: compression === "gzip" ? "gzip" : "none",
});

// The exporter reports each batch's result to the processor only; keep them to print.
const results = [];
const reporting = {
  export(spans, done) {
    exporter.export(spans, (result) => {
      results.push({ code: result.code, error: result.error ? String(result.error) : null });
      done(result);
    });
  },
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush(),
};

const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ "service.name": "support-bot-js" }),
  spanProcessors: [new BatchSpanProcessor(reporting)],
});
const tracer = provider.getTracer("tests.agent.js", "2.0.0");

const root = tracer.startSpan("agent", {
  attributes: { "input.value": '{"question": "why?"}', "input.mime_type": "application/json" },
});
const inRoot = trace.setSpan(context.active(), root);
const llm = tracer.startSpan(
  "llm",
  {
    attributes: {
      "gen_ai.request.model": "gpt-4o",
      "gen_ai.usage.input_tokens": 12,
      "gen_ai.usage.output_tokens": 5,
      "output.value": "because",
    },
  },
  inRoot,
);
llm.addEvent("token", { index: 1 });
llm.end();
const tool = tracer.startSpan("tool", {}, inRoot);
tool.recordException(new Error("no such tool"));
tool.setStatus({ code: SpanStatusCode.ERROR, message: "tool failed" });
tool.end();
root.setAttribute("output.value", "because");
root.end();

await provider.forceFlush();
await provider.shutdown();
console.log(
  JSON.stringify({
    trace_id: root.spanContext().traceId,
    ids: {
      agent: root.spanContext().spanId,
      llm: llm.spanContext().spanId,
      tool: tool.spanContext().spanId,
    },
    results,
  }),
);
