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
import math
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from . import calc
from .model import RATE_FIELDS


def _a_number(value: object) -> object:
    """Prices and counts are numbers as written: YAML's ``true`` or a quoted ``"2.5"``
    is a mistake, which pydantic's lax mode would read as 1 or 2.5 without a word."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()} (a boolean)")
    if isinstance(value, str):
        raise ValueError(f"must be a number, not the string {value!r}{_string_hint(value)}")
    if isinstance(value, int) and not -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT:
        raise ValueError(f"is too large to be a number here ({len(str(abs(value)))} digits)")
    if isinstance(value, float) and math.isnan(value):
        # What pydantic says of .inf: its bounds (``ge=0``) come first and said "should be
        # greater than or equal to 0" of a NaN, which is no more negative than positive.
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    return value


#: Ints this large or larger do not fit in a float (the largest finite float is about 1.8e308).
_FLOAT_INT_LIMIT = 10**308

#: What YAML 1.1 reads as text although it looks like a number: an exponent without a dot
#: or without a sign (``1e-4``, ``2.5e6``; only ``1.0e-4`` and ``2.5e+6`` are floats).
_EXPONENT = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+")
#: What the loader reads as text where YAML 1.1 reads a base-60 number (``1:30`` is 90):
#: see ``files.PricingYamlLoader.construct_yaml_int``.
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _string_hint(text: str) -> str:
    """What to write instead of the string ``text`` given for a number."""
    stripped = text.strip()
    if _EXPONENT.fullmatch(stripped):
        written = repr(float(stripped.replace("_", "")))  # (the pattern is always a float)
        plain = "" if "e" in written or "inf" in written else f"{written.removesuffix('.0')} or "
        return (
            f": YAML reads {stripped} as text, quoted or not (in YAML 1.1 a number with an exponent needs"
            f" a dot and a signed exponent, 1.0e-4, not 1e-4); write {plain}{_yaml_exponent(stripped)},"
            " without quotes"
        )
    if _SEXAGESIMAL.fullmatch(stripped):
        dotted = stripped.replace(":", ".", 1) if stripped.count(":") == 1 and "." not in stripped else "1.30"
        return (
            f": {stripped} is text here (YAML 1.1 would read it as a base-60 number, 1:30 as 90, so genai-cost"
            f" reads it as YAML 1.2 does); write the number with a dot, as in {dotted}"
        )
    if _OCTAL.fullmatch(stripped):
        sign, digits = _split_sign(stripped)
        decimal = sign + (digits.lstrip("0_") or "0")
        as_octal = f", {stripped} as {int(stripped.replace('_', ''), 8)}" if _OCTAL_DIGITS.fullmatch(digits) else ""
        return (
            f": {stripped} is text here (YAML 1.1 would read a number with a leading 0 as octal{as_octal});"
            f" write it without the leading zero, as in {decimal}"
        )
    if _BASE_PREFIX.fullmatch(stripped):
        try:
            value = f": {int(stripped.replace('_', ''), 0)}"
        except ValueError:
            value = ""
        return f": {stripped} is text here (a hex, octal or binary number); write numbers in decimal{value}"
    bare = _CURRENCY.sub("", stripped).strip()
    if bare != stripped and _is_number(bare.replace(",", "")):
        return f": write the number alone, in USD, without a currency sign: {_without_commas(bare)}"
    if "," in stripped and _is_number(stripped.replace(",", ".", 1)) and stripped.count(",") == 1:
        dotted = stripped.replace(",", ".")
        return (
            f": a decimal comma? write {dotted} (with a dot; or {stripped.replace(',', '')} if the comma"
            " separates thousands)"
        )
    if "," in stripped and _is_number(stripped.replace(",", "")):
        return f": write it without the thousands separators: {stripped.replace(',', '')}"
    if _is_number(stripped):
        return " (write it without quotes)"
    return " (write a number, as in 2.5)"


#: A currency written with a price: ``$2.50``, ``2.50 USD``, ``€2``.
_CURRENCY = re.compile(r"^[$€£]|^(?:USD|US\$)\s*|\s*(?:USD|usd|\$)$")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _without_commas(text: str) -> str:
    return text.replace(",", "") if text.count(",") != 1 or len(text.partition(",")[2]) == 3 else text


def _split_sign(text: str) -> tuple[str, str]:
    return (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)


#: A leading 0 (YAML 1.1: octal) and a hex or binary prefix: kept as text by the loader.
_OCTAL = re.compile(r"[-+]?0[0-9_]+")
_OCTAL_DIGITS = re.compile(r"[0-7_]+")
_BASE_PREFIX = re.compile(r"[-+]?0[xXbBoO][0-9a-fA-F_]+")


def _yaml_exponent(text: str) -> str:
    """``text`` (``1e-4``, ``2.5E6``) in the form YAML 1.1 reads as a float (``1.0e-4``, ``2.5e+6``)."""
    mantissa, _, exponent = text.replace("E", "e").partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    elif mantissa.endswith("."):
        mantissa += "0"
    if mantissa.startswith((".", "-.", "+.")):
        mantissa = mantissa.replace(".", "0.", 1)
    if exponent[:1] not in ("+", "-"):
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}"


#: The largest rate, fee or multiplier a pricing file may give: USD 1e9 per million tokens,
#: per call, per second or per search (or a multiplier of 1e9). No real price is within six
#: orders of magnitude of it, and anything larger can make a cost that is no amount: 1e12
#: tokens (the most a call may count) at 1e9 per million is 1e15 USD, the largest cost a span
#: may carry (``calc.MAX_COST_USD``, ``genai_cost.usage.MAX_USD``); 1.7e308 gave an infinite one.
#: (Defined in :mod:`.calc`, which the span path imports without pydantic.)
MAX_RATE = calc.MAX_RATE


def _at_most(limit: float, shown: str, what: str) -> AfterValidator:
    """A bound on a number, with a message that says what the bound is for."""

    def check(value: float) -> float:
        if value > limit:
            raise ValueError(
                f"must be at most {shown} ({what}), far above any real value"
                f" (a larger one can make a cost that is no amount), not {value!r}"
            )
        return value

    return AfterValidator(check)


#: A number written as one (an int or a float; never a bool or a string).
_Number = BeforeValidator(_a_number)
#: A rate, fee or multiplier: finite, >= 0 and at most :data:`MAX_RATE`.
NonNegative = Annotated[
    float,
    _Number,
    Field(ge=0, allow_inf_nan=False),
    _at_most(MAX_RATE, "1e9", "USD per million tokens, per call, per second or per search, or a multiplier"),
]

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

    @field_validator("start", "end", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 16:30 as the base-60 number 990 (this loader reads it
        # as text, as YAML 1.2 does; another loader, or a dict built in code, may not).
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                f'must be HH:MM in UTC as text, e.g. "16:30", not the number {value!r}'
                " (YAML 1.1 reads an unquoted 16:30 as the base-60 number 990: quote it)"
            )
        return value

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
    gpus: Annotated[float, _Number, Field(gt=0, allow_inf_nan=False), _at_most(MAX_RATE, "1e9", "GPUs")] = 1
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
    #: Whether its entries price only spans that name this provider: a local runtime's
    #: catch-all (Ollama: every model at 0) must not price a span that names no provider.
    named_only: bool = False

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

    #: (A total, not a rate: not bounded here; one that divides to no amount per trace is
    #: refused, named, when the layer is built: see layers.InfraAllocation.)
    monthly_usd: Annotated[float, _Number, Field(ge=0, allow_inf_nan=False)]
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
