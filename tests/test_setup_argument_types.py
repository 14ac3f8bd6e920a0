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

from genai_cost import Budget, BudgetLimits, CostSettings, CostSpanProcessor, TraceCostExporter


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


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (lambda: Budget(max_cost_usd=0.05, on_exceeded="print"), "on_exceeded must be a callable"),
        (lambda: Budget(max_cost_usd=0.05, on_exceeded=lambda: None), "cannot be called as callback(limit, spend"),
        (lambda: Budget(max_cost_usd=0.05).add_exceeded_callback(None), "callback must be a callable"),
        (lambda: _processor(listeners=[print]), "a listener must have a method on_span_cost()"),
        (lambda: _processor(listeners=[BudgetLimits(max_cost_usd=1)]), "write Budget(limits)"),
        (lambda: _processor(listeners=Budget(max_cost_usd=1)), "listeners is a list: listeners=[budget]"),
        (lambda: _processor(span_layers=[object()]), "a span layer must have a method price_span()"),
        (lambda: _processor().add_listener(BudgetLimits(max_cost_usd=1)), "write Budget(limits)"),
        (lambda: _processor().add_span_layer("infra"), "a span layer must have a method price_span()"),
        (lambda: _processor(listeners=None), "listeners is a list: listeners=[...], not listeners=None"),
        (lambda: Budget(max_cost_usd=1, on_exceeded=_async_callback), "is async: it would never run"),
    ],
)
def test_callbacks_listeners_and_layers_that_could_never_work_are_refused_at_set_up(build: Any, said: str) -> None:
    """Accepted, each failed only when a limit was first hit or a span first priced, on the
    export thread: the page or the stop it was for never came."""
    with pytest.raises(TypeError) as raised:
        build()
    assert said in str(raised.value)


def test_callbacks_of_three_or_four_arguments_and_of_any_arguments_pass() -> None:
    hits: list[tuple[object, ...]] = []
    budget = Budget(max_cost_usd=1, on_exceeded=lambda limit, spend, value: hits.append((limit,)))
    budget.add_exceeded_callback(lambda limit, spend, value, trace_id: hits.append((limit, trace_id)))
    budget.add_exceeded_callback(lambda *arguments: hits.append(arguments))
    budget.add_exceeded_callback(print)  # a builtin taking any arguments
    _processor(listeners=(listener for listener in [budget]), span_layers=[])


async def _async_callback(limit: str, spend: float, value: float) -> None:
    pass


def test_listeners_in_any_iterable_pass() -> None:
    class Indexed:  # iterable through __getitem__ alone, as the old sequence protocol allows
        def __init__(self, *items: object) -> None:
            self.items = items

        def __getitem__(self, index: int) -> object:
            return self.items[index]

    budget = Budget(max_cost_usd=1)
    _processor(listeners=Indexed(budget))
    _processor(listeners=dict.fromkeys([budget]).keys(), span_layers=iter(()))


def _processor(**kw: Any) -> CostSpanProcessor:
    return CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), settings=CostSettings(), **kw)
