"""Starting the gateway: a port already taken is refused whoever holds it, and what it will do is said (gateway audit, 2026-11-23)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.pricing.catalog import Catalog
from support.net import HOST


def test_a_second_grpc_gateway_on_the_same_port_is_refused() -> None:
    """gRPC sets SO_REUSEPORT by default: a second gateway started on the port of a running
    one started without a word, and the kernel shared the senders' connections between the
    two (an old gateway with other prices went on pricing part of the traffic)."""
    catalog = Catalog.load()
    first_gateway = CostGateway(InMemorySpanExporter(), catalog=catalog)
    second_gateway = CostGateway(InMemorySpanExporter(), catalog=catalog)
    first = serve_grpc(first_gateway, HOST, 0)
    try:
        with pytest.raises(OSError, match="in use"):
            second = serve_grpc(second_gateway, HOST, first.port)
            second.stop(0)
    finally:
        first.stop(0)
        first_gateway.shutdown()
        second_gateway.shutdown()


def test_a_gateway_with_pricing_switched_off_says_so_at_start() -> None:
    """``GENAI_COST_ENABLED=false`` (inherited from an .env meant for an application) made the
    gateway a pass-through that still said it forwarded priced spans."""
    from support.gateway import GatewayProcess

    with GatewayProcess({"OTEL_TRACES_EXPORTER": "console", "GENAI_COST_ENABLED": "false"}) as off:
        off.stop()
    assert "GENAI_COST_ENABLED=false: pricing is off" in off.stderr
    assert "forwarding UNPRICED spans to ConsoleSpanExporter" in off.stderr
    assert "forwarding priced spans" not in off.stderr
    with GatewayProcess({"OTEL_TRACES_EXPORTER": "console"}) as on:
        on.stop()
    assert "forwarding priced spans to ConsoleSpanExporter" in on.stderr
    assert "pricing is off" not in on.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_TRACES_EXPORTER", "jaeger"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpcc"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
    ],
)
def test_an_exporter_that_cannot_be_built_names_its_variable(variable: str, value: str) -> None:
    """The SDK's errors quote the value, not the variable (``could not convert string to
    float: 'ten'``): the command names the variable that set it."""
    said = _start_refused(Path.cwd(), **{variable: value})
    assert "cannot build the exporter to forward to" in said
    assert f"(set by {variable}={value!r})" in said


def _start_refused(tmp_path: Path, **variables: str) -> str:
    env = {**os.environ, **variables}
    done = subprocess.run(
        [sys.executable, "-m", "genai_cost", "gateway", "--http", f"{HOST}:0", "--grpc", "off"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    return done.stderr


def test_a_pricing_file_that_does_not_load_stops_the_gateway(tmp_path: Path) -> None:
    """An application goes on without a broken file of its own (logged); the gateway prices
    every sender's spans, and served "ready", at list price, where the file meant a
    negotiated rate: a ConfigMap at the wrong path, a typo (a production audit)."""
    typo = tmp_path / "prices.yaml"
    typo.write_text(
        "providers:\n  - id: openai\n    models:\n      - id: gpt-4o\n        prices:\n"
        "          - inptu: 1\n            source: contract\n            checked: 2026-11-20\n",
        encoding="utf-8",
    )
    said = _start_refused(tmp_path, GENAI_COST_PRICING_FILE=str(typo), OTEL_TRACES_EXPORTER="console")
    assert f"{typo}:6: providers[0].models[0].prices[0].inptu: Extra inputs are not permitted" in said
    assert "not started: without these prices" in said
    said = _start_refused(tmp_path, GENAI_COST_PRICING_FILE=str(tmp_path / "missing.yaml"), OTEL_TRACES_EXPORTER="console")
    assert "missing.yaml: cannot read pricing file" in said


def test_an_upstream_tls_file_that_cannot_be_read_stops_the_gateway(tmp_path: Path) -> None:
    """The SDK's exporter printed a traceback and went on; every forward then failed."""
    said = _start_refused(tmp_path, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=str(tmp_path / "ca.pem"))
    assert f"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE='{tmp_path / 'ca.pem'}': No such file or directory" in said


def test_the_start_line_says_where_the_spans_go_and_whether_over_tls() -> None:
    from support.gateway import GatewayProcess

    with GatewayProcess({"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:9", "OTEL_TRACES_EXPORTER": "otlp"}) as gateway:
        gateway.stop()
    assert "forwarding priced spans to OTLPSpanExporter (gRPC) 127.0.0.1:9 over TLS" in gateway.stderr
