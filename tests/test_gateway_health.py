"""``GET /health`` as a load balancer or a Kubernetes probe reads it: by its status.

It answered ``200`` whatever the gateway's state, a stop included: a probe kept a stopping
gateway in rotation. It answers ``503`` once the gateway is stopping, and ``200`` while it
serves, an upstream that fails included (the gateway keeps the spans for the senders' retry:
taking it out, or restarting it, would not bring the upstream back, and a restart would lose
what it keeps).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.gateway_http import serve_http
from genai_cost.pricing.catalog import Catalog
from support.net import HOST
from test_gateway import _agent, _record


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


class _Down(SpanExporter):
    """An upstream that fails every export, as an exporter does once its retries are spent."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def _health(connection: http.client.HTTPConnection, method: str = "GET") -> tuple[int, dict[str, object], str]:
    connection.request(method, "/health")
    answer = connection.getresponse()
    body = answer.read()
    return answer.status, json.loads(body) if body else {}, answer.headers.get("Connection") or ""


def test_health_answers_503_once_the_gateway_is_stopping(catalog: Catalog) -> None:
    gateway = CostGateway(_Down(), catalog=catalog)
    server = serve_http(gateway, HOST, 0)
    port = server.server_address[1]
    # A probe that keeps its connection (a load balancer's) is answered on it during the stop.
    kept_alive = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        status, body, _ = _health(kept_alive)
        assert (status, body["status"]) == (200, "serving")
        gateway.begin_stop()
        status, body, connection = _health(kept_alive)
        assert (status, body["status"], connection) == (503, "stopping", "close")
        assert body["requests"] == 0  # the counters still, to read what it did
        head = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            assert _health(head, "HEAD")[0] == 503
        finally:
            head.close()
    finally:
        kept_alive.close()
        server.stop(5)


def test_an_upstream_that_fails_leaves_the_gateway_healthy(catalog: Catalog) -> None:
    """The gateway keeps what the upstream failed to take, and its senders retry: 503 here
    would take every gateway behind the same upstream out of rotation at once (and, as a
    liveness probe, restart them, losing what they keep), and bring nothing back."""
    gateway = CostGateway(_Down(), catalog=catalog)
    server = serve_http(gateway, HOST, 0)
    port = server.server_address[1]
    probe = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        sender = HttpExporter(endpoint=f"http://{HOST}:{port}/v1/traces", timeout=1)
        assert sender.export(_record(_agent)) is SpanExportResult.FAILURE  # answered 503, retried until its timeout
        sender.shutdown()
        status, body, _ = _health(probe)
    finally:
        probe.close()
        server.stop(5)
    assert (status, body["status"]) == (200, "serving")
    assert body["spans_not_forwarded"] >= 3  # what the operator reads instead


def test_the_grpc_health_service_answers_as_get_health_does(catalog: Catalog) -> None:
    """With ``--http off`` a probe had only a TCP check, which a stopping gateway passes.
    The standard ``grpc.health.v1.Health/Check`` (a Kubernetes ``grpc`` probe,
    ``grpc_health_probe``), asked here by grpcio-health-checking's own client: ``SERVING``
    while serving; ``NOT_SERVING`` once stopping;
    ``NOT_FOUND`` for a service the gateway does not serve."""
    import grpc

    # (Not in the runs on the oldest supported grpcio and protobuf: its releases require the newest.)
    health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
    health_pb2_grpc = pytest.importorskip("grpc_health.v1.health_pb2_grpc")
    gateway = CostGateway(_Down(), catalog=catalog)
    server = serve_grpc(gateway, HOST, 0)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)
    trace_service = "opentelemetry.proto.collector.trace.v1.TraceService"
    try:
        for service in ("", trace_service):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            health.Check(health_pb2.HealthCheckRequest(service="grpc.reflection.v1.ServerReflection"), timeout=5)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        assert "ServerReflection" in unknown.value.details()
        gateway.begin_stop()
        for service in ("", trace_service):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        channel.close()
        server.stop(0)


def test_the_grpc_health_answers_are_the_protocol_s_bytes(catalog: Catalog) -> None:
    """On the wire, without the health package (so on the oldest supported grpcio and protobuf
    too): ``HealthCheckRequest`` with field 1 the service name, ``HealthCheckResponse`` with
    field 1 the status as a varint (``SERVING`` 1, ``NOT_SERVING`` 2)."""
    import grpc

    gateway = CostGateway(_Down(), catalog=catalog)
    server = serve_grpc(gateway, HOST, 0)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    service = b"opentelemetry.proto.collector.trace.v1.TraceService"
    try:
        assert check(b"", timeout=5) == b"\x08\x01"
        assert check(b"\x0a" + bytes([len(service)]) + service, timeout=5) == b"\x08\x01"
        gateway.begin_stop()
        assert check(b"", timeout=5) == b"\x08\x02"
    finally:
        channel.close()
        server.stop(0)
