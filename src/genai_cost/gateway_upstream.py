"""Where the gateway forwards to, as ``genai-cost gateway`` sets it up before it listens.

:class:`~genai_cost.gateway.CostGateway` forwards to any ``SpanExporter`` it is given;
the command builds that exporter, and the meter provider of the cost metrics, from the
standard variables, each exporter by its own entry point as ``opentelemetry-instrument``
would (:func:`upstream_exporters`, :func:`cost_meter_provider`), one batch to all of them
(:class:`FanOutExporter`). The command also refuses an upstream that is the gateway itself,
which would send every span back to it without end: :func:`exporter_endpoint` and
:func:`sends_to_itself` compare where an exporter sends with where the gateway listens
(:func:`parse_address`, the ``--http`` and ``--grpc`` options). None of this needs the
gateway's core, which imports :class:`FanOutExporter` from here.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

_log = logging.getLogger("genai_cost.gateway")


def upstream_exporters() -> list[SpanExporter]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` when unset), built
    by their own entry points, so each reads its standard ``OTEL_EXPORTER_*``
    variables exactly as ``opentelemetry-instrument`` would."""
    import os

    from opentelemetry.sdk._configuration import _get_exporter_entry_point, _import_exporters

    names = [name.strip() for name in (os.environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",") if name.strip()]
    if not names or names == ["none"]:
        raise ValueError("OTEL_TRACES_EXPORTER is 'none': the gateway would have nowhere to send the spans")
    kinds, _, _ = _import_exporters([_get_exporter_entry_point(name, "traces") for name in names], [], [])
    return [kind() for kind in kinds.values()]


#: The standard variables naming files the upstream OTLP exporters read (TLS material).
_FILE_VARIABLES = tuple(
    f"OTEL_EXPORTER_OTLP_{signal}{kind}"
    for signal in ("", "TRACES_")
    for kind in ("CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY")
)


def unreadable_exporter_files() -> list[str]:
    """The upstream exporters' TLS files that cannot be read, each with its variable: the
    SDK's exporters print a traceback and go on without them, and the gateway served with
    every forward failing its TLS handshake."""
    import os

    problems = []
    for name in _FILE_VARIABLES:
        path = os.environ.get(name)
        if not path:
            continue
        try:
            with open(path, "rb") as file:
                file.read(1)
        except OSError as exc:
            problems.append(f"{name}={path!r}: {exc.strerror or exc}")
    return problems


def described(exporter: SpanExporter) -> str:
    """The exporter as the start-up line names it: its kind and where it sends, so that a
    wrong endpoint is seen at start rather than in the first failed export. An endpoint
    written without a scheme is said to be TLS, as the gRPC exporter takes it."""
    endpoint = getattr(exporter, "_endpoint", None)
    name = type(exporter).__name__
    if not isinstance(endpoint, str) or not endpoint:
        return name
    insecure = getattr(exporter, "_insecure", None)
    if isinstance(insecure, bool):  # the gRPC exporter: the scheme is read off into this flag
        return f"{name} (gRPC) {endpoint} {'without TLS' if insecure else 'over TLS'}"
    if "://" not in endpoint:
        return f"{name} {endpoint} (no http:// or https://: not a URL it can send to)"
    return f"{name} {endpoint}"


def variables_behind(error: BaseException, signal: str) -> str:
    """Which standard variables an exporter's configuration error comes from, for its message:
    the SDK's say the value and not the variable (``could not convert string to float: 'abc'``).
    The ``OTEL_*`` variables whose value the message quotes; else those that configure
    ``signal``'s exporters (``TRACES``, ``METRICS``), to look at."""
    import os

    message = str(error)
    quoted = [
        f"{name}={value!r}"
        for name, value in sorted(os.environ.items())
        if name.startswith("OTEL_")
        and value.strip()
        and (f"'{value.strip()}'" in message or f'"{value.strip()}"' in message)
    ]
    if quoted:
        return f" (set by {', '.join(quoted)})"
    configuring = [
        name for name in sorted(os.environ) if name.startswith(("OTEL_EXPORTER_", f"OTEL_{signal}_EXPORTER"))
    ]
    return f" (look at {', '.join(configuring)})" if configuring else ""


#: How the SDK says that no installed package provides an exporter name.
_NOT_FOUND = re.compile(r"Requested component '([^']*)' not found in entry point '([^']*)'")
#: Exporters a name in OTEL_<signal>_EXPORTER selects that are packages of their own.
_EXPORTER_PACKAGES = {
    ("METRICS", "prometheus"): "opentelemetry-exporter-prometheus",
    ("TRACES", "zipkin"): "opentelemetry-exporter-zipkin",
}


def exporter_not_installed(error: BaseException, signal: str, *, none_too: bool) -> str:
    """For an exporter name nothing installed provides (the SDK says only ``Requested
    component 'prometheus' not found in entry point ...``): the package to install, if
    known, and the names that are installed, for a misspelling (``none_too``: and ``none``)."""
    from importlib.metadata import entry_points

    found = _NOT_FOUND.search(str(error))
    if found is None:
        return ""
    name, group = found.groups()
    installed = sorted({point.name for point in entry_points(group=group)})
    package = _EXPORTER_PACKAGES.get((signal, name.strip().lower()))
    advice = f"; pip install {package} for it" if package else ""
    names = [*installed, "none"] if none_too else installed
    return f"{advice}; OTEL_{signal}_EXPORTER can name: {', '.join(names) or 'nothing installed'}"


def cost_meter_provider() -> SdkMeterProvider | None:
    """A MeterProvider for the cost metrics, exporting through what
    ``OTEL_METRICS_EXPORTER`` names (each built by its own entry point, so the
    standard ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_METRIC_EXPORT_INTERVAL`` apply), or
    ``None`` when the variable is unset or ``none``, or ``GENAI_COST_METRICS=false``.

    Unlike the SDK, whose default is ``otlp``, the gateway records metrics only
    when asked: it is often pointed at a backend that takes traces only (Jaeger),
    which would refuse the metrics at every export."""
    import os

    from opentelemetry.sdk._configuration import _get_exporter_entry_point, _import_exporters
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    from .config import env_flag
    from .sender_metrics import SenderResourceExporter, sender_job_reader

    names = [name.strip() for name in os.environ.get("OTEL_METRICS_EXPORTER", "").split(",") if name.strip()]
    if not names or "none" in names or not env_flag("GENAI_COST_METRICS", True):
        return None
    _, kinds, _ = _import_exporters([], [_get_exporter_entry_point(name, "metrics") for name in names], [])
    readers: list[MetricReader] = []
    for kind in kinds.values():
        if issubclass(kind, MetricReader):
            # A pull reader (prometheus), scraped from the gateway: each sender's series
            # carry the sender's `job` label (kept by a scrape with honor_labels: true).
            readers.append(sender_job_reader(kind)())
        else:
            # Pushed metrics go under each sender's resource, as if recorded in its process,
            # with the gateway's own instance id (sender_metrics.by_sender).
            readers.append(PeriodicExportingMetricReader(SenderResourceExporter(kind())))
    resource = Resource.create()
    if not resource.attributes.get("service.instance.id"):
        # SDKs before 1.41 make none up: each gateway needs one to write series of its own.
        import uuid

        resource = resource.merge(Resource({"service.instance.id": str(uuid.uuid4())}))
    return SdkMeterProvider(resource=resource, metric_readers=readers)


class FanOutExporter(SpanExporter):
    """Sends each batch to every exporter; succeeds when all of them do."""

    def __init__(self, exporters: Sequence[SpanExporter]) -> None:
        self._exporters = tuple(exporters)
        #: The exporters that failed the last batch (the gateway asks each why).
        self.failed: tuple[SpanExporter, ...] = ()

    @property
    def members(self) -> tuple[SpanExporter, ...]:
        return self._exporters

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        failed: list[SpanExporter] = []
        for exporter in self._exporters:
            try:
                if exporter.export(spans) is not SpanExportResult.SUCCESS:
                    failed.append(exporter)
            except Exception:
                _log.exception("genai-cost gateway: exporter %s raised", type(exporter).__name__)
                failed.append(exporter)
        self.failed = tuple(failed)
        return SpanExportResult.FAILURE if failed else SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(exporter.force_flush(timeout_millis) for exporter in self._exporters)

    def shutdown(self) -> None:
        for exporter in self._exporters:
            exporter.shutdown()


def exporter_endpoint(exporter: SpanExporter) -> tuple[str, int] | None:
    """(host, port) an OTLP exporter sends to, when it says (for spotting a loop)."""
    endpoint = getattr(exporter, "_endpoint", None)
    if not isinstance(endpoint, str) or not endpoint:
        return None
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None or port is None:
        return None
    return parts.hostname, port


def sends_to_itself(endpoint: tuple[str, int], listening: Sequence[tuple[str, int]]) -> bool:
    """Whether ``endpoint`` is one of the addresses the gateway listens on. A gateway that
    listens on every address (``0.0.0.0``) sends to itself only through an address of this
    machine: ``collector:4317`` (another container or host) is not a loop. A name is
    resolved once, at start; one that does not resolve here is not taken for a loop (the
    exporter says what is wrong with it)."""
    host, port = endpoint
    everywhere = {"0.0.0.0", "::"}  # noqa: S104 - compared with, not bound to
    local = {"localhost", "127.0.0.1", "::1", *everywhere}
    for listen_host, listen_port in listening:
        if port != listen_port:
            continue
        if host == listen_host or (host in local and listen_host in local):
            return True
        if listen_host in everywhere:
            if _of_this_machine(host):
                return True
        elif _resolved(host) & _resolved(listen_host):
            return True
    return False


def _resolved(host: str) -> set[str]:
    """The addresses ``host`` resolves to here (none if it does not resolve)."""
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError, ValueError):
        return set()


def _of_this_machine(host: str) -> bool:
    """Whether ``host`` resolves to an address of this machine: one a socket can be bound to
    (the kernel refuses an address no interface of the machine has)."""
    for address in _resolved(host):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.bind((address, 0))
        except OSError:
            continue
        return True
    return False


def parse_address(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4318`` for IPv6) as (host, port); an error naming ``option``
    otherwise. An IPv6 address must be in brackets, as in a URL: without them ``::1:4318``
    could be the address ``::1:4318`` with no port as well as ``::1`` on 4318, and a guess
    would listen where the operator did not say."""
    host, sep, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]") and len(host) > 2:
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(
                f"{option} {text!r}: {host!r} is not an IPv6 address (only those go in brackets)"
            ) from None
    elif not sep or not host.strip("[]") or text.endswith("]"):
        raise ValueError(f"{option} {text!r}: expected HOST:PORT, for example 127.0.0.1:4318 or [::1]:4318")
    elif ":" in host or "[" in host or "]" in host:
        address = host.strip("[]")
        try:
            example = f"[{ipaddress.IPv6Address(address)}]:{port_text}"
        except ValueError:
            example = "[::1]:4318"
        raise ValueError(f"{option} {text!r}: an IPv6 address goes in brackets: {example}")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"{option} {text!r}: the port {port_text!r} is not a number")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"{option} {text!r}: the port must be 0-65535")
    return host, port


__all__ = [
    "FanOutExporter",
    "cost_meter_provider",
    "exporter_endpoint",
    "parse_address",
    "sends_to_itself",
    "upstream_exporters",
]
