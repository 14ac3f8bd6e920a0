"""``genai-cost report`` on a trace whose root is not in the input: an agent killed mid-trace
(SIGKILL, out of memory, a pod evicted) exports the spans that ended, never its root. The
report took the first of its children for the root: its start and duration, and ``complete``.
Now it says the root is missing and counts the trace incomplete; a service's trace, whose
local root has a parent in another process, is not mistaken for one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.cli import main
from genai_cost.demo import write_span_file
from support.spans import chat_attributes


def _pipeline(priced: bool) -> tuple[trace.Tracer, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    if priced:
        provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory))))
    else:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider.get_tracer("agent"), memory


def _killed_agent(priced: bool, steps: int = 3) -> tuple[list[ReadableSpan], int]:
    """The spans a killed agent exported, and its root's span id."""
    tracer, memory = _pipeline(priced)
    root = tracer.start_span("invoke_agent research", attributes={"gen_ai.operation.name": "invoke_agent"})
    with trace.use_span(root, end_on_exit=False):
        for step in range(steps):
            with tracer.start_as_current_span(f"step {step}"):
                with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
                    pass
    return list(memory.get_finished_spans()), root.get_span_context().span_id  # the root never ends


def _report(tmp_path: Path, spans: list[ReadableSpan], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "spans.json"
    write_span_file(spans, path)
    code = main(["report", str(path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert main(["report", str(path)]) == code
    return code, out, capsys.readouterr().out


@pytest.mark.parametrize("priced", [True, False], ids=["priced-in-process", "never-priced"])
def test_a_killed_agent_s_trace_says_its_root_is_missing(tmp_path: Path, capsys, priced: bool) -> None:  # type: ignore[no-untyped-def]
    spans, root_id = _killed_agent(priced)
    code, report, text = _report(tmp_path, spans, capsys)
    assert code == 0
    (shown,) = report["shown"]
    assert shown["root_missing"] == f"{root_id:016x}"
    assert shown["complete"] is False
    assert shown["start"] is None and shown["duration_s"] is None  # not a child's
    if priced:
        assert shown["total_usd"] == pytest.approx(3 * 0.0035)  # what ended still counts
    else:
        assert len(shown["not_priced_here"]) == 3
    assert report["incomplete_traces"] == [shown["trace_id"]]
    assert f"its root, span {root_id:016x}, is not in the input" in text


def test_one_step_of_a_killed_agent_priced_in_process_is_told_too(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A single orphan: told by the roll-up's totals missing from every local root."""
    spans, root_id = _killed_agent(True, steps=1)
    _, report, _ = _report(tmp_path, spans, capsys)
    assert report["shown"][0]["root_missing"] == f"{root_id:016x}"


def _service_requests(requests: int) -> list[ReadableSpan]:
    """A service's spans, priced: ``requests`` requests it received from one remote caller's
    span, each making one call."""
    tracer, memory = _pipeline(True)
    caller = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    for _ in range(requests):
        with tracer.start_as_current_span("POST /answer", context=trace.set_span_in_context(NonRecordingSpan(caller))):
            with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
                pass
    return list(memory.get_finished_spans())


def test_a_service_s_part_of_a_distributed_trace_is_not_missing_its_root(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, report, text = _report(tmp_path, _service_requests(1), capsys)
    (shown,) = report["shown"]
    assert (code, shown["root_missing"], shown["complete"]) == (0, None, True)
    assert shown["root_name"] == "POST /answer" and shown["duration_s"] is not None
    assert "not in the input" not in text


def test_two_requests_of_one_caller_are_a_service_s_part_not_a_missing_root(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A retry or a fan-out inside one caller's span: two local roots of this service under
    one remote parent, each with its totals (a distributed-trace audit: the report said the
    root was missing and the trace incomplete). Several orphans without totals still are."""
    code, report, text = _report(tmp_path, _service_requests(2), capsys)
    (shown,) = report["shown"]
    assert (code, shown["root_missing"], shown["complete"]) == (0, None, True)
    assert shown["total_usd"] == pytest.approx(2 * 0.0035)
    assert report["incomplete_traces"] == [] and "not in the input" not in text


def test_a_trace_of_several_local_roots_is_named_by_the_first_to_start(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """It was named by the root first in alphabetical order: a later request, of another
    service perhaps, with that request's start and duration (a consistency audit)."""
    tracer, memory = _pipeline(True)
    caller = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    for name in ("POST /turn1", "POST /turn2", "POST /a-tool"):
        with tracer.start_as_current_span(name, context=trace.set_span_in_context(NonRecordingSpan(caller))):
            with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
                pass
    spans = list(memory.get_finished_spans())
    first = next(span for span in spans if span.name == "POST /turn1")
    _, report, _ = _report(tmp_path, spans, capsys)
    (shown,) = report["shown"]
    assert shown["root_name"] == "POST /turn1"
    assert shown["duration_s"] == round((first.end_time - first.start_time) / 1e9, 6)
    assert shown["total_usd"] == pytest.approx(3 * 0.0035)


def test_a_single_unpriced_orphan_is_not_judged(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Spans no genai-cost priced, one below a parent not here: a service's root or a step
    of a killed agent alike; the report does not guess."""
    spans, _ = _killed_agent(False, steps=1)
    _, report, _ = _report(tmp_path, spans, capsys)
    assert report["shown"][0]["root_missing"] is None


def test_the_priced_record_of_a_span_counts_whichever_file_comes_first(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The same spans as exported by a pipeline with genai-cost and by one without (the
    priced file with genai-cost's attributes taken out)."""
    tracer, priced = _pipeline(True)
    with tracer.start_as_current_span("agent"):
        with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-4o", "openai")):
            pass
    write_span_file(list(priced.get_finished_spans()), tmp_path / "priced.json")
    document = json.loads((tmp_path / "priced.json").read_text())
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                span["attributes"] = [a for a in span["attributes"] if not a["key"].startswith(("gen_ai.cost.", "gen_ai.trace.cost."))]
    (tmp_path / "raw.json").write_text(json.dumps(document))
    for order in (["priced.json", "raw.json"], ["raw.json", "priced.json"]):
        assert main(["report", "--json", *(str(tmp_path / name) for name in order)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["total_usd"] == pytest.approx(0.0035), order
        assert report["not_priced_here_spans"] == 0 and report["duplicates_ignored"] == 2
