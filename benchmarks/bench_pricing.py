"""Pricing benchmark: cold start and price lookup, genai-cost vs genai-prices.

    .venv/bin/python benchmarks/bench_pricing.py [--runs 9] [--cases 2000]

1. Cold start, in fresh processes (median of ``--runs``):
   * genai-cost: ``import genai_cost`` + ``Catalog.load()`` (the whole catalog,
     ~5,600 entries) + the first ``Catalog.price()``;
   * genai-prices: ``import genai_prices``, and ``import`` + the first ``calc_price``.
   Each is timed inside the process (from before the import to after the first
   price) and as the whole process's wall time (interpreter start included).
2. Price lookup per call on the same sampled cases (genai-prices models that both
   resolve, with varied usage, times, cache and tiers): ``Catalog.price`` (model
   resolution from its cache + arithmetic) vs ``genai_prices.calc_price``, and the
   span hot path (``Catalog.price_resolved``). The sides alternate in rounds; in
   each round each side makes one untimed pass over the cases, then a timed one
   (so that no side is timed on caches just filled by the other's data).

Prints medians and ratios; goals: cold start below ``import genai_prices``,
lookup at least 20x faster.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import subprocess
import sys
import time
from typing import Any

COLD_GENAI_COST = """
import time
t0 = time.perf_counter()
import genai_cost
t1 = time.perf_counter()
catalog = genai_cost.Catalog.load()
cost = catalog.price(genai_cost.TokenUsage(input_tokens=1200, output_tokens=300), "gpt-4o", "openai")
t2 = time.perf_counter()
print(t1 - t0, t2 - t0, catalog.model_count)
"""

COLD_GENAI_PRICES = """
import time, datetime
t0 = time.perf_counter()
import genai_prices
t1 = time.perf_counter()
genai_prices.calc_price(genai_prices.Usage(input_tokens=1200, output_tokens=300), "gpt-4o", provider_id="openai")
t2 = time.perf_counter()
print(t1 - t0, t2 - t0, 0)
"""


def cold(script: str, runs: int) -> dict[str, float]:
    imports, firsts, walls = [], [], []
    count = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
        walls.append(time.perf_counter() - start)
        first_import, first_price, count_text = out.split()
        imports.append(float(first_import))
        firsts.append(float(first_price))
        count = float(count_text)
    return {
        "import_ms": statistics.median(imports) * 1e3,
        "first_price_ms": statistics.median(firsts) * 1e3,
        "process_ms": statistics.median(walls) * 1e3,
        "models": count,
    }


def sample_cases(count: int) -> list[dict[str, Any]]:
    from genai_prices.data import providers

    from genai_cost.catalog_import import genai_prices_provider

    rng = random.Random(7)
    pool = []
    for provider in providers:
        for model in provider.models:
            prices = model.prices if isinstance(model.prices, list) else [model.prices]
            keys = {k for p in prices for k, v in getattr(p, "prices", p).__dict__.items() if v is not None}
            if {"input_mtok", "output_mtok"} <= keys and not keys & {"input_image_mtok", "input_video_mtok"}:
                pool.append((provider.id, genai_prices_provider(provider.id, model.id), model.id, keys))
    cases = []
    for _ in range(count):
        gp_provider, provider, model, keys = rng.choice(pool)
        input_tokens = rng.randint(100, 150_000)
        cases.append(
            {
                "gp_provider": gp_provider,
                "provider": provider,
                "model": model,
                "input": input_tokens,
                "output": rng.randint(10, 5_000),
                "cache_read": rng.randint(0, input_tokens // 2) if "cache_read_mtok" in keys else 0,
                "at": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
                + dt.timedelta(seconds=rng.randint(0, 600 * 86400)),
            }
        )
    return cases


def lookups(cases: list[dict[str, Any]], repeats: int) -> dict[str, float]:
    import genai_prices

    from genai_cost.pricing import Catalog, PricingError, TokenUsage

    catalog = Catalog.load()
    ours = []
    theirs = []
    for case in cases:
        try:
            catalog.resolve(case["model"], case["provider"])
            genai_prices.calc_price(
                genai_prices.Usage(input_tokens=1, output_tokens=1), case["model"], provider_id=case["gp_provider"]
            )
        except (PricingError, LookupError):
            continue
        usage = TokenUsage(
            input_tokens=case["input"], output_tokens=case["output"], cache_read_tokens=case["cache_read"]
        )
        ours.append((usage, case["model"], case["provider"], case["at"].timestamp()))
        gp_usage = genai_prices.Usage(
            input_tokens=case["input"], output_tokens=case["output"], cache_read_tokens=case["cache_read"] or None
        )
        theirs.append((gp_usage, case["model"], case["gp_provider"], case["at"]))
    price = catalog.price
    calc = genai_prices.calc_price
    resolved = [(catalog.resolve(m, p), u, at) for u, m, p, at in ours]
    price_resolved = catalog.price_resolved

    def run_ours() -> None:
        for usage, model, provider, at in ours:
            price(usage, model, provider, at=at)

    def run_theirs() -> None:
        for gp_usage, model, provider, at_dt in theirs:
            calc(gp_usage, model, provider_id=provider, genai_request_timestamp=at_dt)

    def run_hot() -> None:
        # the span hot path: an already-resolved entry, counts already validated
        for resolution, usage, at in resolved:
            price_resolved(resolution, usage, at=at, check=False)

    def timed(run: Any, count: int) -> float:
        # One untimed pass first, for each side alike: the passes alternate, so
        # without it a side's timed pass would start on caches the other side's
        # pass has just filled with its own data (a cost of this harness, not of
        # the library; ~0.5 us a call for genai-cost after ~55 ms of genai-prices).
        run()
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) / count

    ours_times, theirs_times, hot = [], [], []
    for _ in range(repeats):
        ours_times.append(timed(run_ours, len(ours)))
        theirs_times.append(timed(run_theirs, len(theirs)))
        hot.append(timed(run_hot, len(resolved)))
    return {
        "cases": float(len(ours)),
        "genai_cost_us": statistics.median(ours_times) * 1e6,
        "genai_cost_hot_path_us": statistics.median(hot) * 1e6,
        "genai_prices_us": statistics.median(theirs_times) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per cold-start figure")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    ours = cold(COLD_GENAI_COST, args.runs)
    theirs = cold(COLD_GENAI_PRICES, args.runs)
    print(f"cold start (median of {args.runs} fresh processes)")
    print(
        f"  genai-cost   import {ours['import_ms']:7.1f} ms | import + load {ours['models']:.0f} entries + first price "
        f"{ours['first_price_ms']:7.1f} ms | whole process {ours['process_ms']:7.1f} ms"
    )
    print(
        f"  genai-prices import {theirs['import_ms']:7.1f} ms | import + first calc_price          "
        f"{theirs['first_price_ms']:7.1f} ms | whole process {theirs['process_ms']:7.1f} ms"
    )
    print(
        f"  ratio: genai-cost first price / import genai_prices = {ours['first_price_ms'] / theirs['import_ms']:.2f} "
        f"(goal < 1); / genai-prices first price = {ours['first_price_ms'] / theirs['first_price_ms']:.2f}"
    )
    result = lookups(sample_cases(args.cases), args.repeats)
    print(f"price lookup per call ({result['cases']:.0f} cases, median of {args.repeats} passes)")
    print(f"  genai-cost   Catalog.price            {result['genai_cost_us']:8.2f} us")
    print(f"  genai-cost   price_resolved (span)    {result['genai_cost_hot_path_us']:8.2f} us")
    print(f"  genai-prices calc_price               {result['genai_prices_us']:8.2f} us")
    print(
        f"  ratio: {result['genai_prices_us'] / result['genai_cost_us']:.1f}x faster (Catalog.price), "
        f"{result['genai_prices_us'] / result['genai_cost_hot_path_us']:.1f}x (span hot path); goal >= 20x"
    )


if __name__ == "__main__":
    main()
