"""Errors of the pricing core. Each carries a short machine ``reason`` that the
span layer writes to ``gen_ai.cost.unpriced_reason`` and counts in metrics."""

from __future__ import annotations


class PricingError(Exception):
    """A call could not be priced. ``reason`` is stable; the message explains."""

    reason = "pricing_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UnknownModelError(PricingError):
    reason = "unknown_model"


class UnpricedDeploymentError(UnknownModelError):
    """A known model, served where it has a price sheet the catalog does not carry
    (Bedrock GovCloud): a close name would be the wrong price, so none is suggested."""


class AmbiguousModelError(PricingError):
    reason = "ambiguous_model"


class MissingRateError(PricingError):
    """The model is known but has no rate for a token class the call used."""

    reason = "missing_rate"


class InvalidUsageError(PricingError):
    reason = "invalid_usage"


class CatalogError(ValueError):
    """A pricing file is broken. The message names the file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
