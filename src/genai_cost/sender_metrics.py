"""Metrics recorded for other processes, exported under each process's own resource.

The gateway records cost metrics for spans that many senders made. A
``MeterProvider`` has one resource, the gateway's, so Prometheus would file
every sender's spend under the gateway's ``job``: the recording rules, which
group by ``job``, would see one service, and would count it a second time next
to the metrics the collector derives from the same spans under each sender's
``job`` (``docs/alerting.md``: the two sources combine per ``job``).

So the gateway labels each series with what names the sender's service
(:data:`SERIES_KEYS`: ``service.name`` and ``service.namespace``, Prometheus'
``job``), and :class:`SenderResourceExporter`, wrapped around the real metric
exporter, moves those labels back into a resource of their own before export, as
the collector's ``groupbyattrs`` processor would. That resource's
``service.instance.id`` (Prometheus' ``instance``) is the gateway's own, as the
collector gives its own to the metrics it derives from spans (``resource/derived``
in ``collector-config.yaml``): the gateway wrote these series, and

* several gateways (a scale-out routing by trace id, where every gateway sees
  every sender) each write series of their own, so ``sum()`` over them is the
  spend, instead of writing one series each with a partial total (a counter that
  goes down and up, which ``increase()`` counts as resets);
* a sender's instances (a new ``service.instance.id`` at every pod restart) do
  not each make series that live as long as the gateway: their number stays that
  of the services, models and categories, well under the series limits.

With a pull reader (the ``prometheus`` exporter, scraped from the gateway) there
is no resource to move labels into: :func:`sender_job_reader` gives each point the
``job`` label the collector's ``prometheus`` exporter would give the sender's
series, for a scrape with ``honor_labels: true``. That reader also says where it
listens (:func:`prometheus_endpoint`): by default on ``localhost``, which nothing
outside the gateway's machine or container can scrape.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource

#: The resource attributes that name a sender (Prometheus ``job`` and ``instance``); the
#: regrouping moves any of them found on a point into the point's resource.
SENDER_KEYS: tuple[str, ...] = ("service.name", "service.namespace", "service.instance.id")
#: What the gateway labels its series with: the sender's service (Prometheus ``job``),
#: not its instance (see the module's docstring).
SERIES_KEYS: tuple[str, ...] = ("service.name", "service.namespace")
_INSTANCE = "service.instance.id"


def sender_labels(resource: Resource | None, keys: tuple[str, ...] = SENDER_KEYS) -> tuple[tuple[str, str], ...]:
    """The sender-naming attributes (``keys``) of a span's resource that are set, as
    metric labels."""
    if resource is None:
        return ()
    attributes = resource.attributes
    labels = []
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            labels.append((key, value))
    return tuple(labels)


def series_labels(resource: Resource | None) -> tuple[tuple[str, str], ...]:
    """What the gateway labels a span's metrics with: :data:`SERIES_KEYS` of its resource."""
    return sender_labels(resource, SERIES_KEYS)


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
    original resource for points that name none), scopes and metrics kept. A
    sender's resource is made of the :data:`SENDER_KEYS` labels of its points, its
    ``service.instance.id`` being that of the original resource (the recording
    process: the gateway) when that has one."""
    #: group -> (resource, schema URL, {scope: (scope metrics, {metric name: (metric, points)})})
    grouped: dict[object, tuple[Resource, str, dict[int, tuple[ScopeMetrics, dict[str, tuple[Any, list[Any]]]]]]] = {}
    for resource_metrics in metrics_data.resource_metrics:
        recorder = resource_metrics.resource.attributes.get(_INSTANCE)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    attributes: Mapping[str, Any] = point.attributes or {}
                    labels = {key: attributes[key] for key in SENDER_KEYS if key in attributes}
                    if labels:
                        point = replace(point, attributes={k: v for k, v in attributes.items() if k not in labels})
                        if isinstance(recorder, str) and recorder:
                            labels[_INSTANCE] = recorder
                        group: object = tuple(sorted(labels.items()))
                        resource, schema_url = Resource(labels), ""
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


def sender_job(metrics_data: MetricsData) -> MetricsData:
    """``metrics_data`` with each point's :data:`SENDER_KEYS` labels replaced by the
    ``job`` label Prometheus gives the sender's own series
    (``service.namespace/service.name``, or ``service.name``), for a pull reader,
    whose points cannot be moved to a resource of their own. Points that name no
    service are left as they are (under the scraped process's ``job``)."""
    return MetricsData(
        resource_metrics=[
            replace(
                resource_metrics,
                scope_metrics=[
                    replace(scope_metrics, metrics=[_metric_with_job(metric) for metric in scope_metrics.metrics])
                    for scope_metrics in resource_metrics.scope_metrics
                ],
            )
            for resource_metrics in metrics_data.resource_metrics
        ]
    )


def _metric_with_job(metric: Any) -> Any:
    data = metric.data
    return replace(metric, data=replace(data, data_points=[_with_job(point) for point in data.data_points]))


def _with_job(point: Any) -> Any:
    attributes: Mapping[str, Any] = point.attributes or {}
    name = attributes.get("service.name")
    if not isinstance(name, str) or not name:
        return point
    namespace = attributes.get("service.namespace")
    job = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
    kept = {k: v for k, v in attributes.items() if k not in SENDER_KEYS}
    kept["job"] = job
    return replace(point, attributes=kept)


def sender_job_reader(kind: type[MetricReader]) -> type[MetricReader]:
    """A subclass of ``kind`` (a pull reader: the ``prometheus`` exporter's) whose
    collections go through :func:`sender_job` before the reader sees them. When ``kind``
    is the one ``OTEL_METRICS_EXPORTER=prometheus`` names, which starts an HTTP server as
    it is made, making one prints where that server listens, as the gateway prints where
    its receivers do, and a port it cannot take is named with its variables."""
    endpoint = prometheus_endpoint() if _serves_itself(kind) else None

    class SenderJobReader(kind):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().__init__(*args, **kwargs)
            except OSError as exc:
                if endpoint is None:
                    raise
                raise OSError(
                    exc.errno,
                    f"the Prometheus endpoint cannot listen on {endpoint} "
                    f"(OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT): {exc.strerror or exc}",
                ) from exc
            if endpoint is not None:
                print(f"genai-cost gateway: cost metrics for Prometheus on {endpoint}{_reach()}", file=sys.stderr)

        def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
            super()._receive_metrics(sender_job(metrics_data), timeout_millis=timeout_millis, **kwargs)

    SenderJobReader.__name__ = SenderJobReader.__qualname__ = f"SenderJob{kind.__name__}"
    return SenderJobReader


#: Where the ``prometheus`` exporter's reader listens unless told (the OpenTelemetry
#: specification's defaults for ``OTEL_EXPORTER_PROMETHEUS_HOST`` and ``_PORT``).
PROMETHEUS_DEFAULT_HOST = "localhost"
PROMETHEUS_DEFAULT_PORT = 9464


def prometheus_endpoint() -> str:
    """Where the ``prometheus`` exporter's reader serves the metrics, from the variables it
    reads as it starts its server (``OTEL_EXPORTER_PROMETHEUS_HOST``, ``_PORT``)."""
    host, port = _prometheus_address()
    host = host or "0.0.0.0"  # noqa: S104 (an empty host is every address: named as one)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"


def _prometheus_address() -> tuple[str, str]:
    host = os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", PROMETHEUS_DEFAULT_HOST)
    return host, os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", str(PROMETHEUS_DEFAULT_PORT)).strip()


def _reach() -> str:
    """Who can scrape :func:`prometheus_endpoint`, when that is not plain: on ``localhost``
    (the default) nothing outside this machine, nor outside its container, not even the
    container's host, which is what a user who sees no metrics needs to be told."""
    host, port = _prometheus_address()
    scope = _address_scope(host)
    if scope == "loopback":
        return (
            " (this machine only: to be scraped from another host or container, "
            "set OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0)"
        )
    if scope == "every":
        return f" (every address of this machine, port {port})"
    return ""


def _address_scope(host: str) -> str:
    """``loopback`` (reached from this machine only), ``every`` (listening on every address:
    empty, ``0.0.0.0``, ``::``) or ``""`` (a name or address of its own)."""
    if not host:
        return "every"
    if host.lower() == "localhost":
        return "loopback"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return ""
    if address.is_unspecified:
        return "every"
    return "loopback" if address.is_loopback else ""


def _serves_itself(kind: type[MetricReader]) -> bool:
    """Whether ``kind`` is (or extends) the reader the ``prometheus`` entry point names, which
    starts its own HTTP server from the variables. Its class is private to the exporter: a
    release without it is not recognised, and then only the line saying where it listens is
    missing."""
    try:
        from opentelemetry.exporter import prometheus
    except ImportError:
        return False
    auto = getattr(prometheus, "_AutoPrometheusMetricReader", None)
    return isinstance(auto, type) and issubclass(kind, auto)
