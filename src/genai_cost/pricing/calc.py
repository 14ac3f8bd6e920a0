"""Pure cost arithmetic: (rates, usage) -> CostBreakdown. No I/O, no state.

The rules that users of other tools get wrong live here, each deliberate:

* uncached input is ``input - cache_read - cache_write``, never below zero
  (input counts are inclusive, as in the GenAI semantic conventions);
* reasoning tokens are part of output and billed at the output rate unless the
  model has a separate reasoning rate: never added twice;
* cache writes split into 5-minute and 1-hour parts with their own rates;
* a part is never larger than what it is a part of: counts of audio, images or 1-hour
  writes that cannot add up are refused (``invalid_usage``, :func:`usage_problem`), never
  clamped into a price;
* a long-context tier is a cliff judged on total input (cache included): past
  the threshold *every* token of the request is billed at the tier's rates;
* a service tier is the one the response says was served.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable

from .errors import (
    REASON_INVALID_COST,
    REASON_MISSING_DURATION,
    InvalidUsageError,
    MissingRateError,
    PricingError,
)
from .model import CostBreakdown, ModelPricing, Period, Rates, TierRule, TokenUsage

#: How :func:`effective_rates` notes a tier in the adjustments: ``service_tier=flex``, ``batch``,
#: each with ``:unpriced_at_default`` when the catalog has no rates for it (priced as standard).
_TIER_NOTE = "service_tier="
_BATCH_NOTE = "batch"
UNPRICED_AT_DEFAULT = ":unpriced_at_default"
#: How the catalog notes a negotiated discount of a user's pricing file: ``discount=15%``.
DISCOUNT_NOTE = "discount="


def served_at_other_tier(adjustments: tuple[str, ...]) -> bool:
    """Whether :func:`effective_rates` priced the call at a tier other than standard (a tier
    the catalog has no rates for is priced as standard). Read from the notes it wrote, here
    beside the code that writes them, so that the two cannot drift apart."""
    return any(
        (note == _BATCH_NOTE or note.startswith(_TIER_NOTE)) and not note.endswith(UNPRICED_AT_DEFAULT)
        for note in adjustments
    )


def discounted(adjustments: tuple[str, ...]) -> bool:
    """Whether a discount of the user's pricing files applied to the call (the note
    ``Catalog`` wrote, read here beside its prefix)."""
    return any(note.startswith(DISCOUNT_NOTE) for note in adjustments)


def period_at(model: ModelPricing, at: float | None) -> Period:
    """The price period in force at UNIX time ``at`` (``None``: the newest)."""
    if at is None or len(model.periods) == 1:
        return model.periods[-1]
    index = bisect.bisect_right(model.period_starts, at) - 1
    # Before the first recorded start we use the earliest known price: a call
    # cannot predate its model, so this only happens with clock skew.
    return model.periods[max(index, 0)]


def effective_rates(
    period: Period,
    usage: TokenUsage,
    *,
    at: float | None = None,
    service_tier: str | None = None,
    batch: bool = False,
    multiplier: float = 1.0,
    fee_multiplier: float | None = None,
) -> tuple[Rates, tuple[str, ...]]:
    """Rates that apply to this call, and the adjustments that produced them.
    ``service_tier`` is matched ignoring case (``Flex`` is ``flex``). The fees
    (per request, per search) are scaled by ``fee_multiplier`` when given, else
    by ``multiplier`` (see ``Resolution.fee_multiplier``)."""
    if fee_multiplier is None:
        fee_multiplier = multiplier
    if service_tier is not None:
        service_tier = service_tier.strip().lower() or None
    rates = period.rates
    if (
        not period.long_context
        and not period.windows
        and multiplier == 1.0
        and fee_multiplier == 1.0
        and not batch
        and (service_tier is None or service_tier in DEFAULT_TIERS)
    ):
        return rates, ()  # the common case, kept cheap: it runs once per span
    notes: list[str] = []
    for tier in period.long_context:
        if usage.input_tokens > tier.above_input_tokens:
            rates = tier.merged if tier.merged is not None else rates.overridden(tier.rates)
            notes.append(f"long_context>{tier.above_input_tokens}")
            break
    if service_tier and service_tier not in DEFAULT_TIERS:
        rule = period.service_tiers.get(service_tier)
        if rule is None:
            notes.append(f"{_TIER_NOTE}{service_tier}{UNPRICED_AT_DEFAULT}")
        else:
            rates = _apply(rates, rule, usage)
            notes.append(f"{_TIER_NOTE}{service_tier}")
    if batch:
        rule = period.service_tiers.get("batch")
        if rule is None:
            notes.append(f"{_BATCH_NOTE}{UNPRICED_AT_DEFAULT}")
        else:
            rates = _apply(rates, rule, usage)
            notes.append(_BATCH_NOTE)
    if period.windows and at is not None:
        for window in period.windows:
            if window.active(at):
                rates = _apply(rates, window.rule, usage)
                notes.append(window.label)
                break
    if multiplier != 1.0 or fee_multiplier != 1.0:
        rates = rates.scaled(multiplier, fee_multiplier)
    return rates, tuple(notes)


#: Service tiers that mean the standard price (what an API echoes when nothing was asked).
DEFAULT_TIERS = frozenset({"default", "auto", "standard", "on_demand"})


def _apply(rates: Rates, rule: TierRule, usage: TokenUsage) -> Rates:
    if rule.multiplier is not None:
        rates = rates.scaled(rule.multiplier)
    rates = rates.overridden(rule.rates)
    for tier in rule.long_context:  # the tier's own cliff (highest threshold first)
        if usage.input_tokens > tier.above_input_tokens:
            return rates.overridden(tier.rates)
    return rates


def cost_of(
    rates: Rates,
    usage: TokenUsage,
    *,
    check: bool = True,
    pricing_id: str = "",
    effective_from: str = "",
    adjustments: tuple[str, ...] = (),
    duration_s: float | None = None,
) -> CostBreakdown:
    """The cost of ``usage`` at ``rates`` (USD per token), rounded to 1e-12 USD
    (below any bill's precision; it keeps 0.0045 from printing as 0.0045000000000000005).

    ``check=False`` skips validating the counts, for callers (the span layer)
    that built ``usage`` from already-validated integers.
    """
    if rates.plain:
        fast = fast_cost(rates, usage, pricing_id, effective_from, adjustments, check)
        if fast is not None:
            return fast
        _check_parts(usage)  # (fast_cost checked the counts are ints in range, with ``check``)
    elif check:
        _check(usage)
    else:
        _check_parts(usage)  # (the span layer's counts too: parts that cannot add up are no price)
    if rates.per_second is not None and rates.input is None and rates.output is None:
        return _duration_cost(rates, usage, duration_s, pricing_id, effective_from, adjustments)
    # The parts in this order: a missing rate is reported for the first part that needs it.
    input_usd, cache_read_usd, adjustments = _input_parts(rates, usage, adjustments)
    cache_write_usd, adjustments = _cache_write_part(rates, usage, adjustments)
    output_usd, adjustments = _output_part(rates, usage, adjustments)
    request_usd = usage.requests * rates.per_request if rates.per_request else 0.0
    total = input_usd + cache_read_usd + cache_write_usd + output_usd + request_usd
    search_usd = compute_usd = 0.0
    if rates.per_search is not None or rates.per_second is not None:
        # (only then: ``total + 0.0`` would turn a -0.0 total into 0.0)
        search_usd, compute_usd = _fees(rates, usage, duration_s)
        total += search_usd + compute_usd
    if not total <= MAX_COST_USD:  # (also NaN: inf * 0)
        raise _invalid_cost(total)
    return CostBreakdown(
        _rounded(total),
        _rounded(input_usd),
        _rounded(cache_read_usd),
        _rounded(cache_write_usd),
        _rounded(output_usd),
        _rounded(request_usd),
        pricing_id,
        effective_from,
        adjustments,
        _rounded(search_usd),
        _rounded(compute_usd),
    )


def _duration_cost(
    rates: Rates,
    usage: TokenUsage,
    duration_s: float | None,
    pricing_id: str,
    effective_from: str,
    adjustments: tuple[str, ...],
) -> CostBreakdown:
    """A model priced by duration alone (self-hosted GPU-seconds): its tokens are
    not billed, so a call's counts cannot make it a missing-rate error."""
    _, compute_usd = _fees(rates, usage, duration_s)
    if not compute_usd <= MAX_COST_USD:
        raise _invalid_cost(compute_usd)
    return CostBreakdown(
        round(compute_usd, 12),
        pricing_id=pricing_id,
        effective_from=effective_from,
        adjustments=adjustments,
        compute_usd=round(compute_usd, 12),
    )


def _input_parts(rates: Rates, usage: TokenUsage, adjustments: tuple[str, ...]) -> tuple[float, float, tuple[str, ...]]:
    """Uncached input and cache reads, and the adjustments with a guess added. Input
    counts are inclusive, so the uncached part is what the cache did not cover (never
    below zero), and audio and image input are carved out of it, not added to it."""
    cache_read = usage.cache_read_tokens
    uncached = usage.input_tokens - cache_read - usage.cache_write_tokens
    if uncached < 0:
        uncached = 0
    base_in = rates.input
    if not (usage.input_audio_tokens or usage.input_image_tokens or usage.cache_read_audio_tokens):
        input_usd = _rate(uncached, base_in, "input")
        cache_read_usd = (
            _rate(cache_read, base_in if rates.cache_read is None else rates.cache_read, "cache_read")
            if cache_read
            else 0.0
        )
        return input_usd, cache_read_usd, adjustments
    audio_in = min(max(usage.input_audio_tokens - usage.cache_read_audio_tokens, 0), uncached)
    image_in = min(usage.input_image_tokens, uncached - audio_in)
    input_usd = (
        _rate(uncached - audio_in - image_in, base_in, "input")
        + _rate(audio_in, _first(rates.input_audio, base_in), "input_audio")
        + _rate(image_in, _first(rates.input_image, base_in), "input_image")
    )
    audio_read = min(usage.cache_read_audio_tokens, cache_read)
    cache_read_usd = _rate(cache_read - audio_read, _first(rates.cache_read, base_in), "cache_read") + _rate(
        audio_read, _first(rates.cache_read_audio, rates.cache_read, rates.input_audio, base_in), "cache_read_audio"
    )
    if (audio_in and rates.input_audio is None) or (
        audio_read and rates.cache_read_audio is None and rates.input_audio is None
    ):
        adjustments = (*adjustments, _AUDIO_AT_TEXT_RATE)
    return input_usd, cache_read_usd, adjustments


def _cache_write_part(rates: Rates, usage: TokenUsage, adjustments: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
    """Cache writes, the 1-hour part at its own rate; without one it falls back to the
    5-minute rate, an under-estimate that the adjustments then say."""
    cache_write = usage.cache_write_tokens
    if not cache_write:
        return 0.0, adjustments
    base_in = rates.input
    write_1h = min(usage.cache_write_1h_tokens, cache_write)
    cache_write_usd = _rate(cache_write - write_1h, _first(rates.cache_write, base_in), "cache_write") + _rate(
        write_1h, _first(rates.cache_write_1h, rates.cache_write, base_in), "cache_write_1h"
    )
    if write_1h and rates.cache_write_1h is None:
        adjustments = (*adjustments, _CACHE_WRITE_1H_AT_5M_RATE)
    return cache_write_usd, adjustments


def _output_part(rates: Rates, usage: TokenUsage, adjustments: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
    """Output, reasoning, audio and image output. Reasoning tokens are part of output:
    billed at the reasoning rate only when the entry has one, and never counted twice."""
    output = usage.output_tokens
    if not (usage.output_audio_tokens or usage.output_image_tokens or rates.reasoning is not None):
        return _rate(output, rates.output, "output"), adjustments
    audio_out = min(usage.output_audio_tokens, output)
    image_out = min(usage.output_image_tokens, output - audio_out)
    reasoning = min(usage.reasoning_tokens, output - audio_out - image_out) if rates.reasoning is not None else 0
    output_usd = (
        _rate(output - audio_out - image_out - reasoning, rates.output, "output")
        + _rate(reasoning, rates.reasoning, "reasoning")
        + _rate(audio_out, _first(rates.output_audio, rates.output), "output_audio")
        + _rate(image_out, _first(rates.output_image, rates.output), "output_image")
    )
    if audio_out and rates.output_audio is None and _AUDIO_AT_TEXT_RATE not in adjustments:
        adjustments = (*adjustments, _AUDIO_AT_TEXT_RATE)
    return output_usd, adjustments


def _rounded(usd: float) -> float:
    """``usd`` to 1e-12 USD. A zero is its own rounding, and round() is slow: most parts are zero."""
    return round(usd, 12) if usd else usd


def fast_cost(
    rates: Rates,
    usage: TokenUsage,
    pricing_id: str,
    effective_from: str,
    adjustments: tuple[str, ...],
    check: bool,
) -> CostBreakdown | None:
    """:func:`cost_of` for the common case (text tokens, plain per-token rates),
    with positional arguments and the usage read once: it runs once per span.
    ``None`` when the call needs the general path (audio, image, 1-hour writes,
    a missing rate); with ``check`` it validates the counts too (and raises).
    Amounts are rounded to 1e-12 USD as in :func:`cost_of`; for these
    non-negative amounts ``int(x * 1e12 + 0.5) / 1e12`` is ``round(x, 12)`` at
    half the cost."""
    if check:
        values = _usage_values(usage)
        try:
            total = sum(values)
        except TypeError:
            total = None
        if type(total) is not int or total > _MAX_TOKENS or min(values) < 0:
            _check(usage)  # raises, naming the field
    if (
        usage.web_searches  # (a per-search fee: the general path prices it)
        or usage.cache_write_1h_tokens
        or usage.input_audio_tokens
        or usage.cache_read_audio_tokens
        or usage.output_audio_tokens
        or usage.input_image_tokens
        or usage.output_image_tokens
    ):
        return None
    input_tokens = usage.input_tokens
    output = usage.output_tokens
    cache_read = usage.cache_read_tokens
    cache_write = usage.cache_write_tokens
    base_in = rates.input
    output_rate = rates.output
    uncached = input_tokens - cache_read - cache_write
    if uncached < 0:
        uncached = 0
    read_rate = base_in if rates.cache_read is None else rates.cache_read
    write_rate = base_in if rates.cache_write is None else rates.cache_write
    if (
        (uncached and base_in is None)
        or (output and output_rate is None)
        or (cache_read and read_rate is None)
        or (cache_write and write_rate is None)
    ):
        return None
    # (each product is the one rounded below: ``a * b * 1e12`` is ``(a * b) * 1e12``)
    input_usd = uncached * base_in if uncached else 0.0  # type: ignore[operator]
    cache_read_usd = cache_read * read_rate if cache_read else 0.0  # type: ignore[operator]
    cache_write_usd = cache_write * write_rate if cache_write else 0.0  # type: ignore[operator]
    output_usd = output * output_rate if output else 0.0  # type: ignore[operator]
    if not input_usd + cache_read_usd + cache_write_usd + output_usd <= MAX_COST_USD:
        # (int() of an infinite amount raises OverflowError, which is no PricingError)
        raise _invalid_cost(input_usd + cache_read_usd + cache_write_usd + output_usd)
    input_usd = int(input_usd * 1e12 + 0.5) / 1e12 if uncached else 0.0
    cache_read_usd = int(cache_read_usd * 1e12 + 0.5) / 1e12 if cache_read else 0.0
    cache_write_usd = int(cache_write_usd * 1e12 + 0.5) / 1e12 if cache_write else 0.0
    output_usd = int(output_usd * 1e12 + 0.5) / 1e12 if output else 0.0
    return CostBreakdown(
        int((input_usd + cache_read_usd + cache_write_usd + output_usd) * 1e12 + 0.5) / 1e12,
        input_usd,
        cache_read_usd,
        cache_write_usd,
        output_usd,
        0.0,
        pricing_id,
        effective_from,
        adjustments,
    )


def _fees(rates: Rates, usage: TokenUsage, duration_s: float | None) -> tuple[float, float]:
    """Per-search and per-second (GPU-second) fees. A model priced by the second
    cannot be priced without the call's duration: that is reported, not zeroed."""
    search_usd = usage.web_searches * rates.per_search if rates.per_search and usage.web_searches else 0.0
    compute_usd = 0.0
    if rates.per_second is not None:
        if duration_s is None or not duration_s >= 0.0:
            raise MissingRateError(
                "the model is priced per second of duration but the call's duration is unknown",
                reason=REASON_MISSING_DURATION,
            )
        compute_usd = duration_s * rates.per_second
    return search_usd, compute_usd


#: The largest cost (USD) of one call that is an amount; ``genai_cost.usage.MAX_USD`` is this
#: bound, past which a cost read from a span is "not a cost" (the roll-up, the gateway and
#: ``genai-cost report`` read a larger ``gen_ai.cost.total_usd`` back as ``invalid_cost``). The pricing
#: schema bounds every rate (``schema.MAX_RATE``); this catches what rates still multiply to.
MAX_COST_USD = 1e15

#: The largest rate, fee or multiplier a pricing file may give (``schema.MAX_RATE``): USD
#: 1e9 per million tokens, per call, per second or per search, far above any real price.
MAX_RATE = 1e9


def _invalid_cost(total: float) -> PricingError:
    return PricingError(
        f"the rates give a cost of {total!r} USD for this call, which is no amount (more than"
        " 1e15 USD, or not finite): check the entry's rates and multipliers",
        reason=REASON_INVALID_COST,
    )


#: An adjustment: audio tokens billed at the text rate, the entry having no audio rate.
#: Images are billed as text tokens by OpenAI and Google; audio usually is not (gpt-audio
#: $32 against $2.50 of text), so the guess is written on the span, never silent.
_AUDIO_AT_TEXT_RATE = "audio_at_text_rate"


#: An adjustment: 1-hour cache writes billed at the 5-minute write rate (or the input rate),
#: the entry having no 1-hour rate (imported resellers of Claude models): an under-estimate
#: (Anthropic bills 2x input for 1 hour, 1.25x for 5 minutes), written on the span.
_CACHE_WRITE_1H_AT_5M_RATE = "cache_write_1h_at_5m_rate"


def _first(*values: float | None) -> float | None:
    for value in values:
        if value is not None:
            return value
    return None


def _rate(tokens: int, rate: float | None, name: str) -> float:
    if tokens <= 0:
        return 0.0
    if rate is None:
        raise MissingRateError(f"the model has no {name} rate but the call used {tokens} {name} tokens")
    return tokens * rate


#: The largest token count (and sum of a call's counts) accepted.
MAX_TOKENS = _MAX_TOKENS = 10**12
_usage_values = operator.attrgetter(*TokenUsage.__slots__)


def _check(usage: TokenUsage) -> None:
    values = _usage_values(usage)
    try:
        total = sum(values)  # an int only if every count is (a float or a str fails here)
    except TypeError:
        total = None
    if not (type(total) is int and total <= _MAX_TOKENS and min(values) >= 0):  # (booleans pass as 0 / 1)
        for name in TokenUsage.__slots__:
            value = getattr(usage, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidUsageError(f"{name} must be an integer, got {value!r}")
            if value < 0 or value > _MAX_TOKENS:
                raise InvalidUsageError(f"{name} out of range: {value}")
    _check_parts(usage)


#: Raise :class:`InvalidUsageError` unless every count is an int in range and the parts of
#: audio, images and 1-hour writes fit in what they are parts of (:func:`usage_problem`).
check_usage = _check


def _check_parts(usage: TokenUsage) -> None:
    """Raise :class:`InvalidUsageError` when :func:`usage_problem` finds one. Cheap for text
    calls (the span path runs it on every call the fast paths leave): it only looks further
    when the call counts audio, images or 1-hour writes."""
    if (
        usage.cache_write_1h_tokens
        or usage.input_audio_tokens
        or usage.cache_read_audio_tokens
        or usage.input_image_tokens
        or usage.output_audio_tokens
        or usage.output_image_tokens
    ):
        problem = usage_problem(usage)
        if problem is not None:
            raise InvalidUsageError(problem)


def usage_problem(
    usage: TokenUsage, name: Callable[[str], str] = str, *, text_parts: bool = False
) -> str | None:
    """What makes the counts of ``usage`` impossible, or ``None``: a part larger than what
    it is a part of (see :class:`TokenUsage`), which the arithmetic would otherwise clamp and
    price as something else. ``name`` spells a field for the reader (``genai-cost price``:
    its flag). The relations, each checked where the call counts audio, images or 1-hour
    writes:

    * ``cache_write_1h_tokens`` <= ``cache_write_tokens`` (the 1-hour part of the writes);
    * ``cache_read_audio_tokens`` <= ``cache_read_tokens`` (the audio part of the cache reads)
      and <= ``input_audio_tokens`` (cached audio is audio input too: counted in both);
    * ``input_audio_tokens`` + ``input_image_tokens`` <= ``input_tokens`` (separate parts of
      the input; cached audio is inside the first, so it is not added again);
    * ``reasoning_tokens`` + ``output_audio_tokens`` + ``output_image_tokens`` <=
      ``output_tokens`` (separate parts of the output).

    ``text_parts=True`` checks the text parts too, on every call: ``cache_read_tokens`` +
    ``cache_write_tokens`` <= ``input_tokens``, and the reasoning within the output. Where the
    counts come from someone who states them (``genai-cost price``), a cache larger than the
    input is a mistake to refuse; on a span it is read as the conventions say (an exclusive
    count, or clamped), so the span path leaves it to the usage reader and the fast paths.
    """
    write_1h = usage.cache_write_1h_tokens
    if write_1h and write_1h > usage.cache_write_tokens:
        return _exceeds(
            name,
            "cache_write_1h_tokens",
            write_1h,
            "cache_write_tokens",
            usage.cache_write_tokens,
            f"{name('cache_write_1h_tokens')} is the part of {name('cache_write_tokens')} written with a 1-hour"
            " TTL, so it cannot exceed it",
        )
    if text_parts:
        problem = _parts_exceed(
            name,
            (("cache_read_tokens", usage.cache_read_tokens), ("cache_write_tokens", usage.cache_write_tokens)),
            ("input_tokens", usage.input_tokens),
            "input",
        )
        if problem is not None:
            return problem
    audio_read = usage.cache_read_audio_tokens
    if audio_read:
        if audio_read > usage.cache_read_tokens:
            return _exceeds(
                name,
                "cache_read_audio_tokens",
                audio_read,
                "cache_read_tokens",
                usage.cache_read_tokens,
                f"{name('cache_read_audio_tokens')} is the part of {name('cache_read_tokens')} that is audio,"
                " so it cannot exceed it",
            )
        if audio_read > usage.input_audio_tokens:
            return _exceeds(
                name,
                "cache_read_audio_tokens",
                audio_read,
                "input_audio_tokens",
                usage.input_audio_tokens,
                f"the audio read from cache is audio input too, so {name('input_audio_tokens')} must include it",
            )
    if usage.input_audio_tokens or usage.input_image_tokens:
        problem = _parts_exceed(
            name,
            (("input_audio_tokens", usage.input_audio_tokens), ("input_image_tokens", usage.input_image_tokens)),
            ("input_tokens", usage.input_tokens),
            "input",
        )
        if problem is not None:
            return problem
    if text_parts or usage.output_audio_tokens or usage.output_image_tokens:
        return _parts_exceed(
            name,
            (
                ("reasoning_tokens", usage.reasoning_tokens),
                ("output_audio_tokens", usage.output_audio_tokens),
                ("output_image_tokens", usage.output_image_tokens),
            ),
            ("output_tokens", usage.output_tokens),
            "output",
        )
    return None


#: What each part is, in "must include the ... tokens".
_PART_WHAT = {
    "cache_read_tokens": "cache read",
    "cache_write_tokens": "cache write",
    "input_audio_tokens": "audio input",
    "input_image_tokens": "image input",
    "reasoning_tokens": "reasoning",
    "output_audio_tokens": "audio output",
    "output_image_tokens": "image output",
}


def _exceeds(name: Callable[[str], str], part: str, count: int, total: str, of: int, why: str) -> str:
    return f"{name(part)} {count} exceeds {name(total)} {of}: {why}"


def _parts_exceed(
    name: Callable[[str], str], parts: tuple[tuple[str, int], ...], total: tuple[str, int], what: str
) -> str | None:
    """The message when the separate ``parts`` of ``total`` add up to more than it (the parts
    counted, those not zero, named), as ``genai-cost price`` words it."""
    total_name, total_count = total
    given = [(part, count) for part, count in parts if count]
    if sum(count for _, count in given) <= total_count:
        return None
    if len(given) == 1:
        part, count = given[0]
        return _exceeds(
            name,
            part,
            count,
            total_name,
            total_count,
            f"{name(total_name)} is the total {what} and must include the {_PART_WHAT[part]} tokens",
        )
    listed = [f"{name(part)} {count}" for part, count in given]
    return (
        f"{', '.join(listed[:-1])} and {listed[-1]} are separate parts of {name(total_name)} {total_count},"
        " so together they cannot exceed it"
    )
