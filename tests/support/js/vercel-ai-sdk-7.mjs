// Captures the spans the Vercel AI SDK (ai + @ai-sdk/otel) emits for one generateText
// call and one embedMany call against the fake OpenAI server; prints them as JSON.
import { trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OpenTelemetry } from "@ai-sdk/otel";
import { registerTelemetry, generateText, embedMany } from "ai";
import { createOpenAI } from "@ai-sdk/openai";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
registerTelemetry(new OpenTelemetry());
const openai = createOpenAI({ baseURL: process.env.FAKE_LLM_BASE_URL + "/v1", apiKey: "sk-test" });
await generateText({ model: openai.chat("gpt-4o"), prompt: "Say hello", experimental_telemetry: { isEnabled: true, functionId: "hello-agent" } });
await embedMany({ model: openai.embedding("text-embedding-3-small"), values: ["first", "second"], experimental_telemetry: { isEnabled: true } });
await provider.forceFlush();
const spans = exporter.getFinishedSpans().map((s) => ({
  name: s.name,
  span_id: s.spanContext().spanId,
  trace_id: s.spanContext().traceId,
  parent_span_id: s.parentSpanContext?.spanId ?? s.parentSpanId ?? null,
  scope: s.instrumentationScope?.name ?? s.instrumentationLibrary?.name,
  attributes: s.attributes,
}));
console.log(JSON.stringify(spans, null, 1));
