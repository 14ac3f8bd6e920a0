"""Where the catalog's sources disagree, and what the catalog chose.

Each source (the hand-curated files, each imported dataset) is loaded on its
own; every model name any of them knows is resolved in each, and the newest
rates of the entries found are compared class by class. The full catalog's
resolution of the same name says which one wins (curated > genai-prices >
LiteLLM, see :data:`~genai_cost.pricing.catalog.IMPORT_ORDER`).
"""

from __future__ import annotations

from typing import Any

from . import compiled
from .catalog import Catalog, catalog_files, default_pricing_dir, read_file_ir
from .errors import PricingError
from .model import TokenUsage

COMPARED = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
#: Reference calls priced with each source's entry, so that long-context tiers
#: and fees are compared too (name -> usage).
REFERENCE_CALLS = {
    "call_100k_half_cached": TokenUsage(input_tokens=100_000, output_tokens=1_000, cache_read_tokens=50_000),
    "call_100k_20k_cache_write": TokenUsage(input_tokens=100_000, output_tokens=1_000, cache_write_tokens=20_000),
    "long_context_300k": TokenUsage(input_tokens=300_000, output_tokens=2_000),
    "long_context_1m": TokenUsage(input_tokens=1_000_000, output_tokens=2_000),
}


def source_catalogs() -> tuple[Catalog, dict[str, Catalog]]:
    """The full shipped catalog, and one catalog per source (``curated``, ``genai-prices``...)."""
    directory = default_pricing_dir()
    snapshot = compiled.read_snapshot(directory)
    groups: dict[str, list[tuple[dict[str, Any], str, bool]]] = {}
    for path in catalog_files(directory):
        name = path.relative_to(directory).as_posix()
        source = path.stem if name.startswith("imported/") else "curated"
        groups.setdefault(source, []).append((read_file_ir(path, snapshot.get(name)), f"catalog:{name}", False))
    curated = groups.get("curated", [])
    per_source = {}
    for source, files in groups.items():
        # Curated provider metadata (aliases, fallbacks) applies to every source;
        # the curated models themselves only to the curated one.
        meta_only = [
            ({**ir, "providers": [{**p, "models": []} for p in ir["providers"]]}, label, is_override)
            for ir, label, is_override in curated
        ]
        per_source[source] = Catalog([*meta_only, *files] if source != "curated" else files)
    return Catalog.load(), per_source


def disagreements(*, provider: str | None = None, tolerance: float = 0.005) -> list[dict[str, Any]]:
    full, sources = source_catalogs()
    names: set[tuple[str, str]] = set()
    for catalog in sources.values():
        for pricing_id in catalog.pricing_ids():  # every entry of that source
            provider_id, model_id = pricing_id.split("/", 1)
            if provider is None or provider_id == (full.provider_id(provider) or provider):
                names.add((provider_id, model_id))
    rows: list[dict[str, Any]] = []
    for provider_id, model_id in sorted(names):
        found: dict[str, tuple[str, Any, Any]] = {}
        for source, catalog in sources.items():
            try:
                resolution = catalog.resolve(model_id, provider_id)
            except (PricingError, KeyError):
                continue
            rates = resolution.model.periods[-1].rates
            if resolution.multiplier != 1.0:
                rates = rates.scaled(resolution.multiplier, resolution.fee_multiplier)  # regional uplift, discount
            found[source] = (resolution.model.pricing_id, rates, resolution)
        if len(found) < 2:
            continue
        try:
            chosen = full.resolve(model_id, provider_id).model
        except PricingError as exc:
            chosen_label, why, chosen_id = "none", f"unresolved: {exc.reason}", ""
        else:
            chosen_label = chosen.origin
            chosen_id = chosen.pricing_id
            why = f"{chosen.pricing_id} ({full.layer_of(chosen.pricing_id)})"
        comparisons: list[tuple[str, dict[str, float]]] = []
        for rate in COMPARED:
            comparisons.append(
                (
                    rate,
                    {
                        source: round(value * 1e6, 9)
                        for source, (_, rates, _) in sorted(found.items())
                        if (value := getattr(rates, rate)) is not None
                    },
                )
            )
        for label, usage in REFERENCE_CALLS.items():
            totals = {}
            for source, (_, _, resolution) in sorted(found.items()):
                try:
                    totals[source] = round(sources[source].list_price(resolution, usage).total_usd, 9)
                except PricingError:
                    continue
            comparisons.append((label + "_usd", totals))
        for rate, values in comparisons:
            if len(values) < 2:
                continue
            low, high = min(values.values()), max(values.values())
            if high - low <= tolerance * max(high, 1e-12):
                continue
            rows.append(
                {
                    "provider": provider_id,
                    "model": model_id,
                    "rate": rate,
                    "values": values,
                    "entries": {source: pricing_id for source, (pricing_id, _, _) in sorted(found.items())},
                    "chosen": chosen_label,
                    "chosen_id": chosen_id,
                    "why": why,
                }
            )
    return rows
