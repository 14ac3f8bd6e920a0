"""The gateway's own counters as metrics, and the unpriced spans in ``GET /health``.

A production audit: "you cannot alert on spans dropped: the gateway's failure counters are not
metrics". They were served as JSON at ``GET /health`` only. With metrics on
(``OTEL_METRICS_EXPORTER``), the gateway now reports them as ``gen_ai.cost.gateway.requests`` and
``gen_ai.cost.gateway.spans`` (by ``gen_ai.cost.gateway.outcome``), its own errors in
``gen_ai.cost.internal_errors`` (``gen_ai.cost.component=gateway``), all under its own service.

Real OTLP throughout: the senders are the SDK's own exporters (or the SDK's encoder), the
gateway a real :class:`CostGateway` behind its real HTTP receiver, the metrics read back with
the SDK's InMemoryMetricReader, regrouped as the gateway exports them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from genai_cost import attributes as A
from genai_cost import gateway as gateway_module
from genai_cost.config import CostSettings
from genai_cost.gateway import CostGateway, GatewayStats, Unavailable
from genai_cost.gateway_http import serve_http
from genai_cost.pricing.catalog import Catalog
from genai_cost.sender_metrics import by_sender
from support.gateway import CHAT
from support.net import HOST, wait_for
from test_gateway import _agent, _Gated, _in_thread, _post, _record, _request
from test_gateway_refusals import _HttpUpstream, needs_status_hook

GATEWAY_RESOURCE = {"service.name": "genai-cost-gateway", "service.instance.id": "gateway-1"}
#: /health's name of each series (metric, outcome or component).
HEALTH_NAMES = {
    (A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_RECEIVED): "requests",
    (A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_REFUSED): "requests_refused",
    (A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_BUSY): "requests_busy",
    (A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_NOT_FORWARDED): "requests_not_forwarded",
    (A.METRIC_GATEWAY_SPANS, A.GATEWAY_RECEIVED): "spans_received",
    (A.METRIC_GATEWAY_SPANS, A.GATEWAY_REJECTED): "spans_rejected",
    (A.METRIC_GATEWAY_SPANS, A.GATEWAY_NOT_FORWARDED): "spans_not_forwarded",
    (A.METRIC_GATEWAY_SPANS, A.GATEWAY_REFUSED_UPSTREAM): "spans_refused_upstream",
    (A.METRIC_GATEWAY_SPANS, A.GATEWAY_FORGOTTEN): "spans_forgotten",
    (A.METRIC_GATEWAY_SPANS, A.GATEWAY_RESENT): "spans_resent",
    (A.METRIC_INTERNAL_ERRORS, A.COMPONENT_GATEWAY): "internal_errors",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _metered(exporter: SpanExporter, catalog: Catalog, **kwargs: Any) -> tuple[CostGateway, InMemoryMetricReader]:
    """A gateway recording metrics, as ``genai-cost gateway`` does with OTEL_METRICS_EXPORTER."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create(GATEWAY_RESOURCE))
    gateway = CostGateway(exporter, catalog=catalog, settings=CostSettings(), meter_provider=provider, **kwargs)
    return gateway, reader


def _series(reader: InMemoryMetricReader) -> dict[tuple[str, str], int]:
    """(metric, outcome or component) -> value of the gateway's own series, from one collection
    as the gateway exports it (regrouped by sender: these stay under the gateway's resource)."""
    data = reader.get_metrics_data()
    if data is None:
        return {}
    out = {}
    for resource_metrics in by_sender(data).resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name not in (A.METRIC_GATEWAY_REQUESTS, A.METRIC_GATEWAY_SPANS, A.METRIC_INTERNAL_ERRORS):
                    continue
                assert dict(resource_metrics.resource.attributes)["service.name"] == "genai-cost-gateway"
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    value = attributes.get(A.METRIC_ATTR_GATEWAY_OUTCOME) or attributes[A.METRIC_ATTR_COMPONENT]
                    out[metric.name, value] = point.value
    return out


def _gateway_series(series: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    return {key: value for key, value in series.items() if key in HEALTH_NAMES}


def _expected(**counts: int) -> dict[tuple[str, str], int]:
    """Every gateway series at 0 but ``counts`` (named as in /health)."""
    by_name = {name: key for key, name in HEALTH_NAMES.items()}
    assert set(counts) <= set(by_name)
    return {key: counts.get(name, 0) for key, name in HEALTH_NAMES.items()}


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.loads(response.read()))


def test_every_counter_of_health_is_a_metric() -> None:
    """A counter added to GatewayStats without a metric would be one more failure nobody can alert on."""
    assert set(HEALTH_NAMES.values()) == set(GatewayStats.__dataclass_fields__)
    assert {(metric, value) for _, metric, value in gateway_module._METERED} == set(HEALTH_NAMES)
    assert {field for field, _, _ in gateway_module._METERED} == set(GatewayStats.__dataclass_fields__)
    assert {value for (metric, value) in HEALTH_NAMES if metric == A.METRIC_GATEWAY_REQUESTS} == set(
        A.GATEWAY_REQUEST_OUTCOMES
    )
    assert {value for (metric, value) in HEALTH_NAMES if metric == A.METRIC_GATEWAY_SPANS} == set(
        A.GATEWAY_SPAN_OUTCOMES
    )


def test_an_upstream_that_fails_then_recovers_shows_in_the_series_as_in_health(catalog: Catalog) -> None:
    """A sender's SDK exporter over HTTP; the upstream fails its first export (the gateway
    answers 503, the exporter retries, the retry is forwarded), then takes the next request."""
    upstream = _Gated(fail_first=True)
    upstream.release.set()
    gateway, reader = _metered(upstream, catalog)
    server = serve_http(gateway, HOST, 0)
    base = f"http://{HOST}:{server.server_address[1]}"
    sender = HttpExporter(endpoint=f"{base}/v1/traces", timeout=10)
    try:
        assert _series(reader) == {}  # nothing to report before the first request (a probe is none)
        _health(base + "/health")
        assert _series(reader) == {}
        assert sender.export(_record(_agent)) is SpanExportResult.SUCCESS  # after a 503 and a retry
        after_failure = _gateway_series(_series(reader))
        assert after_failure == _expected(
            requests=2, requests_not_forwarded=1, spans_received=6, spans_not_forwarded=3
        )
        health = _health(base + "/health")
        assert {key: health[name] for key, name in HEALTH_NAMES.items()} == after_failure
        assert sender.export(_record(_agent)) is SpanExportResult.SUCCESS  # the upstream takes it
        assert _gateway_series(_series(reader)) == _expected(
            requests=3, requests_not_forwarded=1, spans_received=9, spans_not_forwarded=3
        )
    finally:
        sender.shutdown()
        server.shutdown()
        server.server_close()
    assert len(upstream.memory.get_finished_spans()) == 6


@needs_status_hook
def test_spans_the_upstream_refused_for_good_are_counted_as_such(catalog: Catalog) -> None:
    """A collector answering 400: the sender is told not to resend, so those spans are lost,
    and the series say so (``GenAICostGatewaySpansLost``)."""
    upstream = _HttpUpstream(400)
    try:
        gateway, reader = _metered(HttpExporter(endpoint=upstream.url, timeout=5), catalog)
        assert not gateway.accept(_request(_record(_agent))).forwarded
        assert _gateway_series(_series(reader)) == _expected(
            requests=1, requests_not_forwarded=1, spans_received=3, spans_not_forwarded=3, spans_refused_upstream=3
        )
    finally:
        upstream.close()


class _Down(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_spans_let_go_from_the_retry_store_are_counted(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway_module, "_MAX_UNSENT", 4)  # room for 4 spans kept for a retry
    gateway, reader = _metered(_Down(), catalog)
    for _ in range(2):
        assert not gateway.accept(_request(_record(_agent))).forwarded
    assert _gateway_series(_series(reader)) == _expected(
        requests=2, requests_not_forwarded=2, spans_received=6, spans_not_forwarded=6, spans_forgotten=2
    )


def test_refusals_resent_and_malformed_spans_are_counted(catalog: Catalog) -> None:
    """A probe of another path (a 404), a sender's retry of what was forwarded, a malformed
    span, and a request refused as the gateway stops."""
    upstream = _Gated()
    upstream.release.set()
    gateway, reader = _metered(upstream, catalog)
    server = serve_http(gateway, HOST, 0)
    base = f"http://{HOST}:{server.server_address[1]}"
    try:
        for probe in ("/healthz", "/metrics"):
            with pytest.raises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(base + probe, timeout=5)
            assert missing.value.code == 404
        sent = _record(_agent)
        request = _request(sent)
        request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01" * 7  # malformed: left out
        status, _, _ = _post(base + "/v1/traces", request.SerializeToString(), "application/x-protobuf")
        assert status == 200
        status, _, _ = _post(base + "/v1/traces", _request(sent).SerializeToString(), "application/x-protobuf")
        assert status == 200  # the two good spans again (resent), and the one left out before
        gateway.begin_stop()
        with pytest.raises(Unavailable):
            gateway.accept(_request(sent))
    finally:
        server.shutdown()
        server.server_close()
    assert _gateway_series(_series(reader)) == _expected(
        requests=2, requests_refused=3, requests_busy=1, spans_received=5, spans_rejected=1, spans_resent=2
    )


def test_the_series_are_read_once_a_collection_as_one_set(catalog: Catalog) -> None:
    """The requests and spans series of one collection come from one reading of the counters:
    a request counted between the two callbacks must not show in one and not the other."""
    upstream = _Gated()
    upstream.release.set()
    gateway, reader = _metered(upstream, catalog)
    gateway.accept(_request(_record(_agent)))
    reads = []
    metered = gateway._metered

    def counting() -> dict[tuple[str, str], int]:
        reads.append(1)
        return metered()

    assert gateway.metrics is not None
    gateway.metrics._gateways = (counting,)
    for collections in (1, 2):
        _series(reader)
        assert len(reads) == collections


def test_health_and_a_collection_answer_while_an_export_hangs(catalog: Catalog) -> None:
    """/health now reads the processor's stats (its unpriced spans), which settle under its
    pricing lock: neither it nor a metrics collection may wait for the upstream."""
    upstream = _Gated()
    gateway, reader = _metered(upstream, catalog)
    server = serve_http(gateway, HOST, 0)
    base = f"http://{HOST}:{server.server_address[1]}"

    def unknown_model(tracer: Any) -> None:
        attributes = {**CHAT, "gen_ai.request.model": "no-such-model"}
        with tracer.start_as_current_span("invoke_agent", kind=SpanKind.SERVER):
            with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes=attributes):
                pass

    body = _request(_record(unknown_model)).SerializeToString()
    try:
        posted, answer = _in_thread(lambda: _post(base + "/v1/traces", body, "application/x-protobuf", timeout=30))
        assert upstream.entered.wait(5)  # priced, and held at the upstream
        started = time.monotonic()
        health = _health(base + "/health")
        series = _series(reader)
        assert time.monotonic() - started < 4  # the gate holds the export for 10 s
        assert not answer  # still exporting
        assert health["spans_unpriced"] == 1 and health["requests"] == 1
        assert series[A.METRIC_GATEWAY_REQUESTS, A.GATEWAY_RECEIVED] == 1
        upstream.release.set()
        posted.join(10)
        assert answer[0][0] == 200
        wait_for(lambda: _health(base + "/health")["spans_unpriced"] == 1, 5, "the count to stay")
    finally:
        upstream.release.set()
        server.shutdown()
        server.server_close()
    assert gateway.summary().endswith("0 not forwarded, 1 unpriced")


def test_get_slash_answers_as_health_does(catalog: Catalog) -> None:
    """What docs/gateway.md says of a probe of ``/``: the same answer as ``/health``, not counted."""
    gateway, _ = _metered(_Gated(), catalog)
    server = serve_http(gateway, HOST, 0)
    base = f"http://{HOST}:{server.server_address[1]}"
    try:
        assert _health(base + "/") == _health(base + "/health")
        assert _health(base + "/health/?probe=1")["status"] == "serving"
        assert gateway.stats.requests_refused == 0
        gateway.begin_stop()
        with pytest.raises(urllib.error.HTTPError) as stopping:
            urllib.request.urlopen(base + "/", timeout=5)
        assert stopping.value.code == 503
    finally:
        server.shutdown()
        server.server_close()
