"""Behaviour no test pinned down: each test here failed on a single-point change of the source
(a mutation) that every other test let through, found by a mutation audit of the money path.
The figures are worked out by hand from the shipped catalog."""
from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import Budget, BudgetExceededError, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog, TokenUsage
from genai_cost.report import render_text, report_traces
from genai_cost.span_file import ExportedSpan
from genai_cost.usage import read_usage

CATALOG = Catalog.load()


def gpt4o(input_tokens=1000, output_tokens=200, **extra):
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens, **extra}


def pipeline(listeners=()):
    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG,
                                  settings=CostSettings(), listeners=list(listeners))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, provider.get_tracer("test"), memory


def by_name(memory):
    return {span.name: span for span in memory.get_finished_spans()}


# a reported zero from a cost key that is preferred (not OpenLIT's estimate)
@pytest.mark.parametrize("key", ["llm.cost.total", "operation.cost", "gen_ai.usage.cost.amount"])
def test_a_reported_zero_on_a_preferred_key_is_not_a_price(key):
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o(1000, 200, **{key: 0.0})):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert attrs["gen_ai.cost.source"] == "catalog"
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(0.0045)  # 1000*2.5e-6 + 200*10e-6


def test_a_reported_zero_for_a_model_the_catalog_lacks_is_unpriced_not_free():
    _, tracer, memory = pipeline()
    attrs = {**gpt4o(1000, 200), "gen_ai.request.model": "house-model-7", "gen_ai.usage.cost": 0.0}
    with tracer.start_as_current_span("chat", attributes=attrs):
        pass
    out = by_name(memory)["chat"].attributes
    assert "gen_ai.cost.total_usd" not in out
    assert out["gen_ai.cost.unpriced"] is True


# wrapper -> plain middleware span -> call, in the usual order (call ends first)
def test_a_wrapper_two_levels_above_the_call_is_not_priced_again():
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("ChatOpenAI", attributes=gpt4o()):
            with tracer.start_as_current_span("retry"):
                with tracer.start_as_current_span("chat gpt-4o", attributes=gpt4o()):
                    pass
    spans = by_name(memory)
    assert spans["chat gpt-4o"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert "gen_ai.cost.total_usd" not in spans["ChatOpenAI"].attributes
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)
    assert root["gen_ai.trace.cost.llm_calls"] == 1


# a negative cost on the span is no cost
def test_a_negative_reported_cost_is_not_taken():
    assert read_usage(gpt4o(1000, 200, **{"llm.cost.total": -0.5})).reported_cost is None
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o(1000, 200, **{"llm.cost.total": -0.5})):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert attrs["gen_ai.cost.source"] == "catalog"
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


# all of the output is reasoning (a call cut off while thinking, finish_reason=length)
def test_reasoning_equal_to_output_is_not_added_again():
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "o4-mini",
             "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 800,
             "gen_ai.usage.reasoning.output_tokens": 800}
    usage = read_usage(attrs)
    assert (usage.usage.output_tokens, usage.usage.reasoning_tokens, usage.convention) == (800, 800, "inclusive")
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("chat", attributes=attrs):
        pass
    # o4-mini: $1.10/M in, $4.40/M out: 1000*1.10e-6 + 800*4.40e-6 = 0.00462
    assert by_name(memory)["chat"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.00462)


# cache writes given only as their 5-minute / 1-hour split
def test_a_cache_write_split_without_its_total_is_priced():
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
             "gen_ai.request.model": "claude-sonnet-4-5",
             "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 100,
             "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 3000,
             "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 2000}
    tokens = read_usage(attrs).usage
    assert (tokens.cache_write_tokens, tokens.cache_write_1h_tokens) == (5000, 2000)
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("chat", attributes=attrs):
        pass
    # 5000 uncached * $3 + 3000 * $3.75 + 2000 * $6 + 100 * $15, per M = 0.03975
    assert by_name(memory)["chat"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.03975)


# a trace stopped by the budget's own (not per-trace) limit stays stopped once let go
def test_a_trace_stopped_by_the_default_limit_stays_stopped_after_being_let_go():
    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()
    budget = Budget(max_cost_usd=0.004, idle_timeout_s=600, max_traces=1, clock=clock)
    _, tracer, _ = pipeline([budget])
    with tracer.start_as_current_span("chat", attributes=gpt4o()) as span:  # $0.0045 >= $0.004
        stopped = span.get_span_context().trace_id
    with pytest.raises(BudgetExceededError):
        budget.check(stopped)
    clock.now += 700
    for _ in range(3):  # other traces with a spend push it out of the ledgers and the paused ones
        with tracer.start_as_current_span("other", context=Context(), attributes=gpt4o(10, 1)):
            pass
    with pytest.raises(BudgetExceededError):
        budget.check(stopped)


# a root that said its totals were incomplete makes the report say so
def test_the_report_says_a_trace_is_incomplete_when_its_root_did():
    t = "0" * 31 + "1"
    spans = [
        ExportedSpan(t, "0" * 15 + "1", None, "agent",
                     None, {"gen_ai.trace.cost.complete": False, "gen_ai.trace.cost.total_usd": 0.0045}),
        ExportedSpan(t, "0" * 15 + "2", "0" * 15 + "1", "chat", None,
                     {**gpt4o(), "gen_ai.cost.total_usd": 0.0045, "gen_ai.cost.category": "llm",
                      "gen_ai.cost.pricing.id": "openai/gpt-4o"}),
    ]
    (report,) = report_traces(spans)
    assert report.complete is False
    assert "spans were still open when the root ended" in render_text([report], [report])


# cached tokens per entry
def test_the_report_counts_cached_tokens_per_entry():
    t = "0" * 31 + "1"
    span = ExportedSpan(t, "0" * 15 + "2", None, "chat", None,
                        {**gpt4o(1000, 200, **{"gen_ai.usage.cache_read.input_tokens": 400}),
                         "gen_ai.cost.total_usd": 0.0035, "gen_ai.cost.category": "llm",
                         "gen_ai.cost.pricing.id": "openai/gpt-4o"})
    (report,) = report_traces([span])
    assert report.as_dict()["by_entry"]["openai/gpt-4o"]["cache_read_tokens"] == 400


# the longest prefix rule wins (a user's pricing file)
def test_the_longest_prefix_rule_wins(tmp_path: Path):
    path = tmp_path / "acme.yaml"
    path.write_text(
        """
providers:
  - id: acme
    name: Acme
    aliases: [acme]
    models:
      - id: acme-base
        match: {prefix: ["acme-"]}
        prices:
          - {input: 1.0, output: 1.0, source: contract, checked: 2026-11-01}
      - id: acme-pro
        match: {prefix: ["acme-pro-"]}
        prices:
          - {input: 10.0, output: 10.0, source: contract, checked: 2026-11-01}
""",
        encoding="utf-8",
    )
    catalog = Catalog.load([path])
    assert catalog.resolve("acme-pro-2", "acme").model.pricing_id == "acme/acme-pro"
    assert catalog.price(TokenUsage(1000, 0), "acme-pro-2", "acme").total_usd == pytest.approx(0.01)
    assert catalog.resolve("acme-lite", "acme").model.pricing_id == "acme/acme-base"


# the same instrumentation, the same response id, overlapping: one call recorded twice
def test_one_instrumentation_recording_one_response_twice_at_once_is_priced_once():
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("agent") as agent:
        ctx = trace_api.set_span_in_context(agent)
        a = tracer.start_span("a", context=ctx, attributes=gpt4o(**{"gen_ai.response.id": "resp_9"}))
        b = tracer.start_span("b", context=ctx, attributes=gpt4o(**{"gen_ai.response.id": "resp_9"}))
        a.end()
        b.end()
    root = by_name(memory)["agent"].attributes
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)


# an embedding call read without an operation name (OpenLLMetry's openai embeddings span)
def test_an_embedding_model_is_priced_as_embedding_whatever_the_span_said():
    attrs = {"gen_ai.system": "openai", "gen_ai.request.model": "text-embedding-3-small",
             "gen_ai.usage.prompt_tokens": 5000}
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("openai.embeddings", attributes=attrs):
            pass
    spans = by_name(memory)
    emb = spans["openai.embeddings"].attributes
    assert emb["gen_ai.cost.category"] == "embedding"
    assert emb["gen_ai.cost.total_usd"] == pytest.approx(5000 * 0.02 / 1e6)  # $0.0001
    root = spans["root"].attributes
    assert root["gen_ai.trace.cost.llm_calls"] == 0
    assert root["gen_ai.trace.cost.embedding_usd"] == pytest.approx(0.0001)


# embeddings are not LLM calls for max_llm_calls
def test_embedding_calls_do_not_count_toward_the_llm_call_limit():
    budget = Budget(max_llm_calls=1)
    _, tracer, _ = pipeline([budget])
    with tracer.start_as_current_span("agent"):
        for _ in range(3):
            with tracer.start_as_current_span("embeddings", attributes={
                    "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 100}):
                pass
        spend = budget.check()  # must not raise
        assert spend.llm_calls == 0


# a Vercel streamed call cut off before its usage is flagged, not silent
def test_a_vercel_do_stream_span_without_usage_is_flagged_missing_usage():
    attrs = {"ai.operationId": "ai.streamText.doStream", "ai.model.id": "gpt-4o", "ai.model.provider": "openai.chat"}
    _, tracer, memory = pipeline()
    with tracer.start_as_current_span("ai.streamText.doStream", attributes=attrs):
        pass
    out = by_name(memory)["ai.streamText.doStream"].attributes
    assert out["gen_ai.cost.unpriced"] is True
    assert out["gen_ai.cost.unpriced_reason"] == "missing_usage"


# a service tier's own long-context cliff is passed only ABOVE the threshold
def test_batch_at_exactly_the_long_context_threshold_is_below_the_cliff():
    # gemini-2.5-pro under batch: cache reads $0.125/M, $0.25/M only ABOVE 200,000 input tokens
    at = CATALOG.price(TokenUsage(200_000, 0, cache_read_tokens=100_000), "gemini-2.5-pro", "google", batch=True)
    assert at.cache_read_usd == pytest.approx(100_000 * 0.125 / 1e6)  # $0.0125, not $0.025
    over = CATALOG.price(TokenUsage(200_001, 0, cache_read_tokens=100_000), "gemini-2.5-pro", "google", batch=True)
    assert over.cache_read_usd == pytest.approx(100_000 * 0.25 / 1e6)
