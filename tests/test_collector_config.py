"""collector-config.yaml and deploy/collector-scaleout.yaml: structure, wiring,
and names. otelcol-contrib does not install here (no registry ships it), so
the configs are checked as data: every component a pipeline names is
defined, connectors join pipelines of the right types, cost metrics are
derived before sampling and made cumulative before Prometheus, and every
attribute key and metric name is one genai-cost emits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from genai_cost import attributes as A
from genai_cost.metrics import prometheus_name

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "collector-config.yaml"
SCALEOUT = ROOT / "deploy" / "collector-scaleout.yaml"
RULES = ROOT / "deploy" / "prometheus" / "genai-cost-rules.yml"

SECTIONS = {"receivers": "receivers", "processors": "processors", "exporters": "exporters"}
#: (exporter-side pipeline type, receiver-side pipeline type) each connector joins.
CONNECTOR_TYPES = {"signaltometrics": ("traces", "metrics"), "forward": ("traces", "traces")}
SAMPLERS = {"tail_sampling", "probabilistic_sampler", "groupbytrace"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def kind(component_id: str) -> str:
    """``otlp/jaeger`` -> ``otlp``."""
    return component_id.split("/", 1)[0]


def emitted_span_keys() -> set[str]:
    """Every span attribute key genai-cost writes, plus the semconv keys its metrics use."""
    keys = {
        value
        for name, value in vars(A).items()
        if name.isupper()
        and isinstance(value, str)
        and value.startswith("gen_ai.")
        and not name.startswith(("METRIC_", "SPAN_METRIC_"))
    }
    keys |= {A.trace_category_key(category) for category in A.CATEGORIES}
    keys |= {A.METRIC_ATTR_PROVIDER, A.METRIC_ATTR_MODEL, A.METRIC_ATTR_OPERATION}
    return keys


@pytest.fixture(scope="module", params=[CONFIG, SCALEOUT], ids=["collector-config", "scaleout"])
def config(request):
    return load(request.param)


def test_every_pipeline_component_is_defined_and_connectors_join_pipelines(config):
    pipelines = config["service"]["pipelines"]
    connectors = config.get("connectors") or {}
    as_exporter: dict[str, list[str]] = {}
    as_receiver: dict[str, list[str]] = {}
    for pipeline_id, pipeline in pipelines.items():
        signal = kind(pipeline_id)
        assert signal in ("traces", "metrics", "logs")
        assert pipeline.get("receivers") and pipeline.get("exporters"), pipeline_id
        for role, section in SECTIONS.items():
            for component in pipeline.get(role, []):
                if role != "processors" and component in connectors:
                    (as_exporter if role == "exporters" else as_receiver).setdefault(component, []).append(signal)
                    continue
                assert component in (config.get(section) or {}), f"{pipeline_id}: {component} is not in {section}"
    for name in connectors:
        assert name in as_exporter and name in as_receiver, f"connector {name} must be an exporter AND a receiver"
        expected = CONNECTOR_TYPES[kind(name)]
        assert expected[0] in as_exporter[name] and expected[1] in as_receiver[name], name
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    # every defined component is used (a typo would leave one dangling)
    used = {c for p in pipelines.values() for role in SECTIONS for c in p.get(role, [])}
    for section in SECTIONS.values():
        for component in config.get(section) or {}:
            assert component in used, f"{component} is defined but in no pipeline"


def test_otlp_in_over_grpc_and_http_and_memory_limiter_first(config):
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    for pipeline_id, pipeline in config["service"]["pipelines"].items():
        if "otlp" in pipeline["receivers"]:
            assert pipeline["processors"][0] == "memory_limiter", pipeline_id
        if pipeline_id.startswith("traces") and "otlp" in pipeline["receivers"]:
            assert "batch" in pipeline["processors"] or "signaltometrics" in pipeline["exporters"]


def test_traces_go_to_jaeger_and_tempo_over_otlp():
    config = load(CONFIG)
    exporters = {e for p in config["service"]["pipelines"].values() if True for e in p["exporters"]}
    assert {"otlp/jaeger", "otlp/tempo"} <= exporters
    for name in ("otlp/jaeger", "otlp/tempo"):
        assert kind(name) == "otlp"
        assert config["exporters"][name]["endpoint"].endswith(":4317}")  # env with a gRPC default
    [traces_out] = [p for p in config["service"]["pipelines"].values() if "otlp/jaeger" in p["exporters"]]
    assert "otlp/tempo" in traces_out["exporters"] and "batch" in traces_out["processors"]


def test_cost_metrics_are_derived_before_any_sampling():
    config = load(CONFIG)
    pipelines = config["service"]["pipelines"]
    [ingest_id] = [pid for pid, p in pipelines.items() if "signaltometrics" in p["exporters"]]
    ingest = pipelines[ingest_id]
    assert ingest["receivers"] == ["otlp"]  # straight from the apps
    assert not {kind(p) for p in ingest["processors"]} & SAMPLERS
    sampled = [pid for pid, p in pipelines.items() if {kind(x) for x in p.get("processors", [])} & SAMPLERS]
    assert sampled, "the example shows where sampling goes"
    for pid in sampled:
        assert "otlp" not in pipelines[pid]["receivers"], f"{pid} samples spans that were not derived first"
        assert "forward" in pipelines[pid]["receivers"]


def test_deltatocumulative_sits_before_the_prometheus_exporter():
    config = load(CONFIG)
    for pipeline_id, pipeline in config["service"]["pipelines"].items():
        if "prometheus" in pipeline["exporters"]:
            assert "deltatocumulative" in pipeline["processors"], pipeline_id
    feeds = [p for p in config["service"]["pipelines"].values() if "prometheus" in p["exporters"]]
    receivers = {r for p in feeds for r in p["receivers"]}
    assert {"signaltometrics", "otlp"} <= receivers  # derived metrics and the package's own


def test_signaltometrics_names_keys_and_values_are_the_packages():
    config = load(CONFIG)
    metrics = config["connectors"]["signaltometrics"]["spans"]
    assert set(config["connectors"]["signaltometrics"]) == {"spans"}
    by_name = {m["name"]: m for m in metrics}
    assert set(by_name) == {
        A.SPAN_METRIC_COST,
        A.SPAN_METRIC_INFRA_COST,
        A.SPAN_METRIC_TRACE_COST,
        A.SPAN_METRIC_UNPRICED,
        A.SPAN_METRIC_BUDGET_EXCEEDED,
    }
    units = {
        A.SPAN_METRIC_COST: A.METRIC_COST_UNIT,
        A.SPAN_METRIC_INFRA_COST: A.METRIC_COST_UNIT,
        A.SPAN_METRIC_TRACE_COST: A.METRIC_TRACE_COST_UNIT,
        A.SPAN_METRIC_UNPRICED: A.METRIC_UNPRICED_UNIT,
        A.SPAN_METRIC_BUDGET_EXCEEDED: A.METRIC_BUDGET_EXCEEDED_UNIT,
    }
    emitted = emitted_span_keys()
    referenced: set[str] = set()
    for name, metric in by_name.items():
        assert metric["unit"] == units[name]
        [shape] = [k for k in ("sum", "histogram", "exponential_histogram", "gauge") if k in metric]
        value = metric[shape]["value"]
        assert value.startswith("Double("), f"{name}: wrap values in Double(...): {value}"
        text = " ".join([value, *metric.get("conditions", [])])
        referenced |= set(re.findall(r'attributes\["([^"]+)"\]', text))
        referenced |= {a["key"] for a in metric.get("attributes", [])}
    assert referenced <= emitted, referenced - emitted
    # what each derived metric reads
    assert by_name[A.SPAN_METRIC_COST]["sum"]["value"] == f'Double(attributes["{A.COST_TOTAL}"])'
    assert [a["key"] for a in by_name[A.SPAN_METRIC_COST]["attributes"]] == [
        A.METRIC_ATTR_PROVIDER,
        A.METRIC_ATTR_MODEL,
        A.METRIC_ATTR_OPERATION,
        A.COST_CATEGORY,
    ]
    assert A.trace_category_key(A.CATEGORY_INFRA) in by_name[A.SPAN_METRIC_INFRA_COST]["sum"]["value"]
    trace = by_name[A.SPAN_METRIC_TRACE_COST]["histogram"]
    assert trace["value"] == f'Double(attributes["{A.TRACE_TOTAL}"])'
    assert tuple(trace["buckets"]) == A.TRACE_COST_BUCKETS
    assert by_name[A.SPAN_METRIC_UNPRICED]["conditions"] == [f'attributes["{A.COST_UNPRICED}"] == true']
    assert [a["key"] for a in by_name[A.SPAN_METRIC_BUDGET_EXCEEDED]["attributes"]] == [A.BUDGET_LIMIT_ATTR]


def test_every_attribute_key_in_the_configs_is_emitted():
    emitted = emitted_span_keys()
    for path in (CONFIG, SCALEOUT):
        keys = set(re.findall(r'attributes\["([^"]+)"\]', path.read_text()))
        assert keys <= emitted, (path.name, keys - emitted)


def test_derived_metrics_reach_the_alert_rules_under_their_prometheus_names():
    config = load(CONFIG)
    rules = RULES.read_text()
    for metric in config["connectors"]["signaltometrics"]["spans"]:
        kind_ = "histogram" if "histogram" in metric else "counter"
        base = prometheus_name(metric["name"], metric["unit"], kind_)
        assert (base + "_bucket" if kind_ == "histogram" else base) in rules, base


def test_scaleout_front_tier_routes_by_trace_id():
    config = load(SCALEOUT)
    pipelines = config["service"]["pipelines"]
    [traces] = [p for pid, p in pipelines.items() if kind(pid) == "traces"]
    [exporter] = traces["exporters"]
    assert kind(exporter) == "loadbalancing"
    settings = config["exporters"][exporter]
    assert settings["routing_key"] == "traceID"
    assert "otlp" in settings["protocol"]  # the only protocol it speaks
    assert "dns" in settings["resolver"] or "static" in settings["resolver"]
    # the front tier samples nothing and derives nothing: the gateways do, on whole traces
    assert not {kind(p) for p in traces["processors"]} & SAMPLERS
    assert "connectors" not in config
    metrics = [p for pid, p in pipelines.items() if kind(pid) == "metrics"]
    for pipeline in metrics:
        for name in pipeline["exporters"]:
            assert config["exporters"][name]["routing_key"] in ("service", "resource", "streamID")


def test_tail_sampling_keeps_expensive_budget_hit_and_unpriced_traces():
    config = load(CONFIG)
    policies = config["processors"]["tail_sampling"]["policies"]
    conditions = " ".join(c for p in policies if p["type"] == "ottl_condition" for c in p["ottl_condition"]["span"])
    assert f'attributes["{A.TRACE_TOTAL}"]' in conditions
    assert f'attributes["{A.BUDGET_LIMIT_ATTR}"]' in conditions
    assert f'attributes["{A.COST_UNPRICED}"]' in conditions
