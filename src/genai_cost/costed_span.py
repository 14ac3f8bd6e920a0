"""CostedSpan: the ended span as exporters receive it from the processor, cost included.

The SDK freezes an ended span's attributes, so the cost cannot be written on the
span itself: :class:`~genai_cost.CostSpanProcessor` turns the ``ReadableSpan`` the
SDK hands it into a :class:`CostedSpan` in place and prices it later, off the
application thread. Its properties are where that deferral is kept honest:
whatever reads the span's attributes, events or cost first has it priced, so every
reader, on any thread, sees the same final span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import Event, ReadableSpan

from ._spans import attributes_of, plain_attributes
from .pricer import Recount, SpanCost

if TYPE_CHECKING:
    from .processor import CostSpanProcessor


class CostedSpan(ReadableSpan):
    """An ended span with the cost attributes added; otherwise identical.

    ``genai_cost`` keeps the pricing result for the roll-up in the same
    process, so it does not have to parse attributes again.

    A span handed on by :class:`CostSpanProcessor` may not be priced yet: the
    processor prices off the application thread (see its docstring). Reading
    its attributes, events, ``genai_cost`` or ``genai_open_spans`` prices it
    first, so every reader sees the same, final span.
    """

    #: The processor that still owes this span its pricing; ``None`` once priced.
    _settler: CostSpanProcessor | None = None

    def __init__(
        self,
        span: ReadableSpan,
        attributes: Mapping[str, object],
        cost: SpanCost | None,
        open_spans: int = 0,
    ) -> None:
        super().__init__(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,  # type: ignore[arg-type]
            events=span.events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
        state = self.__dict__
        state["_genai_cost"] = cost
        state["_genai_open_spans"] = open_spans
        state["_dropped_attributes"] = span.dropped_attributes
        state["_dropped_events"] = span.dropped_events
        state["_dropped_links"] = span.dropped_links

    @classmethod
    def copy_of(
        cls, span: ReadableSpan, attributes: Mapping[str, object], cost: SpanCost | None, open_spans: int = 0
    ) -> CostedSpan:
        """The same as the constructor, several times faster: it copies the
        ended span's state wholesale instead of through a dozen properties.
        Falls back to the constructor for span types it does not recognise.
        (``tests/test_processor.py`` checks both give identical spans.)"""
        copy = cls._state_copy(span)
        if copy is None:
            return cls(span, attributes, cost, open_spans)
        state = copy.__dict__
        keep_dropped_attributes(state)
        state["_attributes"] = attributes
        state["_genai_cost"] = cost
        state["_genai_open_spans"] = open_spans
        return copy

    @classmethod
    def _state_copy(cls, span: ReadableSpan, *, settled: bool = True) -> CostedSpan | None:
        """A copy of ``span``'s whole state (priced first when ``settled`` and the span
        is still owed its pricing), or ``None`` for span types whose state is not all
        in their ``__dict__``."""
        kind = type(span)
        if isinstance(span, CostedSpan) and kind is CostedSpan:
            if settled:
                span._settle()
        elif kind is not ReadableSpan:
            return None
        state = span.__dict__.copy()
        copy = cls.__new__(cls)
        copy.__dict__ = state
        return copy

    def _settle(self) -> None:
        settler = self.__dict__.get("_settler")
        if settler is not None:
            settler._settle_for_reader()

    # Everything a reader can see of the pricing goes through _settle first.

    @property  # type: ignore[override]
    def _attributes(self) -> Mapping[str, object]:
        self._settle()
        return self.__dict__["_attributes"]  # type: ignore[no-any-return]

    @_attributes.setter
    def _attributes(self, value: Mapping[str, object]) -> None:
        self.__dict__["_attributes"] = value

    @property
    def _events(self) -> Sequence[Event]:
        self._settle()
        return self.__dict__["_events"]  # type: ignore[no-any-return]

    @_events.setter
    def _events(self, value: Sequence[Event]) -> None:
        self.__dict__["_events"] = value

    @property
    def genai_cost(self) -> SpanCost | None:
        self._settle()
        return self.__dict__.get("_genai_cost")

    def _cost_and_attributes(self) -> tuple[SpanCost | None, Mapping[str, object]]:
        """:attr:`genai_cost` and the attributes (as a plain mapping), settled once: the
        roll-up reads both of every span, and each property settles again."""
        self._settle()
        state = self.__dict__
        return state.get("_genai_cost"), plain_attributes(state["_attributes"])

    @property
    def genai_open_spans(self) -> int:
        """Spans below this (local root) span still open in this process when it ended:
        its totals are not complete."""
        self._settle()
        return self.__dict__.get("_genai_open_spans", 0)  # type: ignore[no-any-return]

    @property
    def genai_after_root(self) -> bool:
        """Whether this span ended after its local root (in this process) had ended."""
        self._settle()
        note = self.__dict__.get("_genai_rollup")
        return note is True or (isinstance(note, Recount) and note.after_root)

    @property
    def genai_recount(self) -> Recount | None:
        """What this span takes back from its trace's counts: a call counted, as an unpriced
        call, on records of it that were handed on before this span ended."""
        self._settle()
        note = self.__dict__.get("_genai_rollup")
        return note if isinstance(note, Recount) else None

    @property
    def genai_trace_open(self) -> bool:
        """Whether spans of this (local root) span's trace, below it or not, were still
        open in this process when it ended."""
        self._settle()
        return self.__dict__.get("_genai_trace_open", False)  # type: ignore[no-any-return]

    @property
    def genai_open_only_below(self) -> bool:
        """Whether every span of this (local root) span's trace still open in this process
        when it ended was below it: calls that ended under those are then its own."""
        self._settle()
        return self.__dict__.get("_genai_open_only_below", False)  # type: ignore[no-any-return]

    @property
    def genai_start_unseen(self) -> bool:
        """Whether this local root's start was not seen in this process (a span the gateway
        received): that nothing of its trace looked open says nothing then."""
        self._settle()
        return self.__dict__.get("_genai_start_unseen", False)  # type: ignore[no-any-return]

    # The copy's attributes and events are plain containers; what the SDK's bounded
    # ones had dropped is kept when they are replaced.

    @property
    def dropped_attributes(self) -> int:
        self._settle()
        found = self.__dict__.get("_dropped_attributes")
        return found if found is not None else super().dropped_attributes

    @property
    def dropped_events(self) -> int:
        self._settle()
        found = self.__dict__.get("_dropped_events")
        return found if found is not None else super().dropped_events

    @property
    def dropped_links(self) -> int:
        found = self.__dict__.get("_dropped_links")
        return found if found is not None else super().dropped_links



def ended_attributes(span: ReadableSpan) -> Mapping[str, object]:
    """The attributes ``span`` ended with, as a plain mapping, for a listener told while it
    is priced: a :class:`CostedSpan`'s read from its state, without the pricing check its
    property makes first (a listener reads the span it is told of on the pricing thread,
    where that check finds nothing to do, at about 0.5 µs a read). What the span ended with,
    not what pricing adds: a caller wanting the cost attributes reads ``span.attributes``."""
    if type(span) is CostedSpan:
        return plain_attributes(span.__dict__["_attributes"])
    return attributes_of(span)


def keep_dropped_attributes(state: dict[str, object]) -> None:
    """Before a copy's bounded attributes are replaced by a plain dict, keep
    how many the SDK dropped (``BoundedAttributes.dropped``)."""
    if "_dropped_attributes" not in state:
        state["_dropped_attributes"] = getattr(state.get("_attributes"), "dropped", 0)
