"""smolagents 1.26 through OpenInference (``openinference-instrumentation-smolagents``
0.1.43, with the OpenAI instrumentation under it), as it really writes: a
``ToolCallingAgent`` that called ``get_weather``, then answered.

smolagents' agents hand their answer back by calling the built-in ``final_answer`` tool,
which OpenInference records as a ``TOOL`` span (``FinalAnswerTool``). Read as a tool run,
it was flagged ``unknown_tool`` on every run: every trace said one span could not be priced.
"""

from __future__ import annotations

from typing import Any

import pytest

from genai_cost.report import report_traces
from genai_cost.span_file import ExportedSpan
from support.capture import replay
from support.frameworks import GPT_4O_CALL, costed_pipeline, framework_spans

M = 1e6
GPT_4O = GPT_4O_CALL


def _spans() -> list[dict[str, Any]]:
    return framework_spans("smolagents-toolcalling")


def test_the_answer_is_no_tool_run_and_the_trace_is_all_priced() -> None:
    provider, memory, _ = costed_pipeline()
    result = replay(_spans(), provider, memory)
    (root,) = [span for span in result.spans if span.parent is None]
    totals = root.attributes
    assert totals["gen_ai.trace.cost.llm_calls"] == 2
    assert totals["gen_ai.trace.cost.tool_calls"] == 1
    assert totals["gen_ai.trace.cost.unpriced_spans"] == 0
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * GPT_4O + 0.002)
    (answer,) = [span for span in result.spans if span.name == "FinalAnswerTool"]
    assert not [key for key in answer.attributes if key.startswith("gen_ai.cost.")]
    provider.shutdown()


@pytest.mark.parametrize("scoped", [True, False], ids=["scopes", "no-scopes"])
def test_the_report_reads_it_as_the_processor_does(scoped: bool) -> None:
    spans = [
        ExportedSpan(
            s["trace_id"], s["span_id"], s["parent_span_id"], s["name"], s["scope"] if scoped else None, s["attributes"]
        )
        for s in _spans()
    ]
    (report,) = report_traces(spans)
    assert sorted(note.name for note in report.not_priced_here) == ["ChatCompletion"] * 2 + ["SimpleTool"]


def test_a_final_answer_tool_of_another_instrumentation_is_still_a_tool() -> None:
    """Only smolagents' own is known to do no work: elsewhere a tool of that name is the
    application's, and has a price or is flagged."""
    provider, memory, _ = costed_pipeline(tools_priced=False)
    tracer = provider.get_tracer("my.agent")
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "final_answer"}
    tracer.start_span("execute_tool final_answer", attributes=attributes).end()
    (span,) = memory.get_finished_spans()
    assert span.attributes["gen_ai.cost.unpriced_reason"] == "unknown_tool"
    provider.shutdown()
