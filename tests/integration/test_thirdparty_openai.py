"""Issue 5: the popular third-party OpenAI instrumentations, each in its own venv,
with the real ``openai`` client against the local fake server, run under
``opentelemetry-instrument`` with genai-cost switched on by configuration:

* OpenLLMetry (Traceloop) ``opentelemetry-instrumentation-openai`` (``gen_ai.*`` keys)
* OpenInference ``openinference-instrumentation-openai`` (``llm.*`` keys)
* OpenLIT (``openlit.init()`` inside the app; it reuses the SDK provider that
  opentelemetry-instrument set up). OpenLIT writes its own ``gen_ai.usage.cost``:
  given an empty price list it writes an int ``0`` (a silent zero) that genai-cost
  must not take for a price.

The app is the same as for the official instrumentation (tests/integration/apps/openai_app.py).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from support.apps import run_instrumented
from support.fake_llm import FakeLLMServer
from support.rotel import RotelCollector
from support.venvs import OPENLIT_OTEL_PINS, OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6

GPT_4O = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M
GPT_4O_MINI = (2000 * 0.15 + 300 * 0.60) / M
EMBEDDING = 5000 * 0.02 / M
O4_MINI_FLEX = (2000 * 0.55 + 1000 * 0.138 + 1500 * 2.20) / M
GPT_5_MINI_PRIORITY = 1.8 * (2000 * 0.25 + 2000 * 0.025 + 500 * 2.00) / M

CASES: dict[str, tuple[list[str], str, list[float], dict[str, str]]] = {
    "openllmetry": (
        ["opentelemetry-instrumentation-openai==0.62.4", "openai==3.54.0", *OTEL_PINS],
        "opentelemetry.instrumentation.openai.v1",
        # chat, stream, embeddings, flex, priority, responses
        [GPT_4O, GPT_4O_MINI, EMBEDDING, O4_MINI_FLEX, GPT_5_MINI_PRIORITY, GPT_4O],
        {},
    ),
    "openinference": (
        ["openinference-instrumentation-openai==0.1.66", "openai==3.54.0", *OTEL_PINS],
        "openinference.instrumentation.openai",
        # OpenInference 0.1.66 records no served service tier, only the requested one inside the
        # llm.invocation_parameters JSON, which genai-cost reads when nothing better is there.
        [GPT_4O, GPT_4O_MINI, EMBEDDING, O4_MINI_FLEX, GPT_5_MINI_PRIORITY, GPT_4O],
        {},
    ),
    "openlit": (
        # openlit 1.45.0 requires openai<3 and opentelemetry-instrumentation<=0.66b1
        [
            "openlit==1.45.0",
            "openai==2.54.0",
            *OPENLIT_OTEL_PINS,
        ],
        "openlit.instrumentation.openai",
        [GPT_4O, GPT_4O_MINI, EMBEDDING, O4_MINI_FLEX, GPT_5_MINI_PRIORITY, GPT_4O],
        {"APP_OPENLIT": "1"},
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_third_party_openai_instrumentation_is_priced(name: str, rotel_collector: RotelCollector) -> None:
    pins, scope, expected, extra_env = CASES[name]
    venv = require_venv(name, pins)
    with FakeLLMServer() as fake:
        trace_id = run_instrumented(
            venv,
            APPS / "openai_app.py",
            rotel_collector,
            env={"FAKE_LLM_BASE_URL": fake.base_url, "APP_RESPONSES_API": "1", **extra_env},
        )
        assert len(fake.requests) == 6
    spans = rotel_collector.trace(trace_id, expected=7)
    # nothing left the machine (OpenLIT would fetch a price list from GitHub if not told otherwise)
    everything = rotel_collector.spans()
    urls = [str(s.attributes.get("http.url") or s.attributes.get("url.full")) for s in everything]
    assert all(u.startswith("http://127.0.0.1") for u in urls if u != "None"), urls
    calls = [s for s in spans if s.scope == scope]
    assert len(calls) == 6, [(s.name, s.scope) for s in spans]
    unpriced = [
        (s.name, s.attributes.get("gen_ai.cost.unpriced_reason"))
        for s in calls
        if "gen_ai.cost.total_usd" not in s.typed
    ]
    assert not unpriced
    if name == "openlit":  # its silent zero stays on the span, untouched, and is not our price
        assert all(s.typed["gen_ai.usage.cost"].value == 0 for s in calls)
    assert all(s.typed["gen_ai.cost.total_usd"].type == "Double" for s in calls)
    observed = Counter(round(s.typed["gen_ai.cost.total_usd"].value, 12) for s in calls)
    assert observed == Counter(round(c, 12) for c in expected)

    (root,) = [s for s in spans if s.is_root]
    totals = root.typed
    assert "gen_ai.cost.total_usd" not in totals
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(sum(expected), rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 5
    assert totals["gen_ai.trace.cost.unpriced_spans"].value == 0
    assert totals["gen_ai.trace.cost.input_tokens"].value == 16000
    assert totals["gen_ai.trace.cost.cache_read_tokens"].value == 3800
