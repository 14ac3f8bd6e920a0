"""The pricing catalog: compiled entries and deterministic model resolution.

Resolution rules, in order, each recorded in :attr:`Resolution.how` so that
``genai-cost price --explain`` can say why an entry matched:

1. the provider name is normalised through the aliases in the catalog
   (``az.ai.openai`` -> ``azure``, ``Anthropic`` -> ``anthropic``); framework
   names (``langchain``, ``gcp.vertex.agent``) are not providers;
2. the model name is lower-cased; an ARN keeps its last path segment; a known
   provider prefix (``openai/gpt-4o``, ``models/gemini-2.5-pro``) is stripped
   (kept when the provider has an entry spelled with it, unless a stronger layer
   knows the name without it) and, when the span named no provider, names it; a
   regional inference-profile prefix (Bedrock ``us.``) is stripped and its
   multiplier remembered;
3. layer by layer (user files, then the hand-curated catalog, then imported
   datasets: genai-prices before LiteLLM), and within a layer an exact name,
   then the name without a date suffix (``gpt-4o-2024-08-06``), then for a
   fine-tuned id the ``ft:BASE`` entry, then the longest prefix rule, then
   regex rules; between imported datasets an exact name beats another
   dataset's looser rule;
4. a provider without an entry falls back to the providers it serves models
   of (Azure -> OpenAI, Bedrock -> Anthropic, with ``anthropic.`` and ``-v1:0``
   removed); there the user's entries come last, and a catalog entry a user's
   replaced prices as the catalog had it: a user's price is what that provider
   bills them (a contract), not what the serving provider bills;
5. with no provider on the span, every provider is searched; the best-priority
   match wins, a name one provider lists (exactly, or dated) beats other providers'
   prefix or pattern rules, and a tie between two providers is reported as ambiguous.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import calc, compiled
from ._fastpath import NO_FAST, Fast, fast_breakdown, fast_plan, plan_at
from ._fork import renew_locks_after_fork
from .errors import (
    REASON_UNKNOWN_PROVIDER,
    AmbiguousModelError,
    CatalogError,
    PricingError,
    UnknownModelError,
    UnpricedDeploymentError,
    unreadable_pricing_file,
)
from .model import (
    ContextTier,
    CostBreakdown,
    DailyWindow,
    InfrastructureSection,
    ModelPricing,
    Period,
    Rates,
    TierRule,
    TokenUsage,
    ToolPricing,
    bills_searches,
    with_search_fee,
)

if TYPE_CHECKING:  # the schema (pydantic) is imported only when a file must be parsed
    from .schema import PricingFile

#: ``gen_ai.system`` values that name an agent framework, not who was paid.
_FRAMEWORK_NAMES = frozenset(
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
        # what OpenLIT 1.45 writes as the provider of its framework instrumentations'
        # spans, and Strands Agents' own tracer: the model alone then names the provider
        "litellm",
        "strands_agents",
        "strands-agents",
        "smolagents",
        "agent_framework",
        "claude_agent_sdk",
        "google_adk",
        "microsoft.semantic_kernel",
        "ag2",
        "mem0",
        "letta",
        "julep",
        "dynamiq",
        "controlflow",
        "multion",
        "browser_use",
        "phidata",
        "embedchain",
        "mcp",
    }
)

#: How ``_match_in`` names a match by a rule rather than by the name itself.
_LOOSE_RULES = ("prefix ", "pattern ")


def _match_kind(rule: str) -> str:
    """``Resolution.match`` of a rule as ``_match_in`` names it."""
    return rule.split(" ", 1)[0] if rule.startswith(_LOOSE_RULES) else ""
_DATE_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8})$")
_VERSION_SUFFIX = re.compile(r"-v\d+(:\d+)?$")
_CACHE_LIMIT = 8192
#: Longer model or provider names than this are resolved each time, not cached.
_MAX_CACHED_NAME = 256

#: Imported datasets, weakest first: a later one replaces an earlier one's entry of
#: the same id, and is searched first. Hand-curated files beat all of them.
IMPORT_ORDER = ("litellm", "genai-prices")

#: Resolution layers: user files, then the curated catalog, then imported data.
_RANK_OVERRIDE, _RANK_CURATED, _RANK_IMPORTED = 0, 1, 100
#: How --explain names a rank class the serving provider has no entry in (imported: none at all).
_CLASS_NAMES = {_RANK_OVERRIDE: "pricing-file ", _RANK_CURATED: "curated "}
_RANK_CLASSES = ((_RANK_OVERRIDE, _RANK_OVERRIDE), (_RANK_CURATED, _RANK_CURATED), (_RANK_IMPORTED, 1 << 30))
_ALL = range(1 << 30)
#: The passes of a resolution for a serving provider: (layer rank range, positions in its chain
#: of fallbacks). The user's own entries of the serving provider first, then curated and imported
#: entries across the chain; a user's entry of a fallback (OpenAI's, for an Azure call) only when
#: no catalog entry prices the model.
_CHAIN_PASSES = (
    (_RANK_OVERRIDE, _RANK_OVERRIDE, range(1)),
    (_RANK_CURATED, _RANK_CURATED, _ALL),
    (_RANK_IMPORTED, 1 << 30, _ALL),
    (_RANK_OVERRIDE, _RANK_OVERRIDE, range(1, 1 << 30)),
)

_RawModel = tuple[str, list[Any], str, bool]  # provider id, model IR, file label, is_override

@dataclass(frozen=True, slots=True)
class Resolution:
    """Which catalog entry prices a (provider, model) pair, and why."""

    model: ModelPricing
    how: str
    #: Regional uplift times negotiated discount; 1.0 for list price.
    multiplier: float
    adjustments: tuple[str, ...]
    #: The negotiated discount alone, for the per-request and per-search fees: a regional
    #: uplift (Bedrock's 1.1x) is on the tokens only (LiteLLM's Bedrock profiles carry the
    #: uplifted token rates and the plain $10 / 1,000 search fee).
    fee_multiplier: float = 1.0
    #: ``"prefix"`` or ``"pattern"`` when the name matched an entry's rule rather than a name
    #: it lists (itself, a dated snapshot of it, a fine-tuned id of it): a variant no source
    #: lists (``claude-opus-4-1-fast``) is priced as the model it starts like, and the span
    #: should say so. Empty for a listed name.
    match: str = ""
    #: Precomputed rate tables for the fast path, built on first use (not part of
    #: the value: excluded from equality and repr).
    _fast: Fast | None = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A user's pricing file :meth:`Catalog.load_lenient` left out, and why (``error``
    names the file, line and field of each problem)."""

    path: Path
    error: CatalogError


@dataclass(slots=True)
class _Layer:
    """The entries of one provider from one precedence layer, indexed by name
    (pricing ids; the entries themselves are built on first use)."""

    label: str
    #: name -> pricing id, or a list of them when several entries claim the name
    exact: dict[str, str | list[str]] = field(default_factory=dict)
    by_prefix: list[tuple[str, str]] = field(default_factory=list)
    by_regex: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class _ProviderIndex:
    entry_id: str
    priority: int
    prefixes: tuple[str, ...]
    fallbacks: tuple[str, ...]
    regional: tuple[tuple[str, float], ...]
    #: Strongest first: user files, curated, then imported datasets.
    layers: list[_Layer]
    #: The rank of each layer (0 user files, 1 curated, >= 100 imported).
    ranks: tuple[int, ...] = ()
    regional_exempt: tuple[str, ...] = ()
    unpriced_prefixes: tuple[str, ...] = ()
    #: (start of a model name, vendor prefix), longest start first.
    implied_vendors: tuple[tuple[str, str], ...] = ()
    #: The provider's own web-search fee, for entries of its fallbacks (see the schema).
    fallback_per_search: float | None = None
    #: Its entries price only spans that name it (see the schema).
    named_only: bool = False


class Catalog:
    """An immutable, compiled set of prices. Safe to share between threads.

    Build one with :meth:`load` (files) or :meth:`default` (the shipped catalog
    plus ``GENAI_COST_PRICING_FILE`` is the span layer's business, not ours).
    """

    def __init__(
        self,
        files: Sequence[tuple[PricingFile | dict[str, Any], str, bool]],
        *,
        version: str = "unversioned",
        _state: dict[str, Any] | None = None,
    ) -> None:
        """``files`` are (parsed file or its compiled IR, label, is_override),
        lowest precedence first, laid over ``_state`` (a compiled catalog)."""
        self.version = version
        self._providers: dict[str, _ProviderIndex] = {}
        self._aliases: dict[str, str] = {}
        self._tools: dict[str, ToolPricing] = {}
        self._discounts: dict[tuple[str, str | None], float] = {}
        #: Discounts as the files give them: (provider, model, factor, file label, index),
        #: canonicalised into ``_discounts`` once the catalog is built.
        self._discount_defs: list[tuple[str, str | None, float, str, int]] = []
        #: (provider id, fallback as written) -> (file label, provider index, fallback index)
        self._fallback_defs: dict[tuple[str, str], tuple[str, int, int]] = {}
        #: pricing id -> raw model; from the compiled state, a packed string until used.
        self._raw: dict[str, _RawModel | str] = {}
        self._built: dict[str, ModelPricing] = {}
        #: pricing id -> the catalog's raw model a user's entry of the same id replaced: it
        #: still prices the calls of providers that fall back to it (a user's OpenAI price is
        #: what OpenAI bills them, not what Azure bills for the same model).
        self._replaced: dict[str, _RawModel | str] = {}
        self._replaced_built: dict[str, ModelPricing] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        #: (pricing id, fee, a user's) -> the entry billing searches at a serving provider's own fee.
        self._search_fee_entries: dict[tuple[str, float, bool], ModelPricing] = {}
        self._bodies: bytes = b""
        # Build state: provider metadata, and per provider its layers by rank.
        self._meta: dict[str, dict[str, Any]] = {}
        self._layers: dict[str, dict[int, _Layer]] = {}
        self._ids_built: dict[tuple[str, str], str] | None = {}
        self._tool_defs: list[tuple[list[str], dict[str, Any], str, bool]] = []
        #: The ``infrastructure:`` sections of the user's files, in load order, and the
        #: last ``human_escalation:`` fee of one (USD): the cost layers that are not per
        #: span, which :mod:`genai_cost.layers` reads here rather than from the files again.
        self.infrastructure: tuple[InfrastructureSection, ...] = ()
        self.human_escalation_usd: float | None = None
        #: One message per user file that holds nothing (see :func:`empty_file_problem`).
        self._empty_files: list[str] = []
        #: The user's files' doubtful values, as said (see :attr:`doubts`).
        self._doubts: list[str] = []
        sources: list[str] = []
        if _state is not None:
            self._restore(_state)
            sources.extend(_state["sources"])
        self._add_files(files, start=len(sources))
        sources.extend(label for _, label, _ in files)
        self.sources = tuple(sources)
        self._finish()
        #: What makes part of a file ineffective without stopping the catalog from
        #: pricing (a discount whose provider or model matches nothing, so it never
        #: applies): one message per problem, naming the file, line and field
        #: (``contract.yaml:2: discounts[0].provider: 'opneai' is no provider ...``).
        #: ``pricing validate --with-catalog`` reports them as errors; a process
        #: loading the catalog should log them. A user file that holds nothing at all is
        #: one too: almost certainly the wrong path, but no reason to stop the host app.
        discount_problems, unknown_providers = self._settle_discounts()
        self.problems: tuple[str, ...] = (*self._empty_files, *discount_problems)
        #: Those of :attr:`problems` that are a discount naming no provider of the catalog:
        #: ``pricing validate`` reports these even without ``--with-catalog``, since a
        #: provider that exists nowhere is a typo whatever else the user's files hold.
        self.unknown_discount_providers: tuple[str, ...] = tuple(unknown_providers)
        #: Values of the user's files that are valid but almost surely a unit mistake (a
        #: rate per token given as per million, ``percent: 0.15`` meant as 15%), named by
        #: file, line and field (:mod:`.doubts`): they price, and should be logged as warnings.
        self.doubts: tuple[str, ...] = tuple(self._doubts)
        self._cache: dict[tuple[str | None, str], Resolution | PricingError] = {}
        #: The same pairs' fast-path rate tables (``None`` for an error), for price():
        #: by model, then provider (two lookups of the caller's own strings are
        #: cheaper than building and hashing a key tuple).
        self._fast_by_name: dict[str, dict[str | None, Fast | None]] = {}
        self._cache_lock = threading.Lock()
        renew_locks_after_fork(self, _cache_lock=threading.Lock)

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = (),
        *,
        include_default: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Catalog:
        """The shipped catalog (unless ``include_default=False``) overlaid with
        ``paths`` (one path, or several in order; a directory stands for its YAML
        files); a later file overrides an earlier one's entries.

        The shipped catalog comes from its compiled snapshot when that matches
        the files (see :mod:`.compiled`); otherwise the files are parsed. A user's
        file is parsed and validated (YAML + pydantic) unless ``cache_dir`` holds its
        compiled form from an earlier load, and its compiled form is then kept there;
        with no ``cache_dir`` nothing is written anywhere.
        Every broken file is reported, not just the first.
        """
        return cls._load(pricing_file_paths(paths), include_default, _cache_in(cache_dir), {})

    @classmethod
    def load_lenient(
        cls,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = (),
        *,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> tuple[Catalog, tuple[SkippedFile, ...]]:
        """:meth:`load`, leaving out each user file that stops the catalog from loading,
        and saying which (with their problems) rather than raising: a running
        application must still price with the user's other files and the shipped
        catalog (one typo must not take a team's contract prices and tools with it).

        Each file is tried on top of those kept so far, so a file that only fails next
        to another (a conflict) is the one skipped, in load order. What loads but cannot
        take effect is in the catalog's :attr:`problems`, as with :meth:`load`. Raises
        :class:`CatalogError` only when the shipped catalog itself does not load."""
        files = pricing_file_paths(paths)
        cache = _cache_in(cache_dir)
        parsed: dict[Path, dict[str, Any] | CatalogError] = {}  # each file is read once
        try:
            return cls._load(files, True, cache, parsed), ()
        except CatalogError:
            pass
        kept: list[Path] = []
        skipped: list[SkippedFile] = []
        for path in files:
            try:
                cls._load([*kept, path], True, cache, parsed)
            except CatalogError as exc:
                skipped.append(SkippedFile(path, exc))
            else:
                kept.append(path)
        try:
            return cls._load(kept, True, cache, parsed), tuple(skipped)
        except CatalogError as exc:  # pragma: no cover - each kept file loaded above
            return cls._load([], True, None, parsed), (*skipped, *(SkippedFile(path, exc) for path in kept))

    @classmethod
    def _load(
        cls,
        user_files: Sequence[Path],
        include_default: bool,
        cache: compiled.UserFileCache | None,
        parsed: dict[Path, dict[str, Any] | CatalogError],
    ) -> Catalog:
        """:meth:`load` of files already listed; ``parsed`` remembers each user file's
        compiled form (or why it has none) across the loads of :meth:`load_lenient`."""
        problems: list[str] = []
        files: list[tuple[PricingFile | dict[str, Any], str, bool]] = []
        version = "unversioned"
        state: dict[str, Any] | None = None
        if include_default:
            directory = default_pricing_dir()
            version = catalog_version(directory)
            shipped = catalog_files(directory)
            state = compiled.read_state(directory, shipped)
            if state is None:
                snapshot = compiled.read_snapshot(directory)
                for path in shipped:
                    name = path.relative_to(directory).as_posix()
                    try:
                        files.append((read_file_ir(path, snapshot.get(name)), f"catalog:{name}", False))
                    except CatalogError as exc:
                        problems.extend(exc.problems)
        for candidate in user_files:
            ir = parsed.get(candidate)
            if ir is None:
                try:
                    ir = read_file_ir(candidate, cache=cache)
                except CatalogError as exc:
                    ir = exc
                parsed[candidate] = ir
            if isinstance(ir, CatalogError):
                problems.extend(ir.problems)
            else:
                files.append((ir, str(candidate), True))
        if problems:
            raise CatalogError(problems)
        return cls(files, version=version, _state=state)

    def _add_files(self, files: Sequence[tuple[PricingFile | dict[str, Any], str, bool]], *, start: int) -> None:
        """Lay files over what is already built. A later file's entry replaces
        an earlier one's of the same id (the id keeps every name it had)."""
        total = start + len(files)
        for offset, (parsed, label, is_override) in enumerate(files):
            ir = parsed if isinstance(parsed, dict) else compiled.file_ir(parsed)
            if is_override:
                empty = empty_file_problem(ir, label)
                if empty is not None:
                    self._empty_files.append(empty)
                if "doubts" in ir:
                    from .doubts import doubt_messages

                    self._doubts.extend(doubt_messages(label, [(tuple(loc), doubt) for loc, doubt in ir["doubts"]]))
            if is_override:
                rank = _RANK_OVERRIDE
            elif label.startswith("catalog:imported/"):
                rank = _RANK_IMPORTED + total - (start + offset)
            else:
                rank = _RANK_CURATED
            for p_index, provider in enumerate(ir["providers"]):
                provider_id = provider["id"]
                if is_override:
                    # ``id: aws.bedrock`` in a user's file is the shipped ``aws-bedrock``
                    # (one of its aliases): its models join that provider's, rather than
                    # a new provider taking the alias, and every Bedrock price, away.
                    provider_id = self._provider_named(provider_id)
                self._meta[provider_id] = _merge_provider_meta(self._meta.get(provider_id), provider)
                for f_index, fallback in enumerate(provider["fallbacks"]):
                    self._fallback_defs.setdefault((provider_id, fallback), (label, p_index, f_index))
                layers = self._layers.setdefault(provider_id, {})
                layer = layers.get(rank)
                if layer is None:
                    layer = layers[rank] = _Layer(label)
                ids = self._ids
                for model in provider["models"]:
                    key = (provider_id, model[0].lower())
                    pricing_id = ids.get(key)
                    if pricing_id is None:
                        pricing_id = ids[key] = f"{provider_id}/{model[0]}"
                    elif is_override and pricing_id not in self._replaced:
                        earlier = self._raw[pricing_id]
                        if not self._unpack(earlier)[3]:  # the catalog's own, not another user file's
                            self._replaced[pricing_id] = earlier
                    self._raw[pricing_id] = (provider_id, model, label, is_override)
                    _index_model(layer, pricing_id, model)
            for tool in ir["tools"]:
                self._tool_defs.append(([tool["name"], *tool["aliases"]], tool, label, is_override))
            for d_index, (provider_name, model_name, percent) in enumerate(ir["discounts"]):
                self._discount_defs.append((provider_name, model_name, 1.0 - percent / 100.0, label, d_index))
            if is_override:
                infra = ir.get("infrastructure")
                if infra is not None:
                    monthly, traces, allocation, average_seconds = infra
                    section = InfrastructureSection(monthly, traces, allocation, average_seconds, label)
                    self.infrastructure = (*self.infrastructure, section)
                if ir.get("human_escalation") is not None:
                    self.human_escalation_usd = ir["human_escalation"]

    def _provider_named(self, name: str) -> str:
        """The id of the provider already built that ``name`` is the id or an alias of
        (the last one claiming the alias, as resolution has it); else ``name``."""
        if name in self._meta:
            return name
        found = name
        for provider_id, meta in self._meta.items():
            if any(alias.lower() == name for alias in meta["aliases"]):
                found = provider_id
        return found

    def _settle_discounts(self) -> tuple[list[str], list[str]]:
        """Key each discount by the catalog's own names, so that it applies however the
        file spelt them: the provider through its aliases (``gemini`` -> ``google``,
        ``azure_openai`` -> ``azure``), the model by the entry it resolves to for that
        provider (``claude-sonnet-4-5-20250929`` and ``claude-sonnet-4.5`` ->
        ``claude-sonnet-4-5``). Returns the discounts that match nothing and so never
        apply (kept out), one message each; and apart, those whose provider is unknown."""
        problems: list[str] = []
        unknown_providers: list[str] = []
        discounts: dict[tuple[str, str | None], float] = {}
        providers = sorted(self._providers)
        for provider_name, model_name, factor, label, index in self._discount_defs:
            provider_id = self.provider_id(provider_name)
            if provider_id is None or provider_id not in self._providers:
                close = difflib.get_close_matches(provider_name.strip().lower(), providers, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                unknown_providers.append(
                    f"{_locate(label, ('discounts', index, 'provider'))}: discounts[{index}].provider:"
                    f" {provider_name!r} is no provider the catalog knows (the discount never applies){hint}"
                )
                problems.append(unknown_providers[-1])
                continue
            model_key = None
            if model_name is not None:
                try:
                    model_key = self._resolve(model_name, provider_id).model.model_id.lower()
                except PricingError as exc:
                    why = f" ({exc})" if isinstance(exc, AmbiguousModelError) else ""
                    problems.append(
                        f"{_locate(label, ('discounts', index, 'model'))}: discounts[{index}].model:"
                        f" {model_name!r} is no {provider_id} model the catalog knows, so the discount"
                        f" never applies{why}"
                    )
                    continue
            discounts[(provider_id, model_key)] = factor
        self._discounts = discounts
        return problems, unknown_providers

    def _finish(self) -> None:
        problems: list[str] = []
        tools = self._tools
        for names, tool, label, is_override in self._tool_defs:
            compiled_tool = _compile_tool(tool, label, is_override)
            if is_override:
                # A file of the user's that prices a tool the catalog has, by its name or one
                # of its aliases, prices that tool: every name that reached the earlier one
                # (``web_search_call`` for ``openai.web_search``) now reaches this one, or a
                # span named by an alias would still be billed the old fee.
                replaced = {id(tools[key]) for key in map(str.lower, names) if key in tools}
                if replaced:
                    for key, earlier in list(tools.items()):
                        if id(earlier) in replaced:
                            tools[key] = compiled_tool
            for name in names:
                tools[name.lower()] = compiled_tool
        for provider_id, provider in self._meta.items():
            for alias in (provider_id, *provider["aliases"]):
                self._aliases[alias.lower()] = provider_id
        for provider_id, provider in self._meta.items():
            fallbacks: list[str] = []
            for fallback in provider["fallbacks"]:
                # an alias names its provider here too (``fallbacks: [bedrock]``)
                known = fallback if fallback in self._meta else self._aliases.get(fallback.lower())
                if known is None:
                    problems.append(self._unknown_fallback(provider_id, fallback))
                elif known != provider_id and known not in fallbacks:
                    fallbacks.append(known)
            layers = self._layers.get(provider_id, {})
            for layer in layers.values():
                layer.by_prefix.sort(key=lambda item: -len(item[0]))
            self._providers[provider_id] = _ProviderIndex(
                entry_id=provider_id,
                priority=provider["priority"],
                prefixes=tuple(p.lower() for p in provider["model_prefixes"]),
                fallbacks=tuple(fallbacks),
                regional=tuple(sorted(provider["regional_prefixes"].items(), key=lambda kv: -len(kv[0]))),
                regional_exempt=tuple(provider.get("regional_exempt", ())),
                unpriced_prefixes=tuple(p.lower() for p in provider.get("unpriced_prefixes", ())),
                fallback_per_search=provider.get("fallback_per_search"),
                named_only=bool(provider.get("named_only", False)),
                implied_vendors=tuple(
                    sorted(
                        (
                            (start.lower(), vendor.lower())
                            for start, vendor in provider.get("implied_vendors", {}).items()
                        ),
                        key=lambda item: -len(item[0]),
                    )
                ),
                layers=[layers[rank] for rank in sorted(layers)],
                ranks=tuple(sorted(layers)),
            )
        if problems:
            raise CatalogError(problems)

    def _unknown_fallback(self, provider_id: str, fallback: str) -> str:
        """A fallback naming no provider, with the file, line and field that gave it."""
        close = difflib.get_close_matches(fallback.lower(), sorted(self._aliases), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        what = f"{fallback!r} is not a provider in the catalog (a fallback of provider {provider_id}){hint}"
        origin = self._fallback_defs.get((provider_id, fallback))
        if origin is None:  # (from a compiled catalog: its file is not known)
            return f"provider {provider_id}: fallbacks: {what}"
        label, p_index, f_index = origin
        loc = ("providers", p_index, "fallbacks", f_index)
        return f"{_locate(label, loc)}: providers[{p_index}].fallbacks[{f_index}]: {what}"

    def compiled_state(self) -> dict[str, Any]:
        """This catalog's build state as plain data (for the compiled snapshot)."""
        return {
            "sources": list(self.sources),
            "meta": self._meta,
            "layers": {
                provider_id: [
                    [rank, layer.label, layer.exact, layer.by_prefix, layer.by_regex]
                    for rank, layer in sorted(layers.items())
                ]
                for provider_id, layers in self._layers.items()
            },
            "raw": {pricing_id: list(self._unpacked(pricing_id, periods=True)) for pricing_id in self._raw},
            "tools": [list(item) for item in self._tool_defs],
            "discounts": [[p, m, factor] for (p, m), factor in self._discounts.items()],
        }

    @property
    def _ids(self) -> dict[tuple[str, str], str]:
        """(provider id, lower-cased model id) -> pricing id; built on first use."""
        ids = self._ids_built
        if ids is None:
            ids = {}
            for pricing_id in self._raw:
                provider_id, model, _, _ = self._unpacked(pricing_id)
                ids[(provider_id, model[0].lower())] = pricing_id
            self._ids_built = ids
        return ids

    def _unpacked(self, pricing_id: str, *, periods: bool = False) -> _RawModel:
        """The raw model of an id; ``periods``: with its price periods decoded
        (the compiled state keeps them in the models file until needed)."""
        return self._unpack(self._raw[pricing_id], periods=periods)

    def _unpack(self, raw: _RawModel | str, *, periods: bool = False) -> _RawModel:
        if isinstance(raw, str):
            provider_id, model_id, kind, origin, label, override, start, end, name = raw.split("\x1f")
            model: list[Any] = [model_id, kind, origin, [], [], [], [int(start), int(end)], name or None]
            raw = (provider_id, model, label, override == "1")
        if periods:
            provider_id, model, label, is_override = raw
            span = model[6]
            if span and isinstance(span[0], int):
                # [start, end) of this model's periods in the compiled models file
                model = [*model[:6], json.loads(self._bodies[span[0] : span[1]]), *model[7:]]
                raw = (provider_id, model, label, is_override)
        return raw

    def _restore(self, state: dict[str, Any]) -> None:
        self._bodies = state.get("bodies", b"")
        self._meta = state["meta"]
        self._layers = {
            provider_id: {
                rank: _Layer(label, exact, [(p[0], p[1]) for p in prefixes], [(r[0], r[1]) for r in regexes])
                for rank, label, exact, prefixes, regexes in layers
            }
            for provider_id, layers in state["layers"].items()
        }
        self._raw = dict(state["raw"])  # packed strings, unpacked when used
        self._ids_built = None
        self._tool_defs = [(t[0], t[1], t[2], t[3]) for t in state["tools"]]
        self._discount_defs = [
            (p, m, factor, "catalog:compiled", i) for i, (p, m, factor) in enumerate(state["discounts"])
        ]

    def entry(self, pricing_id: str) -> ModelPricing:
        """The entry of ``pricing_id`` (``openai/gpt-4o``); ``KeyError`` if none.
        Entries are compiled from the snapshot on first use."""
        built = self._built.get(pricing_id)
        if built is None:
            provider_id, model, label, is_override = self._unpacked(pricing_id, periods=True)
            built = _build_model(pricing_id, provider_id, model, label, is_override)
            self._built[pricing_id] = built
        return built

    def _catalog_entry(self, entry: ModelPricing) -> ModelPricing:
        """The catalog's own entry that a user's ``entry`` of the same id replaced (``entry``
        itself when it replaced none): for a provider that falls back to the entry's."""
        pricing_id = entry.pricing_id
        replaced = self._replaced.get(pricing_id)
        if replaced is None:
            return entry
        built = self._replaced_built.get(pricing_id)
        if built is None:
            provider_id, model, label, is_override = self._unpack(replaced, periods=True)
            built = self._replaced_built[pricing_id] = _build_model(pricing_id, provider_id, model, label, is_override)
        return built

    def layer_of(self, entry_or_id: ModelPricing | str) -> str:
        """``override``, ``curated`` or ``imported`` for an entry's file. Given the entry a
        resolution found, rather than its id: a catalog entry that a user's replaced, which
        still prices another provider's calls (Azure's, of OpenAI's models), is the catalog's."""
        if isinstance(entry_or_id, ModelPricing):
            label, is_override = entry_or_id.defined_in, entry_or_id.is_override
        else:
            _, _, label, is_override = self._unpacked(entry_or_id)
        if is_override:
            return "override"
        return "imported" if label.startswith("catalog:imported/") else "curated"

    # -------------------------------------------------------------- queries

    @property
    def models(self) -> dict[str, ModelPricing]:
        """Every entry, by pricing id (``openai/gpt-4o``). Builds all of them:
        for reports and tests, not the span path."""
        return {pricing_id: self.entry(pricing_id) for pricing_id in self._raw}

    @property
    def model_count(self) -> int:
        return len(self._raw)

    def pricing_ids(self) -> tuple[str, ...]:
        """Every entry's pricing id (``openai/gpt-4o``), in load order: what a caller
        walking the whole catalog needs without building each entry (:attr:`models`
        builds them all) or reading the catalog's internal tables."""
        return tuple(self._raw)

    def provider_ids(self) -> list[str]:
        return sorted(self._providers)

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
        if not name or name in _FRAMEWORK_NAMES:
            return None
        found = self._aliases.get(name)
        if found is not None:
            return found
        # Vercel AI SDK: "openai.chat", "anthropic.messages", "google.vertex.chat":
        # the longest dotted prefix that names a provider wins.
        while "." in name:
            name = name.rsplit(".", 1)[0]
            found = self._aliases.get(name)
            if found is not None:
                return found
        return None

    def near_misses(self, model: str, provider: str | None = None, limit: int = 3) -> list[str]:
        """What a name that did not resolve was probably meant to be: the closest
        provider names when ``provider`` names none, else the pricing ids whose model
        is closest to ``model`` (within that provider). For messages to a person,
        not the span path: it compares against every entry."""
        if provider and self.provider_id(provider) is None:
            return difflib.get_close_matches(provider.strip().lower(), sorted(self._aliases), n=limit)
        provider_id = self.provider_id(provider)
        by_name: dict[str, tuple[int, str]] = {}  # model -> (provider priority, pricing id)
        for (entry_provider, name), pricing_id in self._ids.items():
            if provider_id is None or entry_provider == provider_id:
                index = self._providers.get(entry_provider)
                candidate = (index.priority if index is not None else 1 << 30, pricing_id)
                by_name[name] = min(by_name.get(name, candidate), candidate)
        close = difflib.get_close_matches(model.strip().lower(), list(by_name), n=limit)
        return [by_name[name][1] for name in close]

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
                # Kept without its traceback, whose frames (and their callers') it would
                # keep alive for as long as the cache holds it.
                hit = copy.copy(exc)
            # No model is named longer: a stream of distinct ones (hostile, or a prompt in the
            # model attribute) would fill the cache with megabytes of keys.
            if len(model) <= _MAX_CACHED_NAME and (provider is None or len(provider) <= _MAX_CACHED_NAME):
                fast = None if isinstance(hit, PricingError) else _fast_of(hit)
                with self._cache_lock:
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache.clear()
                        self._fast_by_name.clear()
                    self._cache[key] = hit
                    self._fast_by_name.setdefault(model, {})[provider] = fast
        if isinstance(hit, PricingError):
            # A copy: the cached error raised again would gather every frame it passes
            # through in its traceback, and keep them (the caller's locals, the exporter's
            # whole batch) alive for as long as the cache holds it.
            raise copy.copy(hit)
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
        duration_s: float | None = None,
    ) -> CostBreakdown:
        """Price one call. ``at`` (a datetime or UNIX seconds) picks the price in
        force then, and any time window (off-peak hours) open then; ``None`` means
        now: never a price announced for a later date."""
        # The fast path: a resolved pair (cached, with its precomputed rate tables),
        # text tokens at plain per-token rates. Anything else, invalid counts
        # included, takes the general path, which decides (and raises) as always.
        try:
            fast = self._fast_by_name[model][provider]
        except KeyError:  # not resolved yet: the general path resolves (or raises)
            fast = None
        if service_tier is not None:
            service_tier = _normal_tier(service_tier)
        if fast is not None and service_tier is None and not batch:
            plan = plan_at(fast, at if at is None or type(at) is float else _seconds(at))
            if plan is not None:
                cost = fast_breakdown(plan, usage, True)
                if cost is not None:
                    return cost
        return self._price_general(
            usage, model, provider, at=at, service_tier=service_tier, batch=batch, duration_s=duration_s
        )

    def _price_general(
        self,
        usage: TokenUsage,
        model: str,
        provider: str | None = None,
        *,
        at: dt.datetime | float | None = None,
        service_tier: str | None = None,
        batch: bool = False,
        duration_s: float | None = None,
    ) -> CostBreakdown:
        """:meth:`price` without the fast path (every case; the reference for it)."""
        hit = self._cache.get((provider, model))
        resolution = hit if isinstance(hit, Resolution) else self.resolve(model, provider)
        when = time.time() if at is None else at if at.__class__ is float else _timestamp(at)
        entry = resolution.model
        periods = entry.periods
        period = periods[-1] if len(periods) == 1 else calc.period_at(entry, when)
        if (
            not period.windows
            and not batch
            and resolution.multiplier == 1.0
            and resolution.fee_multiplier == 1.0
            and service_tier is None
        ):
            # The common case without the keyword hops of price_resolved (same result).
            rates = period.rates
            adjustments = resolution.adjustments
            check = True
            if period.long_context:
                calc.check_usage(usage)
                check = False
                rates, adjustments = _past_cliff(period, usage, adjustments)
            if rates.plain:
                fast = calc.fast_cost(rates, usage, entry.pricing_id, period.start_label, adjustments, check)
                if fast is not None:
                    return fast
        calc.check_usage(usage)
        return self._price_resolved_general(
            resolution,
            usage,
            at=when,
            service_tier=service_tier,
            batch=batch,
            check=False,
            duration_s=duration_s,
        )

    def price_resolved(
        self,
        resolution: Resolution,
        usage: TokenUsage,
        *,
        at: float | None = None,
        service_tier: str | None = None,
        batch: bool = False,
        check: bool = True,
        duration_s: float | None = None,
    ) -> CostBreakdown:
        """Price ``usage`` with an entry already resolved, at UNIX time ``at``
        (``None``: now). ``duration_s`` (the span's duration) prices models billed
        per GPU-second."""
        fast = resolution._fast
        if fast is None:
            fast = _fast_of(resolution)
        if service_tier is not None:
            service_tier = _normal_tier(service_tier)
        if not batch and (service_tier is None or service_tier in calc.DEFAULT_TIERS):
            # The fast path, as in price(); with check=False, counts that are not
            # ints in range take the general path too (which uses them as given).
            plan = plan_at(fast, at)
            if plan is not None:
                cost = fast_breakdown(plan, usage, check)
                if cost is not None:
                    return cost
        return self._price_resolved_general(
            resolution,
            usage,
            at=at,
            service_tier=service_tier,
            batch=batch,
            check=check,
            duration_s=duration_s,
        )

    def _fast_price(self, resolution: Resolution, usage: TokenUsage, at: float | None) -> CostBreakdown | None:
        """:meth:`price_resolved`'s fast path alone, for a call with no service tier, not
        batched, its counts unchecked (``check=False``): ``None`` where that would take the
        general path. For the span processor, which prices every call: without the keyword
        arguments and the duration that only the general path reads, about a fifth less."""
        fast = resolution._fast
        if fast is None:
            fast = _fast_of(resolution)
        plan = plan_at(fast, at)
        return fast_breakdown(plan, usage, False) if plan is not None else None

    def list_price(self, resolution: Resolution, usage: TokenUsage) -> CostBreakdown:
        """``usage`` at the newest rates the entry lists, outside any time window
        (off-peak hours): what a price sheet shows, the same whatever the time. For
        comparing sources (``genai-cost pricing diff``); a call is priced at its time."""
        return self._price_resolved_general(resolution, usage, list_price=True)

    def _price_resolved_general(
        self,
        resolution: Resolution,
        usage: TokenUsage,
        *,
        at: float | None = None,
        service_tier: str | None = None,
        batch: bool = False,
        check: bool = True,
        duration_s: float | None = None,
        list_price: bool = False,
    ) -> CostBreakdown:
        """:meth:`price_resolved` without the fast path (every case; the reference for it).
        ``list_price``: the newest period, outside any time window (``at`` unused)."""
        if service_tier is not None:
            service_tier = _normal_tier(service_tier)
        entry = resolution.model
        periods = entry.periods
        if list_price:
            at = None  # (calc: no window applies)
            period = periods[-1]
        else:
            if at is None:
                at = time.time()
            period = periods[-1] if len(periods) == 1 else calc.period_at(entry, at)
        if (
            period.plain
            and not batch
            and resolution.multiplier == 1.0
            and resolution.fee_multiplier == 1.0
            and (service_tier is None or service_tier in calc.DEFAULT_TIERS)
        ):
            if period.rates.plain:
                fast = calc.fast_cost(
                    period.rates, usage, entry.pricing_id, period.start_label, resolution.adjustments, check
                )
                if fast is not None:
                    return fast
            return calc.cost_of(
                period.rates,
                usage,
                check=check,
                pricing_id=entry.pricing_id,
                effective_from=period.start_label,
                adjustments=resolution.adjustments,
                duration_s=duration_s,
            )
        if (
            period.long_context
            and not period.windows
            and not batch
            and resolution.multiplier == 1.0
            and resolution.fee_multiplier == 1.0
            and (service_tier is None or service_tier in calc.DEFAULT_TIERS)
        ):
            # A long-context model without tier or window: the tier's rates are precomputed.
            if check:
                calc.check_usage(usage)
            rates, adjustments = _past_cliff(period, usage, resolution.adjustments)
            if rates.plain:
                fast = calc.fast_cost(rates, usage, entry.pricing_id, period.start_label, adjustments, False)
                if fast is not None:
                    return fast
        rates, notes = calc.effective_rates(
            period,
            usage,
            at=at,
            service_tier=service_tier,
            batch=batch,
            multiplier=resolution.multiplier,
            fee_multiplier=resolution.fee_multiplier,
        )
        return calc.cost_of(
            rates,
            usage,
            check=check,
            pricing_id=entry.pricing_id,
            effective_from=period.start_label,
            adjustments=resolution.adjustments + notes if notes else resolution.adjustments,
            duration_s=duration_s,
        )

    # ---------------------------------------------------------- resolution

    def _resolve(self, model: str, provider: str | None) -> Resolution:
        name = model.strip().lower()
        if not name:
            raise UnknownModelError("the span names no model")
        if name.startswith("arn:"):
            name = name.rsplit("/", 1)[-1]
        provider_id = self.provider_id(provider)
        if provider and provider_id is None and provider.strip().lower() not in _FRAMEWORK_NAMES:
            raise UnknownModelError(
                f"provider {provider!r} is not in the pricing catalog; add it in a pricing file",
                reason=REASON_UNKNOWN_PROVIDER,
            )
        how: list[str] = []
        if "/" in name:
            head, tail = name.split("/", 1)
            named = self._aliases.get(head)
            if named is not None and (provider_id is None or provider_id == named or provider_id in _FRAMEWORK_NAMES):
                if (named, name) in self._ids and not self._known_unprefixed(named, name, tail):
                    # The provider's own ids carry the prefix (``perplexity/sonar``).
                    how.append(f"provider {named} has an entry named {name!r}")
                elif (named, name) in self._ids:
                    how.append(
                        f"prefix {head + '/'!r} names provider {named}; a stronger layer knows {tail!r}"
                        f" (over the entry named {name!r})"
                    )
                    name = tail
                else:
                    how.append(f"prefix {head + '/'!r} names provider {named}")
                    name = tail
                provider_id = named
        try:
            if provider_id is not None:
                resolution = self._resolve_in_chain(name, provider_id, how)
            else:
                resolution = self._resolve_anywhere(name, model, how)
        except UnknownModelError:
            self._refuse_unpriced_deployment(name, model, (provider_id,), None)  # the clearer reason, if it applies
            raise
        self._refuse_unpriced_deployment(name, model, (provider_id, resolution.model.provider_id), resolution.model)
        return resolution

    def _refuse_unpriced_deployment(
        self, name: str, model: str, providers: tuple[str | None, ...], entry: ModelPricing | None
    ) -> None:
        """A name of a deployment with a price sheet of its own (``us-gov.``) that matched an
        entry meant for another one (an imported pattern ``.*claude-3-5-sonnet.*``) is not
        priced: only an entry of the user's, or one spelled with the prefix, prices it."""
        if entry is not None and entry.is_override:
            return
        for owner in dict.fromkeys(filter(None, providers)):
            index = self._providers[owner]
            unprefixed = _strip_prefixes(name, index.prefixes)
            for prefix in index.unpriced_prefixes:
                if unprefixed.startswith(prefix) and (entry is None or not entry.model_id.lower().startswith(prefix)):
                    raise UnpricedDeploymentError(
                        f"model {model!r}: {owner} bills {prefix!r} deployments from a price sheet the"
                        " catalog does not carry; add the model in a pricing file"
                    ) from None

    def _resolve_in_chain(self, name: str, provider_id: str, how: list[str]) -> Resolution:
        index = self._providers[provider_id]
        stripped = _strip_prefixes(name, index.prefixes)
        if stripped != name and (
            (provider_id, name) not in self._ids or self._known_unprefixed(provider_id, name, stripped)
        ):
            # ``models/gemini-2.5-pro``; unless an entry is named so (``gemini/deep-research-max-preview-04-2026``)
            # and no stronger layer knows the model by its own name
            name = stripped
        if index.implied_vendors:
            qualified = self._with_vendor(index, name)
            if qualified != name:
                # Read as the full id first (its own entry, its regional rule); a name
                # of the user's own spelled without a vendor still matches as recorded.
                trial = [*how, f"no vendor in the model id: read as {qualified}"]
                try:
                    return self._resolve_in_chain(qualified, provider_id, trial)
                except UnknownModelError:
                    pass
        multiplier = 1.0
        adjustments: list[str] = []
        full_name = name
        for prefix, factor in index.regional:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                if factor != 1.0 and _regional_exempt(index.regional_exempt, full_name, len(prefix)):
                    factor = 1.0
                    how.append(f"regional prefix {prefix!r} (no uplift for this model)")
                else:
                    how.append(f"regional prefix {prefix!r} (x{factor:g})")
                multiplier *= factor
                adjustments.append(f"region={prefix.rstrip('.') or 'in-region'}x{factor:g}")
                break
        chain = self._chain(provider_id)
        # User files beat the curated catalog, which beats imported data, across the
        # whole chain: a curated fallback (Bedrock -> Anthropic) wins over an
        # imported entry of the serving provider itself. A user's entries of a fallback
        # come last (_CHAIN_PASSES): a price of the user's is what that provider bills
        # them (a contract), as a discount is, not what the serving provider bills.
        for low, high, positions in _CHAIN_PASSES:
            if full_name != name and positions.start == 0:
                # An entry for the regional profile itself (priced with its uplift) wins,
                # unless a stronger layer knows the model by its own name.
                found = self._profile_entry(index, full_name, name, low, high)
                if found is not None:
                    entry, rule = found
                    factor, discount_note = self._discount(provider_id, entry)
                    return Resolution(
                        entry,
                        "; ".join([*how[:-1], rule]),
                        factor,
                        (discount_note,) if discount_note else (),
                        factor,
                    )
            for position in range(positions.start, min(positions.stop, len(chain))):
                candidate = chain[position]
                variants = [name]
                if position > 0:
                    variants += _fallback_variants(name, candidate)
                for variant in variants:
                    found = self._match_in(self._providers[candidate], variant, low, high)
                    if found is None:
                        continue
                    entry, rule = found
                    if position > 0 and low != _RANK_OVERRIDE and entry.is_override:
                        # Named by the catalog's layer, replaced by a user's entry of that id:
                        # the serving provider bills at the catalog's price, not the user's.
                        entry = self._catalog_entry(entry)
                    if position > 0 and positions.start > 0:
                        how.append(
                            f"no entry prices it for {provider_id}; your pricing file's, of {candidate}"
                            f" (whose models {provider_id} serves)"
                        )
                    elif position > 0:
                        layer = _CLASS_NAMES.get(low, "")
                        how.append(f"{provider_id} has no {layer}entry; served models of {candidate}")
                    how.append(rule)
                    fee = index.fallback_per_search
                    if position > 0 and fee is not None and bills_searches(entry):
                        entry = self._with_search_fee(entry, fee)
                        how.append(f"web searches at {provider_id}'s fee (${fee * 1000:g} / 1,000)")
                    factor, discount_note = self._discount(provider_id, entry)
                    if discount_note:
                        adjustments.append(discount_note)
                    return Resolution(
                        entry, "; ".join(how), multiplier * factor, tuple(adjustments), factor, _match_kind(rule)
                    )
        raise UnknownModelError(f"model {name!r} is not in the pricing catalog for provider {provider_id}")

    @staticmethod
    def _with_vendor(index: _ProviderIndex, name: str) -> str:
        """``name`` with the vendor prefix the provider's ids carry, when it was recorded
        without one (``us.claude-...`` -> ``us.anthropic.claude-...``)."""
        profile = next((prefix for prefix, _ in index.regional if prefix and name.startswith(prefix)), "")
        bare = name[len(profile) :]
        if any(bare.startswith(vendor) for _, vendor in index.implied_vendors):
            return name
        for start, vendor in index.implied_vendors:
            if bare.startswith(start):
                return f"{profile}{vendor}{bare}"
        return name

    def _chain(self, provider_id: str) -> list[str]:
        """The provider, then the providers it serves models of (transitively)."""
        chain = [provider_id]
        for candidate in chain:
            for fallback in self._providers[candidate].fallbacks:
                if fallback not in chain:
                    chain.append(fallback)
        return chain

    def _known_unprefixed(self, provider_id: str, spelled: str, bare: str) -> bool:
        """Whether a layer of the provider stronger than the one naming an entry
        ``spelled`` with a provider prefix (LiteLLM's ``deepseek/deepseek-chat``) knows
        the model by its own name ``bare``, exactly or as a dated snapshot. Then the
        prefix is only a spelling of that model, priced as ``bare`` is (genai-prices'
        ``deepseek-chat``, with DeepSeek's off-peak windows; a curated entry before an
        imported one). The providers it serves models of are not asked: an entry of the
        serving provider's own (``azure_ai/gpt-5.4``) is more specific than theirs."""
        index = self._providers[provider_id]
        layers = list(zip(index.ranks, index.layers, strict=True))
        rank = next((r for r, layer in layers if spelled in layer.exact), None)
        if rank is None:
            return False
        wanted = (bare, _DATE_SUFFIX.sub("", bare))
        return any(r < rank and (wanted[0] in layer.exact or wanted[1] in layer.exact) for r, layer in layers)

    def _resolve_anywhere(self, name: str, original: str, how: list[str]) -> Resolution:
        best: list[tuple[int, ModelPricing, str]] = []
        ordered = sorted(self._providers.values(), key=lambda p: (p.priority, p.entry_id))
        # User files, then curated entries, then imported ones: a curated match in any
        # provider beats imported data (a reseller's copy of the name is not a tie).
        for low, high in _RANK_CLASSES:
            for index in ordered:
                if best and index.priority > best[0][0]:
                    break
                if index.named_only:
                    continue
                found = self._match_in(index, _strip_prefixes(name, index.prefixes), low, high)
                if found is not None:
                    best.append((index.priority, found[0], found[1]))
            if best:
                break
        if not best:
            raise UnknownModelError(f"model {original!r} is not in the pricing catalog (no provider on the span)")
        distinct = {entry.pricing_id for _, entry, _ in best}
        if len(distinct) > 1:
            # A name one provider lists as it is beats another's looser rule: Bedrock's
            # ``us.anthropic.claude-sonnet-4-20250514-v1:0`` is not Vertex's ``claude-4-sonnet``
            # pattern (a framework's span, Strands', names no provider).
            by_name = [found for found in best if not found[2].startswith(_LOOSE_RULES)]
            if len({entry.pricing_id for _, entry, _ in by_name}) == 1:
                best, distinct = by_name, {by_name[0][1].pricing_id}
        if len(distinct) > 1:
            raise AmbiguousModelError(
                f"model {original!r} matches {', '.join(sorted(distinct))}; set gen_ai.provider.name on the span"
            )
        _, entry, rule = best[0]
        how.append(f"no provider on the span; {rule}")
        factor, note = self._discount(entry.provider_id, entry)
        return Resolution(entry, "; ".join(how), factor, (note,) if note else (), factor, _match_kind(rule))

    def _profile_entry(
        self, index: _ProviderIndex, full_name: str, name: str, low: int, high: int
    ) -> tuple[ModelPricing, str] | None:
        undated = _DATE_SUFFIX.sub("", name)
        for rank, layer in zip(index.ranks, index.layers, strict=True):
            if not low <= rank <= high:
                continue
            candidates = layer.exact.get(full_name)
            if isinstance(candidates, str):
                return self.entry(candidates), f"exact name {full_name!r} in {index.entry_id} ({layer.label})"
            if name in layer.exact or undated in layer.exact:
                return None
        return None

    def _match_in(
        self, index: _ProviderIndex, name: str, low: int = 0, high: int = 1 << 30, *, exact_only: bool = False
    ) -> tuple[ModelPricing, str] | None:
        """The best match of ``name`` among a provider's entries of ranks
        ``low..high``: an exact name (or the name without a date suffix), then
        the longest prefix, then patterns in order; at each stage the stronger
        layer first. Callers go through the rank classes one at a time (user
        files, curated, imported), so between imported datasets an exact name
        beats another dataset's looser rule."""
        undated = _DATE_SUFFIX.sub("", name)
        layers = [layer for rank, layer in zip(index.ranks, index.layers, strict=True) if low <= rank <= high]
        names = [(name, "exact name"), (undated, "dated snapshot of")]
        base = _fine_tuned_base(name)
        if base is not None:  # ``ft:gpt-4.1-2025-04-14:acme::abc``: the fine-tuned model's own entry
            names.append((base, "fine-tuned model"))
            # ``ft:gpt-4o-2024-11-20:acme::abc``: a dated snapshot of ``ft:gpt-4o``, as the
            # id ``ft:gpt-4o-2024-11-20`` is (a stronger layer's ``ft:gpt-4o`` wins over
            # a weaker layer's exact ``ft:gpt-4o-2024-11-20``)
            undated_base = _DATE_SUFFIX.sub("", base)
            if undated_base != base:
                names.append((undated_base, "fine-tuned model, dated snapshot of"))
        for wanted, how in names:
            if wanted is not name and wanted == name:
                continue
            for layer in layers:
                candidates = layer.exact.get(wanted)
                if candidates is not None:
                    if not isinstance(candidates, str):
                        ids = ", ".join(sorted(candidates))
                        raise AmbiguousModelError(f"model {name!r} matches several entries: {ids}")
                    return self.entry(candidates), f"{how} {wanted!r} in {index.entry_id} ({layer.label})"
        if exact_only:
            return None
        for layer in layers:
            for prefix, pricing_id in layer.by_prefix:
                if name.startswith(prefix):
                    return self.entry(pricing_id), f"prefix {prefix!r} of {pricing_id} ({layer.label})"
        for layer in layers:
            for pattern, pricing_id in layer.by_regex:
                compiled_pattern = self._regex.get(pattern)
                if compiled_pattern is None:
                    compiled_pattern = self._regex[pattern] = re.compile(pattern, re.IGNORECASE)
                if compiled_pattern.fullmatch(name):
                    return self.entry(pricing_id), f"pattern {pattern!r} of {pricing_id} ({layer.label})"
        return None

    def _with_search_fee(self, entry: ModelPricing, fee: float) -> ModelPricing:
        # (The entry's layer too: a user's entry and the catalog's it replaced share an id.)
        key = (entry.pricing_id, fee, entry.is_override)
        found = self._search_fee_entries.get(key)
        if found is None:
            found = self._search_fee_entries[key] = with_search_fee(entry, fee)
        return found

    def _discount(self, provider_id: str, entry: ModelPricing) -> tuple[float, str]:
        # A discount is negotiated with whoever bills the call: the serving provider
        # (an Anthropic contract does not discount Claude bought through Bedrock).
        factor = self._discounts.get((provider_id, entry.model_id.lower()))
        if factor is None:
            factor = self._discounts.get((provider_id, None))
        if factor is None:
            return 1.0, ""
        return factor, f"{calc.DISCOUNT_NOTE}{round((1 - factor) * 100, 4):g}%"


# --------------------------------------------------------------- compilation


def _past_cliff(period: Period, usage: TokenUsage, adjustments: tuple[str, ...]) -> tuple[Rates, tuple[str, ...]]:
    """The base rates, or the precomputed rates of the long-context tier whose
    threshold the call's total input passed (a cliff: every token at that rate)."""
    for tier in period.long_context:
        if usage.input_tokens > tier.above_input_tokens and tier.merged is not None:
            return tier.merged, (*adjustments, f"long_context>{tier.above_input_tokens}")
    return period.rates, adjustments


def _fast_of(resolution: Resolution) -> Fast:
    """The fast-path rate tables of a resolution, built on first use and kept on it."""
    fast = resolution._fast
    if fast is None:
        try:
            fast = fast_plan(resolution.model, resolution.multiplier, resolution.adjustments)
        except Exception:  # an entry it cannot read (no periods?): the general path decides
            fast = NO_FAST
        object.__setattr__(resolution, "_fast", fast)  # a cache: same value whoever builds it
    return fast


def pricing_file_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The pricing files ``paths`` name, in order: a directory stands for its
    ``*.yaml`` / ``*.yml`` files, sorted by name (as ``GENAI_COST_PRICING_FILE``,
    ``--pricing-file`` and ``pricing validate`` read it). A directory with none stands
    for itself, so that reading it fails, naming it: an empty or mistaken directory must
    not pass for a pricing layer that applies nothing."""
    if isinstance(paths, (str, os.PathLike)):
        paths = (paths,)  # one path, not the characters of one
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        found = yaml_files_in(path) if path.is_dir() else [path]
        files.extend(found or [path])
    return files


def empty_file_problem(ir: dict[str, Any], label: str) -> str | None:
    """Why the pricing file ``label`` (its compiled form ``ir``) is as good as no file, or
    ``None``. An empty file, one of comments only, or ``{}`` / empty lists, parses as a
    valid file that changes nothing: pointed at by mistake (the wrong path, a file not yet
    written), it would leave every price at list price without a word."""
    if ir["providers"] or ir["tools"] or ir["discounts"]:
        return None
    if ir.get("infrastructure") is not None or ir.get("human_escalation") is not None:
        return None
    return (
        f"{label}: holds no prices: no providers, tools, discounts, infrastructure or human_escalation"
        " (the file is empty, only comments, or only empty lists); is it the file you meant?"
    )


def yaml_files_in(directory: Path) -> list[Path]:
    """The ``*.yaml`` and ``*.yml`` files of ``directory``, sorted by name (not its
    ``.html`` or ``.xml`` files, which a glob of ``*.y*ml`` would take too)."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and not p.is_dir())


def _locate(label: str, loc: tuple[str | int, ...]) -> str:
    """``label:line`` of a place in a user's pricing file (re-read: for error messages
    only); a shipped file's label alone."""
    if label.startswith("catalog:"):
        return label
    from .files import locate

    return locate(label, loc)


def _normal_tier(service_tier: str | None) -> str | None:
    """A service tier as the catalog names it: lower-cased, trimmed (``Flex`` is
    ``flex``; a span's tier is lower-cased when read); ``None`` for none or blank."""
    if service_tier is None:
        return None
    tier = service_tier.strip().lower()
    return tier or None


def default_pricing_dir() -> Path:
    """The shipped catalog: inside the installed package, or the repo's ``pricing/``."""
    packaged = Path(__file__).resolve().parent.parent / "_catalog"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "pricing"


def _index_model(layer: _Layer, pricing_id: str, model: list[Any]) -> None:
    exact = layer.exact
    for name in (model[0].lower(), *(n.lower() for n in model[3])):
        bucket = exact.get(name)
        if bucket is None:
            exact[name] = pricing_id  # one entry (the usual case), or a list of several
        elif isinstance(bucket, str):
            if bucket != pricing_id:
                exact[name] = [bucket, pricing_id]
        elif pricing_id not in bucket:
            bucket.append(pricing_id)
    for name in model[4]:
        layer.by_prefix.append((name.lower(), pricing_id))
    for pattern in model[5]:
        layer.by_regex.append((pattern, pricing_id))


def catalog_files(directory: Path) -> list[Path]:
    """The files of the catalog in ``directory`` (the shipped one:
    :func:`default_pricing_dir`), in load order: imported data first (weakest dataset
    first), hand-curated files after, so that curated entries win. What
    ``pricing compile`` compiles and ``pricing diff`` compares, as the catalog loads it."""
    if not directory.is_dir():
        raise CatalogError([f"{directory}: the pricing catalog directory is missing"])
    imported_dir = directory / "imported"
    imported = yaml_files_in(imported_dir) if imported_dir.is_dir() else []
    imported.sort(key=_import_rank)
    curated = yaml_files_in(directory)
    return imported + curated


def _import_rank(path: Path) -> tuple[int, str]:
    for rank, name in enumerate(IMPORT_ORDER):
        if path.name.startswith(name):
            return rank, path.name
    return len(IMPORT_ORDER), path.name


def read_file_ir(
    path: Path,
    snapshot: tuple[str, dict[str, Any]] | None = None,
    *,
    cache: compiled.UserFileCache | None = None,
) -> dict[str, Any]:
    """The compiled form of one pricing file (:func:`compiled.file_ir`): the
    ``snapshot`` entry (sha1, IR) when its digest matches the file's bytes, else the
    ``cache``'s, else the file parsed and validated (the slow path: YAML + pydantic),
    then kept in the ``cache``. :class:`CatalogError` names what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable_pricing_file(path, exc) from None
    sha = compiled.digest(data)
    if snapshot is not None and snapshot[0] == sha:
        return snapshot[1]
    if cache is not None:
        hit = cache.read(sha)
        if hit is not None:
            return hit
    from .files import decode_pricing_text, parse_pricing_text

    ir = compiled.file_ir(parse_pricing_text(decode_pricing_text(data, str(path)), str(path)))
    if cache is not None:
        cache.write(sha, ir)
    return ir


def catalog_version(directory: Path) -> str:
    """The version of the catalog in ``directory`` (its ``VERSION`` file), which every
    priced span carries in ``gen_ai.cost.pricing.version``; ``unversioned`` without one."""
    try:
        return (directory / "VERSION").read_text(encoding="utf-8").strip() or "unversioned"
    except OSError:
        return "unversioned"


def _cache_in(directory: str | os.PathLike[str] | None) -> compiled.UserFileCache | None:
    return None if directory is None else compiled.UserFileCache(Path(directory))


def _merge_provider_meta(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    if old is None:
        return {**new, "models": []}
    return {
        "id": old["id"],
        "name": new["name"] or old["name"],
        "aliases": _union(old["aliases"], new["aliases"]),
        "model_prefixes": _union(old["model_prefixes"], new["model_prefixes"]),
        "fallbacks": _union(old["fallbacks"], new["fallbacks"]),
        "regional_prefixes": {**old["regional_prefixes"], **new["regional_prefixes"]},
        "regional_exempt": _union(old.get("regional_exempt", []), new.get("regional_exempt", [])),
        "unpriced_prefixes": _union(old.get("unpriced_prefixes", []), new.get("unpriced_prefixes", [])),
        "implied_vendors": {**old.get("implied_vendors", {}), **new.get("implied_vendors", {})},
        "fallback_per_search": _later(old.get("fallback_per_search"), new.get("fallback_per_search")),
        "named_only": bool(old.get("named_only", False) or new.get("named_only", False)),
        "priority": min(old["priority"], new["priority"]),
        "models": [],
    }


def _later(old: float | None, new: float | None) -> float | None:
    """A provider setting given in several files: the later file's, if it gives one."""
    return old if new is None else new


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _build_model(pricing_id: str, provider_id: str, model: list[Any], label: str, is_override: bool) -> ModelPricing:
    raw_periods = model[6]
    if isinstance(raw_periods, str):  # kept as text in the compiled state until first use
        raw_periods = json.loads(raw_periods)
    periods = tuple(_build_period(p) for p in raw_periods)
    return ModelPricing(
        pricing_id=pricing_id,
        provider_id=provider_id,
        model_id=model[0],
        kind=model[1],
        # An entry of the user's own files says so (``pricing list --origin user``), whatever
        # the schema's default ("curated", which the shipped files rely on) would say.
        origin="user" if is_override and model[2] == "curated" else model[2],
        defined_in=label,
        is_override=is_override,
        periods=periods,
        period_starts=tuple(p.start for p in periods),
    )


def _tiers(raw: list[Any]) -> tuple[ContextTier, ...]:
    return tuple(
        sorted((ContextTier(above, Rates(*rates)) for above, rates in raw), key=lambda t: -t.above_input_tokens)
    )


def _build_period(raw: list[Any]) -> Period:
    start_text, rates, long_context, tiers, windows, source, checked = raw[:7]
    if start_text is None:
        start_ts, label = float("-inf"), "initial"
    else:
        start = dt.datetime.fromisoformat(start_text)
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.timezone.utc)
        start_ts, label = start.timestamp(), start_text
    base = Rates(*rates)
    return Period(
        plain=not long_context and not windows,
        start=start_ts,
        start_label=label,
        rates=base,
        long_context=tuple(
            ContextTier(t.above_input_tokens, t.rates, base.overridden(t.rates)) for t in _tiers(long_context)
        ),
        service_tiers={name: TierRule(Rates(*tier[1]), tier[0], _tiers(tier[2])) for name, tier in tiers.items()},
        windows=tuple(DailyWindow(w[0], w[1], TierRule(Rates(*w[3]), w[2]), frozenset(w[4]), w[5]) for w in windows),
        source=source,
        checked=checked,
    )


def _compile_tool(tool: dict[str, Any], label: str, is_override: bool) -> ToolPricing:
    return ToolPricing(
        name=tool["name"],
        category=tool["category"],
        per_call=tool["per_call"],
        per_unit=tool["per_unit"],
        unit_attribute=tool["unit_attribute"],
        unit_name=tool["unit_name"],
        source=tool["source"],
        checked=tool["checked"],
        defined_in=label,
        is_override=is_override,
    )


def _timestamp(value: dt.datetime | dt.date | float | None) -> float | None:
    return None if value is None else _seconds(value)


def _seconds(value: dt.datetime | dt.date | float) -> float:
    if isinstance(value, float | int):
        return float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return aware.timestamp()
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()


#: A Google Cloud resource path's project and location, before ``publishers/<maker>/models/``
#: (the full name Vertex AI's SDKs and REST API use for a model).
_GCP_RESOURCE = re.compile(r"projects/[^/]+/locations/[^/]+/")


def _strip_prefixes(name: str, prefixes: tuple[str, ...]) -> str:
    if name.startswith("projects/"):
        resource = _GCP_RESOURCE.match(name)
        if resource is not None:
            inner = name[resource.end() :]
            for prefix in prefixes:
                if prefix.startswith("publishers/") and inner.startswith(prefix):
                    return inner[len(prefix) :]
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _regional_exempt(patterns: tuple[str, ...], full_name: str, start: int) -> bool:
    """Whether a regional profile of the model carries no uplift: a pattern full-matches
    the name after the regional prefix (``full_name[start:]``). A pattern with a
    lookbehind is matched in place, so that the lookbehind sees the prefix: ``(?<=[.])``
    holds after a geo prefix (``us.``), never for an in-region id (no prefix)."""
    for pattern in patterns:
        if "(?<" in pattern:
            if re.compile(pattern, re.IGNORECASE).fullmatch(full_name, start):
                return True
        elif re.fullmatch(pattern, full_name[start:], re.IGNORECASE):
            return True
    return False


def _fine_tuned_base(name: str) -> str | None:
    """The model a fine-tuned id names: ``ft:gpt-4o-mini-2024-07-18:acme:support:abc123``
    -> ``ft:gpt-4o-mini-2024-07-18``. Fine-tuned models have prices of their own, so this
    matches only an entry spelled ``ft:...``, never the base model's."""
    if not name.startswith("ft:"):
        return None
    base, colon, _ = name[3:].partition(":")
    return f"ft:{base}" if colon and base else None


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
