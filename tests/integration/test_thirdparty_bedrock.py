"""Third-party Bedrock instrumentations (OpenLLMetry, OpenLIT) with the real ``boto3``
bedrock-runtime client (Converse) against the fake server, under
``opentelemetry-instrument`` with genai-cost (app: tests/integration/apps/bedrock_app.py).

Bedrock's ``inputTokens`` leaves cache reads and writes out, and both instrumentations copy
it unchanged next to the cache counts: priced as semconv's inclusive count, a cached call
would be billed about half. The official instrumentation's case is in
test_anthropic_bedrock_official.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.apps import run_instrumented
from support.fake_llm import FakeLLMServer, Usage
from support.rotel import RotelCollector
from support.venvs import OPENLIT_OTEL_PINS, OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6
VENVS = {
    "openllmetry-bedrock": (
        ["opentelemetry-instrumentation-bedrock==0.62.4", "boto3==1.44.5", *OTEL_PINS],
        "opentelemetry.instrumentation.bedrock",
    ),
    # openlit 1.45.0 requires OpenTelemetry <=0.66b1
    "openlit-bedrock": (
        [
            "openlit==1.45.0",
            "boto3==1.44.5",
            *OPENLIT_OTEL_PINS,
        ],
        "openlit.instrumentation.bedrock",
    ),
}
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
# Claude 3.5 Haiku on Bedrock: $0.80 in, $0.08 cache read, $4 out; in-region, no uplift.
# Converse: 1200 fresh input tokens, 500 read from cache, 80 out.
HAIKU_CACHED = (1200 * 0.80 + 500 * 0.08 + 80 * 4.00) / M


@pytest.mark.parametrize("name", ["openllmetry-bedrock", "openlit-bedrock"])
def test_third_party_bedrock_cache_reads_priced_as_billed(rotel_collector: RotelCollector, name: str) -> None:
    pins, scope = VENVS[name]
    venv = require_venv(name, pins)
    env = {"BEDROCK_MODEL_ID": HAIKU}
    if name.startswith("openlit"):
        env["APP_OPENLIT"] = "1"
    with FakeLLMServer(usage={HAIKU: Usage(HAIKU, 1200, 80, cached_tokens=500)}) as fake:
        env["FAKE_LLM_BASE_URL"] = fake.base_url
        trace_id = run_instrumented(venv, APPS / "bedrock_app.py", rotel_collector, env=env)
        assert len(fake.requests) == 1
    spans = rotel_collector.trace(trace_id, expected=2)
    (chat,) = [s for s in spans if s.scope == scope]
    # what the instrumentation recorded: Bedrock's input count, without the cache
    assert chat.typed["gen_ai.usage.input_tokens"].value == 1200
    assert chat.typed["gen_ai.usage.cache_read.input_tokens"].value == 500
    assert chat.typed["gen_ai.cost.usage_convention"].raw == "exclusive"
    assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx(HAIKU_CACHED, rel=1e-9)
    assert chat.typed["gen_ai.cost.cache_read_usd"].value == pytest.approx(500 * 0.08 / M, rel=1e-9)
    (root,) = [s for s in spans if s.is_root]
    assert root.typed["gen_ai.trace.cost.total_usd"].value == pytest.approx(HAIKU_CACHED, rel=1e-9)
    assert root.typed["gen_ai.trace.cost.llm_calls"].value == 1


def test_openllmetry_bedrock_model_without_profile_and_vendor_is_priced_as_in_region(
    rotel_collector: RotelCollector,
) -> None:
    """OpenLLMetry 0.62.4 records ``us.anthropic.claude-sonnet-4-5-...`` as ``claude-sonnet-4-5-...``.
    Read with its vendor, it is the in-region id, which AWS bills at 1.1x as the ``us.``
    profile (it was priced through the Anthropic fallback at list price, 10% under)."""
    pins, scope = VENVS["openllmetry-bedrock"]
    venv = require_venv("openllmetry-bedrock", pins)
    called = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    with FakeLLMServer(usage={called: Usage(called, 1200, 80, cached_tokens=500)}) as fake:
        env = {"BEDROCK_MODEL_ID": called, "FAKE_LLM_BASE_URL": fake.base_url}
        trace_id = run_instrumented(venv, APPS / "bedrock_app.py", rotel_collector, env=env)
    spans = rotel_collector.trace(trace_id, expected=2)
    (chat,) = [s for s in spans if s.scope == scope]
    assert chat.typed["gen_ai.request.model"].raw == "claude-sonnet-4-5-20250929-v1:0"
    # Claude Sonnet 4.5 at 1.1x: $3.30 in, $0.33 cache read, $16.50 out
    expected = (1200 * 3.30 + 500 * 0.33 + 80 * 16.50) / M
    assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx(expected, rel=1e-9)
    assert "region=in-regionx1.1" in chat.typed["gen_ai.cost.adjustments"].raw
