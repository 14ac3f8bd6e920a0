"""The processor's own work and memory stay bounded whatever the application does: its maps
keep their bound for every shape of call, and one settle prices what was queued when it
began, not what other threads keep ending meanwhile (found by the concurrency audit)."""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor
from genai_cost._call_records import MAX_CALLS as _MAX_RESPONSES
from genai_cost.pricer import SpanCost
from genai_cost.usage import SpanUsage

_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 10,
}


class _Dropping(InMemorySpanExporter):
    """Keeps nothing, so that only the processor's own state grows."""

    def export(self, spans):  # type: ignore[no-untyped-def]
        for span in spans:
            span.attributes  # priced as an exporter reading it would
        return super().export(())


def test_call_records_stay_bounded_when_every_call_is_its_own_root():
    """A plain instrumented app: each chat completion a root span with a response id. The
    record of each id was kept for good (184 bytes a call: 37 MB after 200,000 calls): the
    bound was only checked on a path these calls return before."""
    processor = CostSpanProcessor(SimpleSpanProcessor(_Dropping()))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("openai")
    for number in range(_MAX_RESPONSES + 5_000):
        tracer.start_span("chat gpt-4o", attributes={**_CHAT, "gen_ai.response.id": f"chatcmpl-{number}"}).end()
    assert processor.stats.priced == _MAX_RESPONSES + 5_000
    assert len(processor._calls._records) <= _MAX_RESPONSES + 2
    provider.shutdown()


class _EndsMoreSpans:
    """A listener that, the first time it is told, has another thread end spans and waits
    until they are queued: spans ended by the application while a settle runs."""

    def __init__(self, tracer, count: int) -> None:  # type: ignore[no-untyped-def]
        self._tracer = tracer
        self._count = count
        self.told = 0

    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> None:
        self.told += 1
        if self.told == 1:
            worker = threading.Thread(target=self._end_spans)
            worker.start()
            worker.join(10)

    def _end_spans(self) -> None:
        for _ in range(self._count):
            self._tracer.start_span("chat gpt-4o", attributes=_CHAT).end()


class _Holding(SpanProcessor):
    """A processor downstream that keeps the spans without reading them: nothing prices
    them until the test settles."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def test_a_settle_prices_what_was_queued_when_it_began_and_no_more():
    """While the application ended spans faster than they were priced, one settle went on
    pricing them: a force_flush (or a budget check) waited for as long as the load lasted."""
    holding = _Holding()
    processor = CostSpanProcessor(holding)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("app")
    listener = _EndsMoreSpans(tracer, count=5)
    processor.add_listener(listener)
    for _ in range(3):
        tracer.start_span("chat gpt-4o", attributes=_CHAT).end()
    assert listener.told == 0  # queued, not priced yet (reading processor.stats would settle)

    processor.settle()  # the first span priced has another thread end 5 more
    assert len(holding.spans) == 8
    assert listener.told == 3

    processor.settle()
    assert listener.told == 8
    assert processor.stats.spans == 8
    assert all(span.attributes["gen_ai.cost.total_usd"] > 0 for span in holding.spans)
    provider.shutdown()


def test_distinct_huge_model_and_tool_names_are_not_kept_in_the_memos():
    """The memos are bounded by count: 8,192 resolutions of distinct 16 KB model names (a
    prompt put in the model attribute, or hostile input) held about 290 MB."""
    import tracemalloc

    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from genai_cost import CostSettings, TraceCostExporter

    class Dropping(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    processor = CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(Dropping())), settings=CostSettings())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")

    def spans(count: int, start: int) -> None:
        for n in range(start, start + count):
            name = f"{n:08d}" + "x" * 16_000
            call = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": name,
                    "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 1}
            with tracer.start_as_current_span("chat", attributes=call):
                pass
            with tracer.start_as_current_span("tool", attributes={"gen_ai.operation.name": "execute_tool",
                                                                  "gen_ai.tool.name": name}):
                pass

    spans(200, 0)  # warm: plans, the catalog's first resolutions
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    spans(2_000, 200)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 8_000_000, grown  # kept, 2,000 names would hold 64 MB or more
    assert processor.stats.unpriced == 4_400  # every call and tool flagged, as before
