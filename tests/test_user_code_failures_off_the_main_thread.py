"""User code that genai-cost calls on the export thread (a budget's exceeded callback, a
listener, a cost layer, ``on_trace_complete``) may raise anything. A chaos audit: a callback
calling ``sys.exit()`` ended the batch processor's export thread (46 of 10,061 spans exported,
nothing logged or counted), and a failing callback logged one traceback per limit hit."""

from __future__ import annotations

import logging
import sys
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, CostSpanProcessor, TraceCostExporter
from support.spans import chat_attributes


def _run(budget: Budget, traces: int, **exporter_options: object) -> list[str]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            BatchSpanProcessor(TraceCostExporter(exporter, **exporter_options), schedule_delay_millis=10),  # type: ignore[arg-type]
            listeners=[budget],
        )
    )
    tracer = provider.get_tracer("agent")
    for _ in range(traces):
        with tracer.start_as_current_span("agent"):
            with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
                pass
    # Priced and exported on the export thread, where the callbacks then run (a flush or
    # shutdown on this, the main thread, would run them here, and a SystemExit would go on
    # up to the application, as it should).
    deadline = time.monotonic() + 20
    while len(exporter.get_finished_spans()) < 2 * traces and time.monotonic() < deadline:
        time.sleep(0.02)
    names = [span.name for span in exporter.get_finished_spans()]
    provider.shutdown()
    return names


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()], ids=type)
def test_a_callback_raising_anything_on_the_export_thread_stops_no_export(raised: BaseException) -> None:
    budget = Budget(max_cost_usd=0.001)

    def stop(name: str, spend: float, limit: float) -> None:
        raise raised

    budget.add_exceeded_callback(stop)
    names = _run(budget, 300)
    assert len(names) == 600  # every span exported
    assert budget.callback_errors == 300


def test_on_trace_complete_raising_system_exit_stops_no_export() -> None:
    def complete(totals: object, root: object) -> None:
        sys.exit(1)

    names = _run(Budget(), 200, on_trace_complete=complete)
    assert len(names) == 400


def test_a_failing_callback_is_logged_at_its_first_failure_then_every_1000th(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="genai_cost")
    budget = Budget(max_cost_usd=0.001)

    def broken(name: str, spend: float, limit: float) -> None:
        raise RuntimeError("pager down")

    budget.add_exceeded_callback(broken)
    _run(budget, 1_500)
    assert budget.callback_errors == 1_500
    said = [record.getMessage() for record in caplog.records if "budget callback" in record.getMessage()]
    assert len(said) == 2, said
    assert "budget callback " in said[0] and "broken failed (1 budget callback failures so far" in said[0]
    assert "(1000 budget callback failures so far" in said[1]


def test_a_failing_on_trace_complete_is_counted_and_logged_at_its_first_failure_then_every_1000th(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="genai_cost")

    def complete(totals: object, root: object) -> None:
        raise RuntimeError("warehouse down")

    names = _run(Budget(), 1_200, on_trace_complete=complete)
    assert len(names) == 2_400
    said = [record.getMessage() for record in caplog.records if "on_trace_complete" in record.getMessage()]
    assert len(said) == 2, said
    assert "(1 roll-up failures so far)" in said[0] and "(1000 roll-up failures so far)" in said[1]
