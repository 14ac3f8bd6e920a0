"""Reading what the SDK's console exporters print: one pretty JSON object per span or
per metrics export, one after the other on stdout."""

from __future__ import annotations

import json
from typing import Any


def json_objects(stdout: str) -> list[dict[str, Any]]:
    """Every JSON object printed on stdout, in order."""
    decoder = json.JSONDecoder()
    found, index = [], 0
    while (start := stdout.find("{", index)) >= 0:
        obj, index = decoder.raw_decode(stdout, start)
        found.append(obj)
    return found


def metric_points(stdout: str, name: str) -> list[dict[str, Any]]:
    """The data points of metric ``name`` in the last console export that has it
    (cumulative temporality: the last export holds the totals)."""
    last: list[dict[str, Any]] = []
    for obj in json_objects(stdout):
        for resource in obj.get("resource_metrics", ()):
            for scope in resource["scope_metrics"]:
                for metric in scope["metrics"]:
                    if metric["name"] == name:
                        last = metric["data"]["data_points"]
    return last


def metric_sums(data: Any) -> dict[str, float]:
    """{metric name: sum of its points' values} of one SDK collection (``MetricsData``,
    or ``None``; histograms, which have no single value, are left out)."""
    out: dict[str, float] = {}
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is not None:
                        out[metric.name] = out.get(metric.name, 0.0) + value
    return out
