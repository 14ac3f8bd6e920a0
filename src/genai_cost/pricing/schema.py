"""The pricing-file format, as pydantic models.

These models describe what a human writes in ``pricing/*.yaml`` (or a user's own
pricing file). They are strict (``extra="forbid"``) so a typo such as
``cache_reed`` fails loudly with its field named instead of silently pricing
cache reads at zero. They are compiled once into the slotted runtime types of
:mod:`genai_cost.pricing.model`, which the hot path uses.

All token rates are USD per **million** tokens, the unit every vendor's price
page uses, so entries can be checked against the page by eye.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .model import RATE_FIELDS


def _a_number(value: object) -> object:
    """Prices and counts are numbers as written: YAML's ``true`` or a quoted ``"2.5"``
    is a mistake, which pydantic's lax mode would read as 1 or 2.5 without a word."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()} (a boolean)")
    if isinstance(value, str):
        raise ValueError(f"must be a number, not the string {value!r} (write it without quotes)")
    return value


#: A number written as one (an int or a float; never a bool or a string).
_Number = BeforeValidator(_a_number)
NonNegative = Annotated[float, _Number, Field(ge=0, allow_inf_nan=False)]

__all__ = ["RATE_FIELDS"]  # re-exported: it used to live here

ModelKind = Literal["chat", "completion", "embedding", "image", "audio", "rerank", "moderation"]

#: Categories a tool-like span's cost is rolled up under.
ToolCategory = Literal["tool", "retrieval", "embedding", "infra", "human", "llm"]


class _Strict(BaseModel):
    # protected_namespaces: pydantic before 2.10 warns at import about any field named
    # model_* (``model_prefixes``); none of ours shadows a BaseModel method.
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


class RateSet(_Strict):
    """Per-token-class rates; a class left out is not billed separately.

    ``cache_write`` is the default (5-minute) cache write; ``cache_write_1h``
    Anthropic's 1-hour write. ``reasoning`` is only for models that bill
    reasoning apart from output (none of the big three do: it defaults to the
    output rate). ``per_request`` is a flat USD fee per call.
    """

    input: NonNegative | None = None
    cache_read: NonNegative | None = None
    cache_write: NonNegative | None = None
    cache_write_1h: NonNegative | None = None
    output: NonNegative | None = None
    reasoning: NonNegative | None = None
    input_audio: NonNegative | None = None
    cache_read_audio: NonNegative | None = None
    output_audio: NonNegative | None = None
    input_image: NonNegative | None = None
    output_image: NonNegative | None = None
    per_request: NonNegative | None = None
    #: USD per web search the call ran (``$10 per 1,000 searches`` is ``0.01``).
    per_search: NonNegative | None = None
    #: Self-hosted models: USD per GPU-second of the call's duration (times ``gpus``).
    per_gpu_second: NonNegative | None = None


class LongContextTier(RateSet):
    """A cliff: past ``above_input_tokens`` total input (cache included), every
    token of the request is billed at these rates. Rates not given here keep the
    base rate."""

    above_input_tokens: Annotated[int, _Number, Field(gt=0)]


class ServiceTierPrice(RateSet):
    """Rates for one service tier (``flex``, ``priority``, ``scale``, ``batch``).

    Either explicit rates, or a ``multiplier`` applied to the base rates, or
    both (explicit rates win for the classes they name).
    """

    multiplier: NonNegative | None = None
    #: This tier's own long-context cliff, when its long-context rates are not
    #: ``multiplier`` times the base long-context rates.
    long_context: list[LongContextTier] = Field(default_factory=list)


class TimeWindow(RateSet):
    """Rates in force during a daily UTC window (e.g. DeepSeek off-peak).
    ``start`` and ``end`` are ``HH:MM``; a window may wrap midnight; ``start ==
    end`` is the whole day. ``weekdays`` (ISO, 1 Monday .. 7 Sunday; empty: every
    day) limits it to some days, judged at ``weekday_utc_offset_minutes`` (480
    for Beijing time)."""

    start: str
    end: str
    multiplier: NonNegative | None = None
    weekdays: list[Annotated[int, _Number, Field(ge=1, le=7)]] = Field(default_factory=list)
    weekday_utc_offset_minutes: Annotated[int, _Number, Field(ge=-24 * 60, le=24 * 60)] = 0

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be HH:MM in UTC, e.g. 16:30")
        return value


class PricePeriod(RateSet):
    """The price of a model from ``effective_from`` until the next period starts."""

    effective_from: dt.date | dt.datetime | None = None
    long_context: list[LongContextTier] = Field(default_factory=list)
    service_tiers: dict[str, ServiceTierPrice] = Field(default_factory=dict)
    time_windows: list[TimeWindow] = Field(default_factory=list)
    #: GPUs a self-hosted call occupies; multiplies ``per_gpu_second``.
    gpus: Annotated[float, _Number, Field(gt=0, allow_inf_nan=False)] = 1
    source: str = Field(min_length=1)
    checked: dt.date

    @model_validator(mode="after")
    def _has_a_rate(self) -> PricePeriod:
        if all(getattr(self, name) is None for name in (*RATE_FIELDS, "per_request", "per_search", "per_gpu_second")):
            raise ValueError("a price period needs at least one rate (input, output, per_gpu_second, ...)")
        return self


class MatchRule(_Strict):
    """How span model names map onto an entry. Names are compared lower-cased,
    after the provider prefix (``openai/``, ``models/``...) is stripped.

    ``exact`` beats ``prefix``, and the longest prefix wins; ``regex`` is a
    full match and is tried last. Two entries of one provider that match a name
    equally well make the name ambiguous, which is reported, never guessed.
    """

    exact: list[str] = Field(default_factory=list)
    prefix: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return _compiled_regexes(patterns)


class ModelEntry(_Strict):
    id: str = Field(min_length=1)
    name: str | None = None
    kind: ModelKind = "chat"
    match: MatchRule | None = None
    origin: str = "curated"
    prices: list[PricePeriod] = Field(min_length=1)

    @model_validator(mode="after")
    def _periods_in_order(self) -> ModelEntry:
        starts = [p.effective_from for p in self.prices]
        for index, start in enumerate(starts):
            if start is None and index != 0:
                raise ValueError("only the first price period may omit effective_from")
        dated = [_as_datetime(s) for s in starts if s is not None]
        if dated != sorted(dated) or len(set(dated)) != len(dated):
            raise ValueError("price periods must be in strictly increasing effective_from order")
        return self


class ProviderEntry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str | None = None
    #: Values of ``gen_ai.provider.name`` / ``gen_ai.system`` / ``llm.provider`` meaning this provider.
    aliases: list[str] = Field(default_factory=list)
    #: Model-name prefixes stripped before matching (``openai/``, ``models/``).
    model_prefixes: list[str] = Field(default_factory=list)
    #: Providers whose entries price this provider's calls when it has no entry of its own
    #: (an Azure deployment of an OpenAI model is priced as OpenAI's).
    fallbacks: list[str] = Field(default_factory=list)
    #: Regional/geo inference-profile prefixes (Bedrock ``us.``) and their price multiplier.
    regional_prefixes: dict[str, NonNegative] = Field(default_factory=dict)
    #: Models (full-match regexes on the name after the regional prefix) whose
    #: regional / geo profiles cost the same as global: the prefix is stripped
    #: but its multiplier not applied (Bedrock: Claude 3.x, Opus 4 / 4.1, Nova v1).
    regional_exempt: list[str] = Field(default_factory=list)
    #: Model-name prefixes of deployments billed from a price sheet the catalog does not
    #: carry (Bedrock GovCloud ``us-gov.``): such a name is reported ``unknown_model``,
    #: never priced at another region's rate by an entry whose pattern happens to match.
    unpriced_prefixes: list[str] = Field(default_factory=list)
    #: Start of a model name -> the vendor prefix this provider's ids carry before it
    #: (Bedrock ``claude-`` -> ``anthropic.``). A name recorded without its vendor
    #: (OpenLLMetry's Bedrock instrumentation drops it) is read with it, so that it
    #: matches, and its regional rule applies, as the full id would.
    implied_vendors: dict[str, str] = Field(default_factory=dict)
    #: USD per web search of this provider's own search tool, billed instead of the fee of an
    #: entry of a fallback provider (Azure bills its web search at $14 / 1,000 where OpenAI,
    #: whose entries price Azure's calls, bills $10). Only entries that bill searches at all
    #: (a ``per_search`` fee, in the base or a tier) take it.
    fallback_per_search: NonNegative | None = None

    @field_validator("regional_exempt")
    @classmethod
    def _exempt_compiles(cls, patterns: list[str]) -> list[str]:
        return _compiled_regexes(patterns)

    #: First-party providers win when a span names no provider and several match.
    priority: Annotated[int, _Number] = 100
    models: list[ModelEntry] = Field(default_factory=list)


class ToolEntry(_Strict):
    """A tool, external API, vector store or other non-token billable work.

    The cost of one span is ``per_call + per_unit * span.attributes[unit_attribute]``.
    """

    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    category: ToolCategory = "tool"
    per_call: NonNegative = 0.0
    per_unit: NonNegative = 0.0
    unit_attribute: str | None = None
    unit_name: str | None = None
    source: str = Field(min_length=1)
    checked: dt.date

    @model_validator(mode="after")
    def _unit_needs_attribute(self) -> ToolEntry:
        if self.per_unit and not self.unit_attribute:
            raise ValueError("per_unit needs unit_attribute: the span attribute that counts the units")
        return self


class Discount(_Strict):
    """A negotiated discount, in percent off list price, for a provider or one model."""

    provider: str
    model: str | None = None
    percent: Annotated[float, _Number, Field(gt=0, le=100, allow_inf_nan=False)]


class InfrastructureCost(_Strict):
    """Infrastructure allocated to each trace (read by :mod:`genai_cost.layers`):
    ``monthly_usd / monthly_traces`` per trace, or, with ``allocation: per_second``,
    that share times ``trace seconds / average_trace_seconds``."""

    monthly_usd: NonNegative
    monthly_traces: Annotated[float, _Number, Field(gt=0, allow_inf_nan=False)]
    allocation: Literal["per_trace", "per_second"] = "per_trace"
    average_trace_seconds: Annotated[float, _Number, Field(gt=0, allow_inf_nan=False)] = 120.0
    source: str | None = None


class HumanEscalationCost(_Strict):
    """A fixed cost per hand-off to a person (read by :mod:`genai_cost.layers`)."""

    per_escalation: NonNegative
    source: str | None = None


class PricingFile(_Strict):
    """One pricing file: any mix of providers, tools and discounts."""

    schema_version: Literal[1] = 1
    version: str | None = None
    providers: list[ProviderEntry] = Field(default_factory=list)
    tools: list[ToolEntry] = Field(default_factory=list)
    discounts: list[Discount] = Field(default_factory=list)
    #: Cost layers that are not per span (genai_cost.layers); the last file that sets one wins.
    infrastructure: InfrastructureCost | None = None
    human_escalation: HumanEscalationCost | None = None


def _as_datetime(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)


def _compiled_regexes(patterns: list[str]) -> list[str]:
    """``patterns`` unchanged if each compiles; else the error names the bad one."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    return patterns
