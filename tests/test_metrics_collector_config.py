"""collector-config.yaml against what the signaltometrics connector really emits, on
the releases before and after its rename (contrib v0.146) and its `sum.monotonic`
option (2026-03). otelcol-contrib does not run here: the connector's behaviour is
modelled from its source, and the config is checked as data.

* The connector's sums are non-monotonic unless configured (its aggregator never
  sets IsMonotonic; `sum.monotonic` exists only in releases after 2026-03). A
  non-monotonic sum is a gauge for the `prometheus` exporter: no `_total`, so the
  rules, which query `gen_ai_cost_spans_*_total`, would see nothing of the
  span-derived source. Every derived sum must reach Prometheus as a counter on
  every supported version.
* The connector adds the collector's instance id as the resource attribute
  `<type>.service.instance.id`, the type being `signaltometrics` up to v0.145 and
  `signal_to_metrics` since v0.146 (also when configured under the old name, a
  deprecated alias). resource/derived must copy it under both names, or several
  collectors write the same derived series again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from genai_cost.metrics import prometheus_name

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "collector-config.yaml"
RULES = ROOT / "deploy" / "prometheus" / "genai-cost-rules.yml"

#: The connector's type names: accepted as a config key (and used as the prefix of the
#: collector instance-id attribute), by release.
CONNECTOR_TYPES = {"v0.145": "signaltometrics", "v0.146": "signal_to_metrics"}
#: The names each release accepts for the connector (the old one is a deprecated alias since v0.146).
ACCEPTED_NAMES = {"v0.145": {"signaltometrics"}, "v0.146": {"signal_to_metrics", "signaltometrics"}}
#: What marks a sum of the metric context as monotonic in a transform statement.
_SET_MONOTONIC = re.compile(
    r"^set\((?:metric\.)?is_monotonic,\s*true\)(?:\s+where\s+(?:metric\.)?type\s*==\s*METRIC_DATA_TYPE_SUM)?$"
)


def _config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())  # type: ignore[no-any-return]


def _connector(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(name, settings)] = [
        (name, settings)
        for name, settings in config["connectors"].items()
        if name.split("/", 1)[0] in {"signaltometrics", "signal_to_metrics"}
    ]
    return name, settings


def _pipeline_from(config: dict[str, Any], receiver: str) -> dict[str, Any]:
    [pipeline] = [p for p in config["service"]["pipelines"].values() if receiver in p["receivers"]]
    return pipeline  # type: ignore[no-any-return]


def _sets_sums_monotonic(config: dict[str, Any], processor_id: str) -> bool:
    """Whether ``processor_id`` is a transform processor that marks every sum it sees monotonic."""
    if processor_id.split("/", 1)[0] != "transform":
        return False
    for group in config["processors"][processor_id].get("metric_statements", []):
        if group.get("context") != "metric":
            continue
        if any(_SET_MONOTONIC.match(statement.strip()) for statement in group.get("statements", [])):
            return True
    return False


def _emitted_monotonic(pipeline: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether the derived sums reach the prometheus exporter as monotonic on every
    supported release. The connector's own `sum.monotonic` does not count: releases
    before 2026-03 do not have it, and emit the sum as non-monotonic."""
    return any(_sets_sums_monotonic(config, processor) for processor in pipeline["processors"])


@pytest.mark.parametrize("release", ["v0.135", "v0.145", "v0.146", "v0.148"])
def test_every_derived_sum_reaches_prometheus_as_a_counter_the_rules_query(release: str) -> None:
    config = _config()
    name, connector = _connector(config)
    assert name in ACCEPTED_NAMES["v0.145" if release < "v0.146" else "v0.146"], (release, name)
    pipeline = _pipeline_from(config, name)
    assert "prometheus" in pipeline["exporters"]
    rules = RULES.read_text()
    sums = [metric for metric in connector["spans"] if "sum" in metric]
    assert len(sums) == 4
    for metric in sums:
        monotonic = _emitted_monotonic(pipeline, config)
        exposed = prometheus_name(metric["name"], metric.get("unit", ""), "counter" if monotonic else "updowncounter")
        assert exposed.endswith("_total") and exposed in rules, (release, metric["name"], exposed)


def test_derived_sums_are_marked_monotonic_before_they_are_made_cumulative() -> None:
    """deltatocumulative keeps the flag it is given; the prometheus exporter reads it."""
    config = _config()
    name, _ = _connector(config)
    processors = _pipeline_from(config, name)["processors"]
    [marking] = [index for index, processor in enumerate(processors) if _sets_sums_monotonic(config, processor)]
    assert marking < processors.index("deltatocumulative")
    assert config["processors"][processors[marking]].get("error_mode") == "ignore"


@pytest.mark.parametrize("release", sorted(CONNECTOR_TYPES))
def test_the_collector_instance_id_is_copied_under_the_name_each_release_writes(release: str) -> None:
    """The derived series get the collector's instance id as their service.instance.id on
    every release: the connector writes `<type>.service.instance.id`, and an upsert from an
    attribute that is absent does nothing (the resource processor's attraction code)."""
    config = _config()
    name, _ = _connector(config)
    pipeline = _pipeline_from(config, name)
    written = {f"{CONNECTOR_TYPES[release]}.service.instance.id": "collector-1", "service.instance.id": "app-pod-7"}
    resource = dict(written)
    for processor in pipeline["processors"]:
        if processor.split("/", 1)[0] != "resource":
            continue
        for action in config["processors"][processor]["attributes"]:
            if action["action"] == "upsert" and action.get("from_attribute") in resource:
                resource[action["key"]] = resource[action["from_attribute"]]
    assert resource["service.instance.id"] == "collector-1", release
