"""Cost per span of genai-cost, measured side by side with the bare SDK.

Three pipelines run the same workload, interleaved round by round so machine
noise hits them alike:

  (a) bare:        TracerProvider + BatchSpanProcessor(no-op exporter)
  (b) genai-cost:  CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(no-op)))
  (c) naive:       (a) plus a processor calling genai_prices.calc_price on every span

With --plumbing, a fourth pipeline, (b) with nothing priced (spans are queued,
handed on as CostedSpans and rolled up, but never read for usage or priced),
shows what the plumbing alone costs, and so how much of (b) is pricing.

Each round creates and ends the spans, then force_flushes. Two CPU figures:
the application thread's (the thread creating and ending the spans, flush
excluded: what the agent's request path pays) and the whole process's (both
threads, flush included: genai-cost prices on the export thread, so all of its
work is in this one). Figures are medians of per-span microseconds over the
rounds; what each pipeline adds to the bare SDK is the median of differences
paired round by round (the pipelines of one round run back to back).

Also measured: memory per open trace held by the roll-up (tracemalloc).

Run:  python benchmarks/bench_processor.py [--rounds 15] [--traces 200] [--plumbing]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog


class NoOpExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class CalcPriceProcessor(SpanProcessor):
    """The obvious approach: genai_prices.calc_price on every ending span."""

    def __init__(self) -> None:
        import genai_prices

        self._gp = genai_prices

    def on_end(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
        if not model:
            return
        usage = self._gp.Usage(
            input_tokens=int(attributes.get("gen_ai.usage.input_tokens", 0) or 0),
            output_tokens=int(attributes.get("gen_ai.usage.output_tokens", 0) or 0),
            cache_read_tokens=int(attributes.get("gen_ai.usage.cache_read.input_tokens", 0) or 0),
        )
        try:
            self._gp.calc_price(usage, str(model), provider_id=str(attributes.get("gen_ai.provider.name", "")) or None)
        except LookupError:
            pass


class PlumbingOnly(CostSpanProcessor):
    """A diagnostic, not a configuration: every span takes genai-cost's path, and none is priced."""

    def _enrich(self, span, state):  # type: ignore[no-untyped-def]
        return None


def chat_attributes(step: int) -> dict[str, object]:
    """What the official OpenAI instrumentation writes on a chat span."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 1000 + step * 700,
        "gen_ai.usage.output_tokens": 200,
        "gen_ai.usage.cache_read.input_tokens": 512,
        "server.address": "api.openai.com",
    }


def agent_trace(tracer, steps: int = 10) -> None:  # type: ignore[no-untyped-def]
    """One research-agent trace: a root, `steps` chat spans, a tool span every other step."""
    with tracer.start_as_current_span(
        "invoke_agent research", attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "r"}
    ):
        for step in range(steps):
            with tracer.start_as_current_span(
                "chat gpt-4o",
                kind=SpanKind.CLIENT,
                attributes=chat_attributes(step),
            ):
                pass
            if step % 2:
                with tracer.start_as_current_span(
                    "execute_tool web_search",
                    attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search"},
                ):
                    pass


def instrumented_app_trace(tracer, steps: int = 10) -> None:  # type: ignore[no-untyped-def]
    """What an auto-instrumented agent service emits: a server span, the agent span,
    and under every LLM or tool call the HTTP client span of the request it made."""
    with tracer.start_as_current_span("POST /chat", kind=SpanKind.SERVER, attributes={"http.request.method": "POST",
                                                                                   "url.path": "/chat"}):
        agent_trace_with_http(tracer, steps)


def agent_trace_with_http(tracer, steps: int) -> None:  # type: ignore[no-untyped-def]
    with tracer.start_as_current_span("invoke_agent research", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for step in range(steps):
            with tracer.start_as_current_span(
                "chat gpt-4o",
                kind=SpanKind.CLIENT,
                attributes=chat_attributes(step),
            ):
                with tracer.start_as_current_span(
                    "POST", kind=SpanKind.CLIENT,
                    attributes={"http.request.method": "POST", "url.full": "https://api.openai.com/v1/chat/completions",
                                "http.response.status_code": 200},
                ):
                    pass
            if step % 2:
                with tracer.start_as_current_span(
                    "execute_tool web_search",
                    attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search"},
                ):
                    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                                      attributes={"http.request.method": "GET"}):
                        pass


def plain_trace(tracer, steps: int = 10) -> None:  # type: ignore[no-untyped-def]
    """The non-GenAI spans of the same app (HTTP handlers, DB calls)."""
    with tracer.start_as_current_span("GET /api", kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}):
        for step in range(steps):
            with tracer.start_as_current_span("SELECT", attributes={"db.system.name": "postgresql", "db.step": step}):
                pass


#: Warm-up traces per pipeline: 21,000 chat spans, enough to fill the processor's
#: 20,000-entry maps, so the rounds measure a service that has been running a while.
_STEADY_STATE_TRACES = 2_100


def build(kind: str, catalog: Catalog) -> TracerProvider:
    provider = TracerProvider()
    if kind == "bare":
        provider.add_span_processor(BatchSpanProcessor(NoOpExporter(), max_queue_size=65536))
    elif kind == "genai-cost":
        provider.add_span_processor(
            CostSpanProcessor(
                BatchSpanProcessor(TraceCostExporter(NoOpExporter()), max_queue_size=65536), catalog=catalog
            )
        )
    elif kind == "plumbing":
        provider.add_span_processor(
            PlumbingOnly(BatchSpanProcessor(TraceCostExporter(NoOpExporter()), max_queue_size=65536), catalog=catalog)
        )
    elif kind == "calc_price":
        provider.add_span_processor(CalcPriceProcessor())
        provider.add_span_processor(BatchSpanProcessor(NoOpExporter(), max_queue_size=65536))
    else:
        raise ValueError(kind)
    return provider


def measure(provider: TracerProvider, workload: Callable[..., None], traces: int) -> tuple[float, float, float]:
    """(wall, process cpu, application-thread cpu) microseconds per span for
    `traces` traces. Wall and process CPU include the final flush, so all work
    done for the spans on any thread is counted; application-thread CPU is what
    the thread creating and ending the spans spent doing so."""
    tracer = provider.get_tracer("bench")
    spans_per_trace = _count_spans(workload)
    gc.collect()
    wall0, cpu0, app0 = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(traces):
        workload(tracer)
    app = time.thread_time() - app0
    provider.force_flush()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    n = traces * spans_per_trace
    return wall / n * 1e6, cpu / n * 1e6, app / n * 1e6


def _count_spans(workload: Callable[..., None]) -> int:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    workload(provider.get_tracer("count"))
    return len(memory.get_finished_spans())


def memory_per_open_trace(traces: int = 5000) -> float:
    """Bytes the roll-up holds per trace whose root has not ended yet."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    rollup = TraceCostExporter(NoOpExporter(), max_traces=traces * 2, idle_timeout_s=3600)
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(rollup)))
    tracer = provider.get_tracer("mem")
    roots = [tracer.start_span("root") for _ in range(traces)]
    from opentelemetry import trace

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for root in roots:
        with trace.use_span(root, end_on_exit=False):
            with tracer.start_as_current_span(
                "chat gpt-4o",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 100,
                },
            ):
                pass
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert rollup.open_traces == traces, rollup.open_traces
    for root in roots:
        root.end()
    return held / traces


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--traces", type=int, default=200, help="traces per round and pipeline")
    parser.add_argument("--plumbing", action="store_true", help="also run genai-cost with nothing priced")
    args = parser.parse_args(argv)

    catalog = Catalog.load()
    kinds: tuple[str, ...] = ("bare", "genai-cost", "calc_price")
    if args.plumbing:
        kinds += ("plumbing",)
    workloads = {
        "agent (GenAI spans only)": agent_trace,
        "instrumented agent service (GenAI + HTTP spans)": instrumented_app_trace,
        "plain (no GenAI spans)": plain_trace,
    }
    print(f"python {sys.version.split()[0]}; {args.rounds} rounds x {args.traces} traces per pipeline, interleaved")
    for label, workload in workloads.items():
        providers = {kind: build(kind, catalog) for kind in kinds}
        for kind in kinds:  # warm-up: imports, caches, and the bounded maps filled, as in a long-running service
            measure(providers[kind], workload, _STEADY_STATE_TRACES)
        wall: dict[str, list[float]] = {k: [] for k in kinds}
        cpu: dict[str, list[float]] = {k: [] for k in kinds}
        app: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for kind in kinds:
                w, c, a = measure(providers[kind], workload, args.traces)
                wall[kind].append(w)
                cpu[kind].append(c)
                app[kind].append(a)
        for provider in providers.values():
            provider.shutdown()
        med_wall = {k: statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        med_app = {k: statistics.median(v) for k, v in app.items()}
        print(f"\nworkload: {label}; {_count_spans(workload)} spans per trace")
        print(f"  {'pipeline':<12} {'wall us/span':>13} {'process cpu':>12} {'app-thread cpu':>15}")
        for kind in kinds:
            print(f"  {kind:<12} {med_wall[kind]:13.2f} {med_cpu[kind]:12.2f} {med_app[kind]:15.2f}")
        for name, per_round in (("application thread", app), ("whole process", cpu)):
            print(f"  {name + ' cpu:':<24} {_added(per_round)}")
            if args.plumbing:
                plumbing = statistics.median(p / b - 1 for p, b in zip(per_round["plumbing"], per_round["bare"], strict=True))
                print(f"  {'':<24} plumbing alone (nothing priced) adds {plumbing * 100:+5.1f}%")
    per_trace = memory_per_open_trace()
    print(f"\nroll-up memory per open trace: {per_trace:.0f} bytes (5,000 open traces)")
    return 0


def _added(per_round: dict[str, list[float]]) -> str:
    """What genai-cost and calc_price add to the bare SDK, from differences paired
    round by round (the three pipelines of a round ran back to back, so drift in
    the machine's speed between rounds cancels out): medians, and the middle half
    of genai-cost's per-round figures to show the noise."""
    bare = per_round["bare"]
    ours = [g / b - 1 for g, b in zip(per_round["genai-cost"], bare, strict=True)]
    ours_us = statistics.median(g - b for g, b in zip(per_round["genai-cost"], bare, strict=True))
    naive_us = statistics.median(c - b for c, b in zip(per_round["calc_price"], bare, strict=True))
    quartiles = statistics.quantiles(ours, n=4)
    ratio = f"{naive_us / ours_us:.1f}x cheaper" if ours_us > 0 else "within noise"
    return (
        f"genai-cost adds {statistics.median(ours) * 100:+5.1f}% (middle half of rounds "
        f"{quartiles[0] * 100:+.1f}% to {quartiles[2] * 100:+.1f}%; {ours_us:+.2f} us/span; goal <= +10%); "
        f"calc_price adds {naive_us:+.2f} us: genai-cost {ratio} (goal >= 20x)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
