"""``genai-cost report --what-if FROM=TO``: the calls of one catalog entry priced again with
another, from the token counts on their spans (the seeds' "42% of summarize calls could use
gpt-4o-mini"). Spans priced by the real processor, written and read back by the command;
expected figures from the published rates, by hand."""

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
from genai_cost.demo import write_span_file

M = 1e6


def _file(path: Path, calls: list[dict[str, Any]]) -> Path:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory))))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent task", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for call in calls:
            attributes = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", **call}
            tracer.start_span("chat", attributes=attributes).end()
    provider.force_flush()
    write_span_file(memory.get_finished_spans(), path)
    provider.shutdown()
    return path


def test_the_demo_on_gpt_4o_mini(tmp_path: Path, capsys: Any) -> None:
    demo = tmp_path / "demo.json"
    assert main(["demo", "--save", str(demo)]) == 0
    capsys.readouterr()
    assert main(["report", str(demo), "--what-if", "openai/gpt-4o=openai/gpt-4o-mini", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # The article's ten steps: 38,800 tokens in, 3,200 out, none cached; $0.129 on gpt-4o.
    mini = 38_800 * 0.15 / M + 3_200 * 0.60 / M
    expected = {"to": "openai/gpt-4o-mini", "calls": 10, "usd": 0.129, "alternative_usd": pytest.approx(mini),
                "not_repriced": 0}
    assert document["what_if"] == {"openai/gpt-4o": expected}
    assert document["shown"][0]["what_if"] == {"openai/gpt-4o": expected}
    assert main(["report", str(demo), "--what-if", "openai/gpt-4o=openai/gpt-4o-mini"]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = f"what if openai/gpt-4o were openai/gpt-4o-mini: 10 call(s) $0.129000 -> ${mini:.6f} (-94.0%)"
    assert lines[1] == summary
    assert "  " + summary in lines


def test_cache_reads_are_priced_at_the_other_models_cache_rate(tmp_path: Path, capsys: Any) -> None:
    path = _file(
        tmp_path / "spans.json",
        [
            {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.cache_read.input_tokens": 400,
                "gen_ai.usage.output_tokens": 200,
            },
            # A call with a cost of its own and no token counts is no call of the entry
            # (`openai/gpt-4o (span cost)`): nothing to price again.
            {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": 0.5},
            {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 1},
        ],
    )
    assert main(["report", str(path), "--what-if", "openai/gpt-4o=anthropic/claude-haiku-4-5", "--json"]) == 0
    (repriced,) = json.loads(capsys.readouterr().out)["what_if"].values()
    gpt_4o = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M
    haiku = (600 * 1.00 + 400 * 0.10 + 200 * 5.00) / M  # pricing/anthropic.yaml
    assert repriced == {"to": "anthropic/claude-haiku-4-5", "calls": 1, "usd": pytest.approx(gpt_4o),
                        "alternative_usd": pytest.approx(haiku), "not_repriced": 0}


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("openai/gpt-4o", "give FROM=TO"),
        ("=openai/gpt-4o", "give FROM=TO"),
        ("openai/gpt-4o=openai/gpt4o-mini", "no catalog entry 'openai/gpt4o-mini' (did you mean openai/gpt-4o-mini"),
        ("openaii/gpt-4o=openai/gpt-4o-mini", "no catalog entry 'openaii/gpt-4o' (did you mean openai/gpt-4o"),
    ],
)
def test_a_what_if_that_names_no_entry_exits_2_and_says_why(
    tmp_path: Path, capsys: Any, given: str, said: str
) -> None:
    path = _file(tmp_path / "spans.json", [])
    assert main(["report", str(path), "--what-if", given]) == 2
    captured = capsys.readouterr()
    assert said in captured.err
    assert captured.out == ""


def test_an_entry_with_no_calls_is_said(tmp_path: Path, capsys: Any) -> None:
    path = _file(tmp_path / "spans.json", [{"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10}])
    assert main(["report", str(path), "--what-if", "openai/gpt-4o=openai/gpt-4o-mini"]) == 0
    captured = capsys.readouterr()
    assert "--what-if openai/gpt-4o=openai/gpt-4o-mini: no call of openai/gpt-4o in the traces reported" in captured.err
    assert "what if" not in captured.out
