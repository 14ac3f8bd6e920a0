"""What the leaf rule remembers of the calls it has met, so each call is priced once.

A call is priced on one span: the leaf inference span that recorded it. The rule
is applied as spans end, to spans that may be recorded in any order, so it keeps,
for recent spans: which have an inference call below them (those are wrappers,
their usage their child's), which were priced as a leaf call (a child ending after
such a wrapper is its second record), the first record of each call (two
instrumentations recording one call), and Logfire's stream-request spans (whose
call is recorded on a log span beside them). ``docs/attributes.md`` ("One call,
two records") states the rules.

A call can also be counted on a record that turns out, later, not to be the whole
story: a wrapper without usage that ended first (flagged ``missing_usage``), or a
request refused inside the call (``failed_call``). Those spans are handed on as they
end and cannot change, so what is remembered of them (:class:`UnpricedRecord`,
:class:`RefusedBelow`) lets the span that shows they were part of one call take
their count back (``pricer.Recount``).

Every map is bounded, its older half dropped at the bound. Nothing here locks: the
processor calls in under its settle lock, in the order spans ended.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ._bounded import newer_half
from .pricing.catalog import Catalog
from .pricing.errors import PricingError
from .records import UNTIL_ITS_LOG
from .usage import SpanUsage

if TYPE_CHECKING:
    from ._open_spans import OpenSpans

#: Bound on the marks of spans with a call below them (spans whose parent has not ended).
MAX_MARKS = 100_000
#: Bound on remembered calls (response ids, twin keys, leaf calls).
MAX_CALLS = 20_000
#: Bound on remembered tool runs (a tool span's parent, until that parent ends): a wrapper
#: of a tool run ends right after it, so only recent ones matter.
MAX_TOOL_RUNS = 4_096
#: Bound on the records of identical calls of one trace (same model and counts) waiting for
#: a detached record of them: that one ends just after its call.
MAX_SAME_CALLS = 64
#: How long after another record of a streamed call ended a record made once the stream was
#: read may start (OpenLIT's starts within a millisecond; the application reads in between).
AFTER_STREAM_GAP_NS = 1_000_000_000
#: How far up through open spans a call looks for a wrapper that ended before it.
WRAPPER_DEPTH = 4
#: What the rule remembers of a span's descendants, as bits: an inference call among its
#: children, or only deeper down; and whether one of those calls was answered (a record
#: that is not a refused request), which tells a framework's span of one call that the
#: refused requests below it were attempts of that call, whichever ended first.
CALL_BELOW, CALL_DEEPER, ANSWER_BELOW = 2, 1, 4
#: What :meth:`CallRecords.wrapper_ended_first` says when it met, above the span, a record
#: of what it remembers other than a priced leaf (see :meth:`CallRecords.meet`). Span ids
#: are positive.
MET = -1


class UnpricedRecord:
    """An inference span, ended and flagged unpriced with no usage (``missing_usage``,
    ``failed_call``), that counted as a call: a record of the call ending later below it
    (or below the span it stands for) takes that count over, once."""

    __slots__ = ("failed", "is_llm", "span_id", "taken")

    def __init__(self, span_id: int, is_llm: bool, failed: bool) -> None:
        self.span_id = span_id
        #: Counted among the trace's LLM calls (category ``llm``, not ``embedding``).
        self.is_llm = is_llm
        #: Flagged ``failed_call`` (a refused request), not ``missing_usage``.
        self.failed = failed
        self.taken = False


class RefusedBelow:
    """A span still open with refused requests (``failed_call`` records) among its
    children. If it ends as an inference span (a framework's span of one call), they were
    attempts of its call, not calls of their own. (Whether an answer ended below it too,
    before or after them, its mark says: ``ANSWER_BELOW``.)"""

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: list[UnpricedRecord] = []


class CallRecords:
    """The leaf rule's memory of recent calls and of the spans above them."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        #: span id -> CALL_BELOW / CALL_DEEPER: spans with an inference call below them.
        self._below: dict[int, int] = {}
        #: When the oldest marks were last let go (0: never): a span that started before
        #: may have had its mark among them, so that "no call below it" is not known.
        self.marks_dropped_at_ns = 0
        #: Span ids of inference spans priced as leaf calls with usage or a cost (``True``),
        #: or flagged unpriced without (:class:`UnpricedRecord`), and of spans open with
        #: refused requests below them (:class:`RefusedBelow`): recent ones. All in one map,
        #: which every leaf call's lookup of a wrapper that ended first already reads.
        self._leaf_calls: dict[int, bool | UnpricedRecord | RefusedBelow] = {}
        #: The spans of ``_leaf_calls`` open with refused requests below them, taken as they end.
        self.refused_below: dict[int, RefusedBelow] = {}
        #: One call's identity -> (span id, scope, start, end) of its first record.
        self._records: dict[tuple[object, ...], tuple[int, str, int, int]] = {}
        #: Span id -> its parent's, of the request spans of streamed calls whose usage the
        #: instrumentation records on a log span beside them (Logfire): a provider SDK's own
        #: record of the call, below the request span, is the log's twin (first_record).
        self._stream_requests: dict[int, int] = {}
        #: Parent span id -> (span id, tool name) of the last tool run that ended below it:
        #: a tool span of the same name ending above it is a second record of that run.
        self.tool_runs: dict[int, tuple[int, str]] = {}
        #: (trace id, model, input and output tokens) -> (span id, start, end) of calls priced
        #: on a provider SDK's record while a detached instrumentation may run
        #: (``DETACHED_CALL_SCOPES``): its record of the call, ending later around it, is the
        #: second. A list: parallel branches of a graph can make the same call at once.
        self._attached_calls: dict[tuple[object, ...], list[tuple[int, int, int]]] = {}
        #: Detached records a provider SDK's record ending before them was matched to (it ends
        #: a ``duplicate_of`` them): each stands for one call only.
        self._claimed: set[int] = set()

    def take_mark(self, span_id: int) -> int:
        """What is below the ended span (``CALL_BELOW``, ``CALL_DEEPER``, ``ANSWER_BELOW``
        bits, or 0), forgotten as it is read: the span has ended, nothing more will end below it."""
        below = self._below
        return below.pop(span_id, 0) if below else 0

    def mark_call_below(self, parent_span_id: int, is_call: bool, answered: bool) -> None:
        """Mark the parent as having an inference call among its children (``is_call``),
        or only deeper down; ``answered`` when that call was not a refused request."""
        marks = self._below
        mark = CALL_BELOW if is_call else CALL_DEEPER
        if answered:
            mark |= ANSWER_BELOW
        marks[parent_span_id] = marks.get(parent_span_id, 0) | mark
        if len(marks) > MAX_MARKS:
            self._below = newer_half(marks)
            self.marks_dropped_at_ns = time.time_ns()

    def note_stream_request(self, span_id: int, parent_span_id: int) -> None:
        requests = self._stream_requests
        requests[span_id] = parent_span_id
        if len(requests) > MAX_MARKS:
            self._stream_requests = newer_half(requests)

    def note_tool_run(self, parent_span_id: int, span_id: int, tool_name: str) -> None:
        """A tool run recorded on ``span_id`` (or, for a second record, on the one it points
        to) below ``parent_span_id``."""
        runs = self.tool_runs
        runs[parent_span_id] = (span_id, tool_name)
        if len(runs) > MAX_TOOL_RUNS:
            self.tool_runs = newer_half(runs)

    def tool_run_below(self, span_id: int, tool_name: str) -> int | None:
        """The span id of the record of the run of ``tool_name`` that ended directly below
        the tool span now ending, if any: that span is a second record of the same run (an
        agent framework's span around the tool library's own), not a second run."""
        run = self.tool_runs.pop(span_id, None)
        if run is None or run[1] != tool_name:
            return None
        return run[0]

    def pass_tool_run_up(self, span_id: int, parent_span_id: int | None) -> None:
        """The tool run noted below ``span_id``, which ended as no tool, now noted below
        ``parent_span_id`` (``span_id`` was a request span between two records of the run),
        or forgotten."""
        run = self.tool_runs.pop(span_id, None)
        if run is not None and parent_span_id is not None:
            self.note_tool_run(parent_span_id, *run)

    def note_leaf_call(self, span_id: int) -> None:
        """A call priced on this span: a record of it ending later below it is its twin."""
        leaves = self._leaf_calls
        leaves[span_id] = True
        if len(leaves) > MAX_CALLS:
            self._leaf_calls = newer_half(leaves)

    def wrapper_ended_first(self, parent_span_id: int, open_parents: dict[int, int]) -> int | None:
        """The span id of a call already priced as a leaf among a span's ancestors: its
        parent, or one reached through ancestors still open (``open_parents``: a middleware
        span between a wrapper and the call it wraps). ``None`` when there is none;
        :data:`MET` when something else the rule remembers is in the way (:meth:`meet`)."""
        leaves = self._leaf_calls
        ancestor = parent_span_id
        for _ in range(WRAPPER_DEPTH):
            if ancestor in leaves:
                return ancestor if leaves[ancestor] is True else MET
            above = open_parents.get(ancestor)
            if above is None:
                return None
            ancestor = above
        return None

    def meet(
        self, parent_span_id: int, open_spans: OpenSpans
    ) -> tuple[int | None, tuple[int, UnpricedRecord] | None]:
        """:meth:`wrapper_ended_first` where it returned :data:`MET`, for a record of a
        call: (a call priced as a leaf above it, or ``None``; the ancestor and the unpriced
        record counted for it, whose count this record may take over). Spans open with
        refused requests below them are passed by (and forgotten once ended)."""
        leaves = self._leaf_calls
        ancestor = parent_span_id
        for _ in range(WRAPPER_DEPTH):
            found = leaves.get(ancestor)
            if found is True:
                return ancestor, None
            if type(found) is UnpricedRecord:
                if not found.taken:
                    return None, (ancestor, found)
                del leaves[ancestor]
            elif type(found) is RefusedBelow and not open_spans.is_open(ancestor):
                del leaves[ancestor]  # ended as no call: not cleared then
            above = open_spans.parent_of.get(ancestor)
            if above is None:
                break
            ancestor = above
        return None, None

    def take_over(self, ancestor: int, record: UnpricedRecord) -> None:
        """The call counted on ``record`` (found above a span at ``ancestor``) is counted on
        that span from now on: once only, under either key it is remembered by."""
        record.taken = True
        leaves = self._leaf_calls
        for key in (ancestor, record.span_id):
            if leaves.get(key) is record:
                del leaves[key]

    def note_unpriced_record(self, span_id: int, is_llm: bool, failed: bool) -> UnpricedRecord:
        """An inference span flagged unpriced, with no usage: a record of its call ending
        later below it takes its count over."""
        record = UnpricedRecord(span_id, is_llm, failed)
        self._remember(span_id, record)
        return record

    def note_refused(self, parent_span_id: int, record: UnpricedRecord) -> None:
        """A refused request (``record``) ended under a span still open."""
        found = self._leaf_calls.get(parent_span_id)
        if type(found) is not RefusedBelow:
            found = RefusedBelow()
            self._remember(parent_span_id, found)
            refused = self.refused_below
            refused[parent_span_id] = found
            if len(refused) > MAX_MARKS:
                self.refused_below = newer_half(refused)
        found.records.append(record)

    def take_refused(self, span_id: int) -> RefusedBelow | None:
        """The refused requests below the span now ending, if any, forgotten as read."""
        found = self.refused_below.pop(span_id, None)
        if found is not None and self._leaf_calls.get(span_id) is found:
            del self._leaf_calls[span_id]
        return found

    def counted_on(self, span_id: int, record: UnpricedRecord) -> None:
        """The call of the span now ending (which has no cost of its own) is counted on
        ``record``: a record of it ending later below the span takes that count over."""
        self._remember(span_id, record)

    def pass_on(self, ancestor: int, span_id: int) -> None:
        """The record ``span_id``, which took over the call counted for ``ancestor`` and was
        refused in its turn, counts that call until a record ending later below ``ancestor``
        takes it over."""
        record = self._leaf_calls.get(span_id)
        if type(record) is UnpricedRecord and not record.taken:
            self._remember(ancestor, record)

    def _remember(self, span_id: int, entry: bool | UnpricedRecord | RefusedBelow) -> None:
        leaves = self._leaf_calls
        leaves[span_id] = entry
        if len(leaves) > MAX_CALLS:
            self._leaf_calls = newer_half(leaves)

    def first_record(
        self, span_id: int, trace_id: int, parent_id: int | None, start: int, end: int, usage: SpanUsage, scope: str
    ) -> int:
        """The span id of the first record of this call in its trace (this span's own
        id when it is the first).

        Two leaf spans record one call when they carry the same ``gen_ai.response.id``
        (unless one instrumentation recorded both, one after the other: a server that
        reuses ids), or, for instrumentations that record none, when they are siblings written by
        *different* instrumentations for the same model and token counts and overlap in
        time. (The same instrumentation recording two identical calls side by side is
        two calls, and is priced twice.)
        """
        tokens = usage.usage
        records = self._records
        if usage.response_id is not None:
            key_by_id = (trace_id, usage.response_id)
            first = records.setdefault(key_by_id, (span_id, scope, start, end))
            if first[0] != span_id:
                if first[1] != scope or (first[2] < end and start < first[3]):
                    return first[0]
                # The same instrumentation, one call after the other: an OpenAI-compatible
                # server that reuses its response ids. Two calls; the later one is remembered.
                records[key_by_id] = (span_id, scope, start, end)
            if len(records) > MAX_CALLS:
                # Here too: a call that is its own root, or has no counts, returns below.
                records = self._records = newer_half(records)
        if tokens is None or parent_id is None:
            return span_id
        if self._stream_requests:
            above = self._stream_requests.get(parent_id)
            if above is not None:
                # A provider SDK's record of a streamed call, under its request span
                # (Logfire's): a sibling of the log span that records the call when the
                # stream is read, which may be long after this span ended.
                parent_id, end = above, UNTIL_ITS_LOG
        key = (
            trace_id,
            parent_id,
            self._call_model(usage),
            tokens.input_tokens,
            tokens.output_tokens,
        )
        record = (span_id, scope, start, end)
        twin = records.setdefault(key, record)
        if len(records) > MAX_CALLS:
            records = self._records = newer_half(records)
        if twin[0] != span_id:
            if twin[1] != scope and twin[2] < end and start < twin[3]:
                return twin[0]
            # Another call, one after the other: the later is the one a twin would overlap.
            records[key] = record
        return span_id

    def note_attached_call(self, span_id: int, trace_id: int, start: int, end: int, usage: SpanUsage) -> None:
        """A call priced on a provider SDK's record while a detached instrumentation may run:
        its record of the call, ending later in the same trace, finds it (:meth:`attached_twin`)."""
        key = self._detached_key(trace_id, usage)
        if key is None:
            return
        calls = self._attached_calls
        found = calls.get(key)
        if found is None:
            calls[key] = [(span_id, start, end)]
            if len(calls) > MAX_CALLS:
                self._attached_calls = newer_half(calls)
        else:
            if len(found) >= MAX_SAME_CALLS:  # identical calls no detached record matched: the oldest
                del found[: MAX_SAME_CALLS // 2]
            found.append((span_id, start, end))

    def attached_twin(self, trace_id: int, start: int, end: int, usage: SpanUsage) -> int | None:
        """For a detached record of a call (``DETACHED_CALL_SCOPES``): the span id of the
        provider SDK's record of it, priced already in the same trace (same model and
        counts, its time within this span's), forgotten as found; else ``None``."""
        key = self._detached_key(trace_id, usage)
        found = self._attached_calls.get(key) if key is not None else None
        if not found:
            return None
        for index, (span_id, twin_start, twin_end) in enumerate(found):
            if start <= twin_start and twin_end <= end:
                del found[index]
                return span_id
        return None

    def attached_twin_before(self, trace_id: int, start: int, usage: SpanUsage) -> int | None:
        """For a record of a streamed call made once the stream was read
        (``RECORDED_AFTER_STREAM_SCOPE_PREFIX``): the span id of another record of it, priced
        already in the same trace (same model and counts), that ended at most
        :data:`AFTER_STREAM_GAP_NS` before this one started (the latest such), forgotten as
        found; else ``None``."""
        key = self._detached_key(trace_id, usage)
        found = self._attached_calls.get(key) if key is not None else None
        if not found:
            return None
        best: int | None = None
        for index, (_span_id, _start, twin_end) in enumerate(found):
            if twin_end <= start and start - twin_end <= AFTER_STREAM_GAP_NS and (
                best is None or twin_end > found[best][2]
            ):
                best = index
        if best is None:
            return None
        return found.pop(best)[0]

    def same_call(self, usage: SpanUsage, other: SpanUsage) -> bool:
        """Whether two records count the same model and tokens (as the detached keys compare them)."""
        key = self._detached_key(0, usage)
        return key is not None and key == self._detached_key(0, other)

    def claim(self, span_id: int) -> bool:
        """Claim a detached record for the provider SDK's record of its call, which ended
        before it: ``False`` when another record claimed it already."""
        claimed = self._claimed
        if span_id in claimed:
            return False
        if len(claimed) >= MAX_CALLS:  # (each claim is let go as its span ends: not expected)
            claimed.clear()
        claimed.add(span_id)
        return True

    def let_go_claim(self, span_id: int) -> bool:
        """Whether the detached record now ending was claimed (and the claim let go)."""
        claimed = self._claimed
        if span_id in claimed:
            claimed.discard(span_id)
            return True
        return False

    def _detached_key(self, trace_id: int, usage: SpanUsage) -> tuple[object, ...] | None:
        tokens = usage.usage
        if tokens is None:
            return None
        return (trace_id, self._call_model(usage), tokens.input_tokens, tokens.output_tokens)

    def recorded_response(self, trace_id: int, response_id: str | None) -> int | None:
        """The span id of the record of a call with this response id, already priced in the
        trace (``None`` if none): an aggregate span that carries it copies that call."""
        if response_id is None:
            return None
        first = self._records.get((trace_id, response_id))
        return first[0] if first is not None else None

    def _call_model(self, usage: SpanUsage) -> str | None:
        """The model as the catalog knows it: two records of one call may spell it
        differently (a framework the requested alias, the provider SDK the served
        snapshot: ``claude-sonnet-4-5`` and ``claude-sonnet-4-5-20250929``)."""
        model = usage.model
        if model is None:
            return None
        try:
            return self._catalog.resolve(model, usage.provider).model.pricing_id
        except PricingError:
            return model
