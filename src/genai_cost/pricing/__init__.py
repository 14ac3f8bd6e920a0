"""The pricing core: typed price data, model resolution and pure cost arithmetic.

Nothing here imports OpenTelemetry, so it can price usage offline (reports,
re-pricing old traces, a gateway) exactly as the span processor does.
"""

from .catalog import Catalog, Resolution, SkippedFile, default_pricing_dir, pricing_file_paths
from .errors import (
    AmbiguousModelError,
    CatalogError,
    InvalidUsageError,
    MissingRateError,
    PricingError,
    UnknownModelError,
)
from .model import CostBreakdown, InfrastructureSection, ModelPricing, Rates, TokenUsage, ToolPricing

__all__ = [
    "AmbiguousModelError",
    "Catalog",
    "CatalogError",
    "CostBreakdown",
    "InfrastructureSection",
    "InvalidUsageError",
    "MissingRateError",
    "ModelPricing",
    "PricingError",
    "Rates",
    "Resolution",
    "SkippedFile",
    "TokenUsage",
    "ToolPricing",
    "UnknownModelError",
    "default_pricing_dir",
    "pricing_file_paths",
]
