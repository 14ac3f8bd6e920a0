"""``genai-cost report`` reads a span's cost as the live roll-up does, applies the leaf rule as
the processor does, and never lets a value it cannot read pass for $0.

Each test here failed before its fix: the report had its own reading of the cost attributes
(a total without a category, or next to an unpriced flag, read otherwise than the roll-up),
counted a tool with a model call inside it as a wrapper, dropped a whole span (and its cost)
for one bad attribute value, lost a cost written as bytes, a key-value list or no value at
all, and refused files with a UTF-8 BOM or several pretty-printed documents in a row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

from genai_cost import attributes as A
from genai_cost.cli import main
from genai_cost.recorded_cost import recorded_cost
from genai_cost.report import report_traces
from genai_cost.rollup import _cost_of
from genai_cost.span_file import ExportedSpan, SpanFileError, read_span_file

TRACE = "ab" * 16


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["report", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


# ------------------------------------------------------------------ 1. one reader of a recorded cost


@pytest.mark.parametrize(
    ("attributes", "priced", "unpriced"),
    [
        # a total with no category: "other", as the roll-up counts it
        ({A.COST_TOTAL: 0.5}, {"other": 0.5}, []),
        # an unpriced flag with no category: listed
        ({A.COST_UNPRICED: True, A.COST_UNPRICED_REASON: "unknown_model"}, {}, [("unknown_model", "")]),
        # a total AND an unpriced flag: unpriced, not summed
        (
            {A.COST_TOTAL: 0.5, A.COST_CATEGORY: "llm", A.COST_UNPRICED: True, A.COST_UNPRICED_DETAIL: "why"},
            {},
            [("unknown", "why")],
        ),
        # a category that is not text: "other"
        ({A.COST_TOTAL: 0.25, A.COST_CATEGORY: 7}, {"other": 0.25}, []),
        ({A.COST_TOTAL: 0.25, A.COST_CATEGORY: ""}, {"other": 0.25}, []),
        # a total that is no amount: unpriced, never $0
        (
            {A.COST_TOTAL: "lots", A.COST_CATEGORY: "llm"},
            {},
            [("invalid_cost", "gen_ai.cost.total_usd is not an amount: 'lots'")],
        ),
    ],
)
def test_a_recorded_cost_is_read_as_the_roll_up_reads_it(
    attributes: dict[str, object], priced: dict[str, float], unpriced: list[tuple[str, str]]
) -> None:
    [report] = report_traces([ExportedSpan(TRACE, "1" * 16, None, "chat", None, attributes)])
    assert report.by_category == priced
    assert report.total_usd == sum(priced.values())
    assert [(note.reason, note.detail) for note in report.unpriced] == unpriced
    assert report.not_priced_here == []
    if priced:
        [(entry, totals)] = report.by_entry.items()
        assert (entry, totals.calls, totals.usd) == (next(iter(priced)), 1, sum(priced.values()))


_cost_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=10**16)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["0.25", "nan", "-1", "llm", "tool", "", "x", "1e16"])
    | st.text(max_size=4)
)
_cost_attributes = st.dictionaries(
    st.sampled_from(
        [
            A.COST_TOTAL,
            A.COST_UNPRICED,
            A.COST_CATEGORY,
            A.COST_UNPRICED_REASON,
            A.COST_UNPRICED_DETAIL,
            A.COST_PRICING_ID,
        ]
    ),
    _cost_values,
    max_size=6,
).map(lambda found: {key: value for key, value in found.items() if value is not None})


@settings(max_examples=300, deadline=None)
@given(spans=st.lists(_cost_attributes, min_size=1, max_size=5))
def test_the_report_and_the_roll_up_read_any_recorded_cost_alike(spans: list[dict[str, object]]) -> None:
    """Whatever the cost attributes hold, the report sums and lists exactly what the shared
    reader (and so the roll-up, reading a span priced elsewhere) makes of them."""
    exported = [
        ExportedSpan(TRACE, f"{i + 1:016x}", None, f"span {i}", None, attributes) for i, attributes in enumerate(spans)
    ]
    [report] = report_traces(exported)
    total = 0.0
    categories: dict[str, float] = {}
    unpriced = []
    for i, attributes in enumerate(spans):
        recorded = recorded_cost(attributes)
        readable = ReadableSpan(
            name="s", context=SpanContext(int(TRACE, 16), i + 1, is_remote=False), attributes=attributes
        )
        category, usd, not_priced, _ = _cost_of(readable)
        if recorded is None:
            assert (usd, not_priced) == (None, False)
            continue
        assert (category, usd, not_priced) == (recorded.category, recorded.total_usd, not recorded.priced)
        if recorded.total_usd is not None:
            total += recorded.total_usd
            categories[recorded.category] = categories.get(recorded.category, 0.0) + recorded.total_usd
        else:
            unpriced.append((f"{i + 1:016x}", recorded.reason, recorded.detail))
    assert report.total_usd == total
    assert report.by_category == categories
    assert [(note.span_id, note.reason, note.detail) for note in report.unpriced] == unpriced
    assert sum(totals.calls for totals in report.by_entry.values()) == len(spans) - len(unpriced) - sum(
        recorded_cost(attributes) is None for attributes in spans
    )


def test_the_infra_share_and_the_entries_are_kept() -> None:
    root = ExportedSpan(TRACE, "1" * 16, None, "POST /chat", None, {"gen_ai.trace.cost.infra_usd": 0.5})
    call = ExportedSpan(
        TRACE,
        "2" * 16,
        "1" * 16,
        "chat",
        None,
        {
            A.COST_TOTAL: 0.25,
            A.COST_CATEGORY: "llm",
            A.COST_PRICING_ID: "openai/gpt-4o",
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        },
    )
    [report] = report_traces([root, call])
    assert report.total_usd == 0.75 and report.by_category == {"infra": 0.5, "llm": 0.25}
    gpt = report.by_entry["openai/gpt-4o"]
    assert (gpt.calls, gpt.usd, gpt.input_tokens, gpt.output_tokens) == (1, 0.25, 100, 10)


# ------------------------------------------------------------------ 2. the leaf rule


def _chat(**extra: object) -> dict[str, object]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
        **extra,
    }


_TOOL = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "openai.web_search"}


def test_a_tool_with_a_model_call_inside_is_a_call_never_priced_not_a_wrapper() -> None:
    """The live processor prices a tool span with an LLM call inside it as a tool: a report
    on spans that never went through genai-cost must list it, and the call inside it."""
    spans = [
        ExportedSpan(TRACE, "1" * 16, None, "root", None, {}),
        ExportedSpan(TRACE, "2" * 16, "1" * 16, "tool-with-llm", None, _TOOL),
        ExportedSpan(TRACE, "3" * 16, "2" * 16, "inner-chat", None, _chat()),
    ]
    [report] = report_traces(spans)
    assert [note.name for note in report.not_priced_here] == ["tool-with-llm", "inner-chat"]


def test_only_inference_spans_with_a_call_below_are_wrappers() -> None:
    """An LLM span with a call below it, directly or through a tool or any other span, is a
    wrapper (as the processor marks it); the tool in between and the leaf call are not."""
    spans = [
        ExportedSpan(TRACE, "1" * 16, None, "agent", None, {"gen_ai.operation.name": "invoke_agent"}),
        ExportedSpan(TRACE, "2" * 16, "1" * 16, "outer-chat", None, _chat()),
        ExportedSpan(TRACE, "3" * 16, "2" * 16, "middleware", None, {}),
        ExportedSpan(TRACE, "4" * 16, "3" * 16, "retrieve", None, {"gen_ai.operation.name": "retrieval"}),
        ExportedSpan(TRACE, "5" * 16, "4" * 16, "embed", None, _chat(**{"gen_ai.operation.name": "embeddings"})),
        ExportedSpan(TRACE, "6" * 16, "1" * 16, "lone-tool", None, _TOOL),
    ]
    [report] = report_traces(spans)
    assert [note.name for note in report.not_priced_here] == ["retrieve", "embed", "lone-tool"]


# ------------------------------------------------------------------ 3. malformed values


def _otlp(*spans: tuple[str, str | None, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "scope": {"name": "app"},
                        "spans": [
                            {
                                "traceId": TRACE,
                                "spanId": span_id,
                                "name": f"span {span_id[-1]}",
                                "attributes": attributes,
                            }
                            | ({"parentSpanId": parent} if parent else {})
                            for span_id, parent, attributes in spans
                        ],
                    }
                ]
            }
        ]
    }


def _kv(key: str, value: dict[str, Any] | None) -> dict[str, Any]:
    return {"key": key} if value is None else {"key": key, "value": value}


def _priced(total: dict[str, Any] | None, **more: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _kv("gen_ai.operation.name", {"stringValue": "chat"}),
        _kv("gen_ai.request.model", {"stringValue": "gpt-4o"}),
        _kv("gen_ai.usage.input_tokens", more.pop("input", {"intValue": "1000"})),
        _kv(A.COST_CATEGORY, more.pop("category", {"stringValue": "llm"})),
        _kv(A.COST_TOTAL, total),
    ]


def test_a_bad_attribute_value_loses_that_attribute_not_the_span(tmp_path: Path, capsys) -> None:
    document = _otlp(
        ("1" * 16, None, []),
        ("2" * 16, "1" * 16, _priced({"doubleValue": "abc"})),  # a cost that cannot be read
        ("3" * 16, "1" * 16, _priced({"doubleValue": 0.25}, input={"intValue": "1e3"})),  # tokens that cannot
        ("4" * 16, "1" * 16, _priced({"doubleValue": 0.5}, category={"intValue": "x"})),  # a category that cannot
    )
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, report, err = report_json(capsys, str(path))
    assert code == 2
    at = f"{path}: resourceSpans[0].scopeSpans[0].spans"
    assert report["problems"] == [
        f"{at}[1].attributes[4].value.doubleValue: Input should be a valid number, unable to parse string as a number",
        f"{at}[2].attributes[2].value.intValue: Input should be a valid integer, unable to parse string as an integer",
        f"{at}[3].attributes[3].value.intValue: Input should be a valid integer, unable to parse string as an integer",
    ]
    assert all(f"genai-cost report: {problem}" in err for problem in report["problems"])
    [trace] = report["shown"]
    assert trace["spans"] == 4
    assert trace["total_usd"] == 0.25 and trace["by_category"] == {"llm": 0.25}
    assert trace["by_entry"]["gpt-4o (span cost)"]["input_tokens"] == 0  # the bad count is left out, not guessed
    assert [(note["name"], note["reason"], note["detail"]) for note in trace["unpriced"]] == [
        (
            "span 2",
            "invalid_cost",
            "gen_ai.cost.total_usd could not be read: Input should be a valid number, unable to parse string as a number",
        ),
        (
            "span 4",
            "invalid_cost",
            "gen_ai.cost.category could not be read: Input should be a valid integer, unable to parse string as an integer",
        ),
    ]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({}, "no value"),
        (None, "no value"),
        ({"stringValue": None}, "no value"),
        ({"bytesValue": "AAAA"}, "a bytesValue"),
        ({"kvlistValue": {"values": []}}, "a kvlistValue"),
        ({"doubleValue": 0.25, "stringValue": "9"}, "more than one value: stringValue, doubleValue"),
    ],
)
def test_a_cost_value_that_is_not_one_value_is_unpriced_never_0(tmp_path: Path, capsys, value, why) -> None:
    document = _otlp(("1" * 16, None, _priced(value)), ("2" * 16, None, _priced({"doubleValue": 0.5})))
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, report, _ = report_json(capsys, str(path))
    assert code == 0  # a valid OTLP document: nothing to fix in the file, but no cost is read
    [trace] = report["shown"]
    assert trace["total_usd"] == 0.5
    assert [(note["name"], note["reason"], note["detail"]) for note in trace["unpriced"]] == [
        ("span 1", "invalid_cost", f"gen_ai.cost.total_usd could not be read: {why}")
    ]


def test_other_attributes_read_as_before(tmp_path: Path) -> None:
    """Outside ``gen_ai.cost.*``, a value that is not one scalar reads as before (no value)."""
    document = _otlp(
        (
            "1" * 16,
            None,
            [
                _kv("a", {}),
                _kv("b", {"bytesValue": "AAAA"}),
                _kv("c", {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}}),
                _kv("d", {"boolValue": False}),
            ],
        )
    )
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    [span] = read_span_file(path)
    assert span.attributes == {"a": None, "b": None, "c": (1, "x"), "d": False}


def test_a_bad_jaeger_tag_loses_that_tag_not_the_span(tmp_path: Path) -> None:
    def span(span_id: str, tags: list[dict[str, Any]]) -> dict[str, Any]:
        return {"traceID": TRACE, "spanID": span_id, "operationName": f"op {span_id[-1]}", "tags": tags}

    llm = [{"key": "gen_ai.cost.category", "type": "string", "value": "llm"}]
    document = {
        "data": [
            {
                "traceID": TRACE,
                "spans": [
                    span("1" * 16, [*llm, {"key": "gen_ai.cost.total_usd", "type": "float64", "value": "lots"}]),
                    span("2" * 16, [*llm, {"key": "gen_ai.cost.total_usd", "type": "binary", "value": "MQ=="}]),
                    span(
                        "3" * 16,
                        [*llm, {"key": "gen_ai.cost.total_usd", "type": "float64", "value": 0.5}]
                        + [{"key": "x", "type": "int64", "value": True}],
                    ),
                ],
            }
        ]
    }
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SpanFileError) as caught:
        read_span_file(path)
    assert caught.value.problems == [
        f"{path}: data[0].spans[0].tags[1].value: not a float64 value: 'lots'",
        f"{path}: data[0].spans[2].tags[2].value: not a int64 value: True",
    ]
    [trace] = report_traces(caught.value.spans)
    assert trace.spans == 3 and trace.total_usd == 0.5
    assert [(note.name, note.reason, note.detail) for note in trace.unpriced] == [
        ("op 1", "invalid_cost", "gen_ai.cost.total_usd could not be read: not a float64 value: 'lots'"),
        ("op 2", "invalid_cost", "gen_ai.cost.total_usd could not be read: a binary value"),
    ]


# ------------------------------------------------------------------ 3c. BOM, documents one after another


def _document(n: int) -> dict[str, Any]:
    return _otlp((f"{n + 1:016x}", None, _priced({"doubleValue": 0.125 * (n + 1)})))


def test_a_bom_and_pretty_printed_documents_one_after_another_are_read(tmp_path: Path, capsys) -> None:
    path = tmp_path / "spans.json"
    path.write_text("\n".join(json.dumps(_document(n), indent=2) for n in range(3)) + "\n", encoding="utf-8-sig")
    code, report, err = report_json(capsys, str(path))
    assert (code, err) == (0, "")
    assert report["shown"][0]["spans"] == 3 and report["total_usd"] == 0.75


def test_a_broken_document_among_pretty_printed_ones_is_named_by_its_line(tmp_path: Path) -> None:
    first = json.dumps(_document(0), indent=2)
    broken = json.dumps(_document(1), indent=2).replace('"spanId"', "spanId", 1)
    path = tmp_path / "spans.json"
    path.write_text("\ufeff" + first + "\n" + broken + "\n" + json.dumps(_document(2), indent=2), encoding="utf-8")
    with pytest.raises(SpanFileError) as caught:
        read_span_file(path)
    line = first.count("\n") + 2  # where the broken document starts
    rows = broken.split("\n")
    [at] = [i for i, row in enumerate(rows) if row.strip().startswith("spanId")]
    [problem] = caught.value.problems
    assert problem == (
        f"{path}:{line}: not JSON: Expecting property name enclosed in double quotes"
        f" (line {line + at}, column {rows[at].index('spanId') + 1})"
    )
    assert sorted(span.span_id for span in caught.value.spans) == [f"{1:016x}", f"{3:016x}"]


_separators = st.sampled_from(["\n", "", " ", "\n\n", "\r\n", "\n \t\n"])


@settings(max_examples=200, deadline=None)
@given(
    layout=st.lists(
        st.tuples(st.sampled_from([None, 0, 1, 2, "broken"]), _separators),
        min_size=1,
        max_size=5,
    ),
    bom=st.booleans(),
)
def test_documents_in_any_layout_read_as_each_alone(
    tmp_path_factory, layout: list[tuple[int | str | None, str]], bom: bool
) -> None:
    """Documents compact or pretty-printed, one a line or one after another, after a BOM or
    not: the spans read are those of each document alone; a broken one (a line of its own)
    is named by the line it starts on, and the others still count."""
    text = "\ufeff" if bom else ""
    expected: list[str] = []
    broken_lines: list[int] = []
    for n, (indent, separator) in enumerate(layout):
        if indent == "broken":
            if text and not text.endswith("\n"):
                text += "\n"
            broken_lines.append(text.count("\n") + 1)
            text += '{"resourceSpans": [}\n'
            continue
        if broken_lines and not text.endswith("\n"):
            text += "\n"
        text += json.dumps(_document(n), indent=indent) + separator
        expected.append(f"{n + 1:016x}")
    path = tmp_path_factory.mktemp("layout") / "spans.json"
    path.write_text(text, encoding="utf-8")
    try:
        spans = read_span_file(path)
        problems: list[str] = []
    except SpanFileError as exc:
        spans, problems = exc.spans, exc.problems
    assert [span.span_id for span in spans] == expected
    assert [problem.split(": not JSON")[0] for problem in problems] == [f"{path}:{n}" for n in broken_lines]
