"""An agent's or workflow's span that counts tokens, with no model call recorded below it.

Only leaf calls are priced, so that an aggregate's usage is never counted twice. But when an
agent framework is instrumented and its model calls are not, the aggregate's counts are the
only record of those calls: left alone, the trace read as costing nothing, with no unpriced
span, and a $0.01 cost limit never stopped a $1.20 agent (an in-code audit). Such a span is
flagged ``unrecorded_calls``; with a call below it, it stays an unpriced, unflagged wrapper."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import set_span_in_context

from genai_cost import Budget, CostSpanProcessor, TraceCostExporter
from genai_cost.usage import counts_tokens
from support.gateway import CHAT, CHAT_USD
from test_usage import attribute_values

AGENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "semconv invoke_agent": (
        "agent",
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 400_000,
            "gen_ai.usage.output_tokens": 20_000,
        },
    ),
    "semconv invoke_workflow": (
        "agent",
        {"gen_ai.operation.name": "invoke_workflow", "gen_ai.usage.input_tokens": "1200"},
    ),
    "OpenInference AGENT": (
        "openinference.instrumentation.smolagents",
        {"openinference.span.kind": "AGENT", "llm.token_count.prompt": 1000, "llm.token_count.completion": 100},
    ),
    "OpenInference CHAIN, a total only": (
        "openinference.instrumentation.langchain",
        {"openinference.span.kind": "CHAIN", "llm.token_count.total": 1100},
    ),
}

#: The Vercel AI SDK's top-level span: its SDK always records the call below it.
VERCEL_GENERATE = {
    "operation.name": "ai.generateText",
    "ai.operationId": "ai.generateText",
    "ai.model.provider": "openai.chat",
    "ai.model.id": "gpt-4o",
    "ai.usage.promptTokens": 1000,
    "ai.usage.completionTokens": 100,
}



def _run(scope: str, agent: dict[str, Any], *, call_below: bool) -> tuple[dict[str, dict[str, Any]], Budget]:
    exporter = InMemorySpanExporter()
    budget = Budget(max_cost_usd=0.01)
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(exporter)), listeners=[budget])
    )
    app = provider.get_tracer("app")
    with app.start_as_current_span("POST /chat"):
        with provider.get_tracer(scope).start_as_current_span("agent", attributes=agent):
            with app.start_as_current_span("step"):
                if call_below:
                    with app.start_as_current_span("chat gpt-4o", attributes=CHAT):
                        pass
            with app.start_as_current_span("tool", attributes={"gen_ai.operation.name": "execute_tool"}):
                pass
        spend = budget.check()
    provider.shutdown()
    assert spend is not None
    spans = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
    spans["spend"] = {"cost_usd": spend.cost_usd, "unpriced_spans": spend.unpriced_spans}
    return spans, budget


@pytest.mark.parametrize("name", AGENTS)
def test_an_aggregate_that_counts_tokens_with_no_call_below_is_flagged(name: str) -> None:
    scope, attributes = AGENTS[name]
    spans, _ = _run(scope, attributes, call_below=False)
    agent = spans["agent"]
    assert agent["gen_ai.cost.unpriced"] is True
    assert agent["gen_ai.cost.unpriced_reason"] == "unrecorded_calls"
    assert "no model call was recorded below it" in agent["gen_ai.cost.unpriced_detail"]
    assert "gen_ai.cost.total_usd" not in agent
    root = spans["POST /chat"]
    assert root["gen_ai.trace.cost.unpriced_spans"] == 2  # the agent, and the tool with no name
    assert root["gen_ai.trace.cost.band"] == "unpriced"
    assert spans["spend"] == {"cost_usd": 0.0, "unpriced_spans": 2}


@pytest.mark.parametrize("name", AGENTS)
def test_with_a_call_below_it_stays_an_unflagged_wrapper(name: str) -> None:
    scope, attributes = AGENTS[name]
    spans, _ = _run(scope, attributes, call_below=True)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["agent"])
    assert spans["chat gpt-4o"]["gen_ai.cost.total_usd"] == pytest.approx(CHAT_USD)
    root = spans["POST /chat"]
    assert root["gen_ai.trace.cost.llm_calls"] == 1
    assert root["gen_ai.trace.cost.unpriced_spans"] == 1  # the tool


def test_a_vercel_ai_sdk_span_is_not_flagged_without_its_call_which_may_come_in_a_later_batch() -> None:
    """The SDK ends ai.embedMany.doEmbed just after ai.embedMany: when the sender's batch
    processor cuts its batch between the two, the gateway receives the aggregate alone. Its
    SDK always records the call: the aggregate was flagged, and the call then priced too."""
    spans, _ = _run("ai", VERCEL_GENERATE, call_below=False)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["agent"])
    assert spans["POST /chat"]["gen_ai.trace.cost.unpriced_spans"] == 1  # the tool
    spans, _ = _run("ai", VERCEL_GENERATE, call_below=True)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["agent"])


def test_an_agent_whose_mark_may_have_been_let_go_at_the_bound_is_not_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Marks of parents that ended before their calls (a stream outliving the handler that
    returned it) are let go at a bound, oldest first: a long-running agent's, set at its
    first call, went with them, and the agent ended flagged though its call was priced."""
    import genai_cost._call_records as call_records

    monkeypatch.setattr(call_records, "MAX_MARKS", 50)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(exporter))))
    tracer = provider.get_tracer("app")
    scope, attributes = AGENTS["semconv invoke_agent"]
    agent = provider.get_tracer(scope).start_span("agent", attributes=attributes)
    with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT, context=set_span_in_context(agent)):
        pass
    for _ in range(100):  # streamed calls ending after their handler's span
        handler = tracer.start_span("handler")
        stream = tracer.start_span("chat gpt-4o", attributes=CHAT, context=set_span_in_context(handler))
        handler.end()
        stream.end()
    agent.end()
    late = provider.get_tracer(scope).start_span("late agent", attributes=attributes)  # after the marks went
    late.end()
    spans = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
    assert not any(key.startswith("gen_ai.cost.") for key in spans["agent"])
    assert spans["late agent"]["gen_ai.cost.unpriced_reason"] == "unrecorded_calls"


@pytest.mark.parametrize("counts", [{}, {"gen_ai.usage.input_tokens": 0, "gen_ai.usage.output_tokens": 0}])
def test_an_agent_span_counting_nothing_is_left_alone(counts: dict[str, int]) -> None:
    spans, _ = _run("agent", {"gen_ai.operation.name": "invoke_agent", **counts}, call_below=False)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["agent"])
    assert spans["POST /chat"]["gen_ai.trace.cost.unpriced_spans"] == 1  # the tool


#: Any attribute value (test_usage's), and strings int() refuses or reads oddly.
_VALUES = attribute_values | st.sampled_from(["²", "١٢", " 7 ", "0", "9" * 5000])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # (slow to generate on a cold cache)
@given(st.dictionaries(st.sampled_from(["gen_ai.usage.input_tokens", "llm.token_count.total", "other"]), _VALUES))
def test_counts_tokens_reads_any_value_without_raising(attributes: dict[str, object]) -> None:
    def positive(value: object) -> bool:
        if type(value) in (int, float):
            return bool(value > 0)  # type: ignore[operator]
        if not isinstance(value, str):
            return False
        text = value.strip()
        return text.isdecimal() and len(text) <= 40 and int(text) > 0

    expected = any(positive(v) for k, v in attributes.items() if k != "other")
    assert counts_tokens(attributes) is expected
