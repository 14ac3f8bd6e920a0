"""genai-cost: the true USD cost of AI-agent work, on OpenTelemetry traces.

Compose it like any SDK processor::

    from genai_cost import CostSpanProcessor, TraceCostExporter
    provider.add_span_processor(
        CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(OTLPSpanExporter())))
    )

or switch it on without code: ``OTEL_PYTHON_CONFIGURATOR=genai_cost opentelemetry-instrument python app.py``.
"""

from .config import CostSettings
from .pricing import Catalog, CatalogError, CostBreakdown, PricingError, TokenUsage
from .processor import CostedSpan, CostSpanProcessor
from .rollup import TraceCostExporter, TraceTotals

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "CatalogError",
    "CostBreakdown",
    "CostSettings",
    "CostSpanProcessor",
    "CostedSpan",
    "PricingError",
    "TokenUsage",
    "TraceCostExporter",
    "TraceTotals",
    "__version__",
]
