"""A model name matched by an entry's rule, not by a name it lists, says so on the span.

``claude-opus-4-1-fast`` is no name any source lists; genai-prices' prefix rule
``claude-opus-4-1`` prices it as Opus 4.1. That may be the right price or a low one
(a faster variant costs more), so the span carries ``gen_ai.cost.pricing.match`` and the
user can find every such span (docs/limitations.md, "A variant's name...")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost.pricing import Catalog
from support.spans import chat_attributes

CATALOG = Catalog.load()
BIN = str(Path(sys.executable).parent / "genai-cost")
MATCH = "gen_ai.cost.pricing.match"


def _priced(attributes: dict[str, object], settings: CostSettings | None = None) -> dict[str, object]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG, settings=settings or CostSettings()
        )
    )
    with provider.get_tracer("test").start_as_current_span("chat", attributes=attributes):
        pass
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return dict(span.attributes or {})


@pytest.mark.parametrize(
    ("model", "provider", "entry", "match"),
    [
        ("claude-opus-4-1-fast", "anthropic", "anthropic/claude-opus-4-1", "prefix"),
        ("amazon.nova-pro-v2:0", "aws.bedrock", "aws-bedrock/amazon.nova-pro-v1:0", "pattern"),
        # no provider on the span: matched across providers, still by a rule
        ("claude-opus-4-1-fast", None, "anthropic/claude-opus-4-1", "prefix"),
    ],
)
def test_a_name_matched_by_a_rule_says_which_rule(model: str, provider: str | None, entry: str, match: str) -> None:
    attributes = chat_attributes(model, provider or "")
    if provider is None:
        del attributes["gen_ai.provider.name"]
    attrs = _priced(attributes)
    assert attrs["gen_ai.cost.pricing.id"] == entry
    assert attrs[MATCH] == match
    assert attrs["gen_ai.cost.total_usd"] > 0  # still priced: the attribute is a warning, not a refusal


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-opus-4-1", "anthropic"),
        ("gpt-4o-2024-08-06", "openai"),  # a dated snapshot of a listed name is the name
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "openai"),  # a fine-tuned id of one too
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "aws.bedrock"),
    ],
)
def test_a_listed_name_carries_no_match_attribute(model: str, provider: str) -> None:
    attrs = _priced(chat_attributes(model, provider))
    assert attrs["gen_ai.cost.total_usd"] > 0
    assert MATCH not in attrs


def test_a_span_carried_cost_with_a_loose_catalog_match_keeps_the_match() -> None:
    """With the span's own cost preferred, the catalog's figure beside it names its entry,
    and how loosely that entry matched."""
    attributes = chat_attributes("claude-opus-4-1-fast", "anthropic", **{"llm.cost.total": 0.5})
    attrs = _priced(attributes, CostSettings(reported_cost="prefer"))
    assert attrs["gen_ai.cost.source"] == "span"
    assert attrs["gen_ai.cost.pricing.id"] == "anthropic/claude-opus-4-1"
    assert attrs[MATCH] == "prefix"


def test_price_command_says_the_match_was_loose() -> None:
    args = ["price", "--provider", "anthropic", "--input-tokens", "1000", "--output-tokens", "100"]
    loose = subprocess.run([BIN, *args, "--model", "claude-opus-4-1-fast"], capture_output=True, text=True, timeout=60)
    assert loose.returncode == 0, loose.stderr
    assert "matched by prefix, not by name" in loose.stdout
    listed = subprocess.run([BIN, *args, "--model", "claude-opus-4-1", "--json"], capture_output=True, text=True, timeout=60)
    assert "match" not in json.loads(listed.stdout)
    as_json = subprocess.run(
        [BIN, *args, "--model", "claude-opus-4-1-fast", "--json"], capture_output=True, text=True, timeout=60
    )
    assert json.loads(as_json.stdout)["match"] == "prefix"
