"""What the calls of one model would have cost on another: ``genai-cost report --what-if``.

The seeds' dashboard suggests "42% of summarize calls could use gpt-4o-mini"; routing
steps to a cheaper model is the saving that compounds. Before switching, the question is
what the calls already made would have cost on the other model. Each call is priced again
from the token counts on its span (cache reads and writes, reasoning included, as the
catalog bills them for the other model), at the other model's rates of today, standard
tier. Only the price changes: the seeds warn that a cheaper model may need more steps to do
the same task, which no repricing of the steps taken can show.

Pure Python, no OpenTelemetry import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .pricing.catalog import Catalog, Resolution
from .pricing.errors import PricingError
from .pricing.model import TokenUsage

__all__ = ["Repricer", "WhatIfError", "WhatIfTotals"]


class WhatIfError(ValueError):
    """A ``FROM=TO`` that names no catalog entry, said with what was given."""


@dataclass(slots=True)
class WhatIfTotals:
    """The calls of one catalog entry (``FROM``) priced again with another (``to_id``)."""

    to_id: str
    calls: int = 0
    #: What those calls cost, as their spans say.
    usd: float = 0.0
    #: What they would have cost on ``to_id``.
    alternative_usd: float = 0.0
    #: Calls of ``FROM`` that could not be priced again (their span carries a cost and no
    #: token counts, or the other model prices none of what they used): not in either sum.
    not_repriced: int = 0

    def add(self, other: WhatIfTotals) -> None:
        """Adds ``other`` in (the traces of a report)."""
        self.calls += other.calls
        self.usd += other.usd
        self.alternative_usd += other.alternative_usd
        self.not_repriced += other.not_repriced

    @property
    def change(self) -> float | None:
        """The change in cost, as a fraction of what the calls cost (``-0.94``)."""
        return (self.alternative_usd - self.usd) / self.usd if self.usd > 0 else None


class Repricer:
    """Prices the calls of some catalog entries again with others, for a report."""

    def __init__(self, catalog: Catalog, substitutions: Iterable[str]) -> None:
        """``substitutions``: ``FROM=TO`` pricing ids (``openai/gpt-4o=openai/gpt-4o-mini``).
        Raises :class:`WhatIfError` naming what is wrong with one."""
        self._catalog = catalog
        self._targets: dict[str, tuple[str, Resolution]] = {}
        for text in substitutions:
            source, separator, target = (part.strip() for part in text.partition("="))
            if not separator or not source or not target:
                raise WhatIfError(
                    f"--what-if {text!r}: give FROM=TO, two pricing ids (openai/gpt-4o=openai/gpt-4o-mini)"
                )
            self._known(source, text)
            if source in self._targets:
                raise WhatIfError(f"--what-if {text!r}: {source} is given more than once")
            self._targets[source] = (target, self._resolution(target, text))

    @property
    def substitutions(self) -> Mapping[str, str]:
        """``FROM`` -> ``TO``, as given."""
        return {source: target for source, (target, _) in self._targets.items()}

    def wants(self, pricing_id: str) -> bool:
        return pricing_id in self._targets

    def add(self, totals: dict[str, WhatIfTotals], pricing_id: str, usage: TokenUsage | None, usd: float) -> None:
        """Counts a call of ``pricing_id`` (which :meth:`wants`) that cost ``usd`` in ``totals``."""
        target, resolution = self._targets[pricing_id]
        found = totals.get(pricing_id)
        if found is None:
            found = totals[pricing_id] = WhatIfTotals(target)
        if usage is None:
            found.not_repriced += 1
            return
        try:
            alternative = self._catalog.price_resolved(resolution, usage).total_usd
        except PricingError:
            found.not_repriced += 1
            return
        found.calls += 1
        found.usd += usd
        found.alternative_usd += alternative

    def _known(self, pricing_id: str, given: str) -> None:
        try:
            self._catalog.entry(pricing_id)
        except KeyError:
            raise WhatIfError(self._unknown(pricing_id, given)) from None

    def _resolution(self, pricing_id: str, given: str) -> Resolution:
        """The target's resolution, as a span naming it would get (its own rates)."""
        self._known(pricing_id, given)
        provider, _, model = pricing_id.partition("/")
        try:
            resolution = self._catalog.resolve(model, provider)
        except PricingError:
            resolution = None
        if resolution is None or resolution.model.pricing_id != pricing_id:
            raise WhatIfError(f"--what-if {given!r}: {pricing_id} is no model a call can be priced with")
        return resolution

    def _unknown(self, pricing_id: str, given: str) -> str:
        message = f"--what-if {given!r}: no catalog entry {pricing_id!r}"
        provider, _, model = pricing_id.rpartition("/")
        if provider == "tool" and self._catalog.tool(model) is not None:
            return f"--what-if {given!r}: {pricing_id} is a tool: --what-if prices model calls again"
        known = bool(provider) and self._catalog.provider_id(provider) is not None
        near = self._catalog.near_misses(model, provider if known else None)
        if near:
            message += f" (did you mean {', '.join(near)}?)"
        return message + "; `genai-cost pricing list` lists them"
