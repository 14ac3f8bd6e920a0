"""The real ``anthropic`` client instrumented by Logfire's own ``logfire.instrument_anthropic()``,
against the fake server (``FAKE_LLM_BASE_URL``), with genai-cost in Logfire's pipeline.

Logfire owns the tracer provider, so this runs with plain ``python`` (not
``opentelemetry-instrument``): genai-cost goes in as one of Logfire's
``additional_span_processors``, exporting OTLP gRPC to ``APP_OTLP_ENDPOINT``. (Not
``OTEL_EXPORTER_OTLP_ENDPOINT``: Logfire would add an exporter of its own for that one,
bypassing genai-cost.) Prints the trace id (hex) on its last line.
"""

import os

import anthropic
import logfire
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from genai_cost import CostSpanProcessor, TraceCostExporter

exporter = TraceCostExporter(OTLPSpanExporter(endpoint=os.environ["APP_OTLP_ENDPOINT"], insecure=True))
logfire.configure(
    send_to_logfire=False,
    console=False,
    service_name="logfire_anthropic_app",
    additional_span_processors=[CostSpanProcessor(BatchSpanProcessor(exporter, schedule_delay_millis=100))],
)
client = anthropic.Anthropic(base_url=os.environ["FAKE_LLM_BASE_URL"], api_key="sk-ant-test", max_retries=0, timeout=10)
logfire.instrument_anthropic(client)
messages = [{"role": "user", "content": "Say hello"}]

with logfire.span("handle request") as root:
    # 1. cache write (5-minute) and cache read in one call
    client.messages.create(model="claude-sonnet-4-20250514", max_tokens=100, messages=messages)
    # 2. no cache
    client.messages.create(model="claude-3-5-haiku-20241022", max_tokens=100, messages=messages)
    # 3. the same cached call, streamed: Logfire puts its usage on a separate log span
    with client.messages.stream(model="claude-sonnet-4-20250514", max_tokens=100, messages=messages) as stream:
        for _text in stream.text_stream:
            pass
    trace_id = format(root.get_span_context().trace_id, "032x")

logfire.force_flush()
print(trace_id)
