// Captures the spans of the Vercel AI SDK 6 built-in telemetry (experimental_telemetry)
// for one generateText and one embedMany call against the fake OpenAI server.
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { generateText, embedMany } from "ai";
import { createOpenAI } from "@ai-sdk/openai";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const openai = createOpenAI({ baseURL: process.env.FAKE_LLM_BASE_URL + "/v1", apiKey: "sk-test" });
await generateText({ model: openai.chat("gpt-4o"), prompt: "Say hello", experimental_telemetry: { isEnabled: true, functionId: "hello-agent", recordInputs: false, recordOutputs: false } });
await embedMany({ model: openai.embedding("text-embedding-3-small"), values: ["first", "second"], experimental_telemetry: { isEnabled: true, recordInputs: false, recordOutputs: false } });
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
