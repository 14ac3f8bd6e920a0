"""Cost layers beyond model tokens that are not in the per-span catalog.

The five cost layers of an agent (LLM tokens, tools and external APIs,
embeddings and vector search, infrastructure, human escalation) each get their
own ``gen_ai.cost.category`` and their own part of the trace totals
(``gen_ai.trace.cost.<category>_usd``):

* ``llm``, ``embedding``: token-priced from the catalog (:mod:`genai_cost.pricer`);
* ``tool``, ``retrieval``: catalog ``tools:`` entries, per call plus per unit
  read from a span attribute; a tool or vector-store span with no price is
  flagged ``unknown_tool`` (:mod:`genai_cost.pricer`);
* ``infra`` (this module, :class:`InfraCostLayer`): a monthly infrastructure
  cost spread over traces, either evenly (``per_trace``) or in proportion to
  the trace's duration (``per_second``). It exists only per trace, so it is
  added to the totals on the local root span, never to a span of its own;
* ``human`` (this module, :class:`HumanEscalationLayer`): a fixed cost per
  hand-off to a person, marked by the span attribute
  ``gen_ai.escalation.human = true`` or by a span event named
  ``gen_ai.escalation.human``.

Both are configured by ``GENAI_COST_INFRA_*`` / ``GENAI_COST_HUMAN_ESCALATION_USD``
environment variables or by the ``infrastructure:`` / ``human_escalation:``
sections of a pricing file (environment wins). See ``docs/cost-layers.md``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from opentelemetry.sdk.trace import ReadableSpan

from . import attributes as A
from ._guard import OwnExtension
from .config import env_number, user_cache_dir
from .pricer import AttributeValue, SpanCost
from .pricing.calc import MAX_RATE
from .pricing.catalog import Catalog
from .pricing.errors import REASON_INVALID_COST
from .rollup import TraceTotals
from .usage import MAX_USD

_log = logging.getLogger("genai_cost")

Allocation = Literal["per_trace", "per_second"]

#: The longest duration a span can have, in seconds: OTLP times are uint64 nanoseconds.
_LONGEST_TRACE_S = 2.0**64 / 1e9

#: The article's assumed average conversation, in seconds.
DEFAULT_AVERAGE_TRACE_SECONDS = 120.0


#: The largest fee of one hand-off (USD): a pricing file's bound on every fee
#: (``pricing.schema.MAX_RATE``), far above any real one; the environment is held to it too.
MAX_FEE_USD = MAX_RATE


def _too_large_fee(value: float) -> str:
    return f"per_escalation must be at most 1e9 USD, far above any real fee, not {value!r}"


@dataclass(frozen=True)
class InfraAllocation:
    """``monthly_usd`` of shared infrastructure spread over ``monthly_traces``.

    ``per_trace``: every trace gets ``monthly_usd / monthly_traces``.
    ``per_second``: a trace gets that share times ``duration / average_trace_seconds``
    (a 60-second conversation against a 120-second average gets half a share).
    """

    monthly_usd: float
    monthly_traces: float
    allocation: Allocation = "per_trace"
    average_trace_seconds: float = DEFAULT_AVERAGE_TRACE_SECONDS

    def __post_init__(self) -> None:
        for name in ("monthly_usd", "monthly_traces", "average_trace_seconds"):
            _require_number(name, getattr(self, name))
        if not (self.monthly_usd >= 0 and self.monthly_traces > 0 and self.average_trace_seconds > 0):
            raise ValueError("monthly_usd must be >= 0, monthly_traces and average_trace_seconds > 0")
        if self.allocation not in ("per_trace", "per_second"):
            raise ValueError(f"allocation must be per_trace or per_second, not {self.allocation!r}")
        # Each value finite and in range can still divide to infinity (1e308 over 1e-10), which
        # would be written on every root: one trace's share must be an amount (at most 1e15
        # USD, as a cost read back from a span), and the share of the longest trace OTLP can
        # time (2**64 ns, some 585 years) a finite number.
        if not (
            self.per_trace_usd <= MAX_USD
            and math.isfinite(self.per_trace_usd / self.average_trace_seconds * _LONGEST_TRACE_S)
        ):
            raise ValueError(
                "monthly_usd / monthly_traces (per average_trace_seconds) is too large to be an amount: "
                f"{self.monthly_usd!r} / {self.monthly_traces!r}"
            )

    @property
    def per_trace_usd(self) -> float:
        return self.monthly_usd / self.monthly_traces

    def cost(self, duration_s: float | None = None) -> float:
        """The share of one trace; ``duration_s`` is used only by ``per_second``
        (an unknown duration counts as an average trace)."""
        share = self.per_trace_usd
        if self.allocation == "per_trace" or duration_s is None:
            return share
        return share * max(duration_s, 0.0) / self.average_trace_seconds


class InfraCostLayer:
    """A :class:`~genai_cost.rollup.TraceCostLayer`: adds the trace's infrastructure
    share to its totals (``gen_ai.trace.cost.infra_usd``) when the local root passes.

    The duration is the local root span's (in a distributed trace, the part of it
    that ran in this process)."""

    def __init__(self, allocation: InfraAllocation) -> None:
        self.allocation = allocation

    def trace_costs(self, root: ReadableSpan, totals: TraceTotals) -> Mapping[str, float] | None:
        duration: float | None = None
        start, end = root.start_time, root.end_time
        if start and end and end >= start:  # (a start of 0 is OTLP's "not set": unknown)
            duration = (end - start) / 1e9
        return {A.CATEGORY_INFRA: self.allocation.cost(duration)}


class HumanEscalationLayer(OwnExtension):
    """A :class:`~genai_cost.extensions.SpanCostLayer`: ``per_escalation`` USD for
    each hand-off to a person.

    A span is a hand-off when it carries ``gen_ai.escalation.human = true``
    (one escalation) or events named ``gen_ai.escalation.human`` (one per event;
    the attribute and events together still count as the events). The marker
    is honoured on spans that have no cost of their own (agent, workflow or
    plain application spans); on a span already priced as an LLM or tool call
    it is not, so put it on the agent span or a span of its own. A hand-off
    modelled as a tool call is priced from the catalog instead: give the tool
    ``category: human``.
    """

    def __init__(self, per_escalation: float, *, version: str = "config") -> None:
        _require_number("per_escalation", per_escalation)
        if not (per_escalation >= 0 and math.isfinite(per_escalation)):
            raise ValueError(f"per_escalation must be a finite amount >= 0 (USD), not {per_escalation!r}")
        if per_escalation > MAX_FEE_USD:
            raise ValueError(_too_large_fee(per_escalation))
        self.per_escalation = float(per_escalation)
        self._version = version

    def escalations(self, span: ReadableSpan, attributes: Mapping[str, object]) -> int:
        marked = attributes.get(A.HUMAN_ESCALATION_ATTR)
        count = 1 if marked is True or (isinstance(marked, str) and marked.strip().lower() == "true") else 0
        # The SDK's own list, not ``span.events``, which copies it into a tuple: this runs on
        # every span, and the copy made price_span nearly three times as slow: 684 ns a span
        # instead of 238 (measured: SDK 1.45, Python 3.11, a span without events).
        # Any span without that attribute is read through the public property.
        events = getattr(span, "_events", None)
        if events is None:
            events = span.events
        if events:
            named = sum(1 for event in events if event.name == A.HUMAN_ESCALATION_EVENT)
            if named:
                count = named
        return count

    def price_span(self, span: ReadableSpan, attributes: Mapping[str, object]) -> SpanCost | None:
        count = self.escalations(span, attributes)
        if not count:
            return None
        usd = float(self.per_escalation * count)
        if not usd <= MAX_USD:  # (a fee in range times thousands of events may still be none)
            detail = (
                f"{count} escalations at {self.per_escalation!r} USD make {usd!r} USD, which is no amount"
                " (more than 1e15 USD, or not finite)"
            )
            unpriced: dict[str, AttributeValue] = {
                A.COST_UNPRICED: True,
                A.COST_UNPRICED_REASON: REASON_INVALID_COST,
                A.COST_UNPRICED_DETAIL: detail,
                A.COST_CATEGORY: A.CATEGORY_HUMAN,
                A.COST_PRICING_VERSION: self._version,
                A.COST_ESCALATIONS: count,
            }
            return SpanCost(A.CATEGORY_HUMAN, None, None, unpriced, REASON_INVALID_COST, None, None, "human_escalation")
        attrs: dict[str, AttributeValue] = {
            A.COST_TOTAL: usd,
            A.COST_CATEGORY: A.CATEGORY_HUMAN,
            A.COST_SOURCE: A.SOURCE_OVERRIDE,
            A.COST_PRICING_ID: "human/escalation",
            A.COST_PRICING_VERSION: self._version,
            A.COST_ESCALATIONS: count,
        }
        return SpanCost(A.CATEGORY_HUMAN, usd, None, attrs, None, None, None, "human_escalation")


@dataclass(frozen=True)
class LayerSettings:
    """The non-catalog layers, from the environment and the user's pricing files.

    ==========================================  =========================================
    ``GENAI_COST_INFRA_MONTHLY_USD``            infrastructure cost per month, USD
    ``GENAI_COST_INFRA_MONTHLY_TRACES``         traces (conversations) per month
    ``GENAI_COST_INFRA_ALLOCATION``             ``per_trace`` (default) or ``per_second``
    ``GENAI_COST_INFRA_AVG_TRACE_SECONDS``      average trace duration for ``per_second`` (120)
    ``GENAI_COST_HUMAN_ESCALATION_USD``         fixed cost of one hand-off to a person
    ==========================================  =========================================

    The environment wins over a pricing file's ``infrastructure:`` and
    ``human_escalation:`` sections (the last file that sets one wins). A bad value is
    logged and ignored.
    """

    infra: InfraAllocation | None = None
    human_escalation_usd: float | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        pricing_files: Sequence[str | Path] = (),
        *,
        catalog: Catalog | None = None,
    ) -> LayerSettings:
        """The layers the environment and the pricing files configure. The files'
        sections are read from ``catalog``, the one the processor prices with
        (:func:`genai_cost.processor.load_catalog`), which parsed them already; given
        ``pricing_files`` instead, those are loaded as that function loads them (a file
        it would skip is skipped here too)."""
        if catalog is not None and pricing_files:
            raise ValueError("give the catalog or the pricing files its sections come from, not both")
        env = os.environ if environ is None else environ
        problems: list[str] = []
        if catalog is None and pricing_files:
            catalog, _ = Catalog.load_lenient(pricing_files, cache_dir=user_cache_dir())
        infra, human = _from_catalog(catalog, problems) if catalog is not None else (None, None)

        def number(name: str, minimum: float, strict: bool) -> float | None:
            return env_number(env, name, problems, minimum=minimum, strict=strict)

        monthly = number("GENAI_COST_INFRA_MONTHLY_USD", 0, strict=False)
        traces = number("GENAI_COST_INFRA_MONTHLY_TRACES", 0, strict=True)
        average = number("GENAI_COST_INFRA_AVG_TRACE_SECONDS", 0, strict=True)
        raw_mode = env.get("GENAI_COST_INFRA_ALLOCATION", "").strip().lower()
        mode: Allocation | None = None
        if raw_mode in ("per_trace", "per_second"):
            mode = raw_mode  # type: ignore[assignment]
        elif raw_mode:
            fallback = infra.allocation if infra is not None else "per_trace"
            problems.append(
                f"GENAI_COST_INFRA_ALLOCATION={env['GENAI_COST_INFRA_ALLOCATION']!r}:"
                f" expected per_trace or per_second; using {fallback}"
            )
        if monthly is not None or traces is not None or mode is not None or average is not None:
            base = infra
            monthly = monthly if monthly is not None else (base.monthly_usd if base else None)
            traces = traces if traces is not None else (base.monthly_traces if base else None)
            if monthly is None or traces is None:
                named = ("GENAI_COST_INFRA_MONTHLY_USD", "GENAI_COST_INFRA_MONTHLY_TRACES")
                unset = [name for name, value in zip(named, (monthly, traces), strict=True) if value is None]
                if not any(env.get(name, "").strip() for name in unset):  # (a bad value is reported already)
                    problems.append(f"infrastructure cost needs both {named[0]} and {named[1]}")
            else:
                try:
                    infra = InfraAllocation(
                        monthly_usd=monthly,
                        monthly_traces=traces,
                        allocation=mode or (base.allocation if base else "per_trace"),
                        average_trace_seconds=average
                        or (base.average_trace_seconds if base else DEFAULT_AVERAGE_TRACE_SECONDS),
                    )
                except ValueError as exc:
                    problems.append(f"GENAI_COST_INFRA_MONTHLY_USD / _MONTHLY_TRACES: {exc}; ignored")
                    infra = base
        if average is not None and infra is not None and infra.allocation != "per_second":
            # Read only to spread a share by duration: set alone, it changed nothing, silently.
            problems.append(
                "GENAI_COST_INFRA_AVG_TRACE_SECONDS is read only with GENAI_COST_INFRA_ALLOCATION=per_second"
                f" (the allocation is {infra.allocation}): ignored"
            )
        human_env = number("GENAI_COST_HUMAN_ESCALATION_USD", 0, strict=False)
        if human_env is not None and human_env > MAX_FEE_USD:
            kept = f"using {human!r} from the pricing file" if human is not None else "no escalation cost"
            problems.append(f"GENAI_COST_HUMAN_ESCALATION_USD={human_env!r}: {_too_large_fee(human_env)}; {kept}")
        elif human_env is not None:
            human = human_env
        for problem in problems:
            _log.error("genai-cost configuration: %s", problem)
        return cls(infra=infra, human_escalation_usd=human, problems=tuple(problems))

    def trace_layers(self) -> tuple[InfraCostLayer, ...]:
        return (InfraCostLayer(self.infra),) if self.infra is not None else ()

    def span_layers(self) -> tuple[HumanEscalationLayer, ...]:
        if self.human_escalation_usd is None:
            return ()
        return (HumanEscalationLayer(self.human_escalation_usd),)


def _require_number(name: str, value: object) -> None:
    """A setting given in code as text (``InfraAllocation("2000", 10)``) failed on the first
    comparison with a bare TypeError that named nothing."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, not {value!r}")


def _from_catalog(catalog: Catalog, problems: list[str]) -> tuple[InfraAllocation | None, float | None]:
    """The ``infrastructure:`` and ``human_escalation:`` sections of the user's pricing
    files, as the catalog kept them (the last one set wins; an infrastructure section
    that makes no usable share per trace is reported, and the one before it kept)."""
    infra: InfraAllocation | None = None
    for section in catalog.infrastructure:
        try:
            infra = InfraAllocation(
                monthly_usd=section.monthly_usd,
                monthly_traces=section.monthly_traces,
                allocation=section.allocation,
                average_trace_seconds=section.average_trace_seconds,
            )
        except ValueError as exc:
            problems.append(f"{section.defined_in}: infrastructure: {exc}; ignored")
    return infra, catalog.human_escalation_usd
