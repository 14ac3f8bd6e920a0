// Captures the spans of the Vercel AI SDK 6 built-in telemetry (experimental_telemetry,
// LanguageModelV3 providers) for the Anthropic, Google and Bedrock calls vercel-ai-sdk-5.mjs
// makes, through the real provider packages, against the fake server
// (tests/support/fake_llm.py, with the same canned usage). AI SDK 6 computes inclusive
// totals (ai.usage.inputTokens counts Anthropic's and Bedrock's cache reads and writes,
// ai.usage.outputTokens Gemini's thinking) and writes the parts beside them
// (ai.usage.inputTokenDetails.*, ai.usage.outputTokenDetails.*); the 1-hour part of
// Anthropic's cache writes is still only in ai.response.providerMetadata.
// The fake server answers Gemini's generateContent only: a streamed call is served by a
// fetch that asks it for generateContent and sends the response back as one SSE event.
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { generateText, streamText } from "ai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const base = process.env.FAKE_LLM_BASE_URL;
const telemetry = { isEnabled: true, recordInputs: false, recordOutputs: false };

async function geminiStreamOverGenerate(url, init) {
  const asked = String(url);
  if (!asked.endsWith(":streamGenerateContent?alt=sse")) return fetch(url, init);
  const answer = await fetch(asked.replace(":streamGenerateContent?alt=sse", ":generateContent"), init);
  const body = await answer.text();
  if (!answer.ok) return new Response(body, { status: answer.status, headers: answer.headers });
  return new Response(`data: ${body}\r\n\r\n`, { status: 200, headers: { "content-type": "text/event-stream" } });
}

const anthropic = createAnthropic({ baseURL: base + "/v1", apiKey: "sk-ant-test" });
const google = createGoogleGenerativeAI({ baseURL: base + "/v1beta", apiKey: "test", fetch: geminiStreamOverGenerate });
const bedrock = createAmazonBedrock({ baseURL: base, region: "us-east-1", accessKeyId: "AKIDTEST", secretAccessKey: "secret" });

async function call(model, functionId) {
  await generateText({ model, prompt: "Say hello", experimental_telemetry: { ...telemetry, functionId } });
}

async function stream(model, functionId) {
  const result = streamText({ model, prompt: "Say hello", experimental_telemetry: { ...telemetry, functionId } });
  for await (const _ of result.textStream) {
  }
  await result.usage;
}

await call(anthropic("claude-sonnet-4-20250514"), "anthropic-generate");
await stream(anthropic("claude-sonnet-4-20250514"), "anthropic-stream");
await stream(anthropic("claude-sonnet-4-0"), "anthropic-stream-1h");
await call(google("gemini-2.5-flash"), "google-generate-cached");
await call(google("gemini-2.5-pro"), "google-generate");
await stream(google("gemini-2.5-pro"), "google-stream");
await call(bedrock("anthropic.claude-sonnet-4-20250514-v1:0"), "bedrock-generate");
await stream(bedrock("anthropic.claude-sonnet-4-20250514-v1:0"), "bedrock-stream");
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
