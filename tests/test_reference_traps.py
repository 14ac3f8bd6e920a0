"""Traps of the reference (shared/reference/attributes.md and pricing.md) that an
audit found mispriced: each test builds the span shape a real emitter writes, through
the real SDK and pipeline, and checks the cost against the hand calculation."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()


def _priced(attributes: dict[str, object], scope: str = "test", kind: SpanKind = SpanKind.CLIENT) -> ReadableSpan:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings())
    )
    provider.get_tracer(scope).start_span("chat", attributes=attributes, kind=kind).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return span


# Strands Agents (its tracer.end_model_invoke_span) copies Bedrock Converse's usage as it is:
# inputTokens leaves the cache out, totalTokens counts it.
_STRANDS_BEDROCK = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "strands-agents",
    "gen_ai.agent.name": "Strands Agents",
    "gen_ai.request.model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "gen_ai.usage.prompt_tokens": 5000,
    "gen_ai.usage.input_tokens": 5000,
    "gen_ai.usage.completion_tokens": 500,
    "gen_ai.usage.output_tokens": 500,
    "gen_ai.usage.total_tokens": 8500,
    "gen_ai.usage.cache_read_input_tokens": 3000,
    "gen_ai.usage.cache_write_input_tokens": 0,
}


def test_strands_bedrock_input_without_the_cache_is_priced_with_it() -> None:
    """Was $0.01584 (the 3,000 cached tokens taken out of the 5,000 fresh ones), unflagged."""
    span = _priced(_STRANDS_BEDROCK, scope="strands.telemetry.tracer", kind=SpanKind.INTERNAL)
    # us. profile of Sonnet 4.5: $3.30 input, $0.33 cache read, $16.50 output per million
    assert span.attributes[A.COST_TOTAL] == pytest.approx((5000 * 3.30 + 3000 * 0.33 + 500 * 16.50) / 1e6)
    assert span.attributes[A.COST_USAGE_CONVENTION] == "exclusive"


def test_a_total_that_leaves_the_cache_out_keeps_the_input_inclusive() -> None:
    """OpenAI through Strands: prompt_tokens includes the cached ones, and the total is
    prompt + completion. The same cache count must not be added again."""
    span = _priced(
        {
            **_STRANDS_BEDROCK,
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 8000,
            "gen_ai.usage.prompt_tokens": 8000,
            "gen_ai.usage.total_tokens": 8500,
        },
        scope="strands.telemetry.tracer",
    )
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per million
    assert span.attributes[A.COST_TOTAL] == pytest.approx((5000 * 2.50 + 3000 * 1.25 + 500 * 10) / 1e6)
    assert span.attributes.get(A.COST_USAGE_CONVENTION) != "exclusive"


@pytest.mark.parametrize("total", ["n/a", -1, 2.5, True, None])
def test_a_total_that_cannot_be_read_does_not_refuse_the_counts(total: object) -> None:
    """The total is only a checksum: a bad one is not a reason to leave the call unpriced."""
    attributes = {**_STRANDS_BEDROCK, "gen_ai.usage.cache_read_input_tokens": 0}
    if total is None:
        del attributes["gen_ai.usage.total_tokens"]
    else:
        attributes["gen_ai.usage.total_tokens"] = total  # type: ignore[assignment]
    span = _priced(attributes, scope="strands.telemetry.tracer")
    assert span.attributes[A.COST_TOTAL] == pytest.approx((5000 * 3.30 + 500 * 16.50) / 1e6)
    assert A.COST_UNPRICED not in span.attributes


def test_a_total_alone_is_not_usage() -> None:
    """A call span with a total and no input or output count is missing its usage, not free."""
    span = _priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.total_tokens": 900,
        }
    )
    assert span.attributes[A.COST_UNPRICED] is True
    assert span.attributes[A.COST_UNPRICED_REASON] == "missing_usage"


def test_a_tool_billed_only_per_unit_without_its_unit_count_is_unpriced_not_free() -> None:
    """Anthropic's code execution is billed per container-hour only; no SDK records the
    hours, so every code-execution span was a priced $0."""
    span = _priced({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "code_execution_20250825"})
    assert span.attributes[A.COST_UNPRICED] is True
    assert span.attributes[A.COST_UNPRICED_REASON] == "missing_usage"
    assert "container-hour" in str(span.attributes[A.COST_UNPRICED_DETAIL])
    assert span.attributes[A.TRACE_UNPRICED_SPANS] == 1
    with_hours = _priced(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "code_execution_20250825",
            "anthropic.code_execution.container_hours": 0.5,
        }
    )
    assert with_hours.attributes[A.COST_TOTAL] == pytest.approx(0.025)


_MINI = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 100,
}


@pytest.mark.parametrize("system", ["az.ai.inference", "ag2", "mem0", "letta", "browser_use", "mcp"])
def test_provider_spellings_real_emitters_write(system: str) -> None:
    """The deprecated semconv value for Azure AI Inference, and OpenLIT's framework names
    (which name no provider: the model alone is matched), were unknown_provider."""
    span = _priced({**_MINI, "gen_ai.system": system})
    assert A.COST_UNPRICED not in span.attributes
    assert span.attributes[A.COST_TOTAL] == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6)


def test_the_served_tier_under_its_pre_145_openlit_name() -> None:
    call = {**_MINI, "gen_ai.system": "openai", "gen_ai.request.model": "gpt-5-2025-08-07"}
    standard = _priced(call).attributes[A.COST_TOTAL]
    flex = _priced({**call, "gen_ai.response.service_tier": "flex"}, scope="openlit.otel.tracing")
    assert flex.attributes[A.COST_TOTAL] == pytest.approx(standard / 2)  # gpt-5 flex: half price
    assert "service_tier=flex" in str(flex.attributes[A.COST_ADJUSTMENTS])


def test_a_one_hour_cache_write_on_an_entry_without_its_rate_says_so() -> None:
    """It is billed at the 5-minute rate, an under-estimate; it used to be silent."""
    span = _priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openrouter",
            "gen_ai.request.model": "anthropic/claude-opus-4.5",
            "gen_ai.usage.input_tokens": 100_000,
            "gen_ai.usage.output_tokens": 0,
            "gen_ai.usage.cache_creation_input_tokens": 100_000,
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 100_000,
        }
    )
    assert "cache_write_1h_at_5m_rate" in str(span.attributes[A.COST_ADJUSTMENTS])
    anthropic = _priced(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-opus-4-5",
            "gen_ai.usage.input_tokens": 100_000,
            "gen_ai.usage.output_tokens": 0,
            "gen_ai.usage.cache_creation_input_tokens": 100_000,
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 100_000,
        }
    )
    assert anthropic.attributes[A.COST_TOTAL] == pytest.approx(1.00)  # 2 x $5 input, per million
    assert "cache_write_1h_at_5m_rate" not in str(anthropic.attributes.get(A.COST_ADJUSTMENTS, ""))


def test_two_records_of_one_call_spelling_the_model_differently_are_one_call() -> None:
    """The anthropic SDK's own span names the requested alias, an instrumentation beside it
    the served snapshot: both records were priced ($0.009 for a $0.0045 call)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings())
    )
    requested = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
    }
    served = {**requested, "gen_ai.response.model": "claude-sonnet-4-5-20250929"}
    with provider.get_tracer("app").start_as_current_span("root"):
        sdk_span = provider.get_tracer("com.anthropic.sdk.python").start_span("messages.create", attributes=requested)
        instrumented = provider.get_tracer("opentelemetry.instrumentation.anthropic").start_span("chat", attributes=served)
        instrumented.end()
        sdk_span.end()
    provider.shutdown()
    spans = {span.name: span for span in memory.get_finished_spans()}
    assert spans["root"].attributes[A.TRACE_TOTAL] == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert spans["messages.create"].attributes[A.COST_DUPLICATE_OF] == f"{instrumented.context.span_id:016x}"


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        ({"max_llm_calls": 2.5}, ValueError),
        ({"max_tokens_per_call": 0.5}, ValueError),
        ({"max_llm_calls": True}, TypeError),
        ({"max_cost_usd": "1"}, TypeError),
        ({"max_cost_usd": float("nan")}, ValueError),
    ],
)
def test_a_budget_limit_that_is_not_a_limit_is_refused(limits: dict[str, object], error: type[Exception]) -> None:
    """budgets.md: a count limit that is not a whole number is a bad value (2.5 calls and
    True were accepted in code)."""
    from genai_cost import Budget

    with pytest.raises(error, match=next(iter(limits))):
        Budget(**limits)  # type: ignore[arg-type]
    assert Budget(max_llm_calls=3.0, max_cost_usd=1).limits.max_llm_calls == 3.0


def test_an_infinite_escalation_fee_is_refused() -> None:
    """It made every marked span cost inf, and the SDK then dropped the cost series for good."""
    from genai_cost.layers import HumanEscalationLayer

    with pytest.raises(ValueError, match="finite"):
        HumanEscalationLayer(float("inf"))


def test_a_call_whose_model_the_attribute_limit_dropped_is_flagged_not_free() -> None:
    """OpenLLMetry sets the model when the call starts and a prompt attribute per message
    after it: past the SDK's 128 attributes the model is the first to go, and the call,
    tokens and all, was left with no cost and no flag."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings())
    )
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai.v1")
    with tracer.start_as_current_span("request"):
        with tracer.start_as_current_span("openai.chat") as call:
            call.set_attribute("gen_ai.system", "openai")
            call.set_attribute("gen_ai.request.model", "gpt-4o")
            for message in range(70):
                call.set_attribute(f"gen_ai.prompt.{message}.role", "user")
                call.set_attribute(f"gen_ai.prompt.{message}.content", "hello")
            call.set_attribute("gen_ai.usage.prompt_tokens", 100_000)
            call.set_attribute("gen_ai.usage.completion_tokens", 1_000)
        with tracer.start_as_current_span("step") as step:  # no tokens: nothing to flag
            for index in range(140):
                step.set_attribute(f"app.{index}", index)
    provider.shutdown()
    spans = {span.name: span for span in memory.get_finished_spans()}
    assert spans["openai.chat"].dropped_attributes > 0
    assert spans["openai.chat"].attributes[A.COST_UNPRICED_REASON] == "missing_model"
    assert "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" in str(spans["openai.chat"].attributes[A.COST_UNPRICED_DETAIL])
    assert A.COST_UNPRICED not in spans["step"].attributes
    assert spans["request"].attributes[A.TRACE_UNPRICED_SPANS] == 1


def test_a_self_hosted_model_priced_by_the_second_needs_no_token_counts(tmp_path: Path) -> None:
    """Its price is the span's duration: a span without counts was flagged missing_usage."""
    from genai_cost.pricer import SpanPricer
    from genai_cost.usage import read_usage

    private = tmp_path / "private.yaml"
    private.write_text(
        "providers:\n"
        "  - id: in-house\n"
        "    aliases: [in-house, vllm]\n"
        "    models:\n"
        "      - id: llama-70b-gpu\n"
        "        prices:\n"
        "          - {per_gpu_second: 0.0012, gpus: 2, source: cluster cost model, checked: 2026-11-01}\n"
        "      - id: qwen-per-token\n"
        "        prices:\n"
        "          - {input: 0.05, output: 0.10, source: cluster cost model, checked: 2026-11-01}\n",
        encoding="utf-8",
    )
    pricer = SpanPricer(Catalog.load([private]))
    start = 1_763_700_000 * 10**9
    call = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "vllm", "gen_ai.request.model": "llama-70b-gpu"}
    cost = pricer.price(read_usage(call), call, start, start + 4 * 10**9)
    assert cost is not None and cost.priced and cost.total_usd == pytest.approx(4.0 * 0.0012 * 2)
    per_token = {**call, "gen_ai.request.model": "qwen-per-token"}
    cost = pricer.price(read_usage(per_token), per_token, start, start + 4 * 10**9)
    assert cost is not None and cost.unpriced_reason == "missing_usage"  # its price needs the counts


def test_price_explain_shows_audio_and_image_rates(capsys: pytest.CaptureFixture[str]) -> None:
    """gpt-realtime read as having no audio rate: --explain listed text rates only."""
    import json

    from genai_cost.cli import main

    args = ["--provider", "openai", "--model", "gpt-realtime", "--input-tokens", "10", "--output-tokens", "10"]
    assert main(["price", *args, "--explain", "--json"]) == 0
    rates = json.loads(capsys.readouterr().out)["explain"]["rates_per_million"]
    assert rates["input_audio"] == 32.0 and rates["output_audio"] == 64.0


def test_an_infinite_number_in_otlp_json_is_refused_by_name() -> None:
    """Hypothesis found it: protobuf's JSON parser raises OverflowError for ``"kind": Infinity``,
    which went up through the gateway as an unhandled error instead of a 400."""
    from genai_cost.otlp_in import OtlpDecodeError, parse_json

    body = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": Infinity}]}]}]}'
    with pytest.raises(OtlpDecodeError, match="not an OTLP/JSON trace request"):
        parse_json(body)


def test_the_roll_up_never_holds_more_than_max_traces_even_for_a_moment() -> None:
    """A new trace was added before the oldest was let go: a reader of open_traces on
    another thread could see max_traces + 1 (test_backend_down failed on it now and then)."""
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory, max_traces=3)
    seen: list[int] = []
    original = rollup._expire

    def watching(now: float, room: int = 0) -> None:
        # what another thread could read just then: the running traces, and the finished
        # ones held apart (each bounded by max_traces on its own)
        seen.append(len(rollup._traces))
        seen.append(len(rollup._held))
        original(now, room)

    rollup._expire = watching  # type: ignore[method-assign]
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(rollup), catalog=CATALOG, settings=CostSettings())
    )
    tracer = provider.get_tracer("test")
    for _ in range(6):
        with tracer.start_as_current_span("agent"):
            tracer.start_span("chat", attributes=_MINI).end()  # a child ending first: the trace stays open
    provider.shutdown()
    assert seen and max(seen) <= 3
    assert len(rollup._traces) <= 3 and len(rollup._held) <= 3
    assert rollup.open_traces <= 2 * 3


def test_a_received_call_whose_model_its_sender_dropped_is_flagged_not_free() -> None:
    """The same call arriving over OTLP at the gateway, from a process without genai-cost:
    the sender's SDK counted what it dropped (``droppedAttributesCount``), and that count,
    not the received span's own (a plain dict, nothing dropped here), is what tells a call
    whose model was cut from a span that never named one."""
    import json

    from genai_cost.otlp_in import parse_json, spans_of

    def request(dropped: int) -> bytes:
        span = {
            "traceId": "0af7651916cd43dd8448eb211c80319c",
            "spanId": "b7ad6b7169203331",
            "name": "openai.chat",
            "kind": 3,
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000001000000000",
            "attributes": [
                {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "100000"}},
                {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": "1000"}},
            ],
            "droppedAttributesCount": dropped,
        }
        scope = {"scope": {"name": "opentelemetry.instrumentation.openai.v1"}, "spans": [span]}
        return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [scope]}]}).encode()

    flagged = {}
    for dropped in (0, 141):
        memory = InMemorySpanExporter()
        processor = CostSpanProcessor(SimpleSpanProcessor(memory), catalog=CATALOG, settings=CostSettings())
        (received,) = spans_of(parse_json(request(dropped))).spans
        processor.on_end(received)
        processor.shutdown()
        (out,) = memory.get_finished_spans()
        flagged[dropped] = (out.attributes.get(A.COST_UNPRICED_REASON), out.dropped_attributes)
    assert flagged == {0: (None, 0), 141: ("missing_model", 141)}
