"""Issue 5: an agent framework's aggregate spans next to its leaf LLM spans.

Pydantic AI (``pydantic-ai-slim[openai]``), instrumented by its own OpenTelemetry
support (``Agent.instrument_all()``), runs two agents against the fake OpenAI
server, under ``opentelemetry-instrument`` with genai-cost. Each run has an
``invoke_agent`` span (aggregate usage) over a ``chat`` span (the real call,
which also carries Pydantic AI's own ``operation.cost`` from genai-prices).
The trace total must count each call exactly once.
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
PINS = [
    "pydantic-ai-slim[openai]==2.68.0",
    *OTEL_PINS,
]
GPT_4O = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M
GPT_4O_MINI = (2000 * 0.15 + 300 * 0.60) / M


def test_pydantic_ai_agent_runs_counted_once(rotel_collector: RotelCollector) -> None:
    venv = require_venv("pydantic-ai", PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv, APPS / "pydantic_ai_app.py", rotel_collector, env={"FAKE_LLM_BASE_URL": fake.base_url}
        )
        assert len(fake.requests) == 2
    spans = rotel_collector.trace(trace_id, expected=5)
    agents = [s for s in spans if s.name.startswith("invoke_agent")]
    chats = {s.name: s for s in spans if s.name.startswith("chat ")}
    assert len(agents) == 2
    assert set(chats) == {"chat gpt-4o", "chat gpt-4o-mini"}
    for agent in agents:
        # aggregate spans carry their children's usage, and are never priced
        assert not [k for k in agent.typed if k.startswith("gen_ai.cost.")], agent.name
        child = [s for s in spans if s.parent_id == agent.span_id]
        assert [c.name for c in child if c.name.startswith("chat ")], agent.name

    for name, expected in (("chat gpt-4o", GPT_4O), ("chat gpt-4o-mini", GPT_4O_MINI)):
        attrs = chats[name].typed
        assert attrs["gen_ai.cost.total_usd"].type == "Double"
        assert attrs["gen_ai.cost.total_usd"].value == pytest.approx(expected, rel=1e-9)
        # Pydantic AI's own figure (genai-prices) is on the span; the default policy "prefer" uses it,
        # and it agrees with the catalog here
        assert attrs["operation.cost"].value == pytest.approx(expected, rel=1e-9)
        assert attrs["gen_ai.cost.source"].raw == "span"
        assert attrs["gen_ai.cost.catalog_usd"].value == pytest.approx(expected, rel=1e-9)

    (root,) = [s for s in spans if s.is_root]
    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(GPT_4O + GPT_4O_MINI, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 2
    assert totals["gen_ai.trace.cost.input_tokens"].value == 3000
    assert totals["gen_ai.trace.cost.cache_read_tokens"].value == 400
