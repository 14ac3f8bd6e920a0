"""Issue 5: a framework's LLM span over a provider LLM span. LangChain
(``langchain-openai``) with the official ``opentelemetry-instrumentation-genai-langchain``
AND ``-openai`` instrumentations both active, under ``opentelemetry-instrument`` with
genai-cost, against the fake OpenAI server. Each API call must be priced exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.apps import run_instrumented
from support.fake_llm import FakeLLMServer
from support.rotel import RotelCollector
from support.venvs import OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6
# The genai-langchain instrumentor only activates when the `langchain` package itself is
# installed (its _instruments is "langchain >= 0.3.22, < 2"), not just langchain-core.
# langchain-core 1.8.x needs certifi>=2026.10.19, which the registry here does not serve yet.
PINS = [
    "opentelemetry-instrumentation-genai-langchain==1.3b0",
    "opentelemetry-instrumentation-genai-openai==1.3b0",
    "opentelemetry-util-genai==1.3b0",
    "langchain==1.4.7",
    "langchain-core==1.7.2",
    "langchain-openai==1.7.3",
    "openai==3.54.0",
    *OTEL_PINS,
]
GPT_4O = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M
O4_MINI_FLEX = (2000 * 0.55 + 1000 * 0.138 + 1500 * 2.20) / M
EMBEDDING = 5000 * 0.02 / M


def test_langchain_over_openai_counted_once(rotel_collector: RotelCollector) -> None:
    venv = require_venv("genai-langchain", PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv, APPS / "langchain_app.py", rotel_collector, env={"FAKE_LLM_BASE_URL": fake.base_url}
        )
        assert len(fake.requests) == 3
    spans = rotel_collector.trace(trace_id, expected=4)
    scopes = {s.scope for s in spans}
    assert "opentelemetry.instrumentation.genai.langchain" in scopes, scopes  # the framework layer is there
    priced = [s for s in spans if "gen_ai.cost.total_usd" in s.typed]
    assert len(priced) == 3, [(s.name, s.scope) for s in priced]  # one per API call
    costs = sorted(s.typed["gen_ai.cost.total_usd"].value for s in priced)
    assert costs == pytest.approx(sorted([GPT_4O, O4_MINI_FLEX, EMBEDDING]), rel=1e-9)
    flex = next(s for s in priced if s.typed["gen_ai.request.model"].raw == "o4-mini")
    assert flex.typed["openai.response.service_tier"].raw == "flex"

    (root,) = [s for s in spans if s.is_root]
    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(GPT_4O + O4_MINI_FLEX + EMBEDDING, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 2
    assert totals["gen_ai.trace.cost.input_tokens"].value == 1000 + 3000 + 5000
