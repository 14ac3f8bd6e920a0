"""The export thread's work per span, split in its two stages: pricing (the
processor's settle: start and end counting, leaf rule, usage, price, attributes)
and the roll-up (TraceCostExporter.export).

bench_processor.py measures what the whole pipeline costs; this one says where
the export thread's share goes, with the garbage collector off while each stage
is timed (so that a collection triggered by one stage is not charged to it).
To compare two versions of the code, run it for each, one after the other, with
``PYTHONPATH=<other checkout>/src`` for the second (a change of 0.2 µs a span is
about 1% of the whole process's cost for an agent).

The last row is the agent workload with the listeners the zero-code configurator
attaches to its processor (a ``Budget``, limits or not, for ``check_budget()``, and
``CostMetrics``), which bench_processor.py leaves out: their share is told each
priced span on the export thread too.

Run:  python benchmarks/bench_export_thread.py [--rounds 15] [--traces 200]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Sequence

from bench_processor import NoOpExporter, agent_trace, agent_trace_with_http, plain_trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from genai_cost import Budget, CostMetrics, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog

WORKLOADS = {
    "agent": lambda tracer: agent_trace(tracer),
    "instrumented service": lambda tracer: agent_trace_with_http(tracer, 10),
    "plain": lambda tracer: plain_trace(tracer),
}


class _Held(SpanProcessor):
    """Keeps the spans the processor hands on, for the roll-up to be timed apart."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def measure(name: str, catalog: Catalog, rounds: int, traces: int, listeners: bool = False) -> tuple[float, float]:
    held = _Held()
    told = [Budget(), CostMetrics(MeterProvider(metric_readers=[InMemoryMetricReader()]))] if listeners else []
    # Nothing prices until settle() is called: the bound is never reached.
    processor = CostSpanProcessor(
        held, catalog=catalog, settings=CostSettings(), max_pending=10**9, listeners=told
    )
    rollup = TraceCostExporter(NoOpExporter())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    workload = WORKLOADS[name]
    for _ in range(2_100):  # the bounded maps full, as in a service that has run a while
        workload(tracer)
    processor.settle()
    rollup.export(held.spans)
    held.spans.clear()
    pricing: list[float] = []
    rolling_up: list[float] = []
    for _ in range(rounds):
        for _ in range(traces):
            workload(tracer)
        count = len(held.spans)
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            processor.settle()
            priced = time.perf_counter()
            rollup.export(held.spans)
            done = time.perf_counter()
        finally:
            gc.enable()
        pricing.append((priced - started) / count * 1e6)
        rolling_up.append((done - priced) / count * 1e6)
        held.spans.clear()
    provider.shutdown()
    return statistics.median(pricing), statistics.median(rolling_up)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--traces", type=int, default=200)
    args = parser.parse_args(argv)
    catalog = Catalog.load()
    print(f"python {sys.version.split()[0]}; {args.rounds} rounds x {args.traces} traces; medians, µs per span")
    print(f"  {'workload':22} {'pricing':>8} {'roll-up':>8} {'total':>8}")
    for name in WORKLOADS:
        pricing, rolling_up = measure(name, catalog, args.rounds, args.traces)
        print(f"  {name:22} {pricing:8.2f} {rolling_up:8.2f} {pricing + rolling_up:8.2f}")
    pricing, rolling_up = measure("agent", catalog, args.rounds, args.traces, listeners=True)
    print(f"  {'agent, zero-code':22} {pricing:8.2f} {rolling_up:8.2f} {pricing + rolling_up:8.2f}  (+ Budget, CostMetrics)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
