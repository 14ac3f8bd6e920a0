"""How the cost per trace (and per conversation) spreads, in ``genai-cost report``: the
seeds' dashboard wants the P50 / P90 / P99 of cost per task and every task costing over
twice the median flagged. Spans priced by the real processor in the OpenTelemetry SDK,
written as OTLP JSON as the demo writes them, read back by the command."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.cli import main
from genai_cost.cost_spread import cost_spread
from genai_cost.demo import write_span_file

M = 1e6
GPT_4O_MINI_IN, GPT_4O_MINI_OUT = 0.15 / M, 0.60 / M  # pricing/openai.yaml


def _write(path: Path, tasks: list[dict[str, Any]]) -> list[str]:
    """One trace per task (``calls`` gpt-4o-mini calls of 1,000 in, 100 out; ``unknown``
    adds a call of a model no catalog knows); their trace ids, in order."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory))))
    tracer = provider.get_tracer("agent")
    ids = []
    for task in tasks:
        attributes: dict[str, Any] = {"gen_ai.operation.name": "invoke_agent"}
        if "conversation" in task:
            attributes["gen_ai.conversation.id"] = task["conversation"]
        with tracer.start_as_current_span("invoke_agent task", attributes=attributes) as agent:
            ids.append(f"{agent.get_span_context().trace_id:032x}")
            models = ["gpt-4o-mini"] * task["calls"] + (["no-such-model-9"] if task.get("unknown") else [])
            for model in models:
                chat = {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": model,
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 100,
                }
                tracer.start_span(f"chat {model}", attributes=chat).end()
    provider.force_flush()
    write_span_file(memory.get_finished_spans(), path)
    provider.shutdown()
    return ids


CALL = 1000 * GPT_4O_MINI_IN + 100 * GPT_4O_MINI_OUT


def test_the_runaway_task_is_flagged_and_the_unpriced_one_left_out(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "spans.json"
    # Four ordinary tasks of 2-3 calls, a runaway of 12, and one with a call of an unknown
    # model: its $ is a part of its cost, so it takes no part in the spread.
    ids = _write(path, [{"calls": 2}, {"calls": 3}, {"calls": 2}, {"calls": 3}, {"calls": 12}, {"calls": 0, "unknown": True}])
    assert main(["report", str(path), "--top", "0"]) == 0
    out = capsys.readouterr().out
    line = out.splitlines()[1]
    # Nearest rank over [2, 2, 3, 3, 12] calls: median 3, p90 and p99 the 5th (12).
    assert line == (
        f"cost per trace, 5 fully priced: median ${3 * CALL:.4f}, p90 ${12 * CALL:.4f},"
        f" p99 ${12 * CALL:.4f}, max ${12 * CALL:.4f}; 1 over twice the median"
    )
    (runaway,) = [row for row in out.splitlines() if row.startswith(f"trace {ids[4]}")]
    assert runaway.endswith("(4.0x the median)")
    assert [row for row in out.splitlines() if "x the median)" in row] == [runaway]

    assert main(["report", str(path), "--json"]) == 0
    spread = json.loads(capsys.readouterr().out)["per_trace"]
    assert spread["count"] == 5
    assert spread["median_usd"] == pytest.approx(3 * CALL)
    assert spread["p90_usd"] == spread["max_usd"] == pytest.approx(12 * CALL)
    assert spread["over_twice_median"] == [ids[4]]


def test_one_trace_has_no_spread(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "spans.json"
    _write(path, [{"calls": 2}, {"calls": 0, "unknown": True}])
    assert main(["report", str(path)]) == 0
    assert "cost per trace" not in capsys.readouterr().out
    assert main(["report", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["per_trace"] is None


def test_conversations_spread_too(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "spans.json"
    tasks = [
        {"calls": 1, "conversation": "a"},
        {"calls": 1, "conversation": "a"},
        {"calls": 2, "conversation": "b"},
        {"calls": 2, "conversation": "c"},
        {"calls": 9, "conversation": "d"},
        {"calls": 1, "conversation": "e"},
        {"calls": 0, "unknown": True, "conversation": "e"},
    ]
    _write(path, tasks)
    assert main(["report", str(path), "--by", "conversation", "--top", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == (
        f"cost per conversation, 4 fully priced: median ${2 * CALL:.4f}, p90 ${9 * CALL:.4f},"
        f" p99 ${9 * CALL:.4f}, max ${9 * CALL:.4f}; 1 over twice the median"
    )
    assert [row.split()[1] for row in out if row.endswith("(4.5x the median)")] == ["'d'"]
    assert main(["report", str(path), "--by", "conversation", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["per_conversation"]["over_twice_median"] == ["d"]
    assert document["per_trace"]["count"] == 6


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=2, max_size=200))
def test_the_spread_is_ordered_and_flags_exactly_what_costs_over_twice_the_median(costs: list[float]) -> None:
    items = [(f"t{index}", usd) for index, usd in enumerate(costs)]
    spread = cost_spread(items)
    assert spread is not None
    ordered = sorted(costs)
    assert spread.count == len(costs)
    assert spread.median_usd == statistics.median(costs)
    assert ordered[0] <= spread.median_usd <= spread.p90_usd <= spread.p99_usd <= spread.max_usd == ordered[-1]
    assert spread.p90_usd in costs and spread.p99_usd in costs
    # Nearest rank: at least 90% of the costs are at or below p90, and fewer below it.
    assert sum(usd <= spread.p90_usd for usd in costs) >= math.ceil(0.9 * len(costs))
    assert sum(usd < spread.p90_usd for usd in costs) < math.ceil(0.9 * len(costs))
    flagged = {key for key, usd in items if spread.median_usd > 0 and usd > 2 * spread.median_usd}
    assert set(spread.over_twice_median) == flagged
    shown = [dict(items)[key] for key in spread.over_twice_median]
    assert shown == sorted(shown, reverse=True)


def test_fewer_than_two_costs_have_no_spread() -> None:
    assert cost_spread([]) is None
    assert cost_spread([("t", 1.0)]) is None
