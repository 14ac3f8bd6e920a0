"""Zero-code switch-on: ``OTEL_PYTHON_CONFIGURATOR=genai_cost opentelemetry-instrument ...``.

The SDK's own configurator does all the standard work (``OTEL_TRACES_EXPORTER``,
``OTEL_EXPORTER_OTLP_*``, resource, sampler, metrics, logs); this one only
changes how an exporter is wrapped: instead of ``BatchSpanProcessor(exporter)``
each trace exporter gets ``BatchSpanProcessor(TraceCostExporter(exporter))``,
and a single :class:`CostSpanProcessor` in front of all of them prices each
span once, however many exporters are configured.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from .budget import Budget, BudgetLimits, set_default_budget
from .config import CostSettings, env_flag
from .layers import LayerSettings
from .processor import CostSpanProcessor
from .rollup import TraceCostExporter, TraceTotals

_log = logging.getLogger("genai_cost")


class CostConfigurator(_OTelSDKConfigurator):
    """The standard SDK configurator, with cost on every exported span."""

    def _configure(self, **kwargs: Any) -> None:
        settings = CostSettings.from_env()
        if not settings.enabled:
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
        if not builder.exporters and not os.environ.get("OTEL_TRACES_EXPORTER", "").strip():
            # The spec's default (otlp) is set by opentelemetry-distro, not by the SDK's
            # configurator: without the distro, spans would be priced and go nowhere.
            _log.warning(
                "genai-cost: OTEL_TRACES_EXPORTER is not set, so no span is exported; set it to otlp"
                " (or console), or install opentelemetry-distro, which defaults it to otlp"
            )
        if builder.processor is not None and env_flag("GENAI_COST_METRICS", True):
            builder.attach_metrics()
            # At exit the SDK shuts the MeterProvider down before the TracerProvider
            # (atexit runs last-registered first), so the roll-up of the last batch
            # would record its per-trace costs into a closed meter. Flush the spans
            # first: this hook runs before them. It is registered with the threading
            # module's exit hooks, which run before atexit's and while threads can still be
            # started (Python 3.12 refuses them in atexit callbacks), so that the flush can
            # be bounded; atexit, registered after both providers, is the fallback.
            register = getattr(threading, "_register_atexit", None)
            try:
                if register is None:
                    raise RuntimeError("no threading exit hooks")
                register(_flush_spans, builder.processor)
            except RuntimeError:
                atexit.register(_flush_spans, builder.processor)


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
        layers = LayerSettings.from_env(pricing_files=settings.pricing_files)
        self._trace_layers = layers.trace_layers()
        self._span_layers = layers.span_layers()
        #: The running spend per trace and its limits (``GENAI_COST_BUDGET_*``), the default
        #: budget of :func:`genai_cost.check_budget`.
        self.budget = Budget(
            BudgetLimits.from_env(),
            idle_timeout_s=max(settings.trace_idle_timeout_s, 600.0),
            max_traces=settings.max_traces,
        )
        set_default_budget(self.budget)
        self.metrics: Any = None

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

    def _trace_complete(self, totals: TraceTotals, root: ReadableSpan) -> None:
        metrics = self.metrics
        if metrics is not None:
            metrics.on_trace_complete(totals, root)

    def __call__(self, span_exporter: SpanExporter, *args: Any, **kwargs: Any) -> SpanProcessor:
        self.exporters += 1
        batch = BatchSpanProcessor(
            TraceCostExporter(
                span_exporter,
                bands=self._settings.bands,
                idle_timeout_s=self._settings.trace_idle_timeout_s,
                max_traces=self._settings.max_traces,
                trace_layers=self._trace_layers,
                on_trace_complete=self._trace_complete if self.exporters == 1 else None,
            )
        )
        if self._fanout is None:
            self._fanout = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
            self._fanout.add_span_processor(batch)
            self.processor = CostSpanProcessor(
                self._fanout, settings=self._settings, listeners=[self.budget], span_layers=self._span_layers
            )
            return self.processor
        self._fanout.add_span_processor(batch)
        return SpanProcessor()


#: How long the exit hook waits for the flush (the SDK's own shutdown follows it).
_EXIT_FLUSH_S = 5.0


def _flush_spans(processor: CostSpanProcessor, timeout_s: float = _EXIT_FLUSH_S) -> None:
    """Flush at exit, bounded: the batch processor's ``force_flush`` does not honour its
    timeout when the backend accepts connections and never answers (one OTLP timeout per
    queued batch: 50 s measured), which would outlast a Kubernetes grace period. The
    flush runs on a daemon thread, and exit goes on after ``timeout_s`` regardless."""

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
        return
    flusher.join(timeout_s)
    if flusher.is_alive():
        _log.warning("genai-cost: spans not flushed within %.0f s at exit; the backend is not answering", timeout_s)
