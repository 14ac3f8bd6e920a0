"""User code that genai-cost calls on the export thread (a budget's exceeded callback, a
listener, a cost layer, ``on_trace_complete``) may raise anything. A chaos audit: a callback
calling ``sys.exit()`` ended the batch processor's export thread (46 of 10,061 spans exported,
nothing logged or counted), and a failing callback logged one traceback per limit hit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

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


_GEVENT_REQUEST = """
from gevent import monkey; monkey.patch_all()
import logging, time
import gevent
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from genai_cost import Budget, CostSpanProcessor, TraceCostExporter
from support.spans import chat_attributes
logging.disable(logging.CRITICAL)

def alert(limit, spend, value):
    gevent.sleep(2.0)  # posting the alert on a slow network

budget = Budget(max_cost_usd=0.000001, on_exceeded=alert)
provider = TracerProvider()
provider.add_span_processor(
    CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())), listeners=[budget])
)
tracer = provider.get_tracer("app")

def request():
    with tracer.start_as_current_span("POST /chat"):
        with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
            pass
    gevent.sleep(1.0)

def with_deadline():
    started = time.monotonic()
    try:
        with gevent.Timeout(0.2):
            request()
    except gevent.Timeout:
        return f"timed out {time.monotonic() - started:.1f}"
    return "ran past its deadline"

print(gevent.spawn(with_deadline).get())
worker = gevent.spawn(request)
gevent.sleep(0.05)  # in the callback
worker.kill(block=True, timeout=0.5)
print("killed" if worker.dead else "still running")
print("callback errors", budget.callback_errors)
"""


def test_a_request_greenlets_deadline_and_kill_go_through_a_callback_genai_cost_guards(tmp_path: Path) -> None:
    """Under gevent (gunicorn -k gevent, Celery's gevent pool) a request greenlet is a thread
    other than the main one to threading: its gevent.Timeout, raised inside a budget
    callback doing I/O, was caught as the callback's failure, and the request ran on past its
    deadline; greenlet.kill() left it running."""
    pytest.importorskip("gevent")
    tests = Path(__file__).resolve().parent
    script = tmp_path / "gevent_request.py"
    script.write_text(_GEVENT_REQUEST, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(tests)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["timed out 0.2", "killed", "callback errors 0"], run.stdout
