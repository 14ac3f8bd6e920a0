"""Cross-check: genai-cost against ``genai_prices.calc_price`` on sampled calls.

Every genai-prices model with token prices is priced at least once (plus extra
samples: dated prices around their start dates, long-context cliffs, cache
reads and 5-minute / 1-hour writes, web searches, service tiers, batch and
DeepSeek-style time windows), with genai-cost's full shipped catalog, which is
what users get: hand-curated entries win over imported ones.

Every disagreement must be explained: either the entry that priced the call is
hand-curated and listed in ``docs/pricing.md`` (with the reason ours is right),
or the difference falls in a documented class (see ``_explain``). An
unexplained difference fails the test.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

genai_prices = pytest.importorskip("genai_prices")
from genai_prices import types as gp  # noqa: E402
from genai_prices.data import providers as GP_PROVIDERS  # noqa: E402

from genai_cost.catalog_import import genai_prices_provider  # noqa: E402
from genai_cost.pricing import Catalog, PricingError, TokenUsage  # noqa: E402

SEED = 20261122
UTC = dt.timezone.utc
DOCS = Path(__file__).resolve().parents[1] / "docs" / "pricing.md"
#: After the dates genai-prices recorded its service-tier / batch variants.
TIER_EPOCH = dt.datetime(2026, 10, 15, tzinfo=UTC)

_VARIANT_CONTEXT = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
    "fast": {"service_tier": "fast"},
}


def _price_keys(model: Any) -> set[str]:
    prices = model.prices if isinstance(model.prices, list) else [gp.ConditionalPrice(prices=model.prices)]
    keys: set[str] = set()
    for cond in prices:
        keys.update(k for k, v in cond.prices.__dict__.items() if v is not None)
    return keys


def _has_tokens(model: Any) -> bool:
    return bool(_price_keys(model) & {"input_mtok", "output_mtok"})


def _unsupported(model: Any) -> bool:
    # Units the catalog does not price (left out of the import and documented).
    return bool(_price_keys(model) & {"input_image_mtok", "cache_image_read_mtok", "input_video_mtok"})


def _thresholds(model: Any) -> list[int]:
    prices = model.prices if isinstance(model.prices, list) else [gp.ConditionalPrice(prices=model.prices)]
    out = set()
    for cond in prices:
        for value in cond.prices.__dict__.values():
            if isinstance(value, gp.TieredPrices):
                out.update(t.start for t in value.tiers)
    return sorted(out)


def _dates(model: Any) -> list[dt.date]:
    if not isinstance(model.prices, list):
        return []
    return [c.constraint.start_date for c in model.prices if isinstance(c.constraint, gp.StartDateConstraint)]


def _names(model: Any) -> list[str]:
    clause = model.match
    items = clause.or_ if isinstance(clause, gp.ClauseOr) else [clause]
    return [model.id] + [c.equals for c in items if isinstance(c, gp.ClauseEquals)]


def sample_cases(rng: random.Random, per_model: int = 1) -> list[dict[str, Any]]:
    cases = []
    for provider in GP_PROVIDERS:
        for model in provider.models:
            ours = genai_prices_provider(provider.id, model.id)
            if not _has_tokens(model) or _unsupported(model):
                continue
            keys = _price_keys(model)
            variants = {
                name
                for v in model.price_variants or ()
                for name, ctx in _VARIANT_CONTEXT.items()
                if dict(v.when) == ctx
            }
            for _ in range(per_model + (1 if variants else 0) + (1 if _thresholds(model) else 0)):
                cases.append(_case(rng, provider.id, ours, model, keys, variants))
    return cases


def _case(rng: random.Random, gp_provider: str, ours: str, model: Any, keys: set[str], variants: set[str]) -> dict:
    thresholds = _thresholds(model)
    if thresholds and rng.random() < 0.5:
        threshold = rng.choice(thresholds)
        input_tokens = threshold + rng.choice([-1, 0, 1, rng.randint(2, 150_000)])
    else:
        input_tokens = rng.choice([rng.randint(1, 2_000), rng.randint(2_000, 60_000), rng.randint(60_000, 150_000)])
    cache_read = rng.randint(0, input_tokens // 2) if "cache_read_mtok" in keys and rng.random() < 0.6 else 0
    cache_write = (
        rng.randint(0, (input_tokens - cache_read) // 2) if "cache_write_mtok" in keys and rng.random() < 0.6 else 0
    )
    write_1h = rng.randint(0, cache_write) if "cache_write_1h_mtok" in keys and rng.random() < 0.5 else 0
    searches = rng.randint(1, 3) if "web_searches_kcount" in keys and rng.random() < 0.3 else 0
    output = rng.randint(0, 20_000) if "output_mtok" in keys else 0  # embeddings have no output
    dates = _dates(model)
    tier = rng.choice(sorted(variants)) if variants and rng.random() < 0.6 else None
    if tier is not None:
        start = TIER_EPOCH
        at = start + dt.timedelta(seconds=rng.randint(0, 30 * 86400))
    elif dates and rng.random() < 0.6:
        day = rng.choice(dates)
        at = dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(
            days=rng.choice([-1, 0, 0, 1, 40]), seconds=rng.randint(0, 86399)
        )
    else:
        at = dt.datetime(2024, 6, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.randint(0, 900 * 86400))
    return {
        "gp_provider": gp_provider,
        "provider": ours,
        "model": rng.choice(_names(model)),
        "gp_model_id": model.id,
        "input": input_tokens,
        "output": output,
        "cache_read": cache_read,
        "cache_write": cache_write,
        "cache_write_1h": write_1h,
        "web_searches": searches,
        "at": at,
        "tier": tier,
    }


def genai_prices_cost(case: dict[str, Any], *, searches: bool = True) -> Decimal | None:
    values = {"input_tokens": case["input"], "output_tokens": case["output"]}
    for ours, theirs in (
        ("cache_read", "cache_read_tokens"),
        ("cache_write", "cache_write_tokens"),
        ("cache_write_1h", "cache_write_1h_tokens"),
        ("web_searches", "web_searches"),
    ):
        if case[ours] and (searches or ours != "web_searches"):
            values[theirs] = case[ours]
    try:
        result = genai_prices.calc_price(
            genai_prices.Usage(**values),
            case["model"],
            provider_id=case["gp_provider"],
            genai_request_timestamp=case["at"],
            price_context=_VARIANT_CONTEXT.get(case["tier"] or ""),
        )
    except LookupError:
        return None
    return result.total_price


def our_cost(catalog: Catalog, case: dict[str, Any]) -> tuple[float | None, str, str]:
    usage = TokenUsage(
        input_tokens=case["input"],
        output_tokens=case["output"],
        cache_read_tokens=case["cache_read"],
        cache_write_tokens=case["cache_write"],
        cache_write_1h_tokens=case["cache_write_1h"],
        web_searches=case["web_searches"],
    )
    tier = case["tier"]
    try:
        resolution = catalog.resolve(case["model"], case["provider"])
        cost = catalog.price_resolved(
            resolution,
            usage,
            at=case["at"].timestamp(),
            service_tier=None if tier in (None, "batch") else tier,
            batch=tier == "batch",
        )
    except PricingError as exc:
        return None, "", exc.reason
    return cost.total_usd, cost.pricing_id, catalog.layer_of(cost.pricing_id)


def documented_ids() -> set[str]:
    """Pricing ids named in the disagreement section of docs/pricing.md and in the
    generated table docs/pricing-disagreements.md."""
    text = DOCS.read_text(encoding="utf-8").split("## Disagreements", 1)[-1]
    text += (DOCS.parent / "pricing-disagreements.md").read_text(encoding="utf-8")
    return {word.strip("`,;:.()|") for word in text.split() if word.startswith("`") and "/" in word}


def run(catalog: Catalog, cases: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    compared = 0
    differences = []
    for case in cases:
        theirs = genai_prices_cost(case)
        if theirs is None:
            continue
        ours, pricing_id, layer = our_cost(catalog, case)
        compared += 1
        expected = float(theirs)
        if ours is not None and abs(ours - expected) <= 1e-9 + 1e-9 * abs(expected):
            continue
        without_searches = float(genai_prices_cost(case, searches=False) or 0) if case["web_searches"] else None
        differences.append(
            {
                **case,
                "ours": ours,
                "theirs": expected,
                "theirs_without_searches": without_searches,
                "pricing_id": pricing_id,
                "layer": layer,
            }
        )
    return compared, differences


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 + 1e-9 * abs(b)


def _explain(diff: dict[str, Any], documented: set[str]) -> str | None:
    """Which documented class (docs/pricing.md, "Disagreements") a difference is in;
    None when it is unexplained."""
    ours = diff["ours"]
    if ours is None:
        return None
    if diff["layer"] == "curated":
        without = diff["theirs_without_searches"]
        if without is not None and _close(ours, without):
            return "curated entry has no per_search fee"
        if _bedrock_profile_class(diff):
            return _bedrock_profile_class(diff)
    if _folded_twin_history(diff):
        return "Bedrock global. twin without the regional twin's dated history"
    if diff["pricing_id"] in documented:
        return f"documented choice ({diff['layer']})"
    return None


def _folded_twin_history(diff: dict[str, Any]) -> bool:
    """genai-prices records some Bedrock price changes on the ``regional.`` twin only
    (gpt-5.6-luna / -terra: a cut on 2026-07-30); its ``global.`` twin has today's price
    at every date. The import folds the twins keeping every dated period (docs/pricing.md),
    so before the change a ``global.`` call costs the regional price / 1.1."""
    model = str(diff["model"])
    if diff["provider"] != "aws-bedrock" or not model.startswith("global.") or diff["ours"] is None:
        return False
    regional = genai_prices_cost({**diff, "model": "us." + model[len("global.") :]}, searches=True)
    return regional is not None and _close(diff["ours"] * 1.1, float(regional))


def _bedrock_profile_class(diff: dict[str, Any]) -> str | None:
    """Two documented Bedrock classes (docs/pricing.md): genai-prices prices an id
    without a profile prefix (in-region) at 1.1x and knows the ``us-gov.`` and
    ``in.`` profiles; the curated ``aws-bedrock`` rules price the former at list (but
    for models with a cheaper global profile) and do not list the latter (GovCloud has
    its own price sheet)."""
    if diff["provider"] != "aws-bedrock":
        return None
    if diff["model"].startswith(("us-gov.", "in.")) and diff["ours"] is None:
        return "Bedrock profile prefix not in the catalog"
    if (
        diff["ours"] is not None
        and not diff["model"].startswith(("us.", "eu.", "apac.", "jp.", "au.", "global."))
        and _close(diff["ours"] * 1.1, diff["theirs"])
    ):
        return "Bedrock in-region id without a profile prefix"
    return None


def _in_region_rate_entry(diff: dict[str, Any]) -> bool:
    """genai-prices' Bedrock ``openai.gpt-5.4`` / ``-5.5`` carry the in-region rate, which the
    curated rule (1.1x for in-region ids of these models) adds again when the imported file is
    priced alone. The shipped catalog prices them from curated entries at the global rate."""
    return (
        diff["provider"] == "aws-bedrock"
        and re.fullmatch(r"openai\.gpt-5\.[45]", diff["model"]) is not None
        and diff["ours"] is not None
        and _close(diff["ours"], 1.1 * diff["theirs"])
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_cross_check_against_genai_prices(catalog: Catalog) -> None:
    cases = sample_cases(random.Random(SEED))
    compared, differences = run(catalog, cases)
    assert compared >= 1000, f"only {compared} cases could be compared"
    documented = documented_ids()
    unexplained = [d for d in differences if _explain(d, documented) is None]
    reasons = Counter(_explain(d, documented) for d in differences)
    if unexplained:
        lines = [
            f"{d['provider']}/{d['model']} at {d['at']:%Y-%m-%d %H:%M} tier={d['tier']} in={d['input']} "
            f"cr={d['cache_read']} cw={d['cache_write']}/{d['cache_write_1h']} out={d['output']} "
            f"ws={d['web_searches']}: ours {d['ours']} ({d['pricing_id']}, {d['layer']}) vs genai-prices {d['theirs']}"
            for d in unexplained[:400]
        ]
        pytest.fail(f"{len(unexplained)} unexplained of {compared} compared ({dict(reasons)}):\n" + "\n".join(lines))


def test_imported_genai_prices_entries_reproduce_genai_prices() -> None:
    """The imported file alone (no curated entries) prices exactly as genai-prices:
    the import loses nothing it claims to keep (dated prices, tiers, cache write 1h,
    service tiers, batch, time windows, per-search fees)."""
    from genai_cost.pricing.diff import source_catalogs

    catalog = source_catalogs()[1]["genai-prices"]  # with the curated providers' aliases and rules
    cases = sample_cases(random.Random(SEED + 1))
    compared, differences = run(catalog, cases)
    assert compared >= 1000
    differences = [
        d
        for d in differences
        if _bedrock_profile_class(d) is None and not _in_region_rate_entry(d) and not _folded_twin_history(d)
    ]
    lines = [
        f"{d['provider']}/{d['model']} at {d['at']:%Y-%m-%d %H:%M} tier={d['tier']} in={d['input']}: "
        f"ours {d['ours']} ({d['pricing_id']}) vs genai-prices {d['theirs']}"
        for d in differences[:50]
    ]
    assert not differences, f"{len(differences)} of {compared} differ:\n" + "\n".join(lines)
