"""A listener read from other threads (SettlingListener) is recognised by its methods, as a
Protocol: a third party's gets the processor's settle and runs its after_pricing outside the
pricing lock, like the budget; a plain CostListener gets neither."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, CostMetrics, CostSettings, CostSpanProcessor, SettlingListener
from genai_cost.pricing import Catalog
from support.spans import chat_attributes

CATALOG = Catalog.load()
CALL = chat_attributes("gpt-4o", "openai")


class SpendSeenElsewhere:
    """A third party's listener whose running count the application reads."""

    def __init__(self) -> None:
        self.calls = 0
        self._settles: list[Any] = []
        self.lock_free_after_pricing: list[bool] = []
        self.processor: CostSpanProcessor | None = None

    def on_span_cost(self, span: Any, usage: Any, cost: Any) -> None:
        self.calls += 1

    def add_pending_source(self, settle: Any) -> None:
        self._settles.append(settle)

    def after_pricing(self) -> None:
        assert self.processor is not None
        lock = self.processor._settling
        # Free if another thread can take it: after_pricing runs once it is released.
        taken: list[bool] = []
        probe = threading.Thread(target=lambda: taken.append(lock.acquire(blocking=False) and not lock.release()))
        probe.start()
        probe.join()
        self.lock_free_after_pricing.append(taken == [True])

    def count(self) -> int:
        for settle in self._settles:
            settle()
        return self.calls


class OnlyTold:
    def __init__(self) -> None:
        self.calls = 0

    def on_span_cost(self, span: Any, usage: Any, cost: Any) -> None:
        self.calls += 1


def test_our_listeners_and_a_third_partys_are_settling_listeners_and_a_plain_one_is_not():
    assert isinstance(Budget(), SettlingListener)
    assert isinstance(CostMetrics(), SettlingListener)
    assert isinstance(SpendSeenElsewhere(), SettlingListener)
    assert not isinstance(OnlyTold(), SettlingListener)


def test_a_third_party_settling_listener_reads_spans_not_yet_exported_and_acts_outside_the_lock():
    seen, told = SpendSeenElsewhere(), OnlyTold()
    memory = InMemorySpanExporter()
    # The exporter would run in an hour: only the listener's settle prices the spans.
    processor = CostSpanProcessor(
        BatchSpanProcessor(memory, schedule_delay_millis=3_600_000),
        catalog=CATALOG,
        settings=CostSettings(),
        listeners=[seen, told],
    )
    seen.processor = processor
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    for _ in range(3):
        with tracer.start_as_current_span("chat", attributes=CALL):
            pass
    assert told.calls == 0  # deferred: nothing priced yet
    assert seen.count() == 3
    assert told.calls == 3  # the same settle told every listener
    assert seen.lock_free_after_pricing and all(seen.lock_free_after_pricing)
    provider.shutdown()
