"""OpenInference's Bedrock instrumentation with the real ``boto3`` bedrock-runtime client,
Converse (``converse``) and ConverseStream (``converse_stream``, an AWS event stream from the
fake server), for Claude 3.5 Haiku and Amazon Nova Pro, with cache reads (and, for Claude,
cache writes), under ``opentelemetry-instrument`` with genai-cost (the instrumentation is
picked up through its ``opentelemetry_instrumentor`` entry point;
app: tests/integration/apps/bedrock_app.py).

Bedrock's ``inputTokens`` leaves the cache reads and writes out. OpenInference 0.1.61 folds
them back into ``llm.token_count.prompt`` on both paths (one ``get_token_counts`` shared by
the Converse wrapper and the stream callback), so its prompt count is inclusive, as
genai-cost reads OpenInference; ``llm.token_count.total`` is Bedrock's ``totalTokens``.
Its provider is ``llm.provider = "aws"`` (and no ``llm.system``): until "aws" was an alias of
the catalog's aws-bedrock, every path was ``unknown_provider``, with no cost at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.apps import run_instrumented
from support.fake_llm import FakeLLMServer, Usage
from support.rotel import ReceivedSpan, RotelCollector
from support.venvs import OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6
SCOPE = "openinference.instrumentation.bedrock"
# 0.1.61 declares no bound on OpenTelemetry (opentelemetry-api, -instrumentation unpinned)
PINS = [
    "openinference-instrumentation-bedrock==0.1.61",
    "openinference-instrumentation==0.1.72",
    "openinference-semantic-conventions==0.1.42",
    "boto3==1.44.5",
    *OTEL_PINS,
]

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"
# Converse usage the fake server returns: inputTokens (fresh input only), cache reads and
# writes, outputTokens; totalTokens counts all four.
USAGE = {
    HAIKU: Usage(HAIKU, 1200, 80, cached_tokens=500, cache_write_tokens=300),
    NOVA: Usage(NOVA, 1200, 80, cached_tokens=500),
}
BILLED = {
    # Claude 3.5 Haiku on Bedrock, in-region: $0.80 in, $0.08 cache read, $1.00 cache write, $4 out.
    HAIKU: (1200 * 0.80 + 500 * 0.08 + 300 * 1.00 + 80 * 4.00) / M,
    # Amazon Nova Pro, us. profile (no uplift): $0.80 in, $0.20 cache read, $3.20 out
    # (catalog aws-bedrock/amazon.nova-pro: `genai-cost price --provider aws.bedrock
    # --model amazon.nova-pro-v1:0 ... --explain`; https://aws.amazon.com/bedrock/pricing/).
    NOVA: (1200 * 0.80 + 500 * 0.20 + 80 * 3.20) / M,
}
CACHE_READ_USD = {HAIKU: 500 * 0.08 / M, NOVA: 500 * 0.20 / M}


PARAMS = [
    pytest.param(HAIKU, False, id="claude-3-5-haiku-converse"),
    pytest.param(HAIKU, True, id="claude-3-5-haiku-converse_stream"),
    pytest.param(NOVA, False, id="nova-pro-converse"),
    pytest.param(NOVA, True, id="nova-pro-converse_stream"),
]


def _chat_and_root(
    collector: RotelCollector, model: str, stream: bool, env: dict[str, str]
) -> tuple[ReceivedSpan, ReceivedSpan]:
    venv = require_venv("openinference-bedrock", PINS)
    env = {**env, "BEDROCK_MODEL_ID": model}
    if stream:
        env["BEDROCK_STREAM"] = "1"
    with FakeLLMServer(usage={model: USAGE[model]}) as fake:
        env["FAKE_LLM_BASE_URL"] = fake.base_url
        trace_id = run_instrumented(venv, APPS / "bedrock_app.py", collector, env=env)
        ((path, _),) = fake.requests
        assert path.endswith("/converse-stream" if stream else "/converse")
    spans = collector.trace(trace_id, expected=2)
    (chat,) = [s for s in spans if s.scope == SCOPE]
    (root,) = [s for s in spans if s.is_root]
    # what the instrumentation recorded, the same on both paths: the prompt count with the
    # cache reads and writes folded in (inclusive), the cache counts apart
    u = USAGE[model]
    assert chat.scope_version == "0.1.61"
    assert chat.name == ("bedrock.converse_stream" if stream else "bedrock.converse")
    assert chat.typed["openinference.span.kind"].raw == "LLM"
    assert chat.typed["llm.provider"].raw == "aws"
    assert "llm.system" not in chat.typed
    assert chat.typed["llm.model_name"].raw == model
    assert chat.typed["llm.token_count.prompt"].value == u.input_tokens + u.cached_tokens + u.cache_write_tokens
    assert chat.typed["llm.token_count.completion"].value == u.output_tokens
    assert chat.typed["llm.token_count.total"].value == (
        u.input_tokens + u.cached_tokens + u.cache_write_tokens + u.output_tokens
    )
    assert chat.typed["llm.token_count.prompt_details.cache_read"].value == u.cached_tokens
    assert chat.typed["llm.token_count.prompt_details.cache_write"].value == u.cache_write_tokens
    return chat, root


def _assert_billed(chat: ReceivedSpan, root: ReceivedSpan, model: str) -> None:
    assert "gen_ai.cost.unpriced_reason" not in chat.typed, chat.typed["gen_ai.cost.unpriced_detail"].raw
    # read as inclusive: no conversion recorded
    assert "gen_ai.cost.usage_convention" not in chat.typed
    assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx(BILLED[model], rel=1e-9)
    assert chat.typed["gen_ai.cost.cache_read_usd"].value == pytest.approx(CACHE_READ_USD[model], rel=1e-9)
    assert root.typed["gen_ai.trace.cost.total_usd"].value == pytest.approx(BILLED[model], rel=1e-9)
    assert root.typed["gen_ai.trace.cost.llm_calls"].value == 1


@pytest.mark.parametrize(("model", "stream"), PARAMS)
def test_openinference_bedrock_cached_converse_priced_as_billed(
    rotel_collector: RotelCollector, model: str, stream: bool
) -> None:
    chat, root = _chat_and_root(rotel_collector, model, stream, {})
    _assert_billed(chat, root, model)
    if model == HAIKU:
        assert chat.typed["gen_ai.cost.cache_write_usd"].value == pytest.approx(300 * 1.00 / M, rel=1e-9)
