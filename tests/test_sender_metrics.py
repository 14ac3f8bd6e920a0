"""Metrics recorded for other processes, regrouped under each sender's resource."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.resources import Resource

from genai_cost.sender_metrics import SENDER_KEYS, by_sender, sender_labels

SENDERS = st.fixed_dictionaries(
    {},
    optional={key: st.sampled_from(["a", "b", "c"]) for key in SENDER_KEYS},
)


def _recorded(points: list[tuple[dict[str, str], str, float]]) -> MetricsData:
    """What the SDK collects for a counter and a histogram fed ``points``
    (sender labels, a label of the point's own, value)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource({"service.name": "gateway"}), metric_readers=[reader])
    meter = provider.get_meter("test")
    counter = meter.create_counter("cost")
    histogram = meter.create_histogram("trace")
    for sender, own, value in points:
        counter.add(value, {**sender, "category": own})
        histogram.record(value, {**sender})
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data


def _flat(data: MetricsData) -> list[tuple[tuple[tuple[str, Any], ...], str, tuple[tuple[str, Any], ...], float]]:
    """(sender, metric, point attributes, value) of every point, the sender read from the
    resource for regrouped data, from the point for recorded data."""
    out = []
    for resource_metrics in data.resource_metrics:
        resource = dict(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    sender = {k: attributes.pop(k) for k in SENDER_KEYS if k in attributes}
                    if not sender and resource != {"service.name": "gateway"}:
                        sender = {k: v for k, v in resource.items() if k in SENDER_KEYS}
                    value = getattr(point, "sum", None) if metric.name == "trace" else point.value  # type: ignore[union-attr]
                    out.append((tuple(sorted(sender.items())), metric.name, tuple(sorted(attributes.items())), value))
    return sorted(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(SENDERS, st.sampled_from(["llm", "tool"]), st.floats(0, 10)), min_size=1, max_size=12))
def test_regrouping_keeps_every_point_and_moves_only_the_sender_labels(
    points: list[tuple[dict[str, str], str, float]],
) -> None:
    recorded = _recorded(points)
    regrouped = by_sender(recorded)
    assert _flat(regrouped) == _flat(recorded)
    for resource_metrics in regrouped.resource_metrics:
        resource = dict(resource_metrics.resource.attributes)
        senders_here = {k: v for k, v in resource.items() if k in SENDER_KEYS}
        for scope_metrics in resource_metrics.scope_metrics:
            assert scope_metrics.scope.name == "test"
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    assert not set(point.attributes or {}) & set(SENDER_KEYS)
        # a resource is either the gateway's own or made of exactly one sender's labels
        assert resource == {"service.name": "gateway"} or resource == senders_here
    resources = [tuple(sorted(r.resource.attributes.items())) for r in regrouped.resource_metrics]
    assert len(resources) == len(set(resources)), "one ResourceMetrics per sender"


def test_sender_labels_are_the_naming_attributes_that_are_set() -> None:
    resource = Resource(
        {"service.name": "bot", "service.instance.id": "pod-1", "service.namespace": "", "host.name": "h"}
    )
    assert sender_labels(resource) == (("service.name", "bot"), ("service.instance.id", "pod-1"))
    assert sender_labels(Resource({})) == ()
    assert sender_labels(None) == ()


def test_points_without_sender_stay_under_the_original_resource() -> None:
    regrouped = by_sender(_recorded([({}, "llm", 1.5)]))
    assert [dict(r.resource.attributes) for r in regrouped.resource_metrics] == [{"service.name": "gateway"}]
    (scope_metrics,) = regrouped.resource_metrics[0].scope_metrics
    assert {metric.name: len(metric.data.data_points) for metric in scope_metrics.metrics} == {"cost": 1, "trace": 1}
