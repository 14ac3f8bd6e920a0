"""``genai-cost report``: the fixes of the eighteenth audit (what the report prints).

Each test failed before its fix. The span files are made as users make them: real
OpenTelemetry SDK traces, with genai-cost's processor and roll-up or without them (a
service that does not run genai-cost), written as OTLP JSON one document per line, as the
collector's ``file`` exporter writes them (:func:`genai_cost.demo.write_span_file`)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import genai_cost.span_file as span_file_module
from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.cli import main
from genai_cost.demo import run_demo, write_span_file
from genai_cost.report import money_text, render_json, render_text, report_traces
from genai_cost.span_file import ExportedSpan, SpanFileError, read_span_file
from support.spans import chat_attributes

BIN = str(Path(sys.executable).parent / "genai-cost")

Build = Callable[[Callable[[str], trace_api.Tracer]], None]


def export_through(exporter: SpanExporter, build: Build, *, with_cost: bool) -> None:
    """Export the spans ``build`` makes (given a tracer per instrumentation scope) to
    ``exporter``, from a process with genai-cost (processor and roll-up) or without it."""
    provider = TracerProvider()
    if with_cost:
        provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(exporter))))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer)
    provider.shutdown()


def record(build: Build, *, with_cost: bool) -> list[ReadableSpan]:
    """The spans ``build`` makes, as :func:`export_through` exports them."""
    memory = InMemorySpanExporter()
    export_through(memory, build, with_cost=with_cost)
    return list(memory.get_finished_spans())


def span_file(path: Path, *traces: list[ReadableSpan]) -> Path:
    """One OTLP JSON document per line, one per export, as the collector writes them."""
    lines = []
    for spans in traces:
        write_span_file(spans, path)
        lines.append(path.read_text(encoding="utf-8").strip())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["report", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _chat(model: str = "gpt-4o", provider: str = "openai", **extra: object) -> dict[str, Any]:
    return chat_attributes(model, provider, **extra)


@pytest.fixture(scope="module")
def demo_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Three demo traces, one OTLP JSON document (line) each."""
    path = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    span_file(path, *(run_demo().spans for _ in range(3)))
    return path.read_bytes().splitlines()


# ------------------------------------------------------------------ 1. a byte that is not UTF-8


def test_a_byte_that_is_not_utf8_loses_its_line_only(tmp_path: Path, demo_lines: list[bytes], capsys) -> None:
    lines = list(demo_lines)
    lines[1] = lines[1].replace(b'"name": "', b'"name": "\xe2\x82', 1)  # a character cut short
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, report, err = report_json(capsys, str(path))
    assert code == 2
    [problem] = report["problems"]
    column = lines[1].index(b"\xe2") + 1
    assert problem == f"{path}:2: not UTF-8: byte 0xe2 (line 2, column {column})"
    assert f"genai-cost report: {problem}" in err and "no totals" not in err
    assert (report["traces"], report["total_usd"]) == (2, 0.284)


_NOT_UTF8 = st.sampled_from([b"\x80", b"\xff", b"\xe2\x82", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, 2), where=st.floats(0, 1), bad=_NOT_UTF8)
def test_bytes_that_are_not_utf8_anywhere_in_a_line_lose_that_line_only(
    tmp_path_factory, demo_lines: list[bytes], line: int, where: float, bad: bytes
) -> None:
    lines = list(demo_lines)
    at = 1 + int(where * (len(lines[line]) - 2))  # inside the document: after "{", before "}"
    lines[line] = lines[line][:at] + bad + lines[line][at:]
    path = tmp_path_factory.mktemp("utf8") / "spans.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(SpanFileError) as caught:
        read_span_file(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{line + 1}: not UTF-8: byte 0x{bad[0]:02x} (line {line + 1}, column ")
    assert len(report_traces(caught.value.spans)) == 2


@settings(max_examples=300, deadline=None)
@given(
    content=st.binary(max_size=64) | st.builds(lambda a, b: a + b, st.sampled_from([b"{", b"\n{", b""]), st.binary())
)
def test_any_bytes_are_read_or_refused_with_the_file_named(tmp_path_factory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "spans.json"
    path.write_bytes(content)
    try:
        spans = read_span_file(path)
    except SpanFileError as exc:
        assert exc.problems and all(problem.startswith(str(path)) for problem in exc.problems)
        spans = exc.spans
    report_traces(spans)


# ------------------------------------------------------------------ 12. binary and compressed files


@pytest.mark.parametrize("kind", ["protobuf", "gzip", "zstd"])
def test_protobuf_and_compressed_files_are_named_as_such(tmp_path: Path, kind: str, capsys) -> None:
    spans = run_demo().spans
    json_path = span_file(tmp_path / "demo.jsonl", spans)
    content = {
        "protobuf": lambda: encode_spans(spans).SerializeToString(),  # the file exporter's `format: proto`
        "gzip": lambda: gzip.compress(json_path.read_bytes()),
        "zstd": lambda: b"\x28\xb5\x2f\xfd" + os.urandom(64),  # zstd's magic number, then its frames
    }[kind]()
    path = tmp_path / f"spans.{kind}"
    path.write_bytes(content)
    assert main(["report", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first, second = captured.err.splitlines()
    assert first.startswith(f"genai-cost report: {path}: not text: ")
    assert "only JSON is read (OTLP JSON," in first and "`format: json`" in first and "`compression`" in first
    assert {"protobuf": "OTLP protobuf", "gzip": "gzip", "zstd": "zstd"}[kind] in first
    assert "codec" not in first
    assert second == "genai-cost report: no totals: a file could not be read at all"


# ------------------------------------------------------------------ 2. a remote agent's call


def _remote_agent(tracer: Callable[[str], trace_api.Tracer]) -> None:
    app = tracer("app")
    with app.start_as_current_span("POST /ask", kind=SpanKind.SERVER):
        with app.start_as_current_span(
            "invoke_agent support-assistant",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 20_000,
                "gen_ai.usage.output_tokens": 1_000,
            },
        ):
            pass
        with app.start_as_current_span(  # an agent in this process: its usage is its calls', unrecorded
            "invoke_agent local",
            kind=SpanKind.INTERNAL,
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 5},
        ):
            pass


def test_a_remote_agent_call_never_priced_is_listed_and_a_priced_one_has_its_tokens(tmp_path: Path, capsys) -> None:
    raw = span_file(tmp_path / "raw.jsonl", record(_remote_agent, with_cost=False))
    code, report, _ = report_json(capsys, str(raw))
    assert code == 0 and report["not_priced_here_spans"] == 2
    [trace] = report["shown"]
    assert [(note["name"], note["detail"]) for note in trace["not_priced_here"]] == [
        ("invoke_agent support-assistant", "openai gpt-4o"),
        # as the processor flags it (unrecorded_calls): no call below it recorded its usage
        ("invoke_agent local", "(its calls' usage; no call recorded below it)"),
    ]
    priced = span_file(tmp_path / "priced.jsonl", record(_remote_agent, with_cost=True))
    code, report, _ = report_json(capsys, str(priced))
    [trace] = report["shown"]
    assert trace["total_usd"] == 0.06 and trace["not_priced_here"] == []
    assert [(note["name"], note["reason"]) for note in trace["unpriced"]] == [("invoke_agent local", "unrecorded_calls")]
    gpt = trace["by_entry"]["openai/gpt-4o"]
    assert (gpt["calls"], gpt["input_tokens"], gpt["output_tokens"]) == (1, 20_000, 1_000)


def _agent_ending_before_its_call(tracer: Callable[[str], trace_api.Tracer]) -> None:
    app = tracer("app")
    with app.start_as_current_span("POST /api/embed", kind=SpanKind.SERVER):
        agent = app.start_span(
            "invoke_agent",
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 1000},
        )
        call = app.start_span("chat gpt-4o", attributes=_chat(), context=trace_api.set_span_in_context(agent))
        agent.end()  # as the Vercel AI SDK ends ai.embedMany just before its doEmbed
        call.end()


def test_an_agent_whose_call_ended_after_it_has_a_call_below_it(tmp_path: Path, capsys) -> None:
    """The report said such an agent had "no call recorded below it" and that its process
    did not run genai-cost, although the gateway (children first) had priced its call."""
    raw = span_file(tmp_path / "raw.jsonl", record(_agent_ending_before_its_call, with_cost=False))
    code, report, _ = report_json(capsys, str(raw))
    [trace] = report["shown"]
    assert [note["name"] for note in trace["not_priced_here"]] == ["chat gpt-4o"]


def test_the_span_kind_is_read_from_otlp_json_and_jaeger(tmp_path: Path) -> None:
    path = tmp_path / "spans.json"

    def kinds(document: dict[str, Any]) -> list[str | None]:
        path.write_text(json.dumps(document), encoding="utf-8")
        return [span.kind for span in read_span_file(path)]

    def otlp(n: int, kind: object) -> dict[str, Any]:
        return {"traceId": "ab" * 16, "spanId": f"{n + 1:016x}", "name": "x", "kind": kind}

    spans = [otlp(n, kind) for n, kind in enumerate((3, "SPAN_KIND_CLIENT", 2, 0, "odd"))]
    assert kinds({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) == ["client", "client", "server", None, None]
    tag = [{"key": "span.kind", "type": "string", "value": "client"}]
    assert kinds({"data": [{"traceID": "ab" * 16, "spans": [{"spanID": "cd" * 8, "tags": tag}]}]}) == ["client"]
    assert "span.kind" not in read_span_file(path)[0].attributes


# ------------------------------------------------------------------ 3. `| head`


def _many_traces(path: Path, count: int) -> Path:
    """``count`` traces of one priced call each, then a broken line."""
    spans = [
        {
            "traceId": f"{n + 1:032x}",
            "spanId": f"{n + 1:016x}",
            "name": f"chat {n}",
            "attributes": [
                {"key": "gen_ai.cost.total_usd", "value": {"doubleValue": 0.01}},
                {"key": "gen_ai.cost.category", "value": {"stringValue": "llm"}},
                {"key": "gen_ai.cost.pricing.id", "value": {"stringValue": "openai/gpt-4o"}},
            ],
        }
        for n in range(count)
    ]
    document = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    path.write_text(json.dumps(document) + '\n{"resourceSpans": [\n', encoding="utf-8")
    return path


def test_a_reader_that_stops_early_keeps_the_exit_code_and_the_problems(tmp_path: Path) -> None:
    """`genai-cost report ... | head -1` under `set -o pipefail`: the output (far more than
    a pipe holds) breaks off, the exit code is still 2 and the problem is still said."""
    path = _many_traces(tmp_path / "many.jsonl", 3000)
    process = subprocess.Popen([BIN, "report", str(path), "--top", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # as `head -1` does
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 2
    assert first.startswith(b"3000 trace(s), $30.0000 in all")
    assert f"genai-cost report: {path}:2: not JSON" in err


def test_the_problems_come_before_the_report(tmp_path: Path) -> None:
    path = _many_traces(tmp_path / "few.jsonl", 2)
    result = subprocess.run(  # unbuffered: each line comes out as it is written
        [BIN, "report", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout.decode().splitlines()[0].startswith(f"genai-cost report: {path}:2: not JSON")


@contextmanager
def _stdout_to_a_closed_pipe() -> Iterator[None]:
    read, write = os.pipe()
    os.close(read)  # the reader has gone
    saved = sys.stdout
    sys.stdout = open(write, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        yield
    finally:
        with suppress(BrokenPipeError):
            sys.stdout.close()
        sys.stdout = saved


def test_a_pipe_broken_as_a_short_report_is_flushed_keeps_the_exit_code(tmp_path: Path, capsys) -> None:
    path = _many_traces(tmp_path / "few.jsonl", 2)
    capsys.readouterr()
    with capsys.disabled():
        saved_err = sys.stderr
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            with _stdout_to_a_closed_pipe():
                code = main(["report", str(path)])
        finally:
            sys.stderr.close()
            sys.stderr = saved_err
    assert code == 2


# ------------------------------------------------------------------ 4. one summary for text and JSON


def _two_traces(tracer: Callable[[str], trace_api.Tracer]) -> None:
    app = tracer("app")
    with app.start_as_current_span("POST /big"):
        with app.start_as_current_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=_chat(**{"gen_ai.usage.input_tokens": 100_000})
        ):
            pass
    with app.start_as_current_span("POST /small") as root:
        late = app.start_span("chat late", context=trace_api.set_span_in_context(root), attributes=_chat())
        with app.start_as_current_span("chat acme-x", attributes=_chat("acme-x", "acme")):  # unpriced
            pass
    late.end()  # after its root: the trace's totals are incomplete


def test_the_json_has_the_summary_of_all_traces_not_only_those_shown(tmp_path: Path, capsys) -> None:
    path = span_file(tmp_path / "two.jsonl", record(_two_traces, with_cost=True))
    code, report, _ = report_json(capsys, str(path), "--top", "1")
    assert code == 0
    [shown] = report["shown"]
    assert shown["root_name"] == "POST /big" and shown["unpriced"] == []
    small = next(r for r in report_traces(read_span_file(path)) if r.root_name == "POST /small")
    assert report["unpriced_spans"] == 1 and report["not_priced_here_spans"] == 0
    assert report["incomplete_traces"] == [small.trace_id]
    assert list(report["by_category"]) == ["llm"]
    assert report["by_category"]["llm"] == report["total_usd"]
    assert main(["report", str(path), "--top", "1"]) == 0
    summary = capsys.readouterr().out.splitlines()[0]
    assert summary.endswith("; 1 unpriced span(s); 0 billable span(s) without cost attributes; 1 incomplete trace(s)")


def test_the_text_and_the_json_print_the_same_summary(tmp_path: Path) -> None:
    reports = report_traces(read_span_file(span_file(tmp_path / "two.jsonl", record(_two_traces, with_cost=True))))
    document = json.loads(render_json(reports, reports[:1], []))
    text = render_text(reports, reports[:1]).splitlines()[0]
    parts = ", ".join(f"{category} ${usd:.4f}" for category, usd in document["by_category"].items())
    assert text == (
        f"{document['traces']} trace(s), ${document['total_usd']:.4f} in all ({parts});"
        f" {document['unpriced_spans']} unpriced span(s);"
        f" {document['not_priced_here_spans']} billable span(s) without cost attributes;"
        f" {len(document['incomplete_traces'])} incomplete trace(s)"
    )


# ------------------------------------------------------------------ 5. costs the span carried


def _span_costs(tracer: Callable[[str], trace_api.Tracer]) -> None:
    app = tracer("app")
    with app.start_as_current_span("invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for model, cost in (("acme-private-large", 0.25), ("acme-private-small", 0.01), ("acme-private-small", 0.01)):
            attributes = _chat(model, "acme", **{"gen_ai.usage.cost.amount": cost})
            with app.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes):
                pass


def test_costs_the_spans_carried_are_listed_per_model(tmp_path: Path, capsys) -> None:
    path = span_file(tmp_path / "spancost.jsonl", record(_span_costs, with_cost=True))
    code, report, _ = report_json(capsys, str(path))
    assert code == 0
    [trace] = report["shown"]
    assert {entry: (totals["calls"], totals["usd"]) for entry, totals in trace["by_entry"].items()} == {
        "acme/acme-private-large (span cost)": (1, 0.25),
        "acme/acme-private-small (span cost)": (2, 0.02),
    }
    no_model = ExportedSpan("ab" * 16, "1" * 16, None, "x", None, {"gen_ai.cost.total_usd": 0.5})
    assert list(report_traces([no_model])[0].by_entry) == ["other"]  # the category: nothing names a model


# ------------------------------------------------------------------ 6. one call, two records


def _siblings(tracer: Callable[[str], trace_api.Tracer]) -> None:
    sdk = tracer("anthropic")
    openllmetry = tracer("opentelemetry.instrumentation.anthropic")
    with sdk.start_as_current_span("invoke_agent app", attributes={"gen_ai.operation.name": "invoke_agent"}) as agent:
        context = trace_api.set_span_in_context(agent)
        for n in (1, 2, 3):
            attributes = _chat("claude-sonnet-4-20250514", "anthropic", **{"gen_ai.response.id": f"msg_{n}"})
            outer = openllmetry.start_span(
                "anthropic.chat", context=context, kind=SpanKind.CLIENT, attributes=attributes
            )
            inner = sdk.start_span(
                "anthropic.messages.create", context=context, kind=SpanKind.CLIENT, attributes=attributes
            )
            inner.end()  # overlapping siblings, the SDK's own span ends first
            outer.end()


def _one_after_the_other(tracer: Callable[[str], trace_api.Tracer]) -> None:
    app = tracer("openai")
    with app.start_as_current_span("invoke_agent app", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in (1, 2):  # a server that reuses its response ids: two calls
            with app.start_as_current_span(
                "chat", kind=SpanKind.CLIENT, attributes=_chat(**{"gen_ai.response.id": "r"})
            ):
                pass


@pytest.mark.parametrize(("build", "calls"), [(_siblings, 3), (_one_after_the_other, 2)], ids=["siblings", "reused-id"])
def test_one_call_recorded_twice_is_listed_once_as_the_processor_prices_it(
    tmp_path: Path, build: Build, calls: int
) -> None:
    raw = report_traces(read_span_file(span_file(tmp_path / "raw.jsonl", record(build, with_cost=False))))
    listed = [note for report in raw for note in report.not_priced_here]
    priced = [span for span in record(build, with_cost=True) if "gen_ai.cost.total_usd" in (span.attributes or {})]
    assert len(listed) == len(priced) == calls
    assert sorted(note.name for note in listed) == sorted(span.name for span in priced)
    if build is _siblings:
        assert all(" (also recorded as span " in note.detail for note in listed)


# ------------------------------------------------------------------ 9. amounts that round to zero


def test_amounts_that_round_to_zero_do_not_read_as_zero(tmp_path: Path, capsys) -> None:
    def embed(tracer: Callable[[str], trace_api.Tracer]) -> None:
        attributes = {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 20,
        }
        with tracer("app").start_as_current_span("embeddings", kind=SpanKind.CLIENT, attributes=attributes):
            pass

    path = span_file(tmp_path / "embed.jsonl", record(embed, with_cost=True))
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"(?<!<)\$0\.0+(?![0-9])", out) is None, out  # no cost reads as $0.0000
    assert out.startswith("1 trace(s), <$0.0001 in all (embedding <$0.0001);")
    assert "  embedding <$0.000001\n" in out
    assert "openai/text-embedding-3-small               1 call(s)  <$0.000001  in 20" in out
    assert (money_text(0.0, 4), money_text(0.00005, 4), money_text(0.00004, 4), money_text(0.142, 4)) == (
        "$0.0000",
        "$0.0001",
        "<$0.0001",
        "$0.1420",
    )


# ------------------------------------------------------------------ 10. category order


def test_categories_are_ordered_by_amount_then_name_everywhere() -> None:
    def cost(span_id: str, category: str, usd: float) -> ExportedSpan:
        attributes = {"gen_ai.cost.total_usd": usd, "gen_ai.cost.category": category}
        return ExportedSpan("ab" * 16, span_id, "0" * 15 + "1", category, None, attributes)

    root = ExportedSpan("ab" * 16, "0" * 15 + "1", None, "root", None, {"gen_ai.trace.cost.infra_usd": 0.02})
    spans = [root, cost("2" * 16, "tool", 0.002), cost("3" * 16, "retrieval", 0.02), cost("4" * 16, "llm", 0.04)]
    [report] = report_traces(spans)
    assert list(report.by_category) == ["llm", "infra", "retrieval", "tool"]
    assert list(json.loads(render_json([report], [report], []))["shown"][0]["by_category"]) == list(report.by_category)
    assert "\n  llm $0.040000  infra $0.020000  retrieval $0.020000  tool $0.002000\n" in render_text(
        [report], [report]
    )


# ------------------------------------------------------------------ 11. what the cost is made of, and when


def _cached_call(tracer: Callable[[str], trace_api.Tracer]) -> None:
    attributes = _chat(
        "claude-sonnet-4-20250514",
        "anthropic",
        **{
            "gen_ai.usage.input_tokens": 10_000,
            "gen_ai.usage.cache_read.input_tokens": 2_000,
            "gen_ai.usage.cache_creation.input_tokens": 4_000,
            "gen_ai.usage.reasoning.output_tokens": 60,
        },
    )
    app = tracer("app")
    with app.start_as_current_span("POST /chat", kind=SpanKind.SERVER):
        with app.start_as_current_span("chat claude", kind=SpanKind.CLIENT, attributes=attributes):
            pass


def test_cache_writes_reasoning_and_the_trace_time_are_printed(tmp_path: Path, capsys) -> None:
    spans = record(_cached_call, with_cost=True)
    path = span_file(tmp_path / "cached.jsonl", spans)
    code, report, _ = report_json(capsys, str(path))
    assert code == 0
    [trace] = report["shown"]
    [(entry, totals)] = trace["by_entry"].items()
    assert (totals["input_tokens"], totals["cache_read_tokens"], totals["cache_write_tokens"]) == (10_000, 2_000, 4_000)
    assert (totals["output_tokens"], totals["reasoning_tokens"]) == (100, 60)
    [root] = [span for span in spans if span.parent is None]
    assert root.start_time is not None and root.end_time is not None
    assert trace["duration_s"] == round((root.end_time - root.start_time) / 1e9, 6)
    started = dt.datetime.fromisoformat(trace["start"].replace("Z", "+00:00"))
    assert abs(started.timestamp() - root.start_time / 1e9) < 0.001 and trace["start"].endswith("Z")
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "in 10,000  out 100  cache read 2,000  cache write 4,000  reasoning 60" in out
    assert (
        f"'POST /chat'  ${trace['total_usd']:.6f}  start {trace['start']}  duration {trace['duration_s']:.3f} s" in out
    )
    assert entry in out


def test_the_jaeger_ui_json_gives_the_start_and_duration(tmp_path: Path) -> None:
    span = {"spanID": "cd" * 8, "operationName": "root", "startTime": 1_700_000_000_123_456, "duration": 2_500_000}
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps({"data": [{"traceID": "ab" * 16, "spans": [span]}]}), encoding="utf-8")
    [report] = report_traces(read_span_file(path))
    assert (report.start, report.duration_s) == ("2023-11-14T22:13:20.123Z", 2.5)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.none() | st.integers() | st.text(max_size=20) | st.floats() | st.booleans(),
    start=st.none() | st.integers() | st.text(max_size=25) | st.floats() | st.booleans(),
    end=st.none() | st.integers() | st.text(max_size=25) | st.floats(),
)
def test_any_kind_and_times_never_lose_the_span(tmp_path_factory, kind: object, start: object, end: object) -> None:
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "x",
        "kind": kind,
        "startTimeUnixNano": start,
        "endTimeUnixNano": end,
    }
    path = tmp_path_factory.mktemp("times") / "spans.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}), encoding="utf-8")
    [read] = read_span_file(path)
    [report] = report_traces([read])
    assert report.duration_s is None or report.duration_s >= 0
    render_text([report], [report])


# ------------------------------------------------------------------ 8. huge files


def _read_all(path: Path) -> tuple[list[ExportedSpan], list[str]]:
    try:
        return read_span_file(path), []
    except SpanFileError as exc:
        return exc.spans, exc.problems


def test_each_document_is_read_into_spans_before_the_next_is_parsed(
    tmp_path: Path, demo_lines: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    parse, read = json.JSONDecoder.raw_decode, span_file_module._Reader.document

    def parsing(self: json.JSONDecoder, text: str, index: int = 0) -> tuple[Any, int]:
        events.append("parse")
        return parse(self, text, index)

    def reading(self: Any, document: object) -> None:
        events.append("read")
        read(self, document)

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", parsing)
    monkeypatch.setattr(span_file_module._Reader, "document", reading)
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b"\n".join(demo_lines) + b"\n")
    spans = read_span_file(path)
    assert events == ["parse", "read"] * 3  # not every document parsed first, then read
    assert len(report_traces(spans)) == 3


def test_reading_a_large_file_holds_the_spans_not_the_file(tmp_path: Path, demo_lines: list[bytes]) -> None:
    block = b"\n".join(demo_lines) + b"\n"
    copies = 6_000_000 // len(block) + 1
    path = tmp_path / "large.jsonl"
    path.write_bytes(block * copies)
    size = path.stat().st_size
    spans, held, peak = read_measuring_memory(path)
    assert len(spans) == 16 * 3 * copies
    # Before: the bytes, the text and every parsed document at once, about 7x the file's size.
    # The spans themselves take 0.7-0.85x the file's size (Python 3.10 the most).
    assert peak < 1.5 * size, (size, held, peak)
    assert peak - held < size / 2, (size, held, peak)  # reading on top of the spans kept


@pytest.mark.parametrize("chunk", [1, 7, 500, 1 << 20])
def test_documents_across_chunk_boundaries_read_as_from_one_text(
    tmp_path: Path, demo_lines: list[bytes], monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Pretty-printed and one-a-line documents, CRLF, BOMs (the file's, a concatenated
    file's), a broken document and a byte that is not UTF-8: read a chunk at a time, with
    chunks cut anywhere, the file reads as it did whole."""
    monkeypatch.setattr(span_file_module, "_CHUNK", chunk)
    bom = b"\xef\xbb\xbf"
    pretty = json.dumps(json.loads(demo_lines[0]), indent=2).encode()
    parts = [
        bom + demo_lines[0] + b"\r\n",  # line 1
        pretty + b"\n",  # lines 2-N
        b'{"resourceSpans": [}\n\n',  # broken: reading goes on at the next line opening an object
        demo_lines[1].replace(b'"name": "', b'"name": "\xff', 1) + b"\n\n",
        bom + pretty.replace(b"\n", b"\r\n") + b" " + demo_lines[2] + b"\n",
    ]
    path = tmp_path / "mixed.json"
    path.write_bytes(b"".join(parts))
    spans, problems = _read_all(path)
    broken = 2 + pretty.count(b"\n") + 1
    column = parts[3].index(b"\xff") + 1
    assert problems == [
        f"{path}:{broken}: not JSON: Expecting value (line {broken}, column 20)",
        f"{path}:{broken + 2}: not UTF-8: byte 0xff (line {broken + 2}, column {column})",
    ]
    assert len(spans) == 16 * 4
    assert [report.trace_id for report in report_traces(spans)] == sorted({span.trace_id for span in spans})
    whole = tmp_path / "whole.json"  # one document: named by the file alone
    whole.write_bytes(bom + pretty + b"\n\n")
    assert _read_all(whole) == (spans[16:32], [])


def read_measuring_memory(path: Path) -> tuple[list[ExportedSpan], int, int]:
    """The spans of ``path``, and the memory held after reading it and at its peak (bytes)."""
    tracemalloc.start()
    try:
        spans = read_span_file(path)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return spans, held, peak
