"""AutoGen (``autogen-agentchat`` 0.7.5) with OpenInference's AutoGen and OpenAI
instrumentations, as they really write: a one-agent team that called ``get_weather`` once,
four model calls.

OpenInference wraps ``AssistantAgent._execute_tool_call`` in a ``TOOL`` span
(``assistant.get_weather``, ``tool.name``), and inside it autogen-core's ``BaseTool.run_json``
opens its own ``execute_tool get_weather`` span: one run of the tool, two records. Both were
priced: the trace said 2 tool calls for 1, and a priced tool cost twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import set_span_in_context

from genai_cost.report import report_traces
from genai_cost.span_file import ExportedSpan
from support.capture import replay
from support.frameworks import GPT_4O_CALL, costed_pipeline, framework_spans

M = 1e6
GPT_4O = GPT_4O_CALL
TOOL_FEE = 0.002


def _spans() -> list[dict[str, Any]]:
    return framework_spans("autogen-openinference-team")


def test_one_tool_run_recorded_by_two_instrumentations_is_counted_and_priced_once() -> None:
    provider, memory, _ = costed_pipeline()
    result = replay(_spans(), provider, memory)
    (root,) = [span for span in result.spans if span.name == "app request"]
    totals = root.attributes
    assert totals["gen_ai.trace.cost.llm_calls"] == 4
    assert totals["gen_ai.trace.cost.tool_calls"] == 1
    assert totals["gen_ai.trace.cost.tool_usd"] == pytest.approx(TOOL_FEE)
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(4 * GPT_4O + TOOL_FEE)
    assert totals["gen_ai.trace.cost.unpriced_spans"] == 0
    (library,) = [span for span in result.spans if span.name == "execute_tool get_weather"]
    (wrapper,) = [span for span in result.spans if span.name == "assistant.get_weather"]
    assert library.attributes["gen_ai.cost.total_usd"] == pytest.approx(TOOL_FEE)
    assert wrapper.attributes["gen_ai.cost.duplicate_of"] == f"{library.context.span_id:016x}"
    assert "gen_ai.cost.total_usd" not in wrapper.attributes
    provider.shutdown()


def test_an_unpriced_tool_run_is_flagged_once() -> None:
    provider, memory, _ = costed_pipeline(tools_priced=False)
    result = replay(_spans(), provider, memory)
    (root,) = [span for span in result.spans if span.name == "app request"]
    assert root.attributes["gen_ai.trace.cost.tool_calls"] == 1
    assert root.attributes["gen_ai.trace.cost.unpriced_spans"] == 1
    flagged = [span.name for span in result.spans if span.attributes.get("gen_ai.cost.unpriced")]
    assert flagged == ["execute_tool get_weather"]
    provider.shutdown()


def test_the_report_of_the_priced_spans_counts_the_run_once() -> None:
    provider, memory, _ = costed_pipeline()
    result = replay(_spans(), provider, memory)
    provider.shutdown()
    spans = [
        ExportedSpan(
            f"{span.context.trace_id:032x}",
            f"{span.context.span_id:016x}",
            f"{span.parent.span_id:016x}" if span.parent is not None else None,
            span.name,
            span.instrumentation_scope.name if span.instrumentation_scope is not None else None,
            dict(span.attributes or {}),
        )
        for span in result.spans
    ]
    (report,) = [report for report in report_traces(spans) if report.root_name == "app request"]
    assert report.not_priced_here == []
    assert report.by_entry["tool/get_weather"].calls == 1
    assert report.total_usd == pytest.approx(4 * GPT_4O + TOOL_FEE)


def _tool(tracer: Any, name: str, tool: str, parent: Any, key: str = "gen_ai.tool.name") -> Any:
    attributes: dict[str, Any] = {key: tool}
    if key == "gen_ai.tool.name":
        attributes["gen_ai.operation.name"] = "execute_tool"
    else:
        attributes["openinference.span.kind"] = "TOOL"
    return tracer.start_span(name, context=set_span_in_context(parent) if parent else None, attributes=attributes)


def test_a_tool_that_runs_another_tool_is_two_runs() -> None:
    """A composite tool (``plan_trip`` calling ``get_weather``) is billed for both: only a
    record of the same tool directly around it is the same run."""
    provider, memory, _ = costed_pipeline()
    tracer = provider.get_tracer("app")
    root = tracer.start_span("request")
    outer = _tool(tracer, "plan_trip", "plan_trip", root)
    _tool(tracer, "execute_tool get_weather", "get_weather", outer).end()
    outer.end()
    root.end()
    spans = {span.name: span for span in memory.get_finished_spans()}
    assert spans["request"].attributes["gen_ai.trace.cost.tool_calls"] == 2
    assert spans["plan_trip"].attributes["gen_ai.cost.unpriced_reason"] == "unknown_tool"
    assert "gen_ai.cost.duplicate_of" not in spans["plan_trip"].attributes
    provider.shutdown()


def test_retries_inside_one_tool_span_are_each_a_run_and_three_records_are_one() -> None:
    """Two attempts of the tool's own span under one framework span are two runs (each was
    made, each is billed); the framework span, and another around it, are records of them."""
    provider, memory, _ = costed_pipeline()
    tracer = provider.get_tracer("app")
    root = tracer.start_span("request")
    outermost = _tool(tracer, "agent.get_weather", "get_weather", root, key="tool.name")
    framework = _tool(tracer, "tool get_weather", "get_weather", outermost)
    _tool(tracer, "execute_tool get_weather", "get_weather", framework).end()
    second = _tool(tracer, "execute_tool get_weather", "get_weather", framework)
    second.end()
    framework.end()
    outermost.end()
    root.end()
    finished = memory.get_finished_spans()
    (request,) = [span for span in finished if span.name == "request"]
    assert request.attributes["gen_ai.trace.cost.tool_calls"] == 2
    assert request.attributes["gen_ai.trace.cost.tool_usd"] == pytest.approx(2 * TOOL_FEE)
    second_id = f"{second.get_span_context().span_id:016x}"
    for name in ("tool get_weather", "agent.get_weather"):
        (span,) = [span for span in finished if span.name == name]
        assert span.attributes["gen_ai.cost.duplicate_of"] == second_id
    provider.shutdown()


def test_a_same_named_tool_span_beside_the_run_is_another_run() -> None:
    provider, memory, _ = costed_pipeline()
    tracer = provider.get_tracer("app")
    root = tracer.start_span("request")
    _tool(tracer, "execute_tool get_weather", "get_weather", root).end()
    _tool(tracer, "execute_tool get_weather", "get_weather", root).end()
    root.end()
    (request,) = [span for span in memory.get_finished_spans() if span.name == "request"]
    assert request.attributes["gen_ai.trace.cost.tool_calls"] == 2
    provider.shutdown()


def test_nothing_of_a_tool_run_is_kept_once_its_trace_has_ended() -> None:
    """What the rule remembers of a run lives until the span above it ends: an agent's span,
    which is no tool, lets it go (else a long-running service keeps its bound's worth)."""
    provider, memory, processor = costed_pipeline(tools_priced=False)
    replay(_spans(), provider, memory)
    assert processor._calls.tool_runs == {}
    provider.shutdown()
