"""LlamaIndex through OpenInference (``openinference-instrumentation-llama-index`` 4.6.1), as
it really writes: a ``FunctionAgent`` that called two tools, three model calls.

LlamaIndex wraps each abstract method of an LLM class in a span, and OpenInference gives every
span of an LLM object the ``LLM`` kind: each agent step opens
``OpenAI._prepare_chat_with_tools``, which only builds the request, beside the real
``OpenAI.astream_chat``. Read as a call, it was flagged ``missing_usage`` and counted: the
trace said 6 calls for 3 (and a budget's ``max_llm_calls`` stopped the agent halfway).
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
    return framework_spans("llamaindex-function-agent")


def test_the_request_building_span_is_no_call_and_the_three_calls_count_once() -> None:
    provider, memory, _ = costed_pipeline()
    result = replay(_spans(), provider, memory)
    (root,) = [span for span in result.spans if span.parent is None]
    totals = root.attributes
    assert totals["gen_ai.trace.cost.llm_calls"] == 3
    assert totals["gen_ai.trace.cost.tool_calls"] == 2
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(3 * GPT_4O + 0.002)
    # get_population has no price: the one unpriced span, said as such.
    assert totals["gen_ai.trace.cost.unpriced_spans"] == 1
    prepare = [span for span in result.spans if span.name == "OpenAI._prepare_chat_with_tools"]
    assert len(prepare) == 3
    assert not [key for span in prepare for key in span.attributes if key.startswith("gen_ai.cost.")]
    provider.shutdown()


def test_the_report_reads_it_as_the_processor_does() -> None:
    spans = [
        ExportedSpan(s["trace_id"], s["span_id"], s["parent_span_id"], s["name"], s["scope"], s["attributes"])
        for s in _spans()
    ]
    (report,) = report_traces(spans)
    listed = [note.name for note in report.not_priced_here]
    assert sorted(listed) == ["FunctionTool.acall"] * 2 + ["OpenAI.astream_chat"] * 3


def test_a_request_building_span_that_counts_tokens_is_still_read() -> None:
    # Never seen; but a span of that name with counts is no longer "no call": priced, not lost.
    provider, memory, _ = costed_pipeline(tools_priced=False)
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o",
        "llm.provider": "openai",
        "llm.token_count.prompt": 1000,
        "llm.token_count.completion": 200,
    }
    tracer = provider.get_tracer("openinference.instrumentation.llama_index")
    tracer.start_span("OpenAI._prepare_chat_with_tools", attributes=attributes).end()
    (span,) = memory.get_finished_spans()
    assert span.attributes["gen_ai.cost.total_usd"] == pytest.approx((1000 * 2.50 + 200 * 10.00) / M)


def test_a_file_with_no_scopes_is_read_by_the_span_names_alone() -> None:
    """The console exporter's output gives no instrumentation scope: the request-building
    span is still no call (not NO COST ATTRIBUTES, which blames the set-up)."""
    spans = [
        ExportedSpan(s["trace_id"], s["span_id"], s["parent_span_id"], s["name"], None, s["attributes"])
        for s in _spans()
    ]
    (report,) = report_traces(spans)
    assert "OpenAI._prepare_chat_with_tools" not in [note.name for note in report.not_priced_here]
