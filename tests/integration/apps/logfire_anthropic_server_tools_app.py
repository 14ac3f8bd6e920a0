"""``logfire.instrument_anthropic()`` (see logfire_anthropic_app.py) on one call of Claude Opus
4.6 served in fast mode after three web searches run by the model, then the same call streamed.
Prints the trace id (hex) on its last line."""

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
    service_name="logfire_anthropic_server_tools_app",
    additional_span_processors=[CostSpanProcessor(BatchSpanProcessor(exporter, schedule_delay_millis=100))],
)
client = anthropic.Anthropic(base_url=os.environ["FAKE_LLM_BASE_URL"], api_key="sk-ant-test", max_retries=0, timeout=10)
logfire.instrument_anthropic(client)
messages = [{"role": "user", "content": "What happened in the news today?"}]
tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]

with logfire.span("handle request") as root:
    client.messages.create(model="claude-opus-4-6", max_tokens=100, messages=messages, tools=tools)
    with client.messages.stream(model="claude-opus-4-6", max_tokens=100, messages=messages, tools=tools) as stream:
        for _text in stream.text_stream:
            pass
    trace_id = format(root.get_span_context().trace_id, "032x")

logfire.force_flush()
print(trace_id)
