"""Issue 5: the official ``opentelemetry-instrumentation-google-genai`` with the real
``google-genai`` client against a local Gemini-shaped server, under
``opentelemetry-instrument`` with genai-cost. Gemini reports thinking tokens apart
from ``candidatesTokenCount``; the instrumentation folds them into
``gen_ai.usage.output_tokens``, and they must be billed once, at the output rate.
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
# opentelemetry-instrumentation-google-genai 1.3b0 declares google-genai >=1.32.0,<3 as the
# instrumented library (not as a dependency): with google-genai 3.x installed,
# opentelemetry-instrument silently skips it and no Gemini span is produced.
PINS = [
    "opentelemetry-instrumentation-google-genai==1.3b0",
    "google-genai==2.34.0",
    "opentelemetry-util-genai==1.3b0",
    *OTEL_PINS,
]
# gemini-2.5-flash ($0.30 in, $0.03 cached, $2.50 out): 1000 in (400 cached), 200 text + 300 thinking out
FLASH = (600 * 0.30 + 400 * 0.03 + 500 * 2.50) / M
# gemini-2.5-pro ($1.25 in, $10 out): 2000 in, 900 text + 100 thinking out
PRO = (2000 * 1.25 + 1000 * 10.00) / M


def test_official_google_genai_thinking_tokens_billed_once(rotel_collector: RotelCollector) -> None:
    venv = require_venv("genai-google", PINS)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv, APPS / "google_genai_app.py", rotel_collector, env={"FAKE_LLM_BASE_URL": fake.base_url}
        )
        assert len(fake.requests) == 2
    spans = rotel_collector.trace(trace_id, expected=3)
    calls = {
        s.typed["gen_ai.request.model"].raw: s for s in spans if s.scope == "opentelemetry.instrumentation.google_genai"
    }
    assert set(calls) == {"gemini-2.5-flash", "gemini-2.5-pro"}
    flash = calls["gemini-2.5-flash"].typed
    assert flash["gen_ai.usage.output_tokens"].value == 500  # 200 candidates + 300 thoughts
    assert flash["gen_ai.usage.reasoning.output_tokens"].value == 300
    assert flash["gen_ai.cost.total_usd"].type == "Double"
    assert flash["gen_ai.cost.total_usd"].value == pytest.approx(FLASH, rel=1e-9)
    assert flash["gen_ai.cost.cache_read_usd"].value == pytest.approx(400 * 0.03 / M, rel=1e-9)
    assert calls["gemini-2.5-pro"].typed["gen_ai.cost.total_usd"].value == pytest.approx(PRO, rel=1e-9)
    (root,) = [s for s in spans if s.is_root]
    assert root.typed["gen_ai.trace.cost.total_usd"].value == pytest.approx(FLASH + PRO, rel=1e-9)
    assert root.typed["gen_ai.trace.cost.output_tokens"].value == 1500
