"""A fork while another thread holds one of genai-cost's locks must not freeze the
child (prefork servers: gunicorn, Celery, multiprocessing with fork).

Each test holds a component's lock on a thread of the parent, forks, and in the
child uses the component through its public API under an alarm: without fresh
locks the child would wait forever on the lock inherited held.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, TraceCostExporter
from genai_cost.metrics import CostMetrics
from genai_cost.pricing import Catalog, TokenUsage

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")


def _fork_while_held(lock: object, use: Callable[[], object]) -> int:
    """The child's exit status: 0 when ``use()`` returned, 3 when the alarm fired."""
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with lock:  # type: ignore[attr-defined]
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        pid = os.fork()
        if pid == 0:  # the child: only this thread exists; the lock was held when it forked
            code = 1
            try:
                signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
                signal.alarm(5)
                use()
                code = 0
            finally:
                os._exit(code)
    finally:
        release.set()
        holder.join()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_the_roll_up_works_in_a_child_forked_while_its_lock_was_held() -> None:
    rollup = TraceCostExporter(InMemorySpanExporter())
    assert _fork_while_held(rollup._lock, lambda: rollup.totals(1)) == 0


def test_the_budget_works_in_a_child_forked_while_its_lock_was_held() -> None:
    budget = Budget(max_cost_usd=1.0)
    assert _fork_while_held(budget._lock, lambda: budget.spend(1)) == 0


def test_the_metrics_work_in_a_child_forked_while_their_locks_were_held() -> None:
    metrics = CostMetrics(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    assert _fork_while_held(metrics._totals_lock, lambda: metrics._add_cost((None, None, None, "llm"), 1.0)) == 0
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext

    from genai_cost.rollup import TraceTotals

    root = ReadableSpan(name="root", context=SpanContext(1, 2, is_remote=False))
    assert _fork_while_held(metrics._lock, lambda: metrics.on_trace_complete(TraceTotals(1), root)) == 0


def test_the_catalog_prices_in_a_child_forked_while_its_cache_lock_was_held() -> None:
    catalog = Catalog.load()
    usage = TokenUsage(input_tokens=1000, output_tokens=10)
    assert _fork_while_held(catalog._cache_lock, lambda: catalog.price(usage, "gpt-4o-mini", "openai")) == 0
