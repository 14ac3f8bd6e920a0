"""A cost the span reports at list price (``operation.cost``: Pydantic AI and Logfire compute
it with ``genai_prices.calc_price``, which is given no tier, batch flag or speed) is not
preferred to the catalog for a call the span says was served at another tier: the catalog
knows that tier's price, and the list price does not (cost-correctness audit, 2026-11-23)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
M = 1_000_000


def priced(attributes: dict[str, object], policy: str = "prefer") -> dict[str, object]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            SimpleSpanProcessor(TraceCostExporter(memory)),
            catalog=CATALOG,
            settings=CostSettings(reported_cost=policy),
        )
    )
    with provider.get_tracer("pydantic-ai").start_as_current_span("chat", attributes=attributes):
        pass
    provider.shutdown()
    [span] = memory.get_finished_spans()
    return dict(span.attributes or {})


def o4_mini(**extra: object) -> dict[str, object]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "o4-mini",
        "gen_ai.usage.input_tokens": 3000,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 1500,
        **extra,
    }


# o4-mini: $1.10 / $0.275 cached / $4.40 standard; flex $0.55 / $0.138 / $2.20 (openai.yaml).
STANDARD = (2000 * 1.10 + 1000 * 0.275 + 1500 * 4.40) / M
FLEX = (2000 * 0.55 + 1000 * 0.138 + 1500 * 2.20) / M


def test_a_flex_call_is_priced_by_the_catalog_with_the_list_price_beside_it() -> None:
    attrs = priced(o4_mini(**{"operation.cost": STANDARD, "openai.response.service_tier": "flex"}))
    assert (attrs["gen_ai.cost.source"], attrs["gen_ai.cost.total_usd"]) == ("catalog", pytest.approx(FLEX))
    assert attrs["gen_ai.cost.reported_usd"] == pytest.approx(STANDARD)
    assert attrs["gen_ai.cost.reported_diff_usd"] == pytest.approx(STANDARD - FLEX)


@pytest.mark.parametrize("tier", [None, "default", "auto"])
def test_a_call_served_at_the_standard_tier_still_takes_the_reported_cost(tier: str | None) -> None:
    extra: dict[str, object] = {"operation.cost": 0.0123}
    if tier is not None:
        extra["openai.response.service_tier"] = tier
    attrs = priced(o4_mini(**extra))
    assert (attrs["gen_ai.cost.source"], attrs["gen_ai.cost.total_usd"]) == ("span", 0.0123)
    assert attrs["gen_ai.cost.catalog_usd"] == pytest.approx(STANDARD)


def test_a_cost_a_gateway_reports_is_still_preferred_at_any_tier() -> None:
    """Only ``operation.cost`` is known to be a list-price estimate; ``llm.cost.total`` (a
    gateway's or a proxy's billed figure) is kept as the span's cost whatever the tier."""
    attrs = priced(o4_mini(**{"llm.cost.total": 0.0042, "openai.response.service_tier": "flex"}))
    assert (attrs["gen_ai.cost.source"], attrs["gen_ai.cost.total_usd"]) == ("span", 0.0042)


def test_logfire_fast_mode_is_priced_at_the_fast_rate() -> None:
    """Logfire's ``operation.cost`` misses Anthropic's fast mode (6x on Opus 4.6), which the
    raw usage it records says the call was served at."""
    raw = {"input_tokens": 1000, "output_tokens": 100, "speed": "fast", "server_tool_use": {"web_search_requests": 3}}
    standard = (1000 * 5.00 + 100 * 25.00) / M + 3 * 0.01
    fast = (1000 * 30.00 + 100 * 150.00) / M + 3 * 0.01
    attrs = priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-opus-4-6",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
            "gen_ai.usage.raw": json.dumps(raw),
            "operation.cost": standard,
        }
    )
    assert (attrs["gen_ai.cost.source"], attrs["gen_ai.cost.total_usd"]) == ("catalog", pytest.approx(fast))
    assert attrs["gen_ai.cost.reported_usd"] == pytest.approx(standard)


def test_compare_and_ignore_are_unchanged() -> None:
    extra = {"operation.cost": STANDARD, "openai.response.service_tier": "flex"}
    compared = priced(o4_mini(**extra), "compare")
    assert (compared["gen_ai.cost.source"], compared["gen_ai.cost.total_usd"]) == ("catalog", pytest.approx(FLEX))
    ignored = priced(o4_mini(**extra), "ignore")
    assert "gen_ai.cost.reported_usd" not in ignored
