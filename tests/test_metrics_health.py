"""The pipeline's own health as metrics (CostMetrics.watch_processor / watch_rollup):
failures caught inside genai-cost, and traces whose roots' totals are incomplete. Until
these, both were visible only to code reading ``processor.stats`` / ``rollup.stats``, and
to a log line said once: nothing an operator's alert could see."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostMetrics, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from test_rollup import CATALOG, CHAT, FakeClock


def _points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
    """{attributes as sorted items: value} of the metric ``name`` in one collection."""
    found: dict[tuple[tuple[str, Any], ...], float] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[tuple(sorted(point.attributes.items()))] = point.value
    return found


def _by(reader: InMemoryMetricReader, name: str, key: str) -> dict[str, float]:
    return {dict(attributes).get(key, ""): value for attributes, value in _points(reader, name).items()}


def _pipeline(*, listeners=(), span_layers=(), on_trace_complete=None, **rollup_kw):
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory, on_trace_complete=on_trace_complete, **rollup_kw)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(rollup),
        catalog=CATALOG,
        settings=CostSettings(),
        listeners=[metrics, *listeners],
        span_layers=span_layers,
    )
    metrics.watch_processor(processor)
    metrics.watch_rollup(rollup)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("t"), memory, reader


def _watched_pipeline():
    """(tracer, reader, processor) of a pipeline whose metrics watch its processor."""
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())),
        catalog=CATALOG,
        settings=CostSettings(),
        listeners=[metrics],
    )
    metrics.watch_processor(processor)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("t"), reader, processor


def _call_in_new_trace(tracer, name="agent"):
    agent = tracer.start_span(name, context=Context())
    tracer.start_span("chat", context=trace_api.set_span_in_context(agent), attributes=CHAT).end()
    return agent


def test_traces_pushed_out_and_turned_away_at_max_traces_are_counted_by_outcome(caplog):
    clock = FakeClock()
    tracer, _, reader = _pipeline(idle_timeout_s=60, max_traces=3, clock=clock)
    _call_in_new_trace(tracer, "first agent").end()
    # Once the pipeline has priced something, every series is there, at 0 too, so that a rate
    # or an increase sees the first event (a series born with its first count reads as none).
    assert _by(reader, A.METRIC_ROLLUP_OVERFLOW, A.METRIC_ATTR_ROLLUP_ACTION) == dict.fromkeys(A.ROLLUP_ACTIONS, 0)
    assert _by(reader, A.METRIC_INTERNAL_ERRORS, A.METRIC_ATTR_COMPONENT) == dict.fromkeys(A.COMPONENTS, 0)
    assert _points(reader, A.METRIC_ROLLUP_WITHOUT_ROOT) == {(): 0}
    assert _points(reader, A.METRIC_ROLLUP_LATE_SPANS) == {(): 0}
    assert _points(reader, A.METRIC_OPEN_SPANS_FORGOTTEN) == {(): 0}
    clock.now += 61  # the first agent's trace, finished, let go

    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        for _ in range(5):  # agents whose root never ends here: three held, two turned away
            _call_in_new_trace(tracer, "stale agent")
        clock.now += 7  # the three idle a tenth of the timeout: each makes room for a new one
        for _ in range(5):
            _call_in_new_trace(tracer, "stale agent")
        _call_in_new_trace(tracer).end()  # turned away in its turn, its call and its root apart
    # turned away: two of the first five, two of the next, and the last trace's two batches
    overflow = _by(reader, A.METRIC_ROLLUP_OVERFLOW, A.METRIC_ATTR_ROLLUP_ACTION)
    assert overflow == {"pushed_out": 3, "turned_away": 6}
    assert _points(reader, A.METRIC_ROLLUP_WITHOUT_ROOT) == {(): 3}  # the three pushed out
    assert not caplog.records


def test_the_traces_held_against_max_traces_are_a_level_read_at_each_collection():
    """How close the roll-up is to its bound, before traces overflow: each trace whose root
    has not passed counts until it does (or is let go), and none is counted before the
    pipeline has priced something."""
    clock = FakeClock()
    tracer, _, reader = _pipeline(idle_timeout_s=60, max_traces=3, clock=clock)
    assert _points(reader, A.METRIC_ROLLUP_OPEN_TRACES) == {}
    agents = [_call_in_new_trace(tracer, f"agent {n}") for n in range(2)]
    assert _points(reader, A.METRIC_ROLLUP_OPEN_TRACES) == {(): 2}
    for _ in range(3):  # one more fills the bound; the next two are turned away
        _call_in_new_trace(tracer)
    assert _points(reader, A.METRIC_ROLLUP_OPEN_TRACES) == {(): 3}
    assert _by(reader, A.METRIC_ROLLUP_OVERFLOW, A.METRIC_ATTR_ROLLUP_ACTION)["turned_away"] == 2
    for agent in agents:
        agent.end()
    assert _points(reader, A.METRIC_ROLLUP_OPEN_TRACES) == {(): 1}
    clock.now += 61
    _call_in_new_trace(tracer).end()  # a roll-up's expiry runs as spans pass
    assert _points(reader, A.METRIC_ROLLUP_OPEN_TRACES) == {(): 0}


def test_a_span_with_a_cost_after_its_root_is_counted_as_late():
    tracer, memory, reader = _pipeline()
    root = tracer.start_span("request", context=Context())
    stream = tracer.start_span("chat", context=trace_api.set_span_in_context(root), attributes=CHAT)
    root.end()  # the handler returned the stream; it is read on after
    stream.end()
    late = next(s for s in memory.get_finished_spans() if s.name == "chat")
    assert late.attributes[A.COST_AFTER_ROOT] is True
    assert _points(reader, A.METRIC_ROLLUP_LATE_SPANS) == {(): 1}
    assert _points(reader, A.METRIC_ROLLUP_WITHOUT_ROOT) == {(): 0}


def test_a_listener_a_cost_layer_and_a_roll_up_callback_that_raise_are_counted_where_caught(caplog):
    class Broken:
        def on_span_cost(self, span, usage, cost):
            raise RuntimeError("listener bug")

    class BrokenLayer:
        def price_span(self, span, attributes):
            raise RuntimeError("layer bug")

    def broken_callback(totals, root):
        raise RuntimeError("callback bug")

    tracer, memory, reader = _pipeline(
        listeners=[Broken()], span_layers=[BrokenLayer()], on_trace_complete=broken_callback
    )
    with caplog.at_level(logging.CRITICAL, logger="genai_cost"):
        _call_in_new_trace(tracer).end()
    assert len(memory.get_finished_spans()) == 2  # both spans went on
    errors = _by(reader, A.METRIC_INTERNAL_ERRORS, A.METRIC_ATTR_COMPONENT)
    # The layer is asked about the root only (the call is the catalog's): a plain span, not
    # flagged, so the listener is told of the call alone.
    assert errors == {"processor": 0, "listener": 1, "cost_layer": 1, "rollup": 1}


def test_spans_never_ended_forgotten_at_the_bound_are_counted(monkeypatch):
    """Spans started and never ended (a stream never read) pile up; past the bound their
    open counts are forgotten, and a trace running among them may say complete=true. Only
    the processor's stats and one log line said so; an operator's alert could not."""
    import genai_cost._open_spans as open_spans

    monkeypatch.setattr(open_spans, "MAX_OPEN", 50)
    tracer, reader, processor = _watched_pipeline()
    _call_in_new_trace(tracer).end()
    assert _points(reader, A.METRIC_OPEN_SPANS_FORGOTTEN) == {(): 0}
    leaked = [tracer.start_span(f"leak {n}", context=Context()) for n in range(60)]
    forgotten = processor.stats.open_counts_forgotten
    assert forgotten > 0
    assert _points(reader, A.METRIC_OPEN_SPANS_FORGOTTEN) == {(): forgotten}
    assert len(leaked) == 60


def test_one_collection_reads_the_stats_once_and_its_series_agree():
    """Each health series is a callback of its own; they read one snapshot of the stats per
    collection (the processor settles once), and the next collection reads them again."""
    tracer, reader, processor = _watched_pipeline()
    readings = []
    health = CostMetrics._health

    def counted(self):
        readings.append(1)
        return health(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CostMetrics, "_health", counted)
        _call_in_new_trace(tracer).end()
        reader.get_metrics_data()
        first = len(readings)
        reader.get_metrics_data()
        second = len(readings) - first
    assert (first, second) == (1, 1)
    assert processor.stats.spans == 2


HEALTH = (
    A.METRIC_OPEN_SPANS_FORGOTTEN,
    A.METRIC_INTERNAL_ERRORS,
    A.METRIC_ROLLUP_OVERFLOW,
    A.METRIC_ROLLUP_WITHOUT_ROOT,
    A.METRIC_ROLLUP_LATE_SPANS,
    A.METRIC_ROLLUP_OPEN_TRACES,
)


def test_nothing_watched_emits_no_health_series():
    reader = InMemoryMetricReader()
    CostMetrics(MeterProvider(metric_readers=[reader]))
    for name in HEALTH:
        assert _points(reader, name) == {}


def test_an_application_without_genai_work_gets_no_series_of_zeros():
    """Its metrics exporter had nothing to send; series of zeros made an OTLP exporter with no
    collector to take them retry at exit: 7 s for an application with no GenAI span."""
    tracer, _, reader = _pipeline()
    with tracer.start_as_current_span("GET /health"):
        with tracer.start_as_current_span("SELECT"):
            pass
    data = reader.get_metrics_data()
    assert data is None or not data.resource_metrics or not any(
        scope.metrics for resource in data.resource_metrics for scope in resource.scope_metrics
    )


def test_the_zero_code_setup_watches_its_processor_and_counts_each_trace_once_over_two_exporters():
    from genai_cost.configurator import _ExportChainBuilder

    builder = _ExportChainBuilder(CostSettings())
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    processors = [builder(first), builder(second)]
    reader = InMemoryMetricReader()
    builder.attach_metrics(MeterProvider(metric_readers=[reader]))
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("request", context=Context())
    stream = tracer.start_span("chat", context=trace_api.set_span_in_context(root), attributes=CHAT)
    root.end()
    stream.end()  # after its root: late, in both roll-ups
    provider.force_flush()
    assert len(first.get_finished_spans()) == len(second.get_finished_spans()) == 2
    # two roll-ups saw the late span: counted once, from the first
    assert _points(reader, A.METRIC_ROLLUP_LATE_SPANS) == {(): 1}
    assert _by(reader, A.METRIC_INTERNAL_ERRORS, A.METRIC_ATTR_COMPONENT) == dict.fromkeys(A.COMPONENTS, 0)
    provider.shutdown()


@pytest.mark.parametrize("action", A.ROLLUP_ACTIONS)
def test_every_action_is_a_field_of_the_roll_ups_stats(action):
    from genai_cost.rollup import RollupStats

    assert hasattr(RollupStats(), f"traces_{action}")
