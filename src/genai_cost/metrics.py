"""Cost metrics through the standard OpenTelemetry MeterProvider.

:class:`CostMetrics` records four cost instruments (names in :mod:`genai_cost.attributes`):

=================================  =========  ===========================================================
``gen_ai.cost.usage``              counter    USD, by ``gen_ai.provider.name``, ``gen_ai.request.model``,
                                              ``gen_ai.operation.name``, ``gen_ai.cost.category``
``gen_ai.cost.trace``              histogram  USD per trace (its total, infrastructure included)
``gen_ai.cost.unpriced_spans``     counter    spans that should have a cost and have none,
                                              by ``gen_ai.cost.unpriced_reason`` and category
``gen_ai.cost.budget.exceeded``    counter    budget limits hit, by ``gen_ai.cost.budget.limit``
=================================  =========  ===========================================================

and, for the components it is told to watch (:meth:`CostMetrics.watch_processor`,
:meth:`CostMetrics.watch_rollup`), the pipeline's own health, read from their ``stats``
at each collection (nothing on the span path): ``gen_ai.cost.internal_errors`` (by
``gen_ai.cost.component``), ``gen_ai.cost.rollup.overflow`` (by
``gen_ai.cost.rollup.action``), ``gen_ai.cost.rollup.traces_without_root``,
``gen_ai.cost.rollup.late_spans``, and the level ``gen_ai.cost.rollup.open_traces``;
for a gateway (:meth:`CostMetrics.watch_gateway`), its transport counters
``gen_ai.cost.gateway.requests`` and ``gen_ai.cost.gateway.spans`` (by
``gen_ai.cost.gateway.outcome``) and its own errors (``gen_ai.cost.component=gateway``).
What the package catches rather than let reach the application, and roots whose totals
are incomplete, would otherwise show only in a log line said once.

It is fed by the one :class:`~genai_cost.processor.CostSpanProcessor` (as a
listener: each span is counted once however many exporters there are), by
:class:`~genai_cost.budget.Budget` (hits) and by the roll-up's
``on_trace_complete`` (the per-trace histogram and the infrastructure share).
Several roll-ups (one per exporter) may report the same trace: it is recorded
once (a bounded set of recently recorded traces).

The meter comes from the global MeterProvider unless one is given, so
``OTEL_METRICS_EXPORTER`` and the rest of the SDK's metrics configuration apply.

With ``by_sender=True`` (the gateway's setting) every series also carries the
``service.name`` (and ``service.namespace``) of the process that made the span: a
gateway records the spans of many senders under its own resource, which would
otherwise merge them (see :mod:`genai_cost.sender_metrics`, which moves them back
into a resource whose instance is the gateway's). Not the sender's
``service.instance.id``: each pod restart of a sender would make series of its own
that live as long as the gateway.

The counters are running totals kept here, read at each collection:

* **Deferred pricing.** The processor prices spans when something reads them (an
  exporter) or when its queue is long. Spans that no exporter reads (those a
  ``RECORD_ONLY`` sampler records and does not sample) would wait for that, so
  each collection first has the processors this listens to price what has ended
  (:meth:`CostMetrics.add_pending_source`, as :class:`~genai_cost.budget.Budget`
  does before each read).
* **Fork.** A child process (gunicorn ``--preload``, ``multiprocessing`` with fork)
  reports its own spend, not its parent's again: its totals start from zero, or, under
  delta temporality, from its parent's last reading, which the SDK subtracts.
  The per-trace histogram is the SDK's own aggregation, which a fork copies as it
  is: traces the parent recorded before forking stay in each child's histogram
  (``docs/alerting.md``).

Prometheus names (the collector's ``prometheus`` exporter, with its default
``add_metric_suffixes: true``): see :func:`prometheus_name` and ``docs/alerting.md``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics as metrics_api
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A
from ._guard import OwnExtension
from ._told_once import ToldOnce
from .costed_span import ended_attributes
from .pricer import SpanCost
from .pricing._fork import in_child_after_fork, renew_locks_after_fork
from .rollup import TraceCostExporter, TraceTotals
from .sender_metrics import series_labels
from .usage import SpanUsage

if TYPE_CHECKING:
    from .processor import CostSpanProcessor

_log = logging.getLogger("genai_cost.metrics")

_DEDUP = 10_000
#: Distinct attribute sets kept per counter; past it, spend goes to an overflow
#: series (``otel.metric.overflow=true``), as the SDK's own cardinality limit does.
_MAX_SERIES = 2000
_OVERFLOW = "otel.metric.overflow"
_REQUEST_MODEL = "gen_ai.request.model"


class CostMetrics(OwnExtension):
    """The package's cost instruments. A :class:`~genai_cost.extensions.CostListener`,
    an ``on_trace_complete`` callback and a budget ``on_exceeded`` callback.

    ``by_sender`` labels every series with what names the span's own service in its
    resource (:data:`~genai_cost.sender_metrics.SERIES_KEYS`), for a process that
    records other processes' spans (the gateway). In process it would repeat what
    the meter's resource already says."""

    def __init__(self, meter_provider: metrics_api.MeterProvider | None = None, *, by_sender: bool = False) -> None:
        from . import __version__

        provider = meter_provider if meter_provider is not None else metrics_api.get_meter_provider()
        meter = self._meter = provider.get_meter(A.METER_NAME, __version__)
        # The counters are observable: the span path only adds to a dict under a lock
        # (well under a microsecond); the SDK reads the running totals at each
        # collection. A synchronous Counter.add costs ~8 us a span. And totals of our
        # own are what a forked child can start again from zero (the SDK's are not).
        self._by_sender = by_sender
        #: (provider, model, operation, category, sender) -> USD; category "" is the overflow.
        self._cost_totals: dict[_CostKey, float] = {}
        #: (reason, category, sender) -> spans; reason "" is the overflow.
        self._unpriced_totals: dict[tuple[str, str, _Sender], int] = {}
        #: budget limit -> hits.
        self._budget_totals: dict[str, int] = {}
        self._totals_lock = threading.Lock()
        #: What prices the spans ended so far (a processor's ``settle``), run before each read.
        self._pending_sources: tuple[Callable[[], None], ...] = ()
        #: The spans counted, once more than one processor feeds these metrics.
        self._told: ToldOnce[None] | None = None
        meter.create_observable_counter(
            A.METRIC_COST,
            callbacks=[self._observe_cost],
            unit=A.METRIC_COST_UNIT,
            description="Cost of GenAI work, USD",
        )
        self._trace = meter.create_histogram(
            A.METRIC_TRACE_COST,
            unit=A.METRIC_TRACE_COST_UNIT,
            description="Cost per trace (local root), USD",
            explicit_bucket_boundaries_advisory=A.TRACE_COST_BUCKETS,
        )
        counters: tuple[tuple[str, str, Callable[[CallbackOptions], Iterable[Observation]], str], ...] = (
            (
                A.METRIC_UNPRICED,
                A.METRIC_UNPRICED_UNIT,
                self._observe_unpriced,
                "Spans that should have a cost and have none",
            ),
            (
                A.METRIC_BUDGET_EXCEEDED,
                A.METRIC_BUDGET_EXCEEDED_UNIT,
                self._observe_budget,
                "Per-trace budget limits hit",
            ),
            (
                A.METRIC_INTERNAL_ERRORS,
                A.METRIC_INTERNAL_ERRORS_UNIT,
                self._observe_internal_errors,
                "Failures caught inside genai-cost (logged; the spans went on)",
            ),
            (
                A.METRIC_ROLLUP_OVERFLOW,
                A.METRIC_ROLLUP_OVERFLOW_UNIT,
                self._observe_rollup_overflow,
                "Traces the roll-up had no room for at max_traces (their roots' totals incomplete)",
            ),
            (
                A.METRIC_ROLLUP_WITHOUT_ROOT,
                A.METRIC_ROLLUP_WITHOUT_ROOT_UNIT,
                self._observe_without_root,
                "Traces let go before any local root of theirs passed",
            ),
            (
                A.METRIC_ROLLUP_LATE_SPANS,
                A.METRIC_ROLLUP_LATE_SPANS_UNIT,
                self._observe_late_spans,
                "Spans with a cost that passed after their local root",
            ),
            (
                A.METRIC_OPEN_SPANS_FORGOTTEN,
                A.METRIC_OPEN_SPANS_FORGOTTEN_UNIT,
                self._observe_open_spans_forgotten,
                "Spans started and never ended whose open count was forgotten at the bound",
            ),
        )
        for name, unit, observe, description in counters:
            meter.create_observable_counter(name, callbacks=[observe], unit=unit, description=description)
        # Not a count of events but a level (an up-down counter stays cumulative under delta
        # temporality too): how close the roll-up is to its bound, before traces overflow.
        meter.create_observable_up_down_counter(
            A.METRIC_ROLLUP_OPEN_TRACES,
            callbacks=[self._observe_open_traces],
            unit=A.METRIC_ROLLUP_OPEN_TRACES_UNIT,
            description="Traces the roll-up holds against max_traces (past it, new traces overflow)",
        )
        self._processors: tuple[CostSpanProcessor, ...] = ()
        self._rollups: tuple[TraceCostExporter, ...] = ()
        self._gateways: tuple[Callable[[], Mapping[tuple[str, str], int]], ...] = ()
        #: Added to what the watched components count: in a forked child under delta
        #: temporality, the parent's last reading (see _start_totals_after_fork).
        self._health_offset: dict[tuple[str, str], int] = {}
        self._reported_health: dict[tuple[str, str], int] = {}
        #: Whether the health series are reported yet (see _health).
        self._health_shown = False
        #: One reading of the components' stats for all the health series of a collection
        #: (_health_reading), and the series that have read it.
        self._health_reading: dict[tuple[str, str], int] = {}
        self._health_read: frozenset[str] = frozenset()
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._lock = threading.Lock()
        # In a forked child: fresh locks (one held by another thread of the parent would
        # never be released), and running totals of its own (_start_totals_after_fork).
        self._provider = provider
        #: What the last collection read of each counter: where a child's totals start
        #: under delta temporality.
        self._reported_cost: dict[_CostKey, float] = {}
        self._reported_unpriced: dict[tuple[str, str, _Sender], int] = {}
        self._reported_budget: dict[str, int] = {}
        renew_locks_after_fork(self, _lock=threading.Lock, _totals_lock=threading.Lock)
        in_child_after_fork(self, CostMetrics._start_totals_after_fork)

    def _start_totals_after_fork(self) -> None:
        """A forked child's running totals. With cumulative temporality (the SDK's default)
        from zero: each child reports its own spend, not its parent's again, and the sum over
        the processes is what was spent. With delta temporality the SDK's aggregation, which
        the fork copies, reports each reading minus the last one the parent's reader took:
        from zero, a child's first delta would be its own spend minus all its parent had
        reported (negative spend on a monotonic counter). So it starts from what that last
        reading was, and its deltas are its own spend."""
        delta = _observable_counters_as_delta(self._provider)
        self._cost_totals = dict(self._reported_cost) if delta else {}
        self._unpriced_totals = dict(self._reported_unpriced) if delta else {}
        self._budget_totals = dict(self._reported_budget) if delta else {}
        # The watched processors and roll-ups count from zero in the child themselves.
        self._health_offset = dict(self._reported_health) if delta else {}

    def add_pending_source(self, settle: Callable[[], None]) -> None:
        """Called by a :class:`~genai_cost.processor.CostSpanProcessor` this listens to
        (``add_listener``): it prices off the application thread, so each collection
        first has it price the spans that have ended so far. ``settle`` may call
        :meth:`on_span_cost` on the same thread: it runs before, never under, the
        totals' lock."""
        self._pending_sources = (*self._pending_sources, settle)
        if len(self._pending_sources) > 1 and self._told is None:
            self._told = ToldOnce[None]()  # fed by several processors: each tells every span

    def watch_processor(self, processor: CostSpanProcessor) -> None:
        """Count ``processor``'s internal failures in ``gen_ai.cost.internal_errors``
        (``gen_ai.cost.component``: ``processor``, or ``listener`` for a listener that
        raised). They are caught and logged so that the application never sees them:
        without this, only code reading ``processor.stats`` would. Also the spans never
        ended that it stopped counting as open at its bound
        (``gen_ai.cost.open_spans_forgotten``): a trace running among them may get totals
        that say complete."""
        self._processors = (*self._processors, processor)

    def watch_rollup(self, rollup: TraceCostExporter) -> None:
        """Count, from ``rollup``'s stats, the traces whose roots' totals are incomplete:
        those it had no room for at ``max_traces`` (``gen_ai.cost.rollup.overflow``), those
        let go before any root of theirs passed (``gen_ai.cost.rollup.traces_without_root``),
        and spans with a cost that came after their root (``gen_ai.cost.rollup.late_spans``);
        also its internal failures (``gen_ai.cost.component=rollup``). The spans alone do
        not show these: each keeps its own cost. And how many traces it holds
        (``gen_ai.cost.rollup.open_traces``), to see the bound coming before it overflows.

        With several exporters, each has a roll-up of its own over the same spans: watch
        them all; the trace and span counts are the first one's (the others count the same
        traces again), the internal failures all of theirs."""
        self._rollups = (*self._rollups, rollup)

    def watch_gateway(self, read: Callable[[], Mapping[tuple[str, str], int]]) -> None:
        """Report a gateway's own counters, which ``read`` returns as (metric, attribute value)
        -> count, read once a collection with the other health series (on the collecting
        thread: ``read`` must not wait on an export): ``gen_ai.cost.gateway.requests`` and
        ``gen_ai.cost.gateway.spans`` by ``gen_ai.cost.gateway.outcome``, and
        ``gen_ai.cost.internal_errors`` with ``gen_ai.cost.component=gateway``. What the
        gateway's senders lose (spans its upstream refused or that it let go) shows nowhere
        else: not in the spans, which never reach the upstream. The instruments are made
        here, so that a process that runs no gateway has none of them."""
        if not self._gateways:
            meter = self._meter
            meter.create_observable_counter(
                A.METRIC_GATEWAY_REQUESTS,
                callbacks=[self._observe_gateway_requests],
                unit=A.METRIC_GATEWAY_REQUESTS_UNIT,
                description="Requests of OTLP spans the gateway received, by outcome (the counters of GET /health)",
            )
            meter.create_observable_counter(
                A.METRIC_GATEWAY_SPANS,
                callbacks=[self._observe_gateway_spans],
                unit=A.METRIC_GATEWAY_SPANS_UNIT,
                description="Spans the gateway received, by outcome (the counters of GET /health)",
            )
        self._gateways = (*self._gateways, read)

    def _health(self) -> dict[tuple[str, str], int]:
        """(metric, attribute value) -> count, from the watched components' stats."""
        counts: dict[tuple[str, str], int] = {}
        errors = A.METRIC_INTERNAL_ERRORS
        for processor in self._processors:
            stats = processor.stats  # prices what has ended first (on this, the collecting, thread)
            own = stats.internal_errors - stats.listener_errors - stats.layer_errors
            _add(counts, (errors, A.COMPONENT_PROCESSOR), own)
            _add(counts, (errors, A.COMPONENT_LISTENER), stats.listener_errors)
            _add(counts, (errors, A.COMPONENT_COST_LAYER), stats.layer_errors)
            _add(counts, (A.METRIC_OPEN_SPANS_FORGOTTEN, ""), stats.open_counts_forgotten)
        for rollup in self._rollups:
            _add(counts, (errors, A.COMPONENT_ROLLUP), rollup.stats.internal_errors)
        for read in self._gateways:
            for key, count in read().items():
                _add(counts, key, count)
        if self._rollups:
            first = self._rollups[0].stats
            counts[A.METRIC_ROLLUP_OVERFLOW, A.ROLLUP_PUSHED_OUT] = first.traces_pushed_out
            counts[A.METRIC_ROLLUP_OVERFLOW, A.ROLLUP_TURNED_AWAY] = first.traces_turned_away
            counts[A.METRIC_ROLLUP_WITHOUT_ROOT, ""] = first.traces_expired_without_root
            counts[A.METRIC_ROLLUP_LATE_SPANS, ""] = first.late_spans
        for key, offset in self._health_offset.items():
            counts[key] = counts.get(key, 0) + offset
        if not self._health_shown:
            # Not until the pipeline has done something worth reporting: an application with
            # no GenAI span would otherwise hand its metrics exporter series of zeros, and an
            # OTLP exporter with no collector to take them retries at exit (7 s measured)
            # where it had nothing to send. From then on each series is reported, at 0 too.
            if not (self._cost_totals or self._unpriced_totals or any(counts.values())):
                return {}
            self._health_shown = True
        self._reported_health = {**self._reported_health, **counts}
        return counts

    def _observe_health(self, metric: str, attribute: str = "") -> list[Observation]:
        return [
            Observation(count, {attribute: value} if value else None)
            for (name, value), count in self._health_reading_for(metric).items()
            if name == metric
        ]

    def _health_reading_for(self, metric: str) -> dict[tuple[str, str], int]:
        """One reading of the components' stats per collection, whose callbacks each read
        one series: a series that has read the current reading already is in the next
        collection, which reads the stats again. So the series of one collection agree,
        and the processor settles once, not once per series. (Two readers collecting at
        once on two threads may read the stats once more each: a reading is a snapshot of
        monotonic counts, and any of them is right.)"""
        read = self._health_read
        if metric in read or not read:
            self._health_reading, read = self._health(), frozenset()
        self._health_read = read | {metric}
        return self._health_reading

    def _observe_internal_errors(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_INTERNAL_ERRORS, A.METRIC_ATTR_COMPONENT)

    def _observe_rollup_overflow(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_ROLLUP_OVERFLOW, A.METRIC_ATTR_ROLLUP_ACTION)

    def _observe_without_root(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_ROLLUP_WITHOUT_ROOT)

    def _observe_late_spans(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_ROLLUP_LATE_SPANS)

    def _observe_open_spans_forgotten(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_OPEN_SPANS_FORGOTTEN)

    def _observe_gateway_requests(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_GATEWAY_REQUESTS, A.METRIC_ATTR_GATEWAY_OUTCOME)

    def _observe_gateway_spans(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe_health(A.METRIC_GATEWAY_SPANS, A.METRIC_ATTR_GATEWAY_OUTCOME)

    def _observe_open_traces(self, options: CallbackOptions) -> Iterable[Observation]:
        # The first roll-up's, as for its trace counts; once the health series are shown.
        if not self._rollups or not (self._health_shown or self._health()):
            return []
        return [Observation(self._rollups[0].running_traces)]

    def after_pricing(self) -> None:
        """Nothing to do outside the pricing lock: the counters are read by collections."""

    def _settle_pending(self) -> None:
        # Runs in the SDK's observable callbacks, on the collecting thread, before the
        # totals' lock is taken: pricing calls on_span_cost (and a budget's callbacks)
        # on this thread. The SDK holds its collection lock meanwhile, so a callback
        # that collected metrics itself (MeterProvider.force_flush) would wait for it.
        for settle in self._pending_sources:
            try:
                settle()
            except Exception:  # a collection reports what it has; the SDK would drop it all
                _log.exception("genai-cost: pricing pending spans before a metrics collection failed")

    # ------------------------------------------------------------ CostListener

    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> Mapping[str, object] | None:
        told = self._told
        if told is not None and span.context is not None:
            with self._totals_lock:
                again, _ = told.told_before(span.context)
            if again:  # the same span, told by a second processor: counted once
                return None
        sender = series_labels(span.resource) if self._by_sender else ()
        if cost.unpriced_reason is not None:
            key = (cost.unpriced_reason, cost.category, sender)
            with self._totals_lock:
                totals = self._unpriced_totals
                if key not in totals and len(totals) >= _MAX_SERIES:
                    key = ("", cost.category, ())
                totals[key] = totals.get(key, 0) + 1
        elif cost.total_usd is not None:
            # The label is the REQUESTED model, as the collector's signaltometrics rule reads
            # it, so both sources label one call alike; spans of vocabularies that record no
            # request model fall back to the model priced.
            model = cost.model
            if cost.category == A.CATEGORY_LLM or cost.category == A.CATEGORY_EMBEDDING:
                requested = ended_attributes(span).get(_REQUEST_MODEL)
                if isinstance(requested, str) and requested:
                    model = requested
            self._add_cost((cost.provider, model, cost.operation, cost.category, sender), cost.total_usd)
        return None

    def _add_cost(self, key: _CostKey, usd: float) -> None:
        with self._totals_lock:
            totals = self._cost_totals
            if key not in totals and len(totals) >= _MAX_SERIES:
                key = (None, None, None, "", ())
            totals[key] = totals.get(key, 0.0) + usd

    def _observe_cost(self, options: CallbackOptions) -> Iterable[Observation]:
        self._settle_pending()
        with self._totals_lock:
            snapshot = list(self._cost_totals.items())
        self._reported_cost = dict(snapshot)
        out = []
        for (provider, model, operation, category, sender), usd in snapshot:
            attributes: dict[str, str | bool] = {A.COST_CATEGORY: category} if category else {_OVERFLOW: True}
            if provider:
                attributes[A.METRIC_ATTR_PROVIDER] = provider
            if model:
                attributes[A.METRIC_ATTR_MODEL] = model
            if operation:
                attributes[A.METRIC_ATTR_OPERATION] = operation
            attributes.update(sender)
            out.append(Observation(usd, attributes))
        return out

    def _observe_unpriced(self, options: CallbackOptions) -> Iterable[Observation]:
        self._settle_pending()
        with self._totals_lock:
            snapshot = list(self._unpriced_totals.items())
        self._reported_unpriced = dict(snapshot)
        out = []
        for (reason, category, sender), count in snapshot:
            if not reason:
                out.append(Observation(count, {_OVERFLOW: True}))
                continue
            attributes = {A.COST_UNPRICED_REASON: reason, A.COST_CATEGORY: category, **dict(sender)}
            out.append(Observation(count, attributes))
        return out

    def _observe_budget(self, options: CallbackOptions) -> Iterable[Observation]:
        self._settle_pending()
        with self._totals_lock:
            snapshot = list(self._budget_totals.items())
        self._reported_budget = dict(snapshot)
        return [Observation(hits, {A.BUDGET_LIMIT_ATTR: limit}) for limit, hits in snapshot]

    # ---------------------------------------------------------- trace and budget

    def on_trace_complete(self, totals: TraceTotals, root: ReadableSpan) -> None:
        context = root.context
        key = (totals.trace_id, context.span_id if context is not None else 0)
        with self._lock:
            if key in self._seen:
                return
            self._seen[key] = None
            if len(self._seen) > _DEDUP:
                self._seen.popitem(last=False)
        sender = series_labels(root.resource) if self._by_sender else ()
        self._trace.record(round(totals.total_usd, 12), dict(sender) if sender else None)
        infra = totals.by_category.get(A.CATEGORY_INFRA)
        if infra:
            self._add_cost((None, None, None, A.CATEGORY_INFRA, sender), infra)

    def budget_exceeded(self, limit: str, spend: float = 0.0, limit_value: float = 0.0) -> None:
        with self._totals_lock:
            self._budget_totals[limit] = self._budget_totals.get(limit, 0) + 1


def _add(counts: dict[tuple[str, str], int], key: tuple[str, str], count: int) -> None:
    counts[key] = counts.get(key, 0) + count


_Sender = tuple[tuple[str, str], ...]
_CostKey = tuple[str | None, str | None, str | None, str, _Sender]


def _observable_counters_as_delta(provider: metrics_api.MeterProvider) -> bool:
    """Whether the SDK MeterProvider's readers take observable counters as deltas
    (``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta``). Read from the SDK's
    reader settings, which it does not make public: when they cannot be read, the
    default (cumulative) is assumed."""
    try:
        from opentelemetry.sdk.metrics._internal.instrument import _ObservableCounter
        from opentelemetry.sdk.metrics.export import AggregationTemporality

        real = getattr(provider, "_real_meter_provider", None) or provider  # the API's proxy, once set
        # (``_metric_readers`` in recent SDKs, ``_sdk_config.metric_readers`` before)
        config = getattr(real, "_sdk_config", None)
        readers: Iterable[Any] = getattr(real, "_metric_readers", None) or getattr(config, "metric_readers", None) or ()
        return any(
            getattr(reader, "_instrument_class_temporality", {}).get(_ObservableCounter) is AggregationTemporality.DELTA
            for reader in readers
        )
    except Exception:  # a later SDK laid out otherwise: the default
        return False


# ------------------------------------------------------------ Prometheus names

_UNIT_WORDS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "1": "",
    "%": "percent",
}
_TOKEN = re.compile(r"[a-zA-Z0-9:]+")
_LABEL_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def prometheus_name(name: str, unit: str, kind: str) -> str:
    """The name the OpenTelemetry Collector's ``prometheus`` exporter gives an
    OTel metric (default ``add_metric_suffixes: true``; the Prometheus
    ``otlptranslator`` rules, the subset that applies to our names):

    * the name is split on every character outside ``[a-zA-Z0-9:]`` (dots
      *and* underscores) and joined with ``_``;
    * the unit is appended unless it is in braces (``{span}``) or already a
      token of the name; known UCUM units are spelled out (``s`` ->
      ``seconds``), others kept as written (``USD`` stays ``USD``);
    * a monotonic counter (``kind="counter"``) gets ``_total`` (once);
    * a histogram (``kind="histogram"``) is exposed as the base name plus
      ``_bucket`` (with ``le``), ``_sum`` and ``_count``.

    ``gen_ai.cost.usage`` (USD counter) -> ``gen_ai_cost_usage_USD_total``;
    ``gen_ai.cost.trace`` (USD histogram) -> ``gen_ai_cost_trace_USD`` (``_bucket``...);
    ``gen_ai.cost.unpriced_spans`` ({span} counter) -> ``gen_ai_cost_unpriced_spans_total``.
    """
    tokens = _TOKEN.findall(name)
    main = unit.split("/", 1)[0].strip()
    if main and "{" not in main and "}" not in main:
        word = _UNIT_WORDS.get(main, main)
        word = "_".join(_TOKEN.findall(word))
        if word and word not in tokens:
            tokens.append(word)
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    elif kind not in ("histogram", "gauge", "updowncounter"):
        raise ValueError(f"unknown metric kind {kind!r}")
    return "_".join(tokens)


def prometheus_label(key: str) -> str:
    """An attribute key as a Prometheus label: every character outside
    ``[a-zA-Z0-9_]`` becomes ``_`` (``gen_ai.cost.category`` -> ``gen_ai_cost_category``)."""
    label = _LABEL_INVALID.sub("_", key)
    return f"key_{label}" if label[:1].isdigit() else label


#: (OTel name, unit, kind) of the metrics only a gateway reports (CostMetrics.watch_gateway).
GATEWAY_METRICS: tuple[tuple[str, str, str], ...] = (
    (A.METRIC_GATEWAY_REQUESTS, A.METRIC_GATEWAY_REQUESTS_UNIT, "counter"),
    (A.METRIC_GATEWAY_SPANS, A.METRIC_GATEWAY_SPANS_UNIT, "counter"),
)

#: (OTel name, unit, kind) of every metric the package and the collector config emit.
METRICS: tuple[tuple[str, str, str], ...] = (
    (A.METRIC_COST, A.METRIC_COST_UNIT, "counter"),
    (A.METRIC_TRACE_COST, A.METRIC_TRACE_COST_UNIT, "histogram"),
    (A.METRIC_UNPRICED, A.METRIC_UNPRICED_UNIT, "counter"),
    (A.METRIC_BUDGET_EXCEEDED, A.METRIC_BUDGET_EXCEEDED_UNIT, "counter"),
    (A.METRIC_INTERNAL_ERRORS, A.METRIC_INTERNAL_ERRORS_UNIT, "counter"),
    (A.METRIC_ROLLUP_OVERFLOW, A.METRIC_ROLLUP_OVERFLOW_UNIT, "counter"),
    (A.METRIC_ROLLUP_WITHOUT_ROOT, A.METRIC_ROLLUP_WITHOUT_ROOT_UNIT, "counter"),
    (A.METRIC_ROLLUP_LATE_SPANS, A.METRIC_ROLLUP_LATE_SPANS_UNIT, "counter"),
    (A.METRIC_ROLLUP_OPEN_TRACES, A.METRIC_ROLLUP_OPEN_TRACES_UNIT, "updowncounter"),
    (A.METRIC_OPEN_SPANS_FORGOTTEN, A.METRIC_OPEN_SPANS_FORGOTTEN_UNIT, "counter"),
    *GATEWAY_METRICS,
    (A.SPAN_METRIC_COST, A.METRIC_COST_UNIT, "counter"),
    (A.SPAN_METRIC_TRACE_COST, A.METRIC_TRACE_COST_UNIT, "histogram"),
    (A.SPAN_METRIC_INFRA_COST, A.METRIC_COST_UNIT, "counter"),
    (A.SPAN_METRIC_UNPRICED, A.METRIC_UNPRICED_UNIT, "counter"),
    (A.SPAN_METRIC_BUDGET_EXCEEDED, A.METRIC_BUDGET_EXCEEDED_UNIT, "counter"),
)
