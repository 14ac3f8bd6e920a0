"""The pricing catalog: compiled entries and deterministic model resolution.

Resolution rules, in order, each recorded in :attr:`Resolution.how` so that
``genai-cost price --explain`` can say why an entry matched:

1. the provider name is normalised through the aliases in the catalog
   (``az.ai.openai`` -> ``azure``, ``Anthropic`` -> ``anthropic``); framework
   names (``langchain``, ``gcp.vertex.agent``) are not providers;
2. the model name is lower-cased; an ARN keeps its last path segment; a known
   provider prefix (``openai/gpt-4o``, ``models/gemini-2.5-pro``) is stripped
   and, when the span named no provider, names it; a regional inference-profile
   prefix (Bedrock ``us.``) is stripped and its multiplier remembered;
3. within a provider: an exact name, then the name without a date suffix
   (``gpt-4o-2024-08-06``), then the longest prefix rule, then regex rules;
4. a provider without an entry falls back to the providers it serves models
   of (Azure -> OpenAI, Bedrock -> Anthropic, with ``anthropic.`` and ``-v1:0``
   removed);
5. with no provider on the span, every provider is searched; the best-priority
   match wins and a tie between two providers is reported as ambiguous.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import calc
from .errors import AmbiguousModelError, CatalogError, PricingError, UnknownModelError
from .files import read_pricing_file
from .model import (
    PER_MILLION,
    ContextTier,
    CostBreakdown,
    DailyWindow,
    ModelPricing,
    Period,
    Rates,
    TierRule,
    TokenUsage,
    ToolPricing,
)
from .schema import RATE_FIELDS, ModelEntry, PricePeriod, PricingFile, ProviderEntry, RateSet, ToolEntry

#: ``gen_ai.system`` values that name an agent framework, not who was paid.
FRAMEWORK_NAMES = frozenset(
    {
        "langchain",
        "langgraph",
        "openai_agents",
        "openai-agents",
        "crewai",
        "gcp.vertex.agent",
        "llama_index",
        "llamaindex",
        "pydantic_ai",
        "pydantic-ai",
        "autogen",
        "haystack",
        "dspy",
        "agno",
        "semantic_kernel",
    }
)

_DATE_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8})$")
_VERSION_SUFFIX = re.compile(r"-v\d+(:\d+)?$")
_CACHE_LIMIT = 8192

#: A model's match rule: (exact names, prefixes, regexes).
_Rule = tuple[list[str], list[str], list[str]]


@dataclass(frozen=True, slots=True)
class Resolution:
    """Which catalog entry prices a (provider, model) pair, and why."""

    model: ModelPricing
    how: str
    #: Regional uplift times negotiated discount; 1.0 for list price.
    multiplier: float
    adjustments: tuple[str, ...]


@dataclass(slots=True)
class _ProviderIndex:
    entry_id: str
    priority: int
    prefixes: tuple[str, ...]
    fallbacks: tuple[str, ...]
    regional: tuple[tuple[str, float], ...]
    exact: dict[str, list[ModelPricing]]
    by_prefix: list[tuple[str, ModelPricing]]
    by_regex: list[tuple[re.Pattern[str], ModelPricing]]


class Catalog:
    """An immutable, compiled set of prices. Safe to share between threads.

    Build one with :meth:`load` (files) or :meth:`default` (the shipped catalog
    plus ``GENAI_COST_PRICING_FILE`` is the span layer's business, not ours).
    """

    def __init__(
        self,
        files: Sequence[tuple[PricingFile, str, bool]],
        *,
        version: str = "unversioned",
    ) -> None:
        """``files`` are (parsed file, label, is_override), lowest precedence first."""
        self.version = version
        self.sources = tuple(label for _, label, _ in files)
        self._providers: dict[str, _ProviderIndex] = {}
        self._aliases: dict[str, str] = {}
        self._tools: dict[str, ToolPricing] = {}
        self._discounts: dict[tuple[str, str | None], float] = {}
        self._models: dict[str, ModelPricing] = {}
        self._compile(files)
        self._cache: dict[tuple[str | None, str], Resolution | PricingError] = {}
        self._cache_lock = threading.Lock()

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        paths: Iterable[str | Path] = (),
        *,
        include_default: bool = True,
    ) -> Catalog:
        """The shipped catalog (unless ``include_default=False``) overlaid with
        ``paths`` in order; a later file overrides an earlier one's entries.

        Every broken file is reported, not just the first.
        """
        problems: list[str] = []
        files: list[tuple[PricingFile, str, bool]] = []
        version = "unversioned"
        if include_default:
            directory = default_pricing_dir()
            version = _read_version(directory)
            for path in _catalog_files(directory):
                try:
                    files.append((read_pricing_file(path), f"catalog:{path.relative_to(directory)}", False))
                except CatalogError as exc:
                    problems.extend(exc.problems)
        for raw in paths:
            path = Path(raw)
            candidates = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
            for candidate in candidates:
                try:
                    files.append((read_pricing_file(candidate), str(candidate), True))
                except CatalogError as exc:
                    problems.extend(exc.problems)
        if problems:
            raise CatalogError(problems)
        return cls(files, version=version)

    def _compile(self, files: Sequence[tuple[PricingFile, str, bool]]) -> None:
        merged: dict[str, dict[str, tuple[ModelPricing, _Rule]]] = {}
        meta: dict[str, ProviderEntry] = {}
        problems: list[str] = []
        for parsed, label, is_override in files:
            for provider in parsed.providers:
                meta[provider.id] = _merge_provider_meta(meta.get(provider.id), provider)
                models = merged.setdefault(provider.id, {})
                for entry in provider.models:
                    models[entry.id.lower()] = _compile_model(provider.id, entry, label, is_override)
            for tool in parsed.tools:
                compiled = _compile_tool(tool, label, is_override)
                for name in (tool.name, *tool.aliases):
                    self._tools[name.lower()] = compiled
            for discount in parsed.discounts:
                key = (discount.provider.lower(), discount.model.lower() if discount.model else None)
                self._discounts[key] = 1.0 - discount.percent / 100.0
        for provider_id, provider in meta.items():
            for fallback in provider.fallbacks:
                if fallback not in meta:
                    problems.append(f"provider {provider_id}: fallback {fallback!r} is not a provider in the catalog")
            index = _ProviderIndex(
                entry_id=provider_id,
                priority=provider.priority,
                prefixes=tuple(p.lower() for p in provider.model_prefixes),
                fallbacks=tuple(provider.fallbacks),
                regional=tuple(sorted(provider.regional_prefixes.items(), key=lambda kv: -len(kv[0]))),
                exact={},
                by_prefix=[],
                by_regex=[],
            )
            for model, rule in merged.get(provider_id, {}).values():
                self._models[model.pricing_id] = model
                self._index_model(index, model, rule)
            index.by_prefix.sort(key=lambda item: -len(item[0]))
            self._providers[provider_id] = index
            for alias in (provider_id, *provider.aliases):
                self._aliases[alias.lower()] = provider_id
        if problems:
            raise CatalogError(problems)

    @staticmethod
    def _index_model(index: _ProviderIndex, model: ModelPricing, rule: _Rule) -> None:
        exact, prefix, regex = rule
        for name in {model.model_id.lower(), *(n.lower() for n in exact)}:
            bucket = index.exact.setdefault(name, [])
            if model not in bucket:
                bucket.append(model)
        for name in prefix:
            index.by_prefix.append((name.lower(), model))
        for pattern in regex:
            index.by_regex.append((re.compile(pattern, re.IGNORECASE), model))

    # -------------------------------------------------------------- queries

    @property
    def models(self) -> dict[str, ModelPricing]:
        """Every entry, by pricing id (``openai/gpt-4o``)."""
        return dict(self._models)

    @property
    def tools(self) -> dict[str, ToolPricing]:
        return dict(self._tools)

    def tool(self, name: str) -> ToolPricing | None:
        return self._tools.get(name.lower())

    def provider_id(self, raw: str | None) -> str | None:
        """Canonical provider id for a span's provider name, ``None`` when the
        value names no provider (empty, or a framework)."""
        if not raw:
            return None
        name = raw.strip().lower()
        if not name or name in FRAMEWORK_NAMES:
            return None
        found = self._aliases.get(name)
        if found is not None:
            return found
        if "." in name:  # Vercel AI SDK: "openai.chat", "anthropic.messages"
            return self._aliases.get(name.split(".", 1)[0])
        return None

    def resolve(self, model: str, provider: str | None = None) -> Resolution:
        """The entry that prices ``model`` served by ``provider``.

        Raises :class:`UnknownModelError` or :class:`AmbiguousModelError`.
        Results (errors included) are cached: resolution runs once per distinct
        pair, not once per span.
        """
        key = (provider, model)
        hit = self._cache.get(key)
        if hit is None:
            try:
                hit = self._resolve(model, provider)
            except PricingError as exc:
                hit = exc
            with self._cache_lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = hit
        if isinstance(hit, PricingError):
            raise hit
        return hit

    def price(
        self,
        usage: TokenUsage,
        model: str,
        provider: str | None = None,
        *,
        at: dt.datetime | float | None = None,
        service_tier: str | None = None,
        batch: bool = False,
    ) -> CostBreakdown:
        """Price one call. ``at`` (a datetime or UNIX seconds) picks the price in
        force then; ``None`` means the newest price."""
        resolution = self.resolve(model, provider)
        return self.price_resolved(resolution, usage, at=_timestamp(at), service_tier=service_tier, batch=batch)

    def price_resolved(
        self,
        resolution: Resolution,
        usage: TokenUsage,
        *,
        at: float | None = None,
        service_tier: str | None = None,
        batch: bool = False,
        check: bool = True,
    ) -> CostBreakdown:
        entry = resolution.model
        period = calc.period_at(entry, at)
        rates, notes = calc.effective_rates(
            period, usage, at=at, service_tier=service_tier, batch=batch, multiplier=resolution.multiplier
        )
        return calc.cost_of(
            rates,
            usage,
            check=check,
            pricing_id=entry.pricing_id,
            effective_from=period.start_label,
            adjustments=resolution.adjustments + notes if notes else resolution.adjustments,
        )

    # ---------------------------------------------------------- resolution

    def _resolve(self, model: str, provider: str | None) -> Resolution:
        name = model.strip().lower()
        if not name:
            raise UnknownModelError("the span names no model")
        if name.startswith("arn:"):
            name = name.rsplit("/", 1)[-1]
        provider_id = self.provider_id(provider)
        if provider and provider_id is None and provider.strip().lower() not in FRAMEWORK_NAMES:
            raise UnknownModelError(
                f"provider {provider!r} is not in the pricing catalog; add it in a pricing file",
                reason="unknown_provider",
            )
        how: list[str] = []
        if "/" in name:
            head, tail = name.split("/", 1)
            named = self._aliases.get(head)
            if named is not None and (provider_id is None or provider_id == named or provider_id in FRAMEWORK_NAMES):
                how.append(f"prefix {head + '/'!r} names provider {named}")
                provider_id, name = named, tail
        if provider_id is not None:
            return self._resolve_in_chain(name, provider_id, how)
        return self._resolve_anywhere(name, model, how)

    def _resolve_in_chain(self, name: str, provider_id: str, how: list[str]) -> Resolution:
        index = self._providers[provider_id]
        name = _strip_prefixes(name, index.prefixes)
        multiplier = 1.0
        adjustments: list[str] = []
        for prefix, factor in index.regional:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                multiplier *= factor
                adjustments.append(f"region={prefix.rstrip('.')}x{factor:g}")
                how.append(f"regional prefix {prefix!r} (x{factor:g})")
                break
        chain = [provider_id]
        for candidate in chain:
            for fallback in self._providers[candidate].fallbacks:
                if fallback not in chain:
                    chain.append(fallback)
        for position, candidate in enumerate(chain):
            variants = [name]
            if position > 0:
                variants += _fallback_variants(name, candidate)
            for variant in variants:
                found = self._match_in(self._providers[candidate], variant)
                if found is None:
                    continue
                entry, rule = found
                if position > 0:
                    how.append(f"{provider_id} has no entry; served models of {candidate}")
                how.append(rule)
                factor, discount_note = self._discount(provider_id, entry)
                if discount_note:
                    adjustments.append(discount_note)
                return Resolution(entry, "; ".join(how), multiplier * factor, tuple(adjustments))
        raise UnknownModelError(f"model {name!r} is not in the pricing catalog for provider {provider_id}")

    def _resolve_anywhere(self, name: str, original: str, how: list[str]) -> Resolution:
        best: list[tuple[int, ModelPricing, str]] = []
        for index in sorted(self._providers.values(), key=lambda p: (p.priority, p.entry_id)):
            if best and index.priority > best[0][0]:
                break
            found = self._match_in(index, _strip_prefixes(name, index.prefixes))
            if found is not None:
                best.append((index.priority, found[0], found[1]))
        if not best:
            raise UnknownModelError(f"model {original!r} is not in the pricing catalog (no provider on the span)")
        distinct = {entry.pricing_id for _, entry, _ in best}
        if len(distinct) > 1:
            raise AmbiguousModelError(
                f"model {original!r} matches {', '.join(sorted(distinct))}; set gen_ai.provider.name on the span"
            )
        _, entry, rule = best[0]
        how.append(f"no provider on the span; {rule}")
        factor, note = self._discount(entry.provider_id, entry)
        return Resolution(entry, "; ".join(how), factor, (note,) if note else ())

    def _match_in(self, index: _ProviderIndex, name: str) -> tuple[ModelPricing, str] | None:
        candidates = index.exact.get(name)
        rule = f"exact name {name!r} in {index.entry_id}"
        if candidates is None:
            undated = _DATE_SUFFIX.sub("", name)
            if undated != name:
                candidates = index.exact.get(undated)
                rule = f"dated snapshot of {undated!r} in {index.entry_id}"
        if candidates is not None:
            if len(candidates) > 1:
                ids = ", ".join(sorted(c.pricing_id for c in candidates))
                raise AmbiguousModelError(f"model {name!r} matches several entries: {ids}")
            return candidates[0], rule
        for prefix, entry in index.by_prefix:
            if name.startswith(prefix):
                return entry, f"prefix {prefix!r} of {entry.pricing_id}"
        for pattern, entry in index.by_regex:
            if pattern.fullmatch(name):
                return entry, f"pattern {pattern.pattern!r} of {entry.pricing_id}"
        return None

    def _discount(self, provider_id: str, entry: ModelPricing) -> tuple[float, str]:
        factor = self._discounts.get((provider_id, entry.model_id.lower()))
        if factor is None:
            factor = self._discounts.get((provider_id, None))
        if factor is None and provider_id != entry.provider_id:
            factor = self._discounts.get((entry.provider_id, None))
        if factor is None:
            return 1.0, ""
        return factor, f"discount={round((1 - factor) * 100, 4):g}%"


# --------------------------------------------------------------- compilation


def default_pricing_dir() -> Path:
    """The shipped catalog: inside the installed package, or the repo's ``pricing/``."""
    packaged = Path(__file__).resolve().parent.parent / "_catalog"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "pricing"


def _catalog_files(directory: Path) -> list[Path]:
    """Imported data first, hand-curated files after: curated entries win."""
    if not directory.is_dir():
        raise CatalogError([f"{directory}: the pricing catalog directory is missing"])
    imported = sorted((directory / "imported").glob("*.y*ml")) if (directory / "imported").is_dir() else []
    curated = sorted(p for p in directory.glob("*.y*ml"))
    return imported + curated


def _read_version(directory: Path) -> str:
    try:
        return (directory / "VERSION").read_text(encoding="utf-8").strip() or "unversioned"
    except OSError:
        return "unversioned"


def _merge_provider_meta(old: ProviderEntry | None, new: ProviderEntry) -> ProviderEntry:
    if old is None:
        return new
    return old.model_copy(
        update={
            "name": new.name or old.name,
            "aliases": _union(old.aliases, new.aliases),
            "model_prefixes": _union(old.model_prefixes, new.model_prefixes),
            "fallbacks": _union(old.fallbacks, new.fallbacks),
            "regional_prefixes": {**old.regional_prefixes, **new.regional_prefixes},
            "priority": min(old.priority, new.priority),
            "models": [],
        }
    )


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _compile_model(provider_id: str, entry: ModelEntry, label: str, is_override: bool) -> tuple[ModelPricing, _Rule]:
    periods = tuple(_compile_period(p) for p in entry.prices)
    compiled = ModelPricing(
        pricing_id=f"{provider_id}/{entry.id}",
        provider_id=provider_id,
        model_id=entry.id,
        kind=entry.kind,
        origin=entry.origin,
        defined_in=label,
        is_override=is_override,
        periods=periods,
        period_starts=tuple(p.start for p in periods),
    )
    rule = entry.match
    return compiled, ((list(rule.exact), list(rule.prefix), list(rule.regex)) if rule else ([], [], []))


def _compile_rates(rates: RateSet) -> Rates:
    values: dict[str, float | None] = {}
    for name in RATE_FIELDS:
        value = getattr(rates, name)
        values[name] = None if value is None else value / PER_MILLION
    values["per_request"] = rates.per_request
    return Rates(**values)


def _compile_period(period: PricePeriod) -> Period:
    start = period.effective_from
    if start is None:
        start_ts, label = float("-inf"), "initial"
    else:
        start_ts, label = _timestamp(start) or 0.0, start.isoformat()
    return Period(
        start=start_ts,
        start_label=label,
        rates=_compile_rates(period),
        long_context=tuple(
            sorted(
                (ContextTier(t.above_input_tokens, _compile_rates(t)) for t in period.long_context),
                key=lambda t: -t.above_input_tokens,
            )
        ),
        service_tiers={
            name.lower(): TierRule(_compile_rates(tier), tier.multiplier) for name, tier in period.service_tiers.items()
        },
        windows=tuple(
            DailyWindow(_minutes(w.start), _minutes(w.end), TierRule(_compile_rates(w), w.multiplier))
            for w in period.time_windows
        ),
        source=period.source,
        checked=period.checked.isoformat(),
    )


def _compile_tool(tool: ToolEntry, label: str, is_override: bool) -> ToolPricing:
    return ToolPricing(
        name=tool.name,
        category=tool.category,
        per_call=tool.per_call,
        per_unit=tool.per_unit,
        unit_attribute=tool.unit_attribute,
        unit_name=tool.unit_name,
        source=tool.source,
        checked=tool.checked.isoformat(),
        defined_in=label,
        is_override=is_override,
    )


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _timestamp(value: dt.datetime | dt.date | float | None) -> float | None:
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.timestamp()
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()


def _strip_prefixes(name: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _fallback_variants(name: str, provider_id: str) -> list[str]:
    """Names a reseller gives a model, turned back into the maker's name:
    ``anthropic.claude-sonnet-4-5-20250929-v1:0`` -> ``claude-sonnet-4-5-20250929``."""
    variants = []
    stripped = name
    if stripped.startswith(provider_id + "."):
        stripped = stripped[len(provider_id) + 1 :]
    stripped = _VERSION_SUFFIX.sub("", stripped)
    if stripped != name:
        variants.append(stripped)
    return variants
