"""Settings that do nothing are said, where they are made (a new-user audit of budgets, layers
and configuration): a misspelt or lower-case variable, a listener on a processor that prices
nothing, a listener that fails, an infrastructure cost no roll-up reads, a budget behind a
sampler, and values given in code of the wrong type."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.config import report_unknown_variables
from genai_cost.layers import HumanEscalationLayer, InfraAllocation, LayerSettings
from genai_cost.pricer import SpanCost
from genai_cost.usage import SpanUsage
from support.spans import chat_attributes
from test_configurator import instrument


def test_a_lower_case_name_is_named_with_the_upper_case_one(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        unknown = report_unknown_variables({"genai_cost_budget_max_llm_calls": "2", "genai_cost_nothing": "1"})
    assert unknown == ["genai_cost_budget_max_llm_calls", "genai_cost_nothing"]
    assert (
        "genai_cost_budget_max_llm_calls is not a genai-cost variable, and is ignored (genai-cost's variables are"
        " upper case: GENAI_COST_BUDGET_MAX_LLM_CALLS)" in caplog.text
    )
    assert "genai_cost_nothing is not a genai-cost variable, and is ignored" in caplog.text


def test_the_process_environment_s_mistake_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every reader checks the variables (the configurator, a processor set up in code,
    BudgetLimits.from_env): one mistake, one message."""
    monkeypatch.setenv("GENAI_COST_BUDGET_MAX_COST_ONCE", "0.1")
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        assert report_unknown_variables() == ["GENAI_COST_BUDGET_MAX_COST_ONCE"]
        assert report_unknown_variables() == ["GENAI_COST_BUDGET_MAX_COST_ONCE"]
        explicit = {"GENAI_COST_BUDGET_MAX_COST_ONCE": "0.1"}
        report_unknown_variables(explicit)
    assert caplog.text.count("GENAI_COST_BUDGET_MAX_COST_ONCE is not a genai-cost variable") == 2


class _Settling:
    """A listener that records what the processor gives it."""

    def __init__(self) -> None:
        self.sources: list[object] = []
        self.told = 0

    def add_pending_source(self, settle: object) -> None:
        self.sources.append(settle)

    def after_pricing(self) -> None:
        pass

    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> Mapping[str, object] | None:
        self.told += 1
        return None


def _chat(processor: CostSpanProcessor) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    processor._next = SimpleSpanProcessor(memory)  # noqa: SLF001 - built after the provider's exporter
    provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
        pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_a_listener_of_a_processor_that_prices_nothing_is_told_so(caplog: pytest.LogCaptureFixture) -> None:
    listener = _Settling()
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        processor = CostSpanProcessor(
            SimpleSpanProcessor(InMemorySpanExporter()), settings=CostSettings(enabled=False), listeners=[listener]
        )
    assert "this CostSpanProcessor prices nothing (switched off" in caplog.text
    assert "its listener _Settling is told of no span" in caplog.text
    assert listener.sources == []  # a budget would otherwise settle a processor that feeds it nothing
    spans = _chat(processor)
    assert listener.told == 0 and "gen_ai.cost.total_usd" not in (spans[0].attributes or {})


class _Failing(_Settling):
    def on_span_cost(self, span: ReadableSpan, usage: SpanUsage, cost: SpanCost) -> Mapping[str, object] | None:
        raise RuntimeError("listener bug")


def test_a_failing_listener_is_named_and_the_span_keeps_its_cost(caplog: pytest.LogCaptureFixture) -> None:
    processor = CostSpanProcessor(
        SimpleSpanProcessor(InMemorySpanExporter()), settings=CostSettings(), listeners=[_Failing()]
    )
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        spans = _chat(processor) + _chat(processor)
    assert all(span.attributes and span.attributes["gen_ai.cost.total_usd"] for span in spans)
    assert caplog.text.count("listener _Failing failed on a span (1 listener failures so far); the span keeps") == 1
    assert "passed on unpriced" not in caplog.text
    assert caplog.text.count("listener _Failing failed") == 1  # the first failure of each listener
    assert (processor.stats.listener_errors, processor.stats.internal_errors) == (2, 2)


INFRA = {"GENAI_COST_INFRA_MONTHLY_USD": "100", "GENAI_COST_INFRA_MONTHLY_TRACES": "1000"}


def test_an_infrastructure_cost_no_roll_up_reads_is_said(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in INFRA.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        TraceCostExporter(InMemorySpanExporter())
    assert "GENAI_COST_INFRA_MONTHLY_USD, GENAI_COST_INFRA_MONTHLY_TRACES set in the environment but not read" in (
        caplog.text
    )
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        TraceCostExporter(InMemorySpanExporter(), trace_layers=LayerSettings.from_env().trace_layers())
        # all three given: the configurator's and the gateway's way, which read the layers themselves
        TraceCostExporter(InMemorySpanExporter(), bands=(0.1,), idle_timeout_s=60, max_traces=10)
    assert "not read" not in caplog.text


def test_an_average_duration_with_the_per_trace_allocation_is_said_to_do_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        settings = LayerSettings.from_env({**INFRA, "GENAI_COST_INFRA_AVG_TRACE_SECONDS": "60"})
    assert settings.infra is not None and settings.infra.per_trace_usd == pytest.approx(0.1)
    assert settings.problems == (
        "GENAI_COST_INFRA_AVG_TRACE_SECONDS is read only with GENAI_COST_INFRA_ALLOCATION=per_second (the"
        " allocation is per_trace): ignored",
    )
    per_second = LayerSettings.from_env(
        {**INFRA, "GENAI_COST_INFRA_AVG_TRACE_SECONDS": "60", "GENAI_COST_INFRA_ALLOCATION": "per_second"}
    )
    assert per_second.problems == () and per_second.infra is not None
    assert per_second.infra.average_trace_seconds == 60


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: TraceCostExporter(InMemorySpanExporter(), bands="0.1,1"), TypeError, "bands must be a sequence"),
        (lambda: TraceCostExporter(InMemorySpanExporter(), bands=[0.1, "1"]), TypeError, "bands must be USD amounts"),
        (lambda: TraceCostExporter(InMemorySpanExporter(), max_traces=1.5), TypeError, "max_traces must be a whole"),
        (lambda: TraceCostExporter(InMemorySpanExporter(), max_traces=True), TypeError, "max_traces must be a whole"),
        (lambda: TraceCostExporter(InMemorySpanExporter(), idle_timeout_s="60"), TypeError, "idle_timeout_s must"),
        (lambda: InfraAllocation("2000", 10), TypeError, "monthly_usd must be a number, not '2000'"),  # type: ignore[arg-type]
        (lambda: InfraAllocation(2000, 10, average_trace_seconds="5"), TypeError, "average_trace_seconds must"),  # type: ignore[arg-type]
        (lambda: HumanEscalationLayer("7"), TypeError, "per_escalation must be a number, not '7'"),  # type: ignore[arg-type]
    ],
    ids=["bands-string", "band-string", "max-traces-float", "max-traces-bool", "idle-string", "infra-usd",
         "infra-seconds", "escalation"],  # fmt: skip
)
def test_a_setting_of_the_wrong_type_in_code_names_itself(make: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("sampler", "arg", "warned"),
    [("parentbased_traceidratio", "0.1", True), ("always_on", "", False), ("traceidratio", "1.0", False)],
)
def test_a_budget_behind_a_sampler_that_drops_traces_is_said_at_start(
    tmp_path: Path, sampler: str, arg: str, warned: bool
) -> None:
    result = instrument(
        tmp_path,
        GENAI_COST_BUDGET_MAX_LLM_CALLS="2",
        OTEL_TRACES_SAMPLER=sampler,
        OTEL_TRACES_SAMPLER_ARG=arg,
    )
    assert result.returncode == 0, result.stderr
    said = f"a budget is set (GENAI_COST_BUDGET_*), but OTEL_TRACES_SAMPLER={sampler} records only some traces"
    assert (said in result.stderr) == warned, result.stderr
