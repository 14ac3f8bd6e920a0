"""Arguments of the wrong type given in code are refused when the component is made, naming
the argument (docs/configuration.md), not found later far from their cause. An in-code audit:
``CostSettings(enabled="false")`` priced every span (the string is true), ``catalog="my.yaml"``
failed with an ``AttributeError`` of ``version``, and ``TraceCostExporter(BatchSpanProcessor(e))``
exported nothing while ``force_flush()`` returned True."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter


@pytest.mark.parametrize(
    ("setting", "value"),
    [("enabled", "false"), ("deferred_pricing", "false"), ("enabled", 0), ("trace_idle_timeout_s", "300")],
)
def test_settings_of_the_wrong_type_are_refused_by_name(setting: str, value: object) -> None:
    with pytest.raises(TypeError, match=f"^{setting} must be"):
        CostSettings(**{setting: value})


@pytest.mark.parametrize(
    ("argument", "value", "said"),
    [
        ("catalog", "my-prices.yaml", "catalog must be a genai_cost.pricing.Catalog, not 'my-prices.yaml'; for a pricing file"),
        ("settings", {"enabled": False}, "settings must be a genai_cost.CostSettings"),
        ("deferred", "false", "deferred must be True, False or None"),
        ("max_pending", "100", "max_pending must be a whole number"),
    ],
)
def test_processor_arguments_of_the_wrong_type_are_refused_by_name(argument: str, value: Any, said: str) -> None:
    with pytest.raises(TypeError, match=f"^{said}"):
        CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), **{argument: value})


def test_a_span_processor_given_as_the_roll_ups_exporter_is_refused_with_the_right_order() -> None:
    inner = BatchSpanProcessor(InMemorySpanExporter())
    try:
        with pytest.raises(TypeError, match=r"BatchSpanProcessor is a span processor: it goes around this one"):
            TraceCostExporter(inner)  # type: ignore[arg-type]
    finally:
        inner.shutdown()


def test_right_types_still_pass() -> None:
    settings = CostSettings(enabled=False, deferred_pricing=False, trace_idle_timeout_s=60)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())), settings=settings, deferred=False, max_pending=10
    )
    processor.shutdown()
