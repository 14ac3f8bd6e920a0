// A TypeScript-world agent as users run it: the Vercel AI SDK 7 (ai + @ai-sdk/otel) with the
// OpenTelemetry JS SDK's own OTLP exporter (protobuf, or JSON when OTLP_FORMAT=json) and batch
// processor, sending to OTLP_TRACES_URL (the genai-cost gateway in the tests). One generateText
// call and one embedMany call against the fake OpenAI server. Prints the trace ids it made.
import { trace } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OpenTelemetry } from "@ai-sdk/otel";
import { registerTelemetry, generateText, embedMany } from "ai";
import { createOpenAI } from "@ai-sdk/openai";

const url = process.env.OTLP_TRACES_URL;
const exporter = process.env.OTLP_FORMAT === "json" ? new JsonExporter({ url }) : new ProtobufExporter({ url });
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
registerTelemetry(new OpenTelemetry());
const openai = createOpenAI({ baseURL: process.env.FAKE_LLM_BASE_URL + "/v1", apiKey: "sk-test" });
await generateText({ model: openai.chat("gpt-4o"), prompt: "Say hello", experimental_telemetry: { isEnabled: true, functionId: "hello-agent" } });
await embedMany({ model: openai.embedding("text-embedding-3-small"), values: ["first", "second"], experimental_telemetry: { isEnabled: true } });
await provider.forceFlush();
await provider.shutdown();
