"""A streamed call recorded by OpenLIT and by another instrumentation of the same SDK, as they
really write (captured with groq 1.7.0, OpenLLMetry's opentelemetry-instrumentation-groq
0.62.4 and openlit 1.45.0 at once).

OpenLIT starts a span for the stream that it never ends, and records the call on a second
span, started once the stream has been read, under what was current before the call. The
other instrumentation's record of the call (OpenLLMetry's, under OpenLIT's first span) ended
just before it. Neither record is below the other, and they do not overlap in time, so both
were priced: the trace-wide totals said 2 calls and twice the cost, and, since calls that ended
under a span left open are now in the root's totals, the root would have said so too. OpenLIT's
record of a stream is now the second record of a call with the same model and counts that
ended in its trace just before it started (``docs/attributes.md``, "Records that are not nested").
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter
from support.capture import replay_in_time
from support.frameworks import framework_spans

#: Groq's moonshotai/kimi-k2-instruct-0905, $1.00 / $0.50 cached / $3.00 per million tokens:
#: 600 fresh and 400 cached input tokens, 200 output tokens.
KIMI_CALL = 600 * 1.00e-6 + 400 * 0.50e-6 + 200 * 3.00e-6
OPENLLMETRY = "opentelemetry.instrumentation.groq"
OPENLIT = "openlit.instrumentation.groq"


@pytest.fixture(autouse=True)
def openlit_imported(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """OpenLIT's records are matched this way only while it is imported (as in the app that
    wrote these spans); this venv does not have it installed."""
    monkeypatch.setitem(sys.modules, "openlit", ModuleType("openlit"))
    yield


def run(*, batch: bool, spans: list[dict[str, Any]] | None = None) -> tuple[list[ReadableSpan], TraceCostExporter]:
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory)
    provider = TracerProvider()
    downstream = BatchSpanProcessor(rollup, schedule_delay_millis=60_000) if batch else SimpleSpanProcessor(rollup)
    provider.add_span_processor(CostSpanProcessor(downstream))
    if spans is None:
        spans = framework_spans("groq-openllmetry-openlit-stream")
    result = replay_in_time(spans, provider, memory)
    provider.force_flush()
    return result.spans, rollup


def by_scope(spans: list[ReadableSpan], scope: str) -> ReadableSpan:
    (found,) = [
        span for span in spans if span.instrumentation_scope is not None and span.instrumentation_scope.name == scope
        and span.attributes and "gen_ai.usage.input_tokens" in span.attributes
    ]
    return found


@pytest.mark.parametrize("batch", [False, True], ids=["simple", "batch"])
def test_openlits_record_of_a_stream_is_the_second_record_of_the_call_that_ended_before_it(batch: bool) -> None:
    spans, rollup = run(batch=batch)
    first = by_scope(spans, OPENLLMETRY)
    second = by_scope(spans, OPENLIT)
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["gen_ai.cost.total_usd"] == pytest.approx(KIMI_CALL)
    assert first.attributes["gen_ai.cost.pricing.id"] == "groq/moonshotai/kimi-k2-instruct"
    assert second.attributes["gen_ai.cost.duplicate_of"] == f"{first.context.span_id:016x}"
    assert "gen_ai.cost.total_usd" not in second.attributes
    (root,) = [span for span in spans if span.parent is None]
    assert root.attributes is not None
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(KIMI_CALL)
    assert root.attributes["gen_ai.trace.cost.llm_calls"] == 1
    assert root.attributes["gen_ai.trace.cost.complete"] is False  # OpenLIT's first span is still open
    totals = rollup.totals(root.context.trace_id)
    assert totals is not None
    assert (totals.total_usd, totals.llm_calls, totals.cache_read_tokens) == (pytest.approx(KIMI_CALL), 1, 400)


def test_a_second_stream_with_the_same_counts_later_in_the_trace_is_a_call_of_its_own() -> None:
    """Two identical streamed calls one after the other: each OpenLIT record is the second
    record of the call that ended just before it, not of the first call again."""
    spans = framework_spans("groq-openllmetry-openlit-stream")
    root = next(span for span in spans if span["parent_span_id"] is None)
    shift = root["end_ns"] + 1_000_000
    again = []
    for span in spans:
        if span is root or span["scope"] == "opentelemetry.instrumentation.urllib":
            continue
        copy = dict(span, start_ns=span["start_ns"] + shift, end_ns=span["end_ns"] + shift)
        copy["span_id"] = "f" + span["span_id"][1:]
        if span["parent_span_id"] != root["span_id"]:
            copy["parent_span_id"] = "f" + span["parent_span_id"][1:]
        again.append(copy)
    longer_root = dict(root, end_ns=root["end_ns"] + shift)
    replayed, rollup = run(batch=False, spans=[longer_root if span is root else span for span in spans] + again)
    openlit = [
        span for span in replayed
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == OPENLIT
        and span.attributes and "gen_ai.usage.input_tokens" in span.attributes
    ]
    firsts = {span.attributes["gen_ai.cost.duplicate_of"] for span in openlit if span.attributes}
    assert len(openlit) == 2 and len(firsts) == 2
    totals = rollup.totals(replayed[0].context.trace_id)
    assert totals is not None
    assert (totals.total_usd, totals.llm_calls) == (pytest.approx(2 * KIMI_CALL), 2)


def test_openlits_record_of_a_stream_alone_is_priced() -> None:
    """With no other instrumentation of the SDK, OpenLIT's record is the call's only one."""
    spans = [span for span in framework_spans("groq-openllmetry-openlit-stream") if span["scope"] != OPENLLMETRY]
    replayed, rollup = run(batch=False, spans=spans)
    record = by_scope(replayed, OPENLIT)
    assert record.attributes is not None
    assert record.attributes["gen_ai.cost.total_usd"] == pytest.approx(KIMI_CALL)
    totals = rollup.totals(record.context.trace_id)
    assert totals is not None and totals.llm_calls == 1
