"""LiteLLM's own OpenTelemetry callback (``litellm.callbacks = ["otel"]``), as it really writes.

``tests/fixtures/frameworks/litellm-1.106.2-console.txt`` is what the SDK's ``ConsoleSpanExporter``
printed for three LiteLLM 1.106.2 calls (gpt-4o with 400 cached tokens, Claude Sonnet 4 with
cache reads and writes, an embedding) against ``tests/support/fake_llm.py``, with no genai-cost
in the process: the spans of a LiteLLM proxy. LiteLLM writes its own cost breakdown in
genai-cost's namespace (``gen_ai.cost.total_cost``, ``gen_ai.cost.input_cost``, ...), and in its
default mode no cache counts as attributes (only inside a Python repr, ``metadata.usage_object``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.cli import main
from genai_cost.report import report_traces
from genai_cost.span_file import ExportedSpan, read_span_file

CONSOLE = Path(__file__).parent / "fixtures" / "frameworks" / "litellm-1.106.2-console.txt"
M = 1e6


def _calls() -> list[dict[str, Any]]:
    """The attributes of the three ``litellm_request`` spans, as printed."""
    text = CONSOLE.read_text(encoding="utf-8")
    decoder, at, found = json.JSONDecoder(), 0, []
    while (start := text.find("{", at)) >= 0:
        span, at = decoder.raw_decode(text, start)
        if span["name"] == "litellm_request":
            found.append(span["attributes"])
    return found


def test_the_report_lists_litellm_spans_as_never_priced_not_as_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: any gen_ai.cost.* key read as "genai-cost saw this span", and LiteLLM's own
    made the report say "$0.0000 in all; 0 billable span(s) without cost attributes"."""
    assert main(["report", str(CONSOLE)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == (
        "3 trace(s), $0.0000 in all; 0 unpriced span(s); 3 billable span(s) without cost attributes"
    )
    assert text.count("NO COST ATTRIBUTES 'litellm_request'") == 3


def test_an_unreadable_value_in_another_tools_cost_key_is_not_an_invalid_cost() -> None:
    spans = read_span_file(CONSOLE, application_output=[])
    odd = spans[0]
    attributes = {**odd.attributes, "gen_ai.cost.service_tier": ["a", "b"], "gen_ai.cost.margin_percent": None}
    (report,) = report_traces(
        [ExportedSpan(odd.trace_id, odd.span_id, odd.parent_span_id, odd.name, odd.scope, attributes)]
    )
    assert report.unpriced == []
    assert len(report.not_priced_here) == (1 if odd.name == "litellm_request" else 0)


def _priced(attributes: dict[str, Any]) -> dict[str, Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory))))
    provider.get_tracer("litellm").start_span("litellm_request", attributes=attributes).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return dict(span.attributes or {})


def test_litellms_own_cost_is_taken_as_the_spans_and_its_zero_is_not() -> None:
    gpt4o, sonnet, embedding = _calls()
    # LiteLLM's figure knows the 400 cached tokens the attributes do not: $0.004, not $0.0045.
    priced = _priced(gpt4o)
    assert (priced["gen_ai.cost.total_usd"], priced["gen_ai.cost.source"]) == (0.004, "span")
    assert priced["gen_ai.cost.catalog_usd"] == pytest.approx((1000 * 2.50 + 200 * 10.00) / M)
    # 0.0 for a model LiteLLM's map did not know, with tokens: not a price; the catalog's, on
    # an input that includes the cache (LiteLLM's 5100 = 100 + 3000 read + 2000 written),
    # without the split, which this mode of LiteLLM does not write.
    priced = _priced(sonnet)
    assert priced["gen_ai.cost.source"] == "catalog"
    assert priced["gen_ai.cost.total_usd"] == pytest.approx((5100 * 3.00 + 50 * 15.00) / M)
    priced = _priced(embedding)
    assert (priced["gen_ai.cost.total_usd"], priced["gen_ai.cost.category"]) == (0.0001, "embedding")
