"""OpenLIT's LangGraph instrumentation, Agno's teams and Semantic Kernel's tools, as they
really write (captured with openlit 1.45.0, langgraph 1.2.22, agno 3.1.10, semantic-kernel 1.45.0).

- OpenLIT writes, for each LangGraph node that calls the model, an ``invoke_agent agent`` span
  (scope ``openlit.instrumentation.langgraph``) *beside* its LangChain chain span that holds the
  ``chat`` span, copying the call's usage and ``gen_ai.response.id``. With no call below it, it
  was flagged ``unrecorded_calls``: 4 calls and 2 unpriced spans on a run of 2 calls, so the
  unpriced-spans alert fired on every run and a call limit tripped at half the real count.
- An Agno team's leader hands work to a member by calling the built-in
  ``delegate_task_to_member`` tool: a tool run that runs nothing, flagged ``unknown_tool`` on
  every team run.
- Semantic Kernel names a tool span's tool ``<Plugin>-<function>``: a tool priced under its
  function's name was ``unknown_tool``.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from genai_cost.report import report_traces
from genai_cost.span_file import ExportedSpan
from support.capture import replay_in_time
from support.frameworks import GPT_4O_CALL, costed_pipeline, framework_spans

TOOL_FEE = 0.002


def run(name: str) -> list[ReadableSpan]:
    provider, memory, _ = costed_pipeline()
    spans = replay_in_time(framework_spans(name), provider, memory).spans
    provider.shutdown()
    return spans


def root_totals(spans: list[ReadableSpan], name: str) -> dict[str, Any]:
    (root,) = [span for span in spans if span.name == name and span.parent is None]
    return dict(root.attributes or {})


def test_openlit_langgraph_node_spans_copy_the_call_beside_them() -> None:
    spans = run("langgraph-openlit")
    totals = root_totals(spans, "invoke_workflow LangGraph")
    assert totals["gen_ai.trace.cost.llm_calls"] == 2
    assert totals["gen_ai.trace.cost.unpriced_spans"] == 0
    assert totals["gen_ai.trace.cost.tool_calls"] == 1
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * GPT_4O_CALL + TOOL_FEE)
    chats = {span.attributes["gen_ai.response.id"]: span for span in spans if span.name == "chat gpt-4o"}
    nodes = [
        span
        for span in spans
        if span.name == "invoke_agent agent" and span.instrumentation_scope.name == "openlit.instrumentation.langgraph"
    ]
    assert len(nodes) == 2
    for node in nodes:
        chat = chats[node.attributes["gen_ai.response.id"]]
        assert node.attributes["gen_ai.cost.duplicate_of"] == f"{chat.context.span_id:016x}"
        assert "gen_ai.cost.unpriced" not in node.attributes


def test_the_report_of_openlit_langgraph_spans_made_without_genai_cost_lists_nothing_unpriced() -> None:
    """``genai-cost report`` on the spans as OpenLIT wrote them, genai-cost not running: it
    lists what was not priced where the spans were made by the processor's rules."""
    spans = [
        ExportedSpan(s["trace_id"], s["span_id"], s["parent_span_id"], s["name"], s["scope"], s["attributes"])
        for s in framework_spans("langgraph-openlit")
    ]
    (report,) = [r for r in report_traces(spans) if r.root_name == "invoke_workflow LangGraph"]
    # The two calls and the tool run, which nothing priced; not the calls' copies beside them.
    assert [note.name for note in report.not_priced_here] == ["chat gpt-4o", "execute_tool get_weather", "chat gpt-4o"]


@pytest.mark.parametrize(
    ("name", "root"), [("agno-team-openinference", "team.run"), ("agno-team-openlit", "invoke_workflow team")]
)
def test_an_agno_team_s_hand_off_to_a_member_is_no_tool_run(name: str, root: str) -> None:
    spans = run(name)
    totals = root_totals(spans, root)
    assert totals["gen_ai.trace.cost.tool_calls"] == 1
    assert totals["gen_ai.trace.cost.unpriced_spans"] == 0
    assert totals["gen_ai.trace.cost.llm_calls"] == 4
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(4 * GPT_4O_CALL + TOOL_FEE)
    (hand_off,) = [span for span in spans if "delegate_task_to_member" in span.name]
    assert not any(key.startswith("gen_ai.cost.") for key in hand_off.attributes or {})


def test_a_semantic_kernel_tool_is_priced_by_its_function_s_name() -> None:
    """Semantic Kernel names the tool ``WeatherPlugin-get_weather`` (its function's fully
    qualified name); the pricing file lists ``get_weather``. (SK records no cached tokens: its
    calls are priced uncached, 1,000 in and 200 out.)"""
    spans = run("semantic-kernel-agent")
    totals = root_totals(spans, "invoke_agent WeatherAgent")
    sk_call = (1000 * 2.50 + 200 * 10.00) / 1e6
    assert totals["gen_ai.trace.cost.tool_calls"] == 1
    assert totals["gen_ai.trace.cost.unpriced_spans"] == 0
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * sk_call + TOOL_FEE)
    (tool,) = [span for span in spans if span.name == "execute_tool WeatherPlugin-get_weather"]
    assert tool.attributes["gen_ai.cost.pricing.id"] == "tool/get_weather"
