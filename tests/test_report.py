"""``genai-cost report``: what each trace in exported span files cost, and what was not priced.

The files are made by the real pipeline (the demo through the SDK, processor and roll-up,
encoded by the OTLP exporter's own encoder), in the shapes users have: the collector's file
exporter (OTLP JSON, hex ids, one document per line), Jaeger's API and Tempo's API (protobuf's
JSON mapping, base64 ids). Spans from real instrumentations that never went through
genai-cost are the captured fixtures."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from genai_cost.cli import main
from genai_cost.demo import run_demo, write_span_file
from genai_cost.report import ExportedSpan, SpanFileError, read_span_file, report_traces
from support.capture import FIXTURES


@pytest.fixture(scope="module")
def demo_spans() -> list[Any]:
    return run_demo()


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["report", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def assert_is_the_article_trace(trace: dict[str, Any]) -> None:
    assert trace["root_name"] == "invoke_agent research-agent"
    assert trace["total_usd"] == pytest.approx(0.142)
    assert trace["by_category"] == {"llm": pytest.approx(0.129), "tool": pytest.approx(0.013)}
    gpt = trace["by_entry"]["openai/gpt-4o"]
    assert (gpt["calls"], gpt["input_tokens"], gpt["output_tokens"]) == (10, 38_800, 3_200)
    assert trace["by_entry"]["tool/web_search"]["calls"] == 2
    assert trace["by_entry"]["tool/read_page"]["calls"] == 3
    assert trace["unpriced"] == [] and trace["not_priced_here"] == []
    assert trace["complete"] is True


def test_the_demo_saved_as_otlp_json_reports_the_article_figures(tmp_path: Path, capsys) -> None:
    path = tmp_path / "demo.json"
    assert main(["demo", "--save", str(path)]) == 0
    capsys.readouterr()
    code, report, err = report_json(capsys, str(path))
    assert (code, err) == (0, "")
    assert report["traces"] == 1
    assert_is_the_article_trace(report["shown"][0])


def test_the_text_report_names_the_trace_its_models_and_tools(tmp_path: Path, demo_spans, capsys) -> None:
    path = tmp_path / "demo.json"
    write_span_file(demo_spans, path)
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 trace(s), $0.1420 in all (llm $0.1290, tool $0.0130); 0 unpriced span(s)")
    assert "openai/gpt-4o" in out and "10 call(s)  $0.129000  in 38,800  out 3,200" in out
    assert "tool/web_search" in out


def _protobuf_json(spans: list[Any]) -> dict[str, Any]:
    """protobuf's JSON mapping of an OTLP export, as Jaeger's and Tempo's APIs return it (base64 ids)."""
    return MessageToDict(encode_spans(spans))


@pytest.mark.parametrize("wrap", [
    lambda doc: {"result": doc},  # Jaeger v2, /api/v3/traces/{id}
    lambda doc: {"trace": doc},  # Tempo, /api/v2/traces/{id}
    lambda doc: {"batches": doc["resourceSpans"]},  # Tempo, /api/traces/{id}
    lambda doc: doc,
], ids=["jaeger", "tempo-v2", "tempo-v1", "plain"])
def test_backend_api_shapes_and_base64_ids_are_read(tmp_path: Path, demo_spans, wrap, capsys) -> None:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(wrap(_protobuf_json(demo_spans))), encoding="utf-8")
    code, report, _ = report_json(capsys, str(path))
    assert code == 0
    trace = report["shown"][0]
    assert trace["trace_id"] == f"{demo_spans[0].context.trace_id:032x}"
    assert_is_the_article_trace(trace)


def test_a_broken_line_is_named_and_the_other_lines_still_count(tmp_path: Path, demo_spans, capsys) -> None:
    document = _protobuf_json(demo_spans)
    path = tmp_path / "collector.jsonl"  # the collector's file exporter: one document per line
    path.write_text("\n".join([
        json.dumps(document),
        "{not json",
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "00"}]}]}]}),
        json.dumps({"resourceSpans": "nope"}),
        json.dumps({"spans": []}),
    ]) + "\n", encoding="utf-8")
    code, report, err = report_json(capsys, str(path))
    assert code == 2
    assert_is_the_article_trace(report["shown"][0])
    problems = report["problems"]
    assert problems[0].startswith(f"{path}:2: not JSON")
    assert problems[1] == (f"{path}:3: resourceSpans[0].scopeSpans[0].spans[0]: trace or span id is neither hex"
                           " nor base64 of the right length")
    assert problems[2].startswith(f"{path}:4: resourceSpans: Input should be a valid list")
    assert problems[3] == f"{path}:5: not OTLP JSON: expected an object with 'resourceSpans'"
    assert all(f"genai-cost report: {problem}" in err for problem in problems)


def test_a_missing_file_and_an_unknown_trace_exit_2(tmp_path: Path, demo_spans, capsys) -> None:
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read span file: No such file or directory" in capsys.readouterr().err
    path = tmp_path / "demo.json"
    write_span_file(demo_spans, path)
    assert main(["report", str(path), "--trace", "0" * 31 + "1"]) == 2
    assert "no trace" in capsys.readouterr().err
    trace_id = f"{demo_spans[0].context.trace_id:032x}"
    code, report, _ = report_json(capsys, str(path), "--trace", f"0x{trace_id.upper()}")
    assert code == 0 and report["shown"][0]["trace_id"] == trace_id


def _fixture_spans(name: str) -> list[ExportedSpan]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return [ExportedSpan(s["trace_id"], s["span_id"], s["parent_span_id"], s["name"], s.get("scope"), s["attributes"])
            for s in data["spans"]]


#: fixture -> billable calls in it (tests/integration/test_span_fixtures.py prices them)
CALLS = {
    "openai-official": 6, "openllmetry-openai": 6, "openlit-openai": 6, "openinference-openai": 6,
    "anthropic-official": 3, "bedrock-official": 1, "openllmetry-anthropic": 3, "openinference-anthropic": 3,
    "openlit-anthropic": 3, "pydantic-ai": 2, "openai-agents": 3, "langchain-official": 3,
    "google-genai-official": 2, "google-adk": 1, "vercel-ai-sdk-7": 2, "vercel-ai-sdk-6": 2,
}


@pytest.mark.parametrize("fixture", sorted(CALLS))
def test_calls_never_priced_are_listed_once_each_and_wrappers_are_not(fixture: str) -> None:
    """Spans as real instrumentations emit them, from a process without genai-cost: every
    billable call is named (none passes for $0), and no agent or wrapper span is."""
    reports = report_traces(_fixture_spans(fixture))
    listed = [note for report in reports for note in report.not_priced_here]
    assert len(listed) == CALLS[fixture], [note.name for note in listed]
    assert all(report.total_usd == 0.0 and report.by_entry == {} for report in reports)
    assert not any(note.name.startswith(("invoke_agent", "invoke_workflow", "ai.generateText ", "agent run"))
                   for note in listed)


def test_unpriced_spans_are_listed_with_their_reason(tmp_path: Path) -> None:
    spans = [
        ExportedSpan("a" * 32, "1" * 16, None, "invoke_agent", None, {"gen_ai.operation.name": "invoke_agent"}),
        ExportedSpan("a" * 32, "2" * 16, "1" * 16, "chat acme-1", None, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "acme-1", "gen_ai.usage.input_tokens": 5,
            "gen_ai.cost.unpriced": True, "gen_ai.cost.unpriced_reason": "unknown_model",
            "gen_ai.cost.unpriced_detail": "model 'acme-1' is not in the pricing catalog"}),
        ExportedSpan("a" * 32, "3" * 16, "1" * 16, "chat gpt-4o", None, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.cost.duplicate_of": "4" * 16}),  # a second record: seen by genai-cost, no cost of its own
    ]
    [report] = report_traces(spans)
    assert [(note.name, note.reason, note.detail) for note in report.unpriced] == [
        ("chat acme-1", "unknown_model", "model 'acme-1' is not in the pricing catalog")]
    assert report.not_priced_here == [] and report.total_usd == 0.0


def test_a_cost_that_is_no_amount_is_listed_not_summed() -> None:
    spans = [ExportedSpan("c" * 32, "1" * 16, None, "chat", None, {
        "gen_ai.cost.total_usd": float("nan"), "gen_ai.cost.category": "llm"})]
    [report] = report_traces(spans)
    assert report.total_usd == 0.0 and report.by_entry == {}
    assert [(note.reason, note.detail) for note in report.unpriced] == [
        ("invalid_cost", "gen_ai.cost.total_usd is not an amount: nan")]


def test_the_infrastructure_share_on_the_root_counts_in_the_total() -> None:
    root = ExportedSpan("b" * 32, "1" * 16, None, "POST /chat", None, {
        "gen_ai.trace.cost.total_usd": 0.0167, "gen_ai.trace.cost.infra_usd": 0.0067})
    call = ExportedSpan("b" * 32, "2" * 16, "1" * 16, "chat", None, {
        "gen_ai.cost.total_usd": 0.01, "gen_ai.cost.category": "llm", "gen_ai.cost.pricing.id": "openai/gpt-4o"})
    [report] = report_traces([root, call])
    assert report.total_usd == pytest.approx(0.0167)
    assert report.by_category == {"infra": pytest.approx(0.0067), "llm": pytest.approx(0.01)}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "name",
                         "attributes", "key", "value", "intValue", "stringValue", "arrayValue", "values", "result",
                         "batches", "scope"]), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(document=_json)
def test_any_json_is_read_or_refused_with_the_file_named(tmp_path_factory, document: object) -> None:
    path = tmp_path_factory.mktemp("any") / "spans.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    try:
        spans = read_span_file(path)
    except SpanFileError as exc:
        assert exc.problems and all(problem.startswith(str(path)) for problem in exc.problems)
        spans = exc.spans
    for report in report_traces(spans):
        assert report.total_usd == report.total_usd  # never NaN


@given(raw=st.binary(min_size=8, max_size=8).filter(any))
def test_span_ids_read_the_same_in_hex_and_base64(raw: bytes) -> None:
    from genai_cost.report import _id

    assert _id(raw.hex(), 8) == _id(base64.b64encode(raw).decode(), 8) == raw.hex()
