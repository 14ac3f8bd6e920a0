"""A budget or cost metrics in the listeners of two CostSpanProcessors of one provider (one
per exporter, each wrapped as the README's one-liner shows) count each span once. They
counted it twice: an agent with ``max_llm_calls=4`` was stopped after two calls, told it had
made four, and the cost counter read twice the spend."""

from __future__ import annotations

import threading

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_cost
from genai_cost import Budget, CostMetrics, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.pricing import Catalog
from support.spans import chat_attributes

CATALOG = Catalog.load()
CALL_USD = 0.0035  # gpt-4o, 1,000 in and 100 out


def two_chains(*listeners: object, provider: TracerProvider | None = None) -> tuple[TracerProvider, list[InMemorySpanExporter]]:
    provider = provider or TracerProvider()
    exporters = [InMemorySpanExporter(), InMemorySpanExporter()]
    for exporter in exporters:
        provider.add_span_processor(
            CostSpanProcessor(
                BatchSpanProcessor(TraceCostExporter(exporter)), catalog=CATALOG, listeners=list(listeners)
            )
        )
    return provider, exporters


def call(tracer: object) -> None:
    with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):  # type: ignore[attr-defined]
        pass


def test_a_budget_fed_by_two_processors_stops_at_its_limit_not_at_half() -> None:
    budget = Budget(max_llm_calls=4)
    provider, exporters = two_chains(budget)
    tracer = provider.get_tracer("agent")
    made = 0
    with tracer.start_as_current_span("invoke_agent"):
        for _ in range(10):
            try:
                budget.check()
            except genai_cost.BudgetExceededError as exc:
                stopped = exc
                break
            call(tracer)
            made += 1
        spend = budget.spend()
    provider.shutdown()
    assert made == 4
    assert stopped.limit == A.BUDGET_MAX_LLM_CALLS
    assert spend is not None
    assert spend.llm_calls == 4
    assert spend.cost_usd == pytest.approx(4 * CALL_USD)
    assert budget.hits == 1
    # Both exporters' copies of the fourth call carry the hit.
    for exporter in exporters:
        hit = [span for span in exporter.get_finished_spans() if span.attributes.get(A.BUDGET_LIMIT_ATTR)]
        assert len(hit) == 1
        assert [event.name for event in hit[0].events] == [A.BUDGET_EVENT]


def test_cost_metrics_fed_by_two_processors_count_each_span_once() -> None:
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    provider, _ = two_chains(metrics)
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent"):
        for _ in range(3):
            call(tracer)
        with tracer.start_as_current_span("chat", attributes=chat_attributes("no-such-model", "openai")):
            pass
    provider.force_flush()
    data = reader.get_metrics_data()
    points = {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    (cost,) = points[A.METRIC_COST]
    assert cost.value == pytest.approx(3 * CALL_USD)
    (unpriced,) = points[A.METRIC_UNPRICED]
    assert unpriced.value == 1
    provider.shutdown()


def test_spans_of_two_providers_feeding_one_budget_all_count() -> None:
    """Only the same span told twice is counted once: two providers' spans are all counted."""
    budget = Budget()
    first, _ = two_chains(budget)
    second, _ = two_chains(budget)
    tracer = first.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent") as root:
        call(tracer)
        # The second provider's span, in the same trace (a remote parent, as across services).
        context = genai_cost_context(root)
        with second.get_tracer("agent").start_as_current_span("chat", context=context, attributes=chat_attributes("gpt-4o", "openai")):
            pass
        spend = budget.spend()
    first.shutdown()
    second.shutdown()
    assert spend is not None and spend.llm_calls == 2
    assert spend.cost_usd == pytest.approx(2 * CALL_USD)


def genai_cost_context(span: object):  # type: ignore[no-untyped-def]
    from opentelemetry import trace

    return trace.set_span_in_context(span)  # type: ignore[arg-type]


def test_two_processors_telling_at_once_from_many_threads_count_each_span_once() -> None:
    budget = Budget()
    provider, _ = two_chains(budget)
    tracer = provider.get_tracer("agent")
    spends: list[float] = []

    def agent() -> None:
        with tracer.start_as_current_span("invoke_agent"):
            for _ in range(20):
                call(tracer)
            spend = budget.spend()
            assert spend is not None
            spends.append(spend.cost_usd)

    threads = [threading.Thread(target=agent) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    provider.shutdown()
    assert spends == pytest.approx([20 * CALL_USD] * 8)
