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
reaches the processor. Nor has any trace of a budget that no processor feeds (left
out of ``listeners``): a zero would be a silent one, and the first read says so.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import Event, ReadableSpan

from . import attributes as A
from ._bounded import newer_half
from ._guard import INTERNAL_FAILURES, OwnExtension, user_failures, worth_logging
from ._told_once import ToldOnce
from .config import env_number, report_unknown_variables
from .extensions import SpanAnnotations
from .pricer import Recount, SpanCost
from .pricing._fork import renew_locks_after_fork
from .usage import SpanUsage

_log = logging.getLogger("genai_cost")
#: Bound on the ledgers held apart after they were let go (see Budget._expire).
_MAX_HELD = 10_000

#: Called with (limit name, spend at the crossing, the limit's value), and the trace id (an
#: int) as a fourth argument when the callback takes one (see :func:`_takes_trace_id`).
ExceededCallback = Callable[..., None]

#: A trace id as backends show it: 32 hex digits, either case, ``0x`` optional. ASCII
#: only: int(..., 16) alone would also take Arabic-Indic digits, "_" and spaces, and
#: any length, so a decimal str(trace_id) would name another trace.
_HEX_TRACE_ID = re.compile(r"(?:0[xX])?[0-9a-fA-F]{32}")
_TRACE_ID_FORM = (
    "an int (span.get_span_context().trace_id) or its 32 hex digits (BudgetExceededError.trace_id_hex,"
    " as Jaeger and Tempo show it)"
)


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

    def __reduce__(self) -> tuple[type[BudgetExceededError], tuple[str, float, float, int | None], dict[str, object]]:
        """Rebuilt from its fields: ``args`` holds only the message, so the default
        (``cls(*args)``) failed, and a run that hit its budget in a worker process broke
        the pool (``BrokenProcessPool``; ``multiprocessing.Pool`` hung) instead of raising
        this in the caller. The ``__dict__`` keeps notes and attributes added later."""
        return type(self), (self.limit, self.spend, self.limit_value, self.trace_id), self.__dict__

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
        """The limits ``GENAI_COST_BUDGET_*`` set. Read from the process environment, it
        also reports every ``GENAI_COST_*`` variable genai-cost does not know: a processor
        given its ``settings`` in code does not, and a limit missing its ``_USD`` would
        otherwise be no limit, in silence."""
        if environ is None:
            report_unknown_variables()
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
    #: Of ``unpriced_spans``, refused requests (``failed_call``: a rate limit, an error
    #: answer), usually billed nothing: the rest are calls whose cost is missing from the
    #: spend (an unknown model, no usage recorded).
    failed_calls: int = 0
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
        "failed",
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
        self.failed = 0
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
        elif not isinstance(limits, BudgetLimits):
            # Budget(0.50) is the natural first try: accepted, it failed inside the listener
            # on every span, and the safety stop was off.
            raise TypeError(
                f"Budget's first parameter, limits, is a BudgetLimits, not {limits!r}"
                f" ({type(limits).__name__}): write Budget({_as_keywords(limits)})"
            )
        elif max_cost_usd is not None or max_llm_calls is not None or max_tokens_per_call is not None:
            raise ValueError("give either limits or the max_* keywords, not both")
        if isinstance(idle_timeout_s, bool) or not isinstance(idle_timeout_s, int | float):
            raise TypeError(f"idle_timeout_s must be a number of seconds, not {idle_timeout_s!r}")
        if not 0 < idle_timeout_s < math.inf:  # NaN too: every ledger would expire at once
            raise ValueError(f"idle_timeout_s must be a finite number of seconds > 0, not {idle_timeout_s!r}")
        if isinstance(max_traces, bool) or not isinstance(max_traces, int):
            raise TypeError(f"max_traces must be a whole number of traces (an int), not {max_traces!r}")
        if max_traces < 1:
            raise ValueError(f"max_traces must be >= 1, not {max_traces!r}")
        self.limits = limits
        self._idle = idle_timeout_s
        self._max = max_traces
        self._clock = clock
        #: Each callback, and whether it takes the trace id as a fourth argument.
        self._callbacks: tuple[tuple[ExceededCallback, bool], ...] = (
            ((on_exceeded, _checked_callback("on_exceeded", on_exceeded)),) if on_exceeded is not None else ()
        )
        self._ledgers: OrderedDict[int, _Ledger] = OrderedDict()
        self._lock = threading.Lock()
        renew_locks_after_fork(self, _lock=threading.Lock)
        #: Limits hit since start, all traces (self-observability).
        self.hits = 0
        #: Paused traces whose spend was forgotten since start, past ``max_traces`` paused
        #: ones (self-observability): more than a few, and ``max_traces`` is too small.
        self.paused_forgotten = 0
        self._said_paused_forgotten = False
        #: Traces that hit a limit or had limits of their own, forgotten since start past the
        #: last 10,000 such traces let go (self-observability): if one goes on, it is no longer
        #: stopped, and runs on the budget's own limits.
        self.held_forgotten = 0
        self._pending_sources: tuple[Callable[[], None], ...] = ()
        #: The spans counted, once more than one processor feeds this budget.
        self._told: ToldOnce[SpanAnnotations] | None = None
        #: Whether anything feeds this budget (a processor, or a caller of on_span_cost):
        #: until then its spend cannot be known, and a zero would be a silent one.
        self._fed = False
        self._said_unfed = False
        self._said_unrecorded = False
        self._said_outside = False
        self._said_unpriced_under_cap = False
        #: Ledgers let go (idle, or past max_traces) that hit a limit or have limits of their
        #: own: kept apart so that such a trace stays stopped (see _expire).
        self._held: dict[int, _Ledger] = {}
        #: Ledgers let go with a spend but no limit hit, oldest first (at most max_traces):
        #: a trace that pauses past the idle timeout goes on from its spend, not from zero.
        self._paused: OrderedDict[int, _Ledger] = OrderedDict()
        #: Limits crossed whose callbacks have not run yet: (name, spend, limit); or a
        #: warning to log, outside the lock (a logging filter may read the budget).
        self._due: list[tuple[str, float, float, int] | str] = []
        #: Exceeded callbacks that raised (each logged at its first failure, then every
        #: 1000th of all): the limit was recorded, but a callback of yours missed it.
        self.callback_errors = 0
        self._failed_callbacks: set[object] = set()

    def add_pending_source(self, settle: Callable[[], None]) -> None:
        """Called by a :class:`~genai_cost.processor.CostSpanProcessor` this budget
        listens to: it prices off the application thread, so every read of the
        spend first has it price the spans that have ended so far."""
        global _no_default_hint
        self._pending_sources = (*self._pending_sources, settle)
        if len(self._pending_sources) > 1 and self._told is None:
            self._told = ToldOnce[SpanAnnotations]()  # fed by several processors: each tells every span
        self._fed = True
        if _no_default_hint is None:
            _no_default_hint = True

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
        for item in due:
            if isinstance(item, str):
                _log.warning(item)
                continue
            name, spend, limit, trace_id = item
            for callback, takes_trace_id in self._callbacks:
                try:
                    if takes_trace_id:
                        callback(name, spend, limit, trace_id)
                    else:
                        callback(name, spend, limit)
                except user_failures():
                    self._callback_failed(callback)

    def _callback_failed(self, callback: object) -> None:
        """Count an exceeded callback that raised (:attr:`callback_errors`), and log it: the
        first failure of each callback, then every 1000th of all. One traceback per limit hit
        made megabytes of log under a runaway loop."""
        self.callback_errors += 1
        if worth_logging(self._failed_callbacks, id(callback), self.callback_errors):
            _log.exception(
                "genai-cost: budget callback %s failed (%d budget callback failures so far; the limit was still"
                " recorded)",
                getattr(callback, "__qualname__", type(callback).__name__),
                self.callback_errors,
            )

    def _settle(self) -> None:
        if not self._pending_sources:  # fed directly: what is due is done at the read
            self.after_pricing()
            return
        for settle in self._pending_sources:
            try:
                settle()
            except INTERNAL_FAILURES:  # a budget read must answer with what it has
                _log.exception("genai-cost: pricing pending spans before a budget read failed")

    def add_exceeded_callback(self, callback: ExceededCallback) -> None:
        self._callbacks = (*self._callbacks, (callback, _checked_callback("callback", callback)))

    @property
    def open_traces(self) -> int:
        return len(self._ledgers)

    # ------------------------------------------------------------ CostListener

    def on_span_recount(
        self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost, recount: Recount
    ) -> Mapping[str, object] | None:
        """:meth:`on_span_cost` for a span that also takes back a call counted on other
        records of it (``pricer.Recount``: a wrapper without usage that ended first, a
        refused attempt inside a call), in one step: a limit is judged on the counts with
        the call once, so a call limit is not hit one call early."""
        return self._count(span, usage, cost, recount)

    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> Mapping[str, object] | None:
        return self._count(span, usage, cost, None)

    def _count(
        self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost, recount: Recount | None
    ) -> Mapping[str, object] | None:
        context = span.context
        if context is None:
            return None
        if not self._fed:  # fed without a processor (a test, a pipeline of one's own)
            self._fed = True
        usd = cost.total_usd if cost.unpriced_reason is None and cost.total_usd is not None else 0.0
        call_tokens = 0
        is_llm = cost.category == A.CATEGORY_LLM
        if is_llm and cost.usage is not None:
            call_tokens = cost.usage.input_tokens + cost.usage.output_tokens
        told = self._told
        with self._lock:
            if told is not None:
                again, answer = told.told_before(context)
                if again:  # the same span, told by a second processor: counted once
                    return answer
            now = self._clock()
            trace_id = context.trace_id
            ledger = self._ledgers.get(trace_id)
            if ledger is None:
                ledger = self._ledger_of(trace_id, now)
            else:
                self._ledgers.move_to_end(trace_id)
            ledger.last_update = now
            limits = ledger.limits or self.limits
            if recount is not None:  # (rare) before this span's own count: see on_span_recount
                # Not below zero: the records taken back may have been counted on a ledger
                # forgotten since (more traces than max_traces at once).
                ledger.llm_calls = max(0, ledger.llm_calls - recount.calls)
                ledger.unpriced = max(0, ledger.unpriced - recount.unpriced)
                ledger.failed = max(0, ledger.failed - recount.failed)
            if usd:
                ledger.cost_usd += usd
                ledger.by_category[cost.category] = ledger.by_category.get(cost.category, 0.0) + usd
            warned = False
            if cost.unpriced_reason is not None:
                ledger.unpriced += 1
                if cost.unpriced_reason == A.REASON_FAILED_CALL:
                    ledger.failed += 1
                if (
                    limits.max_cost_usd is not None
                    and not self._said_unpriced_under_cap
                    and cost.unpriced_reason != A.REASON_FAILED_CALL
                ):
                    self._said_unpriced_under_cap = warned = True
                    self._due.append(_unpriced_under_cap(cost, limits.max_cost_usd))
            if is_llm:
                ledger.llm_calls += 1
                if call_tokens > ledger.max_call_tokens:
                    ledger.max_call_tokens = call_tokens
            crossed = _running_limits_reached(ledger, limits, counting_calls=is_llm)
            if limits.max_tokens_per_call is not None and call_tokens > limits.max_tokens_per_call:
                # Every oversized call is a hit of its own; check() reports the first.
                crossed.append((A.BUDGET_MAX_TOKENS_PER_CALL, float(call_tokens), float(limits.max_tokens_per_call)))
            self._record_hits(ledger, crossed, trace_id)
        if not crossed:
            if warned and not self._pending_sources:
                self.after_pricing()
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
        annotations = SpanAnnotations({A.BUDGET_LIMIT_ATTR: ",".join(name for name, _, _ in crossed)}, events)
        if told is not None:  # the other processor's copy of the span gets the event too
            with self._lock:
                told.answered(context, annotations)
        return annotations

    def _record_hits(self, ledger: _Ledger, crossed: list[tuple[str, float, float]], trace_id: int) -> None:
        """Under the lock: the limits ``crossed`` stay hit for the trace; their
        callbacks are due."""
        if not crossed:
            return
        exceeded = ledger.exceeded
        for name, spend, limit in crossed:
            exceeded.setdefault(name, (spend, limit))
        self.hits += len(crossed)
        if self._callbacks:
            self._due.extend((name, spend, limit, trace_id) for name, spend, limit in crossed)

    # ----------------------------------------------------------------- queries

    def spend(self, trace_id: int | str | None = None) -> TraceSpend | None:
        """The running spend of ``trace_id`` (default: the trace of the current
        OpenTelemetry context); ``None`` outside any trace, and when no processor feeds
        this budget (logged once): its spend is then not known, and a zero would be a
        silent one. A trace with no priced span yet has zero spend.

        ``trace_id`` is an int or 32 hex digits (as backends and
        :attr:`BudgetExceededError.trace_id_hex` show it); anything else raises, as a
        key that matched no trace would read as a trace that spent nothing."""
        if trace_id is None:
            found = _current_trace_id()
            if found is None:
                if self.limits.any:
                    if _unrecorded_trace():
                        if not self._said_unrecorded:
                            self._say_unrecorded()
                    elif not self._said_outside:
                        self._say_outside()
                return None
        else:
            found = _trace_id_of(trace_id)
        if not self._fed:
            self._say_unfed()
            return None
        self._settle()
        with self._lock:
            ledger = self._ledgers.get(found) or self._held.get(found) or self._paused.get(found)
            if ledger is None:
                return TraceSpend(found)
            return TraceSpend(
                trace_id=found,
                cost_usd=_spent(ledger),
                by_category={category: round(usd, 12) for category, usd in ledger.by_category.items()},
                llm_calls=ledger.llm_calls,
                max_call_tokens=ledger.max_call_tokens,
                unpriced_spans=ledger.unpriced,
                failed_calls=ledger.failed,
                exceeded=dict(ledger.exceeded),
            )

    def _say_unrecorded(self) -> None:
        with self._lock:
            if self._said_unrecorded:
                return
            self._said_unrecorded = True
        _log.warning(
            "genai-cost: a budget was read in a trace the sampler does not record, so no limit applies"
            " to it: no span of it reaches the processor, and spend() and check() answer None. With the"
            " default sampler (parentbased_always_on) a request whose caller sent a traceparent marked"
            " not sampled (flags 00) is such a trace. To budget every trace, record every span and"
            " sample for export only (docs/budgets.md, Sampling). Said once"
        )

    def _say_outside(self) -> None:
        """Said once: a limit read where there is no trace stops nothing, and an agent step
        run by ``loop.run_in_executor`` or a thread pool's ``submit`` (which do not carry
        OpenTelemetry's context) is out of its budget without a word otherwise."""
        with self._lock:
            if self._said_outside:
                return
            self._said_outside = True
        _log.warning(
            "genai-cost: a Budget with limits was read outside any trace (no current span), so no limit"
            " applies there and the read answers None. In a thread of loop.run_in_executor() or of a thread"
            " pool's submit(), OpenTelemetry's context is not carried: use asyncio.to_thread(), or run the"
            " function in contextvars.copy_context() (docs/budgets.md). Said once per budget"
        )

    def _say_unfed(self) -> None:
        with self._lock:
            if self._said_unfed:
                return
            self._said_unfed = True
        _log.warning(
            "genai-cost: a Budget was read that no CostSpanProcessor feeds (it is in no processor's"
            " listeners, or only in those of one switched off by GENAI_COST_ENABLED=false), so the spend"
            " of a trace is not known: spend() and check() answer None and never raise. Put the budget"
            " in the listeners of a processor that prices: CostSpanProcessor(..., listeners=[budget])"
            " (docs/budgets.md)"
        )

    def set_trace_limits(self, limits: BudgetLimits, trace_id: int | str | None = None) -> None:
        """Hold one trace (default: the current one) to its own limits instead of
        the budget's, e.g. a larger budget for a premium customer's request.
        Limits already hit stay hit; a spend already at the new limits hits them now.
        Outside a trace, nothing happens. A ``limits`` that is not a
        :class:`BudgetLimits` raises before anything changes: stored, it took every
        limit off the trace, the budget's own included."""
        if not isinstance(limits, BudgetLimits):
            keywords = _as_keywords(limits)
            raise TypeError(
                f"set_trace_limits() takes limits as a BudgetLimits, not {limits!r} ({type(limits).__name__}):"
                f" BudgetLimits({keywords}), or dataclasses.replace(budget.limits, {keywords}) to keep the"
                " budget's other limits"
            )
        if trace_id is None:
            found = _current_trace_id()
            if found is None:
                return
        else:
            found = _trace_id_of(trace_id)
        # Spans that ended before this call are judged by the limits they ended under,
        # with deferred pricing as inline.
        self._settle()
        with self._lock:
            ledger = self._ledger_of(found, self._clock())
            ledger.limits = limits
            # A spend already at the new limits is a hit now, not at the trace's next call.
            crossed = _running_limits_reached(ledger, limits, counting_calls=True)
            self._record_hits(ledger, crossed, found)
        if crossed or self._due:
            self.after_pricing()

    def limits_of(self, trace_id: int | str | None = None) -> BudgetLimits:
        """The limits ``trace_id`` (default: the current trace) is held to."""
        found = _current_trace_id() if trace_id is None else _trace_id_of(trace_id)
        with self._lock:
            ledger = None
            if found is not None:
                ledger = self._ledgers.get(found) or self._held.get(found)
            return ledger.limits if ledger is not None and ledger.limits is not None else self.limits

    def check(self, trace_id: int | str | None = None) -> TraceSpend | None:
        """Raise :class:`BudgetExceededError` if the trace has hit a limit;
        otherwise return its spend (``None`` outside any trace, or when nothing feeds
        this budget: see :meth:`spend`)."""
        spent = self.spend(trace_id)
        if spent is not None and spent.exceeded:
            for name in A.BUDGET_LIMITS:  # a stable order: cost first
                found = spent.exceeded.get(name)
                if found is not None:
                    raise BudgetExceededError(name, found[0], found[1], spent.trace_id)
        return spent

    def forget(self, trace_id: int | str) -> None:
        """Drop a trace's ledger (it also expires by itself)."""
        found = _trace_id_of(trace_id)
        with self._lock:
            self._ledgers.pop(found, None)
            self._held.pop(found, None)
            self._paused.pop(found, None)

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
                    self._forgot_held(len(held) - len(self._held))
            elif oldest.cost_usd or oldest.llm_calls or oldest.unpriced:
                paused = self._paused
                paused[trace_id] = oldest
                if len(paused) > self._max:
                    _, forgotten = paused.popitem(last=False)
                    self._forgot_a_paused_spend(limited=forgotten.limits is not None or self.limits.any)

    def _forgot_a_paused_spend(self, *, limited: bool) -> None:
        """Under the lock. Bounded state must let go, but if that trace goes on, its spend
        starts again from zero: counted, so that an operator can tell ``max_traces`` is too
        small, and said once (after the lock is released) for a trace a limit applied to. (The
        zero-code set-up keeps a budget without limits, for ``check_budget()`` to read the
        spend: a warning about limits no one set was noise.)"""
        self.paused_forgotten += 1
        if limited and not self._said_paused_forgotten:
            self._said_paused_forgotten = True
            self._due.append(
                "genai-cost: a Budget forgot the spend of a paused trace: more than"
                f" max_traces={self._max} traces with a spend were paused (idle, or pushed out by newer"
                " ones); if that trace goes on, its spend starts again from zero. Raise max_traces"
                " (Budget(max_traces=...), GENAI_COST_MAX_TRACES) above the number of traces that start"
                " during your agents' longest pause; Budget.paused_forgotten counts these (docs/budgets.md)"
            )

    def _forgot_held(self, count: int) -> None:
        """Under the lock. The held ledgers are bounded too; the older half forgotten is
        counted and said once, as a stopped trace that goes on would run again."""
        self.held_forgotten += count
        if self.held_forgotten == count:
            self._due.append(
                f"genai-cost: a Budget forgot {count} traces that hit a limit or had limits of their own:"
                f" more than {_MAX_HELD} such traces were let go (idle, or pushed out by newer ones)."
                " If one of them goes on, it is no longer stopped and runs on the budget's own limits."
                " Budget.held_forgotten counts these; forget() the traces your application has finished"
                " with (docs/budgets.md)"
            )

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


def _checked_callback(name: str, callback: object) -> bool:
    """:func:`_takes_trace_id`, for a callback checked at set-up: one that cannot be called
    with the limit's three (or four) arguments failed only when a limit was first hit, on
    the export thread, so the page or the stop it was for never came."""
    form = "callback(limit, spend, limit_value[, trace_id])"
    if not callable(callback):
        raise TypeError(f"{name} must be a callable, {form}, not {callback!r} ({type(callback).__name__})")
    if inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(type(callback).__call__):
        # Called, it makes a coroutine nobody awaits (the export thread runs no event loop).
        raise TypeError(
            f"{name} {callback!r} is async: it would never run. Give a plain function that hands the work to"
            " your event loop: asyncio.run_coroutine_threadsafe(coroutine(...), loop)"
        )
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # no signature to read (some builtins): taken on trust
        return False
    for arguments in (("limit", 0.0, 0.0, 0), ("limit", 0.0, 0.0)):
        try:
            signature.bind(*arguments)
        except TypeError:
            continue
        return _takes_trace_id(callback)
    raise TypeError(f"{name} {callback!r} cannot be called as {form}: its signature is {signature}")


def _takes_trace_id(callback: ExceededCallback) -> bool:
    """Whether ``callback`` takes a fourth positional argument, the trace id: callbacks run on
    the export thread, out of the trace's context, so one that must stop the right agent
    needs it. Callbacks of three arguments (as before) get three."""
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): as before
        return False
    # A named fourth parameter only: a ``*args`` callback written for three arguments may
    # unpack them as three.
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for parameter in parameters if parameter.kind in positional) >= 4


def _unpriced_under_cap(cost: SpanCost, max_cost_usd: float) -> str:
    """The warning for a span that could not be priced in a trace under a cost limit: its
    cost is missing from the spend, so the limit may be passed unseen (a model missing from
    the catalog, a typo in its name). Said once per budget; each trace counts them."""
    # A tool has no provider or model: its detail names it ("tool 'web_search' has no price").
    what = " ".join(part for part in (cost.provider, cost.model) if part) or str(
        cost.attributes.get(A.COST_UNPRICED_DETAIL) or cost.category
    )
    return (
        f"genai-cost: a trace under max_cost_usd={max_cost_usd:g} has a span that could not be priced"
        f" ({cost.unpriced_reason}: {what}); its cost is not in the trace's spend, so the limit may be"
        " passed unseen. Price it (docs/pricing.md, GENAI_COST_PRICING_FILE), or stop on"
        " TraceSpend.unpriced_spans in your check too. Said once per budget"
    )


def _unrecorded_trace() -> bool:
    """Whether the current context is in a trace whose spans the sampler does not record
    (rather than in no trace at all)."""
    return trace_api.get_current_span().get_span_context().is_valid


def _trace_id_of(trace_id: object) -> int:
    """``trace_id`` as OpenTelemetry's API holds it. A hex string (what Jaeger, Tempo and
    the error's message show) was taken as a key of its own: a stopped trace read as one
    that had spent nothing. Anything but an int or 32 hex digits raises (an application
    call, never the span path), so a wrong id is never answered for another trace."""
    if type(trace_id) is int:
        found = trace_id
    elif isinstance(trace_id, str):
        if _HEX_TRACE_ID.fullmatch(trace_id) is None:
            raise ValueError(f"trace_id must be {_TRACE_ID_FORM}, not {trace_id!r}")
        found = int(trace_id[-32:], 16)
    elif isinstance(trace_id, int) and not isinstance(trace_id, bool):
        found = int(trace_id)
    else:
        raise TypeError(f"trace_id must be {_TRACE_ID_FORM}, not {trace_id!r} ({type(trace_id).__name__})")
    if not 0 < found < 1 << 128:
        raise ValueError(
            f"trace_id must be a trace's id (0 is none): an int from 1 to 2**128 - 1, or 32 hex digits,"
            f" not {trace_id!r}"
        )
    return found


def _as_keywords(limits: object) -> str:
    """What was likely meant by ``limits``, as keywords: a number is a spend limit."""
    if isinstance(limits, int | float) and not isinstance(limits, bool):
        return f"max_cost_usd={limits!r}"
    if isinstance(limits, Mapping) and limits and all(isinstance(key, str) for key in limits):
        return ", ".join(f"{key}={value!r}" for key, value in limits.items())
    return "max_cost_usd=0.5"


# ------------------------------------------------------------ the default budget

_default: Budget | None = None
#: Whether check_budget() should say that no default budget is set: ``None`` until a
#: processor feeds a Budget, ``True`` then, ``False`` once said or once a default is set
#: (whoever calls set_default_budget knows of it). A flag, not a registry of budgets.
_no_default_hint: bool | None = None


def set_default_budget(budget: Budget | None) -> None:
    """The budget :func:`check_budget` and :func:`current_spend` use (the
    zero-code configurator sets one up from ``GENAI_COST_BUDGET_*``). Replacing one
    already set is logged: the traces it held and their limits are no longer checked
    (a second configuration in one process, say). ``None`` unsets it silently.
    Anything else raises here: stored, it failed only later, at every check in the agent."""
    global _default, _no_default_hint
    if budget is not None and not isinstance(budget, Budget):
        hint = ""
        if isinstance(budget, BudgetLimits):
            hint = " (make a Budget of them: Budget(limits), and put it in a processor's listeners)"
        raise TypeError(f"set_default_budget() takes a Budget or None, not {budget!r}{hint}")
    _no_default_hint = False
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


def current_spend(trace_id: int | str | None = None) -> TraceSpend | None:
    """The running spend of the current trace (or ``trace_id``: an int or 32 hex
    digits) by the default budget, or ``None`` when there is no default budget or no
    current trace."""
    found = None if trace_id is None else _trace_id_of(trace_id)
    budget = _default
    if budget is None:
        _hint_no_default(found)
        return None
    return budget.spend(found)


def check_budget(trace_id: int | str | None = None) -> TraceSpend | None:
    """Raise :class:`BudgetExceededError` once the current trace (or ``trace_id``: an
    int or 32 hex digits) has hit a limit of the default budget; otherwise return its
    spend. Without a default budget, or outside a trace, it returns ``None`` and never
    raises."""
    found = None if trace_id is None else _trace_id_of(trace_id)
    budget = _default
    if budget is None:
        _hint_no_default(found)
        return None
    return budget.check(found)


def _hint_no_default(trace_id: int | None) -> None:
    """Say once that check_budget() has no default budget while a processor feeds a
    Budget: set up in code without set_default_budget(), every check answers ``None``
    and the limits stop nothing."""
    global _no_default_hint
    if not _no_default_hint or (trace_id is None and _current_trace_id() is None):
        return
    _no_default_hint = False
    _log.warning(
        "genai-cost: check_budget() and current_spend() answer None: a Budget is attached to a"
        " CostSpanProcessor, but no default budget is set, so its limits stop nothing here. Call"
        " set_default_budget(budget) once it is attached (or call budget.check() on the object;"
        " docs/budgets.md)"
    )


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
