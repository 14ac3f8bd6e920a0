"""OpenLLMetry's own names: ``llm.request.type`` on every call span it makes, and the
``llm.usage.*`` counts of its first releases (still written by hand-made spans). An in-code
audit: a chat span with ``llm.request.type=chat`` and counts under ``llm.usage.*``, or none
at all (a stream without usage), was passed on with no cost and no flag."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.usage import Role, read_usage

SCOPE = "opentelemetry.instrumentation.openai.v1"
CALL = {"llm.request.type": "chat", "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o"}


def _exported(attributes: dict[str, Any]) -> dict[str, Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(exporter))))
    with provider.get_tracer("app").start_as_current_span("POST /chat"):
        with provider.get_tracer(SCOPE).start_as_current_span("openai.chat", attributes=attributes):
            pass
    provider.shutdown()
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "openai.chat"]
    return dict(span.attributes or {})


@pytest.mark.parametrize(
    "counts",
    [
        {"llm.usage.prompt_tokens": 1000, "llm.usage.completion_tokens": 100},
        {"gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 100},
    ],
)
def test_a_call_counted_under_either_name_is_priced(counts: dict[str, int]) -> None:
    span = _exported({**CALL, **counts})
    assert span["gen_ai.cost.total_usd"] == pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)


@pytest.mark.parametrize("counts", [{}, {"llm.usage.total_tokens": 1100}])
def test_a_call_span_without_its_split_counts_is_flagged_not_silent(counts: dict[str, int]) -> None:
    span = _exported({**CALL, **counts})
    assert "gen_ai.cost.total_usd" not in span
    assert span["gen_ai.cost.unpriced"] is True
    assert span["gen_ai.cost.unpriced_reason"] == "missing_usage"


def test_the_semantic_conventions_operation_name_wins() -> None:
    usage = read_usage({**CALL, "gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": 5}, SCOPE)
    assert (usage.role, usage.operation) == (Role.EMBEDDING, "embeddings")
    usage = read_usage({**CALL, "llm.request.type": "embedding", "gen_ai.usage.prompt_tokens": 5}, SCOPE)
    assert (usage.role, usage.operation) == (Role.EMBEDDING, "embedding")
