"""Importing public price datasets into the shipped catalog: maintainer tooling.

Not part of the pricing core (:mod:`genai_cost.pricing`), which only reads catalog
files: this module turns a dataset into them, and imports the dataset's own package.

``genai-cost pricing import --from genai-prices PATH`` and ``--from litellm PATH``
write ``pricing/imported/genai-prices.yaml`` and ``pricing/imported/litellm.yaml``.
The output is deterministic for a given dataset and ``checked`` date, so
re-running an import shows exactly what upstream changed (``git diff``).

Every entry keeps where it came from (``origin``, ``source`` naming the dataset,
its version and the provider's pricing page) and when it was checked. What a
dataset can say that the catalog cannot is listed in the file header (e.g.
per-hour audio prices), never silently mis-priced.

Provider ids are mapped onto the catalog's (``aws`` -> ``aws-bedrock``,
``bedrock_converse`` -> ``aws-bedrock``, ``gemini`` -> ``google``, ...).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any

import yaml

from .pricing.files import PricingYamlLoader

# ----------------------------------------------------------------- providers

#: Dataset provider id -> catalog provider id.
GENAI_PRICES_PROVIDERS = {"aws": "aws-bedrock"}

LITELLM_PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure",
    "azure_text": "azure",
    "azure_ai": "azure",
    "bedrock": "aws-bedrock",
    "bedrock_converse": "aws-bedrock",
    "gemini": "google",
    "vertex_ai": "google-vertex",
    "anthropic": "anthropic",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "fireworks_ai-embedding-models": "fireworks",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
    "cohere_chat": "cohere",
    "moonshot": "moonshotai",
    "voyage": "voyageai",
    "github_copilot": "github-copilot",
    "meta_llama": "meta",
}

#: Extra names spans use for a provider (``gen_ai.provider.name`` values, LiteLLM
#: route prefixes). Curated files add their own; these are for imported providers.
PROVIDER_ALIASES: dict[str, list[str]] = {
    "x-ai": ["xai", "x_ai", "x.ai"],
    "mistral": ["mistral_ai", "mistralai", "codestral"],
    "together": ["together_ai", "togetherai", "together.ai"],
    "fireworks": ["fireworks_ai", "fireworks-ai", "fireworksai"],
    "moonshotai": ["moonshot_ai", "moonshot", "kimi"],
    "voyageai": ["voyage", "voyage_ai"],
    "github-copilot": ["github_copilot"],
    "meta": ["meta_llama", "meta-llama", "llama_api"],
    "cohere": ["cohere_chat"],
    "deepseek": ["deepseek", "deepseek_ai"],
    "perplexity": ["perplexity", "perplexity_ai"],
    "groq": ["groq"],
    "zai": ["z_ai", "z-ai", "zhipu"],
    "watsonx": ["ibm.watsonx.ai", "ibm", "watsonx"],
    "cloudflare": ["cloudflare", "workers-ai", "workers_ai"],
    "openrouter": ["openrouter"],
    "novita": ["novita", "novita_ai"],
}

#: Model makers: a span naming no provider resolves to them before resellers.
FIRST_PARTY = {
    "deepseek": 20,
    "mistral": 20,
    "x-ai": 20,
    "cohere": 20,
    "moonshotai": 20,
    "zai": 20,
    "minimax": 20,
    "meta": 20,
    "perplexity": 20,
    "voyageai": 20,
    "ai21": 20,
}

#: Curated provider ids: their metadata (aliases, fallbacks...) lives in the curated files.
CURATED_PROVIDERS = frozenset({"openai", "anthropic", "google", "azure", "aws-bedrock", "google-vertex"})


def genai_prices_provider(provider_id: str, model_id: str = "") -> str:
    """The catalog provider of a genai-prices model. Its ``google`` provider also
    lists Claude on Vertex AI: those are Vertex offers (``google-vertex``), not
    Gemini API ones."""
    if provider_id == "google" and model_id.lower().startswith("claude"):
        return "google-vertex"
    return GENAI_PRICES_PROVIDERS.get(provider_id, _canonical(provider_id))


def _canonical(provider_id: str) -> str:
    text = provider_id.strip().lower().replace(" ", "-")
    text = re.sub(r"[^a-z0-9_.-]", "-", text)
    return text if re.match(r"^[a-z0-9]", text) else "p" + text


# --------------------------------------------------------------------- output


@dataclass
class ImportedModel:
    provider: str
    id: str
    kind: str
    periods: list[dict[str, Any]]
    exact: list[str] = field(default_factory=list)
    prefix: list[str] = field(default_factory=list)
    regex: list[str] = field(default_factory=list)
    name: str | None = None


@dataclass
class ImportResult:
    dataset: str
    version: str
    checked: dt.date
    models: list[ImportedModel]
    provider_names: dict[str, str] = field(default_factory=dict)
    provider_urls: dict[str, str] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    ignored_price_keys: Counter[str] = field(default_factory=Counter)
    #: Entries imported at $0 because the dataset marks them free, by reason.
    free: Counter[str] = field(default_factory=Counter)

    def render(self) -> str:
        """The catalog file, as YAML (one flow-style mapping per price period)."""
        return self.to_file().render()

    def to_file(self) -> ImportFile:
        """The file this import writes, as data: each period tidied (once: :func:`_tidy` is
        not idempotent), the provider fields the catalog needs beside the curated files'."""
        models = [replace(model, periods=[_tidy(period) for period in model.periods]) for model in self.models]
        providers = {model.provider: self._provider_fields(model.provider) for model in self.models}
        return ImportFile(self._header(), self.dataset, f"{self.dataset} {self.version}", providers, models)

    def _header(self) -> list[str]:
        """The comment lines that say where the file comes from and what it leaves out."""
        out = [
            f"# GENERATED by `genai-cost pricing import --from {self.dataset}` from {self.dataset} {self.version}.",
            "# Do not edit by hand: put corrections in a curated file (pricing/<provider>.yaml), which wins",
            "# over imported entries, and re-run the import to refresh this file.",
            f"# {len(self.models)} models from {len(count_by_provider(self.models))} providers;"
            f" checked {self.checked.isoformat()}.",
        ]
        if self.skipped:
            out.append("# Not imported (the catalog prices tokens of chat, completion and embedding models):")
            out.extend(f"#   {reason}: {count}" for reason, count in sorted(self.skipped.items()))
        if self.free:
            out.append("# Imported at $0 (every other all-zero or price-less entry is left out: unknown, not $0):")
            out.extend(f"#   {reason}: {count}" for reason, count in sorted(self.free.items()))
        if self.ignored_price_keys:
            out.append("# Upstream price keys the catalog does not model (left out of the entries below):")
            out.extend(f"#   {key}: {count}" for key, count in sorted(self.ignored_price_keys.items()))
        return out

    def _provider_fields(self, provider: str) -> dict[str, Any]:
        """What the file says of a provider besides its models; a curated provider's fields
        (aliases, fallbacks...) live in its curated file."""
        if provider in CURATED_PROVIDERS:
            return {}
        fields: dict[str, Any] = {}
        if self.provider_names.get(provider):
            fields["name"] = self.provider_names[provider]
        fields["aliases"] = sorted({provider, *PROVIDER_ALIASES.get(provider, [])})
        if provider in FIRST_PARTY:
            fields["priority"] = FIRST_PARTY[provider]
        return fields


@dataclass
class ImportFile:
    """An import's catalog file as data, exactly as written: what tier lending merges.

    Both ways in give this form (an :class:`ImportResult` just imported, or the file an
    earlier import wrote, read back by :func:`read_import`) and :meth:`render` writes it out,
    so a file read back and rendered is the same bytes."""

    #: The comment lines at the top (a YAML loader drops comments, so they are kept as text),
    #: less the count of lent tiers, which :meth:`render` derives from the entries.
    header: list[str]
    dataset: str
    #: The ``version:`` value: the dataset and its version (``"litellm 1.109.1"``).
    version: str
    #: Provider id -> its fields other than ``id`` and ``models``, in file order.
    providers: dict[str, dict[str, Any]]
    #: Entries with their periods as written (tidied; service tiers lent).
    models: list[ImportedModel]

    def render(self) -> str:
        """The file: one flow-style (JSON) mapping per price period, diffable line by line."""
        out = list(self.header)
        lent = sum(1 for model in self.models for period in model.periods if _lent_note(period))
        if lent:
            out.append(f"{_LENT_HEADER} {lent} price periods (each `source` names the LiteLLM key)")
        out.append(f"version: {json.dumps(self.version)}")
        out.append("providers:")
        for provider, models in groupby(_file_order(self.models), key=lambda m: m.provider):
            out.append(f"  - id: {provider}")
            out.extend(f"    {key}: {json.dumps(value)}" for key, value in self.providers.get(provider, {}).items())
            out.append("    models:")
            for model in models:
                out.extend(self._entry(model))
        return "\n".join(out) + "\n"

    def _entry(self, model: ImportedModel) -> Iterator[str]:
        """One entry's lines; :func:`read_import` reads back exactly these fields."""
        yield f"      - id: {json.dumps(model.id)}"
        if model.kind != "chat":
            yield f"        kind: {model.kind}"
        yield f"        origin: {self.dataset}"
        rules = (("exact", model.exact), ("prefix", model.prefix), ("regex", model.regex))
        match = {k: v for k, v in rules if v}
        if match:
            yield f"        match: {json.dumps(match)}"
        yield "        prices:"
        for period in model.periods:
            yield f"          - {json.dumps(period)}"


def _file_order(models: Iterable[ImportedModel]) -> list[ImportedModel]:
    """By provider, then case-blind id; a stable sort, so entries of one name keep their order."""
    return sorted(models, key=lambda m: (m.provider, m.id.lower()))


def _tidy(period: dict[str, Any]) -> dict[str, Any]:
    """Drop what changes no price: a cache-read rate equal to the input rate (an
    absent one falls back to it) and long-context rates equal to the base rate
    (a tier keeps the base rate of every class it does not name)."""
    out = dict(period)
    plain = not any(k in out for k in ("long_context", "service_tiers", "time_windows"))
    if plain and out.get("cache_read") is not None and out.get("cache_read") == out.get("input"):
        del out["cache_read"]
    tiers = []
    for tier in out.get("long_context", []):
        kept = {k: v for k, v in tier.items() if k == "above_input_tokens" or v != period.get(k)}
        if len(kept) > 1:
            tiers.append(kept)
    if tiers:
        out["long_context"] = tiers
    else:
        out.pop("long_context", None)
    return out


def _num(value: Decimal | float | int) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 1e15 else number


def _per_million(value: float) -> float | int:
    """USD per token -> USD per million, without binary noise (3e-06 -> 3)."""
    return _num(Decimal(repr(value)) * 1_000_000)


# --------------------------------------------------------------- genai-prices

_GP_RATE_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "cache_write_5m_mtok": "cache_write",
    "cache_write_1h_mtok": "cache_write_1h",
    "input_audio_mtok": "input_audio",
    "output_audio_mtok": "output_audio",
    "cache_audio_read_mtok": "cache_read_audio",
    "input_image_mtok": "input_image",
    "output_image_mtok": "output_image",
    "output_reasoning_mtok": "reasoning",
}
#: Per-thousand counts -> per-unit fees.
_GP_FEE_KEYS = {"web_searches_kcount": "per_search", "requests_kcount": "per_request"}

_GP_VARIANTS = {
    ("processing", "batch"): "batch",
    ("service_tier", "flex"): "flex",
    ("service_tier", "priority"): "priority",
    ("service_tier", "fast"): "fast",
    ("service_tier", "scale"): "scale",
    ("speed", "fast"): "fast",
}


def load_genai_prices(path: str | Path | None) -> tuple[list[Any], str]:
    """The ``providers`` list of an installed genai-prices (PATH: its package
    directory, or the directory containing it; ``None``: the importable one)."""
    if path is not None:
        directory = Path(path)
        if directory.is_file():  # its data.py (or data_snapshot.py)
            directory = directory.parent
        if (directory / "genai_prices").is_dir():
            directory = directory / "genai_prices"
        if directory.name != "genai_prices" or not (directory / "data.py").is_file():
            raise ValueError(f"{path}: not a genai_prices package directory (expected .../genai_prices/data.py)")
        parent = str(directory.parent)
        loaded = sys.modules.get("genai_prices")
        if loaded is not None and Path(getattr(loaded, "__file__", "")).parent.resolve() != directory.resolve():
            raise ValueError(f"another genai_prices is already imported from {loaded.__file__}")
        # On sys.path, not imported from the directory alone (importlib.util.spec_from_file_location):
        # genai_prices reads its own version at import from its installed metadata
        # (importlib.metadata.version), which is found through sys.path only, next to the
        # package. This runs in the one-shot `genai-cost pricing import` process.
        if parent not in sys.path:
            sys.path.insert(0, parent)
    import genai_prices
    from genai_prices.data import providers

    return list(providers), str(genai_prices.__version__)


def import_genai_prices(path: str | Path | None, checked: dt.date) -> ImportResult:
    providers, version = load_genai_prices(path)  # first: it chooses which genai_prices is imported
    from genai_prices import types as gp

    result = ImportResult("genai-prices", version, checked, [])
    for provider in providers:
        ours = GENAI_PRICES_PROVIDERS.get(provider.id, _canonical(provider.id))
        result.provider_names[ours] = provider.name
        url = (provider.pricing_urls or [""])[0]
        source = f"genai-prices {version}" + (f"; {url}" if url else "")
        claimed: set[str] = set()
        models = list(provider.models)
        if provider.id == "aws":
            models = _bedrock_profiles(models, result)
        for info, model_id, (exact, prefix, regex) in (
            models if provider.id == "aws" else ((m, m.id, _gp_rules(m.match)) for m in models)
        ):
            conditional = info.prices if isinstance(info.prices, list) else [gp.ConditionalPrice(prices=info.prices)]
            free = _gp_marked_free(info, conditional)
            if not free and not any(_gp_has_tokens(c.prices) for c in conditional):
                result.skipped["no token prices (per-hour audio, per-page, per-character...)"] += 1
                continue
            model_id = model_id.lower()
            if model_id in claimed:
                result.skipped["name already matched by an earlier model of the provider"] += 1
                continue
            exact = [n for n in exact if n not in claimed and n != model_id]
            claimed.update([model_id, *exact])
            if free:
                # The dataset marks the model free: priced at $0, not left unknown.
                result.free["listed without prices, marked free (`:free` id or price comment)"] += 1
                periods = [{"input": 0, "output": 0, "source": source, "checked": checked.isoformat()}]
            else:
                periods = _gp_periods(info, conditional, source, checked, result)
            # genai-prices has no model kind: an embedding model is named so or has no output price
            has_output = any(getattr(c.prices, "output_mtok", None) is not None for c in conditional)
            kind = "embedding" if "embed" in model_id or not (has_output or free) else "chat"
            target = genai_prices_provider(provider.id, model_id)
            result.models.append(ImportedModel(target, model_id, kind, periods, exact, prefix, regex, info.name))
    return result


_GEO = re.compile(r"^(us|eu|apac|jp|au|in|ca|us-gov|global)\.")


def _bedrock_profiles(models: list[Any], result: ImportResult) -> list[Any]:
    """genai-prices prices Bedrock profiles as separate models: ``global.X`` at list
    price and ``regional.X`` at 1.1x, matched by the geo prefix. The catalog strips
    the prefix and applies the provider's ``regional_prefixes`` multiplier, so the
    base entry ``X`` takes the global price and the regional twin is dropped
    (keeping it would charge 1.1 x 1.1). A regional entry without a global twin
    (older Claude models, which AWS does not surcharge) keeps its price."""
    by_id = {m.id: m for m in models}
    out = []
    for model in models:
        exact, prefix, regex = _gp_rules(model.match)
        if model.id.startswith("global."):
            base = model.id[len("global.") :]
            twin = by_id.get("regional." + base)
            if twin is not None:
                exact, prefix, regex = _gp_rules(twin.match)
                model = _fold_twin_history(model, twin)
            out.append((model, base, _strip_geo(exact, prefix, regex)))
        elif model.id.startswith("regional."):
            base = model.id[len("regional.") :]
            if "global." + base in by_id:
                result.skipped["Bedrock regional twin of a global profile (priced via regional_prefixes)"] += 1
                continue
            out.append((model, base, _strip_geo(exact, prefix, regex)))
        else:
            out.append((model, model.id, (exact, prefix, regex)))
    return out


def _conditions(model: Any) -> list[Any]:
    from genai_prices import types as gp

    return list(model.prices) if isinstance(model.prices, list) else [gp.ConditionalPrice(prices=model.prices)]


def _start(cond: Any) -> dt.date | None:
    return getattr(cond.constraint, "start_date", None)


def _fold_twin_history(glob: Any, regional: Any) -> Any:
    """The ``global.`` model with every dated period of its ``regional.`` twin.

    genai-prices sometimes records a price change on one twin only: Bedrock
    ``regional.openai.gpt-5.6-luna`` has $1.10 / $6.60 until 2026-07-30, then
    $0.22 / $1.32, while ``global.`` has only today's $0.20 / $1.20. Dropping the
    regional twin would lose the earlier period (and re-price old calls at
    today's rate). At each date where either twin changes price, the folded entry
    takes the global twin's period when the global twin also knows every later
    change of the regional one; otherwise the regional twin's rates divided by
    the twin's uplift (regional / global in their newest periods, 1.1 here)."""
    import dataclasses

    from genai_prices import types as gp

    g_conds = [c for c in _conditions(glob) if not isinstance(c.constraint, gp.TimeOfDateConstraint)]
    r_conds = [c for c in _conditions(regional) if not isinstance(c.constraint, gp.TimeOfDateConstraint)]
    if len(g_conds) != len(_conditions(glob)) or len(r_conds) != len(_conditions(regional)):
        return glob  # time-of-day windows: not folded (none on Bedrock today)
    g_starts = {_start(c) for c in g_conds}
    r_starts = [_start(c) for c in r_conds]
    if set(r_starts) <= g_starts:
        return glob
    ratio = _uplift(g_conds[-1].prices, r_conds[-1].prices)
    if ratio is None:
        return glob  # the twins' newest prices are not one multiple: keep the global twin alone

    def in_force(conds: list[Any], day: dt.date | None) -> Any:
        chosen = conds[0]
        for cond in conds:
            start = _start(cond)
            if start is None or (day is not None and start <= day):
                chosen = cond
        return chosen

    boundaries: list[dt.date | None] = [None, *sorted(s for s in g_starts | set(r_starts) if s is not None)]
    folded: list[Any] = []
    for day in boundaries:
        later_regional = {s for s in r_starts if s is not None and (day is None or s > day)}
        if later_regional <= g_starts:
            prices = in_force(g_conds, day).prices
        else:
            prices = _unscale(in_force(r_conds, day).prices, ratio)
        constraint = None if day is None else gp.StartDateConstraint(start_date=day)
        if folded and folded[-1].prices == prices:
            continue
        folded.append(gp.ConditionalPrice(constraint=constraint, prices=prices))
    return dataclasses.replace(glob, prices=folded)


def _uplift(glob: Any, regional: Any) -> Decimal | None:
    """``k`` when every price of ``regional`` is k x the same price of ``glob``."""
    from genai_prices.types import TieredPrices

    factors: set[Decimal] = set()
    keys = {k for k, v in glob.__dict__.items() if v is not None} | {
        k for k, v in regional.__dict__.items() if v is not None
    }
    for key in keys:
        a, b = getattr(glob, key, None), getattr(regional, key, None)
        if a is None or b is None:
            return None
        pairs = [(a, b)]
        if isinstance(a, TieredPrices) or isinstance(b, TieredPrices):
            if not (isinstance(a, TieredPrices) and isinstance(b, TieredPrices)) or len(a.tiers) != len(b.tiers):
                return None
            pairs = [(a.base, b.base), *((x.price, y.price) for x, y in zip(a.tiers, b.tiers, strict=True))]
        for x, y in pairs:
            if not x:
                if y:
                    return None
                continue
            factors.add(Decimal(y) / Decimal(x))
    return factors.pop() if len(factors) == 1 else None


def _unscale(price: Any, factor: Decimal) -> Any:
    """A genai-prices ModelPrice with every price divided by ``factor``."""
    from genai_prices.types import ModelPrice, Tier, TieredPrices

    def scaled(value: Decimal) -> Decimal:
        return (Decimal(value) / factor).normalize()

    values: dict[str, Any] = {}
    for key, value in price.__dict__.items():
        if value is None or key.startswith("_"):
            continue
        if isinstance(value, TieredPrices):
            values[key] = TieredPrices(
                base=scaled(value.base), tiers=[Tier(start=t.start, price=scaled(t.price)) for t in value.tiers]
            )
        else:
            values[key] = scaled(value)
    return ModelPrice(**values)


def _strip_geo(exact: list[str], prefix: list[str], regex: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Rules without the geo-profile spellings (the catalog strips ``us.`` etc. first)."""
    geo_regex = re.compile(r"^\.\*(us|eu|apac|jp|au|in|ca|us\\-gov|global)\\\.")
    return (
        [n for n in exact if not _GEO.match(n)],
        [n for n in prefix if not _GEO.match(n)],
        [r for r in regex if not geo_regex.match(r)],
    )


#: genai-prices' words for a model it lists without prices because it costs nothing.
_GP_FREE_COMMENT = re.compile(r"free of charge|zero token cost", re.IGNORECASE)


def _gp_marked_free(info: Any, conditional: list[Any]) -> bool:
    """A genai-prices model with no price at all that the dataset marks free: an
    OpenRouter-style ``:free`` id, or a price comment saying so (Gemma 4 on the
    Gemini API: "Free of charge ... with no paid tier"; GitHub Copilot: "a live
    request reported a zero token cost"). A model without prices and without
    such a mark is not imported (unknown, never a guessed $0)."""
    if any(v is not None for c in conditional for k, v in c.prices.__dict__.items() if not k.startswith("_")):
        return False
    if info.price_variants:
        return False
    return str(info.id).lower().endswith(":free") or bool(_GP_FREE_COMMENT.search(str(info.price_comments or "")))


def _gp_has_tokens(price: Any) -> bool:
    return any(getattr(price, key, None) is not None for key in ("input_mtok", "output_mtok"))


def _gp_clause(clause: Any) -> str:
    """A genai-prices match clause as a full-match regex."""
    name = type(clause).__name__
    if name == "ClauseEquals":
        return re.escape(str(clause.equals).lower())
    if name == "ClauseStartsWith":
        return re.escape(str(clause.starts_with).lower()) + ".*"
    if name == "ClauseEndsWith":
        return ".*" + re.escape(str(clause.ends_with).lower())
    if name == "ClauseContains":
        return ".*" + re.escape(str(clause.contains).lower()) + ".*"
    if name == "ClauseRegex":
        return f".*(?:{clause.regex}).*"
    if name == "ClauseOr":
        return "(?:" + "|".join(_gp_clause(c) for c in clause.or_) + ")"
    if name == "ClauseAnd":
        return "".join(f"(?=(?:{_gp_clause(c)})$)" for c in clause.and_) + ".*"
    raise ValueError(f"unknown genai-prices match clause {name}")


def _gp_rules(clause: Any) -> tuple[list[str], list[str], list[str]]:
    """(exact, prefix, regex) rules equivalent to a match clause."""
    exact: list[str] = []
    prefix: list[str] = []
    regex: list[str] = []
    clauses = clause.or_ if type(clause).__name__ == "ClauseOr" else [clause]
    for item in clauses:
        kind = type(item).__name__
        if kind == "ClauseEquals":
            exact.append(item.equals.lower())
        elif kind == "ClauseStartsWith":
            prefix.append(item.starts_with.lower())
        else:
            regex.append(_gp_clause(item))
    return list(dict.fromkeys(exact)), list(dict.fromkeys(prefix)), list(dict.fromkeys(regex))


def _gp_rates(price: Any, result: ImportResult) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """(flat rates, {threshold: tier rates}) of one genai-prices ModelPrice."""
    from genai_prices.types import TieredPrices

    rates: dict[str, Any] = {}
    tiered: dict[str, Any] = {}
    for key, value in price.__dict__.items():
        if value is None or key.startswith("_"):
            continue
        if key in _GP_RATE_KEYS:
            target = _GP_RATE_KEYS[key]
            if key == "cache_write_5m_mtok" and "cache_write_mtok" in price.__dict__:
                continue
            if isinstance(value, TieredPrices):
                rates[target] = _num(value.base)
                tiered[target] = value
            else:
                rates[target] = _num(value)
        elif key in _GP_FEE_KEYS:
            base = value.base if isinstance(value, TieredPrices) else value
            rates[_GP_FEE_KEYS[key]] = _num(Decimal(base) / 1000)
        else:
            result.ignored_price_keys[key] += 1
    thresholds = sorted({tier.start for value in tiered.values() for tier in value.tiers})
    tiers: dict[int, dict[str, Any]] = {}
    for threshold in thresholds:
        tier_rates: dict[str, Any] = {}
        for target, value in tiered.items():
            applicable = value.base
            for tier in value.tiers:
                if threshold >= tier.start:
                    applicable = tier.price
            tier_rates[target] = _num(applicable)
        tiers[threshold] = tier_rates
    return rates, tiers


def _long_context(tiers: Mapping[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"above_input_tokens": threshold, **rates} for threshold, rates in sorted(tiers.items())]


def _gp_periods(
    info: Any, conditional: list[Any], source: str, checked: dt.date, result: ImportResult
) -> list[dict[str, Any]]:
    from genai_prices import types as gp

    dated = [c for c in conditional if not isinstance(c.constraint, gp.TimeOfDateConstraint)]
    windows = [c for c in conditional if isinstance(c.constraint, gp.TimeOfDateConstraint)]
    window_entries = []
    for window in windows:
        rates, tiers = _gp_rates(window.prices, result)
        entry: dict[str, Any] = {
            "start": window.constraint.start_time.strftime("%H:%M"),
            "end": window.constraint.end_time.strftime("%H:%M"),
            **rates,
        }
        window_entries.append(entry)
    periods = []
    for index, cond in enumerate(dated):
        rates, tiers = _gp_rates(cond.prices, result)
        start = cond.constraint.start_date if isinstance(cond.constraint, gp.StartDateConstraint) else None
        tiers_by_name = _gp_variants(info, start if index > 0 else None, rates, result)
        period: dict[str, Any] = {}
        if index > 0 and start is not None:
            period["effective_from"] = start.isoformat()
        period.update(rates)
        if tiers:
            period["long_context"] = _long_context(tiers)
        if tiers_by_name:
            period["service_tiers"] = tiers_by_name
        if window_entries:
            period["time_windows"] = window_entries
        period["source"] = source
        period["checked"] = checked.isoformat()
        periods.append(period)
    return periods


def _gp_variants(
    info: Any, start: dt.date | None, base: dict[str, Any], result: ImportResult
) -> dict[str, dict[str, Any]]:
    """Service tiers of the period starting at ``start`` from genai-prices price
    variants: per tier, the first variant (in the dataset's order) in force at
    the period's start. A variant's start date is mostly when the dataset learnt
    the price, not when the tier began, so a period that starts before every
    variant of a tier takes the earliest one (genai-prices charges such calls at
    the standard rate; see docs/pricing.md). A variant that is an exact multiple
    of the period's base rates becomes a ``multiplier``."""
    from genai_prices import types as gp

    def active(variant: Any) -> bool:
        constraint = variant.constraint
        if constraint is None or (start is None and not isinstance(constraint, gp.StartDateConstraint)):
            return True
        if isinstance(constraint, gp.StartDateConstraint):
            return start is not None and start >= constraint.start_date
        return False

    variants = list(info.price_variants or ())
    chosen: list[Any] = [v for v in variants if active(v)]
    dated_later = sorted(
        (v for v in variants if not active(v) and isinstance(v.constraint, gp.StartDateConstraint)),
        key=lambda v: v.constraint.start_date,
    )
    out: dict[str, dict[str, Any]] = {}
    for variant in [*chosen, *dated_later]:
        if len(variant.when) != 1:
            result.ignored_price_keys["variant:" + "+".join(sorted(variant.when))] += 1
            continue
        key, value = next(iter(variant.when.items()))
        name = _GP_VARIANTS.get((key, value))
        if name is None:
            if (key, value) != ("service_tier", "default"):
                result.ignored_price_keys[f"variant:{key}={value}"] += 1
            continue
        if name in out:
            continue  # the first matching variant wins per key, as in genai-prices
        rates, tiers = _gp_rates(variant.prices, result)
        if not rates:
            continue
        factor = _common_factor(rates, base) if not tiers else None
        if factor is not None:
            out[name] = {"multiplier": factor}
        else:
            tier: dict[str, Any] = dict(rates)
            if tiers:
                tier["long_context"] = _long_context(tiers)
            out[name] = tier
    return out


def _common_factor(rates: Mapping[str, Any], base: Mapping[str, Any]) -> float | None:
    """``k`` when every rate is exactly k x the base rate of the same class and
    the variant names every class the base prices (else None)."""
    if set(rates) != set(base):
        return None
    factors = set()
    for name, value in rates.items():
        reference = base.get(name)
        if not reference:
            return None
        factors.add(Decimal(repr(value)) / Decimal(repr(reference)))
    if len(factors) != 1:
        return None
    return _num(factors.pop())


# -------------------------------------------------------------------- LiteLLM

_LL_MODES = {"chat": "chat", "responses": "chat", "completion": "completion", "embedding": "embedding"}

_LL_RATE_KEYS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "input_cost_per_audio_token": "input_audio",
    "output_cost_per_audio_token": "output_audio",
    "cache_read_input_audio_token_cost": "cache_read_audio",
    "input_cost_per_image_token": "input_image",
    "output_cost_per_image_token": "output_image",
    "output_cost_per_reasoning_token": "reasoning",
}
_LL_KEY = re.compile(
    r"^(?P<base>" + "|".join(sorted((re.escape(k) for k in _LL_RATE_KEYS), key=len, reverse=True)) + r")"
    r"(?:_above_(?P<k>\d+)k_tokens)?(?:_(?P<tier>batches|flex|priority))?$"
)
_LL_TIERS = {"batches": "batch", "flex": "flex", "priority": "priority"}
#: Keys that describe the model, not its price.
_LL_INFO_KEYS = re.compile(
    r"^(max_|supports_|litellm_provider|mode|source|deprecation_date|supported_|metadata|tpm|rpm|"
    r"output_vector_size|comment|display_name|notes|tool_use_system_prompt_tokens)"
)


def import_litellm(path: str | Path, checked: dt.date) -> ImportResult:
    """Import LiteLLM's ``model_prices_and_context_window_backup.json`` (PATH:
    the JSON file, or a LiteLLM wheel / package directory containing it)."""
    data, version = _read_litellm(Path(path))
    result = ImportResult("litellm", version, checked, [])
    seen: dict[tuple[str, str], ImportedModel] = {}
    # A key routed through its own provider (``mistral/codestral-latest``) is
    # preferred to another route to the same model (``codestral/...``).
    native_first = sorted(data, key=lambda k: (not _ll_native(k, data[k]), k))
    for key in native_first:
        entry = data[key]
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        mode = _LL_MODES.get(str(entry.get("mode")))
        if mode is None:
            result.skipped[f"mode {entry.get('mode')}"] += 1
            continue
        if entry.get("input_cost_per_token") is None and entry.get("output_cost_per_token") is None:
            result.skipped["no token prices"] += 1
            continue
        if entry.get("input_cost_per_token") is None:
            # e.g. TwelveLabs Pegasus: video input priced per second, only output per token
            result.skipped["no input token price (input priced per second, image or character)"] += 1
            continue
        raw_provider = str(entry.get("litellm_provider") or "")
        if raw_provider.startswith("vertex_ai"):
            provider = "google-vertex"
        else:
            provider = LITELLM_PROVIDERS.get(raw_provider, _canonical(raw_provider or "unknown"))
        model_id = _ll_model_id(key, raw_provider)
        period = _ll_period(entry, result, inclusive=raw_provider in _LL_INCLUSIVE_THRESHOLDS)
        if _all_zero(period) and not _ll_marked_free(key, raw_provider):
            # LiteLLM writes 0 where it has no price (Cohere command-a-plus-05-2026) or for
            # another offer of the model (the free `codestral/` beta endpoint, filed here
            # under mistral): a paid model would price at a silent $0. Unknown is better.
            result.skipped["every rate 0 and not marked free (a $0 that is not a price)"] += 1
            continue
        free = _ll_marked_free(key, raw_provider) if _all_zero(period) else None
        if free is not None:
            result.free[_LL_FREE_REASON[free]] += 1
        if raw_provider.startswith("fireworks_ai") and "cache_read" not in period and "input" in period:
            # Fireworks bills cached input at half the input rate (LiteLLM's
            # FIREWORKS_AI_DEFAULT_CACHE_READ_RATE_RATIO) when the entry names none.
            period["cache_read"] = _num(Decimal(repr(period["input"])) / 2)
        ident = (provider, model_id.lower())
        earlier = seen.get(ident)
        if earlier is not None:
            same = {k: v for k, v in earlier.periods[0].items() if k not in ("source", "checked")} == period
            if same:
                # Another name for the same price: keep it as an alias.
                if key.lower() not in earlier.exact:
                    earlier.exact.append(key.lower())
                result.skipped["another LiteLLM key for the same provider, model and price (kept as alias)"] += 1
                continue
            # The same model priced differently under another route: keep it under its full key.
            model_id = key
            ident = (provider, key.lower())
            if ident in seen:
                result.skipped["duplicate LiteLLM key"] += 1
                continue
        period["source"] = f"litellm {version}: {key}"
        period["checked"] = checked.isoformat()
        exact = [key.lower()] if key.lower() != model_id.lower() else []
        model = ImportedModel(provider, model_id, mode, [period], exact)
        seen[ident] = model
        result.models.append(model)
    _dedupe_aliases(result.models)
    return result


#: LiteLLM providers that are local inference servers: no one bills a call per token.
_LL_LOCAL_RUNTIMES = frozenset({"ollama", "lemonade"})
_LL_FREE_NAME = re.compile(r"(?:^|[-:_/.])free(?:$|[-:_/.])", re.IGNORECASE)
_LL_FREE_REASON = {
    "name": "every rate 0, name marks it free (`-free`, `:free`)",
    "local": "every rate 0, local runtime (ollama, lemonade)",
}


def _ll_marked_free(key: str, provider: str) -> str | None:
    """Why a LiteLLM entry whose every rate is 0 is really free (None: it is not)."""
    if _LL_FREE_NAME.search(key):
        return "name"
    if provider in _LL_LOCAL_RUNTIMES:
        return "local"
    return None


def _all_zero(period: Mapping[str, Any]) -> bool:
    """True when every rate of a period (fees, long-context, tier and window rates
    included) is 0."""

    def numbers(value: Any) -> Iterable[float]:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            yield float(value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if key not in ("above_input_tokens", "weekdays", "weekday_utc_offset_minutes", "gpus"):
                    yield from numbers(item)
        elif isinstance(value, list):
            for item in value:
                yield from numbers(item)

    rates = [v for k, v in period.items() if k not in ("source", "checked", "effective_from")]
    found = list(numbers(rates))
    return bool(found) and not any(found)


def _dedupe_aliases(models: list[ImportedModel]) -> None:
    """An alias that is another entry's id, or that an earlier entry already
    claims, is dropped: every name resolves to one entry (ids win)."""
    ids = {(m.provider, m.id.lower()) for m in models}
    claimed: set[tuple[str, str]] = set()
    for model in models:
        kept = []
        for alias in model.exact:
            key = (model.provider, alias.lower())
            if key in ids or key in claimed:
                continue
            claimed.add(key)
            kept.append(alias)
        model.exact = kept


def _ll_native(key: str, entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    provider = str(entry.get("litellm_provider") or "")
    return key.startswith(provider + "/") or "/" not in key


def _read_litellm(path: Path) -> tuple[dict[str, Any], str]:
    import zipfile

    name = "model_prices_and_context_window_backup.json"
    version = "unknown"
    if path.suffix == ".whl":
        match = re.search(r"litellm-([0-9][^-]*)-", path.name)
        version = match.group(1) if match else version
        try:
            with zipfile.ZipFile(path) as wheel:
                data = json.loads(wheel.read(f"litellm/{name}"))
        except zipfile.BadZipFile as exc:
            raise ValueError(f"{path} is not a wheel (zip) file: {exc}") from exc
    else:
        if path.is_dir():
            path = path / name if (path / name).is_file() else path / "litellm" / name
        for candidate in [*path.parent.glob("litellm-*.dist-info"), *path.parent.parent.glob("litellm-*.dist-info")]:
            match = re.match(r"litellm-(.+)\.dist-info", candidate.name)
            if match:
                version = match.group(1)
        data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected LiteLLM's JSON object of models by name, found a {type(data).__name__}")
    return data, version


def _ll_model_id(key: str, provider: str) -> str:
    """LiteLLM's key without its route prefix: ``groq/llama3-8b`` -> ``llama3-8b``."""
    if "/" in key:
        head, tail = key.split("/", 1)
        routes = {provider, provider.split("-")[0], "vertex_ai", "bedrock", "azure", "azure_ai", "gemini"}
        if head in routes or head.replace("-", "_") in routes:
            return tail
    return key


#: Providers whose long-context price starts AT the threshold (LiteLLM: ``>=``).
_LL_INCLUSIVE_THRESHOLDS = frozenset({"xai"})


def _ll_period(entry: Mapping[str, Any], result: ImportResult, *, inclusive: bool = False) -> dict[str, Any]:
    base: dict[str, Any] = {}
    long_context: dict[int, dict[str, Any]] = {}
    tiers: dict[str, dict[str, Any]] = {}
    tier_long: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in entry.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or _LL_INFO_KEYS.match(key):
            if "cost" in key and key != "search_context_cost_per_query":
                result.ignored_price_keys[key] += 1
            continue
        match = _LL_KEY.match(key)
        if match is None:
            if "cost" in key:
                if key == "input_cost_per_request":
                    base["per_request"] = _num(value)
                else:
                    result.ignored_price_keys[key] += 1
            continue
        rate_name = _LL_RATE_KEYS[match.group("base")]
        rate = _per_million(float(value))
        threshold = int(match.group("k")) * 1000 - (1 if inclusive else 0) if match.group("k") else None
        tier = _LL_TIERS.get(match.group("tier") or "")
        if tier is None and threshold is None:
            base[rate_name] = rate
        elif tier is None and threshold is not None:
            long_context.setdefault(threshold, {})[rate_name] = rate
        elif tier is not None and threshold is None:
            tiers.setdefault(tier, {})[rate_name] = rate
        elif tier is not None and threshold is not None:
            tier_long.setdefault(tier, {}).setdefault(threshold, {})[rate_name] = rate
    windows = _ll_off_peak(entry.get("off_peak_pricing"), result)
    search = entry.get("search_context_cost_per_query")
    if isinstance(search, dict):
        medium = search.get("search_context_size_medium")
        if isinstance(medium, int | float):
            base["per_search"] = _num(medium)
    period: dict[str, Any] = dict(base)
    if long_context:
        period["long_context"] = _long_context(long_context)
    if tiers or tier_long:
        service_tiers: dict[str, Any] = {}
        for name in sorted(set(tiers) | set(tier_long)):
            rates = dict(tiers.get(name, {}))
            if name in tier_long:
                rates["long_context"] = _long_context(tier_long[name])
            if rates:
                service_tiers[name] = rates
        if service_tiers:
            period["service_tiers"] = service_tiers
    if windows:
        period["time_windows"] = windows
    return period


def _ll_off_peak(block: Any, result: ImportResult) -> list[dict[str, Any]]:
    """LiteLLM ``off_peak_pricing`` as time windows: flat ``hours_utc`` every day,
    and ``windows`` entries on their weekdays (judged in ``weekday_timezone``)."""
    if not isinstance(block, dict):
        return []
    rates: dict[str, Any] = {}
    for key, value in block.items():
        if key in _LL_RATE_KEYS and isinstance(value, int | float):
            rates[_LL_RATE_KEYS[key]] = _per_million(float(value))
    offset = 0
    zone = block.get("weekday_timezone")
    if isinstance(zone, str):
        from zoneinfo import ZoneInfo

        delta = dt.datetime(2026, 1, 15, tzinfo=ZoneInfo(zone)).utcoffset()
        offset = int(delta.total_seconds() // 60) if delta is not None else 0
    rules: list[tuple[Any, list[int]]] = []
    if block.get("hours_utc"):
        rules.append((block["hours_utc"], []))
    for rule in block.get("windows") or []:
        if isinstance(rule, dict):
            rules.append((rule.get("hours_utc"), list(rule.get("weekdays") or [])))
    out = []
    for hours, weekdays in rules:
        for span in [hours] if isinstance(hours, str) else list(hours or []):
            start, _, end = str(span).partition("-")
            window: dict[str, Any] = {"start": start.strip(), "end": end.strip()}
            if weekdays:
                window["weekdays"] = sorted(weekdays)
                if offset:
                    window["weekday_utc_offset_minutes"] = offset
            window.update(rates)
            out.append(window)
    if out:
        result.ignored_price_keys.pop("off_peak_pricing", None)
    return out


# ------------------------------------------------------------------- writing


def write_import(result: ImportResult, directory: Path) -> Path:
    """Write the dataset's file into ``directory``. Where the other dataset's file is
    already there, service tiers are lent across (:func:`lend_tiers`): a genai-prices
    import takes them from ``litellm.yaml``; a LiteLLM import refreshes the tiers
    ``genai-prices.yaml`` took from the previous ``litellm.yaml``. The two imports can so
    be run in either order and give the same files. Both files are read and merged before
    either is written, so a file that cannot be read back changes neither."""
    directory.mkdir(parents=True, exist_ok=True)
    written = result.to_file()
    if written.dataset == TIER_BORROWER and (lender := _read_written(directory, TIER_LENDER)) is not None:
        written.models = lend_tiers(written.models, lender.models)
    refreshed = _refreshed_borrower(directory, written) if written.dataset == TIER_LENDER else None
    path = directory / f"{written.dataset}.yaml"
    path.write_text(written.render(), encoding="utf-8")
    if refreshed is not None:
        (directory / f"{TIER_BORROWER}.yaml").write_text(refreshed, encoding="utf-8")
    return path


def _refreshed_borrower(directory: Path, lender: ImportFile) -> str | None:
    """The borrower's file in ``directory`` with its tiers lent anew from ``lender``; ``None``
    when there is no such file or nothing in it changes (it is then left untouched)."""
    path = directory / f"{TIER_BORROWER}.yaml"
    if not path.is_file():
        return None
    old = path.read_text(encoding="utf-8")
    borrower = _read_import_at(path, old, TIER_BORROWER)
    borrower.models = lend_tiers(borrower.models, lender.models)
    new = borrower.render()
    return None if new == old else new


def _read_written(directory: Path, dataset: str) -> ImportFile | None:
    """The file an earlier ``dataset`` import left in ``directory``, if any."""
    path = directory / f"{dataset}.yaml"
    return _read_import_at(path, path.read_text(encoding="utf-8"), dataset) if path.is_file() else None


def _read_import_at(path: Path, text: str, dataset: str) -> ImportFile:
    """:func:`read_import`, its error naming the file (edited by hand, most likely)."""
    try:
        return read_import(text, dataset)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# ------------------------------------------------------------ reading back


class _ImportLoader(PricingYamlLoader):
    """The catalog's YAML loader, reading the numbers the import wrote as JSON as numbers:
    YAML 1.1 takes ``5e-05`` (``json.dumps`` of 0.00005) for a string, which a file
    rewritten from what was read would then quote."""


_ImportLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE][-+]?[0-9]+$"),
    list("-0123456789"),
)

#: The fields :meth:`ImportFile.render` writes for an entry: a file with others was edited
#: by hand, and rewriting it would drop them.
_ENTRY_FIELDS = frozenset({"id", "kind", "origin", "match", "prices"})


def read_import(text: str, dataset: str) -> ImportFile:
    """A file the ``dataset`` import wrote, read back as data (the other dataset's file is
    what a merge lends tiers from or to). Raises ``ValueError`` on a file the import
    would not have written, rather than rewrite it without what it cannot render."""
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith(_LENT_HEADER):
            header.append(line)
    try:
        data = yaml.load(text, Loader=_ImportLoader) or {}  # noqa: S506 - a SafeLoader
        providers: dict[str, dict[str, Any]] = {}
        models: list[ImportedModel] = []
        for entry in data.get("providers") or []:
            provider = str(entry["id"])
            providers[provider] = {k: v for k, v in entry.items() if k not in ("id", "models")}
            models.extend(_read_entry(provider, model, dataset) for model in entry.get("models") or [])
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a {dataset} import file: {type(exc).__name__}: {exc}") from None
    return ImportFile(header, dataset, str(data.get("version", "")), providers, models)


def _read_entry(provider: str, entry: Mapping[str, Any], dataset: str) -> ImportedModel:
    """One entry of a file read back, refused when it has what the import does not write."""
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if unknown or entry.get("origin") != dataset:
        problem = f"fields {unknown}" if unknown else f"origin {entry.get('origin')!r}"
        raise ValueError(f"{provider}/{entry.get('id')}: not as the {dataset} import writes it ({problem})")
    match = entry.get("match") or {}
    return ImportedModel(
        provider,
        str(entry["id"]),
        str(entry.get("kind", "chat")),
        list(entry.get("prices") or []),
        list(match.get("exact", [])),
        list(match.get("prefix", [])),
        list(match.get("regex", [])),
    )


# ------------------------------------------------------------ lending tiers
#
# Where both datasets name a model, the genai-prices entry wins (pricing.md,
# "Where prices come from"). genai-prices often has no batch / flex / priority
# variant where LiteLLM has ``_batches`` / ``_flex`` / ``_priority`` rates (Bedrock
# Llama batch, Fireworks priority, Databricks priority...): a tiered call was then
# priced at the standard rate and flagged ``unpriced_at_default``. The winning entry
# now takes such a tier from the LiteLLM entry of the same provider and name, when
# both price the call alike without it: the same input, output and every other
# token rate both give (an absent cache-read rate is the input rate), the same
# long-context cliffs, no time windows. A tier the winner has is never replaced.
# The period's ``source`` names what was taken: ``...; priority tier from litellm
# 1.109.1: fireworks_ai/kimi-k3``. That note is also the only record, in the file,
# of what was lent: a merge drops what it names before lending anew.

#: The dataset whose entries win a shared name, and the one it takes missing tiers from.
TIER_BORROWER = "genai-prices"
TIER_LENDER = "litellm"

_TIER_RATES = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning",
    "input_audio",
    "output_audio",
    "cache_read_audio",
    "input_image",
    "output_image",
)
_LENT_NOTE = re.compile(r"; (?P<tiers>[a-z_]+(?:, [a-z_]+)*) tiers? from " + TIER_LENDER + r" [^;]*$")
_LENT_HEADER = "# Service tiers taken from LiteLLM (same provider and name, same base rates):"

_Index = dict[tuple[str, str], list[dict[str, Any]]]


def lend_tiers(borrower: Iterable[ImportedModel], lender: Iterable[ImportedModel]) -> list[ImportedModel]:
    """``borrower``'s entries (genai-prices', as written) with the service tiers they lack
    taken from ``lender``'s (LiteLLM's), see above. Tiers an earlier merge lent are dropped
    first, so the result depends only on the two datasets: lending again from the same
    lender changes nothing, a new lender replaces what the old one lent, and an empty one
    takes it all back. Neither argument is changed."""
    index = _lender_index(lender)
    return [_borrow(model, index) for model in borrower]


def _names(model: ImportedModel) -> list[str]:
    """The names a tier is lent under: the entry's id and exact aliases, case-blind."""
    return [model.id.lower(), *(name.lower() for name in model.exact)]


def _lender_index(models: Iterable[ImportedModel]) -> _Index:
    """(provider, name) -> the lender's periods with tiers and no start date, in file order
    (the first priced alike lends)."""
    index: _Index = {}
    for model in _file_order(models):
        for period in model.periods:
            if period.get("service_tiers") and "effective_from" not in period:
                for name in _names(model):
                    index.setdefault((model.provider, name), []).append(period)
    return index


def _borrow(model: ImportedModel, index: _Index) -> ImportedModel:
    """``model`` with each period first stripped of what was lent before, then lent anew."""
    candidates = [period for name in _names(model) for period in index.get((model.provider, name), [])]
    return replace(model, periods=[_lend(_unlend(period), candidates) for period in model.periods])


def _same_base(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two imported periods price a call without a tier alike."""
    if "time_windows" in a or "time_windows" in b:
        return False
    if any(a.get(k) is None or b.get(k) is None for k in ("input", "output")):
        return False
    for key in _TIER_RATES:
        x = a.get(key, a["input"] if key == "cache_read" else None)
        y = b.get(key, b["input"] if key == "cache_read" else None)
        if x is not None and y is not None and float(x) != float(y):
            return False
    return _tidy_long(a) == _tidy_long(b)


def _tidy_long(period: Mapping[str, Any]) -> list[dict[str, float]]:
    return sorted(
        ({k: float(v) for k, v in tier.items()} for tier in period.get("long_context") or []),
        key=lambda t: t["above_input_tokens"],
    )


def _lent_note(period: Mapping[str, Any]) -> re.Match[str] | None:
    """The note an earlier merge left at the end of ``period``'s ``source``, naming the tiers it lent."""
    return _LENT_NOTE.search(str(period.get("source", "")))


def _unlend(period: dict[str, Any]) -> dict[str, Any]:
    """``period`` without the tiers an earlier merge lent it (as a new dict, keys in place)."""
    note = _lent_note(period)
    if note is None:
        return period
    lent = note["tiers"].split(", ")
    tiers = {k: v for k, v in (period.get("service_tiers") or {}).items() if k not in lent}
    out = {k: v for k, v in period.items() if k != "service_tiers" or tiers}
    if tiers:
        out["service_tiers"] = tiers
    out["source"] = str(period.get("source", ""))[: note.start()]
    return out


def _lend(period: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """``period`` with the tiers it lacks from the first candidate priced alike (``period``
    itself when that candidate lends nothing new, or none is priced alike)."""
    own = period.get("service_tiers") or {}
    for other in candidates:
        if _same_base(period, other):
            missing = {k: v for k, v in other["service_tiers"].items() if k not in own}
            return _with_tiers(period, {**own, **missing}, missing, other["source"]) if missing else period
    return period


def _with_tiers(period: dict[str, Any], tiers: dict[str, Any], lent: Mapping[str, Any], lender: str) -> dict[str, Any]:
    """``period`` with ``tiers`` just before its provenance (``source``, ``checked``), where the
    import writes them, and a ``source`` naming the ``lent`` ones and their ``lender``."""
    out: dict[str, Any] = {}
    for key, value in period.items():
        if key in ("source", "checked") and "service_tiers" not in out:
            out["service_tiers"] = tiers
        if key != "service_tiers":
            out[key] = value
    out.setdefault("service_tiers", tiers)
    names = ", ".join(sorted(lent))
    out["source"] = f"{out.get('source', '')}; {names} tier{'s' if len(lent) > 1 else ''} from {lender}"
    return out


def count_by_provider(models: Iterable[ImportedModel]) -> Counter[str]:
    return Counter(m.provider for m in models)
