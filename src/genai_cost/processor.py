"""CostSpanProcessor: prices each ending span and hands the next processor a span
that carries the cost attributes.

The OpenTelemetry SDK freezes a span's attributes before any processor's
``on_end`` runs, so a processor cannot add attributes to the span itself. What
processors receive, though, is a ``ReadableSpan`` the SDK builds for that call:
this processor turns it into a :class:`CostedSpan` in place (no copy) and passes
it to the processor it wraps (usually a ``BatchSpanProcessor``), the way the
SDK's own processors compose::

    provider.add_span_processor(
        CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(OTLPSpanExporter())))
    )

The span is priced off the application thread, when it is first read (see
:class:`CostSpanProcessor`), so the span path itself only queues it. The leaf
rule's memory and the open-span counts it keeps meanwhile live in
:mod:`genai_cost._call_records` and :mod:`genai_cost._open_spans`; the span it
hands on, priced when first read, in :mod:`genai_cost.costed_span`; what its
extensions (listeners, cost layers) implement, in :mod:`genai_cost.extensions`.

Nothing here raises into the application: an internal failure is logged,
counted, and the span is passed on with its own attributes, unpriced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

from . import attributes as A
from ._call_records import ANSWER_BELOW, CALL_BELOW, MET, CallRecords, RefusedBelow, UnpricedRecord
from ._guard import INTERNAL_FAILURES, OwnExtension, user_failures, worth_logging
from ._open_spans import OpenSpans
from ._spans import attributes_of, plain_attributes
from ._vocabulary import (
    AI_OPERATION_KEY,
    DETACHED_CALL_SCOPES,
    MCP_METHOD_KEY,
    MCP_TOOLS_CALL,
    NOT_CALL_SPANS,
    NOT_TOOL_RUNS,
    QUALIFIED_TOOL_NAMES,
    RECORDED_AFTER_STREAM_MODULE,
    RECORDED_AFTER_STREAM_SCOPE_PREFIX,
    STREAM_REQUEST_KEY,
    VERCEL_AGGREGATES,
)
from .config import (
    BUDGET_VARIABLES,
    ESCALATION_VARIABLE,
    PROCESSOR_VARIABLES,
    CostSettings,
    report_unknown_variables,
    settings_from_env,
    user_cache_dir,
)
from .costed_span import CostedSpan, keep_dropped_attributes
from .extensions import CostListener, SettlingListener, SpanAnnotations, SpanCostLayer
from .pricer import NO_CATEGORY, Recount, SpanCost, SpanPricer, recount_only
from .pricing._fork import in_child_after_fork
from .pricing.catalog import Catalog
from .records import ADK_CALL as _ADK_CALL
from .records import ADK_PARTIAL as _ADK_PARTIAL
from .records import ADK_SCOPE as _ADK_SCOPE
from .records import accounts_for_value
from .records import adk_record as _adk_record
from .usage import (
    NOT_GENAI,
    USAGE_ON_STREAM_LOG_SCOPES,
    Role,
    SpanUsage,
    counts_tokens,
    not_a_call,
    not_a_tool_run,
    read_usage,
    with_span_rules,
)

_log = logging.getLogger("genai_cost")

#: Queued items (a span's start is two, its end one) past which ``on_end`` prices on
#: the application thread (nothing downstream is reading the copies). A batch processor
#: reads them every 512 spans by default; working through 6,144 items (2,048 spans)
#: takes ~20 ms.
_MAX_QUEUED = 6_144
#: Past this many times its bound, the queue is priced by the application thread even if it
#: must wait for another thread's pricing to finish: a memory bound, not a speed one.
_WAIT_PAST = 4


@dataclass
class ProcessorStats:
    """Self-observability: what the processor did since it started (in a forked child:
    since the fork). Its errors are exported as a metric by :meth:`CostMetrics.watch_processor
    <genai_cost.metrics.CostMetrics.watch_processor>`."""

    spans: int = 0
    priced: int = 0
    unpriced: int = 0
    internal_errors: int = 0
    #: Of ``internal_errors``, a listener (budget, metrics, one's own) that raised: the span
    #: kept its cost; that listener missed it.
    listener_errors: int = 0
    #: Of ``internal_errors``, a span cost layer of the application's that raised: unless a
    #: later layer priced the span, it says ``cost_layer_failed``.
    layer_errors: int = 0
    #: Counts of spans open at once forgotten past their bound (100,000: spans never ended,
    #: most likely): a root of a trace still open may then say ``complete=true``.
    open_counts_forgotten: int = 0


class CostSpanProcessor(SpanProcessor):
    """Prices every ending GenAI span, and hands ``next_processor`` the ended span
    as a :class:`CostedSpan`, which carries the cost attributes once priced (other
    spans keep their own attributes).

    Only leaf calls are priced: a span whose descendants include an inference
    call (agent, workflow, framework wrapper) carries aggregate usage and is
    never priced, so nothing is counted twice.

    Pricing is deferred off the application thread. ``on_start`` and ``on_end``
    only queue the span (``on_end`` also turns it into the CostedSpan it hands on); the
    queue is worked through, in the order spans started and ended, by whoever
    first needs a result: the exporter reading the copy's attributes (usually
    on the batch processor's thread), :meth:`settle`, ``force_flush``, a
    :class:`~genai_cost.budget.Budget` being checked, or ``on_end`` itself once
    ``max_pending`` items wait. The results are the same as pricing inline
    (``deferred=False``, or ``GENAI_COST_DEFERRED_PRICING=false``), which a
    test checks span for span.
    """

    def __init__(
        self,
        next_processor: SpanProcessor,
        *,
        catalog: Catalog | None = None,
        settings: CostSettings | None = None,
        listeners: Iterable[CostListener] = (),
        span_layers: Iterable[SpanCostLayer] = (),
        deferred: bool | None = None,
        max_pending: int = _MAX_QUEUED,
    ) -> None:
        _check_is_processor(next_processor)
        _check_arguments(catalog, settings, deferred, max_pending)
        listeners = _listed("listeners", listeners, "on_span_cost")
        span_layers = _listed("span_layers", span_layers, "price_span")
        self._next = next_processor
        # The batch and simple processors' on_start and _on_ending do nothing: not
        # calling them saves two calls on every span of the application.
        kind = type(next_processor)
        self._forward_start = getattr(kind, "on_start", None) not in _NO_OP_ON_START
        forward_ending = getattr(next_processor, "_on_ending", None)
        self._forward_ending = None if getattr(kind, "_on_ending", None) in _NO_OP_ON_ENDING else forward_ending
        self._span_layers: Sequence[SpanCostLayer] = tuple(span_layers)
        #: Set up in code from the environment: the variables only the zero-code set-up
        #: reads are checked once the first spans are priced (_warn_unread_variables).
        self._check_unread_variables = settings is None
        if settings is None:
            settings = settings_from_env(PROCESSOR_VARIABLES)
            report_unknown_variables()
        self._settings = settings
        if catalog is None:
            catalog = load_catalog(self._settings)
        self._pricer = SpanPricer(catalog, reported_cost=self._settings.reported_cost)
        self._listeners: Sequence[CostListener] = ()
        self._failed_listeners: set[object] = set()
        self._failed_layers: set[object] = set()
        self._after_pricing: tuple[Callable[[], None], ...] = ()
        self._enabled = self._settings.enabled and catalog is not None
        if deferred is None:
            deferred = self._settings.deferred_pricing
        #: Queue length past which on_end prices on its own thread (0: always, i.e. inline).
        self._max_pending = max(1, max_pending) if deferred else 0
        self._stats = ProcessorStats()
        #: The contexts of started spans, each followed by its parent's (or ``None``), and
        #: the ended spans handed on, in order.
        self._queue: deque[SpanContext | CostedSpan | None] = deque()
        #: Held while the queue is worked through; everything below is touched only then.
        self._settling = threading.RLock()
        self._settling_thread: int | None = None
        #: Threads pricing because they read a span: an exporter, often inside a batch
        #: processor's export, whose lock a flush from a budget callback would wait on.
        self._reading_threads: set[int] = set()
        self._warned_flush_in_read = False
        self._warned_pricing_hung = False
        #: The leaf rule's memory and the open-span counts (docs/how-it-works.md).
        self._calls = CallRecords(catalog)
        self._open_spans = OpenSpans()
        #: The span whose listeners are being told, and the index of the one being told.
        self._telling: CostedSpan | None = None
        self._told = 0
        #: The unpriced record whose call the leaf being priced takes over (_first_of_met_call).
        self._taking_over: tuple[int, UnpricedRecord] | None = None
        #: Whether an instrumentation that never makes its spans current may run (_detached_loaded).
        self._detached_may_run = False
        for listener in listeners:
            self.add_listener(listener)
        # A fork while another thread held the settle lock would leave the child
        # unable to ever take it; the child also must not price its parent's spans.
        in_child_after_fork(self, CostSpanProcessor._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        self._settling = threading.RLock()
        self._settling_thread = None
        self._reading_threads = set()
        self._queue.clear()
        # Its own counts, as its metrics (CostMetrics.watch_processor): not its parent's again.
        self._stats = ProcessorStats()

    @property
    def catalog(self) -> Catalog:
        """The catalog this processor prices from (the shipped one plus the user's files)."""
        return self._pricer.catalog

    @property
    def stats(self) -> ProcessorStats:
        """What the processor did, counting every span ended so far: reading it prices
        what is queued first (:meth:`settle`), on the reading thread."""
        self.settle()
        self._stats.open_counts_forgotten = self._open_spans.forgotten
        return self._stats

    def add_listener(self, listener: CostListener) -> None:
        """Tell ``listener`` about every GenAI span priced from now on. A
        :class:`SettlingListener` is also given :meth:`settle`, and its ``after_pricing``
        is run after each settle, outside the pricing lock."""
        _check_extension("listener", listener, "on_span_cost")
        self._listeners = (*self._listeners, listener)
        if not self._enabled:
            # Told of nothing: a budget would read a spend that cannot be known, so it is not
            # given this processor as a source (it answers None, not $0), and it is said.
            _log.warning(
                "genai-cost: this CostSpanProcessor prices nothing (switched off: GENAI_COST_ENABLED=false or"
                " CostSettings(enabled=False)), so its listener %s is told of no span%s",
                type(listener).__name__,
                " (a budget's reads answer None and no limit stops a trace)" if _is_budget(listener) else "",
            )
            return
        if isinstance(listener, SettlingListener):
            listener.add_pending_source(self.settle)
            self._after_pricing = (*self._after_pricing, listener.after_pricing)

    def add_span_layer(self, layer: SpanCostLayer) -> None:
        """Consult ``layer`` (after those added before it) for spans with no cost of their own."""
        _check_extension("span layer", layer, "price_span")
        self._span_layers = (*self._span_layers, layer)

    # ------------------------------------------------------------ SpanProcessor

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self._enabled:
            try:
                # The context and the parent's, not the span: the queue must not keep spans
                # alive (the garbage collector paid for it). One extend: atomic, so another
                # thread's items never come between the two.
                self._queue.extend((span.context, span.parent))
            except INTERNAL_FAILURES:  # never raise into the application
                self._internal_error()
        if self._forward_start:
            self._next.on_start(span, parent_context)

    def _on_ending(self, span: Span) -> None:
        if self._forward_ending is not None:
            self._forward_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        out: ReadableSpan = span
        if self._enabled:
            try:
                costed: CostedSpan
                if type(span) is ReadableSpan:
                    # What the SDK hands processors: an object made for this call. It
                    # becomes a CostedSpan in place (same state, no copy), so every
                    # processor holding it, ours or a sibling, sees the same priced span.
                    span.__class__ = CostedSpan
                    costed = span  # type: ignore[assignment]
                else:
                    # Made a CostedSpan by another CostSpanProcessor of this provider: this
                    # one prices a copy of its own, for its own listeners and processor.
                    # Any other span type is copied through its properties.
                    costed = CostedSpan._state_copy(span, settled=False) or CostedSpan(span, attributes_of(span), None)
                costed.__dict__["_settler"] = self
                out = costed
                queue = self._queue
                queue.append(costed)
                if len(queue) > self._max_pending:
                    # Past the bound the application thread prices its backlog itself, unless
                    # another thread is at it already (a slow listener of the export thread
                    # must not hold the application up), up to a hard bound on the queue.
                    self.settle(wait=len(queue) > self._max_pending * _WAIT_PAST)
            except INTERNAL_FAILURES:  # never raise into the application
                self._internal_error()
            except BaseException:  # the application's, raised while pricing inline: it goes on up
                self._next.on_end(out)
                raise
        self._next.on_end(out)

    def shutdown(self) -> None:
        """Price what is queued, then shut the wrapped processor down: after 30 seconds
        waiting for pricing (a listener or cost layer hung on another thread), without it,
        so that an application's exit is never held up for good."""
        self._settle_within(_SHUTDOWN_PRICING_S)
        self._next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Price what is queued, then flush the wrapped processor with the time that is
        left; ``False`` when pricing used it all (the wrapped processor is then not
        flushed, as the SDK's own multi-processor skips those it has no time left for)."""
        started = time.monotonic()
        if not self._settle_within(max(timeout_millis, 0) / 1000):
            return False
        remaining_millis = timeout_millis - (time.monotonic() - started) * 1000
        if remaining_millis <= 0:
            return False
        if threading.get_ident() in self._reading_threads:
            # Called back from inside an export (a budget callback run as the exporter read
            # the span that crossed a limit): the batch processor's export lock is held by
            # this very thread and is not reentrant, so forwarding would hang the export
            # thread for good. What this export holds is on its way anyway.
            if not self._warned_flush_in_read:
                self._warned_flush_in_read = True
                _log.warning(
                    "genai-cost: force_flush() called while an exporter was reading spans (from a "
                    "budget callback?) was not passed on: the batch processor is in the middle of "
                    "that export and would wait for itself. Flush from the application instead."
                )
            return False
        return self._next.force_flush(max(1, int(remaining_millis)))

    # ---------------------------------------------------------------- pricing

    def settle(self, *, wait: bool = True) -> None:
        """Price every span ended so far. Safe from any thread; a no-op when
        called back from inside pricing (a listener reading a span), and, unless
        ``wait``, when another thread is pricing (it prices what it found queued)."""
        self._settle(_WAIT_AS_LONG_AS_IT_TAKES if wait else 0.0)

    def _settle(self, timeout_s: float) -> bool:
        """``settle``, waiting at most ``timeout_s`` (negative: as long as it takes) for
        another thread's pricing; ``False`` when it did not finish in time."""
        if self._settling_thread == threading.get_ident():
            return True
        if timeout_s == 0.0:
            acquired = self._settling.acquire(blocking=False)
        else:  # (a "wait forever" timeout, sys.maxsize ms, is more than a lock can be given)
            acquired = self._settling.acquire(timeout=min(timeout_s, threading.TIMEOUT_MAX))
        if not acquired:
            return False
        try:
            self._settling_thread = threading.get_ident()
            self._work_through_queue()
        finally:
            self._settling_thread = None
            self._settling.release()
        for after in self._after_pricing:  # outside the lock (see add_listener)
            try:
                after()
            except user_failures():
                self._internal_error()
        return True

    def _settle_within(self, timeout_s: float) -> bool:
        """``settle`` for a flush or a shutdown: ``False`` (and a warning, once) when
        another thread's pricing did not finish within ``timeout_s``, so a listener or cost
        layer hung on the export thread cannot hang the application's exit with it."""
        if self._settle(timeout_s):
            return True
        if timeout_s > 0 and not self._warned_pricing_hung:  # (0: no time given, nothing stuck)
            self._warned_pricing_hung = True
            _log.warning(
                "genai-cost: pricing on another thread did not finish within %.1f s: a listener or span"
                " cost layer may be stuck; flush / shutdown went on without waiting for it",
                timeout_s,
            )
        return False

    def _work_through_queue(self) -> None:
        """Under the settle lock: count each start and price each end, in queue order.

        What was queued when the lock was taken, not what other threads queue meanwhile:
        a settle is bounded, even while the application ends spans faster than they are
        priced (a reader waits for its own spans only)."""
        if self._check_unread_variables:
            self._check_unread_variables = False
            self._warn_unread_variables()
        queue = self._queue
        left = len(queue)
        while left > 0 and queue:
            item = queue.popleft()
            left -= 1
            if isinstance(item, SpanContext):  # a span started; its parent's context follows
                parent = queue.popleft() if queue else None
                left -= 1
                self._count_start(item, parent)
            elif item is not None:
                self._price(item)

    def _warn_unread_variables(self) -> None:
        """Say, once, that a budget or hand-off cost set in the environment is not applied:
        only the zero-code configurator and the gateway build them from the variables; set
        up in code, they are objects one adds. A budget is a safety stop: a limit that
        silently stops nothing is worse than none. Checked when the first spans are priced,
        when listeners and layers added after construction are in place."""
        from .budget import Budget
        from .layers import HumanEscalationLayer

        unread: list[str] = []
        limits = [name for name in BUDGET_VARIABLES if os.environ.get(name)]
        if limits and not any(isinstance(listener, Budget) for listener in self._listeners):
            unread.append(
                f"{', '.join(limits)} (no limit is enforced: add Budget(BudgetLimits.from_env()) to the"
                " processor's listeners and set_default_budget() it, docs/budgets.md)"
            )
        if os.environ.get(ESCALATION_VARIABLE) and not any(
            isinstance(layer, HumanEscalationLayer) for layer in self._span_layers
        ):
            unread.append(
                f"{ESCALATION_VARIABLE} (no hand-off is priced: add LayerSettings.from_env().span_layers()"
                " to the processor's span_layers, docs/cost-layers.md)"
            )
        if unread:
            _log.warning(
                "genai-cost: set in the environment but not read by a CostSpanProcessor set up in code"
                " (only the zero-code configurator and the gateway read them): %s",
                "; ".join(unread),
            )

    def _count_start(self, context: SpanContext, parent: SpanContext | CostedSpan | None) -> None:
        """Count a started span as open, under its local root's subtree (the leaf rule's
        wrapper lookup and the open-span counts written on a local root need both)."""
        if parent is not None and not isinstance(parent, SpanContext):
            # Only if an exception raised by a signal handler broke a pair apart: an ended
            # span is never lost to it, whatever it costs the open-span counts.
            self._price(parent)
            parent = None
        self._open_spans.count_start(context, parent)

    def _settle_for_reader(self) -> None:
        """``settle`` for a reader of a span (see ``force_flush``)."""
        thread = threading.get_ident()
        readers = self._reading_threads
        if thread in readers:
            self._settle(_WAIT_AS_LONG_AS_IT_TAKES)
            return
        readers.add(thread)
        try:
            self._settle(_WAIT_AS_LONG_AS_IT_TAKES)
        finally:
            readers.discard(thread)

    def _price(self, span: CostedSpan) -> None:
        """Price the queued span in place. A span that is not billable keeps the
        attributes it ended with; on an internal error it keeps them too, unpriced."""
        state = span.__dict__
        try:
            priced = self._enrich(span, state)
        except INTERNAL_FAILURES:
            self._internal_error()
            priced = self._flagged_internal_error(span, state)
        except BaseException as exc:
            # The application's exception, raised by a signal handler (a task's time limit)
            # while this thread priced: it goes on up, and the span, out of the queue now,
            # says it was not priced rather than going on with no cost at all.
            self._interrupted(span, state, exc)
            raise
        if priced is not None:
            attributes, cost, events = priced
            keep_dropped_attributes(state)
            state["_attributes"] = attributes
            state["_genai_cost"] = cost
            if events:
                recorded = state["_events"]
                state.setdefault("_dropped_events", getattr(recorded, "dropped", 0))
                state["_events"] = (*recorded, *events)
        state["_settler"] = None

    def _enrich(
        self, span: CostedSpan, state: dict[str, object]
    ) -> tuple[Mapping[str, object], SpanCost | None, tuple[Event, ...]] | None:
        """(attributes for the span, cost, events to add), or ``None`` when the span
        keeps its own attributes. Also does the bookkeeping every span takes part in:
        its trace's open spans (written on a local root) and the leaf rule's marks."""
        # The state ReadableSpan.__init__ stored, read without its properties: this
        # runs for every span of the application.
        context: SpanContext | None = state["_context"]  # type: ignore[assignment]
        if context is None:
            return None
        parent: SpanContext | None = state["_parent"]  # type: ignore[assignment]
        span_id = context.span_id
        trace_id = context.trace_id
        open_spans = self._open_spans
        # The parent's span id, and whether it is of this process, read once: SpanContext's
        # fields are properties, and this runs for every span of the application.
        parent_id: int | None = None
        local_parent = False
        # A remote parent that is open in this process: a server span whose client is here
        # (an MCP server in the agent's process).
        parent_here = False
        if parent is not None:
            parent_id = parent.span_id
            local_parent = not parent.is_remote
            if not local_parent and open_spans.is_open(parent_id):
                parent_here = True
                parent = self._parent_in_process(state, parent)
                parent_id = parent.span_id
                local_parent = not parent.is_remote
        open_spans.count_end(state, span_id, trace_id, local_parent)
        calls = self._calls
        below = calls.take_mark(span_id)
        # Refused requests directly below (rare: only a span with calls below reads it).
        refused = calls.take_refused(span_id) if below and calls.refused_below else None
        attributes = plain_attributes(state["_attributes"])
        scope_info: InstrumentationScope | None = state["_instrumentation_scope"]  # type: ignore[assignment]
        scope = scope_info.name if scope_info is not None else None
        usage = read_usage(attributes, scope)  # read_span_usage, its span rules only where they apply
        role = usage.role
        if role in _SPAN_RULE_ROLES:
            client = state["_kind"] is _CLIENT
            usage = with_span_rules(usage, attributes, scope, client=client, dropped_attributes=_dropped(state))
            role = usage.role
        inference = role in _INFERENCE_ROLES
        if inference and scope in NOT_CALL_SPANS:  # (usage.not_a_call)
            usage = not_a_call(usage, state.get("_name"), scope)  # type: ignore[arg-type]
            role = usage.role
            inference = role in _INFERENCE_ROLES
        if role is _TOOL and scope in NOT_TOOL_RUNS:  # (usage.not_a_tool_run)
            usage = not_a_tool_run(usage, scope)
            role = usage.role
        elif role is _TOOL and scope in QUALIFIED_TOOL_NAMES:
            usage = self._unqualified_tool(usage, QUALIFIED_TOOL_NAMES[scope])
        self._stats.spans += 1
        if inference and scope == _ADK_SCOPE:
            record = _adk_record(state.get("_name"), scope_info, usage.operation)
            if record == _ADK_PARTIAL and parent_id is not None and local_parent:
                # ADK 1.x's second, thinner record of the call (no thinking, no cache)
                # inside the call_llm that records all of it and carries the cost.
                return _marked_duplicate(attributes, parent_id), None, ()
            if record == _ADK_CALL and not below & CALL_BELOW:
                # Its usage is its own call's: what is below it is the tools and the
                # sub-agents that ran after the call (ADK 1.x nests them under it).
                below = 0
        if (inference or below) and parent_id is not None and local_parent:
            answered = (
                usage.usage is not None
                or usage.reported_cost is not None
                or (attributes.get(_ERROR_TYPE) is None and _failure_by_status(state) is None)
                if inference
                # Up through spans between a call and its record (a retry's, an HTTP client's),
                # not through a tool's or an agent's: a call below those is another call.
                else below & ANSWER_BELOW != 0 and role in _PASSING_ROLES
            )
            calls.mark_call_below(parent_id, inference, answered)
        if role is _OTHER and scope in USAGE_ON_STREAM_LOG_SCOPES and parent_id is not None:
            calls.note_stream_request(span_id, parent_id)
        if role is not _TOOL and span_id in calls.tool_runs:
            # A tool run ended below a span that is no tool (an agent's): forgotten, unless the
            # span is an MCP client's request over the server's span of the run, which passes
            # it up to the tool span of the agent that made the request.
            mcp_request = local_parent and attributes.get(MCP_METHOD_KEY) == MCP_TOOLS_CALL
            calls.pass_tool_run_up(span_id, parent_id if mcp_request else None)
        if inference and below:
            if refused is not None:
                enclosing = self._enclosing_call(span, state, attributes, usage, role, refused, below)
                if enclosing is not None:
                    return enclosing
            role = _AGGREGATE  # a wrapper around the real call: its usage is its child's
        elif inference:
            detached = self._detached_may_run or self._detached_loaded()
            if detached and usage.usage is not None:
                twin = self._detached_twin(state, span_id, trace_id, parent_id, usage, scope, attributes)
                if twin is not None:
                    return _marked_duplicate(attributes, twin), None, ()
            first = self._first_of_call(state, context, trace_id, parent, parent_id, usage, scope or "")
            if detached and first == span_id and usage.usage is not None and scope not in DETACHED_CALL_SCOPES:
                start: int = state["_start_time"] or 0  # type: ignore[assignment]
                end: int = state["_end_time"] or 0  # type: ignore[assignment]
                calls.note_attached_call(span_id, trace_id, start, end, usage)
            if first != span_id:
                if first == _TAKES_OVER:
                    return self._cost_taking_over(span, state, attributes, usage, role)
                # The same call recorded twice (the anthropic SDK's own span next to
                # OpenLLMetry's, or under a wrapper that ended first): the first record
                # carries the cost.
                return _marked_duplicate(attributes, first), None, ()
        elif role is _TOOL and usage.tool_name is not None:
            tool_name = usage.tool_name
            run = calls.tool_run_below(span_id, tool_name) if calls.tool_runs else None
            if parent_id is not None and (local_parent or parent_here):
                calls.note_tool_run(parent_id, span_id if run is None else run, tool_name)
            if run is not None:
                # The tool library's span of this run ended directly below it and carries
                # its cost (AutoGen's execute_tool under OpenInference's span of the same
                # call; an MCP server's span of the call, through the client's request
                # span): one run, two records.
                return _marked_duplicate(attributes, run), None, ()
        elif role is _AGGREGATE and not below and self._counts_unrecorded_calls(state, attributes):
            recorded = calls.recorded_response(trace_id, usage.response_id)
            if recorded is not None:
                # A copy of a call recorded beside it (OpenLIT's LangGraph node span, next to
                # the LangChain chain that holds the call's span): the same response id.
                return _marked_duplicate(attributes, recorded), None, ()
            return self._unrecorded_calls(span, state, attributes, usage, role)
        elif not self._span_layers and role in _UNBILLED_ROLES:
            return None  # nothing prices it: it keeps its own attributes
        return self._cost(span, state, attributes, usage, role)

    def _unqualified_tool(self, usage: SpanUsage, separator: str) -> SpanUsage:
        """``usage`` with its tool named by the function's own name, when the name qualified
        with its plugin (``QUALIFIED_TOOL_NAMES``) has no price and that one has. Unpriced
        either way, the span is flagged under the name it carries."""
        name = usage.tool_name
        if name is None or separator not in name:
            return usage
        catalog = self._pricer.catalog
        if catalog.tool(name) is not None:
            return usage
        function = name.split(separator, 1)[1]
        return replace(usage, tool_name=function) if catalog.tool(function) is not None else usage

    def _detached_loaded(self) -> bool:
        """Whether an instrumentation that never makes its spans current may run here (its
        module imported), or one that records a stream after it was read: only then are calls
        matched across records that are not nested. Checked per call until the first is (a
        dict lookup each)."""
        modules = sys.modules
        for module in DETACHED_CALL_SCOPES:
            if module in modules:
                self._detached_may_run = True
                return True
        return RECORDED_AFTER_STREAM_MODULE in modules

    def _detached_twin(
        self,
        state: dict[str, object],
        span_id: int,
        trace_id: int,
        parent_id: int | None,
        usage: SpanUsage,
        scope: str | None,
        attributes: Mapping[str, object],
    ) -> int | None:
        """The record this call's cost is on when it has two records, neither below the
        other (``DETACHED_CALL_SCOPES``: OpenInference's LangChain span and a provider SDK's;
        ``RECORDED_AFTER_STREAM_SCOPE_PREFIX``: OpenLIT's record of a stream, made once it was
        read, and another instrumentation's, which ended just before: that one carries it).

        The LangChain record, in the agent's trace, carries the cost. It ends after the
        provider's record; when both wait in the queue (a batch processor's export) the
        provider's finds it ahead of it. When the provider's was priced before the
        LangChain record ended (a simple processor), that one is the second record, if
        it is in the same trace; a provider's record that is a trace of its own, priced
        already, cannot be taken back (``docs/limitations.md``)."""
        start: int = state["_start_time"] or 0  # type: ignore[assignment]
        end: int = state["_end_time"] or 0  # type: ignore[assignment]
        calls = self._calls
        if scope in DETACHED_CALL_SCOPES:
            if calls.let_go_claim(span_id):
                return None  # the provider's record ended before it, pointing at it
            return calls.attached_twin(trace_id, start, end, usage)
        if (
            scope is not None
            and scope.startswith(RECORDED_AFTER_STREAM_SCOPE_PREFIX)
            and attributes.get(STREAM_REQUEST_KEY) is True
        ):
            return calls.attached_twin_before(trace_id, start, usage)
        if not self._detached_may_run:
            return None  # (the look-ahead is for the LangChain record, below)
        queue = self._queue
        for index in range(min(len(queue), _DETACHED_LOOKAHEAD)):
            item = queue[index]
            if type(item) is not CostedSpan:
                continue
            ahead = item.__dict__
            scope_info: InstrumentationScope | None = ahead["_instrumentation_scope"]
            if scope_info is None or scope_info.name not in DETACHED_CALL_SCOPES:
                continue
            ahead_start: int = ahead["_start_time"] or 0
            ahead_end: int = ahead["_end_time"] or 0
            context: SpanContext | None = ahead["_context"]
            if context is None or not (ahead_start <= start and end <= ahead_end) or context.span_id == parent_id:
                continue
            if context.trace_id != trace_id and parent_id is not None:
                continue  # (a provider's record is in the agent's trace, or a trace of its own)
            record = read_usage(plain_attributes(ahead["_attributes"]), scope_info.name)
            if record.role in _INFERENCE_ROLES and calls.same_call(usage, record) and calls.claim(context.span_id):
                return context.span_id
        return None

    def _counts_unrecorded_calls(self, state: dict[str, object], attributes: Mapping[str, object]) -> bool:
        """Whether an aggregate span with no call marked below it counts tokens that no call
        below it recorded. Not known if it started before marks were let go at their bound
        (its own may have been among them: a long-running agent's, in a service that has run
        a while); nor for the Vercel AI SDK's top-level spans, whose SDK always records the
        call below, ending it just after them (a batch the gateway receives may end between)."""
        if not counts_tokens(attributes):
            return False
        started: int = state["_start_time"] or 0  # type: ignore[assignment]
        if started <= self._calls.marks_dropped_at_ns:
            return False
        return attributes.get(AI_OPERATION_KEY) not in VERCEL_AGGREGATES

    def _unrecorded_calls(
        self, span: CostedSpan, state: dict[str, object], attributes: Mapping[str, object], usage: SpanUsage, role: Role
    ) -> tuple[Mapping[str, object], SpanCost | None, tuple[Event, ...]] | None:
        """An aggregate span that counts tokens with no call recorded below it: flagged
        ``unrecorded_calls`` (:meth:`SpanPricer.unrecorded_calls`), unless a cost layer
        prices it (a hand-off on the agent's span)."""
        if self._span_layers:
            layered = self._cost(span, state, attributes, usage, role)
            if layered is not None:
                return layered
        cost = self._pricer.unrecorded_calls(usage)
        self._stats.unpriced += 1
        merged = dict(attributes)
        merged.update(cost.attributes)
        events = self._tell_listeners(span, usage, cost, merged) if self._listeners else ()
        return merged, cost, events

    def _first_of_call(
        self,
        state: dict[str, object],
        context: SpanContext,
        trace_id: int,
        parent: SpanContext | None,
        parent_id: int | None,
        usage: SpanUsage,
        scope: str,
    ) -> int:
        """The span id of the record of this leaf call that carries its cost: its own, a
        wrapper's that ended before it, or an earlier twin record's (``first_record``);
        :data:`_TAKES_OVER` when it is priced and takes over a count (_first_of_met_call).
        (``trace_id`` and ``parent_id``: the contexts' ids, as _enrich read them.)"""
        calls = self._calls
        if parent is not None and parent_id is not None:
            wrapper = calls.wrapper_ended_first(parent_id, self._open_spans.parent_of)
            if wrapper is not None:
                if wrapper == MET:
                    return self._first_of_met_call(state, context, parent, usage, scope)
                # An inference span above it (its parent, or above a middleware span still
                # open) ended before it and was priced as the leaf: a wrapper returning while
                # the stream it wraps is still read. The call is already counted there.
                return wrapper
        start: int = state["_start_time"] or 0  # type: ignore[assignment]
        end: int = state["_end_time"] or 0  # type: ignore[assignment]
        span_id = context.span_id
        first = calls.first_record(span_id, trace_id, parent_id, start, end, usage, scope)
        if usage.usage is not None or usage.reported_cost is not None:
            # Only a record of the call can stand for a child ending after it. One that
            # carries no usage is remembered once flagged (_note_unpriced_record): the record
            # ending later below it takes its count over, and carries the cost.
            calls.note_leaf_call(span_id)
        return first

    def _first_of_met_call(
        self, state: dict[str, object], context: SpanContext, parent: SpanContext, usage: SpanUsage, scope: str
    ) -> int:
        """:meth:`_first_of_call` for a leaf whose lookup met something other than a call
        priced above it (rare): an unpriced record whose call it may take over, or spans
        still open with refused requests below them."""
        calls = self._calls
        wrapper, unpriced = calls.meet(parent.span_id, self._open_spans)
        if wrapper is not None:
            return wrapper
        start: int = state["_start_time"] or 0  # type: ignore[assignment]
        end: int = state["_end_time"] or 0  # type: ignore[assignment]
        first = calls.first_record(context.span_id, context.trace_id, parent.span_id, start, end, usage, scope)
        if usage.usage is not None or usage.reported_cost is not None:
            calls.note_leaf_call(context.span_id)
        if unpriced is None or first != context.span_id:
            # (A second record of a call counted elsewhere takes nothing over: the unpriced
            # record waits for the next record below it.)
            return first
        # The wrapper above it (without usage, flagged as it ended first; or the span of a
        # call whose only records so far were refused requests) counted this call: this
        # record takes the count over, and carries the cost.
        calls.take_over(*unpriced)
        self._taking_over = unpriced
        return _TAKES_OVER

    def _cost_taking_over(
        self, span: CostedSpan, state: dict[str, object], attributes: Mapping[str, object], usage: SpanUsage, role: Role
    ) -> tuple[Mapping[str, object], SpanCost | None, tuple[Event, ...]] | None:
        """The leaf's cost, as :meth:`_cost` prices it, taking back the call counted on the
        unpriced record it takes over (:meth:`_first_of_met_call`)."""
        taken = self._taking_over
        self._taking_over = None
        if taken is None:  # not expected: priced as any leaf
            return self._cost(span, state, attributes, usage, role)
        ancestor, record = taken
        priced = self._cost(span, state, attributes, usage, role, *_taking_back([record], state))
        if priced is not None and priced[1] is not None and priced[1].unpriced_reason == A.REASON_FAILED_CALL:
            # Refused in its turn: an attempt of the call, whose answer may still end below
            # the span above (a retry's stream). That record takes the count over from this one.
            context: SpanContext = state["_context"]  # type: ignore[assignment]
            self._calls.pass_on(ancestor, context.span_id)
        return priced

    def _enclosing_call(
        self,
        span: CostedSpan,
        state: dict[str, object],
        attributes: Mapping[str, object],
        usage: SpanUsage,
        role: Role,
        refused: RefusedBelow,
        below: int,
    ) -> tuple[Mapping[str, object], SpanCost | None, tuple[Event, ...]] | None:
        """An inference span ending over refused requests (``failed_call`` records among
        its children): the framework's span of one call, whose attempts they were. They
        counted as calls as they ended; the call is counted once. With a record below it
        that was not refused (ended before or after them: ``below``'s ``ANSWER_BELOW``),
        that record is the call and every refusal is taken back; with refusals only below
        it, the span's own usage, if it has any, is the answer's, which no span below
        recorded: it is priced here as the call, every refusal taken back. Otherwise the
        first refusal stands for the call (a record ending later below this span, a
        stream's, takes it over). ``None`` when nothing is taken back."""
        records = [record for record in refused.records if not record.taken]
        if not records:
            return None
        if below & ANSWER_BELOW:
            taken_back = records
        elif (usage.usage is not None or usage.reported_cost is not None) and self._first_record_of_its_call(
            state, usage
        ):
            return self._cost(span, state, attributes, usage, role, *_taking_back(records, state))
        else:
            taken_back = records[1:]
            context: SpanContext = state["_context"]  # type: ignore[assignment]
            self._calls.counted_on(context.span_id, records[0])
        if not taken_back:
            return None
        recount, accounts_for = _taking_back(taken_back, state)
        cost = self._layer_cost(span, attributes, role) if self._span_layers else None
        merged = dict(attributes)
        if cost is None:
            cost = recount_only({A.COST_ACCOUNTS_FOR: accounts_for})
        else:
            if cost.priced:
                self._stats.priced += 1
            else:
                self._stats.unpriced += 1
            merged.update(cost.attributes)
        merged[A.COST_ACCOUNTS_FOR] = accounts_for
        state[_ROLLUP_NOTE] = recount
        events = self._tell_listeners(span, usage, cost, merged, recount=recount) if self._listeners else ()
        return merged, cost, events

    def _first_record_of_its_call(self, state: dict[str, object], usage: SpanUsage) -> bool:
        """Whether the inference span now ending, with usage of its own, is the first
        record of its call (``first_record``: no twin recorded it before). If so it is
        remembered as priced there, as a leaf call is: a record of the call ending later,
        below it (a stream's) or anywhere in the trace (by its response id), is its twin."""
        context: SpanContext = state["_context"]  # type: ignore[assignment]
        parent: SpanContext | None = state["_parent"]  # type: ignore[assignment]
        scope: InstrumentationScope | None = state["_instrumentation_scope"]  # type: ignore[assignment]
        span_id = context.span_id
        first = self._calls.first_record(
            span_id,
            context.trace_id,
            parent.span_id if parent is not None else None,
            state["_start_time"] or 0,  # type: ignore[arg-type]
            state["_end_time"] or 0,  # type: ignore[arg-type]
            usage,
            scope.name if scope is not None else "",
        )
        if first != span_id:
            return False
        self._calls.note_leaf_call(span_id)
        return True

    def _cost(
        self,
        span: CostedSpan,
        state: dict[str, object],
        attributes: Mapping[str, object],
        usage: SpanUsage,
        role: Role,
        recount: Recount | None = None,
        accounts_for: str = "",
    ) -> tuple[Mapping[str, object], SpanCost | None, tuple[Event, ...]] | None:
        """The span's cost from the catalog (a call or a tool) or a cost layer (any other
        span with no cost of its own), written on its attributes, and the listeners told;
        with the counts it takes back (``recount``) of the records named in ``accounts_for``."""
        if role in _UNBILLED_ROLES:
            cost = self._layer_cost(span, attributes, role) if self._span_layers else None
        else:
            cost = self._pricer.price(usage, attributes, state["_start_time"], state["_end_time"])  # type: ignore[arg-type]
            if cost is not None and cost.unpriced_reason == A.REASON_MISSING_USAGE and role in _INFERENCE_ROLES:
                failure = _failure_by_status(state)
                if failure is not None:  # (with error.type set, the pricer said failed_call)
                    cost = self._pricer.failed_call(cost.category, failure, usage)
            if cost is None and self._span_layers:
                cost = self._layer_cost(span, attributes, role)
        if cost is None:
            return None
        if cost.priced:
            self._stats.priced += 1
        else:
            self._stats.unpriced += 1
            if role in _INFERENCE_ROLES and usage.usage is None and usage.reported_cost is None:
                self._note_unpriced_record(state, cost)
        merged = dict(attributes)
        merged.update(cost.attributes)
        if cost.unpriced_reason == A.REASON_MISSING_MODEL and _dropped(state):
            merged[A.COST_UNPRICED_DETAIL] = (
                f"the span names no model, and the SDK dropped {_dropped(state)} of its"
                " attributes (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, 128 by default): the model was"
                " likely among them"
            )
        if recount is not None:
            merged[A.COST_ACCOUNTS_FOR] = accounts_for
            state[_ROLLUP_NOTE] = recount
            events = self._tell_listeners(span, usage, cost, merged, recount=recount) if self._listeners else ()
            return merged, cost, events
        events = self._tell_listeners(span, usage, cost, merged) if self._listeners else ()
        return merged, cost, events

    def _note_unpriced_record(self, state: dict[str, object], cost: SpanCost) -> None:
        """Remember a leaf call flagged unpriced with no usage, which counted as a call: a
        record of its call may end later below it (it was a wrapper that ended first), and
        if it was a refused request, the span around it may turn out to be its call's."""
        context: SpanContext = state["_context"]  # type: ignore[assignment]
        parent: SpanContext | None = state["_parent"]  # type: ignore[assignment]
        calls = self._calls
        failed = cost.unpriced_reason == A.REASON_FAILED_CALL
        record = calls.note_unpriced_record(context.span_id, cost.category == A.CATEGORY_LLM, failed)
        if (
            failed
            and parent is not None
            and not parent.is_remote
            and self._open_spans.is_open(parent.span_id)
        ):
            calls.note_refused(parent.span_id, record)

    def _tell_listeners(
        self,
        span: CostedSpan,
        usage: SpanUsage,
        cost: SpanCost,
        merged: dict[str, object],
        first: int = 0,
        recount: Recount | None = None,
    ) -> tuple[Event, ...]:
        """Each listener's attributes added to ``merged``; the events they ask for.
        (From the ``first`` listener on.) With counts the span takes back (``recount``), a
        listener that keeps counts (a budget) is told both at once (:func:`_tell_recount`)."""
        events: tuple[Event, ...] = ()
        self._telling = span  # (until they all are told: see _interrupted)
        listeners = self._listeners
        for index in range(first, len(listeners)):
            listener = listeners[index]
            self._told = index
            try:
                if recount is None:
                    extra = listener.on_span_cost(span, usage, cost)
                else:
                    extra = _tell_recount(listener, span, usage, cost, recount)
                if extra:
                    merged.update(extra)
                    if type(extra) is SpanAnnotations and extra.events:
                        events = (*events, *extra.events)
            except user_failures() as exc:
                if isinstance(listener, OwnExtension) and not isinstance(exc, INTERNAL_FAILURES):
                    raise  # genai-cost's own listener, interrupted by the application (_guard)
                self._listener_failed(listener)
        self._telling = None
        return events

    def _listener_failed(self, listener: CostListener) -> None:
        """Count and log a listener that raised, naming it: the span was priced and keeps
        its cost, so "passed on unpriced" would send the reader to the wrong place."""
        self._stats.listener_errors += 1
        self._extension_failed(
            "listener", listener, self._failed_listeners, self._stats.listener_errors,
            "the span keeps its cost, but this listener missed it",
        )  # fmt: skip

    def _layer_failed(self, layer: SpanCostLayer) -> None:
        self._stats.layer_errors += 1
        self._extension_failed(
            "span cost layer", layer, self._failed_layers, self._stats.layer_errors,
            "unless another layer priced it, the span says cost_layer_failed",
        )  # fmt: skip

    def _extension_failed(self, kind: str, extension: object, failed: set[object], count: int, outcome: str) -> None:
        """Count (in ``internal_errors`` too) and log an extension of the application's that
        raised, naming it: its first failure, then every 1000th of its kind."""
        self._stats.internal_errors += 1
        if worth_logging(failed, id(extension), count):
            _log.exception(
                "genai-cost: %s %s failed on a span (%d %s failures so far); %s",
                kind, type(extension).__name__, count, kind.rsplit(" ", 1)[-1], outcome,
            )  # fmt: skip

    def _flagged_internal_error(
        self, span: CostedSpan, state: dict[str, object]
    ) -> tuple[Mapping[str, object], SpanCost | None, tuple[Event, ...]] | None:
        """The span's own attributes, flagged: genai-cost failed on it (a bug, or input
        nothing anticipated), so whatever it should cost is missing, and it says so. The
        roll-up counts it among the trace's unpriced spans, and the listeners (metrics,
        budgets) are told, as for any span that could not be priced."""
        try:
            cost = _internal_error_cost("genai-cost failed while reading or pricing this span (see its log)")
            flagged = dict(plain_attributes(state["_attributes"]))
            flagged.update(cost.attributes)
        except INTERNAL_FAILURES:
            return None
        self._stats.unpriced += 1
        events = self._tell_listeners(span, NOT_GENAI, cost, flagged) if self._listeners else ()
        return flagged, cost, events

    def _interrupted(self, span: CostedSpan, state: dict[str, object], exc: BaseException) -> None:
        """Flag the span whose pricing the application's exception interrupted, and tell
        the listeners (metrics count it unpriced; a budget counts it), as for any span
        that could not be priced. Nothing here may replace the exception going up."""
        try:
            cost = _internal_error_cost(
                f"pricing was interrupted by the application's {type(exc).__name__} (raised on this thread)"
            )
            flagged = dict(plain_attributes(state["_attributes"]))
            flagged.update(cost.attributes)
            state["_attributes"] = flagged
            state["_genai_cost"] = cost
            self._stats.unpriced += 1
            # Each listener hears of the span once: those told of its price before the
            # interruption (and the one it landed in) are not told again.
            first_untold = self._told + 1 if self._telling is span else 0
            self._telling = None
            if first_untold < len(self._listeners):
                events = self._tell_listeners(span, NOT_GENAI, cost, flagged, first_untold)
                if events:
                    state["_events"] = (*state["_events"], *events)  # type: ignore[misc]
        except Exception:
            self._internal_error()
        finally:
            state["_settler"] = None

    @property
    def matches_records_not_nested(self) -> bool:
        """Whether two records of a call that are not nested (``DETACHED_CALL_SCOPES``) are
        matched: once the instrumentation that writes them is imported, or said to run."""
        return self._detached_may_run

    def note_records_not_nested(self) -> None:
        """Match the records of a call that are not nested from now on, although the
        instrumentation that writes them is not imported here: the gateway, whose spans were
        made in another process, calls it when one arrives."""
        self._detached_may_run = True

    def note_priced_elsewhere(self, span: ReadableSpan) -> None:
        """Take part in the leaf rule for a span that genai-cost priced in another process
        and that is passed on as it is, not through :meth:`on_end` (the gateway does this).

        A record of a call (priced, unpriced, or marked a duplicate) marks its parent as
        having a call below it, as pricing it here would have, so that a framework's
        wrapper around it, arriving later, is not priced as the call again."""
        context = span.context
        if context is None:
            return
        parent = span.parent
        attributes = attributes_of(span)
        category = attributes.get(A.COST_CATEGORY)
        is_call = A.COST_DUPLICATE_OF in attributes or category in _CALL_CATEGORIES
        with self._settling:
            below = self._calls.take_mark(context.span_id)
            if (is_call or below) and parent is not None and not parent.is_remote:
                answered = (
                    attributes.get(A.COST_UNPRICED_REASON) != A.REASON_FAILED_CALL
                    if is_call
                    else below & ANSWER_BELOW != 0
                )
                self._calls.mark_call_below(parent.span_id, is_call, answered)

    @staticmethod
    def _parent_in_process(state: dict[str, object], parent: SpanContext) -> SpanContext:
        """The parent of a span whose parent context says remote although that span is
        open in this process: re-attached from a carrier (``logfire.attach_context``, as
        Logfire records a streamed call's usage). It is a local child, for the leaf rule and
        the roll-up (its root's totals), and is handed on as one. A span received from a
        remote caller (SERVER, CONSUMER) keeps its parent as it is, even when the caller is
        this process."""
        if state["_kind"] in (SpanKind.SERVER, SpanKind.CONSUMER):
            return parent
        local = SpanContext(
            parent.trace_id,
            parent.span_id,
            is_remote=False,
            trace_flags=parent.trace_flags,
            trace_state=parent.trace_state,
        )
        state["_parent"] = local
        return local

    def _layer_cost(self, span: ReadableSpan, attributes: Mapping[str, object], role: Role) -> SpanCost | None:
        """The first cost a layer gives the span. A layer that raised is counted and logged by
        name, and, unless a later layer prices the span, a GenAI span says so: what the failed
        layer would have charged is missing, and ``None`` would read as "nothing to price". A
        span that is no GenAI work (``Role.NONE``: HTTP, a database) is not flagged: a layer
        that raises on every span would have made each request's every span unpriced (and
        stopped it, by a budget's stop on unpriced spans); its failures still show, counted
        and logged."""
        failed: SpanCostLayer | None = None
        for layer in self._span_layers:
            try:
                cost = layer.price_span(span, attributes)
            except user_failures() as exc:  # a broken layer must not lose the span
                if isinstance(layer, OwnExtension) and not isinstance(exc, INTERNAL_FAILURES):
                    raise  # genai-cost's own layer, interrupted by the application (_guard)
                self._layer_failed(layer)
                failed = failed or layer
                continue
            if cost is not None:
                return cost
        return None if failed is None or role is _NONE else _layer_failed_cost(failed)

    def _internal_error(self) -> None:
        self._stats.internal_errors += 1
        count = self._stats.internal_errors
        if count == 1 or count % 1000 == 0:
            _log.exception(
                "genai-cost: internal error while pricing a span (%d so far); span passed on unpriced", count
            )


def _is_budget(listener: CostListener) -> bool:
    from .budget import Budget

    return isinstance(listener, Budget)


def _marked_duplicate(attributes: Mapping[str, object], first: int) -> dict[str, object]:
    """The attributes of a second record of a call, pointing at the one that carries its cost."""
    marked = dict(attributes)
    marked[A.COST_DUPLICATE_OF] = f"{first:016x}"
    return marked


def _dropped(state: dict[str, object]) -> int:
    """How many attributes the SDK dropped from the span (its count limit): the sender's
    count for a span received over OTLP (the gateway), else the SDK's bounded mapping's."""
    dropped = state.get("_dropped_attributes")
    if dropped is None:
        dropped = getattr(state["_attributes"], "dropped", 0)
    return dropped if type(dropped) is int else 0


def _layer_failed_cost(layer: SpanCostLayer) -> SpanCost:
    """What the layer would have made of the span is not known."""
    detail = f"the span cost layer {type(layer).__name__} raised on this span (see the log)"
    return _unknown_unpriced(A.REASON_COST_LAYER_FAILED, detail)


def _internal_error_cost(detail: str) -> SpanCost:
    return _unknown_unpriced(A.REASON_INTERNAL_ERROR, detail)


def _unknown_unpriced(reason: str, detail: str) -> SpanCost:
    """Unpriced under category ``unknown``: what the span is, or would have cost, is not known."""
    return SpanCost(
        A.CATEGORY_UNKNOWN,
        None,
        None,
        {
            A.COST_UNPRICED: True,
            A.COST_UNPRICED_REASON: reason,
            A.COST_UNPRICED_DETAIL: detail,
            A.COST_CATEGORY: A.CATEGORY_UNKNOWN,
        },
        reason,
    )


def load_catalog(settings: CostSettings) -> Catalog:
    """The shipped catalog plus the user's files (:meth:`Catalog.load_lenient`), their
    compiled forms cached where ``GENAI_COST_CACHE_DIR`` says. A broken user file is
    logged (file, line, field) and skipped: the application still starts, and the
    other files and the shipped catalog still price. What loads but cannot take effect
    (a discount for a provider or model the catalog does not know) is logged too."""
    catalog, skipped = Catalog.load_lenient(settings.pricing_files, cache_dir=user_cache_dir())
    for rejected in skipped:
        _log.error(
            "genai-cost: pricing file %s rejected and skipped; the other pricing files and the shipped "
            "catalog still price:\n%s",
            rejected.path,
            rejected.error,
        )
    for problem in catalog.problems:
        _log.error("genai-cost: pricing file problem (left out; the rest still prices): %s", problem)
    for doubt in catalog.doubts:
        _log.warning("genai-cost: pricing file warning (priced as written): %s", doubt)
    return catalog


def _check_is_processor(candidate: object) -> None:
    """Refuse, at set-up, what would otherwise raise out of the application's first span."""
    needed = ("on_start", "on_end", "shutdown", "force_flush")
    missing = [name for name in needed if not callable(getattr(candidate, name, None))]
    if not missing:
        return
    kind = type(candidate).__name__
    hint = (
        f"; {kind} is an exporter: wrap it, CostSpanProcessor(BatchSpanProcessor({kind}(...)))"
        if callable(getattr(candidate, "export", None))
        else ""
    )
    raise TypeError(f"CostSpanProcessor needs a span processor to hand spans on to, got {kind} (no {missing[0]}){hint}")


def _check_arguments(catalog: object, settings: object, deferred: object, max_pending: object) -> None:
    """Refuse, at set-up, arguments of the wrong type: found later, each fails far from its
    cause (a path given as ``catalog`` as an ``AttributeError`` of ``version``; the string
    ``"false"`` as ``deferred`` is true)."""
    if catalog is not None and not isinstance(catalog, Catalog):
        hint = (
            "; for a pricing file, Catalog.load([path]) or CostSettings(pricing_files=(path,))"
            if isinstance(catalog, str | os.PathLike)
            else ""
        )
        raise TypeError(f"catalog must be a genai_cost.pricing.Catalog, not {catalog!r}{hint}")
    if settings is not None and not isinstance(settings, CostSettings):
        raise TypeError(f"settings must be a genai_cost.CostSettings, not {settings!r}")
    if deferred is not None and not isinstance(deferred, bool):
        raise TypeError(f"deferred must be True, False or None (from GENAI_COST_DEFERRED_PRICING), not {deferred!r}")
    if isinstance(max_pending, bool) or not isinstance(max_pending, int):
        raise TypeError(f"max_pending must be a whole number of queued items, not {max_pending!r}")


_Extension = TypeVar("_Extension")


def _listed(name: str, extensions: Iterable[_Extension], method: str) -> tuple[_Extension, ...]:
    """``listeners`` / ``span_layers`` as a tuple, each checked: a budget given alone
    (``listeners=budget``) or a ``BudgetLimits`` in the list failed with a bare "not
    iterable", or at the first span priced, far from the cause, the safety stop off."""
    listed: tuple[_Extension, ...] | None = None
    if not hasattr(extensions, method) and not isinstance(extensions, str | bytes):
        with contextlib.suppress(TypeError):  # not iterable
            listed = tuple(extensions)
    if listed is None:
        given = "..." if extensions is None else type(extensions).__name__.lower()
        raise TypeError(f"{name} is a list: {name}=[{given}], not {name}={extensions!r}")
    for extension in listed:
        _check_extension(name.rstrip("s").replace("_", " "), extension, method)
    return listed


def _check_extension(kind: str, extension: object, method: str) -> None:
    if callable(getattr(extension, method, None)):
        return
    from .budget import BudgetLimits

    hint = ": write Budget(limits) and add the budget" if isinstance(extension, BudgetLimits) else ""
    what = f"{extension!r} ({type(extension).__name__})"
    raise TypeError(f"a {kind} must have a method {method}(); {what} has none{hint}")


#: ``on_start`` / ``_on_ending`` implementations known to do nothing.
_NO_OP_ON_START = frozenset(kind.on_start for kind in (SpanProcessor, BatchSpanProcessor, SimpleSpanProcessor))
_NO_OP_ON_ENDING = frozenset(kind._on_ending for kind in (SpanProcessor, BatchSpanProcessor, SimpleSpanProcessor))


def _taking_back(records: list[UnpricedRecord], state: dict[str, object]) -> tuple[Recount, str]:
    """The counts the span now ending takes back of ``records`` (marked taken, once) and its
    ``gen_ai.cost.accounts_for`` naming them."""
    for record in records:
        record.taken = True
    recount = Recount(
        sum(1 for record in records if record.is_llm),
        len(records),
        state.get(_ROLLUP_NOTE) is True,
        sum(1 for record in records if record.failed),
    )
    return recount, accounts_for_value([record.span_id for record in records])


def _tell_recount(
    listener: CostListener, span: CostedSpan, usage: SpanUsage, cost: SpanCost, recount: Recount
) -> Mapping[str, object] | None:
    """Tell ``listener`` of a span that takes counts back: with both at once if it keeps
    counts (``on_span_recount``); else of the span's own cost, if it has one."""
    recounted = getattr(listener, "on_span_recount", None)
    if recounted is not None:
        return recounted(span, usage, cost, recount)  # type: ignore[no-any-return]
    if cost.category == NO_CATEGORY:
        return None
    return listener.on_span_cost(span, usage, cost)


#: Roles and span kinds the span path tests, read off their Enum once: on Python 3.11 and
#: older a member read off its class (``Role.LLM``) is a Python-level lookup (EnumType has a
#: ``__getattr__``), about 80 ns, and the span path made a dozen of them per span.
_INFERENCE_ROLES = (Role.LLM, Role.EMBEDDING)
#: How long ``shutdown`` waits for pricing on another thread before it goes on without it.
_SHUTDOWN_PRICING_S = 30.0
_WAIT_AS_LONG_AS_IT_TAKES = -1.0

#: Roles nothing in the catalog prices (a cost layer may).
_UNBILLED_ROLES = (Role.NONE, Role.AGGREGATE, Role.OTHER)
#: Roles that the span rules (``usage.with_span_rules``) may change.
_SPAN_RULE_ROLES = (Role.AGGREGATE, Role.OTHER)
_AGGREGATE, _OTHER, _NONE, _TOOL = Role.AGGREGATE, Role.OTHER, Role.NONE, Role.TOOL
#: Roles of the spans through which an answered call below says so to the spans above
#: (``ANSWER_BELOW``): spans that are neither calls, tools nor agents.
_PASSING_ROLES = (Role.NONE, Role.OTHER)
_CLIENT = SpanKind.CLIENT
_ERROR_STATUS = StatusCode.ERROR


def _failure_by_status(state: Mapping[str, object]) -> str | None:
    """What failed, for a span that ended with an error status: the type of the exception
    it recorded, else the status's description. Strands Agents and OpenInference say a
    refused request so, without ``error.type``. ``None`` for a span that did not fail."""
    status = state.get("_status")
    if getattr(status, "status_code", None) is not _ERROR_STATUS:
        return None
    for event in state.get("_events") or ():  # type: ignore[attr-defined]
        if getattr(event, "name", None) == "exception":
            kind = (getattr(event, "attributes", None) or {}).get("exception.type")
            if isinstance(kind, str) and kind:
                return kind
    description = getattr(status, "description", None)
    return description if isinstance(description, str) and description else "error status"


#: The categories of a call's record (the leaf rule's inference spans).
_CALL_CATEGORIES = frozenset({A.CATEGORY_LLM, A.CATEGORY_EMBEDDING})

#: What _first_of_call says of a leaf that is priced and takes over the count of an unpriced
#: record of its call (span ids are positive; ``MET`` is -1).
_TAKES_OVER = -2
#: How far ahead in the queue a provider SDK's record of a call looks for the detached
#: record of it (_detached_twin): that one ends just after it, a few spans of other threads between.
_DETACHED_LOOKAHEAD = 256
#: The semantic conventions' attribute of a failed operation: a record with it and no usage
#: is a refused request (the pricer's ``failed_call``).
_ERROR_TYPE = "error.type"
#: Where a span's state tells the roll-up what to do beyond adding its cost: ``True``, it
#: ended after its local root (written by _open_spans); a Recount, counts it takes back.
_ROLLUP_NOTE = "_genai_rollup"

