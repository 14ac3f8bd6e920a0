"""``served_at_other_tier`` reads back the notes ``effective_rates`` writes: the pricer relies
on it to tell a list-price ``operation.cost`` from the price of the tier a call was served at
(tests/test_reported_cost_tiers.py), so the two are checked together here, on the real catalog."""

from __future__ import annotations

import pytest

from genai_cost.pricing import Catalog
from genai_cost.pricing.calc import effective_rates, period_at, served_at_other_tier
from genai_cost.pricing.model import TokenUsage

USAGE = TokenUsage(input_tokens=1_000, output_tokens=100)


@pytest.fixture(scope="module")
def gpt5_period():  # type: ignore[no-untyped-def]
    resolution = Catalog.load().resolve("gpt-5", "openai")
    period = period_at(resolution.model, None)
    assert {"flex", "priority", "batch"} <= set(period.service_tiers), "the test needs a model with these tiers"
    return period


@pytest.mark.parametrize(
    ("tier", "batch", "apart"),
    [
        ("flex", False, True),
        ("Priority", False, True),
        (None, True, True),
        ("flex", True, True),
        (None, False, False),
        ("default", False, False),
        ("auto", False, False),
        # A tier the catalog has no rates for is priced as standard: not served apart.
        ("no-such-tier", False, False),
    ],
)
def test_a_tier_the_catalog_priced_is_recognised(gpt5_period, tier, batch, apart) -> None:  # type: ignore[no-untyped-def]
    _, notes = effective_rates(gpt5_period, USAGE, service_tier=tier, batch=batch)
    assert served_at_other_tier(notes) is apart, notes


def test_batch_without_rates_is_priced_as_standard() -> None:
    catalog = Catalog.load()
    for model in catalog.models.values():
        period = period_at(model, None)
        if "batch" not in period.service_tiers and not period.long_context and not period.windows:
            break
    else:
        pytest.skip("every entry prices batch")
    _, notes = effective_rates(period, USAGE, batch=True)
    assert notes and not served_at_other_tier(notes), notes


def test_other_adjustments_are_not_tiers() -> None:
    assert not served_at_other_tier(("long_context>200000", "cache_write_1h_at_5m_rate", "batch:unpriced_at_default"))
    assert not served_at_other_tier(())
