"""Issue 2 proof: real OTLP (gRPC and HTTP) to a real collector (rotel, from PyPI).

The spans are produced by the real SDK through
``CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(OTLPSpanExporter())))``,
sent over the wire, and read back from what rotel printed it received, with
each attribute's OTLP type (``Double``, ``Int``, ``Str``, ``Bool``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from genai_cost import CostSpanProcessor, TraceCostExporter
from support.rotel import ReceivedSpan, RotelCollector

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Hand-computed from the list prices (USD per million tokens):
# gpt-4o: input 2.50, cached input 1.25, output 10.00; text-embedding-3-small: 0.02.
CHAT_COST = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / 1e6  # 1000 in (400 cached), 200 out = 0.004
EMBED_COST = 5000 * 0.02 / 1e6  # 0.0001


def _exporter(protocol: str, collector: RotelCollector):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=collector.grpc_endpoint, insecure=True, timeout=5)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=f"{collector.http_endpoint}/v1/traces", timeout=5)


def _run_agent_trace(provider: TracerProvider) -> str:
    """An agent run: aggregate root, a priced chat, an embedding, an unknown model,
    a free call (0 tokens) and a plain non-GenAI span. Returns the trace id (hex)."""
    tracer = provider.get_tracer("tests.integration.rotel")
    with tracer.start_as_current_span(
        "invoke_agent support-bot",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "support-bot",
            # aggregate usage of the children: must NOT be priced again
            "gen_ai.usage.input_tokens": 6000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.request.model": "gpt-4o",
        },
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.cache_read.input_tokens": 400,
                "gen_ai.usage.output_tokens": 200,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "embeddings text-embedding-3-small",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "embeddings",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 5000,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat no-such-model-xyz",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "no-such-model-xyz",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 10,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat gpt-4o-mini (empty)",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 0,
                "gen_ai.usage.output_tokens": 0,
            },
        ):
            pass
        with tracer.start_as_current_span("GET /internal", attributes={"http.request.method": "GET"}):
            pass
        return format(root.get_span_context().trace_id, "032x")


def _by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.name: s for s in spans}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_costs_arrive_over_otlp(rotel_collector: RotelCollector, protocol: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": f"rotel-{protocol}"}))
    provider.add_span_processor(
        CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(_exporter(protocol, rotel_collector))))
    )
    trace_id = _run_agent_trace(provider)
    assert provider.force_flush(10_000)
    provider.shutdown()

    spans = _by_name(rotel_collector.trace(trace_id, expected=6))
    assert len(spans) == 6
    assert all(s.resource["service.name"].value == f"rotel-{protocol}" for s in spans.values())

    chat = spans["chat gpt-4o"].typed
    assert chat["gen_ai.cost.total_usd"].type == "Double"
    assert chat["gen_ai.cost.total_usd"].value == pytest.approx(CHAT_COST, rel=1e-9)
    assert chat["gen_ai.cost.input_usd"].value == pytest.approx(600 * 2.50 / 1e6, rel=1e-9)
    assert chat["gen_ai.cost.cache_read_usd"].value == pytest.approx(400 * 1.25 / 1e6, rel=1e-9)
    assert chat["gen_ai.cost.output_usd"].value == pytest.approx(200 * 10.0 / 1e6, rel=1e-9)
    assert chat["gen_ai.cost.category"].raw == "llm"
    assert chat["gen_ai.cost.source"].raw == "catalog"
    assert chat["gen_ai.cost.pricing.id"].raw == "openai/gpt-4o"
    assert chat["gen_ai.cost.pricing.version"].type == "Str"
    # the instrumentation's own attributes travel unchanged next to the cost
    assert chat["gen_ai.usage.input_tokens"].type == "Int"
    assert chat["gen_ai.usage.input_tokens"].value == 1000

    embed = spans["embeddings text-embedding-3-small"].typed
    assert embed["gen_ai.cost.total_usd"].type == "Double"
    assert embed["gen_ai.cost.total_usd"].value == pytest.approx(EMBED_COST, rel=1e-9)
    assert embed["gen_ai.cost.category"].raw == "embedding"

    unknown = spans["chat no-such-model-xyz"].typed
    assert unknown["gen_ai.cost.unpriced"].type == "Bool"
    assert unknown["gen_ai.cost.unpriced"].value is True
    assert unknown["gen_ai.cost.unpriced_reason"].raw == "unknown_model"
    assert "gen_ai.cost.total_usd" not in unknown  # never a silent 0

    # Counts of 0 in and 0 out: a response that reported no usage, never a $0 call.
    empty = spans["chat gpt-4o-mini (empty)"].typed
    assert empty["gen_ai.cost.unpriced"].value is True
    assert empty["gen_ai.cost.unpriced_reason"].raw == "missing_usage"
    assert "gen_ai.cost.total_usd" not in empty

    plain = spans["GET /internal"].typed
    assert not [k for k in plain if k.startswith("gen_ai.")]

    root = spans["invoke_agent support-bot"]
    assert root.is_root
    attrs = root.typed
    assert "gen_ai.cost.total_usd" not in attrs  # aggregate usage is not priced again
    assert attrs["gen_ai.trace.cost.total_usd"].type == "Double"
    assert attrs["gen_ai.trace.cost.total_usd"].value == pytest.approx(CHAT_COST + EMBED_COST, rel=1e-9)
    assert attrs["gen_ai.trace.cost.llm_usd"].type == "Double"
    assert attrs["gen_ai.trace.cost.llm_usd"].value == pytest.approx(CHAT_COST, rel=1e-9)
    assert attrs["gen_ai.trace.cost.tool_usd"].type == "Double"  # a zero cost is still a double
    assert attrs["gen_ai.trace.cost.tool_usd"].value == 0.0
    assert attrs["gen_ai.trace.cost.embedding_usd"].value == pytest.approx(EMBED_COST, rel=1e-9)
    assert attrs["gen_ai.trace.cost.llm_calls"].type == "Int"
    assert attrs["gen_ai.trace.cost.llm_calls"].value == 3  # gpt-4o, unknown model, empty call
    assert attrs["gen_ai.trace.cost.unpriced_spans"].value == 2  # the unknown model, the empty call
    assert attrs["gen_ai.trace.cost.input_tokens"].value == 1000 + 5000 + 10
    assert attrs["gen_ai.trace.cost.output_tokens"].value == 200 + 10
    assert attrs["gen_ai.trace.cost.cache_read_tokens"].value == 400
    assert attrs["gen_ai.trace.cost.band"].type == "Str"
    assert attrs["gen_ai.trace.cost.band"].raw == "lt_0.01"
    assert attrs["gen_ai.trace.cost.complete"].value is True


def test_collector_forwards_costs_to_a_second_collector(tmp_path: Path) -> None:
    """app -(gRPC)-> rotel A -(OTLP/HTTP)-> rotel B: the cost survives a collector hop."""
    with (
        RotelCollector(workdir=tmp_path / "b") as downstream,
        RotelCollector(
            workdir=tmp_path / "a", forward_to=downstream.http_endpoint, forward_protocol="http"
        ) as upstream,
    ):
        provider = TracerProvider()
        provider.add_span_processor(
            CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(_exporter("grpc", upstream))))
        )
        trace_id = _run_agent_trace(provider)
        provider.force_flush(10_000)
        provider.shutdown()
        spans = _by_name(downstream.trace(trace_id, expected=6))
    assert spans["chat gpt-4o"].typed["gen_ai.cost.total_usd"].type == "Double"
    assert spans["chat gpt-4o"].typed["gen_ai.cost.total_usd"].value == pytest.approx(CHAT_COST, rel=1e-9)
    root = spans["invoke_agent support-bot"].typed
    assert root["gen_ai.trace.cost.total_usd"].value == pytest.approx(CHAT_COST + EMBED_COST, rel=1e-9)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_COST_"))}
    env.update(extra)
    return env


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_demo_exports_its_trace(rotel_collector: RotelCollector, protocol: str) -> None:
    endpoint = rotel_collector.grpc_endpoint if protocol == "grpc" else rotel_collector.http_endpoint
    done = subprocess.run(
        [str(VENV_BIN / "genai-cost"), "demo", "--json"],
        env=_clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_EXPORTER_OTLP_PROTOCOL=protocol),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    spans = rotel_collector.wait_for_spans(
        lambda s: any(x.is_root and "gen_ai.trace.cost.total_usd" in x.typed for x in s) and len(s) >= 16,
        what="the demo trace",
    )
    assert len(spans) == 16  # 1 agent + 10 LLM calls + 5 tool calls
    root = next(s for s in spans if s.is_root)
    assert root.resource["service.name"].raw == "genai-cost-demo"
    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].type == "Double"
    assert round(totals["gen_ai.trace.cost.total_usd"].value, 3) == 0.142
    assert round(totals["gen_ai.trace.cost.llm_usd"].value, 3) == 0.129
    assert round(totals["gen_ai.trace.cost.tool_usd"].value, 3) == 0.013
    assert totals["gen_ai.trace.cost.llm_calls"].value == 10
    assert totals["gen_ai.trace.cost.tool_calls"].value == 5
    assert totals["gen_ai.trace.cost.input_tokens"].value == 38_800
    assert totals["gen_ai.trace.cost.output_tokens"].value == 3_200
    tools = [s for s in spans if s.name.startswith("execute_tool")]
    assert sorted(round(t.typed["gen_ai.cost.total_usd"].value, 6) for t in tools) == [0.001] * 3 + [0.005] * 2
    assert all(len({s.trace_id for s in spans}) == 1 for _ in [0])


ZERO_CODE_APP = textwrap.dedent(
    """
    # Uses only the OpenTelemetry API: the SDK comes from opentelemetry-instrument.
    from opentelemetry import trace

    tracer = trace.get_tracer("zero_code_app")
    with tracer.start_as_current_span("handle request") as root:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.cache_read.input_tokens": 400,
            "gen_ai.usage.output_tokens": 200,
        }):
            pass
        print(format(root.get_span_context().trace_id, "032x"))
    """
)


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_zero_code_switch_on(rotel_collector: RotelCollector, tmp_path: Path, protocol: str) -> None:
    app = tmp_path / "app.py"
    app.write_text(ZERO_CODE_APP)
    endpoint = rotel_collector.grpc_endpoint if protocol == "grpc" else rotel_collector.http_endpoint
    env = _clean_env(
        OTEL_PYTHON_CONFIGURATOR="genai_cost",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_SERVICE_NAME="zero-code-app",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    done = subprocess.run(
        [str(VENV_BIN / "opentelemetry-instrument"), sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    trace_id = done.stdout.strip().splitlines()[-1]
    spans = _by_name(rotel_collector.trace(trace_id, expected=2))
    chat = spans["chat gpt-4o"]
    assert chat.resource["service.name"].raw == "zero-code-app"  # standard configuration honoured
    assert chat.resource["deployment.environment.name"].raw == "test"
    assert chat.typed["gen_ai.cost.total_usd"].type == "Double"
    assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx(CHAT_COST, rel=1e-9)
    root = spans["handle request"].typed
    assert root["gen_ai.trace.cost.total_usd"].value == pytest.approx(CHAT_COST, rel=1e-9)
    assert root["gen_ai.trace.cost.llm_calls"].value == 1


def test_zero_code_disabled_passes_spans_untouched(rotel_collector: RotelCollector, tmp_path: Path) -> None:
    """GENAI_COST_ENABLED=false: the standard SDK setup, no cost attributes."""
    app = tmp_path / "app.py"
    app.write_text(ZERO_CODE_APP)
    env = _clean_env(
        OTEL_PYTHON_CONFIGURATOR="genai_cost",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_ENDPOINT=rotel_collector.grpc_endpoint,
        GENAI_COST_ENABLED="false",
    )
    done = subprocess.run(
        [str(VENV_BIN / "opentelemetry-instrument"), sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    trace_id = done.stdout.strip().splitlines()[-1]
    spans = _by_name(rotel_collector.trace(trace_id, expected=2))
    assert spans["chat gpt-4o"].typed["gen_ai.usage.input_tokens"].value == 1000
    assert not [k for s in spans.values() for k in s.typed if k.startswith(("gen_ai.cost.", "gen_ai.trace.cost."))]
