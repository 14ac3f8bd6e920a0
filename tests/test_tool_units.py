"""A tool billed per call *and* per unit read from its span (quickstart's ``database_query``:
a fee per query plus a price per row scanned). Without the unit count its cost is not known:
the per-call fee alone would under-count the trace with nothing on the span to say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog

TOOLS = """\
tools:
  - name: database_query
    per_call: 0.0001
    per_unit: 0.00001
    unit_attribute: db.rows_scanned
    unit_name: row
    source: "warehouse price sheet"
    checked: 2026-11-22
  - name: flat_fee_lookup
    per_call: 0.002
    per_unit: 0
    unit_attribute: lookup.items
    source: "price sheet"
    checked: 2026-11-22
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path: Path = tmp_path_factory.mktemp("tools") / "tools.yaml"
    path.write_text(TOOLS, encoding="utf-8")
    return Catalog.load([path])


def _run(catalog: Catalog, spans: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=catalog, settings=CostSettings())
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for name, extra in spans.items():
            with tracer.start_as_current_span(name, attributes={"gen_ai.operation.name": "execute_tool", **extra}):
                pass
    provider.shutdown()
    return {span.name: dict(span.attributes or {}) for span in memory.get_finished_spans()}


def test_a_per_unit_tool_without_its_unit_count_is_unpriced_not_charged_its_fee_alone(catalog: Catalog) -> None:
    spans = _run(
        catalog,
        {
            "counted": {"gen_ai.tool.name": "database_query", "db.rows_scanned": 1000},
            "uncounted": {"gen_ai.tool.name": "database_query"},
            "misspelt": {"gen_ai.tool.name": "database_query", "db.rows_scaned": 1000},
        },
    )
    assert spans["counted"]["gen_ai.cost.total_usd"] == pytest.approx(0.0001 + 1000 * 0.00001)
    for name in ("uncounted", "misspelt"):
        attributes = spans[name]
        assert "gen_ai.cost.total_usd" not in attributes
        assert attributes["gen_ai.cost.unpriced_reason"] == "missing_usage"
        detail = str(attributes["gen_ai.cost.unpriced_detail"])
        assert "db.rows_scanned" in detail and "per row" in detail and "0.0001 USD" in detail
    root = spans["agent"]
    assert root["gen_ai.trace.cost.unpriced_spans"] == 2
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0101)


def test_a_unit_attribute_priced_at_zero_per_unit_is_not_needed(catalog: Catalog) -> None:
    """``per_unit: 0`` bills nothing by the unit: the fee alone is the whole cost."""
    spans = _run(catalog, {"lookup": {"gen_ai.tool.name": "flat_fee_lookup"}})
    assert spans["lookup"]["gen_ai.cost.total_usd"] == pytest.approx(0.002)
    assert "gen_ai.cost.unpriced" not in spans["lookup"]


@pytest.mark.parametrize("named_as", ["openai.web_search", "web_search_call"])
def test_your_price_for_a_shipped_tool_reaches_it_by_every_name(tmp_path: Path, named_as: str) -> None:
    """A file of yours that prices a shipped tool, by its name or one of its aliases, prices
    the spans named by any of them: before, only the name written in the file was yours, and
    a span named by an alias (what the Responses API calls the output item) kept the
    shipped fee."""
    path = tmp_path / "search.yaml"
    path.write_text(
        f"tools:\n  - {{name: {named_as}, per_call: 0.008, source: contract, checked: 2026-11-22}}\n",
        encoding="utf-8",
    )
    shipped = Catalog.load()
    catalog = Catalog.load([path])
    names = ("openai.web_search", "openai.web_search_call", "web_search_call", "WEB_SEARCH_CALL")
    spans = _run(catalog, {name: {"gen_ai.tool.name": name} for name in names})
    for name in names:
        assert spans[name]["gen_ai.cost.total_usd"] == pytest.approx(0.008), name
        assert spans[name]["gen_ai.cost.source"] == "override", name
    # Other shipped tools keep their prices, and the shipped catalog is untouched.
    preview = catalog.tool("openai.web_search_preview_call")
    assert preview is not None and preview.per_call == 0.025
    shipped_search = shipped.tool("web_search_call")
    assert shipped_search is not None and shipped_search.per_call == 0.01
