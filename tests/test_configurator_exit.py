"""Zero-code at process exit: the configurator's span flushes.

The flush used to run only from the threading module's exit hooks, which run before Python
joins the non-daemon threads: a thread still working after ``main`` returned ended its spans
later, and they were priced only by the TracerProvider's shutdown, after the MeterProvider's
(atexit runs last-registered first): their spend never reached the cost metrics.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from support.apps import clean_env
from support.console import json_objects, metric_points
from support.net import HangingServer, free_port

#: A non-daemon thread that starts its agent only once the interpreter is exiting: after the
#: last threading exit hook (they run last-registered first, so the one put first in the list
#: runs after genai-cost's early flush), and so while Python joins the non-daemon threads.
LATE_THREAD_APP = textwrap.dedent(
    """
    import sys
    import threading
    from opentelemetry import trace

    tracer = trace.get_tracer("app")
    exiting = threading.Event()
    threading._threading_atexits.insert(0, exiting.set)

    def agent():
        if not exiting.wait(60):
            sys.exit("never told of the exit")
        with tracer.start_as_current_span("invoke_agent late", attributes={"gen_ai.operation.name": "invoke_agent"}):
            for _ in range(3):
                with tracer.start_as_current_span("chat gpt-4o", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10000,
                    "gen_ai.usage.output_tokens": 1000}):
                    pass
        print("agent done", file=sys.stderr, flush=True)

    threading.Thread(target=agent, name="late-agent").start()
    print("main returns", file=sys.stderr, flush=True)
    """
)


@pytest.mark.skipif(not hasattr(threading, "_threading_atexits"), reason="the app hooks the threading exit hooks")
def test_spend_ended_by_a_non_daemon_thread_after_main_returns_reaches_the_metrics(tmp_path: Path):
    app = tmp_path / "app.py"
    app.write_text(LATE_THREAD_APP)
    env = clean_env(
        OTEL_PYTHON_CONFIGURATOR="genai_cost",
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="console",
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRIC_EXPORT_INTERVAL="600000",  # one export: the MeterProvider's, at its shutdown
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(app)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    # The order the test relies on: main returned, then the thread ran.
    assert done.stderr.index("main returns") < done.stderr.index("agent done"), done.stderr
    # The spans were exported with their costs (the TracerProvider's shutdown does that anyway)...
    [root] = [o for o in json_objects(done.stdout) if o.get("name") == "invoke_agent late"]
    assert root["attributes"]["gen_ai.trace.cost.total_usd"] == pytest.approx(0.105)
    # ... and, the point, their spend reached the metrics before the MeterProvider shut down.
    [usage] = metric_points(done.stdout, "gen_ai.cost.usage")
    assert usage["value"] == pytest.approx(0.105)
    [per_trace] = metric_points(done.stdout, "gen_ai.cost.trace")
    assert per_trace["count"] == 1 and per_trace["sum"] == pytest.approx(0.105)


def _pipeline(endpoint: str):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from genai_cost import CostSpanProcessor, TraceCostExporter

    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=20)
    processor = CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(exporter), max_export_batch_size=8))
    provider = TracerProvider(shutdown_on_exit=False)  # its exit flush would wait on the backend too
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("app")
    for _ in range(16):
        with tracer.start_as_current_span("step"):
            pass
    return exporter, processor, provider


def _stop(exporter, provider) -> None:
    """Stop the abandoned flush (it retries with jitter until its exporter is shut down)."""
    exporter.shutdown()
    provider.shutdown()
    for thread in [t for t in threading.enumerate() if t.name == "genai-cost-exit-flush"]:
        thread.join(timeout=15)
    assert not [t for t in threading.enumerate() if t.name == "genai-cost-exit-flush" and t.is_alive()]


def test_the_exit_flush_warning_covers_a_backend_that_refuses_the_connection(caplog):
    """It said "the backend is not answering" when nothing listened at all (connection
    refused: the OTLP exporter retries until its own timeout)."""
    from genai_cost.configurator import _flush_spans

    exporter, processor, provider = _pipeline(f"http://127.0.0.1:{free_port()}/v1/traces")
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost"):
            flushed = _flush_spans(processor, timeout_s=1.0)
    finally:
        _stop(exporter, provider)
    assert "spans not flushed within 1 s at exit; the trace backend is unreachable or not answering" in caplog.text
    assert flushed is False  # said to the caller too (the late flush does not wait again)


def test_once_the_early_exit_flush_gave_up_the_late_one_does_not_wait_again(caplog):
    """The late flush (after the non-daemon threads) must not double the exit time when the
    backend hangs: it only prices what ended since, and says nothing more."""
    from genai_cost.configurator import _ExitFlush

    with HangingServer() as backend:
        exporter, processor, provider = _pipeline(f"http://127.0.0.1:{backend.port}/v1/traces")
        flush = _ExitFlush(processor, timeout_s=1.0)
        with caplog.at_level(logging.WARNING, logger="genai_cost"):
            flush.early()
            started = time.monotonic()
            flush.late()
            waited = time.monotonic() - started
    _stop(exporter, provider)  # once the backend is gone (its connections closed)
    assert waited < 0.9, f"the late exit flush waited {waited:.1f} s"
    assert caplog.text.count("spans not flushed") == 1, caplog.text
