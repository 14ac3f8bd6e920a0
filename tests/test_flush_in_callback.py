"""A budget callback that flushes telemetry must not hang the export thread.

With deferred pricing, the span that crosses a limit is priced when the exporter
first reads it, on the batch processor's thread and inside its export, which
holds the SDK's non-reentrant export lock. A callback calling
``provider.force_flush()`` there (a natural thing to write: "get the evidence out
before the agent stops") used to wait on that lock for ever: the export thread
hung, and every later export and flush with it.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
}


def _in_thread(work, timeout_s: float) -> bool:
    """Whether ``work`` returned within ``timeout_s`` (run on a daemon thread, so a
    hang fails the test instead of the whole run)."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(timeout_s)


def test_a_budget_callback_flushing_from_the_export_thread_does_not_hang_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = InMemorySpanExporter()
    budget = Budget(max_cost_usd=0.001)
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=50),
            catalog=CATALOG,
            settings=CostSettings(),
            listeners=[budget],
        )
    )
    flushes: list[tuple[str, bool]] = []

    def flush_on_hit(limit: str, spend: float, limit_value: float) -> None:
        flushes.append((threading.current_thread().name, provider.force_flush(timeout_millis=2_000)))

    budget.add_exceeded_callback(flush_on_hit)
    tracer = provider.get_tracer("test")
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        with tracer.start_as_current_span("invoke_agent"):
            with tracer.start_as_current_span("chat gpt-4o", attributes=CALL):
                pass
        # Nothing on this thread reads the budget: the batch processor's thread prices the
        # spans as it exports them (within its 50 ms delay) and runs the callback there.
        deadline = time.monotonic() + 10
        while not memory.get_finished_spans() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _in_thread(lambda: provider.force_flush(timeout_millis=5_000), 10), "the export thread hung"
    ((thread, passed_on),) = flushes
    assert thread != threading.current_thread().name  # it did run inside the export
    assert passed_on is False  # not passed on to the batch processor that was exporting
    assert "was not passed on" in caplog.text
    (call,) = [span for span in memory.get_finished_spans() if span.name == "chat gpt-4o"]
    assert call.attributes[A.COST_TOTAL] == pytest.approx(0.0045)
    # and later spans are still exported
    with tracer.start_as_current_span("after", attributes=CALL):
        pass
    assert _in_thread(lambda: provider.force_flush(timeout_millis=5_000), 10)
    assert [span.name for span in memory.get_finished_spans()][-1] == "after"
    assert _in_thread(provider.shutdown, 10)


def test_a_flush_from_a_callback_run_by_a_budget_check_is_passed_on() -> None:
    """On the application's thread (a check_budget that priced the span), no export is
    under way there, so the flush goes through."""
    memory = InMemorySpanExporter()
    budget = Budget(max_cost_usd=0.001)
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=3_600_000),
            catalog=CATALOG,
            settings=CostSettings(),
            listeners=[budget],
        )
    )
    flushes: list[bool] = []
    budget.add_exceeded_callback(lambda *_: flushes.append(provider.force_flush(timeout_millis=5_000)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent"):
        with tracer.start_as_current_span("chat gpt-4o", attributes=CALL):
            pass
        assert budget.spend() is not None  # prices the ended call here, on this thread
    assert flushes == [True]
    assert [span.name for span in memory.get_finished_spans()] == ["chat gpt-4o"]
    provider.shutdown()
