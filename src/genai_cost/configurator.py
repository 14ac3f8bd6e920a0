"""Zero-code switch-on: ``OTEL_PYTHON_CONFIGURATOR=genai_cost opentelemetry-instrument ...``.

The SDK's own configurator does all the standard work (``OTEL_TRACES_EXPORTER``,
``OTEL_EXPORTER_OTLP_*``, resource, sampler, metrics, logs); this one only
changes how an exporter is wrapped: instead of ``BatchSpanProcessor(exporter)``
each trace exporter gets ``BatchSpanProcessor(TraceCostExporter(exporter))``,
and a single :class:`CostSpanProcessor` in front of all of them prices each
span once, however many exporters are configured. With no trace exporter, the
same chain ends in one that drops every span, so that budgets and cost metrics
are still fed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk import _configuration as sdk_configuration
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .budget import Budget, BudgetLimits, set_default_budget
from .config import BUDGET_VARIABLES, CostSettings, env_flag, report_unknown_variables
from .layers import LayerSettings
from .processor import CostSpanProcessor, load_catalog
from .rollup import TraceCostExporter, TraceTotals

_log = logging.getLogger("genai_cost")


class CostConfigurator(_OTelSDKConfigurator):
    """The standard SDK configurator, with cost on every exported span."""

    def _configure(self, **kwargs: Any) -> None:
        settings = CostSettings.from_env()
        report_unknown_variables()
        if not settings.enabled:
            limits = [name for name in BUDGET_VARIABLES if os.environ.get(name)]
            if limits:  # a safety stop switched off with the rest: not in silence
                _log.warning(
                    "genai-cost: GENAI_COST_ENABLED is off, so %s %s not applied: no budget stops a trace",
                    ", ".join(limits),
                    "is" if len(limits) == 1 else "are",
                )
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        if _sdk_disabled():
            # The SDK makes no span and records no metric: there is nothing to price, and a
            # budget would only read a spend that cannot be known.
            _log.debug("genai-cost: OTEL_SDK_DISABLED=true; nothing is priced")
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        if _declarative_config_file() is not None:
            # The SDK then builds everything from the file (opentelemetry-configuration) and
            # ignores the export_span_processor hook: without a word, nothing would be priced.
            _log.warning(
                "genai-cost: OTEL_CONFIG_FILE is set, so the SDK is configured from that file"
                " (declarative configuration), which ignores the hook genai-cost adds costs through:"
                " unless the application adds a CostSpanProcessor in code, no span is priced, no cost"
                " attribute or cost metric is exported, and budgets (GENAI_COST_BUDGET_*) are not"
                " enforced (check_budget() returns None). To add costs, unset OTEL_CONFIG_FILE and"
                " configure with OTEL_* variables, or leave tracer_provider out of the file and set"
                " the tracer provider up in code with genai_cost.CostSpanProcessor (see"
                " docs/configuration.md)"
            )
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        try:
            builder = _ExportChainBuilder(settings)
        except Exception:  # never stop the application's telemetry: fall back to the plain SDK
            _log.exception("genai-cost: setup failed; OpenTelemetry is configured without cost")
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        kwargs.setdefault("export_span_processor", builder)
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        _log.debug("genai-cost: pricing enabled for %d trace exporter(s)", builder.exporters)
        if not builder.exporters and kwargs["export_span_processor"] is builder:
            _price_without_export(builder)
        if builder.processor is None:
            return
        # Only now: a default budget that no processor feeds would read a silent $0.
        set_default_budget(builder.budget)
        if env_flag("GENAI_COST_METRICS", True):
            builder.attach_metrics()
            _register_exit_flush(builder.processor)


def _sdk_disabled() -> bool:
    """``OTEL_SDK_DISABLED``, read as the SDK's providers read it."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _declarative_config_file() -> str | None:
    """The file the SDK's configurator will configure everything from, ignoring its
    hooks, if ``OTEL_CONFIG_FILE`` is set and this SDK reads it (1.45 on)."""
    name = getattr(sdk_configuration, "OTEL_CONFIG_FILE", None)
    if not isinstance(name, str):
        return None
    return os.environ.get(name) or None


def _price_without_export(builder: _ExportChainBuilder) -> None:
    """No trace exporter is configured (``OTEL_TRACES_EXPORTER`` unset or ``none``): put
    the cost chain, ending in an exporter that drops every span, on the provider the SDK
    just set up, so that spans are still priced for budgets and cost metrics."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        _log.warning(
            "genai-cost: no trace exporter, and the global tracer provider is a %s, not the SDK's:"
            " nothing is priced",
            type(provider).__name__,
        )
        return
    provider.add_span_processor(builder.without_export())
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip():
        # Chosen (``none``): a metrics-only or budget-only set-up is a fair one.
        _log.info(
            "genai-cost: OTEL_TRACES_EXPORTER=%s: no span is exported; spans are still priced,"
            " for budgets and cost metrics",
            os.environ["OTEL_TRACES_EXPORTER"].strip(),
        )
    else:
        # The spec's default (otlp) is set by opentelemetry-distro, not by the SDK's
        # configurator: without the distro, spans would be priced and go nowhere.
        _log.warning(
            "genai-cost: OTEL_TRACES_EXPORTER is not set, so no span is exported (spans are still"
            " priced, for budgets and cost metrics); set it to otlp (or console), or install"
            " opentelemetry-distro, which defaults it to otlp"
        )


class _DiscardingExporter(SpanExporter):
    """The end of the cost chain when no trace exporter is configured."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


#: Samplers that record every span: with any other, a budget sees only the sampled traces.
_RECORDING_SAMPLERS = frozenset({"always_on", "parentbased_always_on"})


def _warn_sampled_budget(limits: BudgetLimits) -> None:
    """A budget sees the spans the sampler records: with a ratio sampler most traces are
    never budgeted, and no limit stops them (docs/budgets.md, Sampling). Said at start,
    since it is the operator's choice, but not one to make unknowingly."""
    sampler = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if sampler.endswith("traceidratio") and os.environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip() in ("1", "1.0"):
        return  # a ratio of 1 records every trace
    if limits.any and sampler and sampler not in _RECORDING_SAMPLERS:
        _log.warning(
            "genai-cost: a budget is set (GENAI_COST_BUDGET_*), but OTEL_TRACES_SAMPLER=%s records only"
            " some traces: a trace it drops is never budgeted, and no limit stops it (docs/budgets.md,"
            " Sampling: sample in the collector instead, or record every span)",
            sampler,
        )


class _ExportChainBuilder:
    """Called by the SDK once per configured trace exporter.

    The first call returns ``CostSpanProcessor(fan-out)``; later calls add their
    batch processor to the same fan-out and return a no-op processor, so the
    provider prices each span once and every exporter receives the enriched copy.
    """

    def __init__(self, settings: CostSettings) -> None:
        self._settings = settings
        self._fanout: SynchronousMultiSpanProcessor | None = None
        self.exporters = 0
        self.processor: CostSpanProcessor | None = None
        # Loaded once, for the processor and for the layers' sections of the same files.
        self._catalog = load_catalog(settings)
        layers = LayerSettings.from_env(catalog=self._catalog)
        self._trace_layers = layers.trace_layers()
        self._span_layers = layers.span_layers()
        #: The running spend per trace and its limits (``GENAI_COST_BUDGET_*``), the default
        #: budget of :func:`genai_cost.check_budget` once a processor feeds it.
        self.budget = Budget(
            BudgetLimits.from_env(),
            idle_timeout_s=max(settings.trace_idle_timeout_s, 600.0),
            max_traces=settings.max_traces,
        )
        _warn_sampled_budget(self.budget.limits)
        self.metrics: Any = None
        #: The roll-up of each exporter, for the metrics to watch.
        self.rollups: list[TraceCostExporter] = []

    def attach_metrics(self, meter_provider: Any = None) -> None:
        """Cost metrics on the global MeterProvider, which the SDK configures
        after the trace exporters (so this runs after ``_configure``). One
        listener on the one processor: each span counts once, whatever the
        number of exporters; the per-trace histogram is fed by the first
        exporter's roll-up only."""
        from .metrics import CostMetrics

        self.metrics = CostMetrics(meter_provider)
        assert self.processor is not None
        self.processor.add_listener(self.metrics)
        self.budget.add_exceeded_callback(self.metrics.budget_exceeded)
        self.metrics.watch_processor(self.processor)
        for rollup in self.rollups:
            self.metrics.watch_rollup(rollup)

    def _trace_complete(self, totals: TraceTotals, root: ReadableSpan) -> None:
        metrics = self.metrics
        if metrics is not None:
            metrics.on_trace_complete(totals, root)

    def __call__(self, span_exporter: SpanExporter, *args: Any, **kwargs: Any) -> SpanProcessor:
        self.exporters += 1
        return self._chain(span_exporter)

    def without_export(self) -> SpanProcessor:
        """The chain in front of an exporter that drops every span (no exporter is
        configured): spans are priced, budgets and metrics fed, roll-up included."""
        return self._chain(_DiscardingExporter())

    def _chain(self, span_exporter: SpanExporter) -> SpanProcessor:
        first = self._fanout is None
        rollup = TraceCostExporter(
            span_exporter,
            bands=self._settings.bands,
            idle_timeout_s=self._settings.trace_idle_timeout_s,
            max_traces=self._settings.max_traces,
            trace_layers=self._trace_layers,
            on_trace_complete=self._trace_complete if first else None,
        )
        self.rollups.append(rollup)
        batch = BatchSpanProcessor(rollup)
        if self._fanout is None:
            self._fanout = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
            self._fanout.add_span_processor(batch)
            self.processor = CostSpanProcessor(
                self._fanout,
                catalog=self._catalog,
                settings=self._settings,
                listeners=[self.budget],
                span_layers=self._span_layers,
            )
            return self.processor
        self._fanout.add_span_processor(batch)
        return SpanProcessor()


#: How long each exit flush waits (the SDK's own shutdown follows them).
_EXIT_FLUSH_S = 5.0


class _ExitFlush:
    """The span pipeline's flushes at exit, before the SDK shuts the MeterProvider down
    (atexit runs last-registered first, and the SDK registers its providers' shutdowns
    while ``_configure`` runs), so that the roll-up of the last batch does not record
    its per-trace costs into a closed meter.

    ``early`` runs from the threading module's exit hooks: before atexit's, while
    threads can still be started (Python 3.12 refuses them in atexit callbacks), so
    the flush is bounded. But those hooks run before Python joins the non-daemon
    threads, and a thread still working after ``main`` returned ends its spans later:
    ``late``, an atexit callback registered after the SDK's providers, runs once those
    threads have been joined and before the MeterProvider's own shutdown."""

    def __init__(self, processor: CostSpanProcessor, timeout_s: float = _EXIT_FLUSH_S) -> None:
        self._processor = processor
        self._timeout_s = timeout_s
        self._gave_up = False

    def early(self) -> None:
        if not _flush_spans(self._processor, self._timeout_s):
            self._gave_up = True

    def late(self) -> None:
        if self._gave_up:
            # The exporter did not take the last flush in time: waiting on it again would
            # only double the exit time. Pricing what ended since is bounded work, and feeds
            # the cost counters and budgets; the roll-up waits for the SDK's shutdown.
            try:
                self._processor.settle()
            except Exception:  # at exit: never raise
                _log.debug("genai-cost: pricing at exit failed", exc_info=True)
            return
        _flush_spans(self._processor, self._timeout_s)


def _register_exit_flush(processor: CostSpanProcessor) -> _ExitFlush:
    """Call after the SDK's providers exist (see :class:`_ExitFlush`)."""
    flush = _ExitFlush(processor)
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # already shutting down: the late flush is enough
            register(flush.early)
    atexit.register(flush.late)
    return flush


def _flush_spans(processor: CostSpanProcessor, timeout_s: float = _EXIT_FLUSH_S) -> bool:
    """Flush at exit, bounded: the batch processor's ``force_flush`` does not honour its
    timeout when the backend accepts connections and never answers (one OTLP timeout per
    queued batch: 50 s measured), which would outlast a Kubernetes grace period. The
    flush runs on a daemon thread, and exit goes on after ``timeout_s`` regardless.
    False if it gave up."""

    def flush() -> None:
        try:
            processor.force_flush(int(timeout_s * 1000))
        except Exception:  # at exit: never raise
            _log.debug("genai-cost: flush at exit failed", exc_info=True)

    flusher = threading.Thread(target=flush, name="genai-cost-exit-flush", daemon=True)
    try:
        flusher.start()
    except RuntimeError:  # Python 3.12+: no new thread once the interpreter is finalizing
        flush()
        return True
    flusher.join(timeout_s)
    if flusher.is_alive():
        _log.warning(
            "genai-cost: spans not flushed within %.0f s at exit; the trace backend is unreachable"
            " or not answering",
            timeout_s,
        )
        return False
    return True
