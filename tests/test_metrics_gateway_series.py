"""The gateway's cost series: one writer per series, a bounded number of them, and
the `job` Prometheus needs to combine them with the collector's.

* Several gateways behind trace-id routing (docs/gateway.md) all see every sender:
  each must write series of its own (its own ``service.instance.id`` in the
  regrouped resource), or they write one series with partial totals, which
  Prometheus reads as a counter that goes down and up, and increase() over-counts.
* A sender's instances come and go (a new ``service.instance.id`` at every pod
  restart): the gateway's series are per service, not per instance, so they never
  fill the series limits and push a new service's spend into an overflow series.
* Scraped from the gateway (``OTEL_METRICS_EXPORTER=prometheus``), each sender's
  series carry the sender's ``job``, so the rules' per-job choice between the
  package's metrics and the collector's span-derived ones counts the spend once.

Real OTel SDK throughout (MeterProvider, InMemoryMetricReader, the Prometheus
reader when installed); promtool runs the shipped rules when it is on PATH."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import attributes as A
from genai_cost.config import CostSettings
from genai_cost.gateway import CostGateway
from genai_cost.pricing import Catalog
from genai_cost.sender_metrics import SENDER_KEYS, by_sender, sender_job_reader

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "genai-cost-rules.yml"
CATALOG = Catalog.load()
CALL_USD = 0.0045  # gpt-4o, 1000 input and 200 output tokens
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
}


def _gateway(resource: Resource, reader: Any) -> CostGateway:
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    return CostGateway(InMemorySpanExporter(), catalog=CATALOG, settings=CostSettings(), meter_provider=provider)


def _traces(resource: dict[str, str], traces: int = 1) -> Any:
    """An OTLP request of ``traces`` agent traces (one chat call each) made by a
    process with ``resource``, as its SDK exporter would send it."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource(resource))  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("sender")
    for _ in range(traces):
        with tracer.start_as_current_span("invoke_agent"):
            with tracer.start_as_current_span("chat", attributes=CHAT):
                pass
    provider.shutdown()
    return encode_spans(memory.get_finished_spans())


def _exported(reader: InMemoryMetricReader, metric_name: str) -> list[tuple[dict[str, Any], dict[str, Any], Any]]:
    """(resource, point attributes, point) of ``metric_name``, as the gateway's pushed
    metrics leave it (regrouped by SenderResourceExporter)."""
    data = reader.get_metrics_data()
    if data is None:  # nothing recorded yet
        return []
    out = []
    for resource_metrics in by_sender(data).resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == metric_name:
                    for point in metric.data.data_points:
                        out.append((dict(resource_metrics.resource.attributes), dict(point.attributes or {}), point))
    return out


def _identity(resource: dict[str, Any], attributes: dict[str, Any]) -> tuple[object, ...]:
    """What names a series in Prometheus: job and instance (from the resource) and the labels."""
    return (
        resource.get("service.namespace"),
        resource.get("service.name"),
        resource.get("service.instance.id"),
        tuple(sorted(attributes.items())),
    )


# ------------------------------------------------------------ several gateways


def test_two_gateways_write_series_of_their_own_that_sum_to_the_spend() -> None:
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    gateways = [
        _gateway(Resource.create({"service.name": "genai-cost-gateway", "service.instance.id": f"gateway-{n}"}), reader)
        for n, reader in enumerate(readers, 1)
    ]
    sender = {"service.name": "node-agent", "service.instance.id": "pod-1"}
    gateways[0].accept(_traces(sender, 3))  # trace-id routing: some traces to each gateway
    gateways[1].accept(_traces(sender, 2))

    series: dict[tuple[object, ...], float] = {}
    for n, reader in enumerate(readers, 1):
        [(resource, attributes, point)] = _exported(reader, A.METRIC_COST)
        assert resource == {"service.name": "node-agent", "service.instance.id": f"gateway-{n}"}
        assert not set(attributes) & set(SENDER_KEYS)
        series[_identity(resource, attributes)] = point.value
    assert len(series) == 2, "each gateway writes a series of its own"
    assert sum(series.values()) == pytest.approx(5 * CALL_USD)
    for n, reader in enumerate(readers, 1):  # the per-trace histogram too
        [(resource, _, point)] = _exported(reader, A.METRIC_TRACE_COST)
        assert resource["service.instance.id"] == f"gateway-{n}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_increase_over_two_gateways_is_the_spend(tmp_path: Path) -> None:
    """Twelve minutes of one sender's traffic, routed minute by minute to one gateway or
    the other; each minute the series are read as Prometheus would scrape them. The
    shipped rules' promtool sees two steadily growing counters, no resets."""
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    gateways = [
        _gateway(Resource.create({"service.name": "genai-cost-gateway", "service.instance.id": f"gateway-{n}"}), reader)
        for n, reader in enumerate(readers, 1)
    ]
    sender = {"service.name": "node-agent", "service.instance.id": "pod-1"}
    scraped: dict[str, list[float]] = {"gateway-1": [0.0], "gateway-2": [0.0]}
    labels: dict[str, str] = {}
    for minute in range(12):
        gateways[minute % 2].accept(_traces(sender, 3 + minute % 2))
        for reader in readers:
            for resource, attributes, point in _exported(reader, A.METRIC_COST):
                instance = resource["service.instance.id"]
                scraped[instance].append(point.value)
                labels = {re.sub(r"[^a-zA-Z0-9_]", "_", k): v for k, v in attributes.items()}
        for values in scraped.values():  # a gateway without traffic yet has no series: 0 until then
            if len(values) < minute + 2:
                values.append(values[-1])
    spent = sum(3 + minute % 2 for minute in range(2, 12)) * CALL_USD  # between the samples at 2 and 12 min
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    series = "\n".join(
        f"""      - series: 'gen_ai_cost_usage_USD_total{{job="node-agent",instance="{instance}",{label_text}}}'
        values: '{" ".join(repr(round(v, 6)) for v in values)}'"""
        for instance, values in scraped.items()
    )
    test = tmp_path / "two-gateways.test.yml"
    test.write_text(
        textwrap.dedent(
            f"""\
            rule_files: [{RULES}]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
            {{series}}
                promql_expr_test:
                  - expr: round(sum(increase(gen_ai_cost_usage_USD_total[10m])), 0.0001)
                    eval_time: 12m
                    exp_samples:
                      - labels: '{{}}'
                        value: {round(spent, 4)}
            """
        ).replace("{series}", series)
    )
    done = subprocess.run(["promtool", "test", "rules", str(test)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------ series per service


def test_a_senders_instances_share_its_series_and_a_new_service_gets_its_own() -> None:
    """Pod restarts (a new instance id each) make no new series, so a service deployed
    later is still labelled as itself, never lumped into an overflow series."""
    reader = InMemoryMetricReader()
    gateway = _gateway(Resource.create({"service.name": "genai-cost-gateway", "service.instance.id": "gw"}), reader)
    for pod in range(60):
        gateway.accept(_traces({"service.name": "checkout-agent", "service.instance.id": f"pod-{pod}"}))
    gateway.accept(_traces({"service.name": "new-service", "service.instance.id": "pod-a"}))

    assert gateway.metrics is not None
    assert len(gateway.metrics._cost_totals) == 2  # one per service, whatever the restarts
    cost = {resource["service.name"]: point.value for resource, _, point in _exported(reader, A.METRIC_COST)}
    assert cost == {"checkout-agent": pytest.approx(60 * CALL_USD), "new-service": pytest.approx(CALL_USD)}
    traces = {resource["service.name"]: point.count for resource, _, point in _exported(reader, A.METRIC_TRACE_COST)}
    assert traces == {"checkout-agent": 60, "new-service": 1}
    for _, attributes, _ in _exported(reader, A.METRIC_COST) + _exported(reader, A.METRIC_TRACE_COST):
        assert "otel.metric.overflow" not in attributes


# ------------------------------------------------------------ scraped from the gateway


def _pulled(reader: Any) -> list[dict[str, Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        dict(point.attributes or {})
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == A.METRIC_COST
        for point in metric.data.data_points
    ]


def test_a_pulled_series_carries_its_senders_job() -> None:
    """A pull reader (the prometheus exporter's, here the SDK's in-memory one) sees each
    sender's series with the job Prometheus gives that sender's own series."""
    reader = sender_job_reader(InMemoryMetricReader)()
    gateway = _gateway(Resource.create({"service.name": "genai-cost-gateway"}), reader)
    gateway.accept(_traces({"service.name": "node-agent", "service.namespace": "shop", "service.instance.id": "p"}))
    gateway.accept(_traces({"service.name": "batch-agent"}, 2))
    gateway.accept(_traces({}))  # a sender that names no service: the gateway's own job
    points = _pulled(reader)
    jobs = sorted(str(attributes.get("job")) for attributes in points)
    assert jobs == ["None", "batch-agent", "shop/node-agent"]
    for attributes in points:
        assert not set(attributes) & set(SENDER_KEYS)
        assert attributes[A.COST_CATEGORY] == A.CATEGORY_LLM


def test_the_prometheus_exporter_scraped_from_the_gateway_counts_the_spend_once(tmp_path: Path) -> None:
    """With the real Prometheus reader: the exposition carries job="<sender>"; scraped with
    honor_labels: true, next to the collector's span-derived series of the same spans (under
    the sender's job), the shipped rules count the spend once."""
    prometheus = pytest.importorskip("opentelemetry.exporter.prometheus")
    client = pytest.importorskip("prometheus_client")
    registry = client.CollectorRegistry()
    reader = sender_job_reader(prometheus.PrometheusMetricReader)(registry=registry)
    gateway = _gateway(Resource.create({"service.name": "genai-cost-gateway"}), reader)
    gateway.accept(_traces({"service.name": "node-agent"}))
    text = client.generate_latest(registry).decode()
    [line] = [line for line in text.splitlines() if line.startswith("gen_ai_cost_usage_USD_total{")]
    labels = re.match(r"gen_ai_cost_usage_USD_total\{(.*)\}", line)
    assert labels is not None and 'job="node-agent"' in labels.group(1)
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed")
    test = tmp_path / "gateway-prometheus.test.yml"
    test.write_text(
        textwrap.dedent(
            f"""\
            rule_files: [{RULES}]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  # scraped from the gateway with honor_labels: true (its labels as exposed)
                  - series: 'gen_ai_cost_usage_USD_total{{instance="gateway:9464",{labels.group(1)}}}'
                    values: '0+0.3x40'
                  # derived by the collector from the spans the gateway forwarded
                  - series: 'gen_ai_cost_spans_usage_USD_total{{job="node-agent",instance="collector",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o",gen_ai_operation_name="chat",gen_ai_cost_category="llm"}}'
                    values: '0+0.3x40'
                promql_expr_test:
                  - expr: round(sum(genai_cost:spend_usd_per_hour), 0.001)
                    eval_time: 20m
                    exp_samples:
                      - labels: '{{}}'
                        value: 18
            """
        )
    )
    done = subprocess.run(["promtool", "test", "rules", str(test)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
