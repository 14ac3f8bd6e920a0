"""Starting the gateway: a port already taken is refused whoever holds it, and what it will do is said (gateway audit, 2026-11-23)."""

from __future__ import annotations

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
    import os
    import subprocess
    import sys

    env = {**os.environ, variable: value}
    done = subprocess.run(
        [sys.executable, "-m", "genai_cost", "gateway", "--http", f"{HOST}:0", "--grpc", "off"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot build the exporter to forward to" in done.stderr
    assert f"(set by {variable}={value!r})" in done.stderr
