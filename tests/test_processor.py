"""CostSpanProcessor through the real SDK: attributes, leaf rule, robustness, threads."""

from __future__ import annotations

import math
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostedSpan, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.metrics import CostMetrics
from genai_cost.pricing import Catalog
from genai_cost.usage import KNOWN_KEYS

CATALOG = Catalog.load()


def gpt4o(input_tokens=1000, output_tokens=200, **extra):
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        **extra,
    }


def pipeline(**settings_kw):
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(rollup), catalog=CATALOG, settings=CostSettings(**settings_kw)
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    _PROVIDERS[id(tracer)] = provider
    return tracer, memory, processor, rollup


def second_tracer(tracer, scope="second-instrumentation"):
    """A tracer of another instrumentation on the same provider as ``tracer``."""
    return _PROVIDERS[id(tracer)].get_tracer(scope)


_PROVIDERS: dict[int, TracerProvider] = {}


def by_name(memory):
    return {span.name: span for span in memory.get_finished_spans()}


def test_priced_span_carries_cost_parts_as_floats():
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o(10_000, 1_000, **{"gen_ai.usage.cache_read.input_tokens": 4_000})):
        pass
    attrs = by_name(memory)["chat"].attributes
    # 6,000 uncached at $2.50/M + 4,000 cached at $1.25/M + 1,000 out at $10/M
    assert attrs["gen_ai.cost.input_usd"] == pytest.approx(0.015)
    assert attrs["gen_ai.cost.cache_read_usd"] == pytest.approx(0.005)
    assert attrs["gen_ai.cost.output_usd"] == pytest.approx(0.010)
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(0.030)
    assert attrs["gen_ai.cost.category"] == "llm"
    assert attrs["gen_ai.cost.source"] == "catalog"
    assert attrs["gen_ai.cost.pricing.id"] == "openai/gpt-4o"
    assert attrs["gen_ai.cost.pricing.version"] == CATALOG.version
    for key, value in attrs.items():
        if key.endswith("_usd"):
            assert type(value) is float, key


def test_a_call_is_priced_at_its_start_time_and_says_which_price_period_applied():
    """A span replayed or exported late keeps the price in force when the call started:
    Anthropic billed prompts past 200k at long-context rates until 2026-03-13."""
    import datetime as dt

    def start_ns(day):
        return int(dt.datetime(*day, tzinfo=dt.timezone.utc).timestamp() * 1e9)

    tracer, memory, _, _ = pipeline()
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-6",
        "gen_ai.usage.input_tokens": 300_000,
        "gen_ai.usage.output_tokens": 1_000,
    }
    for name, day in (("february", (2026, 2, 20)), ("april", (2026, 4, 20))):
        tracer.start_span(name, attributes=call, start_time=start_ns(day)).end(end_time=start_ns(day) + 10**9)
    spans = by_name(memory)
    before, after = spans["february"].attributes, spans["april"].attributes
    # 300,000 in at $6.00/M + 1,000 out at $22.50/M (past 200k), then flat $3.00/M and $15.00/M
    assert before["gen_ai.cost.total_usd"] == pytest.approx(1.8225)
    assert before["gen_ai.cost.pricing.effective_from"] == "initial"
    assert before["gen_ai.cost.adjustments"] == "long_context>200000"
    assert after["gen_ai.cost.total_usd"] == pytest.approx(0.915)
    assert after["gen_ai.cost.pricing.effective_from"] == "2026-03-13"
    assert "gen_ai.cost.adjustments" not in after


def test_an_entry_with_one_price_writes_no_price_period():
    """The period is written where it tells something: an entry with one price is named by
    its id and the catalog version alone, and each attribute costs the exporter's encoder."""
    assert len(CATALOG.resolve("gpt-4o", "openai").model.periods) == 1
    tracer, memory, _, _ = pipeline()
    tracer.start_span("chat", attributes=gpt4o(1_000, 100)).end()
    attributes = by_name(memory)["chat"].attributes
    assert attributes["gen_ai.cost.pricing.id"] == "openai/gpt-4o"
    assert attributes["gen_ai.cost.pricing.version"] == CATALOG.version
    assert "gen_ai.cost.pricing.effective_from" not in attributes


def test_zero_cost_is_written_as_float_not_int(tmp_path):
    # A tool your pricing file says is free (an int 0): written as the float 0.0.
    free = tmp_path / "free.yaml"
    free.write_text(
        "tools:\n  - name: lookup\n    per_call: 0\n    source: tests\n    checked: 2026-11-24\n", encoding="utf-8"
    )
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=Catalog.load([str(free)]))
    )
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
    provider.get_tracer("test").start_span("execute_tool lookup", attributes=tool).end()
    value = by_name(memory)["execute_tool lookup"].attributes["gen_ai.cost.total_usd"]
    assert type(value) is float and value == 0.0


@pytest.mark.parametrize("key", ["operation.cost", "llm.cost.total", "gen_ai.cost.total_cost"])
def test_a_reported_cost_of_0_with_no_counts_is_no_price(key):
    """LiteLLM writes 0.0 for a call it cannot price, and a stream that asked for no usage
    counts nothing: no silent $0."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o(0, 0) | {key: 0.0}):
        pass
    attributes = by_name(memory)["chat"].attributes
    assert "gen_ai.cost.total_usd" not in attributes
    assert attributes["gen_ai.cost.unpriced_reason"] == "missing_usage"


@pytest.mark.parametrize("convention", ["semconv", "openinference"])
def test_counts_of_0_in_and_0_out_are_no_usage_not_a_free_call(convention: str):
    """AutoGen's streamed calls without ``include_usage`` report 0 and 0, and OpenInference's
    AutoGen instrumentation writes them: no call reads nothing, so it is flagged, never $0."""
    tracer, memory, _, rollup = pipeline()
    if convention == "semconv":
        attributes = gpt4o(0, 0)
    else:
        attributes = {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.provider": "openai",
            "llm.token_count.prompt": 0,
            "llm.token_count.completion": 0,
            "llm.token_count.total": 0,
        }
    with tracer.start_as_current_span("OpenAIChatCompletionClient.create_stream", attributes=attributes):
        pass
    span = by_name(memory)["OpenAIChatCompletionClient.create_stream"]
    assert "gen_ai.cost.total_usd" not in span.attributes
    assert span.attributes["gen_ai.cost.unpriced"] is True
    assert span.attributes["gen_ai.cost.unpriced_reason"] == "missing_usage"
    assert "0 in and 0 out" in span.attributes["gen_ai.cost.unpriced_detail"]
    assert span.attributes["gen_ai.trace.cost.band"] == "unpriced"
    # A call that counts output only is counted, so priced.
    with tracer.start_as_current_span("chat", attributes=gpt4o(0, 10)):
        pass
    assert by_name(memory)["chat"].attributes["gen_ai.cost.total_usd"] == pytest.approx(10 * 10.00 / 1e6)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        (gpt4o() | {"gen_ai.request.model": "no-such-model-xyz"}, "unknown_model"),
        ({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}, "missing_usage"),
        ({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 5}, "missing_model"),
        (gpt4o(-3), "invalid_usage"),
        (gpt4o(float("nan")), "invalid_usage"),
        ({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "mystery"}, "unknown_tool"),
        ({"gen_ai.operation.name": "execute_tool"}, "unknown_tool"),
        (gpt4o() | {"gen_ai.provider.name": "acme-llm-cloud"}, "unknown_provider"),
    ],
)
def test_unpriced_spans_say_why_never_zero(attributes, reason):
    tracer, memory, processor, _ = pipeline()
    with tracer.start_as_current_span("s", attributes=attributes):
        pass
    attrs = by_name(memory)["s"].attributes
    assert attrs["gen_ai.cost.unpriced"] is True
    assert attrs["gen_ai.cost.unpriced_reason"] == reason
    assert attrs["gen_ai.cost.unpriced_detail"]
    assert "gen_ai.cost.total_usd" not in attrs, "no silent zero"
    assert processor.stats.unpriced == 1


def test_non_genai_spans_pass_through_untouched():
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("SELECT", attributes={"db.system.name": "postgresql"}):
            pass
    spans = by_name(memory)
    assert dict(spans["SELECT"].attributes) == {"db.system.name": "postgresql"}
    assert spans["SELECT"].genai_cost is None  # type: ignore[attr-defined]
    assert spans["root"].attributes == {}, "a trace with nothing billable gets no totals"


def test_only_leaf_calls_are_priced_wrappers_and_agents_are_not():
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent",
                                                                   "gen_ai.usage.input_tokens": 3000,
                                                                   "gen_ai.usage.output_tokens": 600}):
        # A framework LLM span (OpenInference LLM kind) wrapping the provider's span:
        with tracer.start_as_current_span("ChatOpenAI", attributes={"openinference.span.kind": "LLM",
                                                                    "llm.model_name": "gpt-4o",
                                                                    "llm.provider": "openai",
                                                                    "llm.token_count.prompt": 1000,
                                                                    "llm.token_count.completion": 200}):
            with tracer.start_as_current_span("chat gpt-4o", attributes=gpt4o(1000, 200)):
                pass
        with tracer.start_as_current_span("chat gpt-4o #2", attributes=gpt4o(2000, 400)):
            pass
    spans = by_name(memory)
    assert "gen_ai.cost.total_usd" in spans["chat gpt-4o"].attributes
    assert "gen_ai.cost.total_usd" in spans["chat gpt-4o #2"].attributes
    assert "gen_ai.cost.total_usd" not in spans["ChatOpenAI"].attributes, "wrapper carries its child's usage"
    assert "gen_ai.cost.total_usd" not in spans["invoke_agent"].attributes
    root = spans["invoke_agent"].attributes
    assert root["gen_ai.trace.cost.llm_calls"] == 2, "each call counted exactly once"
    assert root["gen_ai.trace.cost.input_tokens"] == 3000
    expected = (3000 * 2.5 + 600 * 10) / 1e6
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(expected)


def test_reported_cost_policies():
    attributes = gpt4o(1000, 200, **{"operation.cost": 0.5})
    for policy, total, source in (("prefer", 0.5, "span"), ("compare", 0.0045, "catalog"), ("ignore", 0.0045, "catalog")):
        tracer, memory, _, _ = pipeline(reported_cost=policy)
        with tracer.start_as_current_span("chat", attributes=attributes):
            pass
        attrs = by_name(memory)["chat"].attributes
        assert attrs["gen_ai.cost.total_usd"] == pytest.approx(total), policy
        assert attrs["gen_ai.cost.source"] == source, policy
        if policy == "prefer":
            assert attrs["gen_ai.cost.catalog_usd"] == pytest.approx(0.0045)
        if policy == "compare":
            assert attrs["gen_ai.cost.reported_usd"] == pytest.approx(0.5)
        if policy == "ignore":  # not even compared
            assert not [k for k in attrs if k.startswith("gen_ai.cost.reported")]


def test_an_instrumentations_own_estimate_is_never_preferred_to_the_catalog():
    """OpenLIT's gen_ai.usage.cost comes from its own price list, which knows no cache
    rates: a cached call must still be priced from the catalog (and the estimate kept
    for comparison); for a model the catalog does not know, the estimate is used."""
    cached = gpt4o(1000, 200, **{"gen_ai.usage.cost": 0.0045, "gen_ai.usage.cache_read.input_tokens": 400})
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=cached):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert attrs["gen_ai.cost.source"] == "catalog"
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx((600 * 2.5 + 400 * 1.25 + 200 * 10) / 1e6)
    assert attrs["gen_ai.cost.reported_usd"] == pytest.approx(0.0045)

    unknown = {**gpt4o(1000, 200), "gen_ai.request.model": "house-model-7", "gen_ai.usage.cost": 0.002}
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=unknown):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert (attrs["gen_ai.cost.source"], attrs["gen_ai.cost.total_usd"]) == ("span", 0.002)


@pytest.mark.parametrize(
    ("extra", "source"),
    [
        ({"gen_ai.usage.cost.amount": 4.5, "gen_ai.usage.cost.currency": "JPY"}, "catalog"),
        ({"gen_ai.usage.cost.amount": 4.5, "gen_ai.usage.cost.currency": "usd"}, "span"),
        ({"gen_ai.usage.cost.amount": 4.5}, "span"),
        ({"operation.cost": 1e300}, "catalog"),
        ({"llm.cost.total": "1e200"}, "catalog"),
    ],
)
def test_a_reported_cost_in_another_currency_or_absurd_is_not_taken(extra, source):
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o(1000, 200, **extra)):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert attrs["gen_ai.cost.source"] == source
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(4.5 if source == "span" else 0.0045)


@pytest.mark.parametrize("operation", ["chat.completions", "chat.streaming_completions", "text.completions"])
def test_semantic_kernel_operation_names_are_calls(operation):
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("call", attributes={**gpt4o(1000, 200), "gen_ai.operation.name": operation}):
        pass
    assert by_name(memory)["call"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_an_unknown_operation_name_with_token_counts_is_a_call_priced_or_flagged_never_silent():
    """Operation names come from frameworks and newer semconv releases faster than any list
    here: a span that counts tokens under a name not known is a call. It is priced when it is
    a leaf, flagged when it names no model, and, wrapping a known call, left as a wrapper."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("generate", attributes={**gpt4o(1000, 200), "gen_ai.operation.name": "generate"}):
            pass
        no_model = {k: v for k, v in gpt4o().items() if not k.endswith(".model")}
        with tracer.start_as_current_span("framework", attributes={**no_model, "gen_ai.operation.name": "framework"}):
            pass
        with tracer.start_as_current_span("wrapper", attributes={**gpt4o(1000, 200), "gen_ai.operation.name": "crew_task"}):
            with tracer.start_as_current_span("chat", attributes=gpt4o(1000, 200)):
                pass
        with tracer.start_as_current_span("vectordb", attributes={"gen_ai.operation.name": "vectordb",
                                                                   "gen_ai.request.model": "x"}):
            pass
    spans = by_name(memory)
    assert spans["generate"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert spans["framework"].attributes["gen_ai.cost.unpriced"] is True
    assert spans["framework"].attributes["gen_ai.cost.unpriced_reason"] == "missing_model"
    assert "gen_ai.cost.total_usd" not in spans["wrapper"].attributes
    assert spans["chat"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["vectordb"].attributes)
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.llm_calls"] == 3  # the flagged call counts as one
    assert root["gen_ai.trace.cost.unpriced_spans"] == 1
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.009)


def openinference(kind, model="gpt-4o", prompt=1000, completion=200):
    attributes = {"openinference.span.kind": kind, "llm.provider": "openai",
                  "llm.token_count.prompt": prompt, "llm.token_count.completion": completion}
    if model is not None:
        attributes["llm.model_name"] = model
    return attributes


def test_an_unknown_openinference_kind_counting_tokens_is_a_call_priced_or_flagged_never_silent():
    """OpenInference kinds beyond the six known ones (an LLM judge as EVALUATOR, a guardrail
    model as GUARDRAIL, UNKNOWN) used to be left alone even with token counts: their cost was
    missing from the trace with nothing on the span to say so. Now they are calls, like an
    unknown operation name: priced as a leaf, flagged without a model, a wrapper over a call."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("agent", attributes={"openinference.span.kind": "AGENT"}):
        with tracer.start_as_current_span("judge", attributes=openinference("EVALUATOR")):
            pass
        with tracer.start_as_current_span("guard", attributes=openinference("GUARDRAIL", model=None)):
            pass
        with tracer.start_as_current_span("evaluator", attributes=openinference("EVALUATOR")):
            with tracer.start_as_current_span("llm", attributes=openinference("LLM")):
                pass
        with tracer.start_as_current_span("rerank", attributes={"openinference.span.kind": "RERANKER",
                                                                 "reranker.model_name": "rerank-v3"}):
            pass
    spans = by_name(memory)
    assert spans["judge"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert spans["guard"].attributes["gen_ai.cost.unpriced_reason"] == "missing_model"
    assert "gen_ai.cost.total_usd" not in spans["evaluator"].attributes  # its child's usage
    assert spans["llm"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["rerank"].attributes)
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.llm_calls"] == 3
    assert root["gen_ai.trace.cost.unpriced_spans"] == 1
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.009)


def test_a_remote_agent_client_span_with_usage_is_the_only_record_of_its_calls_and_is_priced():
    """semconv's invoke_agent CLIENT span stands for an agent running in another service
    (OpenAI Assistants, Bedrock Agents): its calls are nowhere in this process, so its usage
    is priced, not left as a silent zero. An in-process (INTERNAL) invoke_agent stays an
    aggregate of its children, a CLIENT one with a call below it is a wrapper, and one
    without usage is left to the remote service."""
    tracer, memory, _, _ = pipeline()
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "asst_1"}
    client = trace_api.SpanKind.CLIENT
    with tracer.start_as_current_span("request"):
        with tracer.start_as_current_span("remote", kind=client, attributes={**gpt4o(100_000, 20_000), **agent}):
            pass
        with tracer.start_as_current_span("remote, no usage", kind=client,
                                          attributes={**agent, "gen_ai.request.model": "gpt-4o"}):
            pass
        with tracer.start_as_current_span("in-process", attributes={**gpt4o(1000, 200), **agent}):
            with tracer.start_as_current_span("chat", attributes=gpt4o(1000, 200)):
                pass
        with tracer.start_as_current_span("client wrapper", kind=client, attributes={**gpt4o(1000, 200), **agent}):
            with tracer.start_as_current_span("inner chat", attributes=gpt4o(1000, 200)):
                pass
    spans = by_name(memory)
    remote = spans["remote"].attributes
    assert remote["gen_ai.cost.total_usd"] == pytest.approx(100_000 * 2.5e-6 + 20_000 * 10e-6)  # $0.45
    assert remote["gen_ai.cost.category"] == "llm"
    for name in ("remote, no usage", "in-process", "client wrapper"):
        assert not any(key.startswith("gen_ai.cost.") for key in spans[name].attributes), name
    root = spans["request"].attributes
    assert root["gen_ai.trace.cost.llm_calls"] == 3
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.45 + 2 * 0.0045)


def test_a_reported_zero_with_tokens_is_not_a_price():
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o(1000, 200, **{"gen_ai.usage.cost": 0.0})):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert attrs["gen_ai.cost.source"] == "catalog"
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_costed_span_fast_copy_matches_constructor():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t", "1.2")
    with tracer.start_as_current_span("parent"):
        with tracer.start_as_current_span("s", attributes={"a": 1}, kind=trace_api.SpanKind.CLIENT) as span:
            span.add_event("e", {"x": 1})
            span.set_status(trace_api.StatusCode.ERROR, "boom")
    original = by_name(memory)["s"]
    fast = CostedSpan.copy_of(original, {"a": 1, "b": 2.0}, None)
    slow = CostedSpan(original, {"a": 1, "b": 2.0}, None)
    for name in ("name", "context", "parent", "resource", "events", "links", "kind", "start_time", "end_time",
                 "instrumentation_scope", "dropped_attributes", "dropped_events", "dropped_links"):
        assert getattr(fast, name) == getattr(slow, name) == getattr(original, name), name
    assert fast.status.status_code == slow.status.status_code == original.status.status_code
    assert dict(fast.attributes) == dict(slow.attributes) == {"a": 1, "b": 2.0}
    assert fast.to_json() == slow.to_json()


class _Recorder(SpanProcessor):
    def __init__(self):
        self.calls = []

    def on_start(self, span, parent_context=None):
        self.calls.append("start")

    def on_end(self, span):
        self.calls.append("end")

    def shutdown(self):
        self.calls.append("shutdown")

    def force_flush(self, timeout_millis=30000):
        self.calls.append(("flush", timeout_millis))
        return True


def test_a_flush_given_all_the_time_in_the_world_flushes():
    """``force_flush(sys.maxsize)``, "wait as long as it takes", raised OverflowError into the
    application once the wait for pricing was bounded: no lock takes so long a timeout."""
    import sys

    tracer, memory, processor, _ = pipeline()
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    assert processor.force_flush(sys.maxsize) is True
    assert memory.get_finished_spans()[0].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_shutdown_and_force_flush_propagate():
    recorder = _Recorder()
    processor = CostSpanProcessor(recorder, catalog=CATALOG, settings=CostSettings())
    assert processor.force_flush(1234) is True
    processor.shutdown()
    (flush, passed_on), shutdown = recorder.calls
    assert (flush, shutdown) == ("flush", "shutdown")
    assert 1200 <= passed_on <= 1234  # what is left of the timeout once the queue is priced


def test_force_flush_passes_on_only_the_time_pricing_left_and_says_when_there_was_none():
    class Slow:
        def on_span_cost(self, span, usage, cost):
            time.sleep(0.05)

    recorder = _Recorder()
    processor = CostSpanProcessor(recorder, catalog=CATALOG, settings=CostSettings(), listeners=[Slow()])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for _ in range(3):  # 150 ms of listener to price
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
    assert processor.force_flush(20) is False
    assert not [call for call in recorder.calls if call[0] == "flush"]  # no time left: not passed on
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    assert processor.force_flush(1000) is True
    (passed_on,) = [call[1] for call in recorder.calls if call[0] == "flush"]
    # A second, less the 50 ms the listener took (and whatever a loaded machine adds to it).
    assert 500 <= passed_on <= 950


def test_a_listener_stuck_on_another_thread_holds_up_neither_a_flush_nor_the_exit(monkeypatch, caplog):
    """A listener that never returns holds the pricing lock on the thread that prices (here
    a thread of the application's, under a simple processor; usually the export thread).
    The application's force_flush(timeout) used to wait for that lock without a bound, and
    its exit (the provider's shutdown at exit) with it, for good."""
    import genai_cost.processor as processor_module

    monkeypatch.setattr(processor_module, "_SHUTDOWN_PRICING_S", 0.3)
    stuck, released = threading.Event(), threading.Event()

    class Stuck:
        def on_span_cost(self, span, usage, cost):
            stuck.set()
            released.wait(30)

    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=CostSettings(), listeners=[Stuck()]
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)

    def end_a_call():
        with provider.get_tracer("t").start_as_current_span("chat", attributes=gpt4o()):
            pass

    worker = threading.Thread(target=end_a_call, daemon=True)
    worker.start()
    try:
        assert stuck.wait(10)  # the worker is pricing, inside the listener
        with caplog.at_level("WARNING", logger="genai_cost"):
            started = time.monotonic()
            assert processor.force_flush(0) is False  # no time given: nothing said (the SDK passes 0 when
            # an earlier processor used the time up), so the warning is left for a real wait
            assert processor.force_flush(300) is False
            assert processor.settle(wait=False) is None  # does not wait either
            processor.shutdown()
            took = time.monotonic() - started
        assert took < 5, took
        assert sum("did not finish within" in r.getMessage() for r in caplog.records) == 1
    finally:
        released.set()
    worker.join(10)
    assert not worker.is_alive()  # and the stuck thread went on once the listener returned


def test_a_failing_listener_never_reaches_the_application():
    class Broken:
        def on_span_cost(self, span, usage, cost):
            raise RuntimeError("listener bug")

    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(SimpleSpanProcessor(memory), catalog=CATALOG, settings=CostSettings(),
                                  listeners=[Broken()])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("chat", attributes=gpt4o()):
        pass
    assert len(memory.get_finished_spans()) == 1
    assert memory.get_finished_spans()[0].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert processor.stats.internal_errors == 1


def test_deeply_nested_invocation_parameters_do_not_cost_the_span_its_price():
    """json.loads of OpenInference's llm.invocation_parameters nested a thousand deep raises
    RecursionError, which was not caught there: the span lost its cost and said nothing."""
    tracer, memory, processor, _ = pipeline()
    nested = '{"service_tier": "flex", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    with tracer.start_as_current_span("llm", attributes={**openinference("LLM"), "llm.invocation_parameters": nested}):
        pass
    (span,) = memory.get_finished_spans()
    assert span.attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert processor.stats.internal_errors == 0


def test_a_span_genai_cost_fails_on_says_so_on_the_span(monkeypatch):
    import genai_cost.processor as processor_module

    def broken(attributes, scope=None):
        raise ValueError("a bug of genai-cost's")

    monkeypatch.setattr(processor_module, "read_usage", broken)
    tracer, memory, processor, _ = pipeline()
    reader = InMemoryMetricReader()
    processor.add_listener(CostMetrics(MeterProvider(metric_readers=[reader])))
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
    span, root = memory.get_finished_spans()
    assert span.attributes["gen_ai.cost.unpriced"] is True
    assert span.attributes["gen_ai.cost.unpriced_reason"] == "internal_error"
    assert span.attributes["gen_ai.cost.category"] == "unknown"
    assert span.attributes["gen_ai.request.model"] == "gpt-4o"  # its own attributes kept
    assert processor.stats.internal_errors == 2  # (the root failed too: what it is cannot be known)
    assert processor.stats.unpriced == 2
    # Counted where unpriced spans are counted: on the trace's root, and in the metric.
    assert root.attributes["gen_ai.trace.cost.unpriced_spans"] == 2
    (metric,) = [
        m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "gen_ai.cost.unpriced_spans"
    ]
    assert {(p.attributes["gen_ai.cost.unpriced_reason"], p.value) for p in metric.data.data_points} == {
        ("internal_error", 2)
    }


def test_disabled_processor_passes_spans_untouched():
    tracer, memory, _, _ = pipeline(enabled=False)
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    assert "gen_ai.cost.total_usd" not in by_name(memory)["chat"].attributes


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.lists(st.text(max_size=3), max_size=3),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(st.sampled_from(sorted(KNOWN_KEYS) + ["gen_ai.operation.name", "x"]), hostile_values, max_size=12),
    st.sampled_from(["chat", "embeddings", "execute_tool", "invoke_agent", "retrieval", None]),
    st.booleans(),
)
def test_hostile_attributes_never_raise_and_the_span_is_still_exported(attributes, operation, batched):
    if batched:  # priced later, on the export thread (or at the flush)
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        memory = InMemorySpanExporter()
        processor = CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG,
                                      settings=CostSettings())
        provider = TracerProvider()
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("test")
    else:
        tracer, memory, processor, _ = pipeline()
    if operation is not None:
        attributes = {**attributes, "gen_ai.operation.name": operation}
    clean = {k: v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span("s", attributes=clean):
        pass
    if batched:
        provider.shutdown()
    spans = memory.get_finished_spans()
    assert len(spans) == 1
    attrs = spans[0].attributes
    assert processor.stats.internal_errors == 0
    if "gen_ai.cost.total_usd" in attrs:
        total = attrs["gen_ai.cost.total_usd"]
        assert type(total) is float and math.isfinite(total) and total >= 0
    if attrs.get("gen_ai.cost.unpriced"):
        assert attrs["gen_ai.cost.unpriced_reason"]


def test_many_threads_many_traces_exact_totals():
    tracer, memory, processor, _ = pipeline()
    threads, traces_per_thread, calls = 8, 25, 4

    def work(seed):
        for t in range(traces_per_thread):
            with tracer.start_as_current_span("root", attributes={"seed": seed, "t": t}):
                for c in range(calls):
                    with tracer.start_as_current_span("chat", attributes=gpt4o(1000 + c, 100)):
                        pass

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    roots = [s for s in memory.get_finished_spans() if s.name == "root"]
    assert len(roots) == threads * traces_per_thread
    expected = sum((1000 + c) * 2.5 / 1e6 + 100 * 10 / 1e6 for c in range(calls))
    for root in roots:
        assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(expected, rel=1e-12)
        assert root.attributes["gen_ai.trace.cost.llm_calls"] == calls
        assert root.attributes["gen_ai.trace.cost.complete"] is True
    assert processor.stats.priced == threads * traces_per_thread * calls


def test_one_call_recorded_by_two_sibling_instrumentations_is_priced_once():
    """anthropic's SDK span and OpenLLMetry's span for the same request are siblings."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("sdk", attributes=gpt4o(**{"gen_ai.response.id": "resp_1"})):
            pass
        with second_tracer(tracer).start_as_current_span(
            "openllmetry", attributes=gpt4o(**{"gen_ai.response.id": "resp_1"})
        ):
            pass
        with tracer.start_as_current_span("other call", attributes=gpt4o(**{"gen_ai.response.id": "resp_2"})):
            pass
    spans = by_name(memory)
    assert spans["sdk"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    duplicate = spans["openllmetry"].attributes
    assert "gen_ai.cost.total_usd" not in duplicate
    assert duplicate["gen_ai.cost.duplicate_of"] == f"{spans['sdk'].context.span_id:016x}"
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.009)
    assert root["gen_ai.trace.cost.llm_calls"] == 2


def test_a_server_reusing_response_ids_does_not_hide_calls():
    """One instrumentation, two calls one after the other, the same response id (an
    OpenAI-compatible server that does not make ids unique): two calls, both priced."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("first", attributes=gpt4o(1000, 200, **{"gen_ai.response.id": "chatcmpl-1"})):
            pass
        with tracer.start_as_current_span("second", attributes=gpt4o(5000, 100, **{"gen_ai.response.id": "chatcmpl-1"})):
            pass
    spans = by_name(memory)
    assert spans["second"].attributes["gen_ai.cost.total_usd"] == pytest.approx((5000 * 2.5 + 100 * 10) / 1e6)
    assert spans["agent"].attributes["gen_ai.trace.cost.llm_calls"] == 2


def test_a_trace_without_billable_spans_keeps_its_root_clean():
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("GET /health"):
        with tracer.start_as_current_span("SELECT 1", attributes={"db.system.name": "postgresql"}):
            pass
    root = by_name(memory)["GET /health"].attributes
    assert not [k for k in root if k.startswith("gen_ai.")]


def _record(provider, scope, name, start, end, parent_ctx, attributes):
    span = provider.get_tracer(scope).start_span(name, context=parent_ctx, attributes=attributes, start_time=start)
    span.end(end_time=end)


@pytest.mark.parametrize(
    ("second_scope", "second_window", "priced_records"),
    [
        ("openinference.instrumentation.anthropic", (1_000, 9_000), 1),  # another instrumentation, overlapping: one call
        ("com.anthropic.sdk.python", (1_000, 9_000), 2),  # the same instrumentation twice: two calls
        ("openinference.instrumentation.anthropic", (20_000, 30_000), 2),  # one after the other: two calls
    ],
)
def test_sibling_records_without_response_id(second_scope, second_window, priced_records):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG,
                                                  settings=CostSettings()))
    root = provider.get_tracer("app").start_span("agent", start_time=0)
    ctx = trace_api.set_span_in_context(root)
    _record(provider, "com.anthropic.sdk.python", "sdk", 500, 10_000, ctx, gpt4o())
    _record(provider, second_scope, "second", *second_window, ctx, gpt4o())
    root.end(end_time=40_000)
    spans = by_name(memory)
    priced = [s for s in spans.values() if "gen_ai.cost.total_usd" in s.attributes]
    assert len(priced) == priced_records
    assert spans["agent"].attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045 * priced_records)


def test_tool_costs_per_unit_read_from_each_span_and_unknown_tools_each_flagged():
    """Tool results are shared between spans only when they cannot differ."""
    tracer, memory, _, _ = pipeline()
    hours_key = "anthropic.code_execution.container_hours"
    with tracer.start_as_current_span("agent"):
        for hours in (1, 3, "x"):
            with tracer.start_as_current_span(f"code {hours}", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "anthropic.code_execution",
                    hours_key: hours}):
                pass
        for n in range(2):
            with tracer.start_as_current_span(f"mine {n}", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "my_tool"}):
                pass
    spans = by_name(memory)
    one, three = spans["code 1"].attributes, spans["code 3"].attributes
    assert three["gen_ai.cost.total_usd"] - one["gen_ai.cost.total_usd"] == pytest.approx(2 * 0.05)
    assert spans["code x"].attributes["gen_ai.cost.unpriced_reason"] == "invalid_usage"
    for n in range(2):
        attrs = spans[f"mine {n}"].attributes
        assert attrs["gen_ai.cost.unpriced_reason"] == "unknown_tool"
        assert "my_tool" in attrs["gen_ai.cost.unpriced_detail"]
    assert spans["agent"].attributes["gen_ai.trace.cost.tool_calls"] == 5


def test_a_wrapper_that_ends_before_the_call_it_wraps_is_not_counted_twice():
    """A framework's LLM span returning while the SDK span under it still reads the stream:
    the leaf rule cannot see the child yet, so the wrapper is priced; the child, ending
    under an already-priced call, is marked as a second record of it."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("agent") as agent:
        wrapper = tracer.start_span("ChatOpenAI", context=trace_api.set_span_in_context(agent),
                                    attributes=gpt4o())
        sdk = tracer.start_span("chat gpt-4o", context=trace_api.set_span_in_context(wrapper),
                                attributes=gpt4o())
        wrapper.end()
        sdk.end()
    spans = by_name(memory)
    assert spans["ChatOpenAI"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert spans["chat gpt-4o"].attributes["gen_ai.cost.duplicate_of"] == f"{wrapper.context.span_id:016x}"
    assert "gen_ai.cost.total_usd" not in spans["chat gpt-4o"].attributes
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)
    assert root["gen_ai.trace.cost.llm_calls"] == 1


@pytest.mark.parametrize("deferred", [True, False])
def test_a_wrapper_ending_before_a_call_two_levels_below_it_is_not_counted_twice(deferred):
    """The same, with a middleware span in between and no response id to match on (OpenInference
    records none): the call is found below the already-priced wrapper through the open span
    between them. A call of its own under a plain span next to it is still priced."""
    tracer, memory, _, _ = pipeline(deferred_pricing=deferred)
    with tracer.start_as_current_span("agent") as agent:
        wrapper = tracer.start_span("ChatOpenAI", context=trace_api.set_span_in_context(agent), attributes=gpt4o())
        middleware = tracer.start_span("retry", context=trace_api.set_span_in_context(wrapper))
        stream = tracer.start_span("chat gpt-4o", context=trace_api.set_span_in_context(middleware),
                                   attributes=gpt4o())
        with tracer.start_as_current_span("tool"):
            with tracer.start_as_current_span("own call", attributes=gpt4o(3000, 100)):
                pass
        wrapper.end()
        stream.end()
        middleware.end()
    spans = by_name(memory)
    assert spans["ChatOpenAI"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert spans["chat gpt-4o"].attributes["gen_ai.cost.duplicate_of"] == f"{wrapper.context.span_id:016x}"
    assert "gen_ai.cost.total_usd" not in spans["chat gpt-4o"].attributes
    assert spans["own call"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0085)
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.013)
    assert root["gen_ai.trace.cost.llm_calls"] == 2


def test_a_start_broken_apart_in_the_queue_never_loses_an_ended_span():
    """A start is queued as two items (the context, then the parent's). Should an exception
    raised by a signal handler strike between taking the two off the queue, the next ended
    span must still be priced, not taken for a parent."""
    tracer, memory, processor, _ = pipeline(deferred_pricing=True)
    with tracer.start_as_current_span("agent"):
        processor.settle()
        call = tracer.start_span("chat", attributes=gpt4o())
        processor._queue.popleft()  # the call's context taken, its parent's left behind
        call.end()
    assert by_name(memory)["chat"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_a_wrapper_without_usage_ending_before_the_call_it_wraps_does_not_swallow_its_cost():
    """The wrapper cannot be known as one when it ends (the call under it has not ended), so it
    is flagged unpriced; the call, ending later with the usage, is priced, not marked as a
    second record of a wrapper that recorded nothing, and takes the wrapper's count over."""
    tracer, memory, _, _ = pipeline()
    no_usage = {k: v for k, v in gpt4o().items() if not k.startswith("gen_ai.usage.")}
    with tracer.start_as_current_span("agent") as agent:
        wrapper = tracer.start_span("ChatOpenAI", context=trace_api.set_span_in_context(agent), attributes=no_usage)
        sdk = tracer.start_span("chat gpt-4o", context=trace_api.set_span_in_context(wrapper),
                                attributes=gpt4o())
        wrapper.end()
        sdk.end()
    spans = by_name(memory)
    assert spans["ChatOpenAI"].attributes["gen_ai.cost.unpriced_reason"] == "missing_usage"
    assert spans["chat gpt-4o"].attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    root = spans["agent"].attributes
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)
    # The call counts once: the SDK's span takes over the count the wrapper had as it ended.
    assert spans["chat gpt-4o"].attributes["gen_ai.cost.accounts_for"] == f"{spans['ChatOpenAI'].context.span_id:016x}"
    assert root["gen_ai.trace.cost.unpriced_spans"] == 0
    assert root["gen_ai.trace.cost.llm_calls"] == 1


def test_a_sibling_processor_on_the_same_provider_sees_the_priced_span():
    """The span the SDK hands processors becomes the priced span in place, so a
    processor added next to ours (not wrapped by it) exports the cost too."""
    wrapped, sibling = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(wrapped), catalog=CATALOG,
                                                  settings=CostSettings()))
    provider.add_span_processor(SimpleSpanProcessor(sibling))
    with provider.get_tracer("t").start_as_current_span("chat", attributes=gpt4o()):
        pass
    for memory in (wrapped, sibling):
        (span,) = memory.get_finished_spans()
        assert span.attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


@pytest.mark.parametrize("first_reads_at_once", [True, False])
def test_two_cost_processors_on_one_provider_each_price_the_span_for_their_own_listeners(first_reads_at_once):
    """Whether the first processor has priced the span by the time the second sees it or not."""
    class Seen:
        def __init__(self):
            self.costs = []

        def on_span_cost(self, span, usage, cost):
            self.costs.append(cost.total_usd)

    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    listeners = [Seen(), Seen()]
    first_next = SimpleSpanProcessor(first) if first_reads_at_once else _Recorder()
    processors = [CostSpanProcessor(next_processor, catalog=CATALOG, settings=CostSettings(), listeners=[listener])
                  for next_processor, listener in zip((first_next, SimpleSpanProcessor(second)), listeners)]
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("chat", attributes=gpt4o()):
        pass
    (b,) = second.get_finished_spans()
    assert b.attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    assert [p.stats.priced for p in processors] == [1, 1]
    assert [listener.costs for listener in listeners] == [[pytest.approx(0.0045)]] * 2
    if first_reads_at_once:
        (a,) = first.get_finished_spans()
        assert a is not b and a.attributes["gen_ai.cost.total_usd"] == pytest.approx(0.0045)


def test_a_next_processor_with_its_own_start_and_ending_hooks_gets_them():
    class Hooks(SpanProcessor):
        def __init__(self):
            self.calls = []

        def on_start(self, span, parent_context=None):
            self.calls.append(("start", span.name))

        def _on_ending(self, span):
            self.calls.append(("ending", span.name))

        def on_end(self, span):
            self.calls.append(("end", span.attributes.get("gen_ai.cost.total_usd")))

    hooks = Hooks()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(hooks, catalog=CATALOG, settings=CostSettings()))
    with provider.get_tracer("t").start_as_current_span("chat", attributes=gpt4o()):
        pass
    assert hooks.calls == [("start", "chat"), ("ending", "chat"), ("end", pytest.approx(0.0045))]


def test_bounded_bookkeeping_forgets_the_oldest_half_and_still_works_on_recent_calls(monkeypatch):
    """Past their bounds the leaf-call and call-record maps drop their older half in
    one go (popping the oldest entry per insert costs O(n) on a full dict); what
    they are for keeps working on the calls that follow."""
    import genai_cost._call_records as call_records

    monkeypatch.setattr(call_records, "MAX_CALLS", 16)
    tracer, memory, processor, _ = pipeline()
    with tracer.start_as_current_span("agent"):
        for step in range(100):
            with tracer.start_as_current_span(f"chat {step}", attributes=gpt4o(1000 + step)):
                pass
            assert len(processor._calls._records) <= 16 and len(processor._calls._leaf_calls) <= 16
        # After many trims, one call recorded twice is still spotted...
        for name, recorder in (("sdk", tracer), ("openllmetry", second_tracer(tracer))):
            with recorder.start_as_current_span(name, attributes=gpt4o(**{"gen_ai.response.id": "resp_late"})):
                pass
        # ...and so is a streamed call whose wrapper returned first.
        wrapper = tracer.start_span("wrapper", attributes=gpt4o())
        streamed = tracer.start_span("streamed", context=trace_api.set_span_in_context(wrapper), attributes=gpt4o())
        wrapper.end()
        streamed.end()
    spans = by_name(memory)
    assert spans["chat 99"].attributes["gen_ai.cost.total_usd"] > 0
    assert "gen_ai.cost.total_usd" in spans["sdk"].attributes
    assert spans["openllmetry"].attributes["gen_ai.cost.duplicate_of"] == f"{spans['sdk'].context.span_id:016x}"
    assert spans["streamed"].attributes["gen_ai.cost.duplicate_of"] == f"{spans['wrapper'].context.span_id:016x}"
    assert spans["agent"].attributes["gen_ai.trace.cost.llm_calls"] == 102


def test_newer_half_keeps_the_most_recent_entries_in_order():
    from genai_cost._bounded import newer_half

    entries = {f"k{i}": i for i in range(11)}
    del entries["k0"], entries["k3"]  # deleted slots at the front, as in a map in use
    assert list(newer_half(entries).items()) == [(f"k{i}", i) for i in range(6, 11)]


def test_spans_of_unknown_shapes_never_raise_into_the_caller():
    recorder = _Recorder()
    processor = CostSpanProcessor(recorder, catalog=CATALOG, settings=CostSettings())
    processor.on_start(object())  # type: ignore[arg-type]
    processor.on_end(object())  # type: ignore[arg-type]
    assert recorder.calls == ["start", "end"]
    assert processor.stats.internal_errors == 2


def test_a_broken_pricing_file_is_skipped_alone(tmp_path, caplog):
    """One typo in one file must not take the team's other files with it."""
    from genai_cost.config import CostSettings
    from genai_cost.processor import load_catalog

    good = tmp_path / "good.yaml"
    good.write_text("tools:\n  - name: lookup\n    per_call: 0.25\n    source: x\n    checked: 2026-11-22\n")
    typo = tmp_path / "typo.yaml"
    typo.write_text("tools:\n  - name: other\n    per_cal: 1\n    source: x\n    checked: 2026-11-22\n")
    later = tmp_path / "later.yaml"
    later.write_text("tools:\n  - name: fetch\n    per_call: 0.5\n    source: x\n    checked: 2026-11-22\n")
    missing = tmp_path / "missing.yaml"
    settings = CostSettings(pricing_files=(str(good), str(typo), str(missing), str(later)))
    with caplog.at_level("ERROR", logger="genai_cost"):
        catalog = load_catalog(settings)
    assert catalog.tool("lookup") is not None and catalog.tool("fetch") is not None
    assert catalog.tool("other") is None
    assert catalog.resolve("gpt-4o", "openai").model.pricing_id == "openai/gpt-4o"  # the shipped catalog is there
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"pricing file {typo} rejected and skipped" in logged and "per_cal" in logged
    assert f"pricing file {missing} rejected and skipped" in logged
    assert str(good) + " rejected" not in logged


def test_a_discount_that_never_applies_is_logged_at_startup(tmp_path, caplog):
    """A discount for a misspelt provider loaded without a word, and the list price was
    charged: `pricing validate --with-catalog` knew, the running application did not say."""
    from genai_cost.config import CostSettings
    from genai_cost.processor import load_catalog

    typo = tmp_path / "contract.yaml"
    typo.write_text("discounts:\n  - provider: opneai\n    percent: 15\n")
    with caplog.at_level("ERROR", logger="genai_cost"):
        catalog = load_catalog(CostSettings(pricing_files=(str(typo),)))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{typo}:2" in logged and "opneai" in logged
    assert catalog.resolve("gpt-4o", "openai").model.pricing_id == "openai/gpt-4o"


class SoftTimeLimitExceeded(Exception):
    """What Celery raises from its signal handler when a task's soft time limit passes."""


@pytest.mark.parametrize("deferred", [False, True])
def test_an_exception_of_the_application_landing_in_pricing_reaches_the_application(monkeypatch, deferred):
    """A timeout raised by a signal handler lands on whatever line runs; when that line
    is genai-cost's (pricing on the application thread: inline, or a budget check
    settling the queue), the application must still get it. genai-cost's own failures
    are still caught and counted."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import genai_cost.processor as processor_module

    real_read_usage = processor_module.read_usage
    raised: list[type[Exception]] = []

    def interrupted(attributes, scope=None):
        if raised:
            raise raised.pop()
        return real_read_usage(attributes, scope)

    monkeypatch.setattr(processor_module, "read_usage", interrupted)
    memory = InMemorySpanExporter()
    # the export thread waits a minute: pricing happens on the application thread only
    batch = BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=60_000)
    processor = CostSpanProcessor(batch, catalog=CATALOG, settings=CostSettings(deferred_pricing=deferred))
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")

    raised.append(ValueError)  # a bug of genai-cost's: caught and counted
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    processor.settle()
    assert processor.stats.internal_errors == 1

    raised.append(SoftTimeLimitExceeded)  # the application's: it gets it
    with pytest.raises(SoftTimeLimitExceeded):
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
        processor.settle()  # deferred: what check_budget() does before reading the spend
    assert processor.stats.internal_errors == 1
    provider.force_flush()
    # The span it was pricing says so (it went on with no cost and no flag, owed pricing forever).
    interrupted_span = memory.get_finished_spans()[-1]
    assert interrupted_span.attributes["gen_ai.cost.unpriced_reason"] == "internal_error"
    assert "SoftTimeLimitExceeded" in interrupted_span.attributes["gen_ai.cost.unpriced_detail"]
    assert interrupted_span.__dict__.get("_settler") is None
    provider.shutdown()


def test_an_exception_of_the_application_landing_in_a_budget_check_reaches_the_application(monkeypatch):
    """genai-cost's own listeners (the budget, the metrics) are guarded as its own code, not
    as user code: the time limit raised into Budget while check_budget() priced was logged as
    an internal error, and the task ran on past its limit."""
    import genai_cost.budget as budget_module
    from genai_cost import Budget

    real = budget_module._running_limits_reached
    raised: list[type[Exception]] = [SoftTimeLimitExceeded]

    def interrupted(*args, **kwargs):
        if raised:
            raise raised.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(budget_module, "_running_limits_reached", interrupted)
    budget = Budget(max_cost_usd=10)
    processor = CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), catalog=CATALOG, listeners=[budget])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("task") as task:
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
        with pytest.raises(SoftTimeLimitExceeded):
            budget.check(task.get_span_context().trace_id)
    assert processor.stats.internal_errors == 0
    provider.shutdown()


def test_a_failed_call_without_usage_says_so_rather_than_missing_usage():
    """Two rate-limited attempts, then the call that went through: the failures read as
    missing telemetry (missing_usage) and fired the unpriced-spans alert, whose advice
    (add a price) does not apply."""
    from opentelemetry.trace import Status, StatusCode

    tracer, memory, _, _ = pipeline()
    request = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in range(2):
            with tracer.start_as_current_span("chat gpt-4o", attributes=request) as span:
                span.set_attribute("error.type", "RateLimitError")
                span.set_status(Status(StatusCode.ERROR, "429"))
        with tracer.start_as_current_span("chat gpt-4o", attributes=gpt4o()):
            pass
        with tracer.start_as_current_span("chat nothing", attributes=request):  # no usage, no error
            pass
    spans = memory.get_finished_spans()
    reasons = [s.attributes.get("gen_ai.cost.unpriced_reason") for s in spans if s.name.startswith("chat")]
    assert reasons == ["failed_call", "failed_call", None, "missing_usage"]
    failed = next(s for s in spans if s.attributes.get("gen_ai.cost.unpriced_reason") == "failed_call")
    assert "RateLimitError" in failed.attributes["gen_ai.cost.unpriced_detail"]
    root = next(s for s in spans if s.name == "invoke_agent").attributes
    assert root["gen_ai.trace.cost.unpriced_spans"] == 3  # what they may have cost is not known
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)


@pytest.mark.parametrize(
    ("provider", "model", "usd"),
    [
        # OpenLIT 1.45 names its framework instrumentations as the provider (litellm,
        # strands_agents, ...); Strands' own tracer writes strands-agents. The model names
        # the provider; a Bedrock id is Bedrock's, not a looser Vertex rule's (was ambiguous).
        ("litellm", "anthropic/claude-sonnet-4-20250514", (1000 * 3 + 100 * 15) / 1e6),
        ("strands_agents", "us.anthropic.claude-sonnet-4-20250514-v1:0", (1000 * 3 + 100 * 15) / 1e6),
        ("strands-agents", "us.anthropic.claude-sonnet-4-20250514-v1:0", (1000 * 3 + 100 * 15) / 1e6),
        ("smolagents", "gpt-4o", (1000 * 2.5 + 100 * 10) / 1e6),
        ("agent_framework", "gpt-4o", (1000 * 2.5 + 100 * 10) / 1e6),
        # Pydantic AI's Gemini API and Vertex provider names
        ("google-gla", "gemini-2.5-flash", (1000 * 0.30 + 100 * 2.50) / 1e6),
        ("google-cloud", "gemini-2.5-flash", (1000 * 0.30 + 100 * 2.50) / 1e6),
    ],
)
def test_framework_and_sdk_names_in_the_provider_attribute_still_price(provider, model, usd):
    tracer, memory, _, _ = pipeline()
    attributes = {"gen_ai.operation.name": "chat", "gen_ai.system": provider, "gen_ai.request.model": model,
                  "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}
    with tracer.start_as_current_span("chat", attributes=attributes):
        pass
    attrs = by_name(memory)["chat"].attributes
    assert attrs.get("gen_ai.cost.unpriced_reason") is None, attrs.get("gen_ai.cost.unpriced_detail")
    assert attrs["gen_ai.cost.total_usd"] == pytest.approx(usd)


def _reattached(parent_span) -> object:
    """The parent's context as ``logfire.attach_context`` re-attaches it: through a carrier,
    so that the SDK marks it remote although the span is open in this process."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    propagator = TraceContextTextMapPropagator()
    propagator.inject(carrier, context=trace_api.set_span_in_context(parent_span))
    return propagator.extract(carrier)


def test_a_streamed_call_logged_under_a_reattached_parent_counts_in_its_root():
    """Logfire records a streamed call's usage on a log span of its own, under the request's
    parent re-attached from a carrier (remote). It was taken for a local root: its cost went
    into totals of its own, the root left it out, and the request span (no tokens) was
    flagged unpriced."""
    tracer, memory, _, _ = pipeline()
    logfire = second_tracer(tracer, "logfire.anthropic")
    sonnet = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"}
    sonnet["gen_ai.request.model"] = "claude-sonnet-4-20250514"
    with tracer.start_as_current_span("handle request") as root:
        with logfire.start_as_current_span("Message with {request_data[model]!r}", attributes=sonnet):
            pass  # the stream is returned: no usage here
        usage = {"gen_ai.usage.input_tokens": 5100, "gen_ai.usage.output_tokens": 50}
        usage |= {"gen_ai.usage.cache_read.input_tokens": 3000, "gen_ai.usage.cache_creation.input_tokens": 2000}
        log = logfire.start_span("streaming response from ...", context=_reattached(root), attributes=sonnet | usage)
        assert log.parent is not None and log.parent.is_remote
        log.end()
    spans = by_name(memory)
    request, streamed, handled = (
        spans["Message with {request_data[model]!r}"],
        spans["streaming response from ..."],
        spans["handle request"],
    )
    assert not any(key.startswith("gen_ai.cost.") for key in request.attributes)
    cost = streamed.attributes["gen_ai.cost.total_usd"]
    assert cost == pytest.approx((100 * 3 + 3000 * 0.3 + 2000 * 3.75 + 50 * 15) / 1e6)
    assert not any(key.startswith("gen_ai.trace.") for key in streamed.attributes)
    assert streamed.parent is not None and not streamed.parent.is_remote
    assert streamed.parent.span_id == handled.context.span_id
    totals = handled.attributes
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(cost)
    assert (totals["gen_ai.trace.cost.llm_calls"], totals["gen_ai.trace.cost.unpriced_spans"]) == (1, 0)
    assert totals["gen_ai.trace.cost.complete"] is True


def test_a_server_span_under_a_client_span_of_the_same_process_keeps_its_remote_parent():
    """A service calling itself over the network: the request it receives is a local root of
    its own (SERVER), even though the CLIENT span that sent it is open here."""
    tracer, memory, _, _ = pipeline()
    with tracer.start_as_current_span("POST /agent") as outer:
        with tracer.start_as_current_span("POST /tool", kind=trace_api.SpanKind.CLIENT) as client:
            served = tracer.start_span("/tool", context=_reattached(client), kind=trace_api.SpanKind.SERVER)
            with tracer.start_as_current_span("chat", context=trace_api.set_span_in_context(served), attributes=gpt4o()):
                pass
            served.end()
        assert outer is not None
    spans = by_name(memory)
    assert spans["/tool"].parent is not None and spans["/tool"].parent.is_remote
    assert spans["/tool"].attributes["gen_ai.trace.cost.llm_calls"] == 1
    assert spans["POST /agent"].attributes.get("gen_ai.trace.cost.llm_calls", 0) == 0


#: Logfire's Claude Agent SDK run record, as its own test snapshots it (pydantic/logfire
#: tests/otel_integrations/test_claude_agent_sdk.py, the basic conversation cassette): the SDK
#: reports Anthropic's uncached input (3) beside 7,166 read and 2,175 written, and Logfire's
#: ``_extract_usage`` writes their SUM (9,344) as gen_ai.usage.input_tokens, as it has since
#: the integration's first release (4.31.0). The SDK's total_cost_usd (operation.cost) is
#: 3 x $3 + 7,166 x $0.30 + 2,175 x $3.75 + 5 x $15 per million: the record is inclusive.
CLAUDE_AGENT_SDK_RUN = {
    "gen_ai.usage.input_tokens": 9344,
    "gen_ai.usage.output_tokens": 5,
    "gen_ai.usage.cache_read.input_tokens": 7166,
    "gen_ai.usage.cache_creation.input_tokens": 2175,
    "operation.cost": 0.01039005,
}
CLAUDE_AGENT_SDK_RUN_COST = (3 * 3.00 + 7166 * 0.30 + 2175 * 3.75 + 5 * 15.00) / 1e6  # = 0.01039005


@pytest.mark.parametrize("reported", ["prefer", "compare"])
def test_a_claude_agent_sdk_run_recorded_by_logfire_is_priced_once_from_its_run_record(reported):
    """Priced once, on the run record; the catalog reads its counts as inclusive (the input
    count already holds the cache reads and writes) and so agrees with the SDK's own cost,
    whether that cost is written (``prefer``) or the catalog's is (``compare``). Read as
    exclusive (the scope among EXCLUSIVE_INPUT_SCOPES), the catalog would bill the 9,341
    cached tokens a second time as input, at $3: 0.0384 instead of 0.0104."""
    tracer, memory, _, _ = pipeline(reported_cost=reported)
    sdk = second_tracer(tracer, "logfire.claude_agent_sdk")
    base = {"gen_ai.provider.name": "anthropic", "gen_ai.system": "anthropic"}
    base |= {"gen_ai.request.model": "claude-sonnet-4-6", "gen_ai.response.model": "claude-sonnet-4-6"}
    with sdk.start_as_current_span("invoke_agent", attributes={**base, "gen_ai.operation.name": "invoke_agent"}) as run:
        partial = {"gen_ai.usage.partial.input_tokens": 9344, "gen_ai.usage.partial.output_tokens": 1}
        partial |= {"gen_ai.usage.partial.cache_read.input_tokens": 7166}
        partial |= {"gen_ai.usage.partial.cache_creation.input_tokens": 2175}
        with sdk.start_as_current_span("chat claude-sonnet-4-6", attributes={**base, "gen_ai.operation.name": "chat", **partial}):
            pass
        with sdk.start_as_current_span("execute_tool Read", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "Read"}):
            pass
        run.set_attributes(CLAUDE_AGENT_SDK_RUN)
    spans = by_name(memory)
    assert not any(key.startswith("gen_ai.cost.") for key in spans["chat claude-sonnet-4-6"].attributes)
    root = spans["invoke_agent"].attributes
    if reported == "prefer":
        assert (root["gen_ai.cost.total_usd"], root["gen_ai.cost.source"]) == (0.01039005, "span")
        assert root["gen_ai.cost.catalog_usd"] == pytest.approx(CLAUDE_AGENT_SDK_RUN_COST, rel=1e-9)
    else:
        assert (root["gen_ai.cost.source"], root["gen_ai.cost.reported_usd"]) == ("catalog", 0.01039005)
        assert root["gen_ai.cost.total_usd"] == pytest.approx(CLAUDE_AGENT_SDK_RUN_COST, rel=1e-9)
        assert root["gen_ai.cost.input_usd"] == pytest.approx(3 * 3.00 / 1e6)
        assert "gen_ai.cost.usage_convention" not in root  # read as inclusive, nothing converted
    assert root["gen_ai.cost.reported_diff_usd"] == pytest.approx(0, abs=1e-12)
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.01039005, rel=1e-9)
    assert (root["gen_ai.trace.cost.llm_calls"], root["gen_ai.trace.cost.unpriced_spans"]) == (1, 1)
    assert spans["execute_tool Read"].attributes["gen_ai.cost.unpriced_reason"] == "unknown_tool"


def test_two_identical_calls_each_recorded_twice_are_two_calls_not_three():
    """Two instrumentations recording the same two calls one after the other (the same model
    and token counts): the second call's second record was compared with the FIRST call's
    first record (the key kept the oldest), did not overlap it, and was priced again."""
    tracer, memory, _, _ = pipeline()
    other = second_tracer(tracer)
    with tracer.start_as_current_span("invoke_agent"):
        for _ in range(2):
            outer = tracer.start_span("chat", attributes=gpt4o())
            inner = other.start_span("chat (sdk)", context=trace_api.set_span_in_context(trace_api.get_current_span()))
            inner.set_attributes(gpt4o())
            inner.end()
            outer.end()
    spans = memory.get_finished_spans()
    priced = [s for s in spans if "gen_ai.cost.total_usd" in s.attributes]
    assert len(priced) == 2
    assert sum("gen_ai.cost.duplicate_of" in s.attributes for s in spans) == 2
    (root,) = [s for s in spans if s.name == "invoke_agent"]
    assert root.attributes["gen_ai.trace.cost.llm_calls"] == 2


def test_a_provider_sdk_span_under_a_logfire_stream_request_is_the_twin_of_its_log():
    """anthropic 2.x's own span of a streamed call sits under Logfire's request span and ends
    when the response starts; Logfire's log of the same call comes when the stream has been
    read, beside the request span, with no response id: the call was priced twice."""
    tracer, memory, _, _ = pipeline()
    logfire = second_tracer(tracer, "logfire.anthropic")
    sdk = second_tracer(tracer, "com.anthropic.sdk.python")
    sonnet = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic"}
    sonnet["gen_ai.request.model"] = "claude-sonnet-4-20250514"
    usage = {"gen_ai.usage.input_tokens": 5100, "gen_ai.usage.output_tokens": 50}
    with tracer.start_as_current_span("handle request") as root:
        request = logfire.start_span("Message with {request_data[model]!r}", attributes=sonnet)
        call_span = sdk.start_span("anthropic.messages.create", context=trace_api.set_span_in_context(request))
        request.end()  # the stream is returned
        call_span.set_attributes(sonnet | usage)
        call_span.end()  # the response began
        log = logfire.start_span("streaming response from ...", context=_reattached(root), attributes=sonnet | usage)
        log.end()
    spans = by_name(memory)
    call, logged = spans["anthropic.messages.create"], spans["streaming response from ..."]
    assert call.attributes["gen_ai.cost.total_usd"] > 0
    assert logged.attributes["gen_ai.cost.duplicate_of"] == f"{call.context.span_id:016x}"
    assert spans["handle request"].attributes["gen_ai.trace.cost.llm_calls"] == 1
