"""A real OpenTelemetry collector for the tests: rotel, from the PyPI ``rotel`` package.

:class:`RotelCollector` starts the ``rotel-agent`` binary shipped inside the
package on free loopback ports, with ``--debug-log traces
--debug-log-verbosity detailed`` so every span it receives is printed, typed
(``-> gen_ai.cost.total_usd: Double(0.0045)``). :meth:`RotelCollector.spans`
parses that log back into :class:`ReceivedSpan` records. By default it exports
to a blackhole; ``forward_to`` makes it a pipeline stage that forwards over
OTLP gRPC or HTTP (to Phoenix, or to a second rotel).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .net import HOST, free_port, port_open, wait_for


def rotel_binary() -> Path:
    """The ``rotel-agent`` executable inside the installed ``rotel`` package."""
    import rotel

    binary = Path(rotel.__file__).resolve().parent / "rotel-agent"
    if not binary.exists():
        raise FileNotFoundError(f"rotel-agent not found next to {rotel.__file__}")
    return binary


@dataclass
class Value:
    """An attribute value as the collector received it: its OTLP type and value."""

    type: str  # Str, Int, Double, Bool, Slice, Map, Bytes
    raw: str

    @property
    def value(self) -> object:
        if self.type == "Double":
            return float(self.raw)
        if self.type == "Int":
            return int(self.raw)
        if self.type == "Bool":
            return self.raw == "true"
        return self.raw


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str = ""
    scope: str = ""
    scope_version: str = ""
    resource: dict[str, Value] = field(default_factory=dict)
    typed: dict[str, Value] = field(default_factory=dict)

    @property
    def attributes(self) -> dict[str, object]:
        return {key: value.value for key, value in self.typed.items()}

    @property
    def is_root(self) -> bool:
        return not self.parent_id


_ATTRIBUTE = re.compile(r"^\s*-> (?P<key>[^:]+): (?P<type>[A-Za-z]+)\((?P<raw>.*)\)\s*$")
_FIELD = re.compile(r"^\s*(?P<name>Trace ID|Parent ID|ID|Name|Kind)\s*:\s?(?P<value>.*)$")


def parse_debug_log(text: str) -> list[ReceivedSpan]:
    """Spans from rotel's ``--debug-log-verbosity detailed`` output."""
    spans: list[ReceivedSpan] = []
    resource: dict[str, Value] = {}
    scope = scope_version = ""
    current: ReceivedSpan | None = None
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("ResourceSpans #"):
            resource, current, section = {}, None, ""
            continue
        if stripped == "Resource attributes:":
            section = "resource"
            continue
        if line.startswith("InstrumentationScope attributes:"):
            section = "scope"
            continue
        if line.startswith("InstrumentationScope "):
            scope, _, scope_version = line[len("InstrumentationScope ") :].strip().partition(" ")
            section = ""
            continue
        if line.startswith("Span #"):
            current = ReceivedSpan("", "", "", "", scope=scope, scope_version=scope_version, resource=resource)
            spans.append(current)
            section = "span"
            continue
        if stripped == "Attributes:" and current is not None:
            section = "attributes"
            continue
        match = _ATTRIBUTE.match(line)
        if match:
            value = Value(match["type"], match["raw"])
            if section == "resource":
                resource[match["key"]] = value
            elif section == "attributes" and current is not None:
                current.typed[match["key"]] = value
            continue
        if current is not None and section in ("span", "attributes"):
            found = _FIELD.match(line)
            if found and section == "span":
                name, value_text = found["name"], found["value"].strip()
                if name == "Trace ID":
                    current.trace_id = value_text
                elif name == "Parent ID":
                    current.parent_id = value_text
                elif name == "ID":
                    current.span_id = value_text
                elif name == "Name":
                    current.name = value_text
                elif name == "Kind":
                    current.kind = value_text
                continue
            if section == "attributes" and stripped and not stripped.startswith("->"):
                section = "other"  # events, links, ...: their attributes are not the span's
    return spans


class RotelCollector:
    """``rotel-agent`` on free loopback ports; use as a context manager."""

    def __init__(
        self,
        *,
        forward_to: str | None = None,
        forward_protocol: str = "grpc",
        extra_args: Iterable[str] = (),
        workdir: Path | None = None,
    ) -> None:
        self.grpc_port = free_port()
        self.http_port = free_port()
        self._forward_to = forward_to
        self._forward_protocol = forward_protocol
        self._extra = list(extra_args)
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="rotel-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "rotel-stdout.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle = None

    # ------------------------------------------------------------ endpoints
    @property
    def grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """Base URL; OTLP/HTTP traces go to ``{http_endpoint}/v1/traces``."""
        return f"http://{HOST}:{self.http_port}"

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 20.0) -> RotelCollector:
        args = [
            str(rotel_binary()),
            "start",
            "--otlp-grpc-endpoint",
            f"{HOST}:{self.grpc_port}",
            "--otlp-http-endpoint",
            f"{HOST}:{self.http_port}",
            "--debug-log",
            "traces",
            "--debug-log-verbosity",
            "detailed",
            "--batch-timeout",
            "100ms",
            "--pid-file",
            str(self.workdir / "rotel.pid"),
            "--log-file",
            str(self.workdir / "rotel.log"),
        ]
        if self._forward_to:
            args += [
                "--exporter",
                "otlp",
                "--otlp-exporter-endpoint",
                self._forward_to,
                "--otlp-exporter-protocol",
                self._forward_protocol,
            ]
        else:
            args += ["--exporter", "blackhole"]
        args += self._extra
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROTEL_", "OTEL_"))}
        env["NO_COLOR"] = "1"
        self._log_handle = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            args, stdout=self._log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        try:
            wait_for(
                lambda: self._alive_or_raise() and port_open(self.grpc_port) and port_open(self.http_port),
                timeout_s,
                "rotel to listen",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _alive_or_raise(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"rotel exited with {self._process.returncode}:\n{self.output()[-3000:]}")
        return True

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> RotelCollector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ------------------------------------------------------------ what it received
    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def spans(self) -> list[ReceivedSpan]:
        return parse_debug_log(self.output())

    def wait_for_spans(
        self,
        predicate: Callable[[list[ReceivedSpan]], bool],
        timeout_s: float = 20.0,
        what: str = "spans",
    ) -> list[ReceivedSpan]:
        """Poll the received spans until ``predicate`` holds; fail with what was seen."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({s.name for s in spans})
                raise AssertionError(
                    f"rotel did not receive {what} within {timeout_s:.0f}s; "
                    f"it received {len(spans)} spans: {names[:30]}\n--- rotel output tail ---\n{self.output()[-2000:]}"
                )
            time.sleep(0.1)

    def trace(self, trace_id: str, expected: int, timeout_s: float = 20.0) -> list[ReceivedSpan]:
        """The spans of one trace (hex id), once ``expected`` of them have arrived."""
        spans = self.wait_for_spans(
            lambda all_spans: sum(1 for s in all_spans if s.trace_id == trace_id) >= expected,
            timeout_s,
            f"{expected} spans of trace {trace_id}",
        )
        return [s for s in spans if s.trace_id == trace_id]
