"""``genai-cost report`` on spans exported without genai-cost, when an inference span (a
framework's span returning a stream) ends before the inference span it wraps (the provider
SDK's, still reading the stream).

The live processor meets spans as they end: it prices the wrapper as the call (when it
carries usage or a cost) and marks the span below it, ending later, a second record of
that call (docs/how-it-works.md, "one call, two records"). The report used to treat any
inference span with a call below it as a wrapper and listed the span below instead: with
only the wrapper's usage (a stream), a call that would have been flagged ``missing_usage``
and its cost lost; with both, the cost on another span than the live one.

Each shape runs once through the real OpenTelemetry SDK, ``CostSpanProcessor`` and
``TraceCostExporter``; the exported spans are written as OTLP JSON, and a copy with every
``gen_ai.cost.*`` and ``gen_ai.trace.cost.*`` attribute taken out (spans from a process
without genai-cost) is read back by the report. What the report lists as ``NO COST
ATTRIBUTES``, priced as the processor prices a span, must be what the live roll-up priced:
the same spans, the same second records, the same total, calls and unpriced spans."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, set_span_in_context

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.demo import write_span_file
from genai_cost.pricer import SpanPricer
from genai_cost.pricing.catalog import Catalog
from genai_cost.report import report_traces
from genai_cost.span_file import read_span_file
from genai_cost.usage import read_span_usage
from support.spans import chat_attributes

CATALOG = Catalog.load()
PRICER = SpanPricer(CATALOG)
#: Span times are ticks of this many nanoseconds after BASE.
TICK, BASE = 1_000_000, 1_700_000_000_000_000_000
_USAGE_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


def chat(*, usage: bool = True, tokens: tuple[int, int] = (1000, 100)) -> dict[str, Any]:
    """A chat call's attributes, with token counts or without (a stream's span that never saw them)."""
    attributes = chat_attributes("gpt-4o", "openai", **dict(zip(_USAGE_KEYS, tokens, strict=True)))
    if not usage:
        for key in _USAGE_KEYS:
            del attributes[key]
    return attributes


@dataclass(frozen=True)
class Node:
    """A span under the trace's root (``parent`` None) or another node, started and ended
    at its ticks."""

    name: str
    parent: str | None
    start: int
    end: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    scope: str = "framework"
    kind: SpanKind = SpanKind.CLIENT


def export(nodes: Sequence[Node]) -> tuple[list[ReadableSpan], dict[str, str]]:
    """The nodes made by the real SDK under a root ``request`` span, through genai-cost's
    processor and roll-up, each started and ended at its time, in the order of the times;
    with the exported span ids (hex) -> node names."""
    events = sorted(
        [(node.start, 0, node) for node in nodes] + [(node.end, 1, node) for node in nodes],
        key=lambda event: event[:2],
    )
    ticks = [tick for tick, _, _ in events]
    assert len(set(ticks)) == len(ticks) and min(ticks) > 0, "two spans start or end at once"
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG))
    root = provider.get_tracer("app").start_span("request", start_time=BASE)
    live: dict[str, Span] = {}
    names = {f"{root.get_span_context().span_id:016x}": "request"}
    for tick, ending, node in events:
        if ending:
            live[node.name].end(end_time=BASE + tick * TICK)
            continue
        parent = root if node.parent is None else live[node.parent]
        span = provider.get_tracer(node.scope).start_span(
            node.name,
            context=set_span_in_context(parent),
            kind=node.kind,
            attributes=dict(node.attributes),
            start_time=BASE + tick * TICK,
        )
        live[node.name] = span
        names[f"{span.get_span_context().span_id:016x}"] = node.name
    root.end(end_time=BASE + (max(ticks) + 1) * TICK)
    provider.shutdown()
    return list(memory.get_finished_spans()), names


@dataclass(frozen=True)
class Outcome:
    """Where a trace's calls were taken: the spans that carry a call's cost (or say it could
    not be priced), the second records (second, first), and the trace's figures."""

    calls: frozenset[str]
    seconds: frozenset[tuple[str, str]]
    total_usd: float
    call_count: int
    unpriced: int


def live_outcome(spans: Sequence[ReadableSpan], names: Mapping[str, str], path: Path) -> Outcome:
    """What genai-cost did live, as the roll-up says on the root; the report on the exported
    file (with the cost attributes) must say the same."""
    calls, firsts, taken_by = set(), {}, {}
    totals: Mapping[str, Any] = {}
    for span in spans:
        attributes = span.attributes or {}
        name = names[f"{span.context.span_id:016x}"]
        for taken in str(attributes.get(A.COST_ACCOUNTS_FOR, "")).split(",") if A.COST_ACCOUNTS_FOR in attributes else ():
            taken_by[names[taken]] = name
        if A.COST_DUPLICATE_OF in attributes:
            firsts[name] = names[str(attributes[A.COST_DUPLICATE_OF])]
        elif A.COST_TOTAL in attributes or A.COST_UNPRICED in attributes:
            calls.add(name)
        if name == "request":
            totals = attributes
    seconds = set()
    for second, first in firsts.items():
        # A second record of a second record, or of a record whose call a later one took
        # over: the report names the one listed.
        while first in firsts or first in taken_by:
            first = firsts[first] if first in firsts else taken_by[first]
        seconds.add((second, first))
    outcome = Outcome(
        frozenset(calls),
        frozenset(seconds),
        float(totals.get(A.TRACE_TOTAL, 0.0)),
        int(totals.get(A.TRACE_LLM_CALLS, 0)),
        int(totals.get(A.TRACE_UNPRICED_SPANS, 0)),
    )
    write_span_file(spans, path)
    [report] = report_traces(read_span_file(path), catalog=CATALOG)
    assert report.total_usd == pytest.approx(outcome.total_usd, abs=1e-12)
    assert len(report.unpriced) == outcome.unpriced
    assert report.not_priced_here == []
    priced = sum(totals.calls for totals in report.by_entry.values())
    assert priced + len(report.unpriced) == outcome.call_count
    return outcome


_ALSO = re.compile(r"\(also recorded as span ([0-9a-f, ]+)\)")
_ACCOUNTS_FOR = re.compile(r"\(accounts for span ([0-9a-f, ]+)\)")


def write_stripped(spans: Sequence[ReadableSpan], path: Path, *, end_times: bool = True) -> Path:
    """The spans as OTLP JSON without genai-cost's attributes (and without their end times
    unless ``end_times``), as a process without genai-cost exports them."""
    write_span_file(spans, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                span["attributes"] = [
                    item
                    for item in span.get("attributes", [])
                    if not item["key"].startswith(("gen_ai.cost.", A.TRACE_PREFIX))
                ]
                if not end_times:
                    del span["endTimeUnixNano"]
    path.write_text(json.dumps(document) + "\n", encoding="utf-8")
    return path


def stripped_outcome(spans: Sequence[ReadableSpan], names: Mapping[str, str], path: Path) -> Outcome:
    """The report on the same spans with genai-cost's attributes taken out: the spans it
    lists as never priced, each priced as the processor prices a span."""
    exported = read_span_file(write_stripped(spans, path))
    assert not any(key.startswith("gen_ai.cost.") for span in exported for key in span.attributes)
    by_id = {span.span_id: span for span in exported}
    [report] = report_traces(exported, catalog=CATALOG)
    assert report.total_usd == 0 and report.unpriced == []
    calls, seconds = set(), set()
    total, unpriced = 0.0, 0
    for note in report.not_priced_here:
        calls.add(names[note.span_id])
        also = _ALSO.search(note.detail)
        for second in also.group(1).split(", ") if also else ():
            seconds.add((names[second], names[note.span_id]))
        # A record flagged as it ended whose call this one took over: live, it carries the
        # flag too, but the call counts once (on this span).
        accounts_for = _ACCOUNTS_FOR.search(note.detail)
        for taken in accounts_for.group(1).split(", ") if accounts_for else ():
            calls.add(names[taken])
        span = by_id[note.span_id]
        usage = read_span_usage(
            span.attributes, span.scope, client=span.kind == "client", dropped_attributes=span.dropped_attributes
        )
        cost = PRICER.price(usage, span.attributes, span.start_ns, span.end_ns)
        assert cost is not None
        if cost.priced and cost.total_usd is not None:
            total += cost.total_usd
        else:
            unpriced += 1
    return Outcome(frozenset(calls), frozenset(seconds), total, len(report.not_priced_here), unpriced)


def assert_report_agrees(nodes: Sequence[Node], directory: Path) -> Outcome:
    spans, names = export(nodes)
    live = live_outcome(spans, names, directory / "live.json")
    stripped = stripped_outcome(spans, names, directory / "stripped.json")
    assert stripped.calls == live.calls
    assert stripped.seconds == live.seconds
    assert (stripped.call_count, stripped.unpriced) == (live.call_count, live.unpriced)
    assert stripped.total_usd == pytest.approx(live.total_usd, abs=1e-12)
    return live


ONE_CALL = PRICER.price(read_span_usage(chat(), "framework", client=True, dropped_attributes=0), chat(), BASE)
assert ONE_CALL is not None and ONE_CALL.total_usd
ONE_CALL_USD = ONE_CALL.total_usd


# ------------------------------------------------------------------ the wrapper ends first


def test_a_wrapper_with_usage_ending_first_is_the_call_and_the_stream_below_its_second_record(
    tmp_path: Path,
) -> None:
    """(a) A framework's chat span with usage returns its stream (ends) before the SDK's
    span under it, which saw no usage: live, the wrapper is priced and the SDK's span is
    its second record. The report listed the SDK's span, which would be flagged
    ``missing_usage``: a call unpriced, its cost lost."""
    live = assert_report_agrees(
        [
            Node("wrapper", None, 1, 3, chat()),
            Node("sdk", "wrapper", 2, 4, chat(usage=False), scope="openai"),
        ],
        tmp_path,
    )
    assert live == Outcome(frozenset({"wrapper"}), frozenset({("sdk", "wrapper")}), ONE_CALL_USD, 1, 0)


def test_both_with_usage_the_wrapper_ending_first_carries_the_cost(tmp_path: Path) -> None:
    """(b) Both record the call's usage: the same total either way, but the cost is on the
    wrapper live, and the report must name that span, not the one below."""
    live = assert_report_agrees(
        [
            Node("wrapper", None, 1, 3, chat()),
            Node("sdk", "wrapper", 2, 4, chat(), scope="openai"),
        ],
        tmp_path,
    )
    assert live == Outcome(frozenset({"wrapper"}), frozenset({("sdk", "wrapper")}), ONE_CALL_USD, 1, 0)


@pytest.mark.parametrize("middleware", [1, 3, 4])
def test_a_wrapper_is_found_above_middleware_spans_still_open_as_deep_as_the_processor_looks(
    tmp_path: Path, middleware: int
) -> None:
    """(c) Retry or middleware spans between the wrapper and the SDK's span, still open
    when the SDK's span ends: the processor looks up through them, four levels up from the
    call (three middleware spans); past that it does not find the wrapper and prices both."""
    nodes = [Node("wrapper", None, 1, 3 + middleware, chat())]
    parent = "wrapper"
    for n in range(middleware):  # each starts under the one before, and ends after the call
        nodes.append(Node(f"middleware{n}", parent, 2 + n, 100 - n, scope="framework", kind=SpanKind.INTERNAL))
        parent = f"middleware{n}"
    nodes.append(Node("sdk", parent, 2 + middleware, 50, chat(), scope="openai"))
    live = assert_report_agrees(nodes, tmp_path)
    if middleware <= 3:
        assert live == Outcome(frozenset({"wrapper"}), frozenset({("sdk", "wrapper")}), ONE_CALL_USD, 1, 0)
    else:
        assert live.calls == {"wrapper", "sdk"} and live.seconds == set()


def test_a_middleware_span_that_ended_before_the_call_hides_the_wrapper(tmp_path: Path) -> None:
    """The processor looks up through spans still open only: under a middleware span that
    ended before it, the SDK's span is priced, and so is the wrapper, whose call below had
    not reached it when it ended. The report says what the processor did."""
    live = assert_report_agrees(
        [
            Node("wrapper", None, 1, 4, chat()),
            Node("middleware", "wrapper", 2, 5, kind=SpanKind.INTERNAL),
            Node("sdk", "middleware", 3, 6, chat(), scope="openai"),
        ],
        tmp_path,
    )
    assert live.calls == {"wrapper", "sdk"} and live.seconds == set()


def test_a_wrapper_without_usage_ending_first_is_flagged_and_the_call_below_priced(tmp_path: Path) -> None:
    """A wrapper that ended first with no usage cannot stand for the call: live, it is
    flagged ``missing_usage`` as it ends and the SDK's span is priced, and takes over the
    call the wrapper counted (``gen_ai.cost.accounts_for``): one call, none unpriced. The
    report took the wrapper for an aggregate and did not list it; then counted it."""
    live = assert_report_agrees(
        [
            Node("wrapper", None, 1, 3, chat(usage=False)),
            Node("sdk", "wrapper", 2, 4, chat(), scope="openai"),
        ],
        tmp_path,
    )
    assert live == Outcome(frozenset({"wrapper", "sdk"}), frozenset(), ONE_CALL_USD, 1, 0)


def test_neither_record_with_usage_the_later_takes_the_call_over_still_unpriced(tmp_path: Path) -> None:
    """Both records of a streamed call without usage, the wrapper ending first: both are
    flagged, and the call counts once, unpriced, on the SDK's span."""
    live = assert_report_agrees(
        [
            Node("wrapper", None, 1, 3, chat(usage=False)),
            Node("sdk", "wrapper", 2, 4, chat(usage=False), scope="openai"),
        ],
        tmp_path,
    )
    assert live == Outcome(frozenset({"wrapper", "sdk"}), frozenset(), 0.0, 1, 1)


def test_a_refused_attempt_taken_back_by_the_call_s_span_is_not_listed_unpriced(tmp_path: Path) -> None:
    """On a file genai-cost priced, a refused attempt inside a framework's span of the call
    keeps its ``failed_call`` flag, and the call's span names it in
    ``gen_ai.cost.accounts_for``: the report counts the call once, as the roll-up does, and
    does not list the refusal among the unpriced spans."""
    refused = {**chat(usage=False), "error.type": "RateLimitError"}
    spans, names = export(
        [
            Node("call", None, 1, 6, chat(usage=False)),
            Node("refused", "call", 2, 3, refused, scope="openai"),
            Node("retry", "call", 4, 5, chat(), scope="openai"),
        ]
    )
    by_name = {names[f"{span.context.span_id:016x}"]: span for span in spans}
    assert by_name["refused"].attributes[A.COST_UNPRICED_REASON] == A.REASON_FAILED_CALL
    assert by_name["call"].attributes[A.COST_ACCOUNTS_FOR] == f"{by_name['refused'].context.span_id:016x}"
    live = live_outcome(spans, names, tmp_path / "live.json")
    assert (live.call_count, live.unpriced) == (1, 0)
    [report] = report_traces(read_span_file(tmp_path / "live.json"), catalog=CATALOG)
    assert report.unpriced == [] and report.total_usd == pytest.approx(ONE_CALL_USD)


def test_without_end_times_the_spans_are_taken_as_nested(tmp_path: Path) -> None:
    """A file whose spans carry no end time cannot say which ended first: the wrapper is
    taken for an aggregate over the call below it, as nested spans end (the report's
    reading before it ordered spans)."""
    spans, names = export(
        [
            Node("wrapper", None, 1, 3, chat()),
            Node("sdk", "wrapper", 2, 4, chat(usage=False), scope="openai"),
        ]
    )
    path = write_stripped(spans, tmp_path / "no-times.json", end_times=False)
    exported = read_span_file(path)
    assert all(span.end_ns is None for span in exported)
    [report] = report_traces(exported, catalog=CATALOG)
    assert [(names[note.span_id], note.detail) for note in report.not_priced_here] == [("sdk", "openai gpt-4o")]


# ------------------------------------------------------------------ nested spans ending in order


@pytest.mark.parametrize("wrapper_usage", [True, False], ids=["wrapper-usage", "wrapper-no-usage"])
@pytest.mark.parametrize("sdk_usage", [True, False], ids=["sdk-usage", "sdk-no-usage"])
def test_the_call_below_ending_first_is_the_call_as_before(
    tmp_path: Path, wrapper_usage: bool, sdk_usage: bool
) -> None:
    """(d) The usual order, the SDK's span ending inside the wrapper: the wrapper is an
    aggregate, the SDK's span the call (flagged ``missing_usage`` without counts)."""
    live = assert_report_agrees(
        [
            Node("wrapper", None, 1, 4, chat(usage=wrapper_usage)),
            Node("sdk", "wrapper", 2, 3, chat(usage=sdk_usage), scope="openai"),
        ],
        tmp_path,
    )
    assert live.calls == {"sdk"} and live.seconds == set()
    assert live.unpriced == (0 if sdk_usage else 1)


# ------------------------------------------------------------------ any nesting, any end order


@st.composite
def shapes(draw: st.DrawFn) -> list[Node]:
    """Two or three inference spans (and perhaps a middleware span), each under the root or
    an earlier one, with or without usage and a response id, from one of two
    instrumentations, started in turn (a parent before its children) and ended in any order."""
    count = draw(st.integers(2, 3))
    middleware = draw(st.booleans())
    kinds = ["call"] * count + (["middleware"] if middleware else [])
    kinds = draw(st.permutations(kinds))
    ends = draw(st.permutations(range(len(kinds))))
    nodes: list[Node] = []
    for index, kind in enumerate(kinds):
        parent = draw(st.sampled_from([None, *(node.name for node in nodes)]))
        end = len(kinds) + 1 + ends[index]
        if kind == "middleware":
            nodes.append(Node(f"m{index}", parent, index + 1, end, kind=SpanKind.INTERNAL))
            continue
        usage = draw(st.sampled_from([None, (1000, 100), (2000, 300)]))
        attributes = chat(usage=usage is not None, tokens=usage or (1000, 100))
        if draw(st.booleans()):
            attributes["gen_ai.response.id"] = "chatcmpl-1"
        scope = draw(st.sampled_from(["framework", "openai"]))
        nodes.append(Node(f"c{index}", parent, index + 1, end, attributes, scope=scope))
    return nodes


@settings(max_examples=300, deadline=None)
@given(nodes=shapes())
def test_any_nesting_and_end_order_is_reported_as_the_processor_priced_it(
    tmp_path_factory: pytest.TempPathFactory, nodes: list[Node]
) -> None:
    """(e) The report on the stripped file lists the spans the processor priced (or
    flagged), names the second records it marked, and adds up to the roll-up's total."""
    assert_report_agrees(nodes, tmp_path_factory.mktemp("shape"))
