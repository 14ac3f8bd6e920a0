"""Issue 5: Google ADK (agent framework) over Gemini, against the local Gemini-shaped
server, under ``opentelemetry-instrument`` with genai-cost: ADK's aggregate spans
(``invoke_workflow`` > ``invoke_agent``) over one model call, traced either by the
official google-genai instrumentation or, with that one disabled, by ADK itself
(scope ``gcp.vertex.agent``). Either way the call is priced once, thinking included once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.apps import run_instrumented
from support.fake_llm import FakeLLMServer
from support.rotel import RotelCollector
from support.venvs import require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6
# google-adk 2.13.0 caps opentelemetry-sdk at <=1.44, so this venv runs OpenTelemetry 1.44 / 0.65b0.
PINS = [
    "google-adk==2.13.0",
    "google-genai==2.34.0",
    "opentelemetry-instrumentation-google-genai==1.3b0",
    "opentelemetry-util-genai==1.3b0",
    "opentelemetry-api==1.44.0",
    "opentelemetry-sdk==1.44.0",
    "opentelemetry-exporter-otlp==1.44.0",
    "opentelemetry-instrumentation==0.65b0",
]
FLASH = (600 * 0.30 + 400 * 0.03 + 500 * 2.50) / M  # 1000 in (400 cached), 200 text + 300 thinking


@pytest.mark.parametrize(
    ("tracer_of_call", "env"),
    [
        ("opentelemetry.instrumentation.google_genai", {}),
        ("gcp.vertex.agent", {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "google-genai"}),
    ],
)
def test_google_adk_agent_call_priced_once(rotel_collector: RotelCollector, tracer_of_call: str, env: dict) -> None:
    venv = require_venv("google-adk", PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv,
            APPS / "google_adk_app.py",
            rotel_collector,
            env={"FAKE_LLM_BASE_URL": fake.base_url, **env},
        )
        assert [p for p, _ in fake.requests if p.endswith(":generateContent")], fake.requests
    spans = rotel_collector.trace(trace_id, expected=4)
    ops = {s.typed["gen_ai.operation.name"].raw: s for s in spans if "gen_ai.operation.name" in s.typed}
    assert {"invoke_workflow", "invoke_agent", "generate_content"} <= set(ops)
    call = ops["generate_content"]
    assert call.scope == tracer_of_call
    assert call.typed["gen_ai.cost.total_usd"].value == pytest.approx(FLASH, rel=1e-9)
    for aggregate in ("invoke_workflow", "invoke_agent"):
        assert not [k for k in ops[aggregate].typed if k.startswith("gen_ai.cost.")]
    priced = [s for s in spans if "gen_ai.cost.total_usd" in s.typed]
    assert len(priced) == 1
    (root,) = [s for s in spans if s.is_root]
    assert root.typed["gen_ai.trace.cost.total_usd"].value == pytest.approx(FLASH, rel=1e-9)
    assert root.typed["gen_ai.trace.cost.llm_calls"].value == 1
