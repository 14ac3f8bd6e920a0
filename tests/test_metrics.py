"""Cost metrics through the OpenTelemetry MeterProvider, read back with the
SDK's InMemoryMetricReader; and through the zero-code configurator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import (
    Budget,
    CostMetrics,
    CostSettings,
    CostSpanProcessor,
    InfraAllocation,
    InfraCostLayer,
    TraceCostExporter,
)
from genai_cost import attributes as A
from genai_cost.config import CostSettings as Settings
from genai_cost.configurator import _ExportChainBuilder
from genai_cost.metrics import METRICS, prometheus_label, prometheus_name
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
CALL_USD = 0.0045


def gpt4o(input_tokens=1000, output_tokens=200, model="gpt-4o"):
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
    }


def collect(reader):
    """{metric name: [(attributes, point)]} from one collection."""
    out = {}
    data = reader.get_metrics_data()
    if data is None:
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            assert sm.scope.name == A.METER_NAME
            for metric in sm.metrics:
                out.setdefault(metric.name, []).extend(
                    (dict(p.attributes), p, metric.unit) for p in metric.data.data_points
                )
    return out


def build(*, budget=None, trace_layers=()):
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    metrics = CostMetrics(meters)
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory, on_trace_complete=metrics.on_trace_complete, trace_layers=trace_layers)
    listeners = [metrics]
    if budget is not None:
        budget.add_exceeded_callback(metrics.budget_exceeded)
        listeners.append(budget)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(rollup), catalog=CATALOG, settings=CostSettings(), listeners=listeners
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("test"), reader, memory


def test_cost_counter_by_provider_model_operation_category():
    tracer, reader, _ = build()
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in range(3):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
        with tracer.start_as_current_span("mini", attributes=gpt4o(model="gpt-4o-mini")):
            pass
    points = collect(reader)[A.METRIC_COST]
    by_model = {attrs[A.METRIC_ATTR_MODEL]: (attrs, point, unit) for attrs, point, unit in points}
    attrs, point, unit = by_model["gpt-4o"]
    assert unit == "USD"
    assert attrs == {
        A.METRIC_ATTR_PROVIDER: "openai",
        A.METRIC_ATTR_MODEL: "gpt-4o",
        A.METRIC_ATTR_OPERATION: "chat",
        A.COST_CATEGORY: A.CATEGORY_LLM,
    }
    assert point.value == pytest.approx(3 * CALL_USD)
    assert by_model["gpt-4o-mini"][1].value == pytest.approx(1000 * 0.15e-6 + 200 * 0.6e-6)


def test_the_model_label_is_the_requested_model_as_the_collector_reads_it():
    """Priced at the response's dated snapshot, labelled with the request's model: the
    collector's signaltometrics rule labels the same call by gen_ai.request.model."""
    tracer, reader, _ = build()
    with tracer.start_as_current_span("chat", attributes={**gpt4o(), "gen_ai.response.model": "gpt-4o-2024-08-06"}):
        pass
    [(attrs, point, _)] = collect(reader)[A.METRIC_COST]
    assert attrs[A.METRIC_ATTR_MODEL] == "gpt-4o"
    assert point.value == pytest.approx(CALL_USD)


def test_trace_histogram_once_per_trace_with_shared_bucket_bounds():
    layer = InfraCostLayer(InfraAllocation(2000.0, 150_000))
    tracer, reader, _ = build(trace_layers=[layer])
    for _ in range(2):
        with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
    metrics = collect(reader)
    [(attrs, point, unit)] = metrics[A.METRIC_TRACE_COST]
    assert unit == "USD"
    assert point.count == 2
    share = 2000 / 150_000
    assert point.sum == pytest.approx(2 * (CALL_USD + share))
    assert tuple(point.explicit_bounds) == A.TRACE_COST_BUCKETS
    # the infrastructure share counts in the cost counter as its own category
    infra = [p for a, p, _ in metrics[A.METRIC_COST] if a[A.COST_CATEGORY] == A.CATEGORY_INFRA]
    assert infra[0].value == pytest.approx(2 * share)


def test_unpriced_counter_by_reason():
    tracer, reader, _ = build()
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat", attributes=gpt4o(model="no-such-model-xyz")):
            pass
        with tracer.start_as_current_span(
            "tool", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "nope"}
        ):
            pass
        with tracer.start_as_current_span(
            "tool", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "nope2"}
        ):
            pass
    points = {a[A.COST_UNPRICED_REASON]: p.value for a, p, _ in collect(reader)[A.METRIC_UNPRICED]}
    assert points == {"unknown_model": 1, "unknown_tool": 2}


def test_budget_hits_counter():
    tracer, reader, _ = build(budget=Budget(max_cost_usd=0.005, max_tokens_per_call=1000))
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in range(3):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
    points = {a[A.BUDGET_LIMIT_ATTR]: p.value for a, p, _ in collect(reader)[A.METRIC_BUDGET_EXCEEDED]}
    assert points == {A.BUDGET_MAX_COST: 1, A.BUDGET_MAX_TOKENS_PER_CALL: 3}


def test_no_double_counting_with_several_exporters():
    """The configurator's chain: one CostSpanProcessor for all exporters; the
    counters are fed once per span, the trace histogram once per trace."""
    reader = InMemoryMetricReader()
    builder = _ExportChainBuilder(Settings())
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    for exporter in (first, second):
        provider.add_span_processor(builder(exporter))
    builder.attach_metrics(MeterProvider(metric_readers=[reader]))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
    provider.force_flush()
    for exporter in (first, second):  # both exporters got the costed spans
        roots = [s for s in exporter.get_finished_spans() if s.parent is None]
        assert roots[0].attributes[A.TRACE_TOTAL] == pytest.approx(CALL_USD)
    metrics = collect(reader)
    [(_, cost, _)] = metrics[A.METRIC_COST]
    assert cost.value == pytest.approx(CALL_USD)
    [(_, hist, _)] = metrics[A.METRIC_TRACE_COST]
    assert hist.count == 1
    provider.shutdown()


def test_the_same_trace_reported_by_two_rollups_is_recorded_once():
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    memory_a, memory_b = InMemorySpanExporter(), InMemorySpanExporter()
    a = TraceCostExporter(memory_a, on_trace_complete=metrics.on_trace_complete)
    b = TraceCostExporter(memory_b, on_trace_complete=metrics.on_trace_complete)
    from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor as Simple

    fanout = SynchronousMultiSpanProcessor()
    fanout.add_span_processor(Simple(a))
    fanout.add_span_processor(Simple(b))
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(fanout, catalog=CATALOG, settings=CostSettings(), listeners=[metrics])
    )
    with provider.get_tracer("t").start_as_current_span("chat", attributes=gpt4o()):
        pass
    [(_, hist, _)] = collect(reader)[A.METRIC_TRACE_COST]
    assert hist.count == 1


# ------------------------------------------------------------------ Prometheus names


def test_prometheus_name_mapping():
    assert prometheus_name("gen_ai.cost.usage", "USD", "counter") == "gen_ai_cost_usage_USD_total"
    assert prometheus_name("gen_ai.cost.trace", "USD", "histogram") == "gen_ai_cost_trace_USD"
    assert prometheus_name("gen_ai.cost.unpriced_spans", "{span}", "counter") == "gen_ai_cost_unpriced_spans_total"
    assert prometheus_name("gen_ai.cost.budget.exceeded", "{limit}", "counter") == "gen_ai_cost_budget_exceeded_total"
    assert prometheus_name("http.server.duration", "s", "histogram") == "http_server_duration_seconds"
    assert prometheus_name("requests.total", "1", "counter") == "requests_total"
    assert prometheus_label("gen_ai.cost.unpriced_reason") == "gen_ai_cost_unpriced_reason"
    names = [prometheus_name(*m) for m in METRICS]
    assert len(set(names)) == len(names)
    # the gateway's own counters (genai_cost.gateway), as the rules read them
    assert prometheus_name(A.METRIC_GATEWAY_REQUESTS, A.METRIC_GATEWAY_REQUESTS_UNIT, "counter") == (
        "gen_ai_cost_gateway_requests_total"
    )
    assert prometheus_name(A.METRIC_GATEWAY_SPANS, A.METRIC_GATEWAY_SPANS_UNIT, "counter") == (
        "gen_ai_cost_gateway_spans_total"
    )
    assert prometheus_label(A.METRIC_ATTR_GATEWAY_OUTCOME) == "gen_ai_cost_gateway_outcome"


def test_the_alerting_guide_gives_every_metric_its_unit_and_prometheus_name():
    """docs/alerting.md's tables: a row per metric the package or the collector emits, with the
    name Prometheus shows (a metric added to METRICS, the gateway's too, without its row fails)."""
    guide = (Path(__file__).resolve().parents[1] / "docs" / "alerting.md").read_text()
    for name, unit, kind in METRICS:
        rows = [line for line in guide.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, name
        assert f"`{prometheus_name(name, unit, kind)}" in rows[0], name
        if not name.startswith("gen_ai.cost.spans."):  # (the collector's table says what they are read from)
            assert f"`{unit}`" in rows[0], name


# ------------------------------------------------------------------ zero-code, global MeterProvider

APP = textwrap.dedent(
    """
    from opentelemetry import trace

    tracer = trace.get_tracer("app")
    for _ in range(2):
        with tracer.start_as_current_span("invoke_agent demo", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 200}):
                pass
            import genai_cost
            print("SPEND", genai_cost.current_spend().cost_usd, flush=True)
            try:
                genai_cost.check_budget()
            except genai_cost.BudgetExceededError as exc:
                print("BUDGET", exc.limit, exc.spend, exc.limit_value, flush=True)
    # no force_flush: the configurator flushes spans at exit, before the meters shut down
    """
)


def test_zero_code_metrics_use_the_sdk_configured_meter_provider(tmp_path: Path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_COST_"))} | {
        "OTEL_PYTHON_CONFIGURATOR": "genai_cost",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "console",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "metrics-test",
        "GENAI_COST_BUDGET_MAX_COST_USD": "0.004",
        "GENAI_COST_INFRA_MONTHLY_USD": "2000",
        "GENAI_COST_INFRA_MONTHLY_TRACES": "150000",
    }
    instrument_bin = Path(sys.executable).parent / "opentelemetry-instrument"
    done = subprocess.run(
        [str(instrument_bin), sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "SPEND 0.0045" in done.stdout
    assert "BUDGET max_cost_usd 0.0045 0.004" in done.stdout
    metrics = {}
    decoder = json.JSONDecoder()
    index = 0
    while (start := done.stdout.find("{", index)) >= 0:
        obj, index = decoder.raw_decode(done.stdout, start)
        for rm in obj.get("resource_metrics", []):
            for sm in rm["scope_metrics"]:
                for metric in sm["metrics"]:
                    metrics[metric["name"]] = metric
    assert A.METRIC_COST in metrics, done.stdout[-2000:]
    points = metrics[A.METRIC_COST]["data"]["data_points"]
    llm = [p for p in points if p["attributes"][A.COST_CATEGORY] == A.CATEGORY_LLM]
    assert llm[0]["value"] == pytest.approx(2 * CALL_USD)
    budget = metrics[A.METRIC_BUDGET_EXCEEDED]["data"]["data_points"]
    assert budget[0]["value"] == 2 and budget[0]["attributes"] == {A.BUDGET_LIMIT_ATTR: A.BUDGET_MAX_COST}
    [trace_point] = metrics[A.METRIC_TRACE_COST]["data"]["data_points"]
    assert trace_point["count"] == 2
    assert trace_point["sum"] == pytest.approx(2 * (CALL_USD + 2000 / 150_000))
    infra = [p for p in points if p["attributes"][A.COST_CATEGORY] == A.CATEGORY_INFRA]
    assert infra[0]["value"] == pytest.approx(2 * 2000 / 150_000)


# ------------------------------------------------------------------ real OTLP to a real collector


def _metric_blocks(log: str) -> dict[str, str]:
    """rotel's detailed metrics log, split per metric name (last block wins)."""
    blocks = {}
    for chunk in log.split("-> Name: ")[1:]:
        name, _, rest = chunk.partition("\n")
        blocks[name.strip()] = rest.split("-> Name: ", 1)[0]
    return blocks


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_metrics_reach_a_real_collector_over_otlp(tmp_path: Path, protocol):
    from support.rotel import RotelCollector

    app = tmp_path / "app.py"
    app.write_text(APP)
    with RotelCollector(extra_args=["--debug-log", "metrics"], workdir=tmp_path / "rotel") as collector:
        endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_COST_"))} | {
            "OTEL_PYTHON_CONFIGURATOR": "genai_cost",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_SERVICE_NAME": "otlp-metrics-test",
            "GENAI_COST_BUDGET_MAX_COST_USD": "0.004",
        }
        instrument_bin = Path(sys.executable).parent / "opentelemetry-instrument"
        done = subprocess.run(
            [str(instrument_bin), sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        from support.net import wait_for

        wait_for(lambda: A.METRIC_TRACE_COST in _metric_blocks(collector.output()), 20, "metrics at the collector")
        blocks = _metric_blocks(collector.output())
    usage = blocks[A.METRIC_COST]
    assert f"-> Unit: {A.METRIC_COST_UNIT}" in usage and "IsMonotonic: true" in usage
    assert "-> gen_ai.cost.category: Str(llm)" in usage and "-> gen_ai.request.model: Str(gpt-4o)" in usage
    assert "Value: 0.009" in usage  # two calls of $0.0045, cumulative
    trace_block = blocks[A.METRIC_TRACE_COST]
    bounds = [float(x) for x in re.findall(r"ExplicitBounds #\d+: ([0-9.e-]+)", trace_block)]
    assert tuple(bounds) == A.TRACE_COST_BUCKETS
    assert "Count: 2" in trace_block
    budget = blocks[A.METRIC_BUDGET_EXCEEDED]
    assert f"-> Unit: {A.METRIC_BUDGET_EXCEEDED_UNIT}" in budget
    assert f"-> {A.BUDGET_LIMIT_ATTR}: Str({A.BUDGET_MAX_COST})" in budget
