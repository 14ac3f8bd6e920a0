"""Issue 5: the official ``opentelemetry-instrumentation-genai-anthropic`` (real
``anthropic`` client) and ``-bedrock`` (real ``boto3`` bedrock-runtime, Converse
API) under ``opentelemetry-instrument`` with genai-cost switched on by
configuration, against the local fake server; spans read back from rotel.

Note: ``anthropic`` 2.x emits its OWN OpenTelemetry span for each request
(``anthropic.messages.create``, scope ``com.anthropic.sdk.python``) as a child
of the instrumentation's ``chat {model}`` span. Both carry the same usage; the
test proves the call is counted exactly once.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from support.apps import run_instrumented
from support.fake_llm import FakeLLMServer, Usage
from support.rotel import RotelCollector
from support.venvs import OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6
COMMON = [
    "opentelemetry-util-genai==1.3b0",
    *OTEL_PINS,
]
ANTHROPIC_PINS = ["opentelemetry-instrumentation-genai-anthropic==1.3b0", "anthropic==2.12.0", *COMMON]
BEDROCK_PINS = ["opentelemetry-instrumentation-genai-bedrock==1.3b0", "boto3==1.44.5", *COMMON]

# claude-sonnet-4 ($3 in, $0.30 cache read, $3.75 5-minute cache write, $15 out):
# 100 uncached + 3000 read + 2000 written, 50 out.
SONNET_CALL = (100 * 3.00 + 3000 * 0.30 + 2000 * 3.75 + 50 * 15.00) / M  # 0.00945
# claude-3-5-haiku ($0.80 in, $4 out): 1200 in, 80 out.
HAIKU_CALL = (1200 * 0.80 + 80 * 4.00) / M  # 0.00128


def test_official_anthropic_cache_writes_and_reads(rotel_collector: RotelCollector) -> None:
    venv = require_venv("genai-anthropic", ANTHROPIC_PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv, APPS / "anthropic_app.py", rotel_collector, env={"FAKE_LLM_BASE_URL": fake.base_url}
        )
        assert len(fake.requests) == 3
    # root + 3 instrumentation spans + 3 SDK-native spans
    spans = rotel_collector.trace(trace_id, expected=7)
    official = [s for s in spans if s.scope == "opentelemetry.instrumentation.genai.anthropic"]
    native = [s for s in spans if s.scope == "com.anthropic.sdk.python"]
    assert len(official) == 3 and len(native) == 3

    sonnet = [s for s in official if s.name == "chat claude-sonnet-4-20250514"]
    assert len(sonnet) == 2  # plain + streamed
    for span in sonnet:
        # the instrumentation reports input INCLUDING cache (semconv), and the cache counts
        assert span.typed["gen_ai.usage.input_tokens"].value == 100 + 3000 + 2000
        assert span.typed["gen_ai.usage.cache_read.input_tokens"].value == 3000
        assert span.typed["gen_ai.usage.cache_write.input_tokens"].value == 2000

    priced = [s for s in spans if "gen_ai.cost.total_usd" in s.typed]
    # exactly one priced span per API call, whichever layer it is
    assert len(priced) == 3, [(s.name, s.scope) for s in priced]
    costs = sorted(s.typed["gen_ai.cost.total_usd"].value for s in priced)
    assert costs == pytest.approx(sorted([SONNET_CALL, SONNET_CALL, HAIKU_CALL]), rel=1e-9)
    for span in priced:
        assert span.typed["gen_ai.cost.total_usd"].type == "Double"
        if "sonnet" in span.typed["gen_ai.request.model"].raw:
            assert span.typed["gen_ai.cost.cache_write_usd"].value == pytest.approx(2000 * 3.75 / M, rel=1e-9)
            assert span.typed["gen_ai.cost.cache_read_usd"].value == pytest.approx(3000 * 0.30 / M, rel=1e-9)
            assert span.typed["gen_ai.cost.input_usd"].value == pytest.approx(100 * 3.00 / M, rel=1e-9)

    (root,) = [s for s in spans if s.is_root]
    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(2 * SONNET_CALL + HAIKU_CALL, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 3
    assert totals["gen_ai.trace.cost.cache_read_tokens"].value == 6000
    assert totals["gen_ai.trace.cost.cache_write_tokens"].value == 4000
    assert totals["gen_ai.trace.cost.input_tokens"].value == 2 * 5100 + 1200


def test_official_bedrock_converse(rotel_collector: RotelCollector) -> None:
    venv = require_venv("genai-bedrock", BEDROCK_PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv, APPS / "bedrock_app.py", rotel_collector, env={"FAKE_LLM_BASE_URL": fake.base_url}
        )
        assert [unquote(path) for path, _ in fake.requests] == [
            "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse"
        ]
    spans = rotel_collector.trace(trace_id, expected=2)
    (chat,) = [s for s in spans if s.scope == "opentelemetry.instrumentation.genai.bedrock"]
    assert chat.typed["gen_ai.provider.name"].raw == "aws.bedrock"
    assert chat.typed["gen_ai.cost.total_usd"].type == "Double"
    assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx(HAIKU_CALL, rel=1e-9)
    (root,) = [s for s in spans if s.is_root]
    assert root.typed["gen_ai.trace.cost.total_usd"].value == pytest.approx(HAIKU_CALL, rel=1e-9)


# Bedrock Converse reports inputTokens EXCLUDING cache reads/writes, and
# opentelemetry-instrumentation-genai-bedrock 1.3b0 copies it unchanged
# (extractors.py extract_converse_response): _vocabulary.EXCLUSIVE_INPUT_SCOPES converts it.
def test_official_bedrock_converse_with_cache_read(rotel_collector: RotelCollector) -> None:
    venv = require_venv("genai-bedrock", BEDROCK_PINS)
    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    # Converse: 1200 fresh input tokens, 500 read from cache, 80 out.
    usage = {model: Usage(model, 1200, 80, cached_tokens=500)}
    with FakeLLMServer(usage=usage) as fake:
        trace_id = run_instrumented(
            venv, APPS / "bedrock_app.py", rotel_collector, env={"FAKE_LLM_BASE_URL": fake.base_url}
        )
    spans = rotel_collector.trace(trace_id, expected=2)
    (chat,) = [s for s in spans if s.scope == "opentelemetry.instrumentation.genai.bedrock"]
    assert chat.typed["gen_ai.usage.cache_read.input_tokens"].value == 500
    # what AWS bills: 1200 fresh at $0.80, 500 cached at $0.08, 80 out at $4
    assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx((1200 * 0.80 + 500 * 0.08 + 80 * 4.00) / M)
