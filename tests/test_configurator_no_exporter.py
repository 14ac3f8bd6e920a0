"""Zero-code, with no trace exporter (``OTEL_TRACES_EXPORTER=none`` or unset).

The SDK's configurator then calls the export-processor hook zero times, so the configurator
built no ``CostSpanProcessor`` at all: a configured budget read a silent $0 and never fired,
and no cost metric was recorded. Each test runs a real application under
``opentelemetry-instrument`` in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.apps import clean_env
from support.console import json_objects, metric_points

#: Ten steps, each checking the budget, then making a $0.035 call (10,000 in, 1,000 out, gpt-4o):
#: a $0.10 budget stops the third call's successor, after 3 calls ($0.105).
BUDGET_APP = textwrap.dedent(
    """
    import json
    from opentelemetry import trace
    import genai_cost

    tracer = trace.get_tracer("app")
    steps, stopped = 0, None
    with tracer.start_as_current_span("invoke_agent demo", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in range(10):
            try:
                genai_cost.check_budget()
            except genai_cost.BudgetExceededError as exc:
                stopped = exc.limit
                break
            with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10000,
                "gen_ai.usage.output_tokens": 1000}):
                pass
            steps += 1
        spend = genai_cost.current_spend()
    processors = [type(p).__name__ for p in trace.get_tracer_provider()._active_span_processor._span_processors]
    print(json.dumps({"steps": steps, "stopped": stopped, "processors": processors,
                      "spend": None if spend is None else spend.cost_usd,
                      "default_budget": genai_cost.get_default_budget() is not None}))
    """
)


def run_app(tmp_path: Path, source: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(source)
    env = clean_env(
        OTEL_PYTHON_CONFIGURATOR="genai_cost",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="no-exporter-test",
    )
    env.update(env_extra)
    env = {k: v for k, v in env.items() if v is not None}
    instrument_bin = Path(sys.executable).parent / "opentelemetry-instrument"
    return subprocess.run(
        [str(instrument_bin), sys.executable, str(app)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def app_report(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return next(obj for obj in json_objects(result.stdout) if "steps" in obj)


@pytest.mark.parametrize("traces_exporter", ["none", ""], ids=["none", "unset"])
def test_a_budget_is_enforced_with_no_trace_exporter(tmp_path, traces_exporter):
    """It used to read $0 for ever: the budget was the default one, and nothing fed it."""
    result = run_app(tmp_path, BUDGET_APP, OTEL_TRACES_EXPORTER=traces_exporter, GENAI_COST_BUDGET_MAX_COST_USD="0.1")
    report = app_report(result)
    assert report["stopped"] == "max_cost_usd", report
    assert report["steps"] == 3
    assert report["spend"] == pytest.approx(0.105)
    assert report["processors"] == ["CostSpanProcessor"]
    if traces_exporter:  # chosen: said at INFO only, not on stderr
        assert "genai-cost" not in result.stderr, result.stderr
    else:  # the old warning stays, and says what still happens
        assert "OTEL_TRACES_EXPORTER is not set, so no span is exported (spans are still priced" in result.stderr
        assert result.stderr.count("genai-cost:") == 1, result.stderr


def test_cost_metrics_are_recorded_with_no_trace_exporter(tmp_path):
    """A metrics-only set-up (OTEL_TRACES_EXPORTER=none): the counters and the per-trace
    histogram are fed as with an exporter, the roll-up included."""
    result = run_app(
        tmp_path, BUDGET_APP, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="console",
        GENAI_COST_BUDGET_MAX_COST_USD="0.1",
    )
    assert app_report(result)["steps"] == 3
    [usage] = metric_points(result.stdout, "gen_ai.cost.usage")
    assert usage["value"] == pytest.approx(0.105)
    assert usage["attributes"]["gen_ai.request.model"] == "gpt-4o"
    [per_trace] = metric_points(result.stdout, "gen_ai.cost.trace")
    assert per_trace["count"] == 1 and per_trace["sum"] == pytest.approx(0.105)
    [hit] = metric_points(result.stdout, "gen_ai.cost.budget.exceeded")
    assert hit["value"] == 1


def test_with_the_sdk_disabled_nothing_is_priced_and_nothing_said(tmp_path):
    """OTEL_SDK_DISABLED=true: the SDK makes no span; genai-cost adds no processor, sets no
    default budget and logs nothing, with or without an exporter."""
    for traces_exporter in ("none", "", "console"):
        result = run_app(
            tmp_path, BUDGET_APP, OTEL_SDK_DISABLED="true", OTEL_TRACES_EXPORTER=traces_exporter,
            OTEL_METRICS_EXPORTER="console", GENAI_COST_BUDGET_MAX_COST_USD="0.1",
        )
        report = app_report(result)
        assert "CostSpanProcessor" not in report.pop("processors")
        assert report == {"steps": 10, "stopped": None, "spend": None, "default_budget": False}
        assert "genai-cost" not in result.stderr, result.stderr
        assert "gen_ai.cost" not in result.stdout
