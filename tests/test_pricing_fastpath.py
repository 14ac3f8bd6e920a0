"""The fast path of ``Catalog.price`` / ``Catalog.price_resolved`` gives exactly
what the general path gives (``_price_general`` / ``_price_resolved_general``,
the code that priced every call before the fast path existed): the same
floats, bit for bit, the same fields, and the same exceptions with the same
messages, on every shipped entry and on synthetic extremes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from genai_cost.pricing import Catalog, Resolution, TokenUsage
from genai_cost.pricing import catalog as catalog_module
from genai_cost.pricing.model import CostBreakdown, Rates
from support.pricing import synthetic

UTC = dt.timezone.utc
COUNTS = TokenUsage.__slots__
ODD_VALUES: list[Any] = [-1, 1.5, 2.0, 0.0, True, False, None, "3", 10**12 + 1, 6 * 10**11, 2**30, 2**40]


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load()


def outcome(call: Callable[[], CostBreakdown]) -> str:
    """The result's repr (every field; floats round-trip), or the exception."""
    try:
        result = call()
    except Exception as exc:
        return f"raised {type(exc).__name__}: {exc}"
    assert type(result) is CostBreakdown
    return repr(result)


def random_usage(rng: random.Random) -> TokenUsage:
    size = rng.choice([0, rng.randint(1, 999), rng.randint(1000, 400_000), 128_000, 128_001, 200_001])
    counts: dict[str, Any] = {"input_tokens": size, "output_tokens": rng.choice([0, 1, rng.randint(1, 20_000)])}
    if rng.random() < 0.4:
        counts["cache_read_tokens"] = rng.randint(0, size)
    if rng.random() < 0.2:
        counts["cache_write_tokens"] = rng.randint(0, max(size - counts.get("cache_read_tokens", 0), 0))
    if rng.random() < 0.05:
        counts["cache_write_1h_tokens"] = rng.randint(0, counts.get("cache_write_tokens", 0))
    if rng.random() < 0.2:
        counts["reasoning_tokens"] = rng.randint(0, counts["output_tokens"])
    for name in ("input_audio_tokens", "cache_read_audio_tokens", "output_audio_tokens"):
        if rng.random() < 0.03:
            counts[name] = rng.randint(0, 100)
    for name in ("input_image_tokens", "output_image_tokens", "web_searches"):
        if rng.random() < 0.03:
            counts[name] = rng.randint(0, 3)
    if rng.random() < 0.05:
        counts["requests"] = rng.randint(0, 3)
    if rng.random() < 0.08:
        counts[rng.choice(COUNTS)] = rng.choice(ODD_VALUES)
    if rng.random() < 0.02:
        counts[rng.choice(COUNTS)] = int(str(rng.choice([0, 1])))  # an int, but maybe not the cached 0 or 1
    return TokenUsage(**counts)


def random_time(rng: random.Random) -> Any:
    moment = dt.datetime(2023, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.randint(0, 1300 * 86400))
    return rng.choice(
        [
            None,
            moment.timestamp(),
            moment.timestamp(),
            moment.timestamp(),
            int(moment.timestamp()),
            moment,
            moment.replace(tzinfo=None),
            moment.date(),
            math.nan,
            -math.inf,
        ]
    )


def test_price_matches_the_general_path_on_every_shipped_entry(shipped: Catalog) -> None:
    rng = random.Random(20261122)
    names = [(entry.model_id, entry.provider_id) for entry in shipped.models.values()]
    names += [(model, None) for model, _ in rng.sample(names, 300)]
    names += [("no-such-model", "openai"), ("gpt-4o", "no-such-provider"), ("gpt-4o", None)]
    checked = priced = 0
    for repeat in range(3):
        for model, provider in names:
            usage = random_usage(rng)
            at = random_time(rng)
            tier = rng.choice([None, None, None, None, "default", "auto", "flex", "priority", "standard"])
            batch = rng.random() < 0.05
            duration = rng.choice([None, 2.5])
            options: dict[str, Any] = {"at": at, "service_tier": tier, "batch": batch, "duration_s": duration}
            if repeat == 0:
                options = {"at": at}
            got = outcome(lambda: shipped.price(usage, model, provider, **options))
            want = outcome(lambda: shipped._price_general(usage, model, provider, **options))
            assert got == want, (model, provider, usage, options)
            checked += 1
            priced += not got.startswith("raised")
    assert checked > 15_000 and priced > 10_000


@pytest.mark.parametrize("check", [True, False])
def test_price_resolved_matches_the_general_path_on_every_shipped_entry(shipped: Catalog, check: bool) -> None:
    rng = random.Random(7 + check)
    resolutions = []
    for entry in shipped.models.values():
        try:
            resolutions.append(shipped.resolve(entry.model_id, entry.provider_id))
        except Exception:  # ambiguous names: the test of price() covers them
            continue
    for bedrock in ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"):
        resolutions.append(shipped.resolve(bedrock, "aws.bedrock"))
    assert any(r.multiplier != 1.0 for r in resolutions)
    for resolution in resolutions:
        for _ in range(2):
            usage = random_usage(rng)
            at = rng.choice([None, rng.uniform(1.6e9, 1.9e9), rng.randint(1_600_000_000, 1_900_000_000), math.nan])
            tier = rng.choice([None, None, None, "default", "on_demand", "flex", "batch"])
            options: dict[str, Any] = {"at": at, "service_tier": tier, "batch": rng.random() < 0.05, "check": check}
            got = outcome(lambda: shipped.price_resolved(resolution, usage, **options))
            want = outcome(lambda: shipped._price_resolved_general(resolution, usage, **options))
            assert got == want, (resolution.model.pricing_id, usage, options)


def test_the_span_path_s_fast_price_is_price_resolved_where_it_answers(shipped: Catalog) -> None:
    """``_fast_price`` (the processor's shortcut: no tier, not batched, counts unchecked)
    answers exactly what ``price_resolved`` answers, or ``None`` where that takes the general
    path; it answers most calls."""
    rng = random.Random(11)
    answered = 0
    resolutions = []
    for entry in shipped.models.values():
        try:
            resolutions.append(shipped.resolve(entry.model_id, entry.provider_id))
        except Exception:
            continue
    for resolution in resolutions:
        usage = random_usage(rng)
        at = rng.choice([None, rng.uniform(1.6e9, 1.9e9), math.nan])
        fast = shipped._fast_price(resolution, usage, at)
        want = outcome(lambda: shipped._price_resolved_general(resolution, usage, at=at, check=False))
        if fast is not None:
            answered += 1
            assert fast == shipped.price_resolved(resolution, usage, at=at, check=False)
            assert outcome(lambda: fast) == want, (resolution.model.pricing_id, usage, at)
    assert answered > len(resolutions) // 4


def test_extreme_rates_and_counts_match_the_general_path(shipped: Catalog) -> None:
    """Around the fast path's limits (parts and totals near 2**47 and 2**52 units
    of 1e-12 USD, counts near 10**12), zero rates, uplifts and discounts, and
    rates it leaves alone."""
    rng = random.Random(3)
    for _ in range(4000):
        base = 10 ** rng.uniform(-10, -1)
        rate = Rates(
            input=rng.choice([base, 0.0, -0.0]),
            cache_read=rng.choice([None, base * rng.random()]),
            cache_write=rng.choice([None, base * 1.25, 0.0]),
            output=rng.choice([base * rng.uniform(1, 8), 0.0]),
        )
        odd = rng.random() < 0.05
        if odd:
            rate = Rates(input=rng.choice([math.nan, math.inf, -1e-6, 2e7]), output=base)
        resolution = synthetic([rate], multiplier=rng.choice([1.0, 1.0, 1.1, 0.8, 1 / 3]))
        assert (catalog_module._fast_of(resolution)[0] is None) == odd
        # counts whose parts come near 2**45 .. 2**53 units of 1e-12 USD
        near = [int(2 ** rng.uniform(45, 53) / (base * 1e12)), rng.randint(0, 2**31), rng.randint(0, 10**6)]
        size = min(rng.choice(near), 10**12 + 1)
        usage = TokenUsage(
            input_tokens=size,
            output_tokens=min(rng.choice(near), 10**12 + 1),
            cache_read_tokens=rng.choice([0, rng.randint(0, size)]),
            cache_write_tokens=rng.choice([0, 0, rng.randint(0, size)]),
        )
        for check in (True, False):
            got = outcome(lambda: shipped.price_resolved(resolution, usage, check=check))
            want = outcome(lambda: shipped._price_resolved_general(resolution, usage, check=check))
            assert got == want, (rate, usage, check)


def test_dated_periods_pick_the_same_prices() -> None:
    starts = [float("-inf"), 1.7e9, 1.75e9]
    rates = [Rates(input=3e-6, output=1e-5), Rates(input=2e-6, output=8e-6), Rates(input=1e-6, output=4e-6)]
    resolution = synthetic(rates, starts)
    catalog = Catalog([], version="test")
    usage = TokenUsage(input_tokens=1000, output_tokens=100)
    for at in (None, 0.0, 1.7e9 - 1, 1.7e9, 1.72e9, 1.75e9, 1.8e9, math.nan, -math.inf, math.inf, 1_700_000_000):
        got = catalog.price_resolved(resolution, usage, at=at)
        assert got == catalog._price_resolved_general(resolution, usage, at=at)
    assert catalog.price_resolved(resolution, usage, at=1.72e9).input_usd == 1000 * 2e-6


def test_the_fast_path_sets_every_field() -> None:
    """It builds CostBreakdown field by field: a new field must be added there too."""
    assert CostBreakdown.__slots__ == (
        "total_usd",
        "input_usd",
        "cache_read_usd",
        "cache_write_usd",
        "output_usd",
        "request_usd",
        "pricing_id",
        "effective_from",
        "adjustments",
        "search_usd",
        "compute_usd",
    )
    catalog = Catalog.load()
    cost = catalog.price(TokenUsage(input_tokens=1200, output_tokens=300, cache_read_tokens=200), "gpt-4o", "openai")
    assert dataclasses.asdict(cost) == dataclasses.asdict(
        catalog._price_general(TokenUsage(input_tokens=1200, output_tokens=300, cache_read_tokens=200), "gpt-4o", "openai")
    )


def test_the_rate_tables_are_not_part_of_a_resolution_value(shipped: Catalog) -> None:
    first = shipped.resolve("gpt-4o", "openai")
    shipped.price_resolved(first, TokenUsage(input_tokens=1))
    again = Resolution(first.model, first.how, first.multiplier, first.adjustments)
    assert again == first and repr(again) == repr(first)
    assert "_fast" not in repr(first)


def test_the_resolution_cache_limit_clears_the_rate_tables_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "_CACHE_LIMIT", 3)
    catalog = Catalog.load()
    usage = TokenUsage(input_tokens=1000, output_tokens=10)
    models = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4o"]
    expected = {model: catalog._price_general(usage, model, "openai") for model in models}
    for model in models * 2:
        assert catalog.price(usage, model, "openai") == expected[model]
        assert len(catalog._cache) <= 3 and sum(len(v) for v in catalog._fast_by_name.values()) <= 3


def test_an_entry_the_fast_path_cannot_read_is_left_to_the_general_path(shipped: Catalog) -> None:
    entry = dataclasses.replace(shipped.resolve("gpt-4o", "openai").model, periods=(), period_starts=())
    resolution = Resolution(entry, "no periods", 1.0, ())
    usage = TokenUsage(input_tokens=10, output_tokens=1)
    got = outcome(lambda: shipped.price_resolved(resolution, usage))
    assert got == outcome(lambda: shipped._price_resolved_general(resolution, usage))
    assert got.startswith("raised IndexError")


def test_a_per_search_fee_keeps_the_fast_path_for_calls_without_searches(shipped: Catalog) -> None:
    """Most calls run no search: an entry with a per-search fee (gpt-4o, Claude,
    Gemini) must still price them on the fast path, and a call that did search
    must still pay the fee (the general path prices it)."""
    searchable = [
        entry
        for entry in shipped.models.values()
        if len(entry.periods) == 1 and entry.periods[0].rates.per_search and entry.periods[0].plain
    ]
    assert len(searchable) > 30
    for entry in searchable:
        resolution = shipped.resolve(entry.model_id, entry.provider_id)
        if resolution.model is not entry or resolution.multiplier != 1.0 or entry.periods[0].rates.reasoning:
            continue  # (another entry wins the name, or rates the fast path leaves alone)
        assert catalog_module._fast_of(resolution)[0] is not None, entry.pricing_id
        plain_call = TokenUsage(input_tokens=1000, output_tokens=100)
        searched = TokenUsage(input_tokens=1000, output_tokens=100, web_searches=2)
        for usage in (plain_call, searched):
            for call in (shipped.price_resolved, shipped._price_resolved_general):
                assert outcome(lambda: call(resolution, usage)) == outcome(
                    lambda: shipped._price_resolved_general(resolution, usage)
                )
        fee = shipped.price_resolved(resolution, searched)
        assert fee.search_usd == pytest.approx(2 * entry.periods[0].rates.per_search)
        assert fee.total_usd == pytest.approx(shipped.price_resolved(resolution, plain_call).total_usd + fee.search_usd)
    assert catalog_module._fast_of(shipped.resolve("gpt-4o", "openai"))[0] is not None
