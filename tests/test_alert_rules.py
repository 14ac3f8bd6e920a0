"""The Prometheus rules in deploy/prometheus: promtool checks and unit tests,
and the names they use are exactly the ones the package emits.

promtool comes from Debian's ``prometheus`` package (2.42); this module
installs it when it is missing and the machine allows (root + apt-get),
bounded in time. Only if that fails are the promtool tests skipped, with the
reason in the summary and a warning.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Histogram, InMemoryMetricReader, Sum
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
from genai_cost.gateway import CostGateway
from genai_cost.metrics import GATEWAY_METRICS, METRICS, prometheus_label, prometheus_name
from genai_cost.pricing import Catalog
from genai_cost.sender_metrics import by_sender

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "genai-cost-rules.yml"
RULES_TEST = ROOT / "deploy" / "prometheus" / "genai-cost-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "genai-cost-dashboard.json"

_INSTALL_TIMEOUT_S = 600

#: PromQL words that are not metric or label names.
PROMQL_WORDS = {
    "sum",
    "by",
    "rate",
    "increase",
    "or",
    "on",
    "unless",
    "offset",
    "label_replace",
    "histogram_quantile",
    "and",
    "ignoring",
    "without",
    "vector",
    "round",
    "avg",
    "max",
    "min",
    "count",
    "topk",
    "bool",
}


def _ensure_promtool() -> str | None:
    """promtool on PATH, installing Debian's prometheus package if needed:
    apt-get install, and if that fails apt-get update and install again, all
    within _INSTALL_TIMEOUT_S."""
    found = shutil.which("promtool")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + _INSTALL_TIMEOUT_S
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "prometheus"]
    for command in (install, [apt, "update", "-q"], install):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            subprocess.run(command, env=env, capture_output=True, timeout=remaining, check=False)
        except subprocess.TimeoutExpired:
            return None
        found = shutil.which("promtool")
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def promtool() -> str:
    found = _ensure_promtool()
    if found is None:
        message = (
            "PROMTOOL IS MISSING and could not be installed (apt-get install -y prometheus): "
            "the Prometheus alert rules were NOT unit-tested"
        )
        warnings.warn(message, stacklevel=1)
        sys.__stderr__.write(f"\n*** {message} ***\n")
        pytest.skip(message)
    return found


def test_rules_pass_promtool_check(promtool):
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rules_unit_tests_pass(promtool):
    done = subprocess.run(
        [promtool, "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


# ------------------------------------------------------------------ names


def _read_back(data) -> dict[str, tuple[str, str, set[str]]]:
    """{name: (unit, kind, attribute keys)} of what a collection holds."""
    found: dict[str, tuple[str, str, set[str]]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if isinstance(metric.data, Histogram):
                    kind = "histogram"
                elif isinstance(metric.data, Sum) and metric.data.is_monotonic:
                    kind = "counter"
                elif isinstance(metric.data, Sum):
                    kind = "updowncounter"
                else:
                    kind = "other"
                keys: set[str] = set()
                for point in metric.data.data_points:
                    keys.update(point.attributes or {})
                found[metric.name] = (metric.unit, kind, keys)
    return found


@functools.lru_cache(maxsize=1)
def emitted_metrics():
    """(name, unit, kind, attribute keys) of what the package emits: in process and in a gateway."""
    found = dict(emitted_in_process())
    for name, (unit, kind, keys) in emitted_by_gateway().items():
        if name in found:
            assert found[name][:2] == (unit, kind), name
            keys = keys | found[name][2]
        found[name] = (unit, kind, keys)
    return found


@functools.lru_cache(maxsize=1)
def emitted_by_gateway():
    """A real CostGateway with metrics on (as ``genai-cost gateway`` has with
    OTEL_METRICS_EXPORTER), fed real OTLP requests, one of which its upstream fails; read
    back as it exports them (the senders' labels moved into resources: SenderResourceExporter)."""
    from test_gateway import _agent, _Gated, _record, _request

    reader = InMemoryMetricReader()
    upstream = _Gated(fail_first=True)
    upstream.release.set()
    gateway = CostGateway(
        upstream, catalog=Catalog.load(), settings=CostSettings(), meter_provider=MeterProvider(metric_readers=[reader])
    )
    sent = _record(_agent)
    for _ in range(2):  # failed, then forwarded on the retry
        gateway.accept(_request(sent))
    data = reader.get_metrics_data()
    assert data is not None
    return _read_back(by_sender(data))


@functools.lru_cache(maxsize=1)
def emitted_in_process():
    """Run the package's metrics in process and read back what it emits."""
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]))
    budget = Budget(max_cost_usd=0.001, on_exceeded=metrics.budget_exceeded)
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(
        memory,
        on_trace_complete=metrics.on_trace_complete,
        trace_layers=[InfraCostLayer(InfraAllocation(100.0, 1000))],
    )
    processor = CostSpanProcessor(
        SimpleSpanProcessor(rollup), catalog=Catalog.load(), settings=CostSettings(), listeners=[metrics, budget]
    )
    metrics.watch_processor(processor)
    metrics.watch_rollup(rollup)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for model in ("gpt-4o", "no-such-model"):
            with tracer.start_as_current_span(
                "chat",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": model,
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 100,
                },
            ):
                pass
    return _read_back(reader.get_metrics_data())


def prometheus_series(name: str, unit: str, kind: str) -> set[str]:
    base = prometheus_name(name, unit, kind)
    return {f"{base}_bucket", f"{base}_sum", f"{base}_count"} if kind == "histogram" else {base}


ALL_SERIES = set().union(*(prometheus_series(*m) for m in METRICS))
METRIC_LABEL_KEYS = (
    A.METRIC_ATTR_PROVIDER,
    A.METRIC_ATTR_MODEL,
    A.METRIC_ATTR_OPERATION,
    A.COST_CATEGORY,
    A.COST_UNPRICED_REASON,
    A.BUDGET_LIMIT_ATTR,
    A.METRIC_ATTR_COMPONENT,
    A.METRIC_ATTR_ROLLUP_ACTION,
    A.METRIC_ATTR_GATEWAY_OUTCOME,
)
ALLOWED_LABELS = {"job", "le", "instance"} | {prometheus_label(k) for k in METRIC_LABEL_KEYS}


def rules_doc():
    return yaml.safe_load(RULES.read_text())


def recorded_names():
    return {rule["record"] for group in rules_doc()["groups"] for rule in group["rules"] if "record" in rule}


def names_in(expr: str) -> tuple[set[str], set[str]]:
    """(series and recorded-rule names, label names) an expression refers to."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    labels = set()
    for group in re.findall(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)", without_strings):
        labels.update(x.strip() for x in group.split(",") if x.strip())
    labels.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*=~?", without_strings))
    labels.update(re.findall(r'label_replace\([^,]+,\s*"?([a-zA-Z_]\w*)', expr))
    cleaned = re.sub(r"\b(?:by|on|without|ignoring)\s*\([^)]*\)", " ", without_strings)
    cleaned = re.sub(r"\{[^}]*\}", " ", cleaned)
    cleaned = re.sub(r"\[[^\]]*\]", " ", cleaned)
    cleaned = re.sub(r"\boffset\s+\d+[smhdw]", " ", cleaned)
    tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", cleaned)) - PROMQL_WORDS
    return tokens, labels


def test_the_package_emits_what_the_mapping_table_says():
    emitted = emitted_metrics()
    package = {m for m in METRICS if not m[0].startswith("gen_ai.cost.spans.")}
    assert {name: (unit, kind) for name, (unit, kind, _) in emitted.items()} == {
        name: (unit, kind) for name, unit, kind in package
    }
    for _, _, keys in emitted.values():
        assert keys <= set(METRIC_LABEL_KEYS)
    # the gateway's own counters come from a gateway only, and every one of them does
    gateway_only = {name for name, _, _ in GATEWAY_METRICS}
    assert gateway_only <= set(emitted_by_gateway())
    assert not gateway_only & set(emitted_in_process())


def test_the_gateway_reports_every_outcome_and_its_own_component():
    emitted = emitted_by_gateway()
    assert emitted[A.METRIC_GATEWAY_REQUESTS][2] == emitted[A.METRIC_GATEWAY_SPANS][2] == {A.METRIC_ATTR_GATEWAY_OUTCOME}
    assert A.METRIC_ATTR_COMPONENT in emitted[A.METRIC_INTERNAL_ERRORS][2]


def test_the_rules_read_the_outcomes_the_gateway_reports():
    """An outcome misspelled in a rule's matcher selects nothing, and its alert never fires."""
    outcomes = set(A.GATEWAY_REQUEST_OUTCOMES) | set(A.GATEWAY_SPAN_OUTCOMES)
    label = prometheus_label(A.METRIC_ATTR_GATEWAY_OUTCOME)
    for text in (RULES.read_text(), RULES_TEST.read_text()):
        used = [v for m in re.findall(rf'{label}\s*=~?\s*"([^"]*)"', text) for v in m.split("|")]
        assert used, f"no {label} matcher"
        assert set(used) <= outcomes


def test_rules_use_exactly_the_emitted_names():
    emitted = emitted_metrics()
    recorded = recorded_names()
    used_series: set[str] = set()
    for group in rules_doc()["groups"]:
        for rule in group["rules"]:
            tokens, labels = names_in(rule["expr"])
            unknown = tokens - ALL_SERIES - recorded
            assert not unknown, f"{rule.get('record') or rule.get('alert')}: unknown names {unknown}"
            assert labels <= ALLOWED_LABELS, (
                f"{rule.get('record') or rule.get('alert')}: unknown labels {labels - ALLOWED_LABELS}"
            )
            used_series |= tokens & ALL_SERIES
            for text in rule.get("annotations", {}).values():
                assert set(re.findall(r"\$labels\.(\w+)", text)) <= ALLOWED_LABELS
    # every metric the package emits, and every one the collector derives, is used
    for name, (unit, kind, keys) in emitted.items():
        assert prometheus_series(name, unit, kind) & used_series, name
        for key in keys:
            assert prometheus_label(key) in ALLOWED_LABELS
    for metric in METRICS:
        assert prometheus_series(*metric) & used_series, metric
    # the infrastructure category the rules write is the package's
    assert f'"gen_ai_cost_category", "{A.CATEGORY_INFRA}"' in RULES.read_text()


def test_rule_tests_feed_real_series_names():
    doc = yaml.safe_load(RULES_TEST.read_text())
    for case in doc["tests"]:
        for series in case.get("input_series", []):
            name = series["series"].split("{", 1)[0]
            assert name in ALL_SERIES, name
            labels = set(re.findall(r"([a-zA-Z_]\w*)=", series["series"]))
            assert labels <= ALLOWED_LABELS
    alerts = {rule["alert"] for group in rules_doc()["groups"] for rule in group["rules"] if "alert" in rule}
    tested = {
        test["alertname"] for case in doc["tests"] for test in case.get("alert_rule_test", []) if test.get("exp_alerts")
    }
    assert (
        alerts
        == tested
        == {
            "GenAICostSpendRateHigh",
            "GenAICostPerTraceP95High",
            "GenAICostUnpricedSpans",
            "GenAICostBudgetHits",
            "GenAICostRollupOverflow",
            "GenAICostInternalErrors",
            "GenAICostGatewaySpansLost",
            "GenAICostGatewayUpstreamFailing",
        }
    )


def test_trace_buckets_have_no_integer_bounds():
    # Prometheus 3 rewrites le="1" to le="1.0": integer bounds break rules across versions.
    assert all(bound != int(bound) for bound in A.TRACE_COST_BUCKETS)
    assert list(A.TRACE_COST_BUCKETS) == sorted(set(A.TRACE_COST_BUCKETS))


def test_dashboard_uses_recorded_series_and_known_labels():
    import json

    dashboard = json.loads(DASHBOARD.read_text())
    recorded = recorded_names()
    titles = " | ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("spend rate", "cost per trace", "by model", "by category", "unpriced"):
        assert topic in titles
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    variable = dashboard["templating"]["list"][1]["query"]["query"]
    assert variable == "label_values(genai_cost:spend_usd_per_hour, job)"
    assert "genai_cost:spend_usd_per_hour" in recorded
    for expr in exprs:
        tokens, labels = names_in(expr.replace("$job", "x"))
        tokens -= {"label_values", "x"}
        assert tokens <= recorded | ALL_SERIES, expr
        assert labels <= ALLOWED_LABELS, expr
