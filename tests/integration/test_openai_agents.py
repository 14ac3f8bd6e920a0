"""Issue 5: an agent framework's aggregate spans next to its leaf LLM spans, from
the official instrumentations: the OpenAI Agents SDK (``openai-agents``) traced by
``opentelemetry-instrumentation-genai-openai-agents`` (invoke_workflow >
invoke_agent > execute_tool) with the model calls traced by
``opentelemetry-instrumentation-genai-openai`` (chat), under
``opentelemetry-instrument`` with genai-cost; the agent's own tool is priced from a
user pricing file given by ``GENAI_COST_PRICING_FILE``.
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
    "opentelemetry-instrumentation-genai-openai-agents==1.3b0",
    "opentelemetry-instrumentation-genai-openai==1.3b0",
    "opentelemetry-util-genai==1.3b0",
    "openai-agents==0.24.0",
    "openai==3.54.0",
    *OTEL_PINS,
]
CHAT = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M  # gpt-4o, 1000 in (400 cached), 200 out
TOOL = 0.002  # get_weather, from tests/integration/apps/agent_tools.yaml


def test_openai_agents_workflow_counts_each_call_once(rotel_collector: RotelCollector) -> None:
    venv = require_venv("genai-openai-agents", PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv,
            APPS / "openai_agents_app.py",
            rotel_collector,
            env={
                "FAKE_LLM_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "",  # the Agents SDK's own trace export stays off
                "GENAI_COST_PRICING_FILE": str(APPS / "agent_tools.yaml"),
            },
        )
        paths = [path for path, _ in fake.requests]
    assert paths.count("/v1/responses") == 2, paths  # model, tool, model
    spans = rotel_collector.trace(trace_id, expected=6)
    by_op: dict[str, list] = {}
    for span in spans:
        op = span.typed.get("gen_ai.operation.name")
        by_op.setdefault(op.raw if op else "", []).append(span)

    (workflow,) = by_op["invoke_workflow"]
    (agent,) = by_op["invoke_agent"]
    (tool,) = by_op["execute_tool"]
    chats = by_op["chat"]
    assert len(chats) == 2
    assert agent.parent_id == workflow.span_id
    for aggregate in (workflow, agent):
        assert not [k for k in aggregate.typed if k.startswith("gen_ai.cost.")], aggregate.name
    for chat in chats:
        assert chat.scope == "opentelemetry.instrumentation.genai.openai"
        assert chat.typed["gen_ai.cost.total_usd"].value == pytest.approx(CHAT, rel=1e-9)
    assert tool.typed["gen_ai.tool.name"].raw == "get_weather"
    assert tool.typed["gen_ai.cost.total_usd"].type == "Double"
    assert tool.typed["gen_ai.cost.total_usd"].value == pytest.approx(TOOL)
    assert tool.typed["gen_ai.cost.source"].raw == "override"  # a user pricing file

    (root,) = [s for s in spans if s.is_root]
    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(2 * CHAT + TOOL, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_usd"].value == pytest.approx(2 * CHAT, rel=1e-9)
    assert totals["gen_ai.trace.cost.tool_usd"].value == pytest.approx(TOOL, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 2
    assert totals["gen_ai.trace.cost.tool_calls"].value == 1
    assert totals["gen_ai.trace.cost.unpriced_spans"].value == 0
