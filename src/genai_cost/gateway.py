"""The gateway: prices spans that other processes export over OTLP, then forwards them.

genai-cost's processor only sees spans of the Python process it runs in. An
agent written in another language (the Vercel AI SDK in TypeScript), or a
Python service that cannot be changed, exports its spans over OTLP instead;
pointed at this gateway, they are priced and rolled up exactly as in-process
spans are, and forwarded to the real collector or backend::

    agent --OTLP--> genai-cost gateway --OTLP--> collector / Jaeger / Tempo / Phoenix

Each received span is decoded into the SDK's own ``ReadableSpan``
(:mod:`genai_cost.otlp_in`) and takes the in-process path: the same
:class:`~genai_cost.processor.CostSpanProcessor` (usage reading, leaf rule,
duplicate records, pricing), the same :class:`~genai_cost.rollup.TraceCostExporter`
(trace totals on each local root), and the SDK's own exporters, chosen by the
standard ``OTEL_TRACES_EXPORTER`` / ``OTEL_EXPORTER_OTLP_*`` variables.

A request is priced and forwarded before it is answered, and only a few wait
their turn, so a slow upstream slows the senders down (told to retry) instead of
filling a queue that a crash could lose. Spans the upstream fails to take are
answered as retryable (503, ``UNAVAILABLE``) and kept as priced, so that the
sender's retry forwards them without counting them twice in their trace's
totals; spans the upstream refused with a status the OTLP specification says not
to retry (``400``, ``INVALID_ARGUMENT``) are answered as not retryable (500,
``INTERNAL``), as the collector answers a permanent error. A span that already
carries a cost (priced by genai-cost in its own process) is forwarded as it is
and only rolled up. Every request refused is counted and logged (now and then:
see :func:`_now_and_then`).
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import ssl
import sys
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import attributes as A
from ._bounded import newer_half
from ._spans import attributes_of
from .config import CostSettings, report_unknown_variables
from .gateway_tls import GatewayTls
from .layers import LayerSettings
from .otlp_in import OtlpDecodeError, ReceivedSpans, parse_json, parse_protobuf, spans_of
from .pricing.catalog import Catalog
from .processor import CostSpanProcessor, load_catalog
from .rollup import TraceCostExporter, TraceTotals

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

    from .metrics import CostMetrics

_log = logging.getLogger("genai_cost.gateway")

#: How long a client may take over the TLS handshake before its connection is dropped.
_TLS_HANDSHAKE_TIMEOUT_S = 10.0
#: How long a connection may send nothing (between requests, or mid-body) before it is
#: closed: a stalled or vanished client must not hold a thread for ever.
READ_TIMEOUT_S = 60.0
#: How much of a plain-HTTP request to a TLS port is read (and dropped) after answering it.
_PLAIN_HTTP_DRAIN_BYTES = 8 * 1024 * 1024
#: Largest request body accepted, after decompression (the OpenTelemetry Collector's default).
MAX_REQUEST_BYTES = 20 * 1024 * 1024
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"


@dataclass
class GatewayStats:
    """What the gateway did since it started (also served at ``GET /health``)."""

    requests: int = 0
    #: Requests refused whole: not OTLP, too large, wrong content type or method, and those
    #: counted in ``requests_busy``.
    requests_refused: int = 0
    #: Requests refused to be retried (503 / ``UNAVAILABLE``): too many already in flight, or
    #: the gateway stopping. Also counted in ``requests_refused``.
    requests_busy: int = 0
    spans_received: int = 0
    #: Spans left out of an accepted request (malformed ids), reported back as ``partial_success``.
    spans_rejected: int = 0
    #: Spans the upstream exporter failed to take (after its own retries), at each attempt.
    spans_not_forwarded: int = 0
    #: Of ``spans_not_forwarded``, those the upstream refused for good (a status the OTLP
    #: specification says not to retry, such as HTTP 400): their senders were told not to resend.
    spans_refused_upstream: int = 0
    #: Spans received again after they had been forwarded (a sender retrying a request whose
    #: answer it did not get in time), or twice in one request: not priced, rolled up or
    #: forwarded a second time.
    spans_resent: int = 0
    internal_errors: int = 0


@dataclass(frozen=True)
class Accepted:
    """The answer to one request."""

    received: ReceivedSpans
    #: Whether the upstream exporter took the spans.
    forwarded: bool
    #: When the upstream refused them for good, its status (``HTTP 400``, ``gRPC
    #: INVALID_ARGUMENT``): the sender is told not to send them again. ``None`` when a retry
    #: may get them through, or when the exporter does not say (see :class:`_Verdict`).
    refusal: str | None = None


class Unavailable(Exception):
    """The request was not taken, and the sender is to send it again later (HTTP 503,
    gRPC ``UNAVAILABLE``, both retried by OTLP exporters): nothing of it was priced."""


class TooManySpans(ValueError):
    """The request holds more spans than one request may (HTTP 413, gRPC ``INVALID_ARGUMENT``:
    resent as it is, it would be refused again)."""


#: Requests at most in flight, waiting for or holding the export, across both receivers. The
#: export is one at a time (the roll-up wants one order), so more would only queue, each holding
#: its request in memory, while the upstream is slow; beyond it senders are told to retry.
MAX_INFLIGHT = 8
#: Spans at most in one request. A span decoded and priced takes about 2.3 kB (500,000 spans, a
#: 1.8 MiB gzip body, took 1.1 GiB), so this bounds one request near 250 MB; OTLP exporters send
#: a few hundred to a few thousand spans a request (the SDKs' batch of 512, the collector's 8192).
MAX_SPANS_PER_REQUEST = 100_000
#: Connections at most open on the HTTP receiver (each has a thread, kept while it is idle
#: for the read timeout); beyond it a new one is closed at once, and its sender retries.
MAX_HTTP_CONNECTIONS = 256
#: What a sender refused for back-pressure, or because the upstream failed, is told to wait (s).
RETRY_AFTER_S = 1
#: How long a stop waits for the requests in progress to be answered: longer than the OTLP
#: exporters' default timeout (10 s), so that an export under way ends on its own.
STOP_GRACE_S = 15.0


def _busy(max_inflight: int) -> str:
    """What a sender refused for back-pressure is told (503 / ``UNAVAILABLE``)."""
    return f"{max_inflight} requests already in flight (the upstream is slow): send again later"


def _now_and_then(count: int) -> bool:
    """Whether the ``count``-th of a run of like events is logged: the 1st, 10th, 100th and every
    1000th. A sender retrying in a loop, or a scan of the port, makes thousands of refusals a
    minute: one line each would bury everything else in the log, and none would hide them."""
    return count in (1, 10, 100) or count % 1000 == 0


class CostGateway:
    """Prices the spans of OTLP export requests and forwards them to ``exporter``.

    Protocol-free: the HTTP and gRPC servers (:func:`serve_http`,
    :func:`serve_grpc`) decode requests and call :meth:`accept`. Requests are
    worked through one at a time, so the leaf rule and the roll-up see each
    trace's spans in a single order, as they would in process; at most
    ``max_inflight`` wait for or hold that turn, the rest are refused with
    :class:`Unavailable` so that a slow upstream cannot build a queue.

    With a ``meter_provider``, the cost metrics (:mod:`genai_cost.metrics`) are
    recorded on it, as the zero-code configurator records them in process, each
    series also labelled with what names the sender that made the span
    (:mod:`genai_cost.sender_metrics`; the meter's resource is the gateway's own).
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        settings: CostSettings | None = None,
        catalog: Catalog | None = None,
        meter_provider: MeterProvider | None = None,
        max_inflight: int = MAX_INFLIGHT,
        max_spans: int = MAX_SPANS_PER_REQUEST,
    ) -> None:
        if max_inflight < 1 or max_spans < 1:
            raise ValueError("max_inflight and max_spans must be >= 1")
        if settings is None:
            settings = CostSettings.from_env()
            report_unknown_variables()
        if catalog is None:
            catalog = load_catalog(settings)
        # The layers' sections come from the same files, read once with the catalog.
        layers = LayerSettings.from_env(catalog=catalog)
        self.metrics: CostMetrics | None = None
        if meter_provider is not None:
            from .metrics import CostMetrics

            self.metrics = CostMetrics(meter_provider, by_sender=True)
        self._upstream = _Upstream(exporter)
        self._rollup = TraceCostExporter(
            self._upstream,
            bands=settings.bands,
            idle_timeout_s=settings.trace_idle_timeout_s,
            max_traces=settings.max_traces,
            trace_layers=layers.trace_layers(),
            on_trace_complete=self._trace_complete if self.metrics is not None else None,
        )
        #: Span ids of this request's roots that arrived with trace totals: their process
        #: recorded the trace's metrics already.
        self._totalled_elsewhere: set[int] = set()
        self._handed_on = _HandedOn()
        self._processor = CostSpanProcessor(
            self._handed_on,
            catalog=catalog,
            settings=settings,
            span_layers=layers.span_layers(),
            listeners=() if self.metrics is None else (self.metrics,),
            deferred=False,
        )
        self.max_inflight = max_inflight
        self.max_spans = max_spans
        #: Guards the turn to export, the count in flight and ``stopping``; never held while
        #: exporting, so that the counters and a refusal never wait on the upstream.
        self._turn = threading.Condition()
        self._exporting = False
        self._inflight = 0
        self._stopping = False
        #: Guards the counters alone (``GET /health`` reads them while an export runs).
        self._stats_lock = threading.Lock()
        self.stats = GatewayStats()
        #: Refusals so far by reason (a few fixed phrases), for logging each kind now and then.
        self._refusals: dict[str, int] = {}
        #: (trace id << 64 | span id) of the spans forwarded lately, to know a sender's retry.
        self._forwarded: dict[int, None] = {}
        #: The same key -> the span as priced and rolled up, for spans the upstream failed to
        #: take: a retry forwards these, not the roll-up again (which would count them twice).
        self._unsent: dict[int, ReadableSpan] = {}

    @property
    def processor(self) -> CostSpanProcessor:
        return self._processor

    @property
    def rollup(self) -> TraceCostExporter:
        return self._rollup

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def inflight(self) -> int:
        """Requests waiting for or holding the export now."""
        return self._inflight

    def accept(self, request: ExportTraceServiceRequest, *, peer: str = "") -> Accepted:
        """Price, roll up and forward the request's spans. A failure inside is logged
        and counted, and the spans are forwarded unpriced. Raises :class:`Unavailable`
        when too many requests are in flight or the gateway is stopping, and
        :class:`TooManySpans` for a request over ``max_spans``: nothing is done with it.
        ``peer`` names the sender in the log lines of a refusal or an upstream failure."""
        if self._stopping:
            message = "the gateway is stopping; send again (to its successor)"
            self.refuse_busy("stopping", peer, message)
            raise Unavailable(message)
        count = sum(len(scopes.spans) for resource in request.resource_spans for scopes in resource.scope_spans)
        if count > self.max_spans:
            message = f"{count} spans in one request; the limit is {self.max_spans}: send smaller batches"
            self.refused("too many spans", peer, message)
            raise TooManySpans(message)
        turn = self._turn
        with turn:
            busy = self._inflight >= self.max_inflight
            if not busy:
                self._inflight += 1
        if busy:
            message = _busy(self.max_inflight)
            self.refuse_busy("busy", peer, message)
            raise Unavailable(message)
        try:
            with turn:
                while self._exporting and not self._stopping:
                    turn.wait()
                stopping = self._stopping
                if not stopping:
                    self._exporting = True
            if stopping:
                message = "the gateway is stopping; send again (to its successor)"
                self.refuse_busy("stopping", peer, message)
                raise Unavailable(message)
            try:
                return self._forward(spans_of(request), peer)
            finally:
                with turn:
                    self._exporting = False
                    turn.notify_all()
        finally:
            with turn:
                self._inflight -= 1

    def _forward(self, received: ReceivedSpans, peer: str) -> Accepted:
        """Price, roll up and forward; the caller holds the turn."""
        ordered = _children_first(received.spans)
        forwarded_before = self._forwarded
        unsent = self._unsent
        fresh: list[ReadableSpan] = []
        retried: list[ReadableSpan] = []
        seen: set[int] = set()
        for span in ordered:
            key = _span_key(span)
            if key in seen or key in forwarded_before:
                continue  # a retry of what was forwarded, or the same span twice in this request
            seen.add(key)
            cached = unsent.pop(key, None)
            if cached is not None:
                retried.append(cached)
            else:
                fresh.append(span)
        with self._stats_lock:
            stats = self.stats
            stats.requests += 1
            stats.spans_received += len(received.spans)
            stats.spans_rejected += received.rejected
            stats.spans_resent += len(ordered) - len(fresh) - len(retried)
        if not fresh and not retried:  # all of it forwarded already: the sender is retrying
            return Accepted(received, True)
        outgoing = self._price(fresh)
        upstream = self._upstream
        upstream.begin(retried)
        try:
            result = self._rollup.export(outgoing) if outgoing else upstream.export([])
        except Exception:  # an exporter that raises is a failed export, not a crash
            _log.exception("genai-cost gateway: the upstream exporter raised")
            result = SpanExportResult.FAILURE
        sent = upstream.sent or [*retried, *outgoing]
        upstream.ahead, upstream.sent = [], []
        if result is SpanExportResult.SUCCESS:
            for span in sent:
                forwarded_before[_span_key(span)] = None
            if len(forwarded_before) > _MAX_FORWARDED:
                self._forwarded = newer_half(forwarded_before)
            return Accepted(received, True)
        refusal = upstream.refusal()
        if refusal is None:  # kept for the sender's retry; one refused for good is not resent
            for span in sent:
                unsent[_span_key(span)] = span
            while len(unsent) > _MAX_UNSENT:  # the oldest go: their retry would be rolled up again
                del unsent[next(iter(unsent))]
        with self._stats_lock:
            self.stats.spans_not_forwarded += len(sent)
            if refusal is not None:
                self.stats.spans_refused_upstream += len(sent)
            lost = self.stats.spans_not_forwarded
        if refusal is None:
            self._log_refusal(
                "upstream failed",
                peer,
                f"the upstream exporter failed to take its {len(sent)} span(s) "
                f"({lost} not forwarded since the start); told to send them again",
            )
        else:
            self._log_refusal(
                "upstream refused",
                peer,
                f"the upstream refused its {len(sent)} span(s) for good ({refusal}; "
                f"{lost} not forwarded since the start); told not to send them again",
            )
        return Accepted(received, False, refusal)

    def _price(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        handed_on = self._handed_on
        handed_on.spans = []
        processor = self._processor
        totalled = self._totalled_elsewhere
        totalled.clear()
        for span in spans:
            try:
                attributes = attributes_of(span)
                if A.TRACE_TOTAL in attributes and span.context is not None:
                    totalled.add(span.context.span_id)
                if A.COST_TOTAL in attributes or A.COST_UNPRICED in attributes or A.COST_DUPLICATE_OF in attributes:
                    # Priced where it was made (a duplicate record of a call there, too): passed
                    # on as it is, and it counts for the leaf rule as it did there.
                    processor.note_priced_elsewhere(span)
                    handed_on.spans.append(span)
                else:
                    processor.on_end(span)
            except Exception:  # pragma: no cover - on_end does not raise; belt and braces
                self.failed()
                handed_on.spans.append(span)
        out, handed_on.spans = handed_on.spans, []
        return out

    def _trace_complete(self, totals: TraceTotals, root: ReadableSpan) -> None:
        metrics = self.metrics
        if metrics is not None and (root.context is None or root.context.span_id not in self._totalled_elsewhere):
            metrics.on_trace_complete(totals, root)

    def refused(self, reason: str = "refused", peer: str = "", detail: str = "") -> None:
        """Count a request refused whole, and log it now and then (the servers call it from
        their threads). ``reason`` is one of a few fixed phrases (``413 Request Entity Too
        Large``, ``not OTLP``): each is logged at its own 1st, 10th, 100th... refusal, so that
        a flood of one kind does not hide another. ``peer`` names the sender, ``detail`` why."""
        with self._stats_lock:
            self.stats.requests_refused += 1
        self._log_refusal(reason, peer, detail)

    def refuse_busy(self, reason: str = "busy", peer: str = "", detail: str = "") -> None:
        """Count a request refused, to be retried, for back-pressure or a stop; logged as
        :meth:`refused` logs."""
        with self._stats_lock:
            self.stats.requests_refused += 1
            self.stats.requests_busy += 1
        self._log_refusal(reason, peer, detail)

    def _log_refusal(self, reason: str, peer: str, detail: str) -> None:
        """A warning naming the sender and why, at the 1st, 10th, 100th and every 1000th of
        its reason: a refusal is the sender's to see in its answer, but the operator's to see
        when it keeps happening (a sender's bad batches, an upstream that refuses)."""
        with self._stats_lock:
            count = self._refusals[reason] = self._refusals.get(reason, 0) + 1
        if _now_and_then(count):
            _log.warning(
                "genai-cost gateway: refused a request from %s (%s, %d so far): %s",
                peer or "a sender",
                reason,
                count,
                detail or reason,
            )

    def failed(self) -> None:
        """Count a request the gateway could not read because of its own error."""
        with self._stats_lock:
            self.stats.internal_errors += 1

    def stats_snapshot(self) -> dict[str, int]:
        """The counters as one consistent set (``GET /health``), without waiting for an export."""
        with self._stats_lock:
            snapshot = asdict(self.stats)
        # Traces the roll-up let go before their local root came (costs on their spans, totals
        # on none): a sender that does not mark remote parents in Span.flags shows up here.
        snapshot["traces_without_root"] = self._rollup.stats.traces_expired_without_root
        return snapshot

    def begin_stop(self) -> None:
        """Refuse, as retryable, every request from now on, those waiting for their turn too:
        a sender told to retry sends again, where one answered and then dropped loses spans."""
        with self._turn:
            self._stopping = True
            self._turn.notify_all()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._rollup.force_flush(timeout_millis)

    def shutdown(self, timeout_s: float = STOP_GRACE_S) -> None:
        """Stop taking requests, let the export under way end (for ``timeout_s`` at
        most: a hung upstream must not hold the process), then shut the exporters."""
        self.begin_stop()
        with self._turn:
            if not self._turn.wait_for(lambda: not self._exporting, timeout_s):
                _log.warning("genai-cost gateway: an export is still under way; stopping without it")
        self._rollup.shutdown()


class _Upstream(SpanExporter):
    """The exporter behind the roll-up. It keeps the batch it last passed on (priced and
    rolled up: the spans a retry then forwards as they are), and puts ``ahead`` of the
    roll-up's batch the spans of an earlier failed export that a retry brought again.
    It watches its exporters (:class:`_Verdict`) to tell a refusal for good from a failure."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.ahead: list[ReadableSpan] = []
        self.sent: list[ReadableSpan] = []
        members = exporter.members if isinstance(exporter, FanOutExporter) else (exporter,)
        #: id(exporter) -> its verdict, for the exporters that report their outcome.
        self._verdicts = {id(member): verdict for member in members if (verdict := _watch(member)) is not None}

    def begin(self, ahead: list[ReadableSpan]) -> None:
        """Before an export: the spans to put ahead, and no verdict left from the last one
        (an exporter that fails before it reports, shut down, must not repeat an old one)."""
        self.ahead, self.sent = ahead, []
        if isinstance(self.exporter, FanOutExporter):
            self.exporter.failed = ()
        for verdict in self._verdicts.values():
            verdict.refusal = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        batch = [*self.ahead, *spans]
        self.ahead, self.sent = [], batch
        return self.exporter.export(batch)

    def refusal(self) -> str | None:
        """After a failed export: the upstream's status when every exporter that failed was
        refused for good; ``None`` when a retry may get the spans through, or when one of them
        does not say. Unknown is answered as retryable: a wrong "retry" costs the sender a few
        attempts, a wrong "do not" loses its spans."""
        exporter = self.exporter
        failed = exporter.failed if isinstance(exporter, FanOutExporter) else (exporter,)
        refusals = [verdict.refusal for member in failed if (verdict := self._verdicts.get(id(member))) is not None]
        found = [refusal for refusal in refusals if refusal is not None]
        if not failed or len(found) != len(failed):
            return None
        return "; ".join(found)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.exporter.shutdown()


#: Upstream HTTP statuses a retry may get past: those the OTLP specification lists as retryable
#: (429, 502, 503, 504), and 408, a timeout (which SDK exporters before 1.45 retried). Any other
#: failed status is a refusal for good (the specification: "MUST NOT be retried").
_RETRYABLE_HTTP_STATUSES = frozenset({408, 429, 502, 503, 504})
#: The gRPC codes the OTLP specification lists as retryable; the others are refusals for good.
_RETRYABLE_GRPC_CODES = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)


def _refusal(error_attrs: object) -> str | None:
    """The upstream's status, when an OTLP exporter's failed export ended on one that is not to
    be retried; ``None`` for a failure with no status (connection refused, a timeout, a size
    limit of the exporter's own) or a retryable one that the exporter's retries did not outlast."""
    if not isinstance(error_attrs, Mapping):
        return None
    status = error_attrs.get("http.response.status_code")
    if isinstance(status, int) and status not in _RETRYABLE_HTTP_STATUSES:
        return f"HTTP {status}"
    code = error_attrs.get("rpc.response.status_code")
    if isinstance(code, str) and code not in _RETRYABLE_GRPC_CODES:
        return f"gRPC {code}"
    return None


class _Verdict:
    """How an SDK OTLP exporter's last export ended, read where the exporter reports it.

    ``export()`` returns FAILURE alike for an upstream that is down and one that answered
    ``400`` (the data refused), and the exporter offers no public way to ask which. But since
    SDK 1.42 the OTLP exporters (HTTP and gRPC) write the upstream's last status
    (``http.response.status_code``, ``rpc.response.status_code``) into the result of their own
    telemetry hook, the private ``_metrics.export_operation``, whether or not their
    self-metrics are on. This stands in for
    that hook, passes everything through to it (any other attribute too, and any arguments: a
    later SDK's hook must not fail its exports here), and reads the status as the export ends.
    An exporter without the hook (1.40, 1.41, console, others) is not watched: its failures stay
    retryable, as before."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook
        self.refusal: str | None = None

    @contextmanager
    def export_operation(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self.refusal = None
        with self._hook.export_operation(*args, **kwargs) as result:
            try:
                yield result
            finally:
                self.refusal = _refusal(getattr(result, "error_attrs", None))

    def __getattr__(self, name: str) -> Any:
        if name == "_hook":  # (not set yet: a copy being made)
            raise AttributeError(name)
        return getattr(self._hook, name)


def _watch(exporter: SpanExporter) -> _Verdict | None:
    """Put a :class:`_Verdict` in the exporter's telemetry hook, when it has that hook."""
    target: Any = exporter
    hook = getattr(target, "_metrics", None)
    if isinstance(hook, _Verdict):  # (a second gateway on the same exporter)
        return hook
    if not callable(getattr(hook, "export_operation", None)):
        return None
    verdict = _Verdict(hook)
    target._metrics = verdict
    return verdict


class _HandedOn(SpanProcessor):
    """The processor after ``CostSpanProcessor``: collects what it hands on."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


#: Span ids the gateway remembers as forwarded (about 5 MB): a sender retries within its
#: export timeout (10 s by default), by which time far fewer spans have passed.
_MAX_FORWARDED = 50_000
#: Spans kept, priced and rolled up, after the upstream failed to take them, for the sender's
#: retry (about 2.3 kB each, some 50 MB): a sender retries within seconds.
_MAX_UNSENT = 20_000


def _span_key(span: ReadableSpan) -> int:
    """The span's identity (0 for none: never taken for a retry)."""
    context = span.context
    return 0 if context is None else context.trace_id << 64 | context.span_id


def _children_first(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The spans in end order, except that every span comes after its descendants
    in the same request.

    A request groups its spans by resource and scope, not by time, so they are
    sorted first. End order alone is how spans reach a processor in process, but
    some instrumentations end a child just after its parent (the Vercel AI SDK's
    embedding call, by a fraction of a millisecond); in process that child is
    late for its trace's totals. Here both are at hand, so the child goes first:
    the leaf rule sees the call before its wrapper, and the root's totals include it.
    """
    by_end = sorted(spans, key=_end_time)
    present = {(span.context.trace_id, span.context.span_id) for span in by_end if span.context is not None}
    children: dict[tuple[int, int], list[ReadableSpan]] = {}
    tops: list[ReadableSpan] = []
    for span in by_end:
        parent = span.parent
        key = (parent.trace_id, parent.span_id) if parent is not None else None
        if key is not None and key in present:
            children.setdefault(key, []).append(span)
        else:
            tops.append(span)
    out: list[ReadableSpan] = []
    # Each span is stacked once: a span id sent twice, one a child of the other (a broken
    # sender), would otherwise be its own descendant and grow the stack without end.
    stacked = {id(top) for top in tops}
    for top in tops:
        # Post-order without recursion (a deep trace must not hit the recursion limit).
        stack: list[tuple[ReadableSpan, bool]] = [(top, False)]
        while stack:
            span, expanded = stack.pop()
            if expanded:
                out.append(span)
                continue
            stack.append((span, True))
            context = span.context
            if context is not None:
                for child in reversed(children.get((context.trace_id, context.span_id), ())):
                    if id(child) not in stacked:
                        stacked.add(id(child))
                        stack.append((child, False))
    if len(out) != len(by_end):  # a cycle of parent ids (a broken sender): keep end order
        return by_end
    return out


def _end_time(span: ReadableSpan) -> int:
    return span.end_time or 0


# ---------------------------------------------------------------------- HTTP


def serve_http(
    gateway: CostGateway,
    host: str = "127.0.0.1",
    port: int = 4318,
    *,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    tls: GatewayTls | None = None,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> GatewayHttpServer:
    """Serve OTLP/HTTP (``POST /v1/traces``, protobuf or JSON, optionally gzip)
    on a thread of its own, over TLS with ``tls``; ``GET /health`` answers with
    the gateway's counters. Stop it with :meth:`GatewayHttpServer.stop` (after
    :meth:`CostGateway.begin_stop`), or ``server.shutdown(); server.server_close()``.
    Raises :class:`~genai_cost.gateway_tls.TlsConfigError` for unusable TLS files."""

    class Handler(_OtlpHttpHandler):
        pass

    Handler.gateway = gateway
    Handler.max_request_bytes = max_request_bytes
    Handler.admission = threading.BoundedSemaphore(gateway.max_inflight)
    Handler.timeout = read_timeout_s  # (the socket timeout StreamRequestHandler.setup sets)
    context = tls.server_context() if tls is not None else None
    server = GatewayHttpServer((host, port), Handler)
    server.tls = context
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="genai-cost-gateway-http", daemon=True)
    thread.start()
    return server


class GatewayHttpServer(ThreadingHTTPServer):
    """Counts the requests its handlers are working on, so that a stop can wait for
    their answers without waiting for connections kept alive with nothing to say."""

    #: The TLS context, or ``None`` for plain HTTP.
    tls: ssl.SSLContext | None = None

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._answering = 0
        self._answered = threading.Condition()
        self._connections = 0
        self._connections_lock = threading.Lock()
        #: Connections closed at once because MAX_HTTP_CONNECTIONS were open.
        self.connections_refused = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            full = self._connections >= MAX_HTTP_CONNECTIONS
            if full:
                self.connections_refused += 1
            else:
                self._connections += 1
        if full:
            # Closed before a thread is made for it: a thread per idle connection is
            # otherwise unbounded (a sender that opens and stalls holds one for the read timeout).
            if _now_and_then(self.connections_refused):
                _log.warning(
                    "genai-cost gateway: %d connections open; closing new ones, this one from %s (%d so far)",
                    MAX_HTTP_CONNECTIONS,
                    _host_of(client_address),
                    self.connections_refused,
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections -= 1

    def request_began(self) -> None:
        with self._answered:
            self._answering += 1

    def request_ended(self) -> None:
        with self._answered:
            self._answering -= 1
            self._answered.notify_all()

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop accepting connections, wait (``grace_s`` at most) until every request
        read so far has its answer, and close. Whether none was left unanswered."""
        self.shutdown()
        with self._answered:
            done = self._answered.wait_for(lambda: self._answering == 0, grace_s)
        self.server_close()
        return done

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that hangs up before its answer (a timeout of its own) is not the
        gateway's failure: its request was counted as it was answered. Anything else is
        logged with its traceback, through logging rather than socketserver's print."""
        failure = sys.exc_info()[1]
        host = _host_of(client_address)
        if isinstance(failure, ConnectionError):
            _log.info("genai-cost gateway: %s hung up before its answer (%s)", host, type(failure).__name__)
            return
        _log.error("genai-cost gateway: failed on a request from %s", host, exc_info=failure)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is not None:
            # The handshake is left to the connection's own thread (_OtlpHttpHandler.handle):
            # here it would hold up every other client's accept while one is slow.
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address


def _host_of(client_address: Any) -> str:
    """The sender's address as logs name it (the host of ``(host, port)``)."""
    host = client_address[0] if isinstance(client_address, tuple) and client_address else client_address
    return str(host)


def _refuse_plain_http(connection: ssl.SSLSocket) -> None:
    """Answer a client that forgot ``https://`` in plain HTTP, so that it reads the mistake
    instead of an empty reply, then read what it still sends (closing on unread data would
    reset the connection before the client reads the answer)."""
    local = connection.getsockname()  # the address the client reached, not 0.0.0.0
    host, port = (f"[{local[0]}]" if ":" in local[0] else local[0]), local[1]
    message = (
        f"This port serves OTLP over TLS: send to https://{host}:{port}/v1/traces "
        "(OTEL_EXPORTER_OTLP_ENDPOINT=https://..., and trust the gateway's certificate).\n"
    ).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(message)}\r\nConnection: close\r\n\r\n"
    ).encode()
    raw = socket.socket
    raw.sendall(connection, head + message)
    try:
        raw.shutdown(connection, socket.SHUT_WR)
        connection.settimeout(1.0)
        drained = 0
        while drained < _PLAIN_HTTP_DRAIN_BYTES:
            chunk = raw.recv(connection, 65536)
            if not chunk:
                break
            drained += len(chunk)
    except OSError:  # the client hung up or stalled: it has the answer or will never read it
        pass


class _OtlpHttpHandler(BaseHTTPRequestHandler):
    gateway: CostGateway
    max_request_bytes: int
    #: Requests being read, decoded, priced or forwarded (see do_POST).
    admission: threading.BoundedSemaphore
    server_version = "genai-cost-gateway"
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket):
            try:
                connection.settimeout(_TLS_HANDSHAKE_TIMEOUT_S)
                first = socket.socket.recv(connection, 1, socket.MSG_PEEK)
                if not first:
                    # Connected and closed before a byte: a TCP probe (a load balancer's, a
                    # Kubernetes tcpSocket check), not a request, refused or otherwise.
                    self.close_connection = True
                    return
                if first.isalpha():  # an HTTP request line, where a TLS record (0x16) was due
                    self.gateway.refused("plain HTTP to the TLS port", self._peer, "sent plain HTTP to the TLS port")
                    _refuse_plain_http(connection)
                    self.close_connection = True
                    return
                connection.do_handshake()
                connection.settimeout(self.timeout)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                # A client speaking plain HTTP, without the client certificate asked for,
                # or not trusting the gateway's: refused, counted and logged.
                self.gateway.refused("TLS handshake failed", self._peer, f"TLS handshake failed: {exc}")
                self.close_connection = True
                return
        super().handle()

    _in_request = False

    @property
    def _peer(self) -> str:
        return _host_of(self.client_address)

    def parse_request(self) -> bool:
        # The request line has arrived: from here until its answer is written, a stop waits.
        self._in_request = True
        self.server.request_began()  # type: ignore[attr-defined]
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            if self._in_request:
                self._in_request = False
                self.server.request_ended()  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        is_json = content_type == _JSON
        if self._route() == "/health":
            self._drain()
            self._wrong_method()
            return
        try:
            if self._route() != "/v1/traces":
                self._drain()
                raise _Refused(HTTPStatus.NOT_FOUND, f"no such path {self.path!r}: OTLP traces go to /v1/traces")
            if content_type not in (_PROTOBUF, _JSON):
                self._drain()
                raise _Refused(
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    f"Content-Type {content_type or '(none)'!r}: expected {_PROTOBUF} or {_JSON}",
                )
            # At most max_inflight requests are read, decoded, priced or forwarded at once: a
            # body is up to 20 MiB inflated, so one read before the in-flight check would let
            # a burst of small gzip requests take gigabytes. The rest are told to retry, unread.
            if not self.admission.acquire(blocking=False):
                self.close_connection = True
                message = _busy(self.gateway.max_inflight)
                self.gateway.refuse_busy("busy", self._peer, message)
                raise Unavailable(message)
            try:
                body = self._body()
                request = parse_json(body) if is_json else parse_protobuf(body)
                del body
                accepted = self.gateway.accept(request, peer=self._peer)
            finally:
                self.admission.release()
        except _Refused as refused:
            self.gateway.refused(f"{refused.status.value} {refused.status.phrase}", self._peer, refused.message)
            self._reply(refused.status, _status_message(code_pb2.INVALID_ARGUMENT, refused.message), is_json)
            return
        except Unavailable as exc:  # counted and logged where it was raised
            self._unavailable(str(exc), is_json)
            return
        except TooManySpans as exc:  # counted and logged by accept
            message = _status_message(code_pb2.INVALID_ARGUMENT, str(exc))
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message, is_json)
            return
        except OtlpDecodeError as exc:
            self.gateway.refused("not OTLP", self._peer, str(exc))
            self._reply(HTTPStatus.BAD_REQUEST, _status_message(code_pb2.INVALID_ARGUMENT, str(exc)), is_json)
            return
        except OSError as exc:  # (TimeoutError: nothing sent for read_timeout_s) no one to answer
            self.close_connection = True
            self.gateway.refused("not read", self._peer, f"request not read: {exc}")
            return
        except Exception:
            self.gateway.failed()
            _log.exception("genai-cost gateway: could not read a request")
            message = _status_message(code_pb2.INTERNAL, "the gateway could not read the request")
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, message, is_json)
            return
        if accepted.refusal is not None:  # not 503: a retry would be refused again, to no end
            status = _status_message(code_pb2.INTERNAL, _upstream_refused(accepted.refusal))
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, status, is_json)
            return
        if not accepted.forwarded:
            self._unavailable(_UPSTREAM_FAILED, is_json)
            return
        self._reply(HTTPStatus.OK, _response(accepted), is_json)

    def _unavailable(self, message: str, is_json: bool) -> None:
        """503 with ``Retry-After``: the OTLP exporters send such a request again."""
        status = _status_message(code_pb2.UNAVAILABLE, message)
        body = json_format.MessageToJson(status, indent=None).encode() if is_json else status.SerializeToString()
        self._send(
            HTTPStatus.SERVICE_UNAVAILABLE, _JSON if is_json else _PROTOBUF, body, {"Retry-After": str(RETRY_AFTER_S)}
        )

    def _route(self) -> str:
        path = self.path.split("?")[0].rstrip("/")
        return "/health" if path == "" else path

    def do_GET(self) -> None:
        self._drain()
        if self._route() == "/health":
            self._send(HTTPStatus.OK, _JSON, json.dumps(self.gateway.stats_snapshot()).encode())
        else:
            self._wrong_method()

    def do_HEAD(self) -> None:
        self._drain()
        if self._route() == "/health":
            self._send(HTTPStatus.OK, _JSON, json.dumps(self.gateway.stats_snapshot()).encode(), head=True)
        else:
            self._wrong_method(head=True)

    def _wrong_method(self, head: bool = False) -> None:
        """405 naming the methods the path takes (404 for a path there is not), with a
        Status body, in JSON unless the client sent protobuf."""
        path = self._route()
        is_json = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != _PROTOBUF
        if path == "/v1/traces":
            status, allow, text = HTTPStatus.METHOD_NOT_ALLOWED, "POST", "OTLP traces are POSTed to /v1/traces"
        elif path == "/health":
            status, allow, text = HTTPStatus.METHOD_NOT_ALLOWED, "GET, HEAD", "/health answers GET (and HEAD)"
        else:
            status, allow, text = HTTPStatus.NOT_FOUND, "", f"no such path {self.path!r}: OTLP traces go to /v1/traces"
        self.gateway.refused(f"{status.value} {status.phrase}", self._peer, f"{self.command} {path}: {text}")
        message = _status_message(code_pb2.INVALID_ARGUMENT, f"{self.command} {path}: {text}")
        body = json_format.MessageToJson(message, indent=None).encode() if is_json else message.SerializeToString()
        self._send(status, _JSON if is_json else _PROTOBUF, body, {"Allow": allow} if allow else {}, head=head)

    def do_PUT(self) -> None:
        self._drain()
        self._wrong_method()

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    def _body(self) -> bytes:
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                body = self._chunked()  # what the OpenTelemetry JS exporters send
            else:
                self.close_connection = True
                raise _Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length (or chunked Transfer-Encoding) is required")
        else:
            body = self._sized(raw_length)
        return self._decoded(body)

    def _sized(self, raw_length: str) -> bytes:
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise _Refused(HTTPStatus.BAD_REQUEST, f"Content-Length {raw_length!r} is not a number") from None
        if length < 0 or length > self.max_request_bytes:
            self.close_connection = True
            raise _Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {length} bytes; the limit is {self.max_request_bytes}"
            )
        body = self.rfile.read(length)
        if len(body) < length:  # the client stopped sending: never forward half a request
            self.close_connection = True
            raise _Refused(HTTPStatus.BAD_REQUEST, f"body ended after {len(body)} of its {length} bytes")
        return body

    def _chunked(self) -> bytes:
        """A body sent in chunks (RFC 9112 section 7.1), bounded like any other."""
        parts: list[bytes] = []
        size_so_far = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _Refused(HTTPStatus.BAD_REQUEST, f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, until the blank line
                    pass
                return b"".join(parts)
            size_so_far += size
            if size < 0 or size_so_far > self.max_request_bytes:
                self.close_connection = True
                raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"chunked body over {self.max_request_bytes} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                self.close_connection = True
                raise _Refused(HTTPStatus.BAD_REQUEST, f"chunk ended after {len(chunk)} of its {size} bytes")
            parts.append(chunk)
            self.rfile.readline(8)  # the CRLF after the chunk

    def _decoded(self, body: bytes) -> bytes:
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            return self._decompressed(body, zlib.MAX_WBITS | 16)
        if encoding == "deflate":
            return self._decompressed(body, zlib.MAX_WBITS)
        if encoding != "identity":
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding!r}: expected gzip or none")
        return body

    def _decompressed(self, body: bytes, wbits: int) -> bytes:
        """Every member of the stream (gzip allows several, and Go's reader, the
        Collector's, reads them all), and only a stream that ends: a cut one would
        forward part of the request as if it were all of it."""
        parts: list[bytes] = []
        size = 0
        remaining = body
        while True:
            inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(remaining, self.max_request_bytes + 1 - size)
            except zlib.error as exc:
                raise _Refused(HTTPStatus.BAD_REQUEST, f"body is not valid compressed data: {exc}") from None
            size += len(out)
            if size > self.max_request_bytes:
                raise _Refused(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"body exceeds {self.max_request_bytes} bytes once decompressed",
                )
            if not inflater.eof:
                raise _Refused(HTTPStatus.BAD_REQUEST, "compressed body ends before its compressed stream does")
            parts.append(out)
            remaining = inflater.unused_data
            if not remaining:
                return b"".join(parts)

    def _drain(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 < length <= self.max_request_bytes:
            self.rfile.read(length)
        elif length or self.headers.get("Transfer-Encoding"):  # a body not worth reading
            self.close_connection = True

    def _reply(self, status: HTTPStatus, message: Any, is_json: bool) -> None:
        if is_json:
            self._send(status, _JSON, json_format.MessageToJson(message, indent=None).encode())
        else:
            self._send(status, _PROTOBUF, message.SerializeToString())

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.gateway.stopping or self.close_connection:
            # A kept-alive connection's next request would only be refused, or the body of
            # this one was left unread: the client is told the connection ends here.
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("genai-cost gateway: %s " + format, self.address_string(), *args)


class _Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _status_message(code: int, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=code, message=message)


#: What a sender is told when the upstream failed to take its spans (503 / ``UNAVAILABLE``). Its
#: retry is safe: the spans are kept as priced and rolled up, and forwarded as they are.
_UPSTREAM_FAILED = "the gateway's upstream exporter failed to take the spans: send them again"


def _upstream_refused(refusal: str) -> str:
    """What a sender is told (500 / ``INTERNAL``, which the OTLP specification says not to
    retry) when the upstream refused its spans for good: not its request's fault (so not 400),
    but sent again, they would be refused again. The collector's OTLP receiver answers a
    permanent error that carries no status of its own the same way."""
    return (
        f"the gateway's upstream refused the spans for good ({refusal}): they would be refused again; "
        "not to be sent again"
    )


def _response(accepted: Accepted) -> ExportTraceServiceResponse:
    """OTLP's answer to a request whose spans were forwarded: malformed spans left out
    are reported as rejected (``partial_success``)."""
    received = accepted.received
    if not received.rejected:
        return ExportTraceServiceResponse()
    return ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(
            rejected_spans=received.rejected, error_message="; ".join(received.problems)
        )
    )


# ---------------------------------------------------------------------- gRPC


def serve_grpc(
    gateway: CostGateway, host: str = "127.0.0.1", port: int = 4317, *, workers: int = 0, tls: GatewayTls | None = None
) -> Any:
    """Serve OTLP/gRPC (``TraceService/Export``), over TLS with ``tls``; returns the
    started ``grpc.Server`` (stop it with ``server.stop(grace)``, after
    :meth:`CostGateway.begin_stop`) and its bound port as ``server.port``. It takes
    the gateway's ``max_inflight`` calls at once, on as many threads unless ``workers``.
    Raises :class:`~genai_cost.gateway_tls.TlsConfigError` for unusable TLS files."""
    import grpc

    def export(body: bytes, context: Any) -> ExportTraceServiceResponse:
        # The request arrives as bytes (no deserializer below): gRPC's own would answer a body
        # that is not protobuf INTERNAL, uncounted; decoded here, it is refused as over HTTP.
        peer = str(context.peer())
        try:
            accepted = gateway.accept(_grpc_request(gateway, body, peer), peer=peer)
        except OtlpDecodeError as exc:  # counted and logged by _grpc_request
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # (abort raises)
        except Unavailable as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise
        except TooManySpans as exc:  # not RESOURCE_EXHAUSTED: exporters retry that, to no end
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise
        if accepted.refusal is not None:  # not UNAVAILABLE: a retry would be refused again
            context.abort(grpc.StatusCode.INTERNAL, _upstream_refused(accepted.refusal))
        if not accepted.forwarded:
            context.abort(grpc.StatusCode.UNAVAILABLE, _UPSTREAM_FAILED)
        return _response(accepted)

    inflight = gateway.max_inflight
    watch = _GrpcLimitWatch(gateway)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers or inflight, thread_name_prefix="genai-cost-gateway-grpc"),
        interceptors=[watch],
        options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)],
        # Beyond it gRPC answers RESOURCE_EXHAUSTED itself, rather than queueing the call.
        maximum_concurrent_rpcs=inflight,
    )
    watch.state = getattr(server, "_state", None)
    encode = ExportTraceServiceResponse.SerializeToString
    method = grpc.unary_unary_rpc_method_handler(export, response_serializer=encode)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_TRACE_SERVICE, {"Export": method}),))
    address = f"{_bracketed(host)}:{port}"
    try:
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, tls.grpc_credentials())
    except RuntimeError:  # grpc's "Failed to bind": what the socket would have said
        bound = 0
    if bound == 0:
        raise OSError(errno.EADDRINUSE, "the address is in use, or not one of this machine's")
    server.start()
    server.port = bound
    return server


_TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


def _grpc_request(gateway: CostGateway, body: bytes, peer: str) -> ExportTraceServiceRequest:
    """The request a gRPC call carries; one that is not OTLP/protobuf is counted and logged
    as refused, and raises :class:`~genai_cost.otlp_in.OtlpDecodeError`."""
    try:
        return parse_protobuf(body)
    except OtlpDecodeError as exc:
        gateway.refused("not OTLP", peer, str(exc))
        raise


class _GrpcLimitWatch:
    """A gRPC server interceptor that counts (in ``requests_busy``) and logs the calls gRPC
    refuses itself, ``RESOURCE_EXHAUSTED``, beyond ``maximum_concurrent_rpcs``: those never
    reach the servicer, nor anything else of the gateway's.

    gRPC (``grpc._server``) runs the interceptors of every call before that check, on its
    serving thread and with its server state locked, then refuses the call when the state's
    ``active_rpc_count`` has reached ``maximum_concurrent_rpcs``. Read here, under that same
    lock, the two give the same answer as the check that follows. They are private to grpc,
    so they are read with care: a grpc release without them leaves these refusals uncounted,
    as they were (docs/gateway.md), and never fails a call."""

    def __init__(self, gateway: CostGateway) -> None:
        self.gateway = gateway
        #: The grpc server's private state (``server._state``), set once the server exists.
        self.state: Any = None

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        limit = getattr(self.state, "maximum_concurrent_rpcs", None)
        active = getattr(self.state, "active_rpc_count", None)
        # (no handler: gRPC answers UNIMPLEMENTED, and does not look at the limit)
        if handler is not None and isinstance(limit, int) and isinstance(active, int) and active >= limit:
            self.gateway.refuse_busy(
                "busy",
                "a gRPC client (gRPC does not name it)",
                f"{limit} gRPC calls already in progress: gRPC answered RESOURCE_EXHAUSTED (retried by exporters)",
            )
        return handler


# ------------------------------------------------------------------ upstream


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
    """Whether ``endpoint`` is one of the addresses the gateway listens on."""
    host, port = endpoint
    everywhere = {"0.0.0.0", "::"}  # noqa: S104 - compared with, not bound to
    local = {"localhost", "127.0.0.1", "::1", *everywhere}
    for listen_host, listen_port in listening:
        if port != listen_port:
            continue
        if host == listen_host or listen_host in everywhere or (host in local and listen_host in local):
            return True
    return False


def parse_address(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:4318`` for IPv6) as (host, port); a clear error otherwise."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{option} {text!r}: expected HOST:PORT, for example 127.0.0.1:4318")
    host = host.strip("[]")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{option} {text!r}: the port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{option} {text!r}: the port must be 0-65535")
    return host, port


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


__all__ = [
    "MAX_INFLIGHT",
    "MAX_REQUEST_BYTES",
    "MAX_SPANS_PER_REQUEST",
    "STOP_GRACE_S",
    "Accepted",
    "CostGateway",
    "FanOutExporter",
    "GatewayHttpServer",
    "GatewayStats",
    "TooManySpans",
    "Unavailable",
    "serve_grpc",
    "serve_http",
    "upstream_exporters",
]
