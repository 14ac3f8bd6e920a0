"""What the gateway does with the signals it does not take, and where its own metrics are.

A user who points ``OTEL_EXPORTER_OTLP_ENDPOINT`` (every signal) at the gateway has the SDK send
metrics and logs there too. The gateway takes traces only: each of those requests used to get a
bare ``404`` (HTTP) or gRPC's own ``UNIMPLEMENTED``, counted and logged like any wrong path over
HTTP and not at all over gRPC, and nothing said what to change. Now each is refused with a status
the OTLP exporters do not retry, saying where the traces go and where the rest goes, and counted
and logged under a reason of its own.

The gateway's cost metrics, scraped with ``OTEL_METRICS_EXPORTER=prometheus``, are served on
``localhost:9464`` unless ``OTEL_EXPORTER_PROMETHEUS_HOST`` / ``_PORT`` say otherwise: in a
container, nothing outside can reach that, and nothing said so. The gateway now prints where.

Real sockets and the SDK's own OTLP exporters throughout, the gateway run in process (its HTTP
and gRPC servers) or as the command a user runs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.gateway_http import serve_http
from genai_cost.pricing.catalog import Catalog
from support.gateway import GatewayProcess
from support.net import HOST, free_port, wait_for
from test_gateway import _Gated


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture
def gateway(catalog: Catalog) -> CostGateway:
    return CostGateway(_Gated(), catalog=catalog)


def _warnings(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and words in r.getMessage()]


def _metrics_export(exporter: Any) -> Any:
    """One export of one counter's data through ``exporter``, as a periodic reader makes it."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("sender").create_counter("requests").add(1)
    data = reader.get_metrics_data()
    provider.shutdown()
    try:
        return exporter.export(data)
    finally:
        exporter.shutdown()


def _log_through(exporter: Any) -> None:
    """One log record, emitted through the SDK's logger provider to ``exporter``."""
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    try:
        provider.get_logger("sender").emit(LogRecord(body="the model answered", severity_number=SeverityNumber.WARN))
    finally:
        provider.shutdown()


@pytest.fixture
def every_signal_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Points OTEL_EXPORTER_OTLP_ENDPOINT (every signal), as the user did, at a given address."""

    def point(endpoint: str) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        for signal in ("TRACES", "METRICS", "LOGS"):
            monkeypatch.delenv(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", raising=False)

    yield point


# ------------------------------------------------------------------- OTLP/HTTP


def test_metrics_and_logs_sent_over_http_are_refused_once_saying_where_they_go(
    gateway: CostGateway, every_signal_at: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK's OTLP/HTTP metric and log exporters, configured by OTEL_EXPORTER_OTLP_ENDPOINT
    alone, post to /v1/metrics and /v1/logs: each is answered 404 once (no retry), with how to
    fix it in its answer (the reason phrase, which the Python exporter logs) and in the log."""
    server = serve_http(gateway, HOST, 0)
    port = server.server_address[1]
    every_signal_at(f"http://{HOST}:{port}")
    try:
        with caplog.at_level(logging.WARNING):
            assert _metrics_export(HttpMetricExporter()) is MetricExportResult.FAILURE
            _log_through(HttpLogExporter())
    finally:
        server.shutdown()
        server.server_close()
    # one request each: the exporters did not retry (404 is not among the statuses they retry)
    assert (gateway.stats.requests_refused, gateway.stats.requests) == (2, 0)
    [metrics] = _warnings(caplog, "(metrics, not traces, 1 so far)")
    assert f"refused a request from {HOST}" in metrics
    assert "POST /v1/metrics: the genai-cost gateway takes traces only, not metrics" in metrics
    assert f"point OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at the gateway (http://{HOST}:{port}/v1/traces)" in metrics
    assert "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, at your collector" in metrics
    [logs] = _warnings(caplog, "(logs, not traces, 1 so far)")
    assert "POST /v1/logs: the genai-cost gateway takes traces only, not logs" in logs
    assert "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, at your collector" in logs
    # and the sender's own log says it: the reason phrase (SDK 1.45 on), the body (before)
    senders = [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry.exporter")]
    assert any("404" in line and "takes traces only" in line for line in senders), senders


def test_a_metrics_request_is_answered_with_a_status_body_that_says_what_to_do(gateway: CostGateway) -> None:
    """What a sender that reads the body gets (the Go and JavaScript exporters): the OTLP
    Status, in the request's encoding; a GET (a person trying the path) gets the same."""
    import json

    from google.rpc import status_pb2

    from test_gateway import _post

    server = serve_http(gateway, HOST, 0)
    url = f"http://{HOST}:{server.server_address[1]}"
    try:
        status, body, _ = _post(url + "/v1/metrics", b"\x0a\x00", "application/x-protobuf")
        json_status, json_body, _ = _post(url + "/v1/logs/", b"{}", "application/json")
        with pytest.raises(urllib.error.HTTPError) as got:
            urllib.request.urlopen(url + "/v1/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert status == json_status == got.value.code == 404
    assert "takes traces only, not metrics" in status_pb2.Status.FromString(body).message
    assert "takes traces only, not logs" in json.loads(json_body)["message"]
    assert got.value.reason.startswith("Not Found: the genai-cost gateway takes traces only; send metrics")
    assert "takes traces only, not metrics" in json.loads(got.value.read())["message"]
    assert gateway.stats.requests_refused == 3


# ------------------------------------------------------------------- OTLP/gRPC


def test_metrics_and_logs_sent_over_grpc_are_refused_once_counted_and_logged(
    gateway: CostGateway, every_signal_at: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """gRPC answered the metrics and logs services UNIMPLEMENTED itself: counted nowhere, logged
    nowhere, and saying nothing. Now the gateway answers them, UNIMPLEMENTED still (not among the
    codes OTLP exporters retry), with how to fix it, counted and logged."""
    server = serve_grpc(gateway, HOST, 0)
    every_signal_at(f"http://{HOST}:{server.port}")
    try:
        with caplog.at_level(logging.WARNING):
            assert _metrics_export(GrpcMetricExporter(insecure=True)) is MetricExportResult.FAILURE
            _log_through(GrpcLogExporter(insecure=True))
    finally:
        server.stop(grace=None)
    assert (gateway.stats.requests_refused, gateway.stats.requests) == (2, 0)  # one call each: no retry
    [metrics] = _warnings(caplog, "(metrics, not traces, 1 so far)")
    assert "from ipv4:127.0.0.1:" in metrics
    assert "the genai-cost gateway takes traces only, not metrics" in metrics
    assert f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at the gateway (http://{HOST}:{server.port})" in metrics
    assert "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, at your collector" in metrics
    [logs] = _warnings(caplog, "(logs, not traces, 1 so far)")
    assert "takes traces only, not logs" in logs and "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" in logs


def test_a_grpc_metrics_call_gets_unimplemented_with_the_reason(gateway: CostGateway) -> None:
    """What any gRPC client reads (the Python exporter's log names the code; others show the
    details): whatever the body, even one that is not protobuf."""
    import grpc

    server = serve_grpc(gateway, "0.0.0.0", 0)  # noqa: S104 (the hint then names no address)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    try:
        call = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
        with pytest.raises(grpc.RpcError) as refused:
            call(b"\xff not protobuf", timeout=5)
    finally:
        channel.close()
        server.stop(grace=None)
    assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert "takes traces only, not metrics" in refused.value.details()
    assert f"(http://<the gateway's host>:{server.port})" in refused.value.details()
    assert gateway.stats.requests_refused == 1


# ------------------------------------------------- where Prometheus scrapes the gateway


def test_the_gateway_says_where_prometheus_scrapes_its_cost_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Left to its default host (localhost), the endpoint cannot be scraped from outside the
    gateway's container: the start-up output says where it listens, and what to set."""
    pytest.importorskip("opentelemetry.exporter.prometheus")
    port = free_port()
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
    }
    monkeypatch.delenv("OTEL_EXPORTER_PROMETHEUS_HOST", raising=False)  # (the default: not the runner's)
    with GatewayProcess(env) as gateway:
        line = wait_for(
            lambda: next((ln for ln in gateway.stderr_so_far().splitlines() if "for Prometheus" in ln), ""),
            10,
            "the line that says where the metrics are",
        )
        with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=5) as scraped:
            assert scraped.status == 200
    assert gateway.returncode == 0, gateway.stderr
    assert line == (
        f"genai-cost gateway: cost metrics for Prometheus on http://localhost:{port}/metrics (this machine only: "
        "to be scraped from another host or container, set OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0)"
    )


def test_a_prometheus_port_in_use_is_named_with_its_variables() -> None:
    """It stopped the command with only "[Errno 98] Address already in use", which reads as if
    the receivers' port were taken."""
    pytest.importorskip("opentelemetry.exporter.prometheus")
    import socket

    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_HOST": HOST,
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
        }
        result = subprocess.run(
            [sys.executable, "-m", "genai_cost.cli", "gateway", "--http", f"{HOST}:{free_port()}", "--grpc", "off"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert (
        f"the Prometheus endpoint cannot listen on http://{HOST}:{port}/metrics "
        "(OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT)"
    ) in result.stderr


@pytest.mark.parametrize(
    ("host", "said"),
    [
        (None, "http://localhost:9464/metrics (this machine only: to be scraped from another host or container, "
               "set OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0)"),
        ("127.0.0.1", "http://127.0.0.1:9464/metrics (this machine only"),
        ("::1", "http://[::1]:9464/metrics (this machine only"),
        ("0.0.0.0", "http://0.0.0.0:9464/metrics (every address of this machine, port 9464)"),
        ("", "http://0.0.0.0:9464/metrics (every address of this machine, port 9464)"),
        ("gateway.internal", "http://gateway.internal:9464/metrics"),
    ],
)
def test_where_the_prometheus_endpoint_is_said_to_be(
    monkeypatch: pytest.MonkeyPatch, host: str | None, said: str
) -> None:
    """The same variables, read as the exporter reads them (unset: its defaults)."""
    from genai_cost.sender_metrics import _reach, prometheus_endpoint

    monkeypatch.delenv("OTEL_EXPORTER_PROMETHEUS_PORT", raising=False)
    if host is None:
        monkeypatch.delenv("OTEL_EXPORTER_PROMETHEUS_HOST", raising=False)
    else:
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_HOST", host)
    assert (prometheus_endpoint() + _reach()).startswith(said)
    if host == "gateway.internal":
        assert _reach() == ""
