"""Pricing out of process: what ``genai-cost gateway`` costs, and what the agent then pays.

The agent process (the sender) exports its spans over OTLP/HTTP protobuf with the
SDK's own pipeline, ``TracerProvider`` + ``BatchSpanProcessor(OTLPSpanExporter)``;
the same workloads as bench_processor.py. Sender variants, run round by round in
turn (the order rotated each round, so drift in the machine's speed hits them alike):

  (a) bare SDK -> reference:  to a receiver that discards (by default the real
      rotel collector, ``--exporter blackhole``; ``--reference python`` for a
      pass-through written with http.server, answering an empty
      ExportTraceServiceResponse)
  (b) bare SDK -> gateway:     to ``genai-cost gateway --http 127.0.0.1:PORT
      --grpc off``, a subprocess, which prices and rolls up the spans and
      forwards them (``OTEL_TRACES_EXPORTER=otlp``, over gRPC to the reference
      collector; over HTTP protobuf to the pass-through with ``--reference python``)
  (c) bare SDK -> gateway with pricing off (``GENAI_COST_ENABLED=false``: the
      gateway decodes, rolls up, encodes and forwards, nothing priced)
  (d) genai-cost in process -> reference: ``CostSpanProcessor(BatchSpanProcessor(
      TraceCostExporter(OTLPSpanExporter)))``, what the configurator sets up

Sender figure: CPU time of this process (``time.process_time``, both threads)
around creating and ending the spans and ``force_flush``, per span. Gateway
figure: the gateway process's CPU time (utime + stime from /proc/PID/stat, in
clock ticks of 1/SC_CLK_TCK s: 10 ms on Linux) read before the round and after
its ``GET /health`` counts every span of the round; the gateway answers a
request only once it has priced and forwarded its spans, so the flush's return
means its work is done. What it did includes decoding, pricing, the roll-up,
encoding again and the forwarding export, its garbage collection, and the one
``/health`` request per round. Medians of per-round figures; the ratio is the
median of gateway / sender paired round by round (the two CPU readings of one
round of (b)).

A round of a workload is ``--traces`` agent traces, or as many spans of the
other workloads (the gateway's CPU is read in 10 ms ticks: a round of 4,800
spans takes it 0.2-0.65 s, so a tick is 1.5-5% of a round). Each sender
pipeline and both gateways are first warmed up with 2,100 agent traces (21,000
chat spans: the processor's bounded maps full, as in a service that has run a
while), then 200 traces of each workload before its rounds, and live through
all rounds. The senders' batch processors queue up to 65,536 spans, as in
bench_processor.py: spans made this fast overflow the SDK's default 2,048,
whatever the receiver (the sender's own encoding is slower than making them).
The gateways record no cost metrics (``OTEL_METRICS_EXPORTER``
unset, their default) and nothing is compressed (the exporters' default).

Run:  python benchmarks/bench_gateway.py [--rounds 15] [--traces 300] [--reference rotel|python]
Linux only (/proc). Two subprocess gateways and the reference receiver run on
loopback for the length of the run, and are stopped at its end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from bench_processor import _count_spans, agent_trace, agent_trace_with_http, plain_trace

HOST = "127.0.0.1"
TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")

WORKLOADS: dict[str, Callable[[Any], None]] = {
    "agent": lambda tracer: agent_trace(tracer),
    "instrumented service": lambda tracer: agent_trace_with_http(tracer, 10),
    "plain": lambda tracer: plain_trace(tracer),
}

#: Warm-up: 2,100 agent traces fill the processor's 20,000-entry maps (bench_processor.py).
_STEADY_STATE_TRACES = 2_100
_WORKLOAD_WARM_UP_TRACES = 200

SENDERS = ("ref", "gateway", "gateway-off", "in-process")
_SENDER_LABELS = {
    "ref": "bare SDK -> reference",
    "gateway": "bare SDK -> gateway",
    "gateway-off": "bare SDK -> gateway, pricing off",
    "in-process": "genai-cost in process -> reference",
}


# ----------------------------------------------------------------- subprocesses


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class Child:
    """A subprocess with its output in a temporary file; stopped with SIGTERM, then killed."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.final_output = ""
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )

    def wait_until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait for ``check``; stopped if it never holds (or the process exits)."""
        try:
            wait_for(lambda: self.alive() and check(), timeout_s, what)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        return True

    def output(self) -> str:
        if self._log.closed:
            return self.final_output
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> None:
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if not self._log.closed:
            self.final_output = self.output()
            self._log.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads, live and ended), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S  # fields 14 and 15 of proc(5)


def _clean_env() -> dict[str, str]:
    """This environment without OTEL_*, GENAI_COST_* and ROTEL_* variables: every child gets defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_COST_", "ROTEL_"))}


def start_rotel() -> tuple[Child, str, str]:
    """rotel-agent with a blackhole exporter; (child, OTLP/HTTP traces URL, OTLP/gRPC endpoint)."""
    import rotel

    binary = Path(rotel.__file__).resolve().parent / "rotel-agent"
    grpc_port, http_port = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="bench-rotel-")
    env = _clean_env()
    env["NO_COLOR"] = "1"
    child = Child(
        "rotel",
        [
            str(binary), "start",
            "--otlp-grpc-endpoint", f"{HOST}:{grpc_port}",
            "--otlp-http-endpoint", f"{HOST}:{http_port}",
            "--exporter", "blackhole",
            "--pid-file", os.path.join(workdir, "rotel.pid"),
            "--log-file", os.path.join(workdir, "rotel.log"),
        ],
        env,
    )
    child.wait_until(lambda: port_open(grpc_port) and port_open(http_port), 30, "rotel to listen")
    return child, f"http://{HOST}:{http_port}/v1/traces", f"http://{HOST}:{grpc_port}"


def start_pass_through() -> tuple[Child, str]:
    """This script's --discard mode in a process of its own; (child, OTLP/HTTP traces URL)."""
    port = free_port()
    child = Child("pass-through", [sys.executable, os.path.abspath(__file__), "--discard", str(port)], _clean_env())
    child.wait_until(lambda: port_open(port), 30, "the pass-through receiver to listen")
    return child, f"http://{HOST}:{port}/v1/traces"


def serve_discard(port: int) -> None:
    """A reference OTLP/HTTP receiver: reads each body, answers an empty ExportTraceServiceResponse."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    empty = ExportTraceServiceResponse().SerializeToString()

    class Discard(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(empty)))
            self.end_headers()
            self.wfile.write(empty)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, port), Discard)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


class Gateway(Child):
    """``genai-cost gateway --http 127.0.0.1:PORT --grpc off``, forwarding as ``env`` says."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        script = Path(sys.executable).parent / "genai-cost"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "genai_cost.cli"]
        super().__init__(name, [*command, "gateway", "--http", f"{HOST}:{self.port}", "--grpc", "off"], env)
        # Listening, and its SIGTERM handler in place (it says "Ctrl-C to stop" after both).
        self.wait_until(lambda: "Ctrl-C to stop" in self.output(), 60, f"{name} to start")
        self.url = f"http://{HOST}:{self.port}/v1/traces"

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=10) as answer:
            return json.loads(answer.read())

    def received(self) -> int:
        return int(self.health()["spans_received"])


# -------------------------------------------------------------------- senders


def build_sender(kind: str, endpoint: str) -> Any:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Shut down by main() only: an interrupted run must not flush, at exit, to receivers already stopped.
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = OTLPSpanExporter(endpoint=endpoint)
    if kind == "in-process":
        from genai_cost import CostSpanProcessor, TraceCostExporter

        batch = BatchSpanProcessor(TraceCostExporter(exporter), max_queue_size=65536)
        provider.add_span_processor(CostSpanProcessor(batch))
    else:
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65536))
    return provider


def send(provider: Any, workload: Callable[[Any], None], traces: int) -> float:
    """CPU seconds of this process to create, end and export ``traces`` traces."""
    tracer = provider.get_tracer("bench")
    started = time.process_time()
    for _ in range(traces):
        workload(tracer)
    if not provider.force_flush(60_000):
        raise RuntimeError("force_flush timed out")
    return time.process_time() - started


def await_spans(gateway: Gateway, expected: int, timeout_s: float = 30) -> None:
    """Until the gateway has counted ``expected`` spans since the start (it answers each request
    after pricing and forwarding it, so this is at once after a flush)."""
    deadline = time.monotonic() + timeout_s
    while (received := gateway.received()) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{gateway.name} received {received} spans, expected {expected}")
        time.sleep(0.02)
    if received != expected:
        raise RuntimeError(f"{gateway.name} received {received} spans, expected {expected}")


@contextlib.contextmanager
def running(children: list[Child]) -> Iterator[list[Child]]:
    try:
        yield children
    finally:
        for child in reversed(children):
            with contextlib.suppress(Exception):
                child.stop()


def per_core(us_per_span: float) -> str:
    """Spans a second one core of CPU time would take at ``us_per_span``."""
    return f"{1e6 / us_per_span:,.0f}" if us_per_span > 0 else "n/a (too few spans a round for the ticks)"


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--traces", type=int, default=300,
        help="agent traces per round and variant; the other workloads get as many spans in more or fewer traces",
    )
    parser.add_argument(
        "--reference", choices=("rotel", "python"), default="rotel",
        help="the receiver that discards: rotel (a real collector) or a pass-through in Python",
    )
    parser.add_argument("--discard", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.discard is not None:
        serve_discard(args.discard)
        return 0
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        print("bench_gateway.py reads the gateway's CPU time from /proc: Linux only", file=sys.stderr)
        return 2

    if args.reference == "rotel":
        try:
            import rotel  # noqa: F401 - only whether it is installed
        except ImportError:
            print(
                "bench_gateway.py: rotel is not installed (pip install -e '.[test]' brings it);"
                " or run with --reference python",
                file=sys.stderr,
            )
            return 2
    began = time.monotonic()
    children: list[Child] = []
    with running(children):
        if args.reference == "rotel":
            reference, ref_url, ref_grpc = start_rotel()
            children.append(reference)
            forward = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ref_grpc, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}
            forwarded_to = "rotel over OTLP/gRPC"
        else:
            reference, ref_url = start_pass_through()
            children.append(reference)
            forward = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ref_url,
                       "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}
            forwarded_to = "the pass-through over OTLP/HTTP protobuf"
        env = {**_clean_env(), "OTEL_TRACES_EXPORTER": "otlp", **forward}
        gateways: dict[str, Gateway] = {}
        for kind, extra in (("gateway", {}), ("gateway-off", {"GENAI_COST_ENABLED": "false"})):
            gateways[kind] = Gateway("the gateway" + (" with pricing off" if extra else ""), {**env, **extra})
            children.append(gateways[kind])
        endpoints = {"ref": ref_url, "in-process": ref_url, **{k: g.url for k, g in gateways.items()}}
        senders = {kind: build_sender(kind, endpoints[kind]) for kind in SENDERS}
        sent = dict.fromkeys(gateways, 0)  # spans each gateway has been sent so far
        per_trace = {name: _count_spans(workload) for name, workload in WORKLOADS.items()}

        def run(kind: str, name: str, traces: int) -> tuple[float, float | None]:
            """(sender CPU s, gateway CPU s or None) for one batch of traces."""
            gateway = gateways.get(kind)
            before = cpu_seconds(gateway.pid) if gateway else 0.0
            sender_s = send(senders[kind], WORKLOADS[name], traces)
            if gateway is None:
                return sender_s, None
            sent[kind] += traces * per_trace[name]
            await_spans(gateway, sent[kind])
            return sender_s, cpu_seconds(gateway.pid) - before

        for kind in SENDERS:
            run(kind, "agent", _STEADY_STATE_TRACES)
        warmed = time.monotonic() - began

        print(
            f"python {sys.version.split()[0]}; {os.cpu_count()} cores; {args.rounds} rounds x {args.traces} agent traces "
            f"(or as many spans) per variant, interleaved; medians, CPU µs per span"
        )
        print(f"reference receiver: {reference.name}; the gateway forwards to {forwarded_to}; "
              f"gateway CPU read in ticks of {TICK_S * 1000:.0f} ms")
        results: dict[str, dict[str, float]] = {}
        for name in WORKLOADS:
            for kind in SENDERS:
                run(kind, name, _WORKLOAD_WARM_UP_TRACES)
            traces = round(args.traces * per_trace["agent"] / per_trace[name])
            spans = traces * per_trace[name]
            sender: dict[str, list[float]] = {k: [] for k in SENDERS}
            gw: dict[str, list[float]] = {k: [] for k in gateways}
            for round_ in range(args.rounds):
                order = SENDERS[round_ % len(SENDERS):] + SENDERS[: round_ % len(SENDERS)]
                for kind in order:
                    sender_s, gateway_s = run(kind, name, traces)
                    sender[kind].append(sender_s / spans * 1e6)
                    if gateway_s is not None:
                        gw[kind].append(gateway_s / spans * 1e6)
            med = {k: statistics.median(v) for k, v in sender.items()}
            gmed = {k: statistics.median(v) for k, v in gw.items()}
            ratio = [g / s for g, s in zip(gw["gateway"], sender["gateway"], strict=True) if s > 0]
            differences = [a - b for a, b in zip(sender["gateway"], sender["ref"], strict=True)]
            same = statistics.median(differences)
            results[name] = {**{f"s:{k}": v for k, v in med.items()}, **{f"g:{k}": v for k, v in gmed.items()},
                             "ratio": statistics.median(ratio)}
            low, high = quartiles(gw["gateway"])
            print(f"\nworkload: {name}; {per_trace[name]} spans per trace; {traces} traces, {spans} spans a round")
            print("  sender (this process, both threads, flush included):")
            for kind in SENDERS:
                lo, hi = quartiles(sender[kind])
                print(f"    {_SENDER_LABELS[kind]:<40} {med[kind]:7.2f}   (middle half of rounds {lo:.2f}-{hi:.2f})")
            lo, hi = quartiles(differences)
            print(f"    sender -> gateway minus sender -> reference, paired per round: {same:+.2f} "
                  f"(middle half {lo:+.2f} to {hi:+.2f})")
            print("  gateway process:")
            print(f"    {'priced':<40} {gmed['gateway']:7.2f}   (middle half of rounds {low:.2f}-{high:.2f}); "
                  f"{per_core(gmed['gateway'])} spans/s per core")
            lo, hi = quartiles(gw["gateway-off"])
            print(f"    {'pricing off (GENAI_COST_ENABLED=false)':<40} {gmed['gateway-off']:7.2f}   "
                  f"(middle half of rounds {lo:.2f}-{hi:.2f}); {per_core(gmed['gateway-off'])} spans/s per core")
            print(f"  gateway / sender, paired per round: {statistics.median(ratio):.2f}")

        print("\nsummary (medians, CPU µs per span):")
        print(f"  {'workload':<21} {'->ref':>7} {'->gw':>7} {'->gw off':>8} {'in-proc':>8} "
              f"{'gateway':>8} {'gw off':>7} {'gw spans/s/core':>16} {'gw/sender':>10}")
        for name, r in results.items():
            print(f"  {name:<21} {r['s:ref']:7.2f} {r['s:gateway']:7.2f} {r['s:gateway-off']:8.2f} "
                  f"{r['s:in-process']:8.2f} {r['g:gateway']:8.2f} {r['g:gateway-off']:7.2f} "
                  f"{per_core(r['g:gateway']):>16} {r['ratio']:10.2f}")
        for provider in senders.values():
            provider.shutdown()
    print()
    for gateway in gateways.values():  # stopped: each has printed its summary
        last = gateway.output().strip().splitlines()[-1:] or ["(no output)"]
        print(f"{gateway.name}: {last[0].removeprefix('genai-cost gateway: ')}")
    print(f"run time {time.monotonic() - began:.0f} s (warm-up {warmed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
