"""What the leaf rule remembers of the calls it has met, so each call is priced once.

A call is priced on one span: the leaf inference span that recorded it. The rule
is applied as spans end, to spans that may be recorded in any order, so it keeps,
for recent spans: which have an inference call below them (those are wrappers,
their usage their child's), which were priced as a leaf call (a child ending after
such a wrapper is its second record), the first record of each call (two
instrumentations recording one call), and Logfire's stream-request spans (whose
call is recorded on a log span beside them). ``docs/attributes.md`` ("One call,
two records") states the rules.

Every map is bounded, its older half dropped at the bound. Nothing here locks: the
processor calls in under its settle lock, in the order spans ended.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._bounded import newer_half
from .pricing.catalog import Catalog
from .pricing.errors import PricingError
from .records import UNTIL_ITS_LOG
from .usage import SpanUsage

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

#: Bound on the marks of spans with a call below them (spans whose parent has not ended).
MAX_MARKS = 100_000
#: Bound on remembered calls (response ids, twin keys, leaf calls).
MAX_CALLS = 20_000
#: How far up through open spans a call looks for a wrapper that ended before it.
WRAPPER_DEPTH = 4
#: What the rule remembers of a span's descendants: an inference call among its
#: children, or only deeper down.
CALL_BELOW, CALL_DEEPER = 2, 1


class CallRecords:
    """The leaf rule's memory of recent calls and of the spans above them."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        #: span id -> CALL_BELOW / CALL_DEEPER: spans with an inference call below them.
        self._below: dict[int, int] = {}
        #: Span ids of inference spans priced as leaf calls (recent ones).
        self._leaf_calls: dict[int, bool] = {}
        #: One call's identity -> (span id, scope, start, end) of its first record.
        self._records: dict[tuple[object, ...], tuple[int, str, int, int]] = {}
        #: Span id -> its parent's, of the request spans of streamed calls whose usage the
        #: instrumentation records on a log span beside them (Logfire): a provider SDK's own
        #: record of the call, below the request span, is the log's twin (first_record).
        self._stream_requests: dict[int, int] = {}

    def take_mark(self, span_id: int) -> int:
        """What is below the ended span (``CALL_BELOW``, ``CALL_DEEPER``, or 0), forgotten
        as it is read: the span has ended, nothing more will end below it."""
        below = self._below
        return below.pop(span_id, 0) if below else 0

    def mark_call_below(self, parent_span_id: int, is_call: bool) -> None:
        """Mark the parent as having an inference call among its children (``is_call``),
        or only deeper down."""
        marks = self._below
        if is_call:
            marks[parent_span_id] = CALL_BELOW
        elif parent_span_id not in marks:
            marks[parent_span_id] = CALL_DEEPER
        if len(marks) > MAX_MARKS:
            self._below = newer_half(marks)

    def note_stream_request(self, span_id: int, parent_span_id: int) -> None:
        requests = self._stream_requests
        requests[span_id] = parent_span_id
        if len(requests) > MAX_MARKS:
            self._stream_requests = newer_half(requests)

    def note_leaf_call(self, span_id: int) -> None:
        """A call priced on this span: a record of it ending later below it is its twin."""
        leaves = self._leaf_calls
        leaves[span_id] = True
        if len(leaves) > MAX_CALLS:
            self._leaf_calls = newer_half(leaves)

    def wrapper_ended_first(self, parent_span_id: int, open_parents: dict[int, int]) -> int | None:
        """The span id of a call already priced as a leaf among a span's ancestors: its
        parent, or one reached through ancestors still open (``open_parents``: a middleware
        span between a wrapper and the call it wraps). ``None`` when there is none."""
        leaves = self._leaf_calls
        ancestor = parent_span_id
        for _ in range(WRAPPER_DEPTH):
            if ancestor in leaves:
                return ancestor
            above = open_parents.get(ancestor)
            if above is None:
                return None
            ancestor = above
        return None

    def first_record(
        self, context: SpanContext, parent: SpanContext | None, start: int, end: int, usage: SpanUsage, scope: str
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
        span_id: int = context.span_id
        tokens = usage.usage
        records = self._records
        if usage.response_id is not None:
            key_by_id = (context.trace_id, usage.response_id)
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
        if tokens is None or parent is None:
            return span_id
        parent_id = parent.span_id
        if self._stream_requests:
            above = self._stream_requests.get(parent_id)
            if above is not None:
                # A provider SDK's record of a streamed call, under its request span
                # (Logfire's): a sibling of the log span that records the call when the
                # stream is read, which may be long after this span ended.
                parent_id, end = above, UNTIL_ITS_LOG
        key = (
            context.trace_id,
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
