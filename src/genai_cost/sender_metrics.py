"""Metrics recorded for other processes, exported under each process's own resource.

The gateway records cost metrics for spans that many senders made. A
``MeterProvider`` has one resource, the gateway's, so Prometheus would file
every sender's spend under the gateway's ``job``: the recording rules, which
group by ``job``, would see one service, and would count it a second time next
to the metrics the collector derives from the same spans under each sender's
``job`` (``docs/alerting.md``: the two sources combine per ``job``).

So the gateway labels each series with the sender's identifying resource
attributes (:data:`SENDER_KEYS`), and :class:`SenderResourceExporter`, wrapped
around the real metric exporter, moves those labels back into a resource of
their own before export, as the collector's ``groupbyattrs`` processor would.
The metrics then arrive exactly as if each sender had recorded them in process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource

#: The resource attributes that name a sender (Prometheus ``job`` and ``instance``).
SENDER_KEYS: tuple[str, ...] = ("service.name", "service.namespace", "service.instance.id")


def sender_labels(resource: Resource | None) -> tuple[tuple[str, str], ...]:
    """The sender-naming attributes of a span's resource, as metric labels."""
    if resource is None:
        return ()
    attributes = resource.attributes
    labels = []
    for key in SENDER_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            labels.append((key, value))
    return tuple(labels)


class SenderResourceExporter(MetricExporter):
    """Exports through ``exporter``, each data point that carries sender labels
    moved to a resource made of them (and the labels taken off the point).
    Points without them stay under the original resource."""

    def __init__(self, exporter: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporter = exporter

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return self._exporter.export(by_sender(metrics_data), timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis=timeout_millis, **kwargs)


def by_sender(metrics_data: MetricsData) -> MetricsData:
    """``metrics_data`` regrouped: one ``ResourceMetrics`` per sender (the
    original resource for points that name none), scopes and metrics kept."""
    #: group -> (resource, schema URL, {scope: (scope metrics, {metric name: (metric, points)})})
    grouped: dict[object, tuple[Resource, str, dict[int, tuple[ScopeMetrics, dict[str, tuple[Any, list[Any]]]]]]] = {}
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    attributes: Mapping[str, Any] = point.attributes or {}
                    labels = {key: attributes[key] for key in SENDER_KEYS if key in attributes}
                    if labels:
                        group: object = tuple(labels.items())
                        resource, schema_url = Resource(labels), ""
                        point = replace(point, attributes={k: v for k, v in attributes.items() if k not in labels})
                    else:
                        group, resource = id(resource_metrics), resource_metrics.resource
                        schema_url = resource_metrics.schema_url
                    scopes = grouped.setdefault(group, (resource, schema_url, {}))[2]
                    metrics = scopes.setdefault(id(scope_metrics), (scope_metrics, {}))[1]
                    metrics.setdefault(metric.name, (metric, []))[1].append(point)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource,
                scope_metrics=[
                    replace(
                        scope_metrics,
                        metrics=[
                            replace(metric, data=replace(metric.data, data_points=points))
                            for metric, points in metrics.values()
                        ],
                    )
                    for scope_metrics, metrics in scopes.values()
                ],
                schema_url=schema_url,
            )
            for resource, schema_url, scopes in grouped.values()
        ]
    )
