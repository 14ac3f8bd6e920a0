"""Instructions per span, counted by valgrind's callgrind: bench_processor.py's
comparison without the machine's noise.

bench_processor.py times the pipelines, and on a shared 2-core VM the spread
between runs of the same code (several points of overhead) is as large as the
effects being looked for. Callgrind counts the instructions each thread
executes instead: the same code on the same input gives the same count to a
fraction of a percent, whatever else the machine is doing, so a change of 1% in
the span path is visible in one run. Instructions are not time (cache misses,
branch prediction and the interpreter's own tricks are not weighed), so the
timed benchmark stays the reference for the goals; this one tells whether a
change made the work smaller.

Each pipeline of bench_processor.py (bare SDK, genai-cost, calc_price) runs in
its own Python under callgrind. Its caches are warmed first through a
synchronous copy of the pipeline (usage plans, catalog lookups), then a fresh
pipeline with a BatchSpanProcessor takes ``--traces`` traces and a flush.
Counted: the application thread while it creates and ends the spans and
flushes, and the export thread for its whole life (warm-up excluded: it never
saw the warm-up spans), summed: the whole process. How the work splits between
the two threads is not printed: valgrind runs one thread at a time, so the
export thread falls behind, and the processor's bound on pending spans moves
pricing onto the application thread far more often than in a real process
(bench_processor.py measures the application thread). The bounded maps of a service that has run a while are
not full here (bench_processor.py's warm-up fills them): their eviction, in
bulk, is a small share.

``--base SRC`` adds a column: genai-cost from another source tree (e.g. a
``git worktree`` of the previous commit's ``src``), run in the same way, so a
change is measured side by side with what it replaces.

Run:  python benchmarks/bench_instructions.py [--traces 100] [--base ../other/src]
Needs valgrind (Debian: ``apt-get install valgrind``); Python runs about 50x
slower under it, so a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import glob
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("agent", "instrumented service", "plain")
_TOTAL = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def _workload(name: str):  # type: ignore[no-untyped-def]
    from bench_processor import agent_trace, agent_trace_with_http, plain_trace

    return {
        "agent": agent_trace,
        "instrumented service": lambda tracer: agent_trace_with_http(tracer, 10),
        "plain": plain_trace,
    }[name]


def _warm_up(kind: str, workload, catalog) -> None:  # type: ignore[no-untyped-def]
    """Fills the module-level and catalog caches without starting a thread."""
    from bench_processor import CalcPriceProcessor, NoOpExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from genai_cost import CostSpanProcessor, TraceCostExporter

    provider = TracerProvider()
    if kind == "genai-cost":
        provider.add_span_processor(
            CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(NoOpExporter())), catalog=catalog)
        )
    elif kind == "calc_price":
        provider.add_span_processor(CalcPriceProcessor())
    tracer = provider.get_tracer("warm-up")
    for _ in range(50):
        workload(tracer)
    provider.shutdown()


def child(workload_name: str, kind: str, traces: int) -> int:
    """Runs under callgrind: only what ``operator.call`` runs is counted on this
    thread (``--toggle-collect=_operator_call``), and the export thread counts
    from its start (``--toggle-collect=thread_run``)."""
    sys.path.insert(0, str(HERE))
    from bench_processor import build

    from genai_cost.pricing import Catalog

    catalog = Catalog.load()
    workload = _workload(workload_name)
    pipeline = "genai-cost" if kind == "base" else kind
    _warm_up(pipeline, workload, catalog)
    provider = build(pipeline, catalog)
    tracer = provider.get_tracer("bench")

    def run() -> None:
        for _ in range(traces):
            workload(tracer)
        provider.force_flush()

    operator.call(run)
    provider.shutdown()
    return 0


def _count(workload: str, kind: str, traces: int, src: str | None) -> int:
    """Instructions, all threads, for ``traces`` traces."""
    out = tempfile.mkdtemp(prefix="callgrind-")
    env = dict(os.environ, PYTHONHASHSEED="0")
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [
        "valgrind", "--tool=callgrind", "--separate-threads=yes", "--collect-atstart=no",
        "--toggle-collect=_operator_call", "--toggle-collect=thread_run",
        f"--callgrind-out-file={out}/cg.out",
        sys.executable, __file__, "--child", workload, kind, str(traces),
    ]  # fmt: skip
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        total = 0
        for path in glob.glob(f"{out}/cg.out-*"):  # one file a thread: cg.out-01, cg.out-02, ...
            found = _TOTAL.search(Path(path).read_text())
            total += int(found.group(1)) if found else 0
    except subprocess.CalledProcessError as failure:
        raise SystemExit(f"callgrind run failed ({workload}, {kind}):\n{failure.stderr[-2000:]}") from None
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100)
    parser.add_argument("--base", metavar="SRC", help="also count genai-cost from this source tree")
    parser.add_argument("--workload", choices=WORKLOADS, action="append", help="only these (repeatable)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, kind, traces = args.child
        return child(name, kind, int(traces))
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    kinds = ["bare", "genai-cost", "calc_price"] + (["base"] if args.base else [])
    print(f"python {sys.version.split()[0]}; {args.traces} traces a pipeline; whole process, instructions per span")
    print(f"  {'workload':22} " + " ".join(f"{kind:>11}" for kind in kinds) + "  genai-cost adds  ratio")
    for name in args.workload or WORKLOADS:
        spans = _spans_per_trace(name) * args.traces
        per_span = {kind: _count(name, kind, args.traces, args.base if kind == "base" else None) / spans for kind in kinds}
        bare = per_span["bare"]
        added = per_span["genai-cost"] - bare
        calc_added = per_span["calc_price"] - bare
        ratio = f"{calc_added / added:5.1f}x" if added > 0 and calc_added > 0 else "    —"
        line = f"  {name:22} " + " ".join(f"{per_span[kind]:11,.0f}" for kind in kinds)
        line += f"  {added / bare:+15.1%}  {ratio}"
        if args.base:
            line += f"  (base adds {(per_span['base'] - bare) / bare:+.1%}; genai-cost / base: {per_span['genai-cost'] / per_span['base']:.3f})"
        print(line)
    return 0


def _spans_per_trace(name: str) -> int:
    sys.path.insert(0, str(HERE))
    from bench_processor import _count_spans

    return _count_spans(_workload(name))


if __name__ == "__main__":
    raise SystemExit(main())
