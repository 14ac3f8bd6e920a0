"""The spans a listener fed by more than one :class:`~genai_cost.processor.CostSpanProcessor`
has been told of: so that it counts each span once."""

from __future__ import annotations

from typing import Generic, TypeVar

from opentelemetry.trace import SpanContext

from ._bounded import newer_half

_Answer = TypeVar("_Answer")

#: Spans remembered: more than two processors' queues hold before they price (6,144 ended
#: spans each, at most four times that under load), so a span told by one is still
#: remembered when the other tells it.
_BOUND = 65_536


class ToldOnce(Generic[_Answer]):
    """Two ``CostSpanProcessor`` on one provider (one per exporter, each wrapped as the
    README's one-liner shows) each price every span, from a copy of their own, and tell
    their listeners: a budget or a cost counter in the listeners of both counted each span
    twice (a trace stopped at half its calls). Such a listener keeps one of these and asks
    it before counting. A listener fed by one processor keeps none: no span reaches it
    twice, and the span path pays nothing.

    Not thread-safe: the listener calls it under its own lock, the one its counts are kept
    under, so that two processors telling the same span at once count it once."""

    __slots__ = ("_told",)

    def __init__(self) -> None:
        #: (trace id << 64 | span id) -> what the listener answered the first time.
        self._told: dict[int, _Answer | None] = {}

    def told_before(self, context: SpanContext) -> tuple[bool, _Answer | None]:
        """(whether the span was told before, what the listener answered then); noted as
        told from now on."""
        key = context.trace_id << 64 | context.span_id
        told = self._told
        if key in told:
            return True, told[key]
        told[key] = None
        if len(told) > _BOUND:
            self._told = newer_half(told)
        return False, None

    def answered(self, context: SpanContext, answer: _Answer) -> None:
        """What the listener answered the first time (a budget's event), for the other copy."""
        key = context.trace_id << 64 | context.span_id
        if key in self._told:
            self._told[key] = answer
