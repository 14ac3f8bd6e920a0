"""A chat call whose span counts input and no output is priced for its input alone and says
so (``no_output_tokens`` in ``gen_ai.cost.adjustments``): an aborted stream, or an
instrumentation that did not record the answer, must not pass for a complete price."""

from __future__ import annotations

import datetime as dt

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
ADJUSTMENTS = "gen_ai.cost.adjustments"


def priced(attributes: dict[str, object], *, start_time: int | None = None, **settings: object) -> dict[str, object]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings(**settings)
        )
    )
    provider.get_tracer("test").start_span("call", attributes=attributes, start_time=start_time).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return dict(span.attributes or {})


def test_semconv_chat_with_input_only() -> None:
    attrs = priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
        }
    )
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(0.0025)  # 1,000 in at $2.50/M
    assert attrs[ADJUSTMENTS] == "no_output_tokens"
    assert "gen_ai.cost.unpriced" not in attrs


def test_openinference_llm_span_with_prompt_count_only() -> None:
    attrs = priced(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "openai",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.token_count.prompt": 1000,
        }
    )
    assert attrs[ADJUSTMENTS] == "no_output_tokens"


def test_a_complete_count_has_no_note() -> None:
    attrs = priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 1,
        }
    )
    assert ADJUSTMENTS not in attrs


def test_an_embedding_has_no_output_to_miss() -> None:
    attrs = priced(
        {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 1000,
        }
    )
    assert attrs["gen_ai.cost.category"] == "embedding"
    assert ADJUSTMENTS not in attrs


def test_the_note_joins_the_other_adjustments() -> None:
    february = int(dt.datetime(2026, 2, 20, tzinfo=dt.timezone.utc).timestamp() * 1e9)
    attrs = priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-6",
            "gen_ai.usage.input_tokens": 300_000,
        },
        start_time=february,
    )
    assert attrs[ADJUSTMENTS] == "long_context>200000,no_output_tokens"
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(1.8)  # 300,000 in at $6.00/M


def test_a_cost_reported_beside_the_counts_and_ignored_still_gets_the_note() -> None:
    """The pricer's slower path: the span carries a cost, which the settings ignore."""
    attrs = priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
            "llm.cost.total": 0.5,
        },
        reported_cost="ignore",
    )
    assert attrs["gen_ai.cost.source"] == "catalog"
    assert attrs[ADJUSTMENTS] == "no_output_tokens"
