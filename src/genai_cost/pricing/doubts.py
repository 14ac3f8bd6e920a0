"""Values of a user's pricing file that are valid but almost surely a unit mistake.

A rate copied as a price sheet writes it per token (LiteLLM's ``0.0000025``) is a valid
rate per million tokens, a million times too low: every call then costs about nothing and a
cost limit never stops the agent. A discount of ``percent: 0.15`` meant as 15% takes 0.15%
off. Neither can be refused (a rate of a hundredth of a cent per million, or a 0.5%
discount, may be meant), so they are said as warnings, naming the file, line and field, by
``pricing validate`` and when the catalog loads the file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .model import RATE_FIELDS

if TYPE_CHECKING:  # (pydantic: not imported to say a doubt of a file loaded from the cache)
    from .schema import PricePeriod, PricingFile, RateSet

#: USD per million tokens: the lowest positive token rate of the shipped catalog (a cache
#: read, of 16,060 token rates, 2026-11; ``tests/test_pricing_doubts.py`` checks every shipped
#: file against it). A rate per token is a millionth of the rate per million, so one copied
#: by mistake falls below it (gpt-4o's input, $2.50 per million, is 0.0000025 per token; only
#: output rates above $500 per million, written per token, would not).
LOWEST_PLAUSIBLE_RATE = 0.0005

Location = tuple[str | int, ...]


def doubtful_values(parsed: PricingFile) -> list[tuple[Location, str]]:
    """Each doubtful value of ``parsed``: its place in the file and what is doubtful."""
    found: list[tuple[Location, str]] = []
    for p_index, provider in enumerate(parsed.providers):
        for m_index, model in enumerate(provider.models):
            for k_index, period in enumerate(model.prices):
                at: Location = ("providers", p_index, "models", m_index, "prices", k_index)
                for place, rates in _rate_sets(at, period):
                    found.extend(_low_rates(place, rates))
    for d_index, discount in enumerate(parsed.discounts):
        if discount.percent < 1:
            percent = discount.percent
            found.append(
                (
                    ("discounts", d_index, "percent"),
                    f"{percent:g} takes {percent:g}% off: percent counts out of 100"
                    f" (write {percent * 100:g} for {percent * 100:g}%)",
                )
            )
    return found


#: Doubts said of one file, at most: a price list copied per token makes every rate one, and
#: a thousand warnings say no more than the first few and a count.
MAX_SAID = 10


def doubt_messages(label: str, doubts: Sequence[tuple[Location, str]]) -> list[str]:
    """The doubtful values of the user's file ``label`` as said, ``file:line: field: doubt``:
    every discount's, and the first :data:`MAX_SAID` rates, then how many more rates (a
    discount's doubt must not hide behind a price list's)."""
    if not doubts:
        return []
    from .files import dotted_path, locate_all  # (YAML: only once a file has a doubt to say)

    rates = [doubt for doubt in doubts if doubt[0][0] != "discounts"]
    said = [doubt for doubt in doubts if doubt[0][0] == "discounts" or doubt in rates[:MAX_SAID]]
    places = locate_all(label, [tuple(loc) for loc, _ in said])
    messages = [f"{place}: {dotted_path(loc)}: {doubt}" for place, (loc, doubt) in zip(places, said, strict=True)]
    if len(rates) > MAX_SAID:
        messages.append(
            f"{label}: {len(rates) - MAX_SAID} more rate(s) below ${LOWEST_PLAUSIBLE_RATE:g} per million"
            " tokens, not listed"
        )
    return messages


def _rate_sets(at: Location, period: PricePeriod) -> Iterator[tuple[Location, RateSet]]:
    """The period's own rates and those of its long-context tiers, service tiers (and
    theirs) and time windows, each with its place."""
    yield at, period
    for index, tier in enumerate(period.long_context):
        yield (*at, "long_context", index), tier
    for name, service in period.service_tiers.items():
        yield (*at, "service_tiers", name), service
        for index, tier in enumerate(service.long_context):
            yield (*at, "service_tiers", name, "long_context", index), tier
    for index, window in enumerate(period.time_windows):
        yield (*at, "time_windows", index), window


def _low_rates(at: Location, rates: RateSet) -> Iterator[tuple[Location, str]]:
    for name in RATE_FIELDS:
        value = getattr(rates, name)
        if value is not None and 0 < value < LOWEST_PLAUSIBLE_RATE:
            yield (
                (*at, name),
                f"{value:g} USD per million tokens is below every rate of the shipped catalog"
                f" (${LOWEST_PLAUSIBLE_RATE:g} per million): a price per token? Rates are per million"
                f" tokens ({value:g} per token is {value * 1_000_000:g} per million)",
            )
