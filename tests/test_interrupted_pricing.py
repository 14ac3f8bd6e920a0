"""A span whose pricing the application's own exception interrupted (a time limit raised
by a signal handler) is flagged ``internal_error`` on the span, and the listeners, the
cost metrics and the budget, hear of it once, as of any span that could not be priced.
They used not to hear of it at all: the unpriced-spans metric missed it."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_cost.processor as processor_module
from genai_cost import Budget, CostMetrics, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost._guard import OwnExtension
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
}


class SoftTimeLimitExceeded(Exception):
    """What Celery raises from its signal handler when a task's soft time limit passes."""


class Tally:
    """A listener of the application's: what it was told, span by span."""

    def __init__(self, raise_once: bool = False) -> None:
        self.told: list[str | None] = []
        self._raise = raise_once

    def on_span_cost(self, span: Any, usage: Any, cost: Any) -> None:
        self.told.append(cost.unpriced_reason)
        if self._raise:
            self._raise = False
            raise SoftTimeLimitExceeded


class OwnTally(OwnExtension, Tally):
    """Stands for genai-cost's own listeners (Budget, CostMetrics), whose exceptions go up
    as the application's: a user listener's are caught and counted."""


def _unpriced_counted(reader: InMemoryMetricReader) -> dict[str, float]:
    counted: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "gen_ai.cost.unpriced_spans":
                    for point in metric.data.data_points:
                        reason = str(point.attributes.get(A.COST_UNPRICED_REASON))
                        counted[reason] = counted.get(reason, 0) + point.value
    return counted


def _pipeline(*listeners: Any) -> tuple[TracerProvider, InMemorySpanExporter, InMemoryMetricReader, Budget]:
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    budget = Budget()
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            SimpleSpanProcessor(TraceCostExporter(memory)),
            catalog=CATALOG,
            settings=CostSettings(deferred_pricing=False),
            listeners=[budget, metrics, *listeners],
        )
    )
    return provider, memory, reader, budget


def test_interrupted_while_reading_the_span_every_listener_hears_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_read_usage = processor_module.read_usage
    raised = [SoftTimeLimitExceeded]

    def interrupted(attributes: Any, scope: Any = None) -> Any:
        if raised:
            raise raised.pop()
        return real_read_usage(attributes, scope)

    monkeypatch.setattr(processor_module, "read_usage", interrupted)
    tally = Tally()
    provider, memory, reader, budget = _pipeline(tally)
    tracer = provider.get_tracer("test")
    with pytest.raises(SoftTimeLimitExceeded):
        with tracer.start_as_current_span("chat", attributes=CALL) as span:
            pass
    (flagged,) = memory.get_finished_spans()
    assert flagged.attributes[A.COST_UNPRICED_REASON] == A.REASON_INTERNAL_ERROR
    assert _unpriced_counted(reader) == {A.REASON_INTERNAL_ERROR: 1}
    spend = budget.spend(span.get_span_context().trace_id)
    assert spend is not None and spend.unpriced_spans == 1
    assert tally.told == [A.REASON_INTERNAL_ERROR]
    provider.shutdown()


def test_interrupted_inside_a_listener_no_listener_hears_of_the_span_twice() -> None:
    """Landing in the third listener: the two before it heard of the price, the one it
    landed in heard once, and the one after it hears that the span is unpriced."""
    landed_in, after = OwnTally(raise_once=True), Tally()
    provider, memory, reader, budget = _pipeline(landed_in, after)
    tracer = provider.get_tracer("test")
    with pytest.raises(SoftTimeLimitExceeded):
        with tracer.start_as_current_span("chat", attributes=CALL) as span:
            pass
    spend = budget.spend(span.get_span_context().trace_id)
    assert spend is not None and spend.llm_calls == 1 and spend.unpriced_spans == 0  # told once, of the price
    assert landed_in.told == [None]
    assert after.told == [A.REASON_INTERNAL_ERROR]
    (flagged,) = memory.get_finished_spans()
    assert flagged.attributes[A.COST_UNPRICED_REASON] == A.REASON_INTERNAL_ERROR
    provider.shutdown()
