"""Pricing off the application thread: same results as inline, on the right thread, bounded."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
HOUR_MS = 3_600_000


def chat(input_tokens=1000, output_tokens=200, **extra):
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        **extra,
    }


# A trace is a tree of nodes; each node is (attributes, children).
_leaf_attributes = st.one_of(
    st.builds(
        chat,
        st.integers(0, 300_000),
        st.integers(0, 5_000),
        **{"gen_ai.response.id": st.sampled_from(["r1", "r2", "r3"])},
    ),
    st.builds(chat, st.integers(0, 300_000), st.integers(0, 5_000)),
    st.just({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search"}),
    st.just({"gen_ai.operation.name": "chat", "gen_ai.request.model": "no-such-model",
             "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 5}),
    st.just({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": -3}),
    st.just({"db.system.name": "postgresql"}),
)
_wrapper_attributes = st.sampled_from([
    {"gen_ai.operation.name": "invoke_agent"},
    {"http.request.method": "POST"},
    chat(3000, 600),  # a framework wrapper carrying its child's usage
])
_trees = st.recursive(
    st.tuples(_leaf_attributes, st.just(())),
    lambda children: st.tuples(_wrapper_attributes, st.lists(children, max_size=4).map(tuple)),
    max_leaves=12,
)


def _emit(tracer, tree, labels):
    attributes, children = tree
    label = f"s{len(labels)}"
    labels.append(label)
    with tracer.start_as_current_span(label, attributes={**attributes, "label": label}):
        for child in children:
            _emit(tracer, child, labels)


def _run(traces, deferred: bool):
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory)
    budget = Budget(max_cost_usd=0.05)
    if deferred:
        downstream = BatchSpanProcessor(rollup, schedule_delay_millis=HOUR_MS, max_export_batch_size=7)
    else:
        downstream = SimpleSpanProcessor(rollup)
    processor = CostSpanProcessor(
        downstream, catalog=CATALOG, settings=CostSettings(), listeners=[budget], deferred=deferred
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("equivalence")
    for tree in traces:
        _emit(tracer, tree, [])
    provider.force_flush()
    out = {}
    for span in memory.get_finished_spans():
        ids = {f"{s.context.span_id:016x}": s.name for s in memory.get_finished_spans()}
        attributes = dict(span.attributes)
        if "gen_ai.cost.duplicate_of" in attributes:
            attributes["gen_ai.cost.duplicate_of"] = ids[attributes["gen_ai.cost.duplicate_of"]]
        trace_index = attributes.pop("label"), len(out)
        out[trace_index] = (attributes, [event.name for event in span.events])
    provider.shutdown()
    return sorted(out.values(), key=repr)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_trees, min_size=1, max_size=4))
def test_deferred_pricing_gives_exactly_what_inline_pricing_gives(traces):
    assert _run(traces, deferred=True) == _run(traces, deferred=False)


class _ThreadRecorder:
    def __init__(self):
        self.threads: list[str] = []

    def on_span_cost(self, span, usage, cost):
        self.threads.append(threading.current_thread().name)


def test_pricing_runs_on_the_export_thread_not_the_application_thread():
    memory = InMemorySpanExporter()
    recorder = _ThreadRecorder()
    processor = CostSpanProcessor(
        BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=50),
        catalog=CATALOG, settings=CostSettings(), listeners=[recorder],
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("agent"):
        for _ in range(5):
            with tracer.start_as_current_span("chat", attributes=chat()):
                pass
    # (the export thread may have priced some already: it wakes every 50 ms, and this thread
    # may have been descheduled that long on a loaded machine)
    assert threading.current_thread().name not in recorder.threads, "nothing priced on the application thread"
    deadline = threading.Event()
    for _ in range(200):
        if len(memory.get_finished_spans()) == 6:
            break
        deadline.wait(0.05)
    assert len(recorder.threads) == 5
    assert threading.current_thread().name not in recorder.threads
    root = next(s for s in memory.get_finished_spans() if s.name == "agent")
    assert root.attributes["gen_ai.trace.cost.llm_calls"] == 5
    provider.shutdown()


class _NeverReads(SpanProcessor):
    """A downstream processor that keeps nothing and reads nothing."""

    def on_end(self, span):
        pass


def test_queue_is_bounded_when_nothing_downstream_reads_the_spans():
    recorder = _ThreadRecorder()
    processor = CostSpanProcessor(
        _NeverReads(), catalog=CATALOG, settings=CostSettings(), listeners=[recorder], max_pending=50
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for _ in range(200):
        with tracer.start_as_current_span("chat", attributes=chat()):
            pass
    assert len(processor._queue) <= 50
    assert len(recorder.threads) >= 150, "the application thread priced what piled up"
    assert processor.stats.priced == 200, "reading the stats prices the rest"


class _ReadsBack:
    """A listener that reads spans back while the processor is pricing."""

    def __init__(self, processor_box):
        self.box = processor_box
        self.seen = 0

    def on_span_cost(self, span, usage, cost):
        self.seen += len(span.attributes) + len(span.events)
        self.box[0].settle()


def test_a_listener_reading_spans_during_pricing_does_not_deadlock():
    memory = InMemorySpanExporter()
    box: list[CostSpanProcessor] = []
    listener = _ReadsBack(box)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings(),
        listeners=[listener],
    )
    box.append(processor)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("chat", attributes=chat()):
        pass
    assert listener.seen > 0
    assert memory.get_finished_spans()[0].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_budget_callback_checking_the_budget_from_the_export_thread_does_not_deadlock():
    memory = InMemorySpanExporter()
    seen: list[str] = []
    budget = Budget(max_cost_usd=0.001)

    def on_exceeded(name, spend, limit):
        seen.append(name)
        budget.spend(1)  # reads the spend, which settles the queue, from inside pricing

    budget.add_exceeded_callback(on_exceeded)
    processor = CostSpanProcessor(
        BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=HOUR_MS),
        catalog=CATALOG, settings=CostSettings(), listeners=[budget],
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("chat", attributes=chat()):
        pass
    worker = threading.Thread(target=provider.force_flush)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "force_flush returned"
    assert seen == ["max_cost_usd"]
    span = memory.get_finished_spans()[0]
    assert [e.name for e in span.events] == ["gen_ai.cost.budget_exceeded"]
    provider.shutdown()


def test_exporter_threads_racing_on_one_queue_see_each_span_priced_once():
    """Several exporters (the zero-code fan-out) each read every copy, from their own threads."""
    from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor

    memories = [InMemorySpanExporter() for _ in range(3)]
    fanout = SynchronousMultiSpanProcessor()
    for memory in memories:
        fanout.add_span_processor(BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=5))
    recorder = _ThreadRecorder()
    processor = CostSpanProcessor(fanout, catalog=CATALOG, settings=CostSettings(), listeners=[recorder])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")

    def work():
        for _ in range(40):
            with tracer.start_as_current_span("agent"):
                for _ in range(3):
                    with tracer.start_as_current_span("chat", attributes=chat()):
                        pass

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    provider.force_flush()
    assert len(recorder.threads) == 4 * 40 * 3, "each span priced exactly once"
    for memory in memories:
        roots = [s for s in memory.get_finished_spans() if s.name == "agent"]
        assert len(roots) == 160
        totals = [r.attributes["gen_ai.trace.cost.total_usd"] for r in roots]
        assert totals == [pytest.approx(3 * 0.0045)] * 160
    provider.shutdown()


def test_dropped_counts_survive_pricing_and_budget_events():
    from opentelemetry.sdk.trace import SpanLimits

    memory = InMemorySpanExporter()
    budget = Budget(max_cost_usd=0.001)
    processor = CostSpanProcessor(
        BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=HOUR_MS),
        catalog=CATALOG, settings=CostSettings(), listeners=[budget],
    )
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=5, max_events=1))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("chat", attributes={**chat(), "extra.a": 1, "extra.b": 2}) as span:
            span.add_event("first")
            span.add_event("second")
    provider.force_flush()
    spans = {s.name: s for s in memory.get_finished_spans()}
    chat_span = spans["chat"]
    assert chat_span.attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert chat_span.dropped_attributes == 2
    assert [e.name for e in chat_span.events] == ["second", "gen_ai.cost.budget_exceeded"]
    assert chat_span.dropped_events == 1
    assert spans["agent"].dropped_attributes == 0
    provider.shutdown()


def test_inline_pricing_from_the_environment_runs_listeners_on_the_ending_thread():
    recorder = _ThreadRecorder()
    processor = CostSpanProcessor(
        BatchSpanProcessor(TraceCostExporter(InMemorySpanExporter()), schedule_delay_millis=HOUR_MS),
        catalog=CATALOG, settings=CostSettings.from_env({"GENAI_COST_DEFERRED_PRICING": "false"}),
        listeners=[recorder],
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("chat", attributes=chat()):
        pass
    assert recorder.threads == [threading.current_thread().name]
    provider.shutdown()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_fork_while_another_thread_is_pricing_leaves_the_child_working():
    import os
    import time

    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG,
                                  settings=CostSettings())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with processor._settling:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: the holder thread does not exist here
        code = 1
        try:
            with provider.get_tracer("child").start_as_current_span("chat", attributes=chat()):
                pass
            spans = memory.get_finished_spans()
            code = 0 if spans and spans[-1].attributes.get("gen_ai.cost.total_usd") else 2
        finally:
            os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child deadlocked on the settle lock it inherited")
    provider.shutdown()
