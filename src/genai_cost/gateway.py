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
see :func:`now_and_then`).

This module is the gateway's core, :class:`CostGateway`, which knows no protocol,
and what both receivers answer with. Around it, one module per concept, each
importing this one and never the reverse:

- :mod:`genai_cost.gateway_http`: the OTLP/HTTP receiver (:func:`~genai_cost.gateway_http.serve_http`);
- :mod:`genai_cost.gateway_grpc`: the OTLP/gRPC receiver (:func:`~genai_cost.gateway_grpc.serve_grpc`);
- :mod:`genai_cost.gateway_tls`: TLS for both receivers;
- :mod:`genai_cost.gateway_upstream`: where the gateway forwards to, as ``genai-cost gateway``
  builds it from the standard variables. It needs nothing of this module, which imports its
  :class:`~genai_cost.gateway_upstream.FanOutExporter` to ask each of its exporters why it failed.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.rpc import code_pb2
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import attributes as A
from ._bounded import newer_half
from ._spans import attributes_of, plain_attributes
from ._vocabulary import DETACHED_CALL_SCOPES, RECORDED_AFTER_STREAM_SCOPE_PREFIX
from .config import CostSettings, report_unknown_variables
from .gateway_upstream import FanOutExporter
from .layers import LayerSettings
from .otlp_in import ReceivedSpans, spans_of
from .pricing.catalog import Catalog
from .processor import CostSpanProcessor, load_catalog
from .rollup import TraceCostExporter, TraceTotals

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

    from .metrics import CostMetrics

_log = logging.getLogger("genai_cost.gateway")

#: Largest request body accepted, after decompression (the OpenTelemetry Collector's default).
MAX_REQUEST_BYTES = 20 * 1024 * 1024


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
    #: Requests taken and priced whose spans the upstream did not take: answered 503 /
    #: ``UNAVAILABLE`` to be retried, or with the upstream's refusal for good. Not in
    #: ``requests_refused`` (the gateway took them; the upstream did not).
    requests_not_forwarded: int = 0
    spans_received: int = 0
    #: Spans left out of an accepted request (malformed ids), reported back as ``partial_success``.
    spans_rejected: int = 0
    #: Spans the upstream exporter failed to take (after its own retries), at each attempt.
    spans_not_forwarded: int = 0
    #: Of ``spans_not_forwarded``, those the upstream refused for good (a status the OTLP
    #: specification says not to retry, such as HTTP 400): their senders were told not to resend.
    spans_refused_upstream: int = 0
    #: Spans kept for a sender's retry after the upstream failed to take them, then let go,
    #: oldest first, to keep the store within its bounds (20,000 spans, 64 MiB) before the retry
    #: came: a retry that brings them after all has them priced and rolled up again, so their
    #: trace's totals may count them twice. Also counted in ``spans_not_forwarded``.
    spans_forgotten: int = 0
    #: Spans received again after they had been forwarded (a sender retrying a request whose
    #: answer it did not get in time), or twice in one request: not priced, rolled up or
    #: forwarded a second time.
    spans_resent: int = 0
    internal_errors: int = 0


#: What the gateway's metrics report of each counter of :class:`GatewayStats`: (field, metric,
#: attribute value), the outcome of ``gen_ai.cost.gateway.requests`` / ``.spans``, or the
#: component of ``gen_ai.cost.internal_errors`` (``docs/alerting.md``).
_METERED: tuple[tuple[str, str, str], ...] = (
    ("requests", A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_RECEIVED),
    ("requests_refused", A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_REFUSED),
    ("requests_busy", A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_BUSY),
    ("requests_not_forwarded", A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_NOT_FORWARDED),
    ("spans_received", A.METRIC_GATEWAY_SPANS, A.GATEWAY_RECEIVED),
    ("spans_rejected", A.METRIC_GATEWAY_SPANS, A.GATEWAY_REJECTED),
    ("spans_not_forwarded", A.METRIC_GATEWAY_SPANS, A.GATEWAY_NOT_FORWARDED),
    ("spans_refused_upstream", A.METRIC_GATEWAY_SPANS, A.GATEWAY_REFUSED_UPSTREAM),
    ("spans_forgotten", A.METRIC_GATEWAY_SPANS, A.GATEWAY_FORGOTTEN),
    ("spans_resent", A.METRIC_GATEWAY_SPANS, A.GATEWAY_RESENT),
    ("internal_errors", A.METRIC_INTERNAL_ERRORS, A.COMPONENT_GATEWAY),
)


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


#: Seconds a request waits at most for its turn to export (the upstream slow, others ahead of
#: it) before its sender is told to retry: less than the OTLP exporters' default timeout (10
#: s), so the sender reads the answer rather than giving the batch up at its own deadline.
MAX_TURN_WAIT_S = 5.0
#: What a gRPC call keeps of its own deadline for the answer to reach its sender.
_DEADLINE_MARGIN_S = 0.5

#: Requests at most in flight, waiting for or holding the export, across both receivers. The
#: export is one at a time (the roll-up wants one order), so more would only queue, each holding
#: its request in memory, while the upstream is slow; beyond it senders are told to retry.
MAX_INFLIGHT = 8
#: Spans at most in one request. At its request's peak (decoded, priced, encoded again for the
#: upstream) a span takes about 1.8 kB with no attributes and 6.5 kB as a small priced chat span
#: (tracemalloc, CPython 3.11; docs/gateway.md), so this bounds one request near 180 to 650 MB
#: (the 20 MiB body limit comes first for the chat spans, at some 87,000); OTLP exporters send
#: a few hundred to a few thousand spans a request (the SDKs' batch of 512, the collector's 8192).
MAX_SPANS_PER_REQUEST = 100_000
#: How long a stop waits for the requests in progress to be answered: longer than the OTLP
#: exporters' default timeout (10 s), so that an export under way ends on its own.
STOP_GRACE_S = 15.0


#: How long a sender refused to be retried (back-pressure, a stop, an upstream failure) is told
#: to wait, in seconds: HTTP ``Retry-After``, gRPC RetryInfo.
RETRY_AFTER_S = 1


def busy_message(max_inflight: int) -> str:
    """What a sender refused for back-pressure is told (503 / ``UNAVAILABLE``)."""
    return f"{max_inflight} requests already in flight (the upstream is slow): send again later"


def now_and_then(count: int) -> bool:
    """Whether the ``count``-th of a run of like events is logged: the 1st, 10th, 100th and every
    1000th. A sender retrying in a loop, or a scan of the port, makes thousands of refusals a
    minute: one line each would bury everything else in the log, and none would hide them."""
    return count in (1, 10, 100) or count % 1000 == 0


# What both receivers (gateway_http, gateway_grpc) answer with.

#: What a sender is told when the upstream failed to take its spans (503 / ``UNAVAILABLE``). Its
#: retry is safe: the spans are kept as priced and rolled up, and forwarded as they are.
UPSTREAM_FAILED = "the gateway's upstream exporter failed to take the spans: send them again"


def retry_trailers(message: str) -> tuple[tuple[str, bytes], ...]:
    """The trailing metadata of a gRPC ``UNAVAILABLE`` answer (``message`` its details) that
    tells the sender when to retry, :data:`RETRY_AFTER_S`, as ``Retry-After`` does over HTTP.
    Twice, as the senders read it: the Python SDK's exporter in its own
    ``google.rpc.retryinfo-bin`` trailer, Go's (the Go SDK, the collector) in the
    ``google.rpc.Status`` of ``grpc-status-details-bin``, whose code and message must be the
    call's own."""
    info = RetryInfo(retry_delay=Duration(seconds=RETRY_AFTER_S))
    detail = AnyProto()
    detail.Pack(info)
    status = Status(code=code_pb2.UNAVAILABLE, message=message, details=[detail])
    return (
        (_RETRY_INFO_TRAILER, info.SerializeToString()),
        (_STATUS_DETAILS_TRAILER, status.SerializeToString()),
    )


def upstream_refused(refusal: str) -> str:
    """What a sender is told (500 / ``INTERNAL``, which the OTLP specification says not to
    retry) when the upstream refused its spans for good: not its request's fault (so not 400),
    but sent again, they would be refused again. The collector's OTLP receiver answers a
    permanent error that carries no status of its own the same way."""
    return (
        f"the gateway's upstream refused the spans for good ({refusal}): they would be refused again; "
        "not to be sent again"
    )


def traces_only(signal: str, traces_endpoint: str, aside: str = "") -> str:
    """What a sender of ``signal`` (metrics, logs) is told, with a status OTLP exporters do not
    retry (HTTP ``404``, gRPC ``UNIMPLEMENTED``): where its traces go, and where the rest does."""
    upper = signal.upper()
    return (
        f"the genai-cost gateway takes traces only, not {signal}{aside}: point OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "
        f"at the gateway ({traces_endpoint}) and OTEL_EXPORTER_OTLP_ENDPOINT, or "
        f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT, at your collector (or set OTEL_{upper}_EXPORTER=none)"
    )


def response(accepted: Accepted) -> ExportTraceServiceResponse:
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


class CostGateway:
    """Prices the spans of OTLP export requests and forwards them to ``exporter``.

    Protocol-free: the HTTP and gRPC servers (:func:`~genai_cost.gateway_http.serve_http`,
    :func:`~genai_cost.gateway_grpc.serve_grpc`) decode requests and call :meth:`accept`. Requests are
    worked through one at a time, so the leaf rule and the roll-up see each
    trace's spans in a single order, as they would in process; at most
    ``max_inflight`` wait for or hold that turn, the rest are refused with
    :class:`Unavailable` so that a slow upstream cannot build a queue.

    With a ``meter_provider``, the cost metrics (:mod:`genai_cost.metrics`) are
    recorded on it, as the zero-code configurator records them in process, each
    series also labelled with what names the sender that made the span
    (:mod:`genai_cost.sender_metrics`; the meter's resource is the gateway's own).
    The gateway's own counters (:class:`GatewayStats`) are reported too, under the
    gateway's own service (:meth:`~genai_cost.metrics.CostMetrics.watch_gateway`).
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
        max_turn_wait_s: float = MAX_TURN_WAIT_S,
    ) -> None:
        if max_inflight < 1 or max_spans < 1:
            raise ValueError("max_inflight and max_spans must be >= 1")
        if not 0 < max_turn_wait_s < math.inf:
            raise ValueError(f"max_turn_wait_s must be a finite number of seconds > 0, not {max_turn_wait_s!r}")
        self.max_turn_wait_s = max_turn_wait_s
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
        if self.metrics is not None:  # under the gateway's own service, not a sender's
            self.metrics.watch_processor(self._processor)
            self.metrics.watch_rollup(self._rollup)
        self.max_inflight = max_inflight
        self.max_spans = max_spans
        #: Whether spans are priced (``GENAI_COST_ENABLED``): when off, they are forwarded as
        #: they came, and the command says so at start.
        self.pricing_enabled = settings.enabled
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
        #: The same key -> the span as priced and rolled up, and its estimated size in bytes,
        #: for spans the upstream failed to take: a retry forwards these, not the roll-up again
        #: (which would count them twice).
        self._unsent: dict[int, tuple[ReadableSpan, int]] = {}
        #: The sum of the sizes in ``_unsent``, kept as entries come and go.
        self._unsent_bytes = 0
        #: How many times spans of ``_unsent`` were let go for its bounds, for logging now and then.
        self._forgettings = 0
        if self.metrics is not None:  # last: a collection may read the counters from now on
            self.metrics.watch_gateway(self._metered)

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

    def accept(
        self, request: ExportTraceServiceRequest, *, peer: str = "", time_left_s: float | None = None
    ) -> Accepted:
        """Price, roll up and forward the request's spans. A failure inside is logged
        and counted, and the spans are forwarded unpriced. Raises :class:`Unavailable`
        when too many requests are in flight, when its turn to export does not come within
        ``max_turn_wait_s`` (or, less a margin, the ``time_left_s`` its sender gave it: a gRPC
        call's deadline), or when the gateway is stopping; and :class:`TooManySpans` for a
        request over ``max_spans``: nothing is done with it. ``peer`` names the sender in
        the log lines of a refusal or an upstream failure."""
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
            message = busy_message(self.max_inflight)
            self.refuse_busy("busy", peer, message)
            raise Unavailable(message)
        wait_s = self.max_turn_wait_s
        if time_left_s is not None:
            wait_s = max(min(wait_s, time_left_s - _DEADLINE_MARGIN_S), 0.0)
        try:
            with turn:
                waited = turn.wait_for(lambda: not self._exporting or self._stopping, timeout=wait_s)
                stopping = self._stopping
                if waited and not stopping:
                    self._exporting = True
            if stopping:
                message = "the gateway is stopping; send again (to its successor)"
                self.refuse_busy("stopping", peer, message)
                raise Unavailable(message)
            if not waited:
                message = f"no turn to export within {wait_s:.1f} s (the upstream is slow): send again later"
                self.refuse_busy("busy", peer, message)
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
                retried.append(cached[0])
                self._unsent_bytes -= cached[1]
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
        forgotten = 0
        if refusal is None:  # kept for the sender's retry; one refused for good is not resent
            forgotten = self._keep(sent)
        with self._stats_lock:
            self.stats.requests_not_forwarded += 1
            self.stats.spans_not_forwarded += len(sent)
            self.stats.spans_forgotten += forgotten
            if refusal is not None:
                self.stats.spans_refused_upstream += len(sent)
            lost = self.stats.spans_not_forwarded
            let_go = self.stats.spans_forgotten
        if forgotten:
            self._forgettings += 1
            if now_and_then(self._forgettings):
                _log.warning(
                    "genai-cost gateway: let go of %d span(s) kept for their senders' retry (%d since the start), "
                    "to stay within %d spans and %d MiB: the upstream has been failing for a while; a retry "
                    "that brings them will have them priced and rolled up again",
                    forgotten,
                    let_go,
                    _MAX_UNSENT,
                    _MAX_UNSENT_BYTES >> 20,
                )
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

    def _keep(self, sent: Sequence[ReadableSpan]) -> int:
        """Keep the spans the upstream failed to take for their senders' retry, letting the
        oldest go beyond ``_MAX_UNSENT`` spans or ``_MAX_UNSENT_BYTES`` by estimate; returns how
        many were let go. Sizes are estimated here, on the failure path only: a forwarded
        request pays nothing for them. The oldest go, not the newest, as their senders have had
        the longest to retry and are the likeliest to have given up."""
        unsent = self._unsent
        total = self._unsent_bytes
        for span in sent:
            key = _span_key(span)
            try:
                size = _kept_size(span)
            except Exception:  # pragma: no cover - belt and braces: an estimate must not fail a request
                size = _SPAN_BYTES
            replaced = unsent.pop(key, None)  # (the same span twice in one export: kept once)
            if replaced is not None:
                total -= replaced[1]
            unsent[key] = (span, size)
            total += size
        drop = max(0, len(unsent) - _MAX_UNSENT)
        if drop or total > _MAX_UNSENT_BYTES:
            entries = iter(unsent.values())
            for _, size in islice(entries, drop):
                total -= size
            for _, size in entries:
                if total <= _MAX_UNSENT_BYTES:
                    break
                total -= size
                drop += 1
            # Rebuilt once, not deleted from the front one by one (see newer_half).
            self._unsent = dict(islice(unsent.items(), drop, None))
        self._unsent_bytes = total
        return drop

    def _price(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        handed_on = self._handed_on
        handed_on.spans = []
        processor = self._processor
        totalled = self._totalled_elsewhere
        totalled.clear()
        if not processor.matches_records_not_nested and any(_detached(span) for span in spans):
            # Before any span of the request is priced: a provider's record of a call, which
            # arrives first, is then remembered for the LangChain record that follows it.
            processor.note_records_not_nested()
        for span in spans:
            try:
                attributes = attributes_of(span)
                if A.TRACE_TOTAL in attributes and span.context is not None:
                    totalled.add(span.context.span_id)
                if (
                    A.COST_TOTAL in attributes
                    or A.COST_UNPRICED in attributes
                    or A.COST_DUPLICATE_OF in attributes
                    or A.COST_ACCOUNTS_FOR in attributes
                ):
                    # Priced where it was made (a duplicate record of a call there, or the span
                    # of a call that took its refused attempts back): passed on as it is, and it
                    # counts for the leaf rule as it did there.
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
        if now_and_then(count):
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

    def _metered(self) -> dict[tuple[str, str], int]:
        """The counters as the metrics report them (:data:`_METERED`), read at each collection:
        under the counters' lock alone, which no export holds."""
        with self._stats_lock:
            stats = self.stats
            return {(metric, value): getattr(stats, field) for field, metric, value in _METERED}

    def stats_snapshot(self) -> dict[str, int]:
        """The counters as one consistent set (``GET /health``), without waiting for an export."""
        with self._stats_lock:
            snapshot = asdict(self.stats)
        # Spans that should have a cost and have none (their gen_ai.cost.unpriced_reason says
        # why). Read outside the counters' lock: reading the processor's stats settles its
        # queue under its pricing lock, which the exporting thread holds while it prices a
        # span (never while it exports), and nothing holding that lock takes the counters'.
        # The gateway prices inline (deferred=False): the queue is empty, the wait one span's.
        snapshot["spans_unpriced"] = self._processor.stats.unpriced
        # Traces the roll-up let go before their local root came (costs on their spans, totals
        # on none): a sender that does not mark remote parents in Span.flags shows up here.
        rollup = self._rollup.stats
        snapshot["traces_without_root"] = rollup.traces_expired_without_root
        # More traces running at once than GENAI_COST_MAX_TRACES: their roots say complete=false.
        snapshot["traces_pushed_out"] = rollup.traces_pushed_out
        snapshot["traces_turned_away"] = rollup.traces_turned_away
        return snapshot

    def summary(self) -> str:
        """What ``genai-cost gateway`` says as it stops: every request counted, those refused
        and those whose upstream failed too, so a stop after an outage does not read as a
        clean run."""
        stats = self.stats_snapshot()
        return (
            f"stopped after {stats['requests'] + stats['requests_refused']} request(s), "
            f"{stats['requests_refused']} refused ({stats['requests_busy']} to be retried), "
            f"{stats['requests_not_forwarded']} not taken by the upstream: {stats['spans_received']} span(s) "
            f"received, {stats['spans_rejected']} rejected as malformed, {stats['spans_not_forwarded']} not "
            f"forwarded, {stats['spans_unpriced']} unpriced"
        )

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
#: The gRPC codes the OTLP specification lists as retryable; the others are refusals for good,
#: ``RESOURCE_EXHAUSTED`` too unless the upstream says when to retry (:func:`_exhausted`).
_RETRYABLE_GRPC_CODES = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}
)
#: Where a gRPC server says when to retry: the trailer the SDK's exporter reads, and the
#: ``google.rpc.Status`` details that gRPC's own status API (Go's ``status.WithDetails``) sends.
_RETRY_INFO_TRAILER = "google.rpc.retryinfo-bin"
_STATUS_DETAILS_TRAILER = "grpc-status-details-bin"
_RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
#: What a grpcio server answers beyond its ``maximum_concurrent_rpcs``: back-pressure, the call
#: unread, though with no RetryInfo. (A genai-cost gateway upstream answers UNAVAILABLE instead,
#: unless every thread of its gRPC receiver is busy; one before that change answered this.)
_GRPCIO_BUSY = "Concurrent RPC limit exceeded!"
#: How much of an upstream's message a refusal quotes.
_MAX_QUOTED = 200


def _refusal(error_attrs: object, error: object = None) -> str | None:
    """The upstream's status, when an OTLP exporter's failed export ended on one that is not to
    be retried; ``None`` for a failure with no status (connection refused, a timeout) or a
    retryable one that the exporter's retries did not outlast. ``error`` is the exporter's last
    error, which only a ``RESOURCE_EXHAUSTED`` needs (:func:`_exhausted`)."""
    if not isinstance(error_attrs, Mapping):
        return None
    status = error_attrs.get("http.response.status_code")
    if isinstance(status, int) and status not in _RETRYABLE_HTTP_STATUSES:
        return f"HTTP {status}"
    code = error_attrs.get("rpc.response.status_code")
    if not isinstance(code, str) or code in _RETRYABLE_GRPC_CODES:
        return None
    if code == "RESOURCE_EXHAUSTED":
        return _exhausted(error)
    return f"gRPC {code}"


def _exhausted(error: object) -> str | None:
    """Whether a gRPC upstream's ``RESOURCE_EXHAUSTED`` is a refusal for good: when it carries no
    RetryInfo, as the OTLP specification reads it ("retryable only if the server signals that
    the recovery from resource exhaustion is possible ... by returning a status containing
    RetryInfo").

    The common case is a collector's size limit ("received message larger than max"): the same
    batch, resent, is refused again, so a sender told to retry it (the SDK's exporter retries
    ``RESOURCE_EXHAUSTED`` whatever came with it) resent it for as long as it was let, holding
    the gateway's one export at a time, the turn of every other sender, each time for the
    upstream exporter's whole timeout. The sender is told not to resend instead, and the
    operator sees the upstream's message (in the log and the sender's answer) to raise that
    limit or lower the senders' batch. Splitting the batch and forwarding it in halves is not
    done: the roll-up exports once per request, the sender's answer and the retry store are per
    request (half forwarded and half not cannot be answered), and each half would wait out the
    exporter's retries of its own; what splits well is the sender's batch, at the sender.

    Unknown stays retryable, as elsewhere: an ``error`` that is not a gRPC call's (an SDK that
    does not hand it over), or grpcio's own refusal beyond its call limit, which is back-pressure
    by another name (a genai-cost gateway upstream answers it when busy)."""
    try:
        details = error.details()  # type: ignore[attr-defined]
        trailers = error.trailing_metadata() or ()  # type: ignore[attr-defined]
        for key, value in trailers:
            if key == _RETRY_INFO_TRAILER or (key == _STATUS_DETAILS_TRAILER and _has_retry_info(value)):
                return None
    except Exception:  # not a gRPC call's error: unknown
        return None
    if not isinstance(details, str) or not details:
        return "gRPC RESOURCE_EXHAUSTED"
    if details.strip() == _GRPCIO_BUSY:
        return None
    return f"gRPC RESOURCE_EXHAUSTED: {details[:_MAX_QUOTED]}"


def _has_retry_info(status_details: object) -> bool:
    """Whether a ``grpc-status-details-bin`` trailer (a ``google.rpc.Status``) holds a RetryInfo."""
    if not isinstance(status_details, bytes):
        return False
    try:
        status = Status.FromString(status_details)
    except DecodeError:  # garbled: no RetryInfo to be read
        return False
    return any(detail.type_url == _RETRY_INFO_TYPE for detail in status.details)


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
                self.refusal = _refusal(getattr(result, "error_attrs", None), getattr(result, "error", None))

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
    _answer_exhausted_at_once(target)
    return verdict


#: The codes an SDK gRPC exporter retries by default, by name: the OTLP specification's
#: retryable ones, and ``RESOURCE_EXHAUSTED`` whatever came with it.
_SDK_RETRIED_GRPC_CODES = frozenset({*_RETRYABLE_GRPC_CODES, "RESOURCE_EXHAUSTED"})


def _answer_exhausted_at_once(exporter: Any) -> None:
    """Have an SDK gRPC exporter end its export on a ``RESOURCE_EXHAUSTED``, rather than retry it.

    It retried it, with or without RetryInfo, for its whole timeout (10 s by default), holding
    the gateway's one export at a time; and only its last attempt's status reaches the
    :class:`_Verdict`. Against a size limit, that last attempt ended now and then on
    ``DEADLINE_EXCEEDED`` (the deadline running out mid-attempt: 3 exports in 7 with a 2 s
    timeout, on loopback), which is retryable: the sender was told to resend, the very loop
    :func:`_exhausted` ends. Answered at once, the first status decides: without RetryInfo, a
    refusal for good; with it, the sender is told to retry and does, at its own pace, while the
    gateway serves the others. Only the SDK's default set of codes is changed (the private
    ``_retryable_error_codes``, SDK 1.45 on); a set of the operator's choosing
    (``OTEL_PYTHON_EXPORTER_OTLP_GRPC_RETRYABLE_ERROR_CODES``) is left as it is."""
    codes = getattr(exporter, "_retryable_error_codes", None)
    if isinstance(codes, frozenset) and {getattr(code, "name", None) for code in codes} == _SDK_RETRIED_GRPC_CODES:
        exporter._retryable_error_codes = frozenset(code for code in codes if code.name != "RESOURCE_EXHAUSTED")


def _detached(span: ReadableSpan) -> bool:
    """Whether the span was written by an instrumentation that never makes its spans current,
    or by one that records a stream once it was read."""
    scope = span.instrumentation_scope
    return scope is not None and (
        scope.name in DETACHED_CALL_SCOPES or scope.name.startswith(RECORDED_AFTER_STREAM_SCOPE_PREFIX)
    )


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
#: retry: a sender retries within seconds. Bounded by their number, and by an estimate of their
#: bytes (:func:`_kept_size`), whichever is reached first: their size is the senders' (a span with
#: a 10 kB prompt in its attributes takes 14 kB, and 20,000 of them took 280 MB), so a bound on
#: the number alone did not bound the memory. The bytes come first for most spans: some 4,400
#: with a 10 kB prompt fit, 13,000 small priced ones (3.7 kB, estimated at 4.9 kB).
_MAX_UNSENT = 20_000
_MAX_UNSENT_BYTES = 64 * 1024 * 1024
#: The constants of :func:`_kept_size`, measured with tracemalloc on spans decoded and priced by
#: the gateway (CPython 3.11, 64-bit): a span's own objects (the span, its contexts, status and
#: cost, its attributes' dict, its entry in the store), about 1.5 kB; an attribute's dict slot
#: and key object beyond the key's characters, about 70 B; an event's objects, name and time,
#: about 260 B; a link's, with its span context, about 410 B.
_SPAN_BYTES = 1500
_ATTRIBUTE_BYTES = 70
_EVENT_BYTES = 260
_LINK_BYTES = 410


def _kept_size(span: ReadableSpan) -> int:
    """About how many bytes of memory the span holds, kept: from 12% under to 45% over what
    tracemalloc measures on CPython 3.10 to 3.13, for spans of no attributes to a hundred, with
    or without 10 kB prompts, events or links (within 10% with a prompt; a third over for small
    priced spans, whose cost attribute names are shared but counted). Values are counted with
    ``sys.getsizeof``, not ``len``: a prompt in Chinese takes two bytes a character, one with an
    emoji four. The resource and scope are shared by the spans of a request and not counted (for
    a sender of one span a request, up to 9% under)."""
    size = _SPAN_BYTES + _attributes_size(attributes_of(span))
    for event in span.events:
        size += _EVENT_BYTES + _attributes_size(plain_attributes(event.attributes))
    for link in span.links:
        size += _LINK_BYTES + _attributes_size(plain_attributes(link.attributes))
    return size


def _attributes_size(attributes: Mapping[str, object]) -> int:
    size = len(attributes) * _ATTRIBUTE_BYTES
    getsizeof = sys.getsizeof
    for key, value in attributes.items():
        size += len(key) + getsizeof(value)
        if type(value) is tuple or type(value) is list:
            size += sum(map(getsizeof, value))
    return size


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


__all__ = [
    "MAX_INFLIGHT",
    "MAX_REQUEST_BYTES",
    "MAX_SPANS_PER_REQUEST",
    "RETRY_AFTER_S",
    "STOP_GRACE_S",
    "Accepted",
    "CostGateway",
    "GatewayStats",
    "TooManySpans",
    "Unavailable",
]
