"""Runtime pricing types: compiled, slotted and immutable.

The pydantic schema (:mod:`.schema`) is for reading files; these are what the
span path touches, so they hold per-token floats (not per-million) and no
validation machinery.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

PER_MILLION = 1_000_000.0

#: The token classes a price can name, in USD per million tokens in files
#: (per token at run time). Kept here, not in the pydantic schema, so that
#: pricing a call never imports pydantic.
RATE_FIELDS: tuple[str, ...] = (
    "input",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "output",
    "reasoning",
    "input_audio",
    "cache_read_audio",
    "output_audio",
    "input_image",
    "output_image",
)

#: Fees that are not per token: USD per request, per web search, per second of
#: the call's duration (self-hosted models: GPU-seconds times the GPU count).
FEE_FIELDS: tuple[str, ...] = ("per_request", "per_search", "per_second")

ALL_RATE_FIELDS: tuple[str, ...] = (*RATE_FIELDS, *FEE_FIELDS)


@dataclass(slots=True)
class TokenUsage:
    """Token counts of one call, in the OpenTelemetry GenAI convention.

    Not frozen only because frozen dataclasses are several times slower to
    build, and one is built per span: treat it as immutable.

    Counts are *inclusive*: ``input_tokens`` includes cache reads and writes
    (and audio/image input), ``output_tokens`` includes reasoning (and audio/
    image output). The parts (``cache_read_tokens``, ``reasoning_tokens``...)
    say how much of the total is billed at another rate. Convert exclusive
    counts before building one (the span layer does).

    A part cannot exceed what it is a part of. Where audio, images or 1-hour
    writes are counted, pricing refuses (``InvalidUsageError``, ``invalid_usage``;
    :func:`genai_cost.pricing.calc.usage_problem` says which) counts for which

    * ``cache_write_1h_tokens`` > ``cache_write_tokens``,
    * ``cache_read_audio_tokens`` > ``cache_read_tokens`` or > ``input_audio_tokens``
      (cached audio is a part of both),
    * ``input_audio_tokens + input_image_tokens`` > ``input_tokens``,
    * ``reasoning_tokens + output_audio_tokens + output_image_tokens`` > ``output_tokens``.

    Text parts alone larger than their total (cache reads and writes above the
    input, reasoning above the output) are clamped, as the fast paths price them.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    #: The part of ``cache_write_tokens`` written with a 1-hour TTL (so counted in both).
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    #: The audio part of ``input_tokens``, the cached audio included.
    input_audio_tokens: int = 0
    #: The audio part of ``cache_read_tokens`` (and of ``input_audio_tokens``).
    cache_read_audio_tokens: int = 0
    output_audio_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    requests: int = 1
    #: Web searches the call ran (Anthropic ``server_tool_use.web_search_requests``,
    #: OpenAI / Gemini / Perplexity search-grounded calls); priced by ``per_search``.
    web_searches: int = 0


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per single token for each class (``None``: not priced separately)."""

    input: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    cache_write_1h: float | None = None
    output: float | None = None
    reasoning: float | None = None
    input_audio: float | None = None
    cache_read_audio: float | None = None
    output_audio: float | None = None
    input_image: float | None = None
    output_image: float | None = None
    #: USD per request, not per token.
    per_request: float | None = None
    #: USD per web search.
    per_search: float | None = None
    #: USD per second of the call's duration (self-hosted: per GPU-second times GPUs).
    per_second: float | None = None
    #: Only plain per-token text rates (no reasoning rate, no per-request or per-second
    #: fee): the fast path applies. A per-search fee does not count: it bills only calls
    #: that ran searches, and the fast paths send those to the general path.
    plain: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "plain",
            self.reasoning is None and self.per_request is None and self.per_second is None,
        )

    def scaled(self, factor: float, fees: float | None = None) -> Rates:
        """Every rate times ``factor``; the per-request and per-search fees times
        ``fees`` instead when given (a regional uplift is on the tokens only)."""
        scaled = Rates(**{name: _mul(getattr(self, name), factor) for name in ALL_RATE_FIELDS})
        if fees is None or fees == factor:
            return scaled
        return dataclasses.replace(
            scaled, per_request=_mul(self.per_request, fees), per_search=_mul(self.per_search, fees)
        )

    def overridden(self, other: Rates) -> Rates:
        """These rates with every class ``other`` names replaced."""
        return Rates(
            **{
                name: getattr(other, name) if getattr(other, name) is not None else getattr(self, name)
                for name in ALL_RATE_FIELDS
            }
        )


def _mul(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


@dataclass(frozen=True, slots=True)
class ContextTier:
    above_input_tokens: int
    rates: Rates
    #: The period's base rates overridden by ``rates``, precomputed (``None``: compute).
    merged: Rates | None = None


@dataclass(frozen=True, slots=True)
class TierRule:
    """A service tier: explicit rates over the base, and/or a multiplier."""

    rates: Rates
    multiplier: float | None
    #: The tier's own long-context cliff (rates over the tier's rates), if any.
    long_context: tuple[ContextTier, ...] = ()


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """A UTC time-of-day window, in minutes since midnight; may wrap midnight;
    ``start == end`` is the whole day. Optionally only on some ISO weekdays
    (1 Monday .. 7 Sunday), judged at a fixed UTC offset (DeepSeek's weekends
    are Beijing time)."""

    start_minute: int
    end_minute: int
    rule: TierRule
    weekdays: frozenset[int] = frozenset()
    weekday_offset_minutes: int = 0

    def contains(self, minute_of_day: int) -> bool:
        if self.start_minute == self.end_minute:
            return True
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute_of_day < self.end_minute
        return minute_of_day >= self.start_minute or minute_of_day < self.end_minute

    @property
    def label(self) -> str:
        """How ``gen_ai.cost.adjustments`` names the window: its UTC hours and its days,
        ``window=16:30-00:30Z``, ``window=Sat+Sun@UTC+08:00``."""
        parts: list[str] = []
        if self.start_minute != self.end_minute:
            parts.append(f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}Z")
        if self.weekdays:
            days = "+".join(_ISO_DAYS[day - 1] for day in sorted(self.weekdays))
            sign = "-" if self.weekday_offset_minutes < 0 else "+"
            parts.append(f"{days}@UTC{sign}{_hhmm(abs(self.weekday_offset_minutes))}")
        return "window=" + ("/".join(parts) if parts else "all-day")

    def active(self, at: float) -> bool:
        """Whether UNIX time ``at`` falls in the window."""
        if not self.contains(int((at % 86400) // 60)):
            return False
        if not self.weekdays:
            return True
        local_days = int((at + self.weekday_offset_minutes * 60) // 86400)
        return (local_days + 3) % 7 + 1 in self.weekdays  # 1970-01-01 was a Thursday (4)


_ISO_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    #: Start of validity as a UNIX timestamp in seconds (``-inf`` for "always").
    start: float
    start_label: str
    rates: Rates
    #: Sorted by threshold, highest first, so the first exceeded one applies.
    long_context: tuple[ContextTier, ...]
    service_tiers: dict[str, TierRule]
    windows: tuple[DailyWindow, ...]
    source: str
    checked: str
    #: No long-context tier and no time window: the span path skips effective_rates.
    plain: bool = False


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """One catalog entry: a model of a provider and its prices over time."""

    pricing_id: str
    provider_id: str
    model_id: str
    kind: str
    origin: str
    #: Which file defined it (``catalog`` for the shipped catalog, else the user's path).
    defined_in: str
    is_override: bool
    periods: tuple[Period, ...]
    period_starts: tuple[float, ...] = field(repr=False)


def bills_searches(entry: ModelPricing) -> bool:
    """Whether any period or tier of the entry has a per-search fee."""
    return any(rates.per_search is not None for period in entry.periods for rates in _rates_of(period))


def with_search_fee(entry: ModelPricing, fee: float) -> ModelPricing:
    """The entry with every per-search fee it names (base, tiers, cliffs, windows) set to
    ``fee``: the same model served by a provider that bills its own search tool."""

    def refee(rates: Rates) -> Rates:
        return rates if rates.per_search is None else dataclasses.replace(rates, per_search=fee)

    def recliff(tiers: tuple[ContextTier, ...]) -> tuple[ContextTier, ...]:
        return tuple(
            ContextTier(tier.above_input_tokens, refee(tier.rates), None if tier.merged is None else refee(tier.merged))
            for tier in tiers
        )

    def retier(rule: TierRule) -> TierRule:
        return TierRule(refee(rule.rates), rule.multiplier, recliff(rule.long_context))

    periods = tuple(
        dataclasses.replace(
            period,
            rates=refee(period.rates),
            long_context=recliff(period.long_context),
            service_tiers={name: retier(rule) for name, rule in period.service_tiers.items()},
            windows=tuple(dataclasses.replace(window, rule=retier(window.rule)) for window in period.windows),
        )
        for period in entry.periods
    )
    return dataclasses.replace(entry, periods=periods)


def _rates_of(period: Period) -> list[Rates]:
    """Every rate table of the period: base, cliffs, tiers (and theirs), windows."""
    rules = [*period.service_tiers.values(), *(window.rule for window in period.windows)]
    return [
        period.rates,
        *(tier.rates for tier in period.long_context),
        *(rule.rates for rule in rules),
        *(tier.rates for rule in rules for tier in rule.long_context),
    ]


@dataclass(frozen=True, slots=True)
class ToolPricing:
    name: str
    category: str
    per_call: float
    per_unit: float
    unit_attribute: str | None
    unit_name: str | None
    source: str
    checked: str
    defined_in: str
    is_override: bool


@dataclass(frozen=True, slots=True)
class InfrastructureSection:
    """A user pricing file's ``infrastructure:`` section, each value as the schema
    checked it. Kept by the catalog for :mod:`genai_cost.layers`, which spreads the cost
    over traces and checks that the values divide to a usable share per trace."""

    monthly_usd: float
    monthly_traces: float
    allocation: Literal["per_trace", "per_second"]
    average_trace_seconds: float
    #: The file it came from, for messages.
    defined_in: str


@dataclass(slots=True)
class CostBreakdown:
    """The cost of one call, in USD, split by what it was spent on.

    ``input_usd`` is uncached input only; the parts add up to ``total_usd``.
    """

    total_usd: float
    input_usd: float = 0.0
    cache_read_usd: float = 0.0
    cache_write_usd: float = 0.0
    output_usd: float = 0.0
    request_usd: float = 0.0
    pricing_id: str = ""
    #: The price period that applied (its ``effective_from``).
    effective_from: str = ""
    #: What changed the base rate: ``long_context>200000``, ``service_tier=flex``...
    adjustments: tuple[str, ...] = ()
    #: Web-search fees (``per_search`` x searches).
    search_usd: float = 0.0
    #: Duration-based cost (self-hosted GPU-seconds), ``per_second`` x seconds.
    compute_usd: float = 0.0
