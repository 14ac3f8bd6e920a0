"""A forked child (gunicorn --preload, multiprocessing with fork) reports its own
spend, not its parent's again: CostMetrics' running totals start from zero in the
child, so the sum over the processes is what was spent.

Each test forks for real; the child writes what its collection saw to a pipe and
exits. The parent waits with a deadline (a child that hangs is killed and the
test fails), never with a sleep."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, CostMetrics, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.pricing import Catalog
from support.console import metric_sums

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")

CATALOG = Catalog.load()
CALL_USD = 0.0045  # gpt-4o, 1000 input and 200 output tokens
_DELTA = {
    Counter: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
}
_DEADLINE_S = 20.0


def _chat(model: str = "gpt-4o") -> dict[str, object]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
    }


def _totals(reader: InMemoryMetricReader) -> dict[str, float]:
    """{metric name: sum of its points' values} of one collection (the counters only)."""
    return metric_sums(reader.get_metrics_data())


def _in_child(work: Callable[[], Any]) -> Any:
    """``work()`` run in a forked child; its JSON result read back here."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_end)
            signal.alarm(int(_DEADLINE_S))  # a child that hangs dies rather than lingers
            payload = json.dumps(work()).encode()
            os.write(write_end, payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + _DEADLINE_S
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)  # polling the child's exit, with a deadline
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_end)
        pytest.fail("the forked child did not finish")
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    assert status is not None and os.waitstatus_to_exitcode(status) == 0, payload
    return json.loads(payload)


def _pipeline(budget: Budget | None = None, *, delta: bool = False) -> tuple[Any, InMemoryMetricReader]:
    reader = InMemoryMetricReader(preferred_temporality=_DELTA if delta else None)
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    listeners: list[Any] = [metrics]
    if budget is not None:
        budget.add_exceeded_callback(metrics.budget_exceeded)
        listeners.append(budget)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(InMemorySpanExporter()),
        catalog=CATALOG,
        settings=CostSettings(),
        listeners=listeners,
        deferred=False,
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("test"), reader


def test_a_forked_child_reports_its_own_spend_not_its_parents_again() -> None:
    tracer, reader = _pipeline()
    with tracer.start_as_current_span("warm-up", attributes=_chat()):  # spent in the parent before the fork
        pass
    assert _totals(reader)[A.METRIC_COST] == pytest.approx(CALL_USD)

    def child() -> list[float]:
        before = _totals(reader).get(A.METRIC_COST, 0.0)
        for _ in range(2):
            with tracer.start_as_current_span("request", attributes=_chat()):
                pass
        return [before, _totals(reader).get(A.METRIC_COST, 0.0)]

    before, after = _in_child(child)
    assert before == 0.0
    assert after == pytest.approx(2 * CALL_USD)
    # the parent goes on from its own total, and the sum over both processes is the spend
    assert _totals(reader)[A.METRIC_COST] + after == pytest.approx(3 * CALL_USD)


def test_unpriced_spans_and_budget_hits_of_the_parent_are_not_counted_again_in_a_child() -> None:
    tracer, reader = _pipeline(Budget(max_cost_usd=0.001))
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat", attributes=_chat()):  # over the budget: one hit
            pass
        with tracer.start_as_current_span("chat", attributes=_chat("no-such-model")):  # unpriced
            pass
    parent = _totals(reader)
    assert parent[A.METRIC_UNPRICED] == 1 and parent[A.METRIC_BUDGET_EXCEEDED] == 1

    def child() -> dict[str, float]:
        return _totals(reader)

    seen = _in_child(child)
    assert seen == {}


def test_under_delta_temporality_a_forked_childs_deltas_are_its_own_spend() -> None:
    """Delta temporality (Datadog, Dynatrace, New Relic): the SDK reports each reading minus
    the last one its reader took, and the fork copies that last reading. A child whose totals
    started from zero reported its first call minus all its parent had reported: negative
    spend on a monotonic counter (-$0.0045 + ... here)."""
    tracer, reader = _pipeline(Budget(max_cost_usd=0.001), delta=True)
    for _ in range(2):
        with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("chat", attributes=_chat()):
                pass
            with tracer.start_as_current_span("chat", attributes=_chat("no-such-model")):
                pass
    parent = _totals(reader)  # the parent's reader takes its reading (its periodic export)
    assert parent[A.METRIC_COST] == pytest.approx(2 * CALL_USD)
    assert parent[A.METRIC_UNPRICED] == 2 and parent[A.METRIC_BUDGET_EXCEEDED] == 2
    with tracer.start_as_current_span("chat", attributes=_chat()):  # spent after it, before the fork
        pass

    def child() -> dict[str, float]:
        with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("chat", attributes=_chat()):
                pass
            with tracer.start_as_current_span("chat", attributes=_chat("no-such-model")):
                pass
        return _totals(reader)

    seen = _in_child(child)
    assert seen[A.METRIC_COST] == pytest.approx(CALL_USD)  # its own call only
    assert seen[A.METRIC_UNPRICED] == 1 and seen[A.METRIC_BUDGET_EXCEEDED] == 1
    # the parent's next delta has the call it made before forking; nothing counted twice or lost
    assert _totals(reader)[A.METRIC_COST] == pytest.approx(CALL_USD)


@pytest.mark.parametrize("delta", [False, True], ids=["cumulative", "delta"])
def test_a_forked_childs_pipeline_health_counts_are_its_own(delta: bool) -> None:
    """The processor's and the roll-up's stats (read by watch_processor / watch_rollup) count
    from the fork in the child, as the cost counters do: the parent's late spans are not
    reported again by every worker."""
    reader = InMemoryMetricReader(preferred_temporality=_DELTA if delta else None)
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    rollup = TraceCostExporter(InMemorySpanExporter())
    processor = CostSpanProcessor(SimpleSpanProcessor(rollup), catalog=CATALOG, settings=CostSettings())
    metrics.watch_processor(processor)
    metrics.watch_rollup(rollup)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")

    def late_span() -> None:  # a stream read on after its request's root ended
        root = tracer.start_span("request", context=Context())
        stream = tracer.start_span("chat", context=trace_api.set_span_in_context(root), attributes=_chat())
        root.end()
        stream.end()

    late_span()
    assert _totals(reader)[A.METRIC_ROLLUP_LATE_SPANS] == 1  # the parent's reading
    late_span()  # after it, before the fork

    def child() -> list[float]:
        before = _totals(reader).get(A.METRIC_ROLLUP_LATE_SPANS)
        late_span()
        return [before, _totals(reader)[A.METRIC_ROLLUP_LATE_SPANS]]

    # cumulative: from zero in the child; delta: what came since the parent's last reading
    # (which the fork copied), the child's own only, and never negative
    assert _in_child(child) == [0, 1]
    # the parent goes on: its second late span, in its next reading
    assert _totals(reader)[A.METRIC_ROLLUP_LATE_SPANS] == (1 if delta else 2)
