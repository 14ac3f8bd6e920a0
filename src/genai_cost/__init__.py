"""genai-cost: the true USD cost of AI-agent work, on OpenTelemetry traces.

Compose it like any SDK processor::

    from genai_cost import CostSpanProcessor, TraceCostExporter
    provider.add_span_processor(
        CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(OTLPSpanExporter())))
    )

or switch it on without code: ``OTEL_PYTHON_CONFIGURATOR=genai_cost opentelemetry-instrument python app.py``.
"""

from .budget import (
    Budget,
    BudgetExceededError,
    BudgetLimits,
    TraceSpend,
    check_budget,
    current_spend,
    get_default_budget,
    set_default_budget,
)
from .config import CostSettings
from .layers import HumanEscalationLayer, InfraAllocation, InfraCostLayer, LayerSettings
from .metrics import CostMetrics
from .pricing import Catalog, CatalogError, CostBreakdown, PricingError, TokenUsage
from .processor import CostedSpan, CostSpanProcessor
from .rollup import TraceCostExporter, TraceTotals

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "BudgetExceededError",
    "BudgetLimits",
    "Catalog",
    "CatalogError",
    "CostBreakdown",
    "CostMetrics",
    "CostSettings",
    "CostSpanProcessor",
    "CostedSpan",
    "HumanEscalationLayer",
    "InfraAllocation",
    "InfraCostLayer",
    "LayerSettings",
    "PricingError",
    "TokenUsage",
    "TraceCostExporter",
    "TraceSpend",
    "TraceTotals",
    "__version__",
    "check_budget",
    "current_spend",
    "get_default_budget",
    "set_default_budget",
]
