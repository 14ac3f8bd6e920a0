"""Hostile and malformed input (the fuzzing audit's findings 1 to 5): rates too large to
price with, costs too large for a float, a tool or discount given twice in one file, and
YAML 1.1's base-60 and octal numbers and exponents written without a dot.

The rules: nothing in the span path raises into user code; a span that cannot be priced
says so (``gen_ai.cost.unpriced=true`` and a reason), never an infinite amount; a bad
pricing file is a :class:`CatalogError` naming file:line and field."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import (
    CostSettings,
    CostSpanProcessor,
    HumanEscalationLayer,
    InfraAllocation,
    LayerSettings,
    TraceCostExporter,
)
from genai_cost import attributes as A
from genai_cost.cli import main
from genai_cost.pricing import Catalog, CatalogError, PricingError, Rates, TokenUsage, calc
from genai_cost.pricing.files import parse_pricing_text
from genai_cost.usage import MAX_USD, usd_amount
from support.spans import chat_attributes

#: The bound on every rate, fee and multiplier of a pricing file (``schema.MAX_RATE``).
MAX_RATE = 1e9


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # A file cached as valid before a check existed would load without it.
    monkeypatch.setenv("GENAI_COST_CACHE_DIR", "off")


def _model_file(prices: str) -> str:
    """A pricing file with one model (provider acme, model m1) and these price lines."""
    body = textwrap.indent(textwrap.dedent(prices).strip(), " " * 12)
    return (
        "providers:\n"
        "  - id: acme\n"
        "    models:\n"
        "      - id: m1\n"
        "        prices:\n"
        "          - source: test\n"
        "            checked: 2026-11-22\n"
        f"{body}\n"
    )


def _problems(text: str, label: str = "p.yaml") -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_pricing_text(text, label)
    return caught.value.problems


def _pipeline(catalog: Catalog, span_layers: tuple[HumanEscalationLayer, ...] = ()):
    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(memory)),
        catalog=catalog,
        settings=CostSettings(),
        span_layers=span_layers,
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("hostile"), memory, processor


def _spans(memory: InMemorySpanExporter) -> dict[str, dict[str, object]]:
    return {span.name: dict(span.attributes or {}) for span in memory.get_finished_spans()}


def _chat(model: str, provider: str = "acme", **extra: object) -> dict[str, object]:
    return chat_attributes(model, provider, **extra)


# ----------------------------------------------------- 1. rates too large to price with

_RATE_FIELDS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "reasoning",
    "per_request",
    "per_search",
    "per_gpu_second",
)


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(_RATE_FIELDS), value=st.floats(min_value=MAX_RATE * 1.0001, max_value=1.7e308))
def test_a_rate_past_the_bound_is_an_error_naming_file_line_and_field(field: str, value: float) -> None:
    """1.7e308 per GPU-second was a valid file, and every span of the model said
    total_usd = inf (the trace root too)."""
    text = _model_file(f"{field}: {value!r}")
    problems = _problems(text, "big.yaml")
    assert len(problems) == 1
    assert problems[0].startswith(f"big.yaml:8: providers[0].models[0].prices[0].{field}: must be at most 1e9")
    # and the bound itself, far above any real price, loads
    parsed = parse_pricing_text(_model_file(f"{field}: {MAX_RATE!r}"), "ok.yaml")
    assert getattr(parsed.providers[0].models[0].prices[0], field) == MAX_RATE


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("tools[0].per_call", "tools:\n  - {name: t, per_call: 1.0e+300, source: s, checked: 2026-11-22}\n"),
        ("human_escalation.per_escalation", "human_escalation:\n  per_escalation: 1.0e+300\n"),
        ("providers[0].models[0].prices[0].gpus", _model_file("per_gpu_second: 1.0\ngpus: 1.0e+300")),
        (
            "providers[0].models[0].prices[0].service_tiers.flex.multiplier",
            _model_file("input: 1.0\nservice_tiers:\n  flex: {multiplier: 1.0e+300}"),
        ),
    ],
)
def test_fees_gpus_and_multipliers_are_bounded_too(where: str, text: str) -> None:
    problems = _problems(text)
    assert any(f": {where}: must be at most 1e9" in p for p in problems), problems


def test_an_int_too_large_for_a_float_is_named_not_a_crash() -> None:
    problems = _problems(_model_file(f"input: {10**400}"))
    assert problems[0].startswith("p.yaml:8: providers[0].models[0].prices[0].input: is too large")


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(min_value=1e280, max_value=1.7e308),
    tokens=st.integers(min_value=1, max_value=10**12),
    fast=st.booleans(),
)
def test_rates_that_multiply_past_an_amount_raise_a_pricing_error(rate: float, tokens: int, fast: bool) -> None:
    """Rates built in code skip the schema: ``int(x * 1e12 + 0.5)`` of an infinite product
    raised OverflowError (no PricingError: the span was internal_error, the CLI a traceback)."""
    rates = Rates(input=rate, output=rate) if fast else Rates(input=rate, output=rate, per_request=rate)
    with pytest.raises(PricingError) as caught:
        calc.cost_of(rates, TokenUsage(input_tokens=tokens, output_tokens=tokens))
    assert caught.value.reason == "invalid_cost"


def test_a_duration_priced_model_past_an_amount_raises_a_pricing_error() -> None:
    with pytest.raises(PricingError) as caught:
        calc.cost_of(Rates(per_second=1e300), TokenUsage(), duration_s=1e10)
    assert caught.value.reason == "invalid_cost"
    # the roll-up reads more back as invalid_cost; the schema's bound is the one documented
    from genai_cost.pricing import schema

    assert getattr(calc, "MAX_COST_USD", None) == MAX_USD
    assert getattr(schema, "MAX_RATE", None) == MAX_RATE


GPU_FILE = _model_file("per_gpu_second: 1.0e+9\ngpus: 1.0e+9").replace("id: m1", "id: acme-gpu")


def test_a_span_whose_rates_multiply_past_an_amount_is_unpriced_invalid_cost(tmp_path: Path) -> None:
    """Each value within the bound, their product (1e18 USD a second) is none: the span
    says invalid_cost, and the root's total is a finite sum."""
    path = tmp_path / "gpu.yaml"
    path.write_text(GPU_FILE)
    tracer, memory, processor = _pipeline(Catalog.load([path]))
    start = 1_763_700_000 * 10**9
    with tracer.start_as_current_span("root", start_time=start) as root:
        span = tracer.start_span("chat", attributes=_chat("acme-gpu"), start_time=start)
        span.end(end_time=start + 10**9)
        with tracer.start_as_current_span("other", attributes=_chat("gpt-4o", "openai")):
            pass
        root.set_attribute("x", 1)
    spans = _spans(memory)
    chat = spans["chat"]
    assert chat[A.COST_UNPRICED] is True
    assert chat[A.COST_UNPRICED_REASON] == "invalid_cost"
    assert A.COST_TOTAL not in chat
    total = spans["root"][A.TRACE_TOTAL]
    assert isinstance(total, float) and math.isfinite(total)
    assert total == spans["other"][A.COST_TOTAL]
    assert processor.stats.internal_errors == 0


def test_genai_cost_price_says_why_and_exits_2_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gpu.yaml"
    path.write_text(GPU_FILE)
    code = main(
        ["price", "--provider", "acme", "--model", "acme-gpu", "--duration-s", "1", "--pricing-file", str(path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "[invalid_cost]" in err and "Traceback" not in err
    huge = tmp_path / "huge.yaml"
    huge.write_text(_model_file("input: 1.7e+308\noutput: 1.7e+308"))
    code = main(["price", "--provider", "acme", "--model", "m1", "--input-tokens", "1", "--pricing-file", str(huge)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{huge}:8: providers[0].models[0].prices[0].input: must be at most 1e9" in err
    assert main(["pricing", "validate", str(huge)]) != 0


def test_a_huge_escalation_fee_in_the_environment_is_refused_at_configuration() -> None:
    """GENAI_COST_HUMAN_ESCALATION_USD=1e308 and two hand-off events made total_usd = inf."""
    settings = LayerSettings.from_env({"GENAI_COST_HUMAN_ESCALATION_USD": "1e308"})
    assert settings.human_escalation_usd is None and settings.span_layers() == ()
    assert any("GENAI_COST_HUMAN_ESCALATION_USD" in p and "at most 1e9" in p for p in settings.problems)
    with pytest.raises(ValueError, match="at most 1e9"):
        HumanEscalationLayer(1e308)


def test_escalations_that_multiply_past_an_amount_leave_the_span_unpriced() -> None:
    layer = HumanEscalationLayer(MAX_RATE)
    event = type("Event", (), {"name": A.HUMAN_ESCALATION_EVENT})()
    span = ReadableSpan(name="handoff", events=[event] * 1_000_001)  # type: ignore[list-item]
    cost = layer.price_span(span, {})
    assert cost is not None and cost.total_usd is None
    assert cost.unpriced_reason == "invalid_cost"
    assert cost.attributes[A.COST_UNPRICED] is True
    assert cost.attributes[A.COST_UNPRICED_REASON] == "invalid_cost"
    two = layer.price_span(ReadableSpan(name="handoff", events=[event] * 2), {})  # type: ignore[list-item]
    assert two is not None and two.total_usd == 2 * MAX_RATE


def test_an_infrastructure_share_that_a_long_trace_makes_infinite_is_refused() -> None:
    """Finite for a year-long trace (the old check), infinite for the longest OTLP can time."""
    with pytest.raises(ValueError, match="too large"):
        InfraAllocation(1e300, 1, allocation="per_second", average_trace_seconds=1)
    with pytest.raises(ValueError, match="too large"):
        InfraAllocation(2e15, 1)  # one trace's share past 1e15 USD is no amount


# -------------------------------------------- 2. a cost too large for a float on a span


def test_an_integer_cost_too_large_for_a_float_is_ignored_not_an_internal_error() -> None:
    tracer, memory, processor = _pipeline(Catalog.load())
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("chat", attributes=_chat("gpt-4o", "openai", **{"operation.cost": 10**400})):
            pass
    chat = _spans(memory)["chat"]
    assert chat[A.COST_SOURCE] == A.SOURCE_CATALOG  # priced from the catalog, as any absurd amount
    assert chat[A.COST_TOTAL] == pytest.approx(0.0035)
    assert processor.stats.internal_errors == 0
    assert usd_amount(10**400) is None and usd_amount(-(10**400)) is None
    assert usd_amount(10**15) == 1e15 and usd_amount(10**15 + 1) is None


def _otlp_file(path: Path, value: object) -> Path:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203332",
        "name": "chat",
        "startTimeUnixNano": "1750000000000000000",
        "endTimeUnixNano": "1750000001000000000",
        "attributes": [{"key": A.COST_TOTAL, "value": {"intValue": value}}],
    }
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    path.write_text(json.dumps(document))
    return path


def _jaeger_file(path: Path, value: object) -> Path:
    span = {
        "traceID": "0af7651916cd43dd8448eb211c80319c",
        "spanID": "b7ad6b7169203332",
        "operationName": "chat",
        "startTime": 1750000000000000,
        "duration": 1000,
        "tags": [{"key": A.COST_TOTAL, "type": "int64", "value": value}],
    }
    path.write_text(json.dumps({"data": [{"traceID": span["traceID"], "spans": [span]}]}))
    return path


@pytest.mark.parametrize(("write", "field"), [(_otlp_file, "value.intValue"), (_jaeger_file, "value")])
def test_the_report_names_the_file_and_field_of_an_integer_too_large(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write, field: str
) -> None:
    path = write(tmp_path / "big.json", 10**400)
    code = main(["report", str(path)])
    out, err = capsys.readouterr()
    assert code == 2  # (a file with problems: they are named, the report still printed)
    assert f"{path}:" in err and field in err and "int64" in err
    assert "invalid_cost" in out and "Traceback" not in err


# ------------------------------------------ 3. a tool, alias or discount given twice


def _tools(*entries: str) -> str:
    return "tools:\n" + "".join(f"  - {{{e}, source: s, checked: 2026-11-22}}\n" for e in entries)


@settings(max_examples=40, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
    upper=st.lists(st.booleans(), min_size=13, max_size=13),
    as_alias=st.booleans(),
)
def test_a_tool_name_given_twice_is_an_error_naming_both_lines(name: str, upper: list[bool], as_alias: bool) -> None:
    """The last one won: my_tool's per_call 0.01 became 5.00."""
    other = "".join(c.upper() if u else c for c, u in zip(name, upper))
    second = f"name: zz_{name}, aliases: [{other}]" if as_alias else f"name: {other}"
    problems = _problems(_tools(f"name: {name}, per_call: 0.01", f"{second}, per_call: 5.0"), "t.yaml")
    assert len(problems) == 1
    where = "tools[1].aliases[0]" if as_alias else "tools[1].name"
    assert problems[0].startswith(f"t.yaml:3: {where}: ")
    assert problems[0].endswith("(first at tools[0].name, line 2)")
    # a tool repeating its own name as an alias is not two tools
    parse_pricing_text(_tools(f"name: {name}, aliases: [{other}, {name}], per_call: 1.0"), "t.yaml")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("provider: openai", "provider: OpenAI"),
        ("provider: openai, model: gpt-4o", "provider: openai, model: GPT-4o"),
    ],
)
def test_a_discount_given_twice_is_an_error_naming_both_lines(first: str, second: str) -> None:
    """The last one won: a 10% discount became 90%."""
    text = f"discounts:\n  - {{{first}, percent: 10}}\n  - {{{second}, percent: 90}}\n"
    problems = _problems(text, "d.yaml")
    assert len(problems) == 1
    assert problems[0].startswith("d.yaml:3: discounts[1]: ")
    assert problems[0].endswith("(first at discounts[0], line 2)")
    # a provider's discount and one for a model of it are two discounts
    parse_pricing_text(
        "discounts:\n  - {provider: openai, percent: 10}\n  - {provider: openai, model: gpt-4o, percent: 20}\n",
        "d.yaml",
    )


# ----------------------------------------------- 4 and 5. YAML 1.1 numbers and exponents

_BASE60 = st.builds(
    lambda a, b: f"{a}:{b:02d}", st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=59)
)
_OCTAL = st.from_regex(r"0[0-7]{1,4}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    text=st.one_of(_BASE60, _OCTAL, st.from_regex(r"0[xb][01]{1,6}", fullmatch=True)),
    field=st.sampled_from(_RATE_FIELDS),
)
def test_a_yaml_11_base_60_octal_or_hex_number_never_loads_as_a_price(text: str, field: str) -> None:
    """``input: 1:30`` loaded as $90 a million and ``input: 010`` as $8."""
    problems = _problems(_model_file(f"{field}: {text}"))
    assert len(problems) == 1
    assert problems[0].startswith(f"p.yaml:8: providers[0].models[0].prices[0].{field}: must be a number")
    assert "text here" in problems[0]


def test_the_messages_say_what_yaml_11_read_and_what_to_write() -> None:
    base60 = _problems(_model_file("input: 1:30"))[0]
    assert "base-60" in base60 and "1.30" in base60
    octal = _problems(_model_file("input: 010"))[0]
    assert "octal, 010 as 8" in octal and "as in 10" in octal


@settings(max_examples=60, deadline=None)
@given(
    mantissa=st.one_of(
        st.integers(min_value=1, max_value=999).map(str), st.from_regex(r"[1-9]\.[0-9]{1,3}", fullmatch=True)
    ),
    exponent=st.integers(min_value=-12, max_value=8),
)
def test_an_unquoted_exponent_says_yaml_read_text_and_what_to_write(mantissa: str, exponent: int) -> None:
    """``per_gpu_second: 1e-4`` (no quotes) said "(write it without quotes)"."""
    assume("." not in mantissa or exponent >= 0)  # (1.5e-3, dot and sign, is a YAML 1.1 float)
    assume(float(f"{mantissa}e{exponent}") <= MAX_RATE)
    written = f"{mantissa}e{exponent}"
    problems = _problems(_model_file(f"per_gpu_second: {written}"))
    assert len(problems) == 1
    assert "write it without quotes)" not in problems[0]
    assert f"YAML reads {written} as text" in problems[0]
    # the form it suggests reads as the number meant
    suggestion = problems[0].split("; write ", 1)[1].split(",")[0].split(" or ")[-1]
    parsed = parse_pricing_text(_model_file(f"per_gpu_second: {suggestion}"), "ok.yaml")
    assert parsed.providers[0].models[0].prices[0].per_gpu_second == pytest.approx(float(written))


def test_the_example_exponent_message() -> None:
    problem = _problems(_model_file("per_gpu_second: 1e-4"))[0]
    assert problem.endswith("write 0.0001 or 1.0e-4, without quotes")


def test_an_unquoted_time_of_day_reads_as_the_time_it_looks_like() -> None:
    """``start: 16:30`` was the base-60 int 990: "Input should be a valid string"."""
    parsed = parse_pricing_text(
        _model_file("input: 1.0\ntime_windows:\n  - {start: 16:30, end: 00:30, input: 0.5}"), "w.yaml"
    )
    window = parsed.providers[0].models[0].prices[0].time_windows[0]
    assert (window.start, window.end) == ("16:30", "00:30")


def test_a_time_given_as_a_number_says_to_quote_it() -> None:
    problems = _problems(_model_file("input: 1.0\ntime_windows:\n  - {start: 1630, end: '00:30', input: 0.5}"))
    assert len(problems) == 1
    assert "time_windows[0].start: must be HH:MM in UTC as text" in problems[0]
    assert "quote it" in problems[0]


def test_a_tool_span_whose_units_come_past_an_amount_is_unpriced_invalid_cost(tmp_path: Path) -> None:
    """Rate and count each within bounds (a count is any number up to 1e15), their product
    not an amount: unpriced, never a total of 1e24 USD on the root."""
    path = tmp_path / "tools.yaml"
    path.write_text(
        "tools:\n"
        "  - name: scan\n"
        "    per_unit: 1000000000\n"
        "    unit_attribute: db.rows_scanned\n"
        "    source: test\n"
        "    checked: 2026-11-22\n"
    )
    tracer, memory, processor = _pipeline(Catalog.load([path]))
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span(
            "tool", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "scan",
                                "db.rows_scanned": 10**15}
        ):
            pass
        with tracer.start_as_current_span(
            "small", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "scan",
                                 "db.rows_scanned": 2}
        ):
            pass
    spans = _spans(memory)
    assert spans["tool"][A.COST_UNPRICED_REASON] == "invalid_cost"
    assert spans["small"][A.COST_TOTAL] == 2e9
    assert spans["root"][A.TRACE_TOTAL] == 2e9
    assert processor.stats.internal_errors == 0

