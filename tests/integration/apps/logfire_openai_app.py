"""The real ``openai`` client instrumented by Logfire's own ``logfire.instrument_openai()``,
against the fake server (``FAKE_LLM_BASE_URL``), with genai-cost in Logfire's pipeline.

Run with plain ``python``, as logfire_anthropic_app.py (which says why). Exports OTLP gRPC
to ``APP_OTLP_ENDPOINT``; prints the trace id (hex) on its last line.
"""

import os

import logfire
import openai
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from genai_cost import CostSpanProcessor, TraceCostExporter

exporter = TraceCostExporter(OTLPSpanExporter(endpoint=os.environ["APP_OTLP_ENDPOINT"], insecure=True))
logfire.configure(
    send_to_logfire=False,
    console=False,
    service_name="logfire_openai_app",
    additional_span_processors=[CostSpanProcessor(BatchSpanProcessor(exporter, schedule_delay_millis=100))],
)
client = openai.OpenAI(base_url=os.environ["FAKE_LLM_BASE_URL"] + "/v1", api_key="sk-test", max_retries=0, timeout=10)
logfire.instrument_openai(client)
messages = [{"role": "user", "content": "Say hello"}]

with logfire.span("handle request") as root:
    # 1. chat, with cached input
    client.chat.completions.create(model="gpt-4o", messages=messages)
    # 2. streamed, usage in the last chunk: Logfire puts it on a separate log span
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    for _chunk in stream:
        pass
    # 3. embeddings
    client.embeddings.create(model="text-embedding-3-small", input=["first", "second"])
    # 4. Responses API, cached input
    client.responses.create(model="gpt-4o", input="Say hello")
    trace_id = format(root.get_span_context().trace_id, "032x")

logfire.force_flush()
print(trace_id)
