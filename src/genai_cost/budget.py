"""Per-trace budgets: the running spend of a trace, readable in-process, and
hard limits the agent checks before its next step.

A :class:`Budget` is a :class:`~genai_cost.extensions.SettlingListener`: the span
processor tells it about every priced (or unpriced) span, and every read of the
spend first has the processor price the spans ended so far (pricing is deferred
off the application thread), so the spend is current the moment a model call
returns (it does not wait for the batch exporter). The agent asks before each
step::

    from genai_cost import BudgetExceededError, check_budget

    with tracer.start_as_current_span("invoke_agent research"):
        for step in plan:
            check_budget()          # raises BudgetExceededError once a limit is hit
            run(step)

Limits, all per trace (``GENAI_COST_BUDGET_*``, see :meth:`BudgetLimits.from_env`):

* ``max_cost_usd``: hit when the trace's spend reaches it (``spend >= limit``);
* ``max_llm_calls``: hit when the trace has made that many LLM calls (so a
  check before the next call stops call number ``limit + 1``);
* ``max_tokens_per_call``: hit by any single LLM call whose input + output
  tokens exceed it.

When a span hits a limit, the span gets an event ``gen_ai.cost.budget_exceeded``
(attributes ``gen_ai.cost.budget.limit``, ``.limit_value``, ``.spend``) and the
attribute ``gen_ai.cost.budget.limit``; the budget-hit counter counts it. The
span path never raises: only :meth:`Budget.check` / :func:`check_budget` do.

State is bounded: a trace's ledger expires after ``idle_timeout_s`` without a
new span, and the oldest go first past ``max_traces``; those that hit a limit or
have limits of their own are held apart (bounded too), so a stopped trace stays
stopped, and so are the last ``max_traces`` others with a spend, so that a trace
that pauses (for a person, a long tool) goes on from its spend, not from zero.
A trace the sampler did not record has no spend (``None``): no span of it
reaches the processor.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import Event, ReadableSpan

from . import attributes as A
from ._bounded import newer_half
from ._guard import INTERNAL_FAILURES, OwnExtension
from .config import env_number
from .extensions import SpanAnnotations
from .pricer import SpanCost
from .pricing._fork import renew_locks_after_fork
from .usage import SpanUsage

_log = logging.getLogger("genai_cost")
#: Bound on the ledgers held apart after they were let go (see Budget._expire).
_MAX_HELD = 10_000

#: Called with (limit name, spend at the crossing, the limit's value).
ExceededCallback = Callable[[str, float, float], None]


class BudgetExceededError(RuntimeError):
    """A per-trace budget limit was hit. ``limit`` is its name (``max_cost_usd``,
    ``max_llm_calls``, ``max_tokens_per_call``), ``spend`` the value that hit it
    (USD, calls or tokens), ``limit_value`` the limit. ``trace_id`` is the trace's id
    as OpenTelemetry's API holds it (an int); :attr:`trace_id_hex` is how backends
    show and search it."""

    def __init__(self, limit: str, spend: float, limit_value: float, trace_id: int | None = None) -> None:
        self.limit = limit
        self.spend = spend
        self.limit_value = limit_value
        self.trace_id = trace_id
        where = f" in trace {trace_id:032x}" if trace_id else ""
        if limit == A.BUDGET_MAX_COST:
            detail = f"spent ${spend:.6f} of a ${limit_value:.6f} budget"
        elif limit == A.BUDGET_MAX_LLM_CALLS:
            detail = f"made {spend:g} LLM calls, the limit is {limit_value:g}"
        else:
            detail = f"one LLM call used {spend:g} tokens, the limit is {limit_value:g} per call"
        super().__init__(f"genai-cost budget {limit} hit{where}: {detail}")

    @property
    def trace_id_hex(self) -> str | None:
        """The trace id as 32 hex digits (what Jaeger, Tempo and the message show)."""
        return f"{self.trace_id:032x}" if self.trace_id else None


@dataclass(frozen=True)
class BudgetLimits:
    """Per-trace limits; ``None`` means no limit.

    =========================================  ==========================================
    ``GENAI_COST_BUDGET_MAX_COST_USD``          spend per trace, USD (e.g. ``0.50``)
    ``GENAI_COST_BUDGET_MAX_LLM_CALLS``         LLM calls per trace (e.g. ``10``)
    ``GENAI_COST_BUDGET_MAX_TOKENS_PER_CALL``   input + output tokens of one LLM call
    =========================================  ==========================================
    """

    max_cost_usd: float | None = None
    max_llm_calls: int | None = None
    max_tokens_per_call: int | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for name in A.BUDGET_LIMITS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, not {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, not {value!r}")
            if name != A.BUDGET_MAX_COST and value != int(value):
                raise ValueError(f"{name} counts, so it must be a whole number, not {value!r}")

    @property
    def any(self) -> bool:
        return self.max_cost_usd is not None or self.max_llm_calls is not None or self.max_tokens_per_call is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BudgetLimits:
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def read(name: str, integer: bool) -> float | None:
            return env_number(
                env, name, problems, minimum=0, strict=True, integer=integer, otherwise="no such limit is set"
            )

        cost = read("GENAI_COST_BUDGET_MAX_COST_USD", integer=False)
        calls = read("GENAI_COST_BUDGET_MAX_LLM_CALLS", integer=True)
        tokens = read("GENAI_COST_BUDGET_MAX_TOKENS_PER_CALL", integer=True)
        for problem in problems:
            _log.error("genai-cost configuration: %s", problem)
        return cls(
            max_cost_usd=cost,
            max_llm_calls=None if calls is None else int(calls),
            max_tokens_per_call=None if tokens is None else int(tokens),
            problems=tuple(problems),
        )


@dataclass(frozen=True)
class TraceSpend:
    """A snapshot of one trace's running spend in this process."""

    trace_id: int
    cost_usd: float = 0.0
    by_category: Mapping[str, float] = field(default_factory=dict)
    llm_calls: int = 0
    #: The most tokens (input + output) any one LLM call of the trace used.
    max_call_tokens: int = 0
    unpriced_spans: int = 0
    #: Limits hit so far: name -> (value that hit it, the limit).
    exceeded: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def remaining_usd(self, limits: BudgetLimits) -> float | None:
        if limits.max_cost_usd is None:
            return None
        return max(round(limits.max_cost_usd - self.cost_usd, 12), 0.0)


class _Ledger:
    __slots__ = (
        "by_category",
        "cost_usd",
        "exceeded",
        "last_update",
        "limits",
        "llm_calls",
        "max_call_tokens",
        "unpriced",
    )

    def __init__(self) -> None:
        self.cost_usd = 0.0
        self.by_category: dict[str, float] = {}
        self.llm_calls = 0
        self.max_call_tokens = 0
        self.unpriced = 0
        self.exceeded: dict[str, tuple[float, float]] = {}
        self.last_update = 0.0
        #: This trace's own limits (Budget.set_trace_limits), else the budget's.
        self.limits: BudgetLimits | None = None


class Budget(OwnExtension):
    """Running spend per trace and the limits it is held to. Thread-safe.

    Attach it to the processor (``CostSpanProcessor(..., listeners=[budget])``;
    the zero-code configurator does this from ``GENAI_COST_BUDGET_*``), then
    call :meth:`check` (or :func:`check_budget` for the default budget).
    """

    def __init__(
        self,
        limits: BudgetLimits | None = None,
        *,
        max_cost_usd: float | None = None,
        max_llm_calls: int | None = None,
        max_tokens_per_call: int | None = None,
        idle_timeout_s: float = 600.0,
        max_traces: int = 10_000,
        on_exceeded: ExceededCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limits is None:
            limits = BudgetLimits(max_cost_usd, max_llm_calls, max_tokens_per_call)
        elif max_cost_usd is not None or max_llm_calls is not None or max_tokens_per_call is not None:
            raise ValueError("give either limits or the max_* keywords, not both")
        if idle_timeout_s <= 0 or max_traces < 1:
            raise ValueError("idle_timeout_s must be > 0 and max_traces >= 1")
        self.limits = limits
        self._idle = idle_timeout_s
        self._max = max_traces
        self._clock = clock
        self._callbacks: tuple[ExceededCallback, ...] = (on_exceeded,) if on_exceeded else ()
        self._ledgers: OrderedDict[int, _Ledger] = OrderedDict()
        self._lock = threading.Lock()
        renew_locks_after_fork(self, _lock=threading.Lock)
        #: Limits hit since start, all traces (self-observability).
        self.hits = 0
        self._pending_sources: tuple[Callable[[], None], ...] = ()
        #: Ledgers let go (idle, or past max_traces) that hit a limit or have limits of their
        #: own: kept apart so that such a trace stays stopped (see _expire).
        self._held: dict[int, _Ledger] = {}
        #: Ledgers let go with a spend but no limit hit, oldest first (at most max_traces):
        #: a trace that pauses past the idle timeout goes on from its spend, not from zero.
        self._paused: OrderedDict[int, _Ledger] = OrderedDict()
        #: Limits crossed whose callbacks have not run yet: (name, spend, limit).
        self._due: list[tuple[str, float, float]] = []

    def add_pending_source(self, settle: Callable[[], None]) -> None:
        """Called by a :class:`~genai_cost.processor.CostSpanProcessor` this budget
        listens to: it prices off the application thread, so every read of the
        spend first has it price the spans that have ended so far."""
        self._pending_sources = (*self._pending_sources, settle)

    def after_pricing(self) -> None:
        """Run the callbacks of the limits crossed so far. A processor calls it once it
        has released its pricing lock, so a callback may take the application's locks,
        read this budget from any thread, or end spans: under the lock, each of these
        could deadlock the application (its thread waiting in :meth:`check` for the
        lock, while the callback, holding it, waits for the application)."""
        if not self._due:
            return
        with self._lock:
            due, self._due = self._due, []
        for name, spend, limit in due:
            for callback in self._callbacks:
                try:
                    callback(name, spend, limit)
                except Exception:
                    _log.exception("genai-cost: budget callback failed")

    def _settle(self) -> None:
        for settle in self._pending_sources:
            try:
                settle()
            except INTERNAL_FAILURES:  # a budget read must answer with what it has
                _log.exception("genai-cost: pricing pending spans before a budget read failed")

    def add_exceeded_callback(self, callback: ExceededCallback) -> None:
        self._callbacks = (*self._callbacks, callback)

    @property
    def open_traces(self) -> int:
        return len(self._ledgers)

    # ------------------------------------------------------------ CostListener

    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> Mapping[str, object] | None:
        context = span.context
        if context is None:
            return None
        usd = cost.total_usd if cost.unpriced_reason is None and cost.total_usd is not None else 0.0
        call_tokens = 0
        is_llm = cost.category == A.CATEGORY_LLM
        if is_llm and cost.usage is not None:
            call_tokens = cost.usage.input_tokens + cost.usage.output_tokens
        with self._lock:
            now = self._clock()
            ledger = self._ledgers.get(context.trace_id)
            if ledger is None:
                ledger = self._ledger_of(context.trace_id, now)
            else:
                self._ledgers.move_to_end(context.trace_id)
            ledger.last_update = now
            limits = ledger.limits or self.limits
            if usd:
                ledger.cost_usd += usd
                ledger.by_category[cost.category] = ledger.by_category.get(cost.category, 0.0) + usd
            if cost.unpriced_reason is not None:
                ledger.unpriced += 1
            if is_llm:
                ledger.llm_calls += 1
                if call_tokens > ledger.max_call_tokens:
                    ledger.max_call_tokens = call_tokens
            crossed = _running_limits_reached(ledger, limits, counting_calls=is_llm)
            if limits.max_tokens_per_call is not None and call_tokens > limits.max_tokens_per_call:
                # Every oversized call is a hit of its own; check() reports the first.
                crossed.append((A.BUDGET_MAX_TOKENS_PER_CALL, float(call_tokens), float(limits.max_tokens_per_call)))
            self._record_hits(ledger, crossed)
        if not crossed:
            return None
        if not self._pending_sources:  # not told by a processor when its pricing is over: now
            self.after_pricing()
        timestamp = span.end_time
        events = [
            Event(
                A.BUDGET_EVENT,
                {A.BUDGET_LIMIT_ATTR: name, A.BUDGET_LIMIT_VALUE_ATTR: limit, A.BUDGET_SPEND_ATTR: spend},
                timestamp=timestamp,
            )
            for name, spend, limit in crossed
        ]
        return SpanAnnotations({A.BUDGET_LIMIT_ATTR: ",".join(name for name, _, _ in crossed)}, events)

    def _record_hits(self, ledger: _Ledger, crossed: list[tuple[str, float, float]]) -> None:
        """Under the lock: the limits ``crossed`` stay hit for the trace; their
        callbacks are due."""
        if not crossed:
            return
        exceeded = ledger.exceeded
        for name, spend, limit in crossed:
            exceeded.setdefault(name, (spend, limit))
        self.hits += len(crossed)
        if self._callbacks:
            self._due.extend(crossed)

    # ----------------------------------------------------------------- queries

    def spend(self, trace_id: int | None = None) -> TraceSpend | None:
        """The running spend of ``trace_id`` (default: the trace of the current
        OpenTelemetry context); ``None`` outside any trace. A trace with no
        priced span yet has zero spend."""
        if trace_id is None:
            trace_id = _current_trace_id()
            if trace_id is None:
                return None
        self._settle()
        with self._lock:
            ledger = self._ledgers.get(trace_id) or self._held.get(trace_id) or self._paused.get(trace_id)
            if ledger is None:
                return TraceSpend(trace_id)
            return TraceSpend(
                trace_id=trace_id,
                cost_usd=_spent(ledger),
                by_category={category: round(usd, 12) for category, usd in ledger.by_category.items()},
                llm_calls=ledger.llm_calls,
                max_call_tokens=ledger.max_call_tokens,
                unpriced_spans=ledger.unpriced,
                exceeded=dict(ledger.exceeded),
            )

    def set_trace_limits(self, limits: BudgetLimits, trace_id: int | None = None) -> None:
        """Hold one trace (default: the current one) to its own limits instead of
        the budget's, e.g. a larger budget for a premium customer's request.
        Limits already hit stay hit; a spend already at the new limits hits them now.
        Outside a trace, nothing happens."""
        if trace_id is None:
            trace_id = _current_trace_id()
            if trace_id is None:
                return
        # Spans that ended before this call are judged by the limits they ended under,
        # with deferred pricing as inline.
        self._settle()
        with self._lock:
            ledger = self._ledger_of(trace_id, self._clock())
            ledger.limits = limits
            # A spend already at the new limits is a hit now, not at the trace's next call.
            crossed = _running_limits_reached(ledger, limits, counting_calls=True)
            self._record_hits(ledger, crossed)
        if crossed:
            self.after_pricing()

    def limits_of(self, trace_id: int | None = None) -> BudgetLimits:
        """The limits ``trace_id`` (default: the current trace) is held to."""
        if trace_id is None:
            trace_id = _current_trace_id()
        with self._lock:
            ledger = None
            if trace_id is not None:
                ledger = self._ledgers.get(trace_id) or self._held.get(trace_id)
            return ledger.limits if ledger is not None and ledger.limits is not None else self.limits

    def check(self, trace_id: int | None = None) -> TraceSpend | None:
        """Raise :class:`BudgetExceededError` if the trace has hit a limit;
        otherwise return its spend (``None`` outside any trace)."""
        spent = self.spend(trace_id)
        if spent is not None and spent.exceeded:
            for name in A.BUDGET_LIMITS:  # a stable order: cost first
                found = spent.exceeded.get(name)
                if found is not None:
                    raise BudgetExceededError(name, found[0], found[1], spent.trace_id)
        return spent

    def forget(self, trace_id: int) -> None:
        """Drop a trace's ledger (it also expires by itself)."""
        with self._lock:
            self._ledgers.pop(trace_id, None)
            self._held.pop(trace_id, None)
            self._paused.pop(trace_id, None)

    def _expire(self, now: float) -> None:
        ledgers = self._ledgers
        while ledgers:
            trace_id, oldest = next(iter(ledgers.items()))
            if len(ledgers) <= self._max and now - oldest.last_update < self._idle:
                break
            del ledgers[trace_id]
            if oldest.exceeded or oldest.limits is not None:
                # A trace that hit a limit must stay stopped, and one given its own limits
                # keep them, however long it pauses: kept apart, and given back if it goes on.
                held = self._held
                held[trace_id] = oldest
                if len(held) > _MAX_HELD:
                    self._held = newer_half(held)
            elif oldest.cost_usd or oldest.llm_calls or oldest.unpriced:
                paused = self._paused
                paused[trace_id] = oldest
                if len(paused) > self._max:
                    paused.popitem(last=False)

    def _ledger_of(self, trace_id: int, now: float) -> _Ledger:
        """The trace's ledger, made (or given back from those held) if it has none."""
        ledger = self._ledgers.get(trace_id)
        if ledger is None:
            ledger = self._held.pop(trace_id, None) if self._held else None
            if ledger is None and self._paused:
                ledger = self._paused.pop(trace_id, None)
            if ledger is None:
                ledger = _Ledger()
            self._ledgers[trace_id] = ledger
            ledger.last_update = now
            self._expire(now)
        return ledger


def _current_trace_id() -> int | None:
    """The trace id of the current OpenTelemetry context, or ``None`` when there is none
    or its spans are not recorded (sampled out): no span of it reaches the processor,
    so its spend cannot be known, and a zero would be a silent one."""
    span = trace_api.get_current_span()
    context = span.get_span_context()
    if not context.is_valid or not (context.trace_flags.sampled or span.is_recording()):
        return None
    return context.trace_id


# ------------------------------------------------------------ the default budget

_default: Budget | None = None


def set_default_budget(budget: Budget | None) -> None:
    """The budget :func:`check_budget` and :func:`current_spend` use (the
    zero-code configurator sets one up from ``GENAI_COST_BUDGET_*``). Replacing one
    already set is logged: the traces it held and their limits are no longer checked
    (a second configuration in one process, say). ``None`` unsets it silently."""
    global _default
    if budget is not None and _default is not None and budget is not _default:
        _log.warning(
            "genai-cost: the default budget was replaced; check_budget() no longer sees the spend "
            "and limits of the one set before (set up twice in one process?)"
        )
    _default = budget


def get_default_budget() -> Budget | None:
    """The budget :func:`check_budget` uses, or ``None`` when none is set up: the
    configurator sets none when pricing is off (``GENAI_COST_ENABLED=false``), the SDK
    is disabled or configured from a file, so code that sets per-trace limits must
    allow for ``None``."""
    return _default


def current_spend(trace_id: int | None = None) -> TraceSpend | None:
    """The running spend of the current trace by the default budget, or ``None``
    when there is no default budget or no current trace."""
    budget = _default
    return None if budget is None else budget.spend(trace_id)


def check_budget(trace_id: int | None = None) -> TraceSpend | None:
    """Raise :class:`BudgetExceededError` once the current trace (or ``trace_id``)
    has hit a limit of the default budget; otherwise return its spend. Without a
    default budget, or outside a trace, it returns ``None`` and never raises."""
    budget = _default
    return None if budget is None else budget.check(trace_id)


def _spent(ledger: _Ledger) -> float:
    """The trace's spend, rounded to 1e-12 USD as each span's cost is: ten $0.01 calls
    sum to 0.09999999999999999 in floats, and must reach a $0.10 limit."""
    return round(ledger.cost_usd, 12)


def _running_limits_reached(
    ledger: _Ledger, limits: BudgetLimits, *, counting_calls: bool
) -> list[tuple[str, float, float]]:
    """The limits on the running spend that the trace has reached and not hit before:
    (name, spend, limit). The call count is checked when ``counting_calls`` (an LLM
    call, or new limits)."""
    crossed: list[tuple[str, float, float]] = []
    exceeded = ledger.exceeded
    if limits.max_cost_usd is not None and A.BUDGET_MAX_COST not in exceeded:
        spent = _spent(ledger)
        if spent >= limits.max_cost_usd:
            crossed.append((A.BUDGET_MAX_COST, spent, limits.max_cost_usd))
    if (
        counting_calls
        and limits.max_llm_calls is not None
        and A.BUDGET_MAX_LLM_CALLS not in exceeded
        and ledger.llm_calls >= limits.max_llm_calls
    ):
        crossed.append((A.BUDGET_MAX_LLM_CALLS, float(ledger.llm_calls), float(limits.max_llm_calls)))
    return crossed
