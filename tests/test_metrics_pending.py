"""A metrics collection sees every span ended so far, even those nothing else reads.

The processor prices spans lazily (when an exporter reads them, or when its queue
is long). Spans no exporter reads (the RECORD_ONLY sampler recipe of
docs/budgets.md: recorded, priced for the budget, not exported) would otherwise
wait in the queue: the cost metrics would lag, or stay at zero until a flush.
CostMetrics has the processor price them before each collection, as Budget does
before each read, without deadlocking on its own lock when pricing calls it back."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

from genai_cost import Budget, CostMetrics, CostSettings, CostSpanProcessor
from genai_cost import attributes as A
from genai_cost.pricing import Catalog
from support.console import metric_sums

CATALOG = Catalog.load()
CALL_USD = 0.0045  # gpt-4o, 1000 input and 200 output tokens
_DEADLINE_S = 20.0


class RecordOnly(Sampler):
    """Every span recorded (so priced, for budgets), none sampled (so none exported)."""

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        return SamplingResult(Decision.RECORD_ONLY, attributes)

    def get_description(self) -> str:
        return "RecordOnly"


def _chat(model: str = "gpt-4o") -> dict[str, object]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
    }


def _pipeline(*listeners: Any) -> tuple[Any, InMemoryMetricReader, CostSpanProcessor]:
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    for listener in listeners:
        if isinstance(listener, Budget):
            listener.add_exceeded_callback(metrics.budget_exceeded)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(InMemorySpanExporter()),  # exports sampled spans only: none here
        catalog=CATALOG,
        settings=CostSettings(),
        listeners=[metrics, *listeners],
        deferred=True,
    )
    provider = TracerProvider(sampler=RecordOnly())
    provider.add_span_processor(processor)
    return provider.get_tracer("test"), reader, processor


def _collect(reader: InMemoryMetricReader) -> dict[str, float]:
    """{metric name: sum of its points' values} of one collection, made on another
    thread and waited for with a deadline (a deadlock fails the test, never hangs it)."""
    out: dict[str, float] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            out.update(metric_sums(reader.get_metrics_data()))
        except BaseException as exc:
            failure.append(exc)

    collector = threading.Thread(target=run, daemon=True)
    collector.start()
    collector.join(_DEADLINE_S)
    assert not collector.is_alive(), "the metrics collection deadlocked"
    assert not failure, failure
    return out


def test_a_collection_counts_spans_that_no_exporter_reads() -> None:
    tracer, reader, _ = _pipeline()
    for _ in range(3):
        with tracer.start_as_current_span("chat", attributes=_chat()):
            pass
    with tracer.start_as_current_span("chat", attributes=_chat("no-such-model")):
        pass
    seen = _collect(reader)  # no flush, no export: only the collection asks for the pricing
    assert seen[A.METRIC_COST] == pytest.approx(3 * CALL_USD)
    assert seen[A.METRIC_UNPRICED] == 1


def test_budget_hits_priced_by_the_collection_are_in_the_same_collection() -> None:
    tracer, reader, _ = _pipeline(Budget(max_cost_usd=0.001))
    with tracer.start_as_current_span("chat", attributes=_chat()):
        pass
    seen = _collect(reader)
    assert seen[A.METRIC_COST] == pytest.approx(CALL_USD)
    assert seen[A.METRIC_BUDGET_EXCEEDED] == 1


def test_pricing_on_the_collecting_thread_calls_the_metrics_back_without_deadlock() -> None:
    """The collection prices on its own thread; pricing tells the listeners, CostMetrics
    first: its totals' lock must not be held while the pending spans are priced."""
    tracer, reader, processor = _pipeline()
    with tracer.start_as_current_span("chat", attributes=_chat()):
        pass
    assert processor._queue, "the span waits to be priced"
    seen = _collect(reader)
    assert not processor._queue
    assert seen[A.METRIC_COST] == pytest.approx(CALL_USD)


def test_a_failing_pending_source_does_not_cost_the_collection(caplog: pytest.LogCaptureFixture) -> None:
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))

    def broken() -> None:
        raise RuntimeError("pricing failed")

    metrics.add_pending_source(broken)
    metrics.budget_exceeded(A.BUDGET_MAX_COST)
    seen = _collect(reader)
    assert seen == {A.METRIC_BUDGET_EXCEEDED: 1}
    assert "pricing pending spans before a metrics collection failed" in caplog.text
