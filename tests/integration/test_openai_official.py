"""Issue 5: the official ``opentelemetry-instrumentation-genai-openai`` with the real
``openai`` client, run under ``opentelemetry-instrument`` with genai-cost switched
on by ``OTEL_PYTHON_CONFIGURATOR=genai_cost``, against a local OpenAI-compatible
server; spans exported over OTLP to rotel and read back.

Expected costs are computed here by hand from the list prices (USD per million
tokens), not by genai-cost.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.apps import run_instrumented
from support.fake_llm import USAGE, FakeLLMServer
from support.rotel import ReceivedSpan, RotelCollector
from support.venvs import OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"

#: Versions that work together (checked against the registry, November 2026).
#: opentelemetry-instrumentation-openai-v2 2.4b0 does NOT import next to util-genai 1.3b0.
PINS = [
    "opentelemetry-instrumentation-genai-openai==1.3b0",
    "opentelemetry-util-genai==1.3b0",
    "openai==3.54.0",
    *OTEL_PINS,
]

M = 1e6
#: span name -> expected gen_ai.cost.total_usd, from USAGE and the published rates.
EXPECTED = {
    # gpt-4o: 1000 in (400 cached), 200 out; $2.50 / $1.25 cached / $10.00
    "chat gpt-4o": (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M,
    # gpt-4o-mini streamed: 2000 in, 300 out; $0.15 / $0.60
    "chat gpt-4o-mini": (2000 * 0.15 + 300 * 0.60) / M,
    # text-embedding-3-small: 5000 in; $0.02
    "embeddings text-embedding-3-small": 5000 * 0.02 / M,
    # o4-mini on FLEX: 3000 in (1000 cached), 1500 out (1000 reasoning, billed as output, once);
    # flex rates $0.55 / $0.138 cached / $2.20
    "chat o4-mini": (2000 * 0.55 + 1000 * 0.138 + 1500 * 2.20) / M,
    # gpt-5-mini on PRIORITY: 4000 in (2000 cached), 500 out; 1.8 x ($0.25 / $0.025 / $2.00)
    "chat gpt-5-mini": 1.8 * (2000 * 0.25 + 2000 * 0.025 + 500 * 2.00) / M,
}
RESPONSES_COST = EXPECTED["chat gpt-4o"]  # same canned usage via the Responses API


@pytest.fixture(scope="module")
def openai_venv() -> Path:
    return require_venv("genai-openai", PINS)


def _spans_by_name(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]]:
    out: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


@pytest.mark.parametrize(
    ("semconv", "protocol"),
    [("default", "grpc"), ("gen_ai_latest_experimental", "grpc"), ("gen_ai_latest_experimental", "http/protobuf")],
)
def test_official_openai_instrumentation_spans_are_priced(
    openai_venv: Path, rotel_collector: RotelCollector, semconv: str, protocol: str
) -> None:
    env = {"APP_RESPONSES_API": "1"}
    if semconv != "default":
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = semconv
    with FakeLLMServer() as fake:
        env["FAKE_LLM_BASE_URL"] = fake.base_url
        trace_id = run_instrumented(openai_venv, APPS / "openai_app.py", rotel_collector, protocol=protocol, env=env)
        assert len(fake.requests) == 6
    spans = rotel_collector.trace(trace_id, expected=7)
    by_name = _spans_by_name(spans)

    for name, expected in EXPECTED.items():
        (span,) = [s for s in by_name[name] if s.typed.get("openai.api.type") is None]
        attrs = span.typed
        assert span.scope == "opentelemetry.instrumentation.genai.openai"
        assert attrs["gen_ai.cost.total_usd"].type == "Double", name
        assert attrs["gen_ai.cost.total_usd"].value == pytest.approx(expected, rel=1e-9), name
        # the served model (dated snapshot) was priced, through the base entry
        assert attrs["gen_ai.response.model"].raw == USAGE[name.split(" ", 1)[1]].served_model
        assert attrs["gen_ai.cost.source"].raw == "catalog"

    flex = by_name["chat o4-mini"][0].typed
    assert flex["openai.response.service_tier"].raw == "flex"
    assert flex["gen_ai.usage.reasoning.output_tokens"].value == 1000
    assert flex["gen_ai.cost.output_usd"].value == pytest.approx(1500 * 2.20 / M, rel=1e-9)
    assert flex["gen_ai.cost.cache_read_usd"].value == pytest.approx(1000 * 0.138 / M, rel=1e-9)
    priority = by_name["chat gpt-5-mini"][0].typed
    assert priority["openai.response.service_tier"].raw == "priority"
    stream = by_name["chat gpt-4o-mini"][0].typed
    assert stream["gen_ai.request.stream"].value is True
    assert by_name["embeddings text-embedding-3-small"][0].typed["gen_ai.cost.category"].raw == "embedding"

    (responses,) = [s for s in by_name["chat gpt-4o"] if s.typed.get("openai.api.type") is not None]
    assert responses.typed["openai.api.type"].raw == "responses"
    assert responses.typed["gen_ai.cost.total_usd"].value == pytest.approx(RESPONSES_COST, rel=1e-9)

    (root,) = [s for s in spans if s.is_root]
    totals = root.typed
    assert "gen_ai.cost.total_usd" not in totals  # the agent span's aggregate usage is not priced
    expected_total = sum(EXPECTED.values()) + RESPONSES_COST
    assert totals["gen_ai.trace.cost.total_usd"].type == "Double"
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(expected_total, rel=1e-9)
    assert totals["gen_ai.trace.cost.embedding_usd"].value == pytest.approx(
        EXPECTED["embeddings text-embedding-3-small"]
    )
    assert totals["gen_ai.trace.cost.llm_calls"].value == 5
    assert totals["gen_ai.trace.cost.priced_spans"].value == 6
    assert totals["gen_ai.trace.cost.unpriced_spans"].value == 0
    assert totals["gen_ai.trace.cost.input_tokens"].value == 1000 + 2000 + 5000 + 3000 + 4000 + 1000
    assert totals["gen_ai.trace.cost.output_tokens"].value == 200 + 300 + 1500 + 500 + 200
    assert totals["gen_ai.trace.cost.cache_read_tokens"].value == 400 + 1000 + 2000 + 400
    assert totals["gen_ai.trace.cost.complete"].value is True
