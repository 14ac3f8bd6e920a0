"""Issue 5: a backend that is down (closed port) or hangs (accepts, never answers).

The application's span path must never block or fail: ``span.end()`` stays
fast while the SDK's exporter retries and then drops, the roll-up's state
stays bounded by ``max_traces``, and shutdown finishes within the exporter's
timeout.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from genai_cost import CostSpanProcessor, TraceCostExporter
from support.net import HangingServer, free_port

pytestmark = pytest.mark.integration

TRACES = 600
SPANS_PER_TRACE = 3  # root + 2 priced calls
MAX_TRACES = 50


def _exporter(protocol: str, port: int):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=1)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=1)


@contextmanager
def _backend(kind: str) -> Iterator[int]:
    if kind == "closed port":
        yield free_port()  # nothing listens there
    else:
        with HangingServer() as server:
            yield server.port


def _shutdown_within(provider: TracerProvider, limit_s: float) -> float:
    started = time.monotonic()
    worker = threading.Thread(target=provider.shutdown, daemon=True)
    worker.start()
    worker.join(limit_s)
    assert not worker.is_alive(), f"provider.shutdown() still running after {limit_s}s"
    return time.monotonic() - started


@pytest.mark.parametrize("kind", ["closed port", "hanging server"])
@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_span_path_never_blocks_and_rollup_stays_bounded(kind: str, protocol: str) -> None:
    with _backend(kind) as port:
        rollup = TraceCostExporter(_exporter(protocol, port), max_traces=MAX_TRACES, idle_timeout_s=60)
        batch = BatchSpanProcessor(
            rollup, max_queue_size=512, max_export_batch_size=128, schedule_delay_millis=50, export_timeout_millis=2000
        )
        processor = CostSpanProcessor(batch)
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("tests.integration.backend_down")

        end_times: list[float] = []
        open_counts: list[int] = []
        started = time.monotonic()
        for number in range(TRACES):
            # half the traces continue a remote parent (their root is remote: they never see one locally)
            context = None
            if number % 2:
                remote = SpanContext(trace_id=number + 1, span_id=number + 1, is_remote=True, trace_flags=TraceFlags(1))
                context = set_span_in_context(NonRecordingSpan(remote))
            root = tracer.start_span("handle request", context=context)
            parent = set_span_in_context(root)
            for model in ("gpt-4o", "gpt-4o-mini"):
                span = tracer.start_span(
                    f"chat {model}",
                    context=parent,
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": model,
                        "gen_ai.usage.input_tokens": 1000,
                        "gen_ai.usage.output_tokens": 100,
                    },
                )
                t0 = time.perf_counter()
                span.end()
                end_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            root.end()
            end_times.append(time.perf_counter() - t0)
            open_counts.append(rollup.open_traces)
        app_seconds = time.monotonic() - started

        # The application did all its work while the backend was unreachable...
        assert len(end_times) == TRACES * SPANS_PER_TRACE
        # ...and never waited on it: ending a span is a queue append, never an export.
        assert statistics.median(end_times) < 0.001, statistics.median(end_times)
        # A wait on the hanging backend would last the exporter's 1 s timeout; on a loaded
        # machine, being descheduled (or waiting for the GIL) alone made one end() take 160 ms.
        assert max(end_times) < 0.5, max(end_times)
        assert app_seconds < 10, app_seconds
        # The roll-up never holds more than max_traces running traces and as many finished
        # ones (held apart until the idle timeout), though it saw hundreds.
        assert max(open_counts) <= 2 * MAX_TRACES
        assert processor.stats.priced == TRACES * 2
        assert processor.stats.internal_errors == 0
        # Shutdown gives up on the dead backend within the exporter's timeouts.
        took = _shutdown_within(provider, 30)
        assert rollup.open_traces <= 2 * MAX_TRACES
        # the bound was exercised: the roll-up saw far more traces than it may hold
        assert rollup.stats.traces_completed > 2 * MAX_TRACES, rollup.stats
    print(
        f"\n{kind}/{protocol}: {len(end_times)} span.end() median {statistics.median(end_times) * 1e6:.0f} us, "
        f"max {max(end_times) * 1e3:.1f} ms; app {app_seconds:.2f}s; shutdown {took:.1f}s; "
        f"roll-up saw {rollup.stats.traces_completed} traces, held <= 2 x {MAX_TRACES}"
    )


_BILLABLE = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 10,
    "gen_ai.usage.output_tokens": 1,
}


def test_rollup_idle_expiry_with_dead_backend() -> None:
    """Traces whose root never arrives are dropped after the idle timeout, not kept forever."""
    clock = [0.0]
    rollup = TraceCostExporter(
        _exporter("http", free_port()), max_traces=10_000, idle_timeout_s=5, clock=lambda: clock[0]
    )
    provider = TracerProvider()
    batch = BatchSpanProcessor(rollup, schedule_delay_millis=20, export_timeout_millis=1000)
    provider.add_span_processor(CostSpanProcessor(batch))
    tracer = provider.get_tracer("tests.integration.backend_down")
    for number in range(200):
        remote = SpanContext(trace_id=10_000 + number, span_id=1, is_remote=True, trace_flags=TraceFlags(1))
        # a call under a remote parent: its trace is held for the spans that may still come
        # (a trace with nothing billable would be let go at once)
        with tracer.start_as_current_span(
            "chat", context=set_span_in_context(NonRecordingSpan(remote)), attributes=_BILLABLE
        ):
            pass
    provider.force_flush(5_000)
    held_before = rollup.open_traces
    clock[0] += 6.0
    with tracer.start_as_current_span("one more", attributes=_BILLABLE):
        pass
    provider.force_flush(5_000)
    assert held_before == 200
    assert rollup.open_traces == 1
    _shutdown_within(provider, 30)
