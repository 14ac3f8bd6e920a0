"""A fork while another thread holds one of genai-cost's locks must not freeze the
child (prefork servers: gunicorn, Celery, multiprocessing with fork).

Each test holds a component's lock on a thread of the parent, forks, and in the
child uses the component through its public API under an alarm: without fresh
locks the child would wait forever on the lock inherited held.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
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


# ------------------------------------------- one at-fork hook, not one per component


def test_one_at_fork_hook_is_registered_however_many_components_are_made() -> None:
    """``os.register_at_fork`` cannot unregister: a hook per component (each catalog
    loaded, each exporter, processor, budget, metrics) piled up for the life of the
    process, 403 of them after 200 catalogs and 200 exporters were made and dropped."""
    script = textwrap.dedent(
        """
        import gc, json, os

        ours = []
        real = os.register_at_fork

        def counting(**hooks):
            for hook in hooks.values():
                if (getattr(hook, "__module__", None) or "").startswith("genai_cost"):
                    ours.append(hook)
            real(**hooks)

        os.register_at_fork = counting
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from genai_cost import Budget, CostSettings, CostSpanProcessor, TraceCostExporter
        from genai_cost.metrics import CostMetrics
        from genai_cost.pricing import Catalog

        catalog = Catalog.load()
        for _ in range(50):
            Catalog.load()
            TraceCostExporter(InMemorySpanExporter())
            Budget(max_cost_usd=1.0)
            CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), catalog=catalog, settings=CostSettings())
        CostMetrics(MeterProvider())
        gc.collect()
        print(json.dumps(len(ours)))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 1


def test_the_hooks_of_dropped_components_are_dropped_with_them() -> None:
    from genai_cost.pricing._fork import AFTER_FORK

    gc.collect()
    before = len(AFTER_FORK)
    kept = [TraceCostExporter(InMemorySpanExporter()) for _ in range(3)]
    for _ in range(100):
        TraceCostExporter(InMemorySpanExporter())
        Budget(max_cost_usd=1.0)
    gc.collect()
    assert len(AFTER_FORK) == before + len(kept)


class _Owner:
    def __init__(self, name: int, ran: list[int]) -> None:
        self.name = name
        self.ran = ran

    def after_fork(self) -> None:
        self.ran.append(self.name)


def test_a_forked_child_runs_the_live_components_hooks_in_the_order_they_registered() -> None:
    from genai_cost.pricing._fork import in_child_after_fork

    ran: list[int] = []
    owners = [_Owner(name, ran) for name in range(5)]
    for owner in owners:
        in_child_after_fork(owner, _Owner.after_fork)
    del owners[3], owners[1]
    gc.collect()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the hooks have run
        try:
            os.write(writer, json.dumps(ran).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        child_ran = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert child_ran == [0, 2, 4]
    assert ran == []  # the parent's hooks do not run


def test_a_hook_bound_to_its_owner_is_refused_as_it_would_keep_the_owner_alive() -> None:
    from genai_cost.pricing._fork import in_child_after_fork

    owner = _Owner(0, [])
    with pytest.raises(TypeError, match="not a method bound"):
        in_child_after_fork(owner, owner.after_fork)  # type: ignore[arg-type]


def test_a_catalog_made_after_many_dropped_ones_still_gets_a_fresh_lock_in_the_child() -> None:
    for _ in range(20):
        Catalog.load()
    gc.collect()
    catalog = Catalog.load()
    usage = TokenUsage(input_tokens=1000, output_tokens=10)
    assert _fork_while_held(catalog._cache_lock, lambda: catalog.price(usage, "gpt-4o-mini", "openai")) == 0
