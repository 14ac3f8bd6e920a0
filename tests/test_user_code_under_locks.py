"""User code that genai-cost calls while it holds a lock may call genai-cost back.

A trace cost layer runs while the roll-up holds its lock; one that looks at the trace's
running totals (``TraceCostExporter.totals``), a natural thing for it to do, hung the
application thread forever (with a simple processor: ``span.end()`` never returned) or
the export thread (with a batch processor: every later span dropped)."""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter, TraceTotals
from support.spans import chat_attributes


class _LooksAtTheTotals:
    """A trace layer that charges infrastructure only to traces that spent anything."""

    def __init__(self) -> None:
        self.exporter: TraceCostExporter | None = None
        self.seen: list[float] = []

    def trace_costs(self, root: ReadableSpan, totals: TraceTotals) -> dict[str, float]:
        assert self.exporter is not None
        running = self.exporter.totals(totals.trace_id)
        self.seen.append(running.total_usd if running is not None else -1.0)
        return {"infra": 0.01 if running is not None and running.total_usd > 0 else 0.0}


def _run_one_trace(batch: bool) -> tuple[InMemorySpanExporter, _LooksAtTheTotals, bool]:
    memory = InMemorySpanExporter()
    layer = _LooksAtTheTotals()
    exporter = TraceCostExporter(memory, trace_layers=[layer])
    layer.exporter = exporter
    inner: SpanProcessor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(inner))
    tracer = provider.get_tracer("test")

    def trace() -> None:
        with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-4o", "openai")):
                pass
        provider.force_flush(5_000)

    worker = threading.Thread(target=trace, daemon=True)
    worker.start()
    worker.join(10)
    finished = not worker.is_alive()
    if finished:
        provider.shutdown()
    return memory, layer, finished


def test_a_trace_layer_may_read_the_running_totals_with_a_simple_processor() -> None:
    memory, layer, finished = _run_one_trace(batch=False)
    assert finished, "span.end() blocked: the layer's totals() waited on the roll-up's own lock"
    assert layer.seen == [0.0035]  # gpt-4o, 1,000 in at $2.50 / M and 100 out at $10 / M
    (root,) = [s for s in memory.get_finished_spans() if s.name == "invoke_agent"]
    assert root.attributes["gen_ai.trace.cost.infra_usd"] == 0.01


def test_a_trace_layer_may_read_the_running_totals_with_a_batch_processor() -> None:
    memory, layer, finished = _run_one_trace(batch=True)
    assert finished, "the export thread blocked: the layer's totals() waited on the roll-up's own lock"
    (root,) = [s for s in memory.get_finished_spans() if s.name == "invoke_agent"]
    assert root.attributes["gen_ai.trace.cost.infra_usd"] == 0.01


def test_the_application_does_not_wait_for_another_threads_pricing() -> None:
    """Past its queue bound the application thread prices its backlog itself; while the export
    thread is pricing (here: in a listener that is slow), it must not wait for it. The listener
    is held until the application has ended more spans than the bound: before, ``span.end()``
    waited on the pricing lock, and nothing here ever released it."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    in_listener = threading.Event()
    release = threading.Event()

    class Reader(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            for span in spans:
                dict(span.attributes or {})  # reading prices (on the export thread)
            return SpanExportResult.SUCCESS

    class HeldListener:
        def on_span_cost(self, span, usage, cost):  # type: ignore[no-untyped-def]
            if threading.current_thread() is not threading.main_thread() and not release.is_set():
                in_listener.set()
                release.wait(10)
            return

    provider = TracerProvider()
    processor = CostSpanProcessor(
        BatchSpanProcessor(Reader(), schedule_delay_millis=10), listeners=[HeldListener()], max_pending=4
    )
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-4o", "openai")):
        pass
    assert in_listener.wait(10), "the export thread never priced the first span"

    def end_more_spans() -> None:
        for _ in range(5):  # 3 queued items each (its start, its parent, its end): past the bound
            # of 4, short of the hard bound (16), where waiting is the memory's price
            with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-4o", "openai")):
                pass

    worker = threading.Thread(target=end_more_spans, daemon=True)
    worker.start()
    worker.join(5)
    ended = not worker.is_alive()
    release.set()
    worker.join(10)
    provider.shutdown()
    assert ended, "span.end() waited for the export thread's pricing"
    assert processor.stats.priced == 6  # nothing lost: every span priced in the end
