"""An MCP tool run seen from both sides in one process, as the mcp SDK 2.x writes it by default
(``OpenTelemetryMiddleware`` on every server, ``MCP send`` spans from the client), under an
agent framework's tool span (OpenAI Agents SDK with the official instrumentation; captured by
an audit, mcp 2.3, server over streamable HTTP in the agent's process):

    execute_tool get_weather        agent's record      gen_ai.operation.name=execute_tool
      MCP send tools/call get_weather  CLIENT           mcp.method.name=tools/call (no tool name)
        tools/call get_weather         SERVER, its parent REMOTE (traceparent in the request's _meta)
                                        gen_ai.operation.name=execute_tool, gen_ai.tool.name=get_weather

One run, two records: both were priced, so the trace's running totals (``totals()``) and a
budget said 3 tool calls for 2, and a budget under the real spend stopped the agent.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, set_span_in_context

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.pricing.catalog import Catalog
from support.frameworks import AGENT_TOOLS, costed_pipeline

FEE = 0.002


def _run(server_in_process: bool) -> tuple[list[Any], TraceCostExporter, int]:
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory)
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(rollup), catalog=Catalog.load([str(AGENT_TOOLS)]))
    )
    agent = provider.get_tracer("opentelemetry.instrumentation.genai.openai_agents")
    mcp = provider.get_tracer("mcp-python-sdk")
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}
    with agent.start_as_current_span("invoke_agent assistant", attributes={"gen_ai.operation.name": "invoke_agent"}) as root:
        with agent.start_as_current_span("execute_tool get_weather", attributes=tool):
            with mcp.start_as_current_span(
                "MCP send tools/call get_weather", kind=SpanKind.CLIENT, attributes={"mcp.method.name": "tools/call"}
            ) as send:
                if server_in_process:
                    sent = send.get_span_context()
                    remote = SpanContext(sent.trace_id, sent.span_id, is_remote=True, trace_flags=TraceFlags(1))
                    server = {**tool, "mcp.method.name": "tools/call"}
                    mcp.start_span(
                        "tools/call get_weather",
                        context=set_span_in_context(NonRecordingSpan(remote)),
                        kind=SpanKind.SERVER,
                        attributes=server,
                    ).end()
        agent.start_span("execute_tool get_weather, again", attributes=tool).end()  # a second run
    trace_id = root.get_span_context().trace_id
    provider.force_flush()
    spans = list(memory.get_finished_spans())
    provider.shutdown()
    return spans, rollup, trace_id


def test_a_run_recorded_by_the_agent_and_by_the_server_in_its_process_counts_once() -> None:
    spans, rollup, trace_id = _run(server_in_process=True)
    by_name = {span.name: span for span in spans}
    server = by_name["tools/call get_weather"]
    assert server.attributes["gen_ai.cost.total_usd"] == pytest.approx(FEE)
    assert by_name["execute_tool get_weather"].attributes["gen_ai.cost.duplicate_of"] == f"{server.context.span_id:016x}"
    totals = rollup.totals(trace_id)
    assert totals is not None
    assert totals.tool_calls == 2  # get_weather once, and the second tool
    assert totals.total_usd == pytest.approx(2 * FEE)
    # The roots, added up, count it once: the server's root has the run, the agent's the other.
    roots = [span for span in spans if "gen_ai.trace.cost.total_usd" in span.attributes]
    assert sum(span.attributes["gen_ai.trace.cost.tool_calls"] for span in roots) == 2


def test_a_run_whose_server_is_elsewhere_is_the_agents() -> None:
    spans, rollup, trace_id = _run(server_in_process=False)
    by_name = {span.name: span for span in spans}
    assert by_name["execute_tool get_weather"].attributes["gen_ai.cost.total_usd"] == pytest.approx(FEE)
    totals = rollup.totals(trace_id)
    assert totals is not None and totals.tool_calls == 2
    assert by_name["invoke_agent assistant"].attributes["gen_ai.trace.cost.tool_calls"] == 2


def test_the_request_span_passes_up_only_a_tools_call() -> None:
    """Under any other span (an HTTP client's, a tools/list), a same-named tool above is
    another run."""
    provider, memory, _ = costed_pipeline()
    tracer = provider.get_tracer("app")
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}
    with tracer.start_as_current_span("request"):
        with tracer.start_as_current_span("execute_tool get_weather", attributes=tool):
            with tracer.start_as_current_span("MCP send tools/list", attributes={"mcp.method.name": "tools/list"}):
                tracer.start_span("execute_tool get_weather", attributes=tool).end()
    (request,) = [span for span in memory.get_finished_spans() if span.name == "request"]
    assert request.attributes["gen_ai.trace.cost.tool_calls"] == 2
    provider.shutdown()

