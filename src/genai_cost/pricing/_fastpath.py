"""The catalog's fast path: a resolved entry's rates precomputed as plain tuples.

Most spans are text calls at plain per-token rates, priced again and again against
the same few entries. For each resolved (model, provider) the catalog builds, once,
a plan per price period (:func:`fast_plan`: per-token rates with any regional uplift
or discount applied, long-context cliffs, the pricing id and label), and prices a
call from it with a few float operations (:func:`fast_breakdown`), bit for bit as
the general path (:func:`genai_cost.pricing.calc.fast_cost`) would. Anything the
plan does not cover (audio, images, fees, service tiers, time windows, invalid
counts) returns ``None``, and the general path decides, prices or raises as always.
``tests/test_pricing_fastpath.py`` checks both paths agree on every shipped entry.
"""

from __future__ import annotations

import time
from bisect import bisect_right

from . import calc
from .model import CostBreakdown, ModelPricing, Period, Rates, TokenUsage

#: The fast path's view of one price period (see :func:`fast_plan`): per-token rates
#: of input, cache read, cache write and output (never ``None``), the pricing id,
#: effective_from, the adjustments, and the long-context cliffs, highest first, as
#: (threshold, the plan past it, or ``None`` when that tier needs the general path).
Plan = tuple[float, float, float, float, str, str, tuple[str, ...], tuple[tuple[int, "Plan | None"], ...]]
#: Of a resolution: the newest period's plan, when that period started (``_NEVER``
#: with one period), the periods' starts (``None`` with one period) and each
#: period's plan (``None``: that period needs the general path).
Fast = tuple["Plan | None", float, tuple[float, ...] | None, tuple["Plan | None", ...]]
_NEVER = float("-inf")
#: A price period that started before this module loaded is in force at any later "now".
_LOADED_AT = time.time()
NO_FAST: Fast = (None, _NEVER, None, (None,))
#: The fast path takes counts that are ints (not bools) in [0, _COUNT_LIMIT]: valid
#: for calc.check_usage, whatever their sum. Zeros are recognised as the int 0 itself
#: (``is``: never a float or a bool), and so is a single request. Anything else takes
#: the general path, which validates and raises as always.
_COUNT_LIMIT = calc.MAX_TOKENS
_ZERO = 0
_ONE = 1
#: Rates the fast path prices: [0, _RATE_LIMIT] USD per token (any real one; not NaN).
_RATE_LIMIT = 1e6
#: calc.fast_cost rounds each part to whole 1e-12 USD: ``int(x) / 1e12`` with
#: ``x = tokens * rate * 1e12 + 0.5`` (>= 0.5 here). For ``x < 2**52``,
#: ``t = x + _TWO52 - _TWO52`` is ``x`` rounded to a whole number, so ``floor(x)``
#: is ``t`` or ``t - 1``, exactly, as a float, and ``t / 1e12`` is bit for bit
#: ``int(x) / 1e12`` (the same whole number divided) without making an int of it
#: (converting a large int back to float is slow). A larger ``x`` gives a ``t``
#: over _EXACT_UNITS, which sends the call to the general path. (``rate * tokens``
#: is ``tokens * rate``: the same conversion and product.)
_TWO52 = 2.0**52
#: Below this many 1e-12 USD ($140), calc.fast_cost's total, ``int((sum of the
#: parts k / 1e12) * 1e12 + 0.5) / 1e12``, is exactly ``(sum of k) / 1e12``: the
#: float sum is within 5 * 2**-53 relative of the whole sum (under 0.08 here), far
#: from the 0.5 that would change the rounding. Above it the general path prices.
_EXACT_UNITS = 2.0**47
#: ``CostBreakdown`` built field by field (every field: see the fast path's test).
_new_breakdown = object.__new__



def fast_plan(entry: ModelPricing, multiplier: float, adjustments: tuple[str, ...]) -> Fast:
    """Per period, what the fast path of :meth:`Catalog.price` and
    :meth:`Catalog.price_resolved` needs, precomputed: the per-token rates of
    input, cache read, cache write and output (cache rates default to input),
    and the long-context cliffs, times the resolution's multiplier (a regional
    uplift or a discount: ``Rates.scaled``, as the general path applies it).
    ``None`` for a period the fast path must leave to the general one: time-of-day
    windows, rates with a reasoning rate, fees, or no input or output rate."""
    periods = entry.periods
    plans = tuple(_period_plan(entry, period, adjustments, multiplier) for period in periods)
    if len(periods) == 1:
        return plans[-1], _NEVER, None, plans
    return plans[-1], entry.period_starts[-1], tuple(entry.period_starts), plans


def _period_plan(entry: ModelPricing, period: Period, adjustments: tuple[str, ...], multiplier: float) -> Plan | None:
    # ``plain`` must say what it means (no tier, no window): both general paths read it.
    if period.windows or period.plain != (not period.long_context):
        return None
    base = _rate_plan(period.rates, entry.pricing_id, period.start_label, adjustments, multiplier)
    if base is None:
        return None
    cliffs: list[tuple[int, Plan | None]] = []
    for tier in period.long_context:
        if tier.merged is None:
            return None
        note = f"long_context>{tier.above_input_tokens}"
        cliffs.append(
            (
                tier.above_input_tokens,
                _rate_plan(tier.merged, entry.pricing_id, period.start_label, (*adjustments, note), multiplier),
            )
        )
    return (*base[:7], tuple(cliffs))


def _rate_plan(
    rates: Rates, pricing_id: str, label: str, adjustments: tuple[str, ...], multiplier: float
) -> Plan | None:
    if multiplier != 1.0:
        rates = rates.scaled(multiplier)  # (what calc.effective_rates prices with)
    base_in = rates.input
    output = rates.output
    if not rates.plain or base_in is None or output is None:
        return None
    read = base_in if rates.cache_read is None else rates.cache_read
    write = base_in if rates.cache_write is None else rates.cache_write
    if not all(0.0 <= rate <= _RATE_LIMIT for rate in (base_in, read, write, output)):
        return None  # (NaN fails too)
    return (base_in, read, write, output, pricing_id, label, adjustments, ())


def plan_at(fast: Fast, when: float | None) -> Plan | None:
    """The plan of the period in force at ``when`` (UNIX seconds; ``None``: now)."""
    newest, since, starts, plans = fast
    if starts is None:
        return newest  # one price period: the usual case
    if when is None:
        if since <= _LOADED_AT:
            return newest  # in force since before this module loaded, so now too
        when = time.time()  # a price announced for a later date: maybe not in force yet
    if when >= since:
        return newest  # a time since the last price change
    index = bisect_right(starts, when) - 1
    return plans[index if index > 0 else 0]


def fast_breakdown(plan: Plan, usage: TokenUsage, check: bool) -> CostBreakdown | None:
    """The fast path of :meth:`Catalog.price` and :meth:`Catalog.price_resolved`:
    text tokens at plain per-token rates, priced exactly as :func:`calc.fast_cost`
    prices them (to the bit; ``tests/test_pricing_fastpath.py`` checks it against
    the general path on every shipped entry). ``None`` sends the call to the
    general path: counts that are not ints in range (with ``check``, reasoning and
    request counts too), web searches (a per-search fee), audio, image, 1-hour
    writes, a long-context tier the plan cannot price, or a total too large for the
    exact sum."""
    rate_in, rate_read, rate_write, rate_out, pricing_id, label, adjustments, cliffs = plan
    input_tokens = usage.input_tokens
    output = usage.output_tokens
    cache_read = usage.cache_read_tokens
    cache_write = usage.cache_write_tokens
    if not (
        type(input_tokens) is int
        and 0 <= input_tokens <= _COUNT_LIMIT
        and type(output) is int
        and 0 <= output <= _COUNT_LIMIT
        and (cache_read is _ZERO or (type(cache_read) is int and 0 <= cache_read <= _COUNT_LIMIT))
        and (cache_write is _ZERO or (type(cache_write) is int and 0 <= cache_write <= _COUNT_LIMIT))
        and usage.cache_write_1h_tokens is _ZERO
        and usage.input_audio_tokens is _ZERO
        and usage.cache_read_audio_tokens is _ZERO
        and usage.output_audio_tokens is _ZERO
        and usage.input_image_tokens is _ZERO
        and usage.output_image_tokens is _ZERO
        and (
            not check
            or (
                ((count := usage.reasoning_tokens) is _ZERO or (type(count) is int and 0 <= count <= _COUNT_LIMIT))
                and ((count := usage.requests) is _ONE or (type(count) is int and 0 <= count <= _COUNT_LIMIT))
            )
        )
        and usage.web_searches is _ZERO  # (searches: a per-search fee, priced by the general path)
    ):
        return None  # (the general path validates, prices or raises)
    for threshold, past in cliffs:  # long context: past a threshold, the tier's plan
        if input_tokens > threshold:
            if past is None:
                return None
            rate_in, rate_read, rate_write, rate_out, pricing_id, label, adjustments, _ = past
            break
    # calc.fast_cost's arithmetic, to the bit: each part in whole 1e-12 USD (``x + _TWO52
    # - _TWO52`` rounds, the test after it makes that a floor: see _TWO52), the total from
    # their sum (see _EXACT_UNITS). Inline rather than a helper per part: this is most
    # of a span's pricing, and a call per part would cost a fifth more.
    uncached = input_tokens - cache_read - cache_write
    if uncached < 0:
        uncached = 0
    x = rate_in * uncached * 1e12 + 0.5
    in_units = x + _TWO52 - _TWO52
    if in_units > x:
        in_units -= 1.0
    x = rate_out * output * 1e12 + 0.5
    out_units = x + _TWO52 - _TWO52
    if out_units > x:
        out_units -= 1.0
    units = in_units + out_units
    read_usd = write_usd = 0.0
    if cache_read:
        x = rate_read * cache_read * 1e12 + 0.5
        read_units = x + _TWO52 - _TWO52
        if read_units > x:
            read_units -= 1.0
        read_usd = read_units / 1e12
        units += read_units
    if cache_write:
        x = rate_write * cache_write * 1e12 + 0.5
        write_units = x + _TWO52 - _TWO52
        if write_units > x:
            write_units -= 1.0
        write_usd = write_units / 1e12
        units += write_units
    if units >= _EXACT_UNITS:
        return None
    # CostBreakdown(...) without its __init__ frame: every field set (the test checks)
    cost: CostBreakdown = _new_breakdown(CostBreakdown)
    cost.total_usd = units / 1e12
    cost.input_usd = in_units / 1e12
    cost.cache_read_usd = read_usd
    cost.cache_write_usd = write_usd
    cost.output_usd = out_units / 1e12
    cost.request_usd = 0.0
    cost.pricing_id = pricing_id
    cost.effective_from = label
    cost.adjustments = adjustments
    cost.search_usd = 0.0
    cost.compute_usd = 0.0
    return cost
