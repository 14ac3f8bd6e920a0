// Captures the spans of the Vercel AI SDK 5 built-in telemetry (experimental_telemetry,
// LanguageModelV2 providers) for generateText and streamText calls, through the real
// provider packages, against the fake server (tests/support/fake_llm.py):
//   Anthropic: cache read + 5-minute write (called and streamed), and 1-hour + 5-minute
//     writes (streamed). The SDK's input count is Anthropic's uncached input_tokens.
//   Google (Gemini API): thinking (thoughtsTokenCount) and a cache read, called and streamed.
//     The SDK's output count is Gemini's candidatesTokenCount, without the thinking.
//   Amazon Bedrock (Converse): cache read + write, called and streamed.
//   OpenAI (Chat Completions): cached input, called and streamed (counts already inclusive).
// The fake server answers Gemini's generateContent only: a streamed call is served by a
// fetch that asks it for generateContent and sends the response back as one SSE event
// (a stream's last event carries the whole usageMetadata, as Gemini's does).
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { generateText, streamText } from "ai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock";
import { createOpenAI } from "@ai-sdk/openai";

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
const openai = createOpenAI({ baseURL: base + "/v1", apiKey: "sk-test" });

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
await call(openai.chat("gpt-4o"), "openai-generate");
await stream(openai.chat("gpt-4o"), "openai-stream");
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
