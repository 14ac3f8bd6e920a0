"""Errors of the pricing core. Each carries a short machine ``reason`` that the
span layer writes to ``gen_ai.cost.unpriced_reason`` and counts in metrics."""

from __future__ import annotations

import os


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


def unreadable_pricing_file(path: object, exc: OSError) -> CatalogError:
    """A pricing path that could not be read. A directory is read as its pricing files
    (:func:`~.catalog.pricing_file_paths`), so one here has none: said as such, since
    "Is a directory" would point away from the mistake (a typo in a name, ``.yml.txt``)."""
    if isinstance(exc, IsADirectoryError):
        return CatalogError([f"{path}: a directory with no pricing files (*.yaml, *.yml) in it"])
    hint = ""
    if isinstance(exc, FileNotFoundError) and "," in str(path):
        hint = f" (to name several files, separate them with {os.pathsep!r}, not ',')"
    return CatalogError([f"{path}: cannot read pricing file: {exc.strerror or exc}{hint}"])
