"""Zero-code switch-on: opentelemetry-instrument with OTEL_PYTHON_CONFIGURATOR=genai_cost.

Runs a real application script in a subprocess under ``opentelemetry-instrument``
with the console exporter, and reads the exported spans from its stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = textwrap.dedent(
    """
    from opentelemetry import trace

    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("invoke_agent demo", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200}):
            pass
        with tracer.start_as_current_span("execute_tool lookup", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}):
            pass
    """
)

TOOLS = textwrap.dedent(
    """
    tools:
      - name: lookup
        per_call: 0.002
        source: test
        checked: 2026-11-22
    """
)


def instrument(tmp_path: Path, **env_extra: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(APP)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_COST_"))
    } | {
        "OTEL_PYTHON_CONFIGURATOR": "genai_cost",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-test",
        **env_extra,
    }
    instrument_bin = Path(sys.executable).parent / "opentelemetry-instrument"
    return subprocess.run(
        [str(instrument_bin), sys.executable, str(app)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def console_spans(stdout: str) -> dict[str, dict]:
    """The console exporter prints one pretty JSON object per span."""
    decoder = json.JSONDecoder()
    spans, index = {}, 0
    while True:
        start = stdout.find("{", index)
        if start < 0:
            return spans
        obj, index = decoder.raw_decode(stdout, start)
        spans[obj["name"]] = obj


def test_zero_code_prices_spans_and_totals_the_trace(tmp_path):
    pricing = tmp_path / "tools.yaml"
    pricing.write_text(TOOLS)
    result = instrument(tmp_path, GENAI_COST_PRICING_FILE=str(pricing), OTEL_RESOURCE_ATTRIBUTES="team=agents")
    assert result.returncode == 0, result.stderr
    spans = console_spans(result.stdout)
    chat = spans["chat gpt-4o"]["attributes"]
    assert chat["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert chat["gen_ai.cost.pricing.id"] == "openai/gpt-4o"
    tool = spans["execute_tool lookup"]["attributes"]
    assert tool["gen_ai.cost.total_usd"] == pytest.approx(0.002)
    assert tool["gen_ai.cost.source"] == "override"
    root = spans["invoke_agent demo"]
    assert root["attributes"]["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0065)
    assert root["attributes"]["gen_ai.trace.cost.band"] == "lt_0.01"
    # The standard configuration is honoured: resource from OTEL_* variables.
    assert root["resource"]["attributes"]["service.name"] == "zero-code-test"
    assert root["resource"]["attributes"]["team"] == "agents"


def test_two_exporters_each_receive_priced_spans_priced_once():
    """The SDK calls the export-processor factory once per exporter; the
    builder must price each span once and feed every exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost.config import CostSettings
    from genai_cost.configurator import _ExportChainBuilder

    builder = _ExportChainBuilder(CostSettings())
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(builder(first))
    provider.add_span_processor(builder(second))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("chat", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}):
            pass
    provider.force_flush()
    for exporter in (first, second):
        spans = {s.name: s for s in exporter.get_finished_spans()}
        assert spans["chat"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
        assert spans["root"].attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)
    assert builder.processor is not None and builder.processor.stats.priced == 1, "priced once"
    provider.shutdown()


def test_disabled_by_env_exports_plain_spans(tmp_path):
    result = instrument(tmp_path, GENAI_COST_ENABLED="false")
    assert result.returncode == 0, result.stderr
    assert "chat gpt-4o" in result.stdout
    assert "gen_ai.cost" not in result.stdout


def test_a_broken_pricing_file_is_reported_and_the_app_still_runs(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("tools:\n  - name: lookup\n    per_call: -1\n    source: x\n    checked: 2026-11-22\n")
    result = instrument(tmp_path, GENAI_COST_PRICING_FILE=str(broken))
    assert result.returncode == 0, result.stderr
    assert "broken.yaml:3" in result.stderr and "per_call" in result.stderr
    spans = console_spans(result.stdout)
    assert spans["chat gpt-4o"]["attributes"]["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert spans["execute_tool lookup"]["attributes"]["gen_ai.cost.unpriced_reason"] == "unknown_tool"


def test_a_pricing_file_that_is_not_utf8_is_named_and_the_rest_still_prices(tmp_path):
    """A Latin-1 comment used to raise UnicodeDecodeError out of the setup: no span was priced."""
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"# prix n\xe9goci\xe9s\ntools:\n  - {name: lookup, per_call: 0.01, source: x, checked: 2026-11-22}\n")
    result = instrument(tmp_path, GENAI_COST_PRICING_FILE=str(latin1))
    assert result.returncode == 0, result.stderr
    assert "latin1.yaml:1: not UTF-8 text" in result.stderr
    assert "setup failed" not in result.stderr
    spans = console_spans(result.stdout)
    assert spans["chat gpt-4o"]["attributes"]["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_no_traces_exporter_configured_is_said_not_silent(tmp_path):
    """Without opentelemetry-distro nothing defaults OTEL_TRACES_EXPORTER to otlp: the SDK's
    configurator sets up no exporter, and every span, priced, went nowhere without a word."""
    result = instrument(tmp_path, OTEL_TRACES_EXPORTER="")
    assert result.returncode == 0, result.stderr
    assert "OTEL_TRACES_EXPORTER is not set, so no span is exported" in result.stderr
    assert "OTEL_TRACES_EXPORTER" not in instrument(tmp_path).stderr


def test_a_flag_that_is_neither_true_nor_false_is_named(caplog, monkeypatch):
    from genai_cost.config import env_flag

    monkeypatch.setenv("GENAI_COST_METRICS", "banana")
    with caplog.at_level("WARNING", logger="genai_cost"):
        assert env_flag("GENAI_COST_METRICS", True) is True
    # (with the prefix of every other configuration problem, for a log filter on it)
    assert "genai-cost configuration: GENAI_COST_METRICS='banana': expected true or false" in caplog.text


def test_the_exit_flush_gives_up_after_its_timeout():
    """The batch processor's force_flush ignores its timeout when the backend accepts the
    connection and never answers (one OTLP timeout per queued batch): the exit hook must
    not wait longer than it says (a Kubernetes grace period is 30 s)."""
    import threading
    import time

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from genai_cost import CostSpanProcessor, TraceCostExporter
    from genai_cost.configurator import _flush_spans
    from support.net import HangingServer

    with HangingServer() as backend:
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{backend.port}/v1/traces", timeout=20)
        processor = CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(exporter), max_export_batch_size=8))
        provider = TracerProvider(shutdown_on_exit=False)  # its exit flush would wait on the backend too
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("app")
        for _ in range(64):
            with tracer.start_as_current_span("step"):
                pass
        started = time.monotonic()
        _flush_spans(processor, timeout_s=1.0)
        waited = time.monotonic() - started
    # The flush goes on in the background, retrying with random jitter: stopped here, once the
    # backend is gone, so it does not outlive the test (hypothesis warns when the global
    # random state moves under it).
    exporter.shutdown()
    provider.shutdown()
    assert waited < 5, f"the exit flush waited {waited:.1f} s"
    # Once the exporter is shut down the abandoned flush ends: on a loaded machine it may take
    # a moment to notice, so it is given a bounded while (it used to be checked at once: flaky).
    for thread in [t for t in threading.enumerate() if t.name == "genai-cost-exit-flush"]:
        thread.join(timeout=15)
    assert not [t for t in threading.enumerate() if t.name == "genai-cost-exit-flush" and t.is_alive()]
