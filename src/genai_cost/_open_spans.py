"""Which spans of this process are open, counted per local root.

A local root's totals are complete only when nothing below it is still open when it
ends, and a span that ends after its local root has gone on with totals that leave it
out. The processor learns both from the order spans start and end, which only it sees
(an exporter sees ended spans only): each start and end passes through here, in queue
order, under the processor's settle lock (nothing here locks).

What is learnt is written on the ended span's state, where the roll-up reads it
(``CostedSpan.genai_after_root``, ``genai_trace_open``, ``genai_open_spans``,
``genai_open_only_below``).
A span that ended after its local root is marked ``_genai_rollup = True``: the state key
the roll-up reads for what to do beyond adding a span's cost (the processor also writes a
``pricer.Recount`` there, which carries the mark along).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._bounded import newer_half

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

_log = logging.getLogger("genai_cost")

#: Bound on each map of spans started and not ended yet.
MAX_OPEN = 100_000


class OpenSpans:
    """The open spans of this process: how many per local root's subtree and per trace,
    and the parent of each (the leaf rule walks up through open spans)."""

    def __init__(self) -> None:
        #: Spans started and not yet ended: local root span id -> those of its subtree (the
        #: root included); ``~trace_id`` -> those of the trace started under a parent that
        #: had ended; trace id -> how many of these two kinds of counts the trace has.
        self._open: dict[int, int] = {}
        #: Local roots that ended while spans below them were open (their keys in ``_open``).
        self._roots_ended: dict[int, bool] = {}
        #: span id -> the key its start was counted under in ``_open``, of spans not yet ended.
        self._subtree_of: dict[int, int] = {}
        #: span id -> parent span id, of spans started and not yet ended with a local parent.
        self.parent_of: dict[int, int] = {}
        #: Counts forgotten at the bound (``ProcessorStats.open_counts_forgotten``).
        self.forgotten = 0
        self._warned_bound = False

    def is_open(self, span_id: int) -> bool:
        return span_id in self._subtree_of

    def count_start(self, context: SpanContext, parent: SpanContext | None) -> None:
        """Count a started span as open, under its local root's subtree."""
        span_id = context.span_id
        subtree = span_id  # a local root counts its own subtree's open spans
        if parent is not None and not parent.is_remote:
            parent_id = parent.span_id
            parents = self.parent_of
            parents[span_id] = parent_id
            if len(parents) > MAX_OPEN:
                self.parent_of = newer_half(parents)
            # Its parent's subtree; under a parent that has ended already, the trace's
            # (~trace_id: negative, never a span id), which every local root of the trace
            # counts.
            found = self._subtree_of.get(parent_id)
            subtree = ~context.trace_id if found is None else found
        subtrees = self._subtree_of
        subtrees[span_id] = subtree
        if len(subtrees) > MAX_OPEN:
            self._subtree_of = self._forget(subtrees)
        opened = self._open
        count = opened.get(subtree, 0)
        opened[subtree] = count + 1
        if not count:  # the trace has one more subtree with spans open
            trace_id = context.trace_id
            opened[trace_id] = opened.get(trace_id, 0) + 1
            if len(opened) > MAX_OPEN:
                self._open = self._forget(opened)

    def count_end(self, state: dict[str, object], span_id: int, trace_id: int, local_parent: bool) -> None:
        """Count an ended span out of its trace's open spans; mark, on its ``state``, a span
        that ended after its local root (``_genai_rollup``, see the module's docstring) and a
        local root ended while spans of its trace were still open (``_genai_trace_open``,
        ``_genai_open_spans``). (The span's ids, and whether its parent is of this process:
        the caller has read them from the span's contexts.)"""
        opened = self._open
        subtree = self._subtree_of.pop(span_id, None)
        parents = self.parent_of
        if parents:
            parents.pop(span_id, None)
        if subtree is not None:
            still_open = opened.get(subtree, 0) - 1
            if still_open > 0:
                opened[subtree] = still_open
            elif opened.pop(subtree, None) is not None:  # its trace has one subtree fewer open
                subtrees_open = opened.get(trace_id, 0) - 1
                if subtrees_open > 0:
                    opened[trace_id] = subtrees_open
                else:
                    opened.pop(trace_id, None)
            ended_roots = self._roots_ended
            if ended_roots and subtree in ended_roots and subtree != span_id:
                # Its local root has ended (and gone on with totals that leave it out),
                # however deep below it the span is: the roll-up marks it as late.
                state["_genai_rollup"] = True
                if still_open <= 0:
                    del ended_roots[subtree]
        elif not local_parent:
            # A local root whose start was not seen here (the gateway's spans, made in
            # another process; or started before this processor was added): what else of
            # its trace is open is not known, and another local root may still come.
            state["_genai_start_unseen"] = True
        if not local_parent and trace_id in opened:
            # A local root while spans of its trace are still open in this process (the
            # roll-up keeps the trace's structure for them): how many are below it (its
            # totals are then incomplete), counting those started under a parent that had
            # ended, whose root is not known.
            state["_genai_trace_open"] = True
            own_open = opened.get(span_id, 0)
            unrooted = opened.get(~trace_id, 0)
            open_below = own_open + unrooted
            if open_below:
                state["_genai_open_spans"] = open_below
                if opened[trace_id] == (own_open > 0) + (unrooted > 0):
                    # Every span of the trace still open here is below it: what ended below
                    # those is this root's (the roll-up counts it in its totals).
                    state["_genai_open_only_below"] = True
            if own_open:
                ended_roots = self._roots_ended
                ended_roots[span_id] = True
                if len(ended_roots) > MAX_OPEN:
                    self._roots_ended = newer_half(ended_roots)

    def _forget(self, entries: dict[int, int]) -> dict[int, int]:
        """The newer half of a map of open spans at its bound. So many spans open at once are
        most likely spans never ended (a stream never read to its end); forgetting the oldest
        may take those of a long trace still running, whose root would then say it is
        complete: counted, and said once in the log."""
        self.forgotten += len(entries) - len(entries) // 2
        if not self._warned_bound:
            self._warned_bound = True
            _log.warning(
                "genai-cost: more than %d spans started and not ended in this process (spans never "
                "ended?): the oldest are forgotten, and a trace still running among them may get "
                "totals that say complete=true (processor.stats.open_counts_forgotten counts them)",
                MAX_OPEN,
            )
        return newer_half(entries)
