"""What a newcomer's first mistakes get from the command line: each is said, naming the flag,
address, file or endpoint, and none passes for success (found by following the docs as a new
user would, on a fresh clone)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.net import free_port
from test_cli import BIN


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})},
        cwd=cwd,
    )


# ------------------------------------------------------------------ price


def test_price_without_token_counts_is_refused_not_a_zero():
    result = run("price", "--provider", "openai", "--model", "gpt-4o")
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert "give --input-tokens and/or --output-tokens" in result.stderr


def test_price_with_an_empty_model_names_the_flag_not_a_span():
    result = run("price", "--provider", "openai", "--model", "", "--input-tokens", "10")
    assert result.returncode == 2
    assert "argument --model: is empty" in result.stderr
    assert "span" not in result.stderr


def test_price_at_a_tier_the_catalog_does_not_have_prices_at_standard_rates_and_says_so():
    """A mistyped tier exited 0 with only ``service_tier=bogus:unpriced_at_default`` in the
    adjustments line: priced as standard, as a span would be, but now said."""
    result = run("price", "--provider", "openai", "--model", "gpt-4o", "--input-tokens", "1000", "--service-tier",
                 "bogus")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("openai/gpt-4o: $0.002500")
    assert "has no rates for service_tier=bogus in the catalog: priced at its standard rates" in result.stderr


def test_report_with_a_trace_id_that_is_no_hex_says_so(tmp_path: Path):
    demo = tmp_path / "demo.json"
    assert run("demo", "--save", str(demo)).returncode == 0
    result = run("report", str(demo), "--trace", "zzz")
    assert result.returncode == 2
    assert "argument --trace: 'zzz' is not a trace id (up to 32 hex digits)" in result.stderr
    # a backend may drop leading zeros or upper-case it: the same trace
    trace_id = run("report", str(demo), "--json").stdout.split('"trace_id": "')[1][:32]
    for asked in (trace_id.upper(), f"0x{trace_id}"):
        assert run("report", str(demo), "--trace", asked).returncode == 0


def test_price_explain_without_counts_still_shows_the_rates_and_says_why_the_total_is_zero():
    result = run("price", "--provider", "openai", "--model", "gpt-4o", "--explain")
    assert result.returncode == 0, result.stderr
    assert "matched: exact name 'gpt-4o'" in result.stdout
    assert "no token counts given" in result.stderr


def test_price_of_a_model_billed_per_gpu_second_needs_no_token_counts(tmp_path: Path):
    pricing = tmp_path / "gpu.yaml"
    pricing.write_text(
        "providers:\n  - id: selfhosted\n    models:\n      - id: llama-70b\n        kind: chat\n"
        "        prices:\n          - {per_gpu_second: 0.001, source: internal, checked: 2026-11-01}\n"
    )
    result = run(
        "price", "--provider", "selfhosted", "--model", "llama-70b", "--duration-s", "10",
        "--pricing-file", str(pricing), "--json",
    )
    assert result.returncode == 0, result.stderr
    assert '"total_usd": 0.01' in result.stdout


# ------------------------------------------------------------------ pricing files


def test_an_empty_pricing_directory_is_refused_by_validate_naming_it(tmp_path: Path):
    empty = tmp_path / "prices"
    empty.mkdir()
    (empty / "ours.yml.txt").write_text("providers: []\n")
    result = run("pricing", "validate", str(empty))
    assert result.returncode == 2, result.stdout
    assert f"{empty}: a directory with no pricing files (*.yaml, *.yml) in it" in result.stdout + result.stderr


def test_an_empty_pricing_directory_in_the_environment_is_named_by_price(tmp_path: Path):
    result = run(
        "price", "--model", "gpt-4o", "--input-tokens", "5", env={"GENAI_COST_PRICING_FILE": str(tmp_path)}
    )
    assert result.returncode == 2
    assert f"{tmp_path}: a directory with no pricing files" in result.stderr


def test_an_empty_pricing_directory_is_logged_by_the_runtime_which_still_prices(tmp_path: Path, caplog):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import CostSpanProcessor
    from genai_cost.config import CostSettings

    memory = InMemorySpanExporter()
    settings = CostSettings.from_env({"GENAI_COST_PRICING_FILE": str(tmp_path)})
    provider = TracerProvider()
    with caplog.at_level("ERROR", logger="genai_cost"):
        provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(memory), settings=settings))
    assert f"{tmp_path}: a directory with no pricing files" in caplog.text
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
    }
    provider.get_tracer("t").start_span("chat gpt-4o", attributes=attributes).end()
    (span,) = memory.get_finished_spans()
    assert span.attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0035)


def test_files_separated_by_commas_get_a_hint(tmp_path: Path):
    result = run(
        "price", "--model", "gpt-4o", "--input-tokens", "5", env={"GENAI_COST_PRICING_FILE": "a.yaml,b.yaml"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert f"separate them with {os.pathsep!r}, not ','" in result.stderr


# ------------------------------------------------------------------ gateway


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize("receiver", ["--http", "--grpc"])
def test_a_gateway_port_already_taken_is_named_with_its_flag(taken_port: int, receiver: str):
    other = "--grpc" if receiver == "--http" else "--http"
    result = run(
        "gateway", receiver, f"127.0.0.1:{taken_port}", other, f"127.0.0.1:{free_port()}",
        env={"OTEL_TRACES_EXPORTER": "console", "GRPC_VERBOSITY": "NONE"},
    )
    assert result.returncode == 2, result.stderr
    assert f"genai-cost gateway: cannot listen on 127.0.0.1:{taken_port} ({receiver}):" in result.stderr


# ------------------------------------------------------------------ demo


class _Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver that accepts every request (its body is not read as spans)."""

    def __init__(self) -> None:
        self.requests = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                collector.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_the_demo_says_the_trace_reached_the_collector():
    collector = _Collector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
        result = run(
            "demo", env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
        )
    finally:
        collector.shutdown()
        collector.server_close()
    assert result.returncode == 0, result.stderr
    assert collector.requests >= 1
    assert f"genai-cost demo: trace sent to {endpoint}" in result.stderr
    assert "total  $0.142" in result.stdout


def test_the_demo_exits_1_when_the_collector_cannot_be_reached():
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run(
        "demo",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
        },
    )
    assert result.returncode == 1, result.stderr
    assert "total  $0.142" in result.stdout  # the cost is printed all the same
    assert f"the trace was NOT sent to {endpoint}" in result.stderr


@pytest.mark.parametrize("setting", ["console", "otlp, console", "none"])
def test_the_demo_says_it_does_not_read_otel_traces_exporter(setting: str):
    """`OTEL_TRACES_EXPORTER=console genai-cost demo > spans.txt` gave a file `report` could
    not read, with no sign why: the demo reads only the OTLP endpoint variables."""
    result = run("demo", env={"OTEL_TRACES_EXPORTER": setting})
    assert result.returncode == 0, result.stderr
    unread = "none" if setting == "none" else "console"
    assert f"OTEL_TRACES_EXPORTER={unread} is not read by the demo" in result.stderr
    assert "--save FILE" in result.stderr
    assert "total  $0.142" in result.stdout


def test_the_demo_is_quiet_about_otel_traces_exporter_otlp():
    result = run("demo", env={"OTEL_TRACES_EXPORTER": "otlp"})
    assert result.returncode == 0, result.stderr
    assert "OTEL_TRACES_EXPORTER" not in result.stderr


@pytest.mark.parametrize(
    ("endpoint", "protocol", "said"),
    [
        ("http://127.0.0.1:4318", "grpc", "port 4318 is OTLP/HTTP's: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"),
        ("localhost:4318", "grpc", "port 4318 is OTLP/HTTP's"),
        ("http://collector:4317", "http/protobuf", "port 4317 is OTLP/gRPC's"),
        ("http://collector:4317", "grpc", "is the collector running there?"),
        ("http://[::1]:9999", "grpc", "is the collector running there?"),
        ("http://bad:port", "grpc", "is the collector running there?"),
    ],
)
def test_a_trace_not_sent_is_given_the_likely_reason(endpoint: str, protocol: str, said: str):
    from genai_cost.cli import _why_not_sent

    assert _why_not_sent(endpoint, protocol).startswith(said)


def test_the_demo_sending_grpc_to_the_http_port_says_so():
    """gRPC to :4318 failed as if no collector ran there, though one did (new-user audit)."""
    result = run("demo", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "2"})
    assert result.returncode == 1, result.stderr
    assert "port 4318 is OTLP/HTTP's: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf" in result.stderr
