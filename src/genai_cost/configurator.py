"""Zero-code switch-on: ``OTEL_PYTHON_CONFIGURATOR=genai_cost opentelemetry-instrument ...``.

The SDK's own configurator does all the standard work (``OTEL_TRACES_EXPORTER``,
``OTEL_EXPORTER_OTLP_*``, resource, sampler, metrics, logs); this one only
changes how an exporter is wrapped: instead of ``BatchSpanProcessor(exporter)``
each trace exporter gets ``BatchSpanProcessor(TraceCostExporter(exporter))``,
and a single :class:`CostSpanProcessor` in front of all of them prices each
span once, however many exporters are configured.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from .config import CostSettings
from .processor import CostSpanProcessor
from .rollup import TraceCostExporter

_log = logging.getLogger("genai_cost")


class CostConfigurator(_OTelSDKConfigurator):
    """The standard SDK configurator, with cost on every exported span."""

    def _configure(self, **kwargs: Any) -> None:
        settings = CostSettings.from_env()
        if not settings.enabled:
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        builder = _ExportChainBuilder(settings)
        kwargs.setdefault("export_span_processor", builder)
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
        _log.debug("genai-cost: pricing enabled for %d trace exporter(s)", builder.exporters)


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

    def __call__(self, span_exporter: SpanExporter, *args: Any, **kwargs: Any) -> SpanProcessor:
        self.exporters += 1
        batch = BatchSpanProcessor(
            TraceCostExporter(
                span_exporter,
                bands=self._settings.bands,
                idle_timeout_s=self._settings.trace_idle_timeout_s,
                max_traces=self._settings.max_traces,
            )
        )
        if self._fanout is None:
            self._fanout = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
            self._fanout.add_span_processor(batch)
            self.processor = CostSpanProcessor(self._fanout, settings=self._settings)
            return self.processor
        self._fanout.add_span_processor(batch)
        return SpanProcessor()
