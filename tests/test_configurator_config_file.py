"""Zero-code with ``OTEL_CONFIG_FILE`` (OpenTelemetry declarative configuration).

The SDK's configurator then builds everything from the file (opentelemetry-configuration)
and ignores the ``export_span_processor`` hook: genai-cost prices nothing. It used to do so
silently, or with a misleading "OTEL_TRACES_EXPORTER is not set" warning, while a configured
budget read a silent $0. It must say so, once, and say what to do instead.

Runs a real application under ``opentelemetry-instrument`` in a venv that has
``opentelemetry-configuration`` (built once, cached by ``support.venvs``).
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from support.apps import clean_env
from support.venvs import OTEL_PINS, require_venv

pytestmark = pytest.mark.integration  # builds a venv

DECLARATIVE_PINS = [*OTEL_PINS, "opentelemetry-configuration==0.66b2"]

CONFIG = textwrap.dedent(
    """
    file_format: "1.0"
    tracer_provider:
      processors:
        - simple:
            exporter:
              console: {}
    """
)

APP = textwrap.dedent(
    """
    import json
    from opentelemetry import trace
    import genai_cost

    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("invoke_agent demo"):
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100000,
            "gen_ai.usage.output_tokens": 1000}):
            pass
        spend = genai_cost.check_budget()
    print(json.dumps({"check_budget": repr(spend)}))
    """
)

WARNING = "genai-cost: OTEL_CONFIG_FILE is set, so the SDK is configured from that file"


@pytest.fixture(scope="module")
def declarative_venv():
    return require_venv("declarative-config", DECLARATIVE_PINS)


def run(venv, tmp_path, **env_extra):
    (tmp_path / "otel.yaml").write_text(CONFIG)
    (tmp_path / "app.py").write_text(APP)
    env = clean_env(
        OTEL_PYTHON_CONFIGURATOR="genai_cost",
        OTEL_CONFIG_FILE=str(tmp_path / "otel.yaml"),
        GENAI_COST_BUDGET_MAX_COST_USD="0.1",
        **env_extra,
    )
    return subprocess.run(
        [str(venv / "bin" / "opentelemetry-instrument"), str(venv / "bin" / "python"), str(tmp_path / "app.py")],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=str(tmp_path),
    )


@pytest.mark.parametrize("traces_exporter", [None, "otlp"], ids=["no-OTEL_TRACES_EXPORTER", "OTEL_TRACES_EXPORTER=otlp"])
def test_a_config_file_is_said_once_and_not_misread(declarative_venv, tmp_path, traces_exporter):
    extra = {"OTEL_TRACES_EXPORTER": traces_exporter} if traces_exporter else {}
    result = run(declarative_venv, tmp_path, **extra)
    assert result.returncode == 0, result.stderr
    # The file did configure the SDK: its console exporter printed the spans.
    assert '"name": "chat gpt-4o"' in result.stdout
    # One warning, naming the mode, what is lost and what to do instead.
    ours = [line for line in result.stderr.splitlines() if line.startswith("genai-cost")]
    assert len(ours) == 1 and ours[0].startswith(WARNING), result.stderr
    for said in ("no span is priced", "check_budget() returns None", "unset OTEL_CONFIG_FILE", "CostSpanProcessor"):
        assert said in result.stderr
    # Not the misleading one: the file has an exporter.
    assert "OTEL_TRACES_EXPORTER is not set" not in result.stderr
    # What it says is what happens: no cost on the spans, and no silent $0 from the budget.
    assert "gen_ai.cost" not in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"check_budget": "None"}


def test_switched_off_it_says_nothing_of_the_config_file(declarative_venv, tmp_path):
    """Switched off, it has nothing to say about a file it would not use anyway; only that
    the budget set beside it (``run`` sets one) is off too: a safety stop is never dropped
    in silence (tests/test_unread_variables.py)."""
    result = run(declarative_venv, tmp_path, GENAI_COST_ENABLED="false")
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "genai-cost" in line]
    assert said == [
        "genai-cost: GENAI_COST_ENABLED is off, so GENAI_COST_BUDGET_MAX_COST_USD is not applied: no budget stops a trace"
    ], result.stderr
