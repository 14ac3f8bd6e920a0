"""Spans agent frameworks really wrote (``tests/fixtures/frameworks/``, captured by running
them against ``fake_llm.py``), and what their calls cost by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.pricing.catalog import Catalog

TESTS = Path(__file__).parent.parent
FRAMEWORKS = TESTS / "fixtures" / "frameworks"
#: A user pricing file for the agents' own tool: get_weather at $0.002 a call.
AGENT_TOOLS = TESTS / "integration" / "apps" / "agent_tools.yaml"
#: The fake server's canned chat usage on gpt-4o: 1,000 in, 400 of them cached, 200 out.
GPT_4O_CALL = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / 1e6


def framework_spans(name: str) -> list[dict[str, Any]]:
    """The spans of ``fixtures/frameworks/<name>.json``."""
    return json.loads((FRAMEWORKS / f"{name}.json").read_text())["spans"]  # type: ignore[no-any-return]


def costed_pipeline(*, tools_priced: bool = True) -> tuple[TracerProvider, InMemorySpanExporter, CostSpanProcessor]:
    """The SDK with genai-cost (``CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter))``)
    exporting to memory; the shipped catalog, with ``get_weather`` priced unless
    ``tools_priced`` is false."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    catalog = Catalog.load([str(AGENT_TOOLS)]) if tools_priced else None
    processor = CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=catalog)
    provider.add_span_processor(processor)
    return provider, memory, processor
