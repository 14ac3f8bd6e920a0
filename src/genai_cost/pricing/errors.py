"""Errors of the pricing core, and the vocabulary of ``gen_ai.cost.unpriced_reason``.

Each error carries a short machine ``reason`` that the span layer writes to
``gen_ai.cost.unpriced_reason`` and counts in metrics. The reasons the span layer
decides itself (a span with no usage, a failed call) are listed beside them, so that
every value a span can carry is spelled once, here, and checked against
docs/attributes.md. Plain ``str`` constants, not an Enum: OpenTelemetry's exporters
check an attribute value's type, and the span layer writes these as they are."""

from __future__ import annotations

import os

# ------------------------------------------------ values of gen_ai.cost.unpriced_reason
#: Raised by the pricing core (the ``reason`` of the errors below):
REASON_PRICING_ERROR = "pricing_error"
REASON_UNKNOWN_MODEL = "unknown_model"
REASON_UNKNOWN_PROVIDER = "unknown_provider"
REASON_AMBIGUOUS_MODEL = "ambiguous_model"
REASON_MISSING_RATE = "missing_rate"
#: A model priced per second of the call, on a span whose duration is not known.
REASON_MISSING_DURATION = "missing_duration"
REASON_INVALID_USAGE = "invalid_usage"
#: The rates (or a fee times a count) make a cost that is no amount; also a recorded
#: total that is no amount, as what reads spans priced elsewhere finds it.
REASON_INVALID_COST = "invalid_cost"
#: Decided by the span layer from what the span carries:
REASON_MISSING_USAGE = "missing_usage"
REASON_MISSING_MODEL = "missing_model"
#: A call that failed (``error.type``) and recorded no usage.
REASON_FAILED_CALL = "failed_call"
#: An agent's or workflow's span that counts tokens (its calls' aggregate), with no call
#: recorded below it: the calls themselves are not instrumented.
REASON_UNRECORDED_CALLS = "unrecorded_calls"
REASON_UNKNOWN_TOOL = "unknown_tool"
#: genai-cost itself failed on the span (a bug, or input nothing anticipated).
REASON_INTERNAL_ERROR = "internal_error"
#: A span cost layer of the application's raised on the span, and no other layer priced it:
#: whatever that layer would have charged is missing.
REASON_COST_LAYER_FAILED = "cost_layer_failed"

#: Every value genai-cost writes to ``gen_ai.cost.unpriced_reason``.
UNPRICED_REASONS = frozenset(
    {
        REASON_PRICING_ERROR,
        REASON_UNKNOWN_MODEL,
        REASON_UNKNOWN_PROVIDER,
        REASON_AMBIGUOUS_MODEL,
        REASON_MISSING_RATE,
        REASON_MISSING_DURATION,
        REASON_INVALID_USAGE,
        REASON_INVALID_COST,
        REASON_MISSING_USAGE,
        REASON_MISSING_MODEL,
        REASON_FAILED_CALL,
        REASON_UNRECORDED_CALLS,
        REASON_UNKNOWN_TOOL,
        REASON_INTERNAL_ERROR,
        REASON_COST_LAYER_FAILED,
    }
)


class PricingError(Exception):
    """A call could not be priced. ``reason`` is stable; the message explains."""

    reason = REASON_PRICING_ERROR

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UnknownModelError(PricingError):
    reason = REASON_UNKNOWN_MODEL


class UnpricedDeploymentError(UnknownModelError):
    """A known model, served where it has a price sheet the catalog does not carry
    (Bedrock GovCloud): a close name would be the wrong price, so none is suggested."""


class AmbiguousModelError(PricingError):
    reason = REASON_AMBIGUOUS_MODEL


class MissingRateError(PricingError):
    """The model is known but has no rate for a token class the call used."""

    reason = REASON_MISSING_RATE


class InvalidUsageError(PricingError):
    reason = REASON_INVALID_USAGE


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
