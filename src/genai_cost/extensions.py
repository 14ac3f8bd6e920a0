"""What an extension of the processor implements, and the values it returns.

The processor prices what the catalog knows; extensions act on each price (a
:class:`~genai_cost.Budget`, :class:`~genai_cost.CostMetrics`) or price what the
catalog does not (:mod:`genai_cost.layers`). They are interfaces only, kept apart
from :mod:`genai_cost.processor` so that an extension can be written, typed and
read without the processor's machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from opentelemetry.sdk.trace import Event, ReadableSpan

from .pricer import SpanCost
from .usage import SpanUsage


class CostListener(Protocol):
    """Told about every GenAI span the processor priced (or could not price).

    Called on the thread that prices the span: whichever first needs its cost, usually
    the export thread (the one that ended it with ``deferred=False``), and under the
    processor's pricing lock, since what it returns is part of the span a reader waits
    for. Must be quick, must not wait for a thread that ends spans, and must not raise
    (exceptions are caught and counted all the same). See :class:`SettlingListener` for
    a listener read from other threads, or with work to do outside the lock.
    """

    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> Mapping[str, object] | None:
        """Return extra attributes to write on the span, or ``None``.

        A :class:`SpanAnnotations` (a dict of attributes with ``events``) also
        adds span events to the enriched copy (the budget's limit-crossed event).
        """


@runtime_checkable
class SettlingListener(CostListener, Protocol):
    """A :class:`CostListener` whose state is read on other threads than the one that
    prices (a budget the application checks, metrics a reader collects), or that acts on
    what it was told in ways that must not run under the pricing lock.

    Pricing is deferred, so such a reader would miss the spans ended but not priced yet;
    and listeners are told under the processor's pricing lock (a span's final attributes
    include what they return), so a listener that took the application's locks there, or
    waited for a thread that ends spans, could deadlock it. :class:`~genai_cost.Budget`
    and :class:`~genai_cost.CostMetrics` implement it; a listener that does is recognised
    by :meth:`~genai_cost.CostSpanProcessor.add_listener`.
    """

    def add_pending_source(self, settle: Callable[[], None]) -> None:
        """Keep ``settle`` (one per processor listened to) and call it before each read of
        this listener's state, so that the read counts every span ended so far. ``settle``
        may call :meth:`on_span_cost` on the calling thread: call it before, never under,
        the listener's own lock."""

    def after_pricing(self) -> None:
        """Called each time the processor has priced what was queued, once its pricing lock
        is released: do here what :meth:`on_span_cost` recorded but must not do under the
        lock (a budget's callbacks, which may take the application's locks or end spans)."""


class SpanAnnotations(dict[str, object]):
    """What a :class:`CostListener` may return: attributes to add to the span,
    plus ``events`` to append to its events. Give it at least one attribute:
    an empty mapping is ignored, events and all."""

    events: tuple[Event, ...]

    def __init__(self, attributes: Mapping[str, object] | None = None, events: Iterable[Event] = ()) -> None:
        super().__init__(attributes or {})
        self.events = tuple(events)


class SpanCostLayer(Protocol):
    """Prices spans that the model and tool catalog do not (a hand-off to a
    person, ...): consulted only for spans with no cost of their own, and only
    when at least one layer is configured (see :mod:`genai_cost.layers`)."""

    def price_span(self, span: ReadableSpan, attributes: Mapping[str, object]) -> SpanCost | None:
        """The span's cost in this layer, or ``None`` when the layer does not apply."""

