"""A TypeScript agent, priced by the gateway, delivered to a real collector.

The whole path with nothing simulated but the LLM: the Vercel AI SDK 7 in node,
exporting with the OpenTelemetry JS SDK's own OTLP exporters (protobuf and JSON)
and batch processor, to ``genai-cost gateway`` run as a user runs it (a
subprocess, stopped with SIGTERM), which forwards over OTLP/gRPC to rotel. The
costs are read back from what rotel received.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.fake_llm import FakeLLMServer
from support.gateway import GatewayProcess
from support.rotel import RotelCollector
from support.venvs import TOOLS

pytestmark = pytest.mark.integration

#: The versions of tests/fixtures/spans/vercel-ai-sdk-7.json, plus the OTLP exporters of the same JS SDK release.
PACKAGES = {
    "ai": "7.0.173",
    "@ai-sdk/otel": "1.0.173",
    "@ai-sdk/openai": "4.0.118",
    "@opentelemetry/api": "1.9.1",
    "@opentelemetry/sdk-trace-base": "2.12.1",
    "@opentelemetry/exporter-trace-otlp-proto": "0.223.1",
    "@opentelemetry/exporter-trace-otlp-http": "0.223.1",
}
SCRIPT = Path(__file__).resolve().parents[1] / "support" / "js" / "vercel-ai-sdk-7-otlp.mjs"
M = 1e6
CHAT = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M  # the fake server's gpt-4o usage: 1000 in (400 cached), 200 out
EMBEDDING = 5000 * 0.02 / M


@pytest.fixture(scope="module")
def node_agent() -> Path:
    workdir = TOOLS / "node-gateway"
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / "installed.json"
    if not marker.exists() or json.loads(marker.read_text()) != PACKAGES:
        (workdir / "package.json").write_text(json.dumps({"name": "node-gateway", "private": True, "type": "module"}))
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", *[f"{k}@{v}" for k, v in PACKAGES.items()]],
            cwd=workdir,
            check=True,
            timeout=600,
            capture_output=True,
        )
        marker.write_text(json.dumps(PACKAGES))
    (workdir / "agent.mjs").write_text(SCRIPT.read_text())
    return workdir


@pytest.mark.parametrize("otlp_format", ["protobuf", "json"])
def test_a_typescript_agent_is_priced_by_the_gateway(
    node_agent: Path, rotel_collector: RotelCollector, otlp_format: str
) -> None:
    gateway_env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": rotel_collector.grpc_endpoint,
    }
    with GatewayProcess(gateway_env) as gateway, FakeLLMServer() as fake:
        subprocess.run(
            ["node", "agent.mjs"],
            cwd=node_agent,
            env={**os.environ, "FAKE_LLM_BASE_URL": fake.base_url, "OTLP_TRACES_URL": gateway.url, "OTLP_FORMAT": otlp_format},
            check=True,
            timeout=120,
            capture_output=True,
        )
        gateway.stop()
    log = gateway.stderr
    assert gateway.returncode == 0, log
    assert "5 span(s) received, 0 rejected as malformed, 0 not forwarded, 0 unpriced" in log

    spans = rotel_collector.wait_for_spans(lambda s: len(s) >= 5, what="the agent's five spans")
    by_name = {span.name: span for span in spans if span.name != "embeddings text-embedding-3-small"}
    embeddings = [span for span in spans if span.name == "embeddings text-embedding-3-small"]
    chat = by_name["chat gpt-4o"].attributes
    assert chat["gen_ai.cost.total_usd"] == pytest.approx(CHAT, rel=1e-9)
    assert chat["gen_ai.cost.cache_read_usd"] == pytest.approx(400 * 1.25 / M)
    assert chat["gen_ai.cost.pricing.id"] == "openai/gpt-4o"
    agent = by_name["invoke_agent gpt-4o"]
    assert agent.is_root
    assert "gen_ai.cost.total_usd" not in agent.attributes, "the agent's aggregate usage is not priced again"
    assert agent.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(CHAT, rel=1e-9)
    assert agent.attributes["gen_ai.trace.cost.llm_calls"] == 1
    assert agent.attributes["gen_ai.trace.cost.cache_read_tokens"] == 400
    [leaf] = [span for span in embeddings if not span.is_root]
    [wrapper] = [span for span in embeddings if span.is_root]
    assert leaf.attributes["gen_ai.cost.total_usd"] == pytest.approx(EMBEDDING, rel=1e-9)
    assert leaf.attributes["gen_ai.cost.category"] == "embedding"
    assert wrapper.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(EMBEDDING, rel=1e-9)
