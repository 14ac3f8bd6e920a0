"""genai-cost: the true USD cost of AI-agent work, on OpenTelemetry traces.

Compose it like any SDK processor::

    from genai_cost import CostSpanProcessor, TraceCostExporter
    provider.add_span_processor(
        CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(OTLPSpanExporter())))
    )

or switch it on without code: ``OTEL_PYTHON_CONFIGURATOR=genai_cost opentelemetry-instrument python app.py``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from .costed_span import CostedSpan
    from .extensions import CostListener, SettlingListener, SpanAnnotations, SpanCostLayer
    from .layers import HumanEscalationLayer, InfraAllocation, InfraCostLayer, LayerSettings
    from .metrics import CostMetrics
    from .pricer import SpanCost
    from .pricing import Catalog, CatalogError, CostBreakdown, PricingError, TokenUsage
    from .processor import CostSpanProcessor
    from .rollup import TraceCostExporter, TraceCostLayer, TraceTotals
    from .usage import SpanUsage

#: Public name -> module. Imported on first use (PEP 562), so that
#: ``from genai_cost.pricing import Catalog`` (offline pricing, the CLI) does not
#: pay for the OpenTelemetry SDK, and ``import genai_cost`` stays cheap.
_EXPORTS = {
    "Budget": "budget",
    "BudgetExceededError": "budget",
    "BudgetLimits": "budget",
    "TraceSpend": "budget",
    "check_budget": "budget",
    "current_spend": "budget",
    "get_default_budget": "budget",
    "set_default_budget": "budget",
    "CostSettings": "config",
    "HumanEscalationLayer": "layers",
    "InfraAllocation": "layers",
    "InfraCostLayer": "layers",
    "LayerSettings": "layers",
    "CostMetrics": "metrics",
    "Catalog": "pricing",
    "CatalogError": "pricing",
    "CostBreakdown": "pricing",
    "PricingError": "pricing",
    "TokenUsage": "pricing",
    "CostedSpan": "costed_span",
    "CostSpanProcessor": "processor",
    "TraceCostExporter": "rollup",
    "TraceTotals": "rollup",
    # What extensions implement (a listener, a cost layer) and the values they are given
    # or return.
    "CostListener": "extensions",
    "SettlingListener": "extensions",
    "SpanAnnotations": "extensions",
    "SpanCostLayer": "extensions",
    "TraceCostLayer": "rollup",
    "SpanCost": "pricer",
    "SpanUsage": "usage",
}


if not TYPE_CHECKING:  # checkers see the imports above, so a misspelt name is an error

    def __getattr__(name: str) -> Any:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'genai_cost' has no attribute {name!r}")
        from importlib import import_module

        try:
            source = import_module(f".{module}", __name__)
        except AttributeError as exc:
            # Left as it is, an AttributeError raised while the module imports (an
            # OpenTelemetry SDK too old for it, say) would read "cannot import name".
            raise ImportError(f"genai_cost.{module} failed to import: {exc}") from exc
        value = getattr(source, name)
        globals()[name] = value
        return value


__version__ = "0.1.0"

__all__ = [
    "Budget",
    "BudgetExceededError",
    "BudgetLimits",
    "Catalog",
    "CatalogError",
    "CostBreakdown",
    "CostListener",
    "CostMetrics",
    "CostSettings",
    "CostSpanProcessor",
    "CostedSpan",
    "HumanEscalationLayer",
    "InfraAllocation",
    "InfraCostLayer",
    "LayerSettings",
    "PricingError",
    "SettlingListener",
    "SpanAnnotations",
    "SpanCost",
    "SpanCostLayer",
    "SpanUsage",
    "TokenUsage",
    "TraceCostExporter",
    "TraceCostLayer",
    "TraceSpend",
    "TraceTotals",
    "__version__",
    "check_budget",
    "current_spend",
    "get_default_budget",
    "set_default_budget",
]


def __dir__() -> list[str]:
    return sorted(__all__)
