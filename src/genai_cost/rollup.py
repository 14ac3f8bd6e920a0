"""TraceCostExporter: running cost totals per trace, written on the local root.

It wraps any ``SpanExporter`` (OTLP, console, in-memory): every span is
forwarded; the local root span of each trace (no parent, or a remote parent)
is forwarded with the trace's totals added, so a backend that shows only root
spans or searches only tags (Jaeger) still answers "what did this cost?".

State is bounded: a trace is dropped from memory after ``idle_timeout_s``
without a new span, and the oldest traces go first past ``max_traces``. A span
that ends after its root keeps its own cost and is marked
``gen_ai.cost.after_root``; the root says ``gen_ai.trace.cost.complete=false``
when spans below it were still open as it ended, or when costs of its trace
were let go (with the trace's state) before they reached it.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext

from . import attributes as A
from ._bounded import newer_half
from ._guard import INTERNAL_FAILURES, user_failures, worth_logging
from ._spans import attributes_of
from .config import ROLLUP_VARIABLES, band_of, checked_bands, settings_from_env
from .costed_span import CostedSpan
from .pricer import NO_CATEGORY, Recount, SpanCost
from .pricing._fork import in_child_after_fork
from .recorded_cost import recorded_cost
from .records import accounted_ids
from .usage import read_usage

_log = logging.getLogger("genai_cost")


@dataclass(slots=True)
class TraceTotals:
    """What one trace has cost so far, in this process."""

    trace_id: int
    total_usd: float = 0.0
    by_category: dict[str, float] = field(default_factory=dict)
    llm_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    priced_spans: int = 0
    unpriced_spans: int = 0
    spans: int = 0
    root_seen: bool = False
    last_update: float = 0.0

    def add(
        self, category: str | None, total_usd: float | None, unpriced: bool, tokens: tuple[int, int, int, int]
    ) -> None:
        self.spans += 1
        if category is None:
            return
        if category == A.CATEGORY_LLM:
            self.llm_calls += 1
        elif category == A.CATEGORY_TOOL:
            self.tool_calls += 1
        if unpriced:
            self.unpriced_spans += 1
        elif total_usd is not None:
            self.priced_spans += 1
            self.total_usd += total_usd
            self.by_category[category] = self.by_category.get(category, 0.0) + total_usd
        self.input_tokens += tokens[0]
        self.output_tokens += tokens[1]
        self.cache_read_tokens += tokens[2]
        self.cache_write_tokens += tokens[3]

    def add_cost(self, cost: SpanCost) -> None:
        """:meth:`add` for a span priced in this process (the common case, inlined)."""
        self.spans += 1
        category = cost.category
        if category == A.CATEGORY_LLM:
            self.llm_calls += 1
        elif category == A.CATEGORY_TOOL:
            self.tool_calls += 1
        total = cost.total_usd
        if cost.unpriced_reason is not None:
            self.unpriced_spans += 1
        elif total is not None:
            self.priced_spans += 1
            self.total_usd += total
            by_category = self.by_category
            by_category[category] = by_category.get(category, 0.0) + total
        usage = cost.usage
        if usage is not None and (category == A.CATEGORY_LLM or category == A.CATEGORY_EMBEDDING):
            self.input_tokens += usage.input_tokens
            self.output_tokens += usage.output_tokens
            self.cache_read_tokens += usage.cache_read_tokens
            self.cache_write_tokens += usage.cache_write_tokens

    def recount(self, recount: Recount) -> None:
        """Take back what ``recount`` says was counted twice: a call counted on records of
        it handed on before the span that shows they are one call (see ``pricer.Recount``).
        A partial sum may go below zero for a while; the root's is whole."""
        self.llm_calls -= recount.calls
        self.unpriced_spans -= recount.unpriced

    def merge(self, other: TraceTotals) -> None:
        """Add ``other``'s sums (a finished subtree's) to these."""
        self.spans += other.spans
        self.total_usd += other.total_usd
        by_category = self.by_category
        for category, usd in other.by_category.items():
            by_category[category] = by_category.get(category, 0.0) + usd
        self.llm_calls += other.llm_calls
        self.tool_calls += other.tool_calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.priced_spans += other.priced_spans
        self.unpriced_spans += other.unpriced_spans

    def attributes(self, bands: tuple[float, ...]) -> dict[str, object]:
        # Sums of amounts rounded to 1e-12 USD (as each span's are), rounded alike so that
        # 0.1 + 0.2 reads 0.3 on the root and in the backend.
        total = round(float(self.total_usd), 12)
        out: dict[str, object] = {
            A.TRACE_TOTAL: total,
            A.trace_category_key(A.CATEGORY_LLM): round(float(self.by_category.get(A.CATEGORY_LLM, 0.0)), 12),
            A.trace_category_key(A.CATEGORY_TOOL): round(float(self.by_category.get(A.CATEGORY_TOOL, 0.0)), 12),
        }
        for category, usd in self.by_category.items():
            out[A.trace_category_key(category)] = round(float(usd), 12)
        out[A.TRACE_LLM_CALLS] = self.llm_calls
        out[A.TRACE_TOOL_CALLS] = self.tool_calls
        out[A.TRACE_INPUT_TOKENS] = self.input_tokens
        out[A.TRACE_OUTPUT_TOKENS] = self.output_tokens
        out[A.TRACE_CACHE_READ_TOKENS] = self.cache_read_tokens
        out[A.TRACE_CACHE_WRITE_TOKENS] = self.cache_write_tokens
        out[A.TRACE_PRICED_SPANS] = self.priced_spans
        out[A.TRACE_UNPRICED_SPANS] = self.unpriced_spans
        # The band of the total as written: ten $0.01 tools sum to 0.09999999999999999,
        # which reads 0.1 on the root and must fall in the band that starts at 0.10. A trace
        # whose every billable span went unpriced is not among the cheap ones (lt_0.01),
        # where a search for expensive traces would never look.
        if total == 0.0 and self.unpriced_spans:
            out[A.TRACE_BAND] = A.TRACE_BAND_UNPRICED
        else:
            out[A.TRACE_BAND] = band_of(total, bands)
        return out


class TraceCostLayer(Protocol):
    """A cost that belongs to a whole trace, not to one span (infrastructure
    allocated per trace: see :mod:`genai_cost.layers`). Asked once per trace,
    when its local root passes, before the totals are written on it."""

    def trace_costs(self, root: ReadableSpan, totals: TraceTotals) -> Mapping[str, float] | None:
        """USD by category (``{"infra": 0.0067}``) to add to the trace's totals."""


#: A span's own cost when it has no :class:`SpanCost` of this process (see :func:`_cost_of`):
#: (category, total, unpriced, (input, output, cache read, cache write) tokens).
_OwnCost = tuple[str | None, float | None, bool, tuple[int, int, int, int]]

#: In ``_TraceState.passed``: the span was a local root.
_LOCAL_ROOT = -1
#: Bound on the passed spans remembered per trace; past it the older half is
#: forgotten (a child ending after a parent forgotten so is routed to the parent's
#: id, and reaches no root).
_MAX_PASSED = 10_000
#: Bound on the trace ids remembered as let go before their root passed.
_MAX_FORGOTTEN = 10_000
#: The part of the idle timeout a running trace must have been idle for to be let go for a
#: new one at the ``max_traces`` bound (30 s of the default 300 s).
_PUSH_OUT_FRACTION = 0.1


@dataclass(slots=True)
class _TraceState:
    """What the roll-up holds for one trace.

    Each local root is written the sums of its own subtree: a span's cost (and
    the sums of its finished children) flows into ``below[parent span id]`` as
    it passes, and a local root takes ``below[its id]``. ``passed`` remembers
    the parent of each span already passed, so a child that ends after its
    parent is routed to the nearest ancestor still open, or found to be late.
    Each span's cost sits in exactly one place, ``done`` (subtrees of roots
    that passed, late spans) or one entry of ``below``, so the trace-wide sum
    is their sum.
    """

    trace_id: int
    done: TraceTotals
    below: dict[int, TraceTotals] = field(default_factory=dict)
    passed: dict[int, int] = field(default_factory=dict)
    spans: int = 0
    root_seen: bool = False
    last_update: float = 0.0
    #: Spans of the trace were forgotten (let go, evicted or expired, with costs not yet on a
    #: root): the totals of its roots from now on may miss them. The mark stays with the
    #: trace: let go again, it is remembered again (see :meth:`owes_a_root`).
    forgot: bool = False
    #: Let go when its root passed (nothing billable, nothing open): no longer in the map.
    released: bool = False

    def owes_a_root(self) -> bool:
        """Whether letting the state go loses something a local root still to come needs:
        a cost or an unpriced span not yet on a root (in ``below``: whatever ``root_seen``
        says, as another request of the trace may still be open), or the mark that some
        were lost before. (``done`` is not owed: it was written on a root, or is late.)"""
        return self.forgot or _billable_in(self.below)

    def trace_wide(self) -> TraceTotals:
        out = TraceTotals(self.trace_id, root_seen=self.root_seen, last_update=self.last_update)
        out.merge(self.done)
        for partial in self.below.values():
            out.merge(partial)
        out.spans = self.spans
        return out


@dataclass
class RollupStats:
    """Self-observability: what the roll-up did since it started (in a forked child:
    since the fork). Exported as metrics by :meth:`CostMetrics.watch_rollup
    <genai_cost.metrics.CostMetrics.watch_rollup>`."""

    #: Local roots that passed and were given their totals.
    traces_completed: int = 0
    #: Traces let go (idle timeout or ``max_traces``) before any local root passed: their
    #: spans were forwarded with their own costs, but no root carries their totals.
    traces_expired_without_root: int = 0
    #: Running traces let go before their idle timeout to make room for another at the
    #: ``max_traces`` bound (only one idle for a tenth of the timeout is): the totals of
    #: their roots say ``complete=false``.
    traces_pushed_out: int = 0
    #: Runs of a new trace's spans in an export batch that found ``max_traces`` running
    #: traces, none of them idle for a tenth of the timeout: rolled up within the batch
    #: only (a short request whose spans came together still gets its totals), and a root
    #: of the trace coming later says ``complete=false``. Once per batch, not per trace.
    traces_turned_away: int = 0
    #: Spans with a cost that passed after their local root: marked
    #: ``gen_ai.cost.after_root``, left out of the totals written on that root.
    late_spans: int = 0
    #: Failures inside the roll-up, an ``on_trace_complete`` callback or a trace cost layer
    #: (logged); the spans were forwarded all the same.
    internal_errors: int = 0


class TraceCostExporter(SpanExporter):
    """Rolls span costs up by trace ID and forwards every span to ``exporter``."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        bands: Sequence[float] | None = None,
        idle_timeout_s: float | None = None,
        max_traces: int | None = None,
        on_trace_complete: Callable[[TraceTotals, ReadableSpan], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        trace_layers: Sequence[TraceCostLayer] = (),
    ) -> None:
        if bands is None or idle_timeout_s is None or max_traces is None:
            # As the SDK's batch processor reads OTEL_BSP_*: what is not given comes from
            # GENAI_COST_BANDS, _TRACE_IDLE_TIMEOUT and _MAX_TRACES, or their defaults.
            settings = settings_from_env(ROLLUP_VARIABLES)
            bands = settings.bands if bands is None else bands
            idle_timeout_s = settings.trace_idle_timeout_s if idle_timeout_s is None else idle_timeout_s
            max_traces = settings.max_traces if max_traces is None else max_traces
            # Set up in code (the configurator and the gateway pass all three): an
            # infrastructure cost set in the environment is theirs to read, not this one's.
            _warn_unread_infra(trace_layers)
        if not callable(getattr(exporter, "export", None)):
            # A span processor given here (BatchSpanProcessor(exporter)) failed on every
            # export, logged by the SDK only, while force_flush() returned True.
            kind = type(exporter).__name__
            hint = (
                f"; {kind} is a span processor: it goes around this one,"
                f" {kind}(TraceCostExporter(exporter)), inside CostSpanProcessor"
                if callable(getattr(exporter, "on_end", None))
                else ""
            )
            raise TypeError(f"TraceCostExporter needs a span exporter to forward spans to, got {kind}{hint}")
        if isinstance(max_traces, bool) or not isinstance(max_traces, int):
            raise TypeError(f"max_traces must be a whole number of traces, not {max_traces!r}")
        if isinstance(idle_timeout_s, bool) or not isinstance(idle_timeout_s, int | float):
            raise TypeError(f"idle_timeout_s must be a number of seconds, not {idle_timeout_s!r}")
        if not 0 < idle_timeout_s < math.inf:
            raise ValueError(f"idle_timeout_s must be a finite number of seconds > 0, not {idle_timeout_s!r}")
        if max_traces < 1:
            raise ValueError(f"max_traces must be >= 1, not {max_traces!r}")
        self._exporter = exporter
        #: The user's callbacks and layers that have failed (each logged at its first failure).
        self._failed_user_code: set[object] = set()
        self._bands = checked_bands(bands)
        self._idle = idle_timeout_s
        self._max = max_traces
        #: How long a running trace must have been idle to be let go for a new one when
        #: ``max_traces`` run at once (see _state_of).
        self._push_out_after = idle_timeout_s * _PUSH_OUT_FRACTION
        #: Traces turned away in the batch being rolled up (see _turn_away), let go at its end.
        self._turned_away: dict[int, _TraceState] = {}
        #: What a full roll-up has logged (once per exporter each: turned away, pushed out).
        self._said: set[str] = set()
        self._clock = clock
        self._on_trace_complete = on_trace_complete
        self._trace_layers = tuple(trace_layers)
        self._traces: OrderedDict[int, _TraceState] = OrderedDict()
        #: Traces whose local root passed with nothing of them open (finished requests), as
        #: plain values (see _hold), bounded apart: counted with the running ones, a steady
        #: stream of short requests (10,000 in 300 s) pushed a long conversation out, and its
        #: root said half its cost, ``complete=false``.
        self._held: OrderedDict[int, _HeldTrace] = OrderedDict()
        # Re-entrant: a trace layer (user code, run while the roll-up holds it) may ask for
        # the running totals (totals()), on the same thread.
        self._lock = threading.RLock()
        self.stats = RollupStats()
        in_child_after_fork(self, TraceCostExporter._after_fork_in_child)
        #: Traces let go while they held what a root still to come needs (see
        #: _TraceState.forgot), lately.
        self._forgotten: dict[int, bool] = {}
        #: trace id -> span id of its local root, for traces let go as their root passed
        #: with nothing billable: a span of theirs that still comes (it ended on another
        #: thread as the root ended, or started after it) is late, not an orphan.
        self._released: dict[int, int] = {}

    # ------------------------------------------------------------ SpanExporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            outgoing = self._roll_up(spans)
        except INTERNAL_FAILURES:  # forwarding must go on
            self.stats.internal_errors += 1
            _log.exception("genai-cost: roll-up failed; spans forwarded without trace totals")
            outgoing = list(spans)
        return self._exporter.export(outgoing)

    def shutdown(self, timeout_millis: float = 30_000) -> None:
        """Shut the wrapped exporter down, passing on the time left (the SDK's batch
        processor gives it to an exporter whose ``shutdown`` takes ``timeout_millis``, as
        the OTLP exporters' do: without it they wait their own default)."""
        try:
            takes_timeout = "timeout_millis" in inspect.signature(self._exporter.shutdown).parameters
        except (TypeError, ValueError):  # no signature to read (a builtin, a C extension's)
            takes_timeout = False
        if takes_timeout:
            self._exporter.shutdown(timeout_millis=timeout_millis)  # type: ignore[call-arg]
        else:
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    # ----------------------------------------------------------------- queries

    def totals(self, trace_id: int) -> TraceTotals | None:
        """A snapshot of a trace's running totals, if it is still held."""
        with self._lock:
            state = self._traces.get(trace_id)
            if state is not None:
                return state.trace_wide()
            held = self._held.get(trace_id)
            return None if held is None else _unheld(trace_id, held).trace_wide()

    def _after_fork_in_child(self) -> None:
        # A lock another thread of the parent held would never be released here
        # (pricing/_fork.py). And the child counts what it does itself: summed over the
        # processes (their metrics, CostMetrics.watch_rollup), the parent's counts would
        # come twice.
        self._lock = threading.RLock()
        self.stats = RollupStats()

    @property
    def open_traces(self) -> int:
        """How many traces the roll-up holds: running ones (at most ``max_traces``) and
        finished ones kept for spans that end late (as many again at most). Read without
        the lock: a gauge, exact only between exports."""
        return len(self._traces) + len(self._held)

    @property
    def running_traces(self) -> int:
        """How many of :attr:`open_traces` count against ``max_traces``: the running ones (and
        finished ones with spans still to route). At the bound a new trace overflows
        (``stats.traces_pushed_out``, ``traces_turned_away``). Read without the lock."""
        return len(self._traces)

    # ---------------------------------------------------------------- roll-up

    def _roll_up(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        outgoing: list[ReadableSpan] = []
        append = outgoing.append
        completed: list[tuple[TraceTotals, ReadableSpan]] = []
        costs, owns = _read_costs(spans)
        with self._lock:
            if self._turned_away:  # (left by a batch that failed half-way)
                self._let_turned_away_go()
            now = self._clock()
            # A batch comes in runs of spans of one trace: the trace's state is looked up
            # once per run (``now`` is the whole batch's, so it is stamped alike).
            state: _TraceState
            below: dict[int, TraceTotals]
            passed: dict[int, int]
            current_id: int | None = None
            # Siblings share their parent's (immutable) SpanContext: it is read once per run of them.
            last_parent: SpanContext | None = None
            is_root = True
            parent_id = 0
            for span, cost, own in zip(spans, costs, owns, strict=True):
                context = span.context
                if context is None:
                    append(span)
                    continue
                trace_id = context.trace_id
                if trace_id != current_id:
                    state = self._state_of(trace_id, now)
                    below, passed = state.below, state.passed
                    current_id = trace_id
                state.spans += 1
                if own is None:
                    own = _cost_of(span)
                category = cost.category if cost is not None else own[0]
                span_id = context.span_id
                subtree = below.pop(span_id, None) if below else None
                parent = span.parent
                if parent is not last_parent:
                    last_parent = parent
                    if parent is None or parent.is_remote:
                        is_root = True
                    else:
                        is_root, parent_id = False, parent.span_id
                if is_root:
                    root, totals = self._pass_local_root(state, span, span_id, cost, own, subtree)
                    append(root)
                    if totals is not None:
                        completed.append((totals, root))
                    if state.released or self._hold(state):
                        current_id = None  # a later span of the trace looks its state up again
                    continue
                passed[span_id] = parent_id
                if len(passed) > _MAX_PASSED:
                    passed = state.passed = newer_half(passed)
                if category is None and subtree is None:
                    append(span)
                    continue
                target = parent_id if parent_id not in passed else _open_ancestor(passed, parent_id)
                if target == _LOCAL_ROOT:
                    append(self._pass_after_root(state, span, category, cost, own, subtree))
                    continue
                bucket = below.get(target)
                if bucket is None:
                    bucket = below[target] = TraceTotals(trace_id)
                if cost is not None:
                    bucket.add_cost(cost)
                elif category is not None:
                    bucket.add(*own)
                if subtree is not None:
                    bucket.merge(subtree)
                # CostedSpan.genai_after_root and genai_recount, read from the span's state:
                # the span is priced (its cost was read above), and the properties, which
                # price first, would cost 0.2 µs on every priced span.
                if category is not None:
                    note = span.__dict__.get("_genai_rollup")  # _ROLLUP_NOTE
                    if note:
                        if note is not True:  # a Recount (rare): counts this span takes back
                            bucket.recount(note)
                            if not (note.after_root and category):
                                append(span)
                                continue
                        # Under a parent still open, below a local root that has gone on: the
                        # processor saw it end after that root.
                        self.stats.late_spans += 1
                        append(_with_attributes(span, {A.COST_AFTER_ROOT: True}))
                        continue
                append(span)
            if self._turned_away:
                self._let_turned_away_go()
            self._expire(now)
        if self._on_trace_complete is not None:
            for totals, root in completed:
                try:
                    self._on_trace_complete(totals, root)
                except user_failures():
                    self._user_code_failed("on_trace_complete callback")
        return outgoing

    def _pass_after_root(
        self,
        state: _TraceState,
        span: ReadableSpan,
        category: str | None,
        cost: SpanCost | None,
        own: _OwnCost,
        subtree: TraceTotals | None,
    ) -> ReadableSpan:
        """A span (and what was below it) reaching the roll-up after its local root went
        on: added to the trace's totals all the same, and, if it has a cost of its own,
        handed on marked late (its root's totals left it out)."""
        if subtree is not None:
            state.done.merge(subtree)
        if category is None:
            return span
        _add_own(state.done, cost, own)
        recount = _recount_of(span)
        if recount is not None:
            state.done.recount(recount)
            if not category:  # no cost of its own: nothing of it is missing from the root
                return span
        self.stats.late_spans += 1
        return _with_attributes(span, {A.COST_AFTER_ROOT: True})

    def _state_of(self, trace_id: int, now: float) -> _TraceState:
        """The trace's state, made the youngest (expiry goes by last activity); a new
        trace is held within the bounds at once. Called once per run of its spans."""
        traces = self._traces
        state = traces.get(trace_id)
        if state is None and self._turned_away:
            state = self._turned_away.get(trace_id)
            if state is not None:  # turned away earlier in this batch
                state.last_update = now
                return state
        held = self._held.pop(trace_id, None) if state is None and self._held else None
        if state is None and len(traces) >= self._max:
            if held is None and now - next(iter(traces.values())).last_update < self._push_out_after:
                # As many traces running as the bound allows, all of them active: letting
                # the oldest go for this one would only start a cascade (each let go by the
                # next, when more run at once than the bound, so that no root got its
                # totals). This one, which has gathered nothing yet, waits instead.
                return self._turn_away(trace_id, now)
            # Room first, then the new trace: the bound holds at every moment, not only
            # per batch, and a reader of open_traces (no lock) never sees max + 1.
            self._expire(now, room=1)
        if held is not None:  # held as plain values since a root passed (see _hold)
            state = traces[trace_id] = _unheld(trace_id, held)
            state.last_update = now
        elif state is None:
            state = traces[trace_id] = self._new_state(trace_id, now)
        else:
            traces.move_to_end(trace_id)
            state.last_update = now
        return state

    def _new_state(self, trace_id: int, now: float) -> _TraceState:
        """The state of a trace not held, with what is remembered of it: let go before
        (its roots' totals will say so), or released when its root passed."""
        state = _TraceState(trace_id, TraceTotals(trace_id), last_update=now)
        forgotten = self._forgotten
        if forgotten and forgotten.pop(trace_id, False):
            state.forgot = True
        released = self._released
        if released:
            root_id = released.pop(trace_id, None)
            if root_id is not None:
                state.root_seen = True
                state.passed[root_id] = _LOCAL_ROOT
        return state

    def _turn_away(self, trace_id: int, now: float) -> _TraceState:
        """A state for a new trace that finds the roll-up full, kept for the batch being
        rolled up only (:meth:`_let_turned_away_go`): a short request whose spans came in
        one batch still gets its totals."""
        state = self._turned_away[trace_id] = self._new_state(trace_id, now)
        self.stats.traces_turned_away += 1
        self._warn_once(
            "turned away",
            "genai-cost: more than max_traces=%d traces running at once, none idle for %.1f s:"
            " a new trace is rolled up within its export batch only, and its root says"
            " complete=false; raise GENAI_COST_MAX_TRACES (docs/configuration.md)."
            " Logged once; counted in the metric gen_ai.cost.rollup.overflow (action=turned_away)"
            " and TraceCostExporter.stats.traces_turned_away",
            self._max,
            self._push_out_after,
        )
        return state

    def _let_turned_away_go(self) -> None:
        """Let the traces turned away in a batch go, remembering those whose spans a root
        still to come would have needed (that root will say ``complete=false``)."""
        for state in self._turned_away.values():
            if not state.released and state.owes_a_root():
                self._forget(state.trace_id)
        self._turned_away.clear()

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        """Log, once per exporter for each ``what``, that more traces run at once than
        ``max_traces``: their roots' totals say ``complete=false``, which does not say why."""
        if what not in self._said:
            self._said.add(what)
            _log.warning(message, *args)

    def _pass_local_root(
        self,
        state: _TraceState,
        span: ReadableSpan,
        span_id: int,
        cost: SpanCost | None,
        own: _OwnCost,
        subtree: TraceTotals | None,
    ) -> tuple[ReadableSpan, TraceTotals | None]:
        """The local root as it goes on, and its subtree's totals if they were written on it."""
        state.root_seen = True
        done = state.done
        # Spans of the trace still open here (its structure must stay for them), and those
        # of them below this root (its totals are incomplete).
        if isinstance(span, CostedSpan):
            still_open, open_below = span.genai_trace_open, span.genai_open_spans
        else:  # not through a CostSpanProcessor here: nothing is known of what is open
            still_open, open_below = False, 0
        forgot = state.forgot
        below = state.below
        # Nothing of the trace open here: its structure can go. Unless the root's start was
        # not seen (the gateway's spans, from other processes), when nothing ever looks open:
        # the subtrees still waiting in ``below`` may be another local root's (the caller's
        # part of a trace that went through two services), which may yet come; they wait for
        # it, or for the trace to expire.
        settled = not still_open and isinstance(span, CostedSpan) and (not below or not span.genai_start_unseen)
        if settled and below and _billable_in(below):
            # Nothing of the trace is open here, so nothing will take these: costs whose
            # parent had passed when the trace was let go (its routing with it), or whose
            # parent never came. They are on no root; this one's totals may miss them.
            forgot = True
        elif below and open_below and isinstance(span, CostedSpan) and span.genai_open_only_below:
            # What ended under spans of its own still open (a stream wrapper's span never
            # ended): ended before it, so its own, and no span left to carry it up. What ends
            # below them from now on ended after it (late: marked, and in the trace's sum).
            if subtree is None:
                subtree = TraceTotals(state.trace_id)
            for waiting in below.values():
                subtree.merge(waiting)
            below.clear()
        if subtree is not None or cost is not None or own[0] is not None or open_below or forgot:
            if subtree is None:
                subtree = TraceTotals(state.trace_id)
            _add_own(subtree, cost, own)
            recount = _recount_of(span)
            if recount is not None:
                subtree.recount(recount)
            done.merge(subtree)
        else:
            # Nothing in or under this root to add: adding its empty subtree would only count it.
            done.spans += 1
        passed = state.passed
        if settled:
            # Nothing of this trace is still open here: no span can come
            # that would need routing, so the structure is let go.
            for orphan in below.values():
                done.merge(orphan)
            below.clear()
            passed.clear()
            if not (done.priced_spans or done.unpriced_spans or state.forgot):
                # Nothing billable in the trace (a health check, a plain request): let it go,
                # so that a flood of such traces does not push out those still running.
                if self._traces.get(state.trace_id) is state:
                    del self._traces[state.trace_id]
                state.released = True
                released = self._released
                released[state.trace_id] = span_id
                if len(released) > _MAX_FORGOTTEN:
                    self._released = newer_half(released)
        passed[span_id] = _LOCAL_ROOT
        if subtree is None or not (subtree.priced_spans or subtree.unpriced_spans or open_below or forgot):
            # No billable span under this root (a health check, a plain
            # request): it is left as it is, and no zero-cost trace skews
            # the per-trace cost histogram.
            return span, None
        if A.TRACE_TOTAL in attributes_of(span):
            # Totalled by the roll-up of its own process (a gateway receiving spans priced
            # there): those totals stand. This roll-up saw the same spans, but not what is
            # known only there: the infrastructure share, and which spans were still open.
            return span, None
        if self._trace_layers:
            self._add_trace_layers(span, subtree, done)
        # (A trace whose billable spans were let go before its root came gets totals too,
        # that say they are not complete: without any, it would read as nothing billable.)
        root = self._with_totals(span, subtree, open_below, forgot=forgot)
        self.stats.traces_completed += 1
        return root, subtree

    def _hold(self, state: _TraceState) -> bool:
        """Hold the trace as plain values if its local root passed with nothing of it
        left to route (nothing below, no other span passed): see :data:`_HeldTrace`."""
        traces = self._traces
        if state.below or len(state.passed) != 1 or traces.get(state.trace_id) is not state:
            return False  # (not in the map: released, or let go meanwhile to make room)
        del traces[state.trace_id]
        held = self._held
        held[state.trace_id] = _held(state)
        if len(held) > self._max:
            self._expire_held(state.last_update)
        return True

    def _user_code_failed(self, what: str) -> None:
        """Count (``stats.internal_errors``) and log a callback or layer of the user's that
        raised: its first failure, then every 1000th of all. A traceback per trace slowed
        the export thread until the batch processor dropped spans."""
        self.stats.internal_errors += 1
        if worth_logging(self._failed_user_code, what, self.stats.internal_errors):
            _log.exception("genai-cost: %s failed (%d roll-up failures so far)", what, self.stats.internal_errors)

    def _add_trace_layers(self, root: ReadableSpan, totals: TraceTotals, trace_wide: TraceTotals) -> None:
        for layer in self._trace_layers:
            try:
                costs = layer.trace_costs(root, totals)
            except user_failures():  # a broken layer must not lose the totals
                self._user_code_failed(f"trace cost layer {type(layer).__name__}")
                continue
            for category, usd in (costs or {}).items():
                for sums in (totals, trace_wide):
                    sums.total_usd += usd
                    sums.by_category[category] = sums.by_category.get(category, 0.0) + usd

    def _with_totals(
        self, span: ReadableSpan, totals: TraceTotals, open_spans: int, *, forgot: bool = False
    ) -> ReadableSpan:
        extra = totals.attributes(self._bands)
        extra[A.TRACE_COMPLETE] = open_spans == 0 and not forgot
        if open_spans:
            extra[A.TRACE_OPEN_SPANS] = open_spans
        return _with_attributes(span, extra)

    def _expire(self, now: float, room: int = 0) -> None:
        """Let go the traces idle too long, and the oldest running ones past ``max_traces -
        room``; finished ones (held) by their own bound, never in a running one's place."""
        traces = self._traces
        while traces:
            trace_id, oldest = next(iter(traces.items()))
            idle = now - oldest.last_update
            if len(traces) + room <= self._max and idle < self._idle:
                break
            del traces[trace_id]
            if idle < self._idle:
                self.stats.traces_pushed_out += 1
                self._warn_once(
                    "pushed out",
                    "genai-cost: a running trace idle for %.1f s was let go to make room for another"
                    " (max_traces=%d running at once): its root will say complete=false; raise"
                    " GENAI_COST_MAX_TRACES (docs/configuration.md). Logged once; counted in the metric"
                    " gen_ai.cost.rollup.overflow (action=pushed_out) and"
                    " TraceCostExporter.stats.traces_pushed_out",
                    idle,
                    self._max,
                )
            if not oldest.root_seen:
                self.stats.traces_expired_without_root += 1
            if oldest.owes_a_root():
                self._forget(trace_id)
        self._expire_held(now)

    def _expire_held(self, now: float) -> None:
        """Let go the finished traces idle too long, and the oldest past ``max_traces``."""
        held = self._held
        while held:
            trace_id, oldest = next(iter(held.items()))
            last_update: float = oldest[_HELD_LAST_UPDATE]  # type: ignore[assignment]
            if len(held) <= self._max and now - last_update < self._idle:
                break
            del held[trace_id]
            if oldest[_HELD_FORGOT]:
                self._forget(trace_id)

    def _forget(self, trace_id: int) -> None:
        """A trace let go while a root may still come (its own, or another request's of the
        trace): its totals will then say they are not complete."""
        forgotten = self._forgotten
        forgotten[trace_id] = True
        if len(forgotten) > _MAX_FORGOTTEN:
            self._forgotten = newer_half(forgotten)


#: A trace held after its local root passed with nothing of it open (the common case: a
#: finished request), kept for ``totals()``, a late span or another request of the trace
#: until it expires. Plain values in one tuple, which the garbage collector stops tracking
#: at its first collection: thousands of finished traces held as objects (a state and its
#: totals each) were walked by every full collection, on whichever thread triggered it, the
#: application's most often (about 0.6 µs a span in the benchmark, with 2,700 held). Read back
#: into a ``_TraceState`` the moment a span of the trace comes: (last update, forgot, the
#: root's span id, spans, then ``TraceTotals`` field by field, then its categories and amounts).
_HeldTrace = tuple[object, ...]
_HELD_LAST_UPDATE = 0
_HELD_FORGOT = 1
#: The plain (int, float, bool) fields of ``TraceTotals``, in the order they are held.
_TOTALS_FIELDS = tuple(name for name in TraceTotals.__slots__ if name not in ("trace_id", "by_category"))
_HELD_TOTALS = 4
_HELD_CATEGORIES = _HELD_TOTALS + len(_TOTALS_FIELDS)


def _held(state: _TraceState) -> _HeldTrace:
    done = state.done
    (root_id,) = state.passed
    categories = [item for pair in done.by_category.items() for item in pair]
    totals = [getattr(done, name) for name in _TOTALS_FIELDS]
    return (state.last_update, state.forgot, root_id, state.spans, *totals, *categories)


def _unheld(trace_id: int, held: _HeldTrace) -> _TraceState:
    totals = TraceTotals(trace_id)
    for name, value in zip(_TOTALS_FIELDS, held[_HELD_TOTALS:_HELD_CATEGORIES], strict=True):
        setattr(totals, name, value)
    categories = held[_HELD_CATEGORIES:]
    totals.by_category = dict(zip(categories[::2], categories[1::2], strict=True))  # type: ignore[arg-type]
    state = _TraceState(trace_id, totals, last_update=held[_HELD_LAST_UPDATE], forgot=held[_HELD_FORGOT])  # type: ignore[arg-type]
    state.passed[held[2]] = _LOCAL_ROOT  # type: ignore[index]
    state.spans = held[3]  # type: ignore[assignment]
    state.root_seen = True
    return state


def _billable_in(below: dict[int, TraceTotals]) -> bool:
    """Whether a cost or an unpriced span sits in ``below``."""
    return any(partial.priced_spans or partial.unpriced_spans for partial in below.values())


def _read_costs(spans: Sequence[ReadableSpan]) -> tuple[list[SpanCost | None], list[_OwnCost | None]]:
    """Each span's cost, read before the roll-up's lock is taken: a span still owed its
    pricing is priced now, outside the lock. A span with no cost is checked for cost
    attributes while it is at hand (in cache, and outside the lock); the few that carry
    some (``None`` in the second list), and spans of other types, are read by _cost_of
    where they are rolled up."""
    costs: list[SpanCost | None] = []
    owns: list[_OwnCost | None] = []
    for span in spans:
        if type(span) is CostedSpan:
            cost, attributes = span._cost_and_attributes()
            costs.append(cost)
            owns.append(_NO_COST if cost is not None or not _carries_cost(attributes) else None)
        else:
            costs.append(None)
            owns.append(None)
    return costs, owns


def _open_ancestor(passed: dict[int, int], parent_span_id: int) -> int:
    """The nearest ancestor that has not passed yet (usually the parent itself),
    or ``_LOCAL_ROOT`` when the chain reaches a local root that already passed."""
    target = parent_span_id
    for _ in range(len(passed) + 1):  # bounded even if the parent links loop
        above = passed.get(target)
        if above is None:
            return target
        if above == _LOCAL_ROOT:
            return _LOCAL_ROOT
        target = above
    return target


#: The span state's key for what the roll-up does beyond adding the span's cost: ``True``,
#: the span ended after its local root (``_open_spans``); a ``Recount`` (``processor``).
_ROLLUP_NOTE = "_genai_rollup"


def _recount_of(span: ReadableSpan) -> Recount | None:
    """The counts a span priced in this process takes back, if any (rare: read off the
    paths every span takes)."""
    note = span.__dict__.get(_ROLLUP_NOTE)
    return note if isinstance(note, Recount) else None


def _add_own(totals: TraceTotals, cost: SpanCost | None, own: _OwnCost) -> None:
    """Add a span's cost: ``cost`` when it has one of this process, else ``own``."""
    if cost is not None:
        totals.add_cost(cost)
    else:
        totals.add(*own)


def _with_attributes(span: ReadableSpan, extra: Mapping[str, object]) -> ReadableSpan:
    # (The dict behind the attributes, not the read-only proxy ``attributes`` returns,
    # whose item access is Python-level.)
    merged: dict[str, object] = dict(attributes_of(span))
    merged.update(extra)
    if isinstance(span, CostedSpan):
        return CostedSpan.copy_of(span, merged, span.genai_cost, span.genai_open_spans)
    return CostedSpan.copy_of(span, merged, None)


#: What :func:`_cost_of` says of a span that carries no cost.
_NO_COST: _OwnCost = (None, None, False, (0, 0, 0, 0))


def _carries_cost(attributes: Mapping[str, object]) -> bool:
    """Whether :func:`recorded_cost` could find a cost on the span (cheaply: most carry none)."""
    return A.COST_TOTAL in attributes or A.COST_UNPRICED in attributes or A.COST_ACCOUNTS_FOR in attributes


def _cost_of(span: ReadableSpan) -> _OwnCost:
    """(category, total, unpriced, (input, output, cache read, cache write) tokens)."""
    cost: SpanCost | None = span.genai_cost if isinstance(span, CostedSpan) else None
    if cost is not None:
        usage = cost.usage
        tokens = (
            (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens)
            if usage is not None and cost.category in (A.CATEGORY_LLM, A.CATEGORY_EMBEDDING)
            else (0, 0, 0, 0)
        )
        return cost.category, cost.total_usd, not cost.priced, tokens
    # A span priced elsewhere (another process, a gateway): read what it carries, as
    # ``genai-cost report`` reads it (a total that is no amount is unpriced, never $0).
    attributes = attributes_of(span)
    recorded = recorded_cost(attributes)
    named = attributes.get(A.COST_ACCOUNTS_FOR)
    if named and isinstance(named, str):
        if _ROLLUP_NOTE not in span.__dict__:
            # Records of its call flagged unpriced as they ended, each counted as a call there:
            # taken back as that process's roll-up would (see pricer.Recount). The span is this
            # process's own object (the gateway decoded it), where _recount_of finds the note.
            taken = accounted_ids(named)[1]
            calls = taken if recorded is None or recorded.category == A.CATEGORY_LLM else 0
            span.__dict__[_ROLLUP_NOTE] = Recount(calls, taken)
        if recorded is None:  # the span of a call over refused attempts: no cost of its own
            return NO_CATEGORY, None, False, (0, 0, 0, 0)
    if recorded is None:
        return _NO_COST
    category = recorded.category
    tokens = (0, 0, 0, 0)
    if category in (A.CATEGORY_LLM, A.CATEGORY_EMBEDDING):
        found = read_usage(attributes).usage
        if found is not None:
            tokens = (found.input_tokens, found.output_tokens, found.cache_read_tokens, found.cache_write_tokens)
    return category, recorded.total_usd, not recorded.priced, tokens


#: What makes an infrastructure cost (docs/cost-layers.md); the zero-code configurator and the
#: gateway read them into an InfraCostLayer.
_INFRA_VARIABLES = ("GENAI_COST_INFRA_MONTHLY_USD", "GENAI_COST_INFRA_MONTHLY_TRACES")


def _warn_unread_infra(trace_layers: Sequence[TraceCostLayer]) -> None:
    """Say that an infrastructure cost set in the environment is not applied by a roll-up
    set up in code without it: as for a budget (``CostSpanProcessor``), a cost the user
    configured must not go missing from every trace without a word."""
    from .layers import InfraCostLayer

    set_ = [name for name in _INFRA_VARIABLES if os.environ.get(name)]
    if set_ and not any(isinstance(layer, InfraCostLayer) for layer in trace_layers):
        _log.warning(
            "genai-cost: %s set in the environment but not read by a TraceCostExporter set up in code"
            " (only the zero-code configurator and the gateway read them): no infrastructure cost is"
            " added; pass trace_layers=LayerSettings.from_env().trace_layers(), docs/cost-layers.md",
            ", ".join(set_),
        )
