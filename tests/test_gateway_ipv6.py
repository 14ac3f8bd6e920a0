"""``--http`` and ``--grpc`` on an IPv6 address, and what a malformed address is told.

``--http [::1]:4318`` was read, then refused at start ("cannot listen ... Address family for
hostname not supported": the HTTP server was made for IPv4 only), and ``--http ::1:4318``,
``[::1:4318`` or ``[name]:4318`` were taken as if well formed. The receivers are real, on the
IPv6 loopback, when this machine has one.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.gateway_http import serve_http
from genai_cost.gateway_upstream import parse_address
from genai_cost.pricing.catalog import Catalog
from test_gateway import _agent, _record


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[::1]:4318", ("::1", 4318)),
        ("[::]:4317", ("::", 4317)),
        ("[fe80::1%eth0]:4318", ("fe80::1%eth0", 4318)),
        ("127.0.0.1:4318", ("127.0.0.1", 4318)),
        ("localhost:0", ("localhost", 0)),
        ("0.0.0.0:4318", ("0.0.0.0", 4318)),
    ],
)
def test_addresses_that_are_read(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text, "--http") == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("::1:4318", "an IPv6 address goes in brackets"),
        ("[::1:4318", "an IPv6 address goes in brackets"),
        ("::1]:4318", "an IPv6 address goes in brackets"),
        ("[::1]", "expected HOST:PORT"),
        ("[::1]x:4318", "an IPv6 address goes in brackets"),
        ("[localhost]:4318", "not an IPv6 address"),
        ("[127.0.0.1]:4318", "not an IPv6 address"),
        ("[]:4318", "expected HOST:PORT"),
        (":4318", "expected HOST:PORT"),
        ("host:+80", "not a number"),
        ("host: 80", "not a number"),
    ],
)
def test_malformed_addresses_are_refused_naming_the_option(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as refused:
        parse_address(text, "--grpc")
    assert str(refused.value).startswith(f"--grpc {text!r}: ")


def test_the_command_names_the_option_of_a_malformed_address() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "genai_cost.cli", "gateway", "--http", "127.0.0.1:0", "--grpc", "::1:4317"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--grpc '::1:4317': an IPv6 address goes in brackets: [::1]:4317" in done.stderr


@needs_ipv6
def test_both_receivers_serve_on_the_ipv6_loopback() -> None:
    memory = InMemorySpanExporter()
    gateway = CostGateway(memory, catalog=Catalog.load())
    http_server = serve_http(gateway, "::1", 0)
    grpc_server = serve_grpc(gateway, "::1", 0)
    try:
        over_http = HttpExporter(endpoint=f"http://[::1]:{http_server.server_address[1]}/v1/traces", timeout=5)
        over_grpc = GrpcExporter(endpoint=f"[::1]:{grpc_server.port}", insecure=True, timeout=5)
        assert over_http.export(_record(_agent)) is SpanExportResult.SUCCESS
        assert over_grpc.export(_record(_agent)) is SpanExportResult.SUCCESS
        over_http.shutdown()
        over_grpc.shutdown()
    finally:
        grpc_server.stop(grace=None)
        http_server.stop(5)
    assert len(memory.get_finished_spans()) == 6
    assert gateway.stats.requests == 2


@needs_ipv6
def test_the_command_listens_on_the_ipv6_loopback() -> None:
    from support.gateway import GatewayProcess

    with GatewayProcess({"OTEL_TRACES_EXPORTER": "console"}, host="::1") as gateway:
        sender = HttpExporter(endpoint=gateway.url, timeout=5)
        assert sender.export(_record(_agent)) is SpanExportResult.SUCCESS
        sender.shutdown()
        gateway.stop()
    assert gateway.returncode == 0, gateway.stderr
    assert "1 request(s), 0 refused" in gateway.stderr
    assert '"gen_ai.trace.cost.total_usd": 0.007' in gateway.stdout
    # The start line gives the endpoint as a sender's setting takes it: brackets round ::1.
    assert re.search(r"OTLP/HTTP on http://\[::1\]:\d+/v1/traces", gateway.stderr), gateway.stderr
