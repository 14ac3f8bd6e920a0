"""Pricing data made up for tests: an entry with the given rates, outside any file."""

from __future__ import annotations

from genai_cost.pricing import Resolution
from genai_cost.pricing.model import ModelPricing, Period, Rates


def synthetic(rates: list[Rates], starts: list[float] | None = None, multiplier: float = 1.0) -> Resolution:
    """A resolved entry with one plain price period per ``rates`` (from ``starts``),
    scaled by ``multiplier`` as a regional uplift or discount would be."""
    starts = starts or [float("-inf")] * len(rates)
    periods = tuple(
        Period(
            start=start,
            start_label="initial" if start == float("-inf") else str(start),
            rates=rate,
            long_context=(),
            service_tiers={},
            windows=(),
            source="test",
            checked="2026-11-22",
            plain=True,
        )
        for start, rate in zip(starts, rates, strict=True)
    )
    entry = ModelPricing(
        pricing_id="test/synthetic",
        provider_id="test",
        model_id="synthetic",
        kind="chat",
        origin="test",
        defined_in="test",
        is_override=False,
        periods=periods,
        period_starts=tuple(starts),
    )
    return Resolution(entry, "synthetic", multiplier, ())
