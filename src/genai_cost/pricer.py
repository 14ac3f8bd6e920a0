"""From a span's usage to the cost attributes it should carry. No OpenTelemetry.

:class:`SpanPricer` turns a :class:`~genai_cost.usage.SpanUsage` into a
:class:`SpanCost`: either a priced record with its attribute dict, or an
unpriced one that says why. It never returns a silent zero and never raises
for anything a span can contain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import attributes as A
from .config import ReportedCostPolicy
from .pricing.calc import discounted, served_at_other_tier
from .pricing.catalog import Catalog, Resolution
from .pricing.errors import PricingError
from .pricing.model import CostBreakdown, TokenUsage
from .usage import MAX_USD, Role, SpanUsage, usd_amount, worth_keeping

AttributeValue = str | bool | int | float

_TOOL_CACHE_LIMIT = 4096


@dataclass(slots=True)
class SpanCost:
    """The cost of one span, as the roll-up and metrics need it (treat as immutable)."""

    category: str
    total_usd: float | None
    usage: TokenUsage | None
    attributes: dict[str, AttributeValue]
    unpriced_reason: str | None = None
    provider: str | None = None
    model: str | None = None
    operation: str | None = None

    @property
    def priced(self) -> bool:
        return self.unpriced_reason is None


#: The category of a :class:`SpanCost` that carries no cost of its own, only a
#: :class:`Recount` (the span of a call that took in refused attempts below it): counted as
#: no call, no tool and no priced or unpriced span.
NO_CATEGORY = ""


@dataclass(frozen=True, slots=True)
class Recount:
    """What a span takes back from its trace's counts: a model call was counted, as an
    unpriced call, on records of it handed on before this span showed they were part of
    its call (a wrapper without usage that ended first; a refused attempt). Those spans
    cannot be changed any more, so the counts are corrected where this span is counted:
    the roll-up's totals and a budget's ledger."""

    #: LLM calls counted on those records (records of category ``llm``).
    calls: int
    #: Unpriced spans counted on them.
    unpriced: int
    #: The span also ended after its local root (``CostedSpan.genai_after_root``).
    after_root: bool = False
    #: Of ``unpriced``, refused requests (``failed_call``).
    failed: int = 0


def recount_only(attributes: dict[str, AttributeValue]) -> SpanCost:
    """The cost of a span that has none of its own but carries a :class:`Recount`."""
    return SpanCost(NO_CATEGORY, None, None, attributes)


class SpanPricer:
    """Prices spans against one catalog. Thread-safe (the catalog is immutable)."""

    def __init__(self, catalog: Catalog, *, reported_cost: ReportedCostPolicy = "prefer") -> None:
        self.catalog = catalog
        self.reported_cost = reported_cost
        self._version = catalog.version
        self._tool_costs: dict[tuple[object, ...], SpanCost] = {}

    def price(
        self,
        usage: SpanUsage,
        attributes: Mapping[str, object],
        start_time_ns: int | None,
        end_time_ns: int | None = None,
    ) -> SpanCost | None:
        """The cost of a span, or ``None`` when the span is not billable work.
        ``end_time_ns`` gives the duration that prices self-hosted (per GPU-second) models."""
        role = usage.role
        if role in _CALL_ROLES:
            cost = self._price_call(usage, start_time_ns, end_time_ns)
            if cost.unpriced_reason == A.REASON_MISSING_USAGE and attributes.get(_ERROR_TYPE) is not None:
                return self.failed_call(cost.category, attributes[_ERROR_TYPE], usage)
            return cost
        if role in _TOOL_ROLES:
            return self._price_tool(usage, attributes)
        return None

    # ----------------------------------------------------------------- calls

    def _price_call(self, usage: SpanUsage, start_time_ns: int | None, end_time_ns: int | None = None) -> SpanCost:
        tokens = usage.usage
        model = usage.model
        if tokens is not None and model and usage.reported_cost is None and usage.invalid is None:
            return self._price_tokens(usage, tokens, model, start_time_ns, end_time_ns)
        category = A.CATEGORY_EMBEDDING if usage.role is _EMBEDDING else A.CATEGORY_LLM
        if usage.invalid is not None:
            return self._unpriced(category, A.REASON_INVALID_USAGE, usage.invalid, usage)
        reported = usage.reported_cost
        tokens = usage.usage
        if reported == 0.0:
            # Another tool's silent zero (OpenLIT's, LiteLLM's for a model its map does not
            # know; with no counts, a response that reported no usage) is not a price.
            reported = None
        if tokens is None and (reported is None or self.reported_cost == "ignore"):
            if model and self._priced_by_duration(usage, model, start_time_ns, end_time_ns):
                return self._price_tokens(usage, TokenUsage(), model, start_time_ns, end_time_ns)
            return self._unpriced(category, A.REASON_MISSING_USAGE, _NO_COUNTS, usage)
        if not usage.model and (reported is None or self.reported_cost == "ignore"):
            return self._unpriced(category, A.REASON_MISSING_MODEL, "the span names no model", usage)

        breakdown: CostBreakdown | None = None
        source = A.SOURCE_CATALOG
        failure: PricingError | None = None
        matched = ""
        answers = False
        periods = 1
        users_price = False
        if tokens is not None and usage.model:
            try:
                breakdown, resolution = self._catalog_price(usage, tokens, usage.model, start_time_ns, end_time_ns)
                entry, matched = resolution.model, resolution.match
                periods = len(entry.periods)
                answers = entry.kind in _ANSWERING_KINDS
                if entry.kind == "embedding":
                    category = A.CATEGORY_EMBEDDING
                source = A.SOURCE_OVERRIDE if entry.is_override else A.SOURCE_CATALOG
                users_price = discounted(breakdown.adjustments) or (
                    entry.is_override and self._users_own(entry.provider_id, usage.provider)
                )
            except PricingError as exc:
                failure = exc

        if reported is not None and self.reported_cost == "ignore":
            reported = None
        # An estimate the instrumentation made from its own price list (OpenLIT's, which
        # knows no cache or tier rates) is a fallback, never preferred to the catalog; nor is
        # a list-price cost when the span says the call was served otherwise; nor any cost
        # the span carries when the user's own pricing files price the call (an entry of
        # theirs, or their discount): those are the rates they pay, and win over everything.
        prefer = (
            self.reported_cost == "prefer" and usage.reported_cost_key not in _ESTIMATED_COST_KEYS and not users_price
        )
        if prefer and breakdown is not None and usage.reported_cost_key in _LIST_PRICE_COST_KEYS:
            prefer = not served_at_other_tier(breakdown.adjustments)
        if reported is not None and (prefer or breakdown is None):
            attrs: dict[str, AttributeValue] = {
                A.COST_TOTAL: float(reported),
                A.COST_CATEGORY: category,
                A.COST_SOURCE: A.SOURCE_SPAN,
            }
            if breakdown is not None:
                attrs[A.COST_CATALOG] = float(breakdown.total_usd)
                attrs[A.COST_REPORTED_DIFF] = float(round(reported - breakdown.total_usd, 12))
                attrs[A.COST_PRICING_ID] = breakdown.pricing_id
                attrs[A.COST_PRICING_VERSION] = self._version
                if matched:
                    attrs[A.COST_PRICING_MATCH] = matched
            return SpanCost(category, float(reported), tokens, attrs, None, *self._ids(usage))
        if breakdown is None:
            if failure is None:  # unreachable: tokens and model were both present
                return self._unpriced(category, A.REASON_PRICING_ERROR, "no price computed", usage)
            return self._unpriced(category, failure.reason, str(failure), usage)
        attrs = self._breakdown_attributes(breakdown, category, source, periods)
        if matched:
            attrs[A.COST_PRICING_MATCH] = matched
        if usage.convention != "inclusive":
            attrs[A.COST_USAGE_CONVENTION] = usage.convention
        if answers and tokens is not None and not tokens.output_tokens and tokens.input_tokens:
            _note_no_output(attrs)
        if reported is not None:
            attrs[A.COST_REPORTED] = float(reported)
            attrs[A.COST_REPORTED_DIFF] = float(round(reported - breakdown.total_usd, 12))
        return SpanCost(category, breakdown.total_usd, tokens, attrs, None, *self._ids(usage))

    def _price_tokens(
        self,
        usage: SpanUsage,
        tokens: TokenUsage,
        model: str,
        start_time_ns: int | None,
        end_time_ns: int | None,
    ) -> SpanCost:
        """The common case of :meth:`_price_call`: counts and a model, no cost on the span."""
        category = A.CATEGORY_EMBEDDING if usage.role is _EMBEDDING else A.CATEGORY_LLM
        try:
            breakdown, resolution = self._catalog_price(usage, tokens, model, start_time_ns, end_time_ns)
        except PricingError as exc:
            return self._unpriced(category, exc.reason, str(exc), usage)
        entry = resolution.model
        if entry.kind == "embedding":
            category = A.CATEGORY_EMBEDDING
        attrs = self._breakdown_attributes(
            breakdown, category, A.SOURCE_OVERRIDE if entry.is_override else A.SOURCE_CATALOG, len(entry.periods)
        )
        if resolution.match:
            attrs[A.COST_PRICING_MATCH] = resolution.match
        if usage.convention != "inclusive":
            attrs[A.COST_USAGE_CONVENTION] = usage.convention
        if not tokens.output_tokens and tokens.input_tokens and entry.kind in _ANSWERING_KINDS:
            _note_no_output(attrs)
        return SpanCost(category, breakdown.total_usd, tokens, attrs, None, usage.provider, model, usage.operation)

    def _priced_by_duration(
        self, usage: SpanUsage, model: str, start_time_ns: int | None, end_time_ns: int | None
    ) -> bool:
        """Whether the model is priced by the call's duration alone (self-hosted, per
        GPU-second), so that a span without token counts still has its price."""
        try:
            breakdown, _ = self._catalog_price(usage, TokenUsage(), model, start_time_ns, end_time_ns)
        except PricingError:
            return False
        return breakdown.compute_usd > 0 and breakdown.total_usd == breakdown.compute_usd

    def _catalog_price(
        self, usage: SpanUsage, tokens: TokenUsage, model: str, start_time_ns: int | None, end_time_ns: int | None
    ) -> tuple[CostBreakdown, Resolution]:
        """The catalog's price for the call, at its start time (raises PricingError)."""
        catalog = self.catalog
        resolution = catalog.resolve(model, usage.provider)
        # A start time of 0 is OTLP's "not set" (a sender's bug): priced now, and with no
        # duration (end - 0 would bill 56 years of GPU time).
        at = start_time_ns / 1e9 if start_time_ns else None
        if usage.service_tier is None and not usage.batch:
            fast = catalog._fast_price(resolution, tokens, at)  # what price_resolved does first
            if fast is not None:
                return fast, resolution
        breakdown = catalog.price_resolved(
            resolution,
            tokens,
            at=at,
            service_tier=usage.service_tier,
            batch=usage.batch,
            check=False,
            duration_s=(
                max(end_time_ns - start_time_ns, 0) / 1e9 if start_time_ns and end_time_ns else None
            ),
        )
        return breakdown, resolution

    def _breakdown_attributes(
        self, b: CostBreakdown, category: str, source: str, periods: int
    ) -> dict[str, AttributeValue]:
        attrs: dict[str, AttributeValue] = {
            A.COST_TOTAL: float(b.total_usd),
            A.COST_INPUT: float(b.input_usd),
            A.COST_OUTPUT: float(b.output_usd),
            A.COST_CATEGORY: category,
            A.COST_SOURCE: source,
            A.COST_PRICING_ID: b.pricing_id,
            A.COST_PRICING_VERSION: self._version,
        }
        if periods > 1:
            # Which of the entry's price periods applied (a call is priced at its start time).
            # Of an entry with one price, the id and catalog version already say it, and every
            # attribute costs the exporter's encoder 1.5-2.5 µs a span (performance.md).
            attrs[A.COST_PRICING_EFFECTIVE] = b.effective_from
        if b.cache_read_usd:
            attrs[A.COST_CACHE_READ] = float(b.cache_read_usd)
        if b.cache_write_usd:
            attrs[A.COST_CACHE_WRITE] = float(b.cache_write_usd)
        if b.request_usd:
            attrs[A.COST_REQUEST] = float(b.request_usd)
        if b.search_usd:
            attrs[A.COST_SEARCH] = float(b.search_usd)
        if b.compute_usd:
            attrs[A.COST_COMPUTE] = float(b.compute_usd)
        if b.adjustments:
            attrs[A.COST_ADJUSTMENTS] = ",".join(b.adjustments)
        return attrs

    # ----------------------------------------------------------------- tools

    def _price_tool(self, usage: SpanUsage, attributes: Mapping[str, object]) -> SpanCost:
        # A tool's cost depends only on its names and operation unless it is priced per
        # unit read from the span: those results are shared (SpanCost is treated as
        # immutable; the processor copies its attributes).
        if usage.usage is not None:  # token counts on a tool span: carried, so not shared
            return self._price_tool_uncached(usage, attributes)[0]
        # (Whether it is a retrieval, rather than the role itself: an Enum member hashes in Python.)
        retrieval = usage.role is _RETRIEVAL
        key = (retrieval, usage.tool_name, usage.data_source, usage.operation, usage.provider, usage.model)
        cached = self._tool_costs.get(key)
        if cached is not None:
            return cached
        cost, per_unit = self._price_tool_uncached(usage, attributes)
        if not per_unit and worth_keeping(key):
            if len(self._tool_costs) >= _TOOL_CACHE_LIMIT:
                self._tool_costs.clear()
            self._tool_costs[key] = cost
        return cost

    def _price_tool_uncached(self, usage: SpanUsage, attributes: Mapping[str, object]) -> tuple[SpanCost, bool]:
        """(the cost, whether it depends on a unit count read from the span)."""
        is_retrieval = usage.role is _RETRIEVAL
        category = A.CATEGORY_RETRIEVAL if is_retrieval else A.CATEGORY_TOOL
        names = [n for n in (usage.tool_name, usage.data_source if is_retrieval else None) if n]
        if not names:
            return self._unpriced(category, A.REASON_UNKNOWN_TOOL, "the span names no tool", usage), False
        tool = None
        for name in names:
            tool = self.catalog.tool(name)
            if tool is not None:
                break
        if tool is None:
            return self._unpriced(
                category, A.REASON_UNKNOWN_TOOL, f"tool {names[0]!r} has no price in the catalog", usage
            ), False
        units = 0.0
        if tool.unit_attribute:
            raw = attributes.get(tool.unit_attribute)
            if raw is not None:
                number = usd_amount(raw)
                if number is None:
                    return self._unpriced(
                        tool.category, A.REASON_INVALID_USAGE, f"{tool.unit_attribute}: {raw!r} is not a count", usage
                    ), True
                units = number
            elif tool.per_unit:
                # Billed by the unit (Anthropic's code execution, per container-hour; a
                # query per row scanned on top of its fee): without the count the span's
                # cost is not known. Its per-call fee alone would be a silent partial zero.
                fee = f"; its per-call fee alone is {tool.per_call:g} USD" if tool.per_call else ""
                return self._unpriced(
                    tool.category,
                    A.REASON_MISSING_USAGE,
                    f"tool {tool.name!r} is billed per {tool.unit_name or 'unit'}"
                    f" ({tool.unit_attribute}), which the span does not carry{fee}",
                    usage,
                ), True
        total = tool.per_call + tool.per_unit * units
        if not total <= MAX_USD:  # a count of units no real bill has (NaN too)
            return self._unpriced(
                tool.category,
                A.REASON_INVALID_COST,
                f"tool {tool.name!r}: {units!r} {tool.unit_name or 'units'} come to more than {MAX_USD:g} USD",
                usage,
            ), True
        attrs: dict[str, AttributeValue] = {
            A.COST_TOTAL: float(total),
            A.COST_CATEGORY: tool.category,
            A.COST_SOURCE: A.SOURCE_OVERRIDE if tool.is_override else A.SOURCE_CATALOG,
            A.COST_PRICING_ID: f"tool/{tool.name}",
            A.COST_PRICING_VERSION: self._version,
        }
        cost = SpanCost(tool.category, float(total), None, attrs, None, None, tool.name, usage.operation)
        return cost, bool(tool.unit_attribute)

    # --------------------------------------------------------------- helpers

    def _unpriced(self, category: str, reason: str, detail: str, usage: SpanUsage) -> SpanCost:
        attrs: dict[str, AttributeValue] = {
            A.COST_UNPRICED: True,
            A.COST_UNPRICED_REASON: reason,
            A.COST_UNPRICED_DETAIL: detail[:300],
            A.COST_CATEGORY: category,
            A.COST_PRICING_VERSION: self._version,
        }
        return SpanCost(category, None, usage.usage, attrs, reason, *self._ids(usage))

    def unrecorded_calls(self, usage: SpanUsage) -> SpanCost:
        """An agent's or workflow's span that counts tokens with no call recorded below it
        (:func:`~genai_cost.usage.counts_tokens`): its calls were made, but only their
        aggregate was recorded, which genai-cost does not price (it prices each call, the
        leaf, so that nothing is counted twice). Flagged, so that it is not a silent zero."""
        what = f"{usage.operation} span" if usage.operation else "agent or workflow span"
        model = f" (model {usage.model})" if usage.model else ""
        detail = (
            f"the {what} counts tokens{model}, but no model call was recorded below it: genai-cost"
            " prices each call, not their aggregate. Instrument the model calls (the provider's"
            " instrumentation, or the framework's own model spans)"
        )
        return self._unpriced(A.CATEGORY_LLM, A.REASON_UNRECORDED_CALLS, detail, usage)

    def failed_call(self, category: str, error_type: object, usage: SpanUsage) -> SpanCost:
        """A call that failed (``error.type``, or the span's error status, which the processor
        reads) and recorded no usage: most likely billed
        nothing (a rate limit, a refused request), but a stream cut off after it began may
        have been. Still unpriced, for what it may have cost; its own reason, so that
        rate-limit retries do not read as missing telemetry."""
        return self._unpriced(
            category,
            A.REASON_FAILED_CALL,
            f"the call failed ({str(error_type)[:80]}) and recorded no token counts; "
            "a failed request is usually not billed",
            usage,
        )

    def _users_own(self, entry_provider: str, call_provider: str | None) -> bool:
        """Whether a user's entry prices the call as its own provider's price: not one of
        another provider that the call's provider falls back to, for want of any other
        (the last resort of ``Catalog.resolve``), which the span's own cost beats."""
        provider = self.catalog.provider_id(call_provider)
        return provider is None or provider == entry_provider

    @staticmethod
    def _ids(usage: SpanUsage) -> tuple[str | None, str | None, str | None]:
        return usage.provider, usage.model, usage.operation


#: Roles read off their Enum once (a member read off its class is a Python-level lookup on
#: Python 3.11 and older, about 80 ns; see ``processor._INFERENCE_ROLES``).
_CALL_ROLES = (Role.LLM, Role.EMBEDDING)
_TOOL_ROLES = (Role.TOOL, Role.RETRIEVAL)
_EMBEDDING, _RETRIEVAL = Role.EMBEDDING, Role.RETRIEVAL

#: The semantic conventions' attribute for a failed operation (``RateLimitError``, ``429``).
_ERROR_TYPE = "error.type"
_NO_COUNTS = (
    "the span carries no token counts (or 0 in and 0 out, which no call does: a response that"
    " reported no usage, a stream that did not ask for it?)"
)

#: Span attributes that carry a cost the instrumentation estimated client-side from a
#: price list of its own (OpenLIT's ``gen_ai.usage.cost``: input and output rates only,
#: no cache, tier or long-context pricing), rather than a cost billed or computed by
#: the provider or a gateway (``operation.cost``, ``llm.cost.total``, the semconv amount).
_ESTIMATED_COST_KEYS = frozenset({"gen_ai.usage.cost"})
#: Span attributes with a cost computed client-side at list price: Pydantic AI and Logfire
#: write ``operation.cost`` from ``genai_prices.calc_price``, which is given no service
#: tier, batch flag or speed; LiteLLM's callback ``gen_ai.cost.total_cost`` from its price
#: map. Preferred to the catalog, except for a call the span says was served at another tier
#: (flex, priority, batch, Anthropic's fast mode), whose price the catalog knows and the
#: list price does not.
_LIST_PRICE_COST_KEYS = frozenset({"operation.cost", "gen_ai.cost.total_cost"})

#: Entry kinds whose calls answer in output tokens: a span of one that counts input and no
#: output (an aborted stream, an instrumentation that did not record the answer) is priced
#: for its input alone, and says so rather than pass for a complete price.
_ANSWERING_KINDS = frozenset({"chat", "completion"})


def _note_no_output(attrs: dict[str, AttributeValue]) -> None:
    """Add ``no_output_tokens`` to the span's adjustments (the notes of a price that may be
    an under-estimate)."""
    notes = attrs.get(A.COST_ADJUSTMENTS)
    attrs[A.COST_ADJUSTMENTS] = f"{notes},{A.ADJUSTMENT_NO_OUTPUT}" if notes else A.ADJUSTMENT_NO_OUTPUT
