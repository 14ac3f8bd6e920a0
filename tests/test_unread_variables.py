"""Budget limits and a hand-off cost set in the environment are read only by the zero-code
configurator and the gateway. A processor set up in code (the README's one line) says so once,
when its first spans are priced, rather than letting a limit stop nothing in silence; so does
the configurator switched off with ``GENAI_COST_ENABLED=false``."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, BudgetLimits, CostSettings, CostSpanProcessor, LayerSettings
from genai_cost.pricing import Catalog
from support.spans import chat_attributes
from test_configurator import instrument

CATALOG = Catalog.load()
_UNREAD = "not read by a CostSpanProcessor set up in code"


def _price_two_spans(processor: CostSpanProcessor) -> None:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("app")
    for _ in range(2):
        with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-4o", "openai")):
            pass
        processor.settle()
    provider.shutdown()


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GENAI_COST_BUDGET_MAX_COST_USD", "GENAI_COST_BUDGET_MAX_LLM_CALLS",
                 "GENAI_COST_BUDGET_MAX_TOKENS_PER_CALL", "GENAI_COST_HUMAN_ESCALATION_USD"):
        monkeypatch.delenv(name, raising=False)


def _budget_and_hand_off_set(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("GENAI_COST_BUDGET_MAX_COST_USD", "0.01")
    monkeypatch.setenv("GENAI_COST_HUMAN_ESCALATION_USD", "2.5")
    caplog.set_level(logging.WARNING, logger="genai_cost")


def test_a_budget_limit_in_the_environment_without_a_budget_is_named_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _budget_and_hand_off_set(monkeypatch, caplog)
    _price_two_spans(CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), catalog=CATALOG))
    warnings = [record.getMessage() for record in caplog.records if _UNREAD in record.getMessage()]
    assert len(warnings) == 1, warnings
    assert "GENAI_COST_BUDGET_MAX_COST_USD" in warnings[0] and "Budget(BudgetLimits.from_env())" in warnings[0]
    assert "GENAI_COST_HUMAN_ESCALATION_USD" in warnings[0] and "span_layers" in warnings[0]


def test_nothing_is_said_when_the_budget_and_the_layer_are_added_even_after_construction(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _budget_and_hand_off_set(monkeypatch, caplog)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(InMemorySpanExporter()),
        catalog=CATALOG,
        span_layers=LayerSettings.from_env(catalog=CATALOG).span_layers(),
    )
    processor.add_listener(Budget(BudgetLimits.from_env()))
    _price_two_spans(processor)
    assert not [record for record in caplog.records if _UNREAD in record.getMessage()]


def test_settings_given_in_code_are_not_second_guessed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The configurator and the gateway pass their settings (and add the budget themselves)."""
    _clean(monkeypatch)
    monkeypatch.setenv("GENAI_COST_BUDGET_MAX_LLM_CALLS", "3")
    caplog.set_level(logging.WARNING, logger="genai_cost")
    _price_two_spans(
        CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), catalog=CATALOG, settings=CostSettings())
    )
    assert not [record for record in caplog.records if _UNREAD in record.getMessage()]


def test_the_configurator_switched_off_says_the_budget_is_off_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = instrument(tmp_path, GENAI_COST_ENABLED="false", GENAI_COST_BUDGET_MAX_COST_USD="0.01")
    assert result.returncode == 0, result.stderr
    assert "GENAI_COST_ENABLED is off, so GENAI_COST_BUDGET_MAX_COST_USD is not applied" in result.stderr
    quiet = instrument(tmp_path, GENAI_COST_ENABLED="false")
    assert "GENAI_COST_ENABLED is off" not in quiet.stderr


@pytest.mark.parametrize("command", [["price", "--model", "gpt-4o", "--input-tokens", "1000"], ["pricing", "list"]])
def test_the_commands_that_price_name_a_misspelt_variable(command: list[str]) -> None:
    """``genai-cost price`` is what one runs to check that a pricing file is picked up: a
    misspelt variable must not leave it at list price in silence."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GENAI_COST_")}
    env["GENAI_COST_PRICING_FILES"] = "my-prices.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "genai_cost", *command], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "GENAI_COST_PRICING_FILES is not a genai-cost variable" in result.stderr
    assert "did you mean GENAI_COST_PRICING_FILE?" in result.stderr
