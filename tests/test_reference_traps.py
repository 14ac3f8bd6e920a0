"""Traps of the reference (shared/reference/attributes.md and pricing.md) that an
audit found mispriced: each test builds the span shape a real emitter writes, through
the real SDK and pipeline, and checks the cost against the hand calculation."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()


def _priced(attributes: dict[str, object], scope: str = "test", kind: SpanKind = SpanKind.CLIENT) -> ReadableSpan:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings())
    )
    provider.get_tracer(scope).start_span("chat", attributes=attributes, kind=kind).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return span


# Strands Agents (its tracer.end_model_invoke_span) copies Bedrock Converse's usage as it is:
# inputTokens leaves the cache out, totalTokens counts it.
_STRANDS_BEDROCK = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "strands-agents",
    "gen_ai.agent.name": "Strands Agents",
    "gen_ai.request.model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "gen_ai.usage.prompt_tokens": 5000,
    "gen_ai.usage.input_tokens": 5000,
    "gen_ai.usage.completion_tokens": 500,
    "gen_ai.usage.output_tokens": 500,
    "gen_ai.usage.total_tokens": 8500,
    "gen_ai.usage.cache_read_input_tokens": 3000,
    "gen_ai.usage.cache_write_input_tokens": 0,
}


def test_strands_bedrock_input_without_the_cache_is_priced_with_it() -> None:
    """Was $0.01584 (the 3,000 cached tokens taken out of the 5,000 fresh ones), unflagged."""
    span = _priced(_STRANDS_BEDROCK, scope="strands.telemetry.tracer", kind=SpanKind.INTERNAL)
    # us. profile of Sonnet 4.5: $3.30 input, $0.33 cache read, $16.50 output per million
    assert span.attributes[A.COST_TOTAL] == pytest.approx((5000 * 3.30 + 3000 * 0.33 + 500 * 16.50) / 1e6)
    assert span.attributes[A.COST_USAGE_CONVENTION] == "exclusive"


def test_a_total_that_leaves_the_cache_out_keeps_the_input_inclusive() -> None:
    """OpenAI through Strands: prompt_tokens includes the cached ones, and the total is
    prompt + completion. The same cache count must not be added again."""
    span = _priced(
        {
            **_STRANDS_BEDROCK,
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 8000,
            "gen_ai.usage.prompt_tokens": 8000,
            "gen_ai.usage.total_tokens": 8500,
        },
        scope="strands.telemetry.tracer",
    )
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per million
    assert span.attributes[A.COST_TOTAL] == pytest.approx((5000 * 2.50 + 3000 * 1.25 + 500 * 10) / 1e6)
    assert span.attributes.get(A.COST_USAGE_CONVENTION) != "exclusive"


@pytest.mark.parametrize("total", ["n/a", -1, 2.5, True, None])
def test_a_total_that_cannot_be_read_does_not_refuse_the_counts(total: object) -> None:
    """The total is only a checksum: a bad one is not a reason to leave the call unpriced."""
    attributes = {**_STRANDS_BEDROCK, "gen_ai.usage.cache_read_input_tokens": 0}
    if total is None:
        del attributes["gen_ai.usage.total_tokens"]
    else:
        attributes["gen_ai.usage.total_tokens"] = total  # type: ignore[assignment]
    span = _priced(attributes, scope="strands.telemetry.tracer")
    assert span.attributes[A.COST_TOTAL] == pytest.approx((5000 * 3.30 + 500 * 16.50) / 1e6)
    assert A.COST_UNPRICED not in span.attributes


def test_a_total_alone_is_not_usage() -> None:
    """A call span with a total and no input or output count is missing its usage, not free."""
    span = _priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.total_tokens": 900,
        }
    )
    assert span.attributes[A.COST_UNPRICED] is True
    assert span.attributes[A.COST_UNPRICED_REASON] == "missing_usage"
