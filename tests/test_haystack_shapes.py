"""Haystack 3.4 with its own tracing (``opentelemetry-haystack`` 2.0.0) and OpenInference's
OpenAI instrumentation, as they really write: an ``Agent`` that called ``get_weather`` once,
two model calls.

Haystack names the tool of its ``haystack.agent.step.tool`` span only in
``haystack.tool.name``; unread, the run was no tool at all: the trace said 0 tool calls, and
a priced tool's fee was missing with nothing flagged.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.capture import replay
from support.frameworks import GPT_4O_CALL, costed_pipeline, framework_spans

M = 1e6
GPT_4O = GPT_4O_CALL


def _spans() -> list[dict[str, Any]]:
    return framework_spans("haystack-agent-native")


@pytest.mark.parametrize("priced", [True, False], ids=["tool-priced", "tool-unknown"])
def test_the_tool_run_is_counted_and_priced(priced: bool) -> None:
    provider, memory, _ = costed_pipeline(tools_priced=priced)
    result = replay(_spans(), provider, memory)
    (root,) = [span for span in result.spans if span.parent is None]
    totals = root.attributes
    assert totals["gen_ai.trace.cost.llm_calls"] == 2
    assert totals["gen_ai.trace.cost.tool_calls"] == 1
    (tool,) = [span for span in result.spans if span.name == "haystack.agent.step.tool"]
    if priced:
        assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * GPT_4O + 0.002)
        assert tool.attributes["gen_ai.cost.pricing.id"] == "tool/get_weather"
    else:  # never a silent zero
        assert totals["gen_ai.trace.cost.unpriced_spans"] == 1
        assert tool.attributes["gen_ai.cost.unpriced_reason"] == "unknown_tool"
    provider.shutdown()
