"""``genai-cost report`` applies the processor's rules for one call recorded twice
(docs/attributes.md, "One call, two records"): by response id, for sibling records with no
response id (the same model as the catalog knows it, the same counts, different
instrumentations, overlapping in time; a provider SDK's span under a Logfire stream
request), and Google ADK 1.x's pair of records (``call_llm`` around ``generate_content``).

Each shape runs twice through the real SDK: through ``CostSpanProcessor`` (what it prices,
and what it marks ``gen_ai.cost.duplicate_of``), and without genai-cost, written as OTLP
JSON and read back by the report, which must list as ``NO COST ATTRIBUTES`` exactly the
calls the processor priced, and name the same second records. The shapes are the recorded
fixtures (tests/fixtures/spans), with times given to them (the fixtures have none)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, set_span_in_context

import genai_cost.processor as processor_module
import genai_cost.records as records_module
from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.cli import main
from genai_cost.demo import write_span_file
from genai_cost.pricing.catalog import Catalog
from genai_cost.report import report_traces
from genai_cost.span_file import read_span_file
from support.capture import FIXTURES, adk_1_sub_agent_spans
from test_report import _jaeger_ui

CATALOG = Catalog.load()
#: Fixture span times are ticks of this many nanoseconds after BASE.
TICK, BASE = 1_000_000, 1_700_000_000_000_000_000

FixtureSpans = list[dict[str, Any]]
Times = Mapping[str, tuple[int, int]]


def fixture(name: str) -> FixtureSpans:
    spans: FixtureSpans = json.loads((FIXTURES / f"{name}.json").read_text())["spans"]
    return spans


@dataclass
class Run:
    spans: list[ReadableSpan]
    #: span id as exported (hex) -> the fixture's span id
    fixture_id: dict[str, str]


def run(spans: FixtureSpans, *, with_cost: bool, times: Times | None = None) -> Run:
    """The fixture's spans made by the real SDK (same tree, names, scopes and versions,
    kinds, attributes), through genai-cost's processor and roll-up or without them. Each
    span starts and ends at its ``times`` (in ticks), else as a tree walked in order: a span
    starts, its children run one after the other, then it ends. Spans start and end in the
    order of their times, as they would in an application."""
    ids = {span["span_id"] for span in spans}
    by_id = {span["span_id"]: span for span in spans}
    children: dict[str | None, FixtureSpans] = {}
    for span in spans:
        children.setdefault(span["parent_span_id"] if span["parent_span_id"] in ids else None, []).append(span)
    when: dict[str, tuple[int, int]] = {}
    clock = iter(range(1, 10_000))

    def walk(span: dict[str, Any]) -> None:
        start = next(clock)
        for child in children.get(span["span_id"], []):
            walk(child)
        when[span["span_id"]] = (start, next(clock))

    for root in children.get(None, []):
        walk(root)
    when.update(times or {})
    events = sorted([(start, 0, span_id) for span_id, (start, _) in when.items()]
                    + [(end, 1, span_id) for span_id, (_, end) in when.items()])
    assert len({tick for tick, _, _ in events}) == len(events), "two spans start or end at once"

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    if with_cost:
        provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=CATALOG))
    else:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    live: dict[str, Span] = {}
    names: dict[str, str] = {}
    for tick, kind, span_id in events:
        if kind == 1:
            live[span_id].end(end_time=BASE + tick * TICK)
            continue
        span = by_id[span_id]
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        tracer = provider.get_tracer(span.get("scope") or "fixture", span.get("scope_version"))
        started = tracer.start_span(
            span["name"],
            context=set_span_in_context(live[parent]) if parent is not None else None,
            kind=getattr(SpanKind, span.get("kind") or "INTERNAL"),
            attributes=span["attributes"],
            start_time=BASE + tick * TICK,
        )
        live[span_id] = started
        names[f"{started.get_span_context().span_id:016x}"] = span_id
    provider.shutdown()
    return Run(list(memory.get_finished_spans()), names)


@dataclass(frozen=True)
class Calls:
    """What was taken for a billable call (fixture span ids), and the second records,
    each with the fixture id of the record taken for its call."""

    calls: frozenset[str]
    seconds: frozenset[tuple[str, str]]


def processor_calls(spans: FixtureSpans, times: Times | None = None) -> Calls:
    """What the processor priced (a cost, or flagged unpriced) and marked a second record."""
    priced = run(spans, with_cost=True, times=times)
    calls, seconds = set(), set()
    for span in priced.spans:
        own = priced.fixture_id[f"{span.context.span_id:016x}"]
        attributes = span.attributes or {}
        if A.COST_DUPLICATE_OF in attributes:
            seconds.add((own, priced.fixture_id[str(attributes[A.COST_DUPLICATE_OF])]))
        elif any(key.startswith("gen_ai.cost.") for key in attributes):
            calls.add(own)
    return Calls(frozenset(calls), frozenset(seconds))


_ALSO = re.compile(r"\(also recorded as span ([0-9a-f, ]+)\)")


def report_calls(raw: Run, path: Path, catalog: Catalog | None = CATALOG) -> Calls:
    """What ``genai-cost report`` lists as never priced, in the spans written as OTLP JSON."""
    write_span_file(raw.spans, path)
    reports = report_traces(read_span_file(path), catalog=catalog)
    calls, seconds = set(), set()
    for note in (note for report in reports for note in report.not_priced_here):
        assert note.reason == "no_cost_attributes"
        first = raw.fixture_id[note.span_id]
        calls.add(first)
        also = _ALSO.search(note.detail)
        for second in also.group(1).split(", ") if also else ():
            seconds.add((raw.fixture_id[second], first))
    return Calls(frozenset(calls), frozenset(seconds))


def assert_report_lists_what_the_processor_priced(
    spans: FixtureSpans, tmp_path: Path, times: Times | None = None
) -> Calls:
    priced = processor_calls(spans, times)
    listed = report_calls(run(spans, with_cost=False, times=times), tmp_path / "raw.json")
    assert listed == priced
    return priced


def named(spans: FixtureSpans, calls: Sequence[str] | frozenset[str]) -> list[str]:
    by_id = {span["span_id"]: span["name"] for span in spans}
    return sorted(by_id[span_id] for span_id in calls)


# ------------------------------------------------------------------ Google ADK 1.x


def test_adk_1_call_llm_is_listed_not_its_generate_content(tmp_path: Path) -> None:
    """ADK 1.x's own two records of one Gemini call: the processor prices ``call_llm`` (the
    whole usage, thinking included) and marks ``generate_content`` its second record. The
    report listed ``generate_content`` and took ``call_llm`` for its wrapper."""
    spans = fixture("google-adk-1")
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path)
    ids = {span["name"]: span["span_id"] for span in spans}
    assert result == Calls(
        frozenset({ids["call_llm"]}), frozenset({(ids["generate_content gemini-2.5-flash"], ids["call_llm"])})
    )


def _adk_1_sub_agent() -> FixtureSpans:
    """ADK 1.x's sub-agent under a tool under the outer call_llm (as tests/integration/test_span_fixtures.py)."""
    return adk_1_sub_agent_spans()


def test_adk_1_call_llm_with_a_sub_agent_below_is_still_a_call(tmp_path: Path) -> None:
    """Both call_llm spans are calls (what ADK 1.x nests under the outer one came after its
    call), the tool between them is listed, and neither generate_content is."""
    result = assert_report_lists_what_the_processor_priced(_adk_1_sub_agent(), tmp_path)
    assert result == Calls(
        frozenset({"00000000000000a2", "00000000000000a4", "00000000000000a6"}),
        frozenset({("00000000000000a3", "00000000000000a2"), ("00000000000000a7", "00000000000000a6")}),
    )


def test_adk_1_with_the_google_genai_instrumentation_its_span_is_the_call(tmp_path: Path) -> None:
    """With the google-genai instrumentation (0.x beside ADK 1.x), the ``generate_content``
    span under ``call_llm`` is the instrumentation's, not ADK's: the call, and ``call_llm``
    its wrapper (docs/limitations.md: it is priced without thinking)."""
    spans = fixture("google-adk-1")
    for span in spans:
        if span["name"] == "generate_content gemini-2.5-flash":
            span.update(scope="opentelemetry.instrumentation.google_genai", scope_version="0.7b2", kind="CLIENT")
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path)
    assert named(spans, result.calls) == ["generate_content gemini-2.5-flash"] and not result.seconds


def test_adk_2_legacy_schema_generate_content_is_the_call(tmp_path: Path) -> None:
    """The same pair from ADK 2.x (its legacy schema): ``generate_content`` records the
    whole call, and ``call_llm`` above it is its wrapper. Only the scope version tells."""
    spans = fixture("google-adk-1")
    for span in spans:
        if span.get("scope_version"):
            span["scope_version"] = "2.13.0"
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path)
    assert named(spans, result.calls) == ["generate_content gemini-2.5-flash"] and not result.seconds


def test_adk_1_pair_read_from_the_jaeger_ui_json_by_its_scope_version(tmp_path: Path) -> None:
    """Jaeger keeps the scope version as the ``otel.scope.version`` tag."""
    spans = fixture("google-adk-1")
    raw = run(spans, with_cost=False)
    otlp = tmp_path / "otlp.json"
    write_span_file(raw.spans, otlp)
    document = json.loads(otlp.read_text())
    versions = {
        span["spanId"]: group["scope"].get("version")
        for resource in document["resourceSpans"]
        for group in resource["scopeSpans"]
        for span in group["spans"]
    }
    for resource in document["resourceSpans"]:
        for group in resource["scopeSpans"]:
            for span in group["spans"]:  # (Jaeger keeps an array as a JSON string: not read here)
                span["attributes"] = [kv for kv in span.get("attributes", []) if "arrayValue" not in kv["value"]]
    jaeger = _jaeger_ui(document)
    for trace in jaeger["data"]:
        for span in trace["spans"]:
            if versions[span["spanID"]]:
                span["tags"].append({"key": "otel.scope.version", "type": "string", "value": versions[span["spanID"]]})
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(jaeger), encoding="utf-8")
    read = read_span_file(path)
    assert {span.name: span.scope_version for span in read}["call_llm"] == "1.39.1"
    [report] = report_traces(read)
    [note] = report.not_priced_here
    assert note.name == "call_llm" and "also recorded as span" in note.detail


def test_a_scope_version_that_is_not_text_loses_nothing(tmp_path: Path) -> None:
    raw = run(fixture("google-adk-1"), with_cost=False)
    path = tmp_path / "spans.json"
    write_span_file(raw.spans, path)
    document = json.loads(path.read_text())
    for resource in document["resourceSpans"]:
        for group in resource["scopeSpans"]:
            group["scope"]["version"] = 1.39
    path.write_text(json.dumps(document), encoding="utf-8")
    read = read_span_file(path)
    assert len(read) == 5 and {span.scope_version for span in read} == {None}
    [report] = report_traces(read)
    assert [note.name for note in report.not_priced_here] == ["generate_content gemini-2.5-flash"]


def test_the_processor_and_the_report_read_adk_records_with_one_function() -> None:
    assert processor_module._adk_record is records_module.adk_record
    assert processor_module._ADK_SCOPE == records_module.ADK_SCOPE


# ------------------------------------------------------------------ sibling records with no response id


def _no_response_ids(spans: FixtureSpans) -> FixtureSpans:
    for span in spans:
        span["attributes"].pop("gen_ai.response.id", None)
    return spans


def _overlapping_pairs(spans: FixtureSpans) -> dict[str, tuple[int, int]]:
    """Times for the anthropic SDK's own span inside OpenLLMetry's span of the same call
    (recorded side by side, as siblings, with the same response id), one call after the other."""
    sdk = [span for span in spans if span["scope"] == "com.anthropic.sdk.python"]
    openllmetry = [span for span in spans if span["scope"] == "opentelemetry.instrumentation.anthropic"]
    (root,) = [span for span in spans if span["parent_span_id"] is None]
    times = {root["span_id"]: (1, 100)}
    for n, (inner, outer) in enumerate(zip(sdk, openllmetry, strict=True)):
        assert inner["attributes"]["gen_ai.response.id"] == outer["attributes"]["gen_ai.response.id"]
        times[outer["span_id"]] = (10 + 10 * n, 15 + 10 * n)
        times[inner["span_id"]] = (11 + 10 * n, 14 + 10 * n)
    return times


def test_overlapping_sibling_records_with_no_response_id_are_listed_once(tmp_path: Path) -> None:
    """OpenLLMetry's ``anthropic.chat`` around the anthropic SDK's own span of each call, with
    no response id: one call each, except the third, whose records differ by an output
    token (OpenLLMetry counts one too many in a stream): two calls, as the processor has it."""
    spans = fixture("openllmetry-anthropic-sdk-spans")
    times = _overlapping_pairs(spans)
    result = assert_report_lists_what_the_processor_priced(_no_response_ids(spans), tmp_path, times)
    assert len(result.calls) == 4 and len(result.seconds) == 2
    assert named(spans, result.calls) == ["anthropic.chat", *["anthropic.messages.create"] * 3]


def test_sibling_records_with_and_without_response_ids_agree(tmp_path: Path) -> None:
    spans = fixture("openllmetry-anthropic-sdk-spans")
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path, _overlapping_pairs(spans))
    assert len(result.calls) == 3 and len(result.seconds) == 3


def test_siblings_one_after_the_other_are_two_calls(tmp_path: Path) -> None:
    """The same records, each ended before the next began: nothing overlaps, every span is a call."""
    spans = _no_response_ids(fixture("openllmetry-anthropic-sdk-spans"))
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path)
    assert len(result.calls) == 6 and not result.seconds


def _one_pair(spans: FixtureSpans) -> FixtureSpans:
    """The root and the two records of the first call."""
    (root,) = [span for span in spans if span["parent_span_id"] is None]
    pair = [span for span in spans if span["attributes"].get("gen_ai.response.id") == "msg_fake1"]
    return [root, *pair]


@pytest.mark.parametrize("ids", ["same", "none", "one", "different"])
@pytest.mark.parametrize("overlap", [True, False], ids=["overlap", "one-after-the-other"])
@pytest.mark.parametrize("scopes", ["two", "one"])
def test_two_records_of_one_call_are_told_apart_as_the_processor_does(
    tmp_path: Path, ids: str, overlap: bool, scopes: str
) -> None:
    """Every combination of response ids, times and instrumentation scopes, on one recorded
    pair: the report's rules (genai_cost.records) and the processor's copies agree."""
    spans = _one_pair(fixture("openllmetry-anthropic-sdk-spans"))
    root, inner, outer = spans
    if ids == "none":
        _no_response_ids(spans)
    elif ids == "one":
        del outer["attributes"]["gen_ai.response.id"]
    elif ids == "different":
        outer["attributes"]["gen_ai.response.id"] = "msg_other"
    if scopes == "one":
        outer["scope"] = inner["scope"]
    times = {root["span_id"]: (1, 100), outer["span_id"]: (10, 20)}
    times[inner["span_id"]] = (11, 19) if overlap else (30, 40)
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path, times)
    one_call = (scopes == "two" and (overlap or ids == "same")) or (ids == "same" and overlap)
    assert len(result.calls) == (1 if one_call else 2), result


def test_twins_spelling_the_model_differently_are_one_call_as_the_catalog_knows_it(tmp_path: Path, capsys) -> None:
    """The framework's record names the alias the call asked for, the SDK's the snapshot that
    served it: one model for the catalog. ``genai-cost report`` resolves the names as the
    processor does (the shipped catalog, loaded only for such a pair)."""
    spans = fixture("openllmetry-anthropic-sdk-spans")
    times = _overlapping_pairs(spans)
    _no_response_ids(spans)
    for span in spans:
        if span["scope"] == "opentelemetry.instrumentation.anthropic":
            attributes = span["attributes"]
            if attributes.get("gen_ai.request.model") == "claude-sonnet-4-20250514":
                attributes["gen_ai.request.model"] = attributes["gen_ai.response.model"] = "claude-sonnet-4-0"
    priced = processor_calls(spans, times)
    raw = run(spans, with_cost=False, times=times)
    assert report_calls(raw, tmp_path / "raw.json") == priced
    assert len(priced.calls) == 4
    path = tmp_path / "cli.json"
    write_span_file(raw.spans, path)
    assert main(["report", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["not_priced_here_spans"] == 4


_SONNET = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-20250514",
}
_USAGE = {"gen_ai.usage.input_tokens": 5100, "gen_ai.usage.output_tokens": 50}


def test_a_provider_sdk_span_under_a_logfire_stream_request_is_listed_once(tmp_path: Path) -> None:
    """anthropic 2.x's own span of a streamed call, under Logfire's request span (which ended
    as the stream was returned), and Logfire's log of the same call, written beside the
    request when the stream had been read, with no response id: one call."""
    spans: FixtureSpans = [
        {"name": "handle request", "span_id": "1", "parent_span_id": None, "scope": "app", "attributes": {}},
        {
            "name": "Message with {request_data[model]!r}",
            "span_id": "2",
            "parent_span_id": "1",
            "scope": "logfire.anthropic",
            "attributes": dict(_SONNET),
        },
        {
            "name": "anthropic.messages.create",
            "span_id": "3",
            "parent_span_id": "2",
            "scope": "com.anthropic.sdk.python",
            "kind": "CLIENT",
            "attributes": _SONNET | _USAGE,
        },
        {
            "name": "streaming response from ...",
            "span_id": "4",
            "parent_span_id": "1",
            "scope": "logfire.anthropic",
            "attributes": _SONNET | _USAGE,
        },
    ]
    times = {"1": (1, 100), "2": (10, 20), "3": (15, 30), "4": (40, 50)}
    result = assert_report_lists_what_the_processor_priced(spans, tmp_path, times)
    assert result == Calls(frozenset({"3"}), frozenset({("4", "3")}))


# ------------------------------------------------------------------ a call whose model the SDK dropped


def _call_with_its_model_dropped(span_id: str, parent: str) -> dict[str, Any]:
    """OpenLLMetry's span of a call with a long conversation: the model set first, a prompt
    attribute per message after it, the counts last. Past the SDK's 128 attributes the
    oldest go: the model first (tests/test_reference_traps.py)."""
    attributes: dict[str, object] = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"}
    for message in range(70):
        attributes[f"gen_ai.prompt.{message}.role"] = "user"
        attributes[f"gen_ai.prompt.{message}.content"] = "hello"
    attributes |= {"gen_ai.usage.prompt_tokens": 100_000, "gen_ai.usage.completion_tokens": 1_000}
    return {
        "name": "openai.chat",
        "span_id": span_id,
        "parent_span_id": parent,
        "scope": "opentelemetry.instrumentation.openai.v1",
        "attributes": attributes,
    }


def _dropped_model_shapes() -> dict[str, FixtureSpans]:
    request = {"name": "request", "span_id": "1", "parent_span_id": None, "attributes": {}}
    wrapper = {  # a framework's record of the same call, around the provider's (OpenInference)
        "name": "ChatOpenAI",
        "span_id": "2",
        "parent_span_id": "1",
        "scope": "openinference.instrumentation.langchain",
        "attributes": {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.token_count.prompt": 100_000,
            "llm.token_count.completion": 1_000,
        },
    }
    return {
        "alone": [request, _call_with_its_model_dropped("3", "1")],
        "under a wrapper": [request, wrapper, _call_with_its_model_dropped("3", "2")],
    }


@pytest.mark.parametrize("shape", ["alone", "under a wrapper"])
def test_a_call_whose_model_the_sdk_dropped_is_read_as_the_processor_reads_it(tmp_path: Path, shape: str) -> None:
    """The processor reads a span that counts tokens but names no model or operation, and
    lost attributes to the SDK's limit, as a call: flagged ``missing_model``, and the model
    span around it a wrapper. The report read it as no call: without genai-cost it listed
    nothing (or the wrapper) as never priced, and in the priced spans it listed the
    wrapper as never priced, next to the call flagged unpriced. It now reads OTLP's
    ``droppedAttributesCount``, and the span as the processor does."""
    spans = _dropped_model_shapes()[shape]
    assert assert_report_lists_what_the_processor_priced(spans, tmp_path) == Calls(frozenset({"3"}), frozenset())

    priced = run(spans, with_cost=True)
    (call,) = [span for span in priced.spans if span.name == "openai.chat"]
    assert call.dropped_attributes > 0
    assert (call.attributes or {})[A.COST_UNPRICED_REASON] == A.REASON_MISSING_MODEL
    path = tmp_path / "priced.json"
    write_span_file(priced.spans, path)
    [report] = report_traces(read_span_file(path), catalog=CATALOG)
    assert [(priced.fixture_id[note.span_id], note.reason) for note in report.unpriced] == [
        ("3", A.REASON_MISSING_MODEL)
    ]
    assert report.not_priced_here == []


@pytest.mark.parametrize(
    ("written", "read"),
    [(12, 12), ("12", 12), (12.0, 12), (None, 0), (-1, 0), (True, 0), ("x", 0), (2**32, 0), ([3], 0)],
)
def test_a_dropped_attribute_count_is_read_from_otlp_json_or_taken_as_none(
    tmp_path: Path, written: object, read: int
) -> None:
    """A number or a string, as OTLP JSON writers send integers; what is not a count is no
    count, and the span is still read."""
    span = {"traceId": "1" * 32, "spanId": "2" * 16, "name": "call", "droppedAttributesCount": written}
    path = tmp_path / "spans.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))
    (exported,) = read_span_file(path)
    assert exported.dropped_attributes == read


# ------------------------------------------------------------------ the same totals, priced


@pytest.mark.parametrize("name", ["google-adk-1", "openllmetry-anthropic-sdk-spans"])
def test_the_report_of_the_priced_spans_has_the_processors_totals(tmp_path: Path, name: str) -> None:
    spans = fixture(name)
    times = _overlapping_pairs(spans) if name == "openllmetry-anthropic-sdk-spans" else None
    priced = run(_no_response_ids(spans), with_cost=True, times=times)
    path = tmp_path / "priced.json"
    write_span_file(priced.spans, path)
    [report] = report_traces(read_span_file(path))
    (root,) = [span for span in priced.spans if span.parent is None]
    assert report.total_usd == pytest.approx(root.attributes["gen_ai.trace.cost.total_usd"], rel=1e-12)
    assert sum(totals.calls for totals in report.by_entry.values()) == root.attributes["gen_ai.trace.cost.llm_calls"]
    assert report.not_priced_here == [] and report.unpriced == []


# ------------------------------------------------------------------ every recorded shape


@pytest.mark.parametrize("name", sorted(path.stem for path in FIXTURES.glob("*.json")))
def test_every_recorded_shape_is_listed_as_the_processor_prices_it(tmp_path: Path, name: str) -> None:
    """Each fixture as captured (its spans one after the other, children inside their parents)."""
    priced = assert_report_lists_what_the_processor_priced(fixture(name), tmp_path)
    assert priced.calls


def test_the_report_resolves_names_with_the_users_files_that_load_when_one_is_broken(tmp_path, monkeypatch):
    """As the processor does: a broken file is left out, the user's other files still count
    (before, the report fell back to the shipped catalog alone, and a model only a user's
    file knows was compared by its raw name)."""
    import os

    from genai_cost import report

    good = tmp_path / "acme.yaml"
    good.write_text(
        "providers:\n"
        "  - id: acme\n"
        "    models:\n"
        "      - id: acme-chat\n"
        "        kind: chat\n"
        "        match: {exact: [acme-chat, acme-chat-2026-01-01]}\n"
        "        prices:\n"
        "          - input: 1.0\n"
        "            output: 2.0\n"
        "            source: tests\n"
        "            checked: 2026-11-23\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("providers:\n  - id: other\n    models: [{id: x, kind: chat, prices: oops}]\n")
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", os.pathsep.join([str(good), str(broken)]))
    monkeypatch.setenv("GENAI_COST_CACHE_DIR", "off")
    catalog = report.runtime_catalog()
    assert catalog.resolve("acme-chat-2026-01-01", "acme").model.pricing_id == "acme/acme-chat"
