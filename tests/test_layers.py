"""Cost layers beyond LLM tokens: tools (per call + per unit), embeddings and
vector-store queries, infrastructure per trace, human escalation."""

from __future__ import annotations

import textwrap

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import (
    CostSettings,
    CostSpanProcessor,
    HumanEscalationLayer,
    InfraAllocation,
    InfraCostLayer,
    LayerSettings,
    TraceCostExporter,
)
from genai_cost import attributes as A
from genai_cost.pricing import Catalog

LAYER_PRICES = textwrap.dedent(
    """
    tools:
      - name: database_query
        category: tool
        per_call: 0.0001
        per_unit: 0.00001
        unit_attribute: db.rows_scanned
        unit_name: row
        source: "000 article: tool registry"
        checked: 2026-11-22
      - name: pinecone
        aliases: [pinecone-index]
        category: retrieval
        per_call: 0.00002
        per_unit: 0.000001
        unit_attribute: db.vector.query.top_k
        unit_name: returned match
        source: "test"
        checked: 2026-11-22
    infrastructure:
      monthly_usd: 2000
      monthly_traces: 150000
      allocation: per_second
      average_trace_seconds: 120
    human_escalation:
      per_escalation: 7.0
    """
)


@pytest.fixture(scope="module")
def prices(tmp_path_factory):
    path = tmp_path_factory.mktemp("prices") / "layers.yaml"
    path.write_text(LAYER_PRICES)
    return path


@pytest.fixture(scope="module")
def catalog(prices):
    return Catalog.load([prices])


def build(catalog, *, span_layers=(), trace_layers=()):
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory, trace_layers=trace_layers)
    processor = CostSpanProcessor(
        SimpleSpanProcessor(rollup), catalog=catalog, settings=CostSettings(), span_layers=span_layers
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("test"), memory


def spans_by_name(memory):
    return {span.name: span for span in memory.get_finished_spans()}


# ------------------------------------------------------------------ infrastructure


def test_article_example_60s_conversation_of_2000_a_month_over_150k_gets_0_0067():
    allocation = InfraAllocation(2000.0, 150_000, allocation="per_second", average_trace_seconds=120)
    cost = allocation.cost(60)
    assert cost == pytest.approx(2000 / 150_000 * 60 / 120)
    assert round(cost, 4) == 0.0067


def test_per_trace_allocation_ignores_duration():
    allocation = InfraAllocation(2000.0, 150_000)
    assert allocation.cost(60) == allocation.cost(600) == pytest.approx(2000 / 150_000)


def test_a_root_whose_start_time_is_not_set_counts_as_an_average_trace():
    """A span sent through the gateway with start_time_unix_nano 0 ("not set") was charged
    for the 56 years since 1970: $440,950 of infrastructure on one trace."""
    from opentelemetry.sdk.trace import ReadableSpan

    allocation = InfraAllocation(3000.0, 100_000, allocation="per_second", average_trace_seconds=120)
    layer = InfraCostLayer(allocation)
    root = ReadableSpan(name="root", start_time=0, end_time=1_763_700_000 * 10**9)
    costs = layer.trace_costs(root, None)  # type: ignore[arg-type]
    assert costs == {A.CATEGORY_INFRA: pytest.approx(3000.0 / 100_000)}


def test_infra_is_its_own_category_in_the_root_totals(catalog):
    layer = InfraCostLayer(InfraAllocation(2000.0, 150_000, allocation="per_second"))
    tracer, memory = build(catalog, trace_layers=[layer])
    start = 1_700_000_000 * 10**9
    root = tracer.start_span("invoke_agent support", start_time=start)
    with tracer.start_as_current_span("query", context=_ctx(root), attributes=_tool("database_query", rows=50)):
        pass
    root.end(end_time=start + 60 * 10**9)  # a 60-second conversation
    attrs = spans_by_name(memory)["invoke_agent support"].attributes
    infra = attrs[A.trace_category_key(A.CATEGORY_INFRA)]
    assert isinstance(infra, float)
    assert round(infra, 4) == 0.0067
    tool = 0.0001 + 0.00001 * 50
    assert attrs[A.trace_category_key(A.CATEGORY_TOOL)] == pytest.approx(tool)
    assert attrs[A.TRACE_TOTAL] == pytest.approx(tool + 2000 / 150_000 / 2)
    assert A.COST_TOTAL not in attrs  # infra belongs to the trace, not to a span


def test_infra_from_pricing_file_section_and_env_overrides(prices):
    from_file = LayerSettings.from_env({}, [prices])
    assert from_file.infra == InfraAllocation(2000.0, 150_000, "per_second", 120.0)
    assert from_file.human_escalation_usd == 7.0
    env = {"GENAI_COST_INFRA_MONTHLY_USD": "3000", "GENAI_COST_HUMAN_ESCALATION_USD": "5"}
    merged = LayerSettings.from_env(env, [prices])
    assert merged.infra == InfraAllocation(3000.0, 150_000, "per_second", 120.0)
    assert merged.human_escalation_usd == 5.0


def test_the_layers_read_the_sections_from_the_catalog_not_the_files_again(tmp_path):
    """The sections were parsed, YAML and pydantic, once by the catalog and again here."""
    path = tmp_path / "layers.yaml"
    path.write_text(LAYER_PRICES)
    catalog = Catalog.load([path])
    path.unlink()  # gone: only the catalog can say what the file held
    settings = LayerSettings.from_env({}, catalog=catalog)
    assert settings.infra == InfraAllocation(2000.0, 150_000, "per_second", 120.0)
    assert settings.human_escalation_usd == 7.0
    with pytest.raises(ValueError, match="not both"):
        LayerSettings.from_env({}, [path], catalog=catalog)


def test_the_user_files_are_parsed_once_for_the_catalog_and_the_layers(tmp_path, monkeypatch):
    """As the zero-code configurator and the gateway set up: the layers from the pricing
    files, then the processor's catalog from the same files."""
    from genai_cost.pricing import files
    from genai_cost.processor import load_catalog

    monkeypatch.setenv("GENAI_COST_CACHE_DIR", str(tmp_path / "cache"))
    parsed = []
    real = files.parse_pricing_text

    def counting(text, label):
        parsed.append(label)
        return real(text, label)

    monkeypatch.setattr(files, "parse_pricing_text", counting)
    path = tmp_path / "layers.yaml"
    path.write_text(LAYER_PRICES)
    settings = CostSettings(pricing_files=(str(path),))
    layers = LayerSettings.from_env({}, settings.pricing_files)
    catalog = load_catalog(settings)
    assert layers.human_escalation_usd == 7.0 and catalog.tool("database_query") is not None
    assert parsed == [str(path)]


def test_the_last_file_that_sets_a_section_wins_and_a_bad_one_keeps_the_one_before(tmp_path):
    first = tmp_path / "a.yaml"
    first.write_text("infrastructure: {monthly_usd: 100, monthly_traces: 10}\nhuman_escalation: {per_escalation: 2}\n")
    bad = tmp_path / "b.yaml"
    bad.write_text("infrastructure:\n  monthly_usd: 1.0e+308\n  monthly_traces: 1.0e-10\n")
    catalog = Catalog.load([first, bad])
    assert [section.defined_in for section in catalog.infrastructure] == [str(first), str(bad)]
    settings = LayerSettings.from_env({}, catalog=catalog)
    assert settings.infra == InfraAllocation(100.0, 10.0)
    assert settings.human_escalation_usd == 2.0
    assert any(p.startswith(f"{bad}: infrastructure:") for p in settings.problems)


def test_infra_from_env_only():
    settings = LayerSettings.from_env(
        {
            "GENAI_COST_INFRA_MONTHLY_USD": "2000",
            "GENAI_COST_INFRA_MONTHLY_TRACES": "150000",
            "GENAI_COST_INFRA_ALLOCATION": "per_second",
        }
    )
    assert settings.infra is not None
    assert round(settings.infra.cost(60), 4) == 0.0067
    assert len(settings.trace_layers()) == 1
    assert settings.span_layers() == ()


def test_bad_layer_env_values_are_reported_not_raised():
    settings = LayerSettings.from_env(
        {
            "GENAI_COST_INFRA_MONTHLY_USD": "lots",
            "GENAI_COST_INFRA_ALLOCATION": "per_moon",
            "GENAI_COST_HUMAN_ESCALATION_USD": "-3",
        }
    )
    assert settings.infra is None and settings.human_escalation_usd is None
    assert len(settings.problems) >= 3
    # half a configuration says what is missing
    half = LayerSettings.from_env({"GENAI_COST_INFRA_MONTHLY_USD": "100"})
    assert half.infra is None
    assert any("MONTHLY_TRACES" in p for p in half.problems)


def test_infra_values_that_divide_to_infinity_are_reported_not_written(tmp_path):
    """1e308 USD over 1e-10 traces: each value passed its check, and every root said
    infra_usd = inf."""
    settings = LayerSettings.from_env(
        {"GENAI_COST_INFRA_MONTHLY_USD": "1e308", "GENAI_COST_INFRA_MONTHLY_TRACES": "1e-10"}
    )
    assert settings.infra is None
    assert any("GENAI_COST_INFRA_MONTHLY_USD" in p and "too large" in p for p in settings.problems)
    prices = tmp_path / "infra.yaml"
    prices.write_text("infrastructure:\n  monthly_usd: 1.0e+308\n  monthly_traces: 1.0e-10\n")
    from_file = LayerSettings.from_env({}, [prices])
    assert from_file.infra is None
    assert any(str(prices) in p for p in from_file.problems)
    with pytest.raises(ValueError, match="too large"):
        InfraAllocation(1e308, 1e-10)


def test_nothing_configured_means_no_layers():
    settings = LayerSettings.from_env({})
    assert settings.trace_layers() == () and settings.span_layers() == ()


# ------------------------------------------------------------------ tools and retrieval


def _tool(name, rows=None):
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if rows is not None:
        attrs["db.rows_scanned"] = rows
    return attrs


def _ctx(span):
    from opentelemetry import trace

    return trace.set_span_in_context(span)


def test_tool_per_call_plus_per_unit_and_unknown_tool_is_flagged(catalog):
    tracer, memory = build(catalog)
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("db", attributes=_tool("database_query", rows=1200)):
            pass
        with tracer.start_as_current_span("mystery", attributes=_tool("send_fax")):
            pass
    spans = spans_by_name(memory)
    db = spans["db"].attributes
    assert db[A.COST_TOTAL] == pytest.approx(0.0001 + 0.00001 * 1200)
    assert db[A.COST_CATEGORY] == A.CATEGORY_TOOL
    mystery = spans["mystery"].attributes
    assert mystery[A.COST_UNPRICED] is True
    assert mystery[A.COST_UNPRICED_REASON] == "unknown_tool"
    assert A.COST_TOTAL not in mystery  # never a silent zero
    root = spans["agent"].attributes
    assert root[A.TRACE_UNPRICED_SPANS] == 1
    assert root[A.TRACE_TOOL_CALLS] == 2


def test_embedding_and_vector_store_query_are_separate_categories(catalog):
    tracer, memory = build(catalog)
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span(
            "embeddings",
            attributes={
                "gen_ai.operation.name": "embeddings",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 1_000_000,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "retrieve",
            attributes={
                "gen_ai.operation.name": "retrieval",
                "gen_ai.data_source.id": "pinecone-index",
                "db.vector.query.top_k": 10,
            },
        ):
            pass
    spans = spans_by_name(memory)
    embedding = spans["embeddings"].attributes
    assert embedding[A.COST_CATEGORY] == A.CATEGORY_EMBEDDING
    assert embedding[A.COST_TOTAL] == pytest.approx(0.02)  # $0.02 per million tokens
    retrieval = spans["retrieve"].attributes
    assert retrieval[A.COST_CATEGORY] == A.CATEGORY_RETRIEVAL
    assert retrieval[A.COST_TOTAL] == pytest.approx(0.00002 + 0.000001 * 10)
    root = spans["agent"].attributes
    assert root[A.trace_category_key(A.CATEGORY_EMBEDDING)] == pytest.approx(0.02)
    assert root[A.trace_category_key(A.CATEGORY_RETRIEVAL)] == pytest.approx(0.00003)
    assert root[A.TRACE_TOTAL] == pytest.approx(0.02003)


def test_unpriced_vector_store_is_flagged_unknown_tool(catalog):
    tracer, memory = build(catalog)
    with tracer.start_as_current_span(
        "retrieve", attributes={"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "some-other-db"}
    ):
        pass
    attrs = spans_by_name(memory)["retrieve"].attributes
    assert attrs[A.COST_UNPRICED_REASON] == "unknown_tool"
    assert attrs[A.COST_CATEGORY] == A.CATEGORY_RETRIEVAL


# ------------------------------------------------------------------ human escalation


def test_escalation_attribute_on_a_plain_span_costs_the_fixed_amount(catalog):
    tracer, memory = build(catalog, span_layers=[HumanEscalationLayer(7.0)])
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("handoff", attributes={A.HUMAN_ESCALATION_ATTR: True}):
            pass
        with tracer.start_as_current_span("unrelated"):
            pass
    spans = spans_by_name(memory)
    handoff = spans["handoff"].attributes
    assert handoff[A.COST_TOTAL] == 7.0
    assert handoff[A.COST_CATEGORY] == A.CATEGORY_HUMAN
    assert handoff[A.COST_ESCALATIONS] == 1
    assert A.COST_TOTAL not in spans["unrelated"].attributes
    root = spans["agent"].attributes
    assert root[A.trace_category_key(A.CATEGORY_HUMAN)] == 7.0
    assert root[A.TRACE_TOTAL] == 7.0


def test_escalation_events_count_one_each_and_mark_the_root_itself(catalog):
    tracer, memory = build(catalog, span_layers=[HumanEscalationLayer(7.0)])
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}) as agent:
        agent.add_event(A.HUMAN_ESCALATION_EVENT, {"reason": "angry customer"})
        agent.add_event("something else")
        agent.add_event(A.HUMAN_ESCALATION_EVENT)
    attrs = spans_by_name(memory)["agent"].attributes
    assert attrs[A.COST_TOTAL] == 14.0
    assert attrs[A.COST_ESCALATIONS] == 2
    assert attrs[A.trace_category_key(A.CATEGORY_HUMAN)] == 14.0


def test_escalation_marker_is_free_of_charge_without_a_configured_price(catalog):
    tracer, memory = build(catalog)
    with tracer.start_as_current_span("handoff", attributes={A.HUMAN_ESCALATION_ATTR: True}):
        pass
    assert A.COST_TOTAL not in spans_by_name(memory)["handoff"].attributes


def test_a_broken_layer_does_not_lose_the_span(catalog):
    class Broken:
        def price_span(self, span, attributes):
            raise RuntimeError("boom")

    class BrokenTrace:
        def trace_costs(self, root, totals):
            raise RuntimeError("boom")

    tracer, memory = build(catalog, span_layers=[Broken()], trace_layers=[BrokenTrace()])
    with tracer.start_as_current_span("plain"):
        pass
    assert [s.name for s in memory.get_finished_spans()] == ["plain"]


def test_a_layer_that_raises_leaves_the_span_flagged_and_named_unless_another_prices_it(catalog, caplog):
    class Broken:
        def price_span(self, span, attributes):
            raise RuntimeError("boom")

    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(memory)),
        catalog=catalog,
        settings=CostSettings(),
        span_layers=[Broken()],
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    with caplog.at_level("ERROR", logger="genai_cost"):
        with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            with tracer.start_as_current_span("handoff", attributes={A.HUMAN_ESCALATION_ATTR: True}):
                pass
    spans = spans_by_name(memory)
    agent = spans["agent"].attributes  # GenAI work, which the layer may have priced
    assert agent[A.COST_UNPRICED] is True
    assert agent[A.COST_UNPRICED_REASON] == A.REASON_COST_LAYER_FAILED
    assert "Broken" in agent[A.COST_UNPRICED_DETAIL]
    # A span that is no GenAI work is not flagged: a layer raising on every span would
    # make every HTTP and database span of every request unpriced. Counted all the same.
    assert A.COST_UNPRICED not in spans["handoff"].attributes
    assert agent[A.TRACE_UNPRICED_SPANS] == 1
    assert processor.stats.layer_errors == 2
    assert processor.stats.internal_errors == 2
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "genai-cost: span cost layer Broken failed on a span (1 layer failures so far)"
    ]

    # A later layer that prices the span wins: the failure is counted, the span is not flagged.
    tracer, memory = build(catalog, span_layers=[Broken(), HumanEscalationLayer(7.0)])
    with tracer.start_as_current_span("handoff", attributes={A.HUMAN_ESCALATION_ATTR: True}):
        pass
    handoff = spans_by_name(memory)["handoff"].attributes
    assert handoff[A.COST_TOTAL] == 7.0
    assert A.COST_UNPRICED not in handoff


def test_the_shipped_example_pricing_file_loads():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "deploy" / "pricing-layers.example.yaml"
    catalog = Catalog.load([example])
    assert catalog.tool("support-articles").category == A.CATEGORY_RETRIEVAL
    assert catalog.tool("escalate_to_human").category == A.CATEGORY_HUMAN
    settings = LayerSettings.from_env({}, [example])
    assert round(settings.infra.cost(60), 4) == 0.0067
    assert settings.human_escalation_usd == 7.0


@pytest.mark.parametrize("value", ["yes", 1, 0, None, ["true"], "TRUE ", False, float("nan")])
def test_odd_marker_values_never_raise(catalog, value):
    tracer, memory = build(catalog, span_layers=[HumanEscalationLayer(7.0)])
    attributes = {} if value is None else {A.HUMAN_ESCALATION_ATTR: value}
    with tracer.start_as_current_span("maybe", attributes=attributes):
        pass
    [span] = memory.get_finished_spans()
    expected = 7.0 if value == "TRUE " else None
    assert span.attributes.get(A.COST_TOTAL) == expected


def test_a_priced_call_is_not_charged_twice_for_a_marker(catalog):
    tracer, memory = build(catalog, span_layers=[HumanEscalationLayer(7.0)])
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
        A.HUMAN_ESCALATION_ATTR: True,
    }
    with tracer.start_as_current_span("chat", attributes=attributes):
        pass
    [span] = memory.get_finished_spans()
    assert span.attributes[A.COST_CATEGORY] == A.CATEGORY_LLM
    assert span.attributes[A.TRACE_TOTAL] == pytest.approx(0.0045)
