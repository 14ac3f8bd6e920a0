"""``genai-cost report``'s input: standard input (``-``) and what the OpenTelemetry SDK's own
``ConsoleSpanExporter`` prints.

Each test failed before its fix: ``-`` was read as a file named ``-``, and the stdout of a
process run with ``OTEL_TRACES_EXPORTER=console`` (the one span format a user of
``opentelemetry-instrument`` has with no collector) was refused, span by span, as "not OTLP
JSON". The console output here is the real SDK's (``ConsoleSpanExporter`` behind
genai-cost's processor and roll-up, or behind nothing, for a service that does not run
genai-cost), compared with the OTLP JSON of the very same spans
(:func:`genai_cost.demo.write_span_file`): a report must not depend on how the spans were
written out."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind

import genai_cost.span_file as span_file_module
from genai_cost.cli import main
from genai_cost.demo import run_demo, write_span_file
from genai_cost.span_file import ExportedSpan, SpanFileError, read_span_stream
from support.spans import chat_attributes
from test_report_audit import export_through

BIN = str(Path(sys.executable).parent / "genai-cost")
STDIN = "<stdin>"

Build = Callable[[Callable[[str], trace_api.Tracer]], None]


class _Writes(io.StringIO):
    """The console exporter's ``out``: its text, and each ``write`` (one per span) apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


class _Both(SpanExporter):
    """The SDK's ConsoleSpanExporter and a list of the same spans (for their OTLP JSON)."""

    def __init__(self, out: io.StringIO) -> None:
        self.console = ConsoleSpanExporter(out=out)
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return self.console.export(spans)


def record(build: Build, out: io.StringIO, *, with_cost: bool) -> list[ReadableSpan]:
    """``build``'s spans printed on ``out`` by the SDK's ConsoleSpanExporter, behind
    genai-cost's processor and roll-up or behind nothing; returns the spans printed."""
    both = _Both(out)
    export_through(both, build, with_cost=with_cost)
    return both.spans


def _agent(tracer: Callable[[str], trace_api.Tracer]) -> None:
    """A priced call, a cached one, one the catalog does not know, and a remote agent."""
    app = tracer("app")
    with app.start_as_current_span("invoke_agent research", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with app.start_as_current_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=chat_attributes("gpt-4o", "openai")
        ):
            pass
        cached = chat_attributes("gpt-4o-mini", "openai", **{"gen_ai.usage.cache_read_input_tokens": 600})
        with app.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=cached):
            pass
        with app.start_as_current_span(
            "chat no-such-model", kind=SpanKind.CLIENT, attributes=chat_attributes("no-such-model", "openai")
        ):
            pass
        _remote_agent(app)


def _remote_agent(app: trace_api.Tracer) -> None:
    """An ``invoke_agent`` CLIENT span with usage is a call (its kind read from the file);
    an INTERNAL one is not (with no call below it, the processor flags it
    ``unrecorded_calls``)."""
    usage = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 2_000,
        "gen_ai.usage.output_tokens": 100,
    }
    with app.start_as_current_span("invoke_agent remote", kind=SpanKind.CLIENT, attributes=usage):
        pass
    with app.start_as_current_span("invoke_agent local", kind=SpanKind.INTERNAL, attributes=usage):
        pass


def _unpriced_service(tracer: Callable[[str], trace_api.Tracer]) -> None:
    """A service that does not run genai-cost: its billable spans have no cost attributes."""
    app = tracer("other")
    with app.start_as_current_span("POST /ask", kind=SpanKind.SERVER):
        with app.start_as_current_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=chat_attributes("gpt-4o", "openai")
        ):
            pass
        _remote_agent(app)


def _both_outputs(tmp_path: Path) -> tuple[Path, Path]:
    """The same spans printed by the SDK's ConsoleSpanExporter and written as OTLP JSON."""
    out = io.StringIO()
    spans = record(_agent, out, with_cost=True) + record(_unpriced_service, out, with_cost=False)
    console = tmp_path / "console.out"
    console.write_text(out.getvalue(), encoding="utf-8")
    otlp = tmp_path / "otlp.json"
    write_span_file(spans, otlp)
    return console, otlp


def report_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["report", *args, "--json", "--top", "0"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _timeless(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the root's start and duration, which the console exporter prints
    to the microsecond (through a float), not the nanosecond."""
    return {**report, "shown": [{**trace, "start": None, "duration_s": None} for trace in report["shown"]]}


# ------------------------------------------------------------------ 1. the console exporter's output


def test_the_console_exporters_output_reports_as_the_otlp_json_of_the_same_spans(tmp_path: Path, capsys) -> None:
    console, otlp = _both_outputs(tmp_path)
    code, from_console, err = report_json(capsys, str(console))
    assert (code, err) == (0, "")
    code, from_otlp, _ = report_json(capsys, str(otlp))
    assert code == 0
    assert _timeless(from_console) == _timeless(from_otlp)
    # (not equal by being empty: both name what was priced, what was not, and what no genai-cost saw)
    assert from_console["traces"] == 2 and from_console["total_usd"] > 0
    assert from_console["unpriced_spans"] == 2  # no-such-model, and the local agent's unrecorded calls
    not_priced = [note["name"] for trace in from_console["shown"] for note in trace["not_priced_here"]]
    assert sorted(not_priced) == ["chat gpt-4o", "invoke_agent local", "invoke_agent remote"]
    priced = next(trace for trace in from_console["shown"] if trace["total_usd"])
    assert priced["by_entry"]["openai/gpt-4o-mini"]["cache_read_tokens"] == 600
    for shown, otlp_shown in zip(from_console["shown"], from_otlp["shown"]):
        assert abs(_moment(shown["start"]) - _moment(otlp_shown["start"])) <= dt.timedelta(milliseconds=1)
        assert abs(shown["duration_s"] - otlp_shown["duration_s"]) <= 2e-6


def _moment(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_each_console_span_reads_as_its_otlp_json_reads(tmp_path: Path) -> None:
    """Attribute by attribute (``gen_ai.cost.*`` and ``gen_ai.trace.cost.*`` included), ids,
    parent, name and kind; times to the microsecond the SDK prints. Only what the console
    exporter does not print is missing: the instrumentation scope and its version."""
    console, otlp = _both_outputs(tmp_path)
    by_id = {span.span_id: span for span in _read(otlp.read_bytes(), str(otlp))[0]}
    spans, problems = _read(console.read_bytes())
    assert problems == [] and len(spans) == len(by_id) == 10
    for span in spans:
        expected = by_id[span.span_id]
        assert span.attributes == expected.attributes
        assert (span.trace_id, span.parent_span_id, span.name, span.kind) == (
            expected.trace_id,
            expected.parent_span_id,
            expected.name,
            expected.kind,
        )
        for got, want in ((span.start_ns, expected.start_ns), (span.end_ns, expected.end_ns)):
            assert got is not None and want is not None and abs(got - want) <= 1000
        assert (span.scope, span.scope_version) == (None, None)  # (not printed)
        assert expected.scope in ("app", "other")
    costs = [span.attributes for span in spans if "gen_ai.cost.total_usd" in span.attributes]
    assert len(costs) == 3 and all(isinstance(cost["gen_ai.cost.total_usd"], float) for cost in costs)
    assert any(key.startswith("gen_ai.trace.cost.") for span in spans for key in span.attributes)


def _read(data: bytes, name: str = STDIN) -> tuple[list[ExportedSpan], list[str]]:
    try:
        return read_span_stream(io.BytesIO(data), name), []
    except SpanFileError as exc:
        return exc.spans, exc.problems


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"usd": 0.5}, "a JSON object"),
        (None, "no value"),
        (10**30, "not an int64 value: an integer of 31 digits"),
    ],
)
def test_a_cost_the_console_output_holds_but_that_cannot_be_read_is_unpriced_never_0(
    tmp_path: Path, capsys, value: object, why: str
) -> None:
    out = _Writes()
    record(_agent, out, with_cost=True)
    spans = [json.loads(text) for text in out.writes]
    [priced] = [span for span in spans if span["name"] == "chat gpt-4o"]
    assert priced["attributes"]["gen_ai.cost.total_usd"] == 0.0035  # (as the processor wrote it)
    priced["attributes"]["gen_ai.cost.total_usd"] = value
    texts = [json.dumps(span, indent=4) + "\n" for span in spans]
    path = tmp_path / "console.out"
    path.write_text("".join(texts), encoding="utf-8")
    code, report, _ = report_json(capsys, str(path))
    [trace] = report["shown"]
    assert [(note["name"], note["reason"]) for note in trace["unpriced"]] == [
        ("chat gpt-4o", "invalid_cost"),
        ("chat no-such-model", "unknown_model"),
        ("invoke_agent local", "unrecorded_calls"),  # its usage the only record of its calls
    ]
    assert why in trace["unpriced"][0]["detail"]
    assert trace["by_entry"]["openai/gpt-4o"]["input_tokens"] == 2_000  # (the remote agent's call alone)
    if isinstance(value, int):  # named as a problem too, as OTLP's intValue is
        line = 1 + "".join(texts[: spans.index(priced)]).count("\n")
        assert code == 2
        assert report["problems"] == [f"{path}:{line}: attributes.gen_ai.cost.total_usd: {why}"]
    else:
        assert (code, report["problems"]) == (0, [])


# ------------------------------------------------------------------ 2. the application's output among it


def test_stdout_of_an_instrumented_app_read_from_stdin_skips_its_prints_and_names_their_lines(tmp_path: Path) -> None:
    """`OTEL_TRACES_EXPORTER=console python app.py | genai-cost report -`: the application's
    prints are on the same stdout, between the spans, and one may even be cut by a span
    (``print`` writes its line end apart, and the exporter runs in another thread): each is
    named by its lines and skipped, and the spans around them still count."""
    clean, otlp = _both_outputs(tmp_path)
    out = _Writes()

    def app(tracer: Callable[[str], trace_api.Tracer]) -> None:
        out.write("starting the app\n")
        with tracer("app").start_as_current_span("invoke_agent research"):
            out.write("[INFO] calling the model\n42\n{'model': 'gpt-4o'}\n")
            for progress in ("", "progress: 50%"):
                with tracer("app").start_as_current_span(
                    "chat gpt-4o", kind=SpanKind.CLIENT, attributes=chat_attributes("gpt-4o", "openai")
                ):
                    out.write(progress)  # ... and its line end only after the span is printed
                out.write("\n")
        out.write("done")  # the last line, with no line end

    record(app, out, with_cost=True)
    text = out.getvalue()
    lines = text.split("\n")
    cut = next(n for n, line in enumerate(lines, 1) if line.startswith("progress"))
    data = clean.read_bytes() + text.encode()  # after the spans of the clean run
    result = subprocess.run([BIN, "report", "-", "--json"], input=data, capture_output=True, timeout=120, check=False)
    assert result.returncode == 2  # (the line that opens an object: see below)
    report = json.loads(result.stdout)
    offset = clean.read_text().count("\n")
    # The application's prints are expected in console output: said, not problems ...
    output = "the application's output, not a span"
    assert report["skipped_output"] == [
        f"{STDIN}:{offset + 1}: {output}: 'starting the app' (lines {offset + 1}-{offset + 3} skipped)",
        f"{STDIN}:{offset + cut}: {output}: 'progress: 50%' (skipped to line {offset + cut}, column 14)",
        f"{STDIN}:{offset + len(lines)}: {output}: 'done' (line {offset + len(lines)} skipped)",
    ]
    # ... but a line that opens an object is read as a document, and may have been a span.
    assert report["problems"] == [
        f"{STDIN}:{offset + 4}: not JSON: Expecting property name enclosed in double quotes"
        f" (line {offset + 4}, column 2)",
    ]
    assert [f"genai-cost report: {said}" for said in report["problems"] + report["skipped_output"]] == (
        result.stderr.decode().splitlines()
    )
    assert report["traces"] == 3  # the two of the clean run, and the app's, with its call priced
    [app_trace] = [trace for trace in report["shown"] if trace["spans"] == 3]
    assert app_trace["by_entry"]["openai/gpt-4o"]["calls"] == 2
    from_otlp = json.loads(
        subprocess.run([BIN, "report", str(otlp), "--json", "--top", "0"], capture_output=True, check=False).stdout
    )
    assert report["total_usd"] == pytest.approx(from_otlp["total_usd"] + app_trace["total_usd"])


def test_console_output_whose_only_other_lines_are_the_applications_prints_exits_0(tmp_path: Path) -> None:
    """`opentelemetry-instrument python app.py | genai-cost report -` exited 2 whenever the
    application printed anything, so a script could not tell that from a lost span."""
    out = _Writes()

    def app(tracer: Callable[[str], trace_api.Tracer]) -> None:
        out.write("starting the app\n")
        _agent(tracer)
        out.write("[INFO] done\n")

    record(app, out, with_cost=True)
    result = subprocess.run(
        [BIN, "report", "-"], input=out.getvalue().encode(), capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines() == [
        f"genai-cost report: {STDIN}:1: the application's output, not a span: 'starting the app' (line 1 skipped)",
        f"genai-cost report: {STDIN}:{out.getvalue().count(chr(10))}: the application's output, not a span:"
        " '[INFO] done' (line " + str(out.getvalue().count(chr(10))) + " skipped)",
    ]
    assert "1 trace(s)" in result.stdout.decode()


def test_json_log_lines_among_console_spans_are_the_applications_output(tmp_path: Path) -> None:
    """A structured logger (structlog, python-json-logger) prints JSON objects on the same
    stdout: each was a problem (``not OTLP JSON``), so every run exited 2. An object with a
    key of a span in it may be a broken span, and stays a problem."""
    out = _Writes()

    def app(tracer: Callable[[str], trace_api.Tracer]) -> None:
        out.write('{"level": "info", "event": "starting"}\n')
        _agent(tracer)
        out.write('{"level": "info", "event": "done", "took_ms": 12}\n')

    record(app, out, with_cost=True)
    lines = out.getvalue().count("\n")
    result = subprocess.run([BIN, "report", "-", "--json"], input=out.getvalue().encode(), capture_output=True, timeout=120, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["problems"] == []
    assert report["skipped_output"] == [
        f"{STDIN}:1: the application's output, not a span: '{{\"level\": \"info\", \"event\": \"starting\"}}'"
        " (a JSON object, no span in it)",
        f"{STDIN}:{lines}: the application's output, not a span:"
        " '{\"level\": \"info\", \"event\": \"done\", \"took_ms\": 12}' (a JSON object, no span in it)",
    ]
    assert report["traces"] == 1
    broken = out.getvalue().replace('"event": "done"', '"span_id": "0x01"').encode()
    result = subprocess.run([BIN, "report", "-", "--json"], input=broken, capture_output=True, timeout=120, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 2
    assert report["problems"] == [f"{STDIN}:{lines}: not OTLP JSON: expected an object with 'resourceSpans'"]


def test_the_sdks_console_metrics_among_console_spans_are_named_as_such() -> None:
    """OTEL_METRICS_EXPORTER=console beside the spans' console exporter: its JSON was quoted
    as "the application's output"."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

    out = _Writes()
    record(lambda tracer: _agent(tracer), out, with_cost=True)
    meters = MeterProvider(metric_readers=[PeriodicExportingMetricReader(ConsoleMetricExporter(out=out))])
    meters.get_meter("app").create_counter("requests").add(1)
    meters.shutdown()  # the last collection, printed as the SDK prints it at exit
    lines = out.getvalue().count("\n")
    result = subprocess.run([BIN, "report", "-", "--json"], input=out.getvalue().encode(), capture_output=True,
                            timeout=120, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["traces"] == 1
    assert report["problems"] == []
    [said] = report["skipped_output"]
    assert said.startswith(f"{STDIN}:") and said.endswith(": the SDK's console metrics, not spans: skipped"), said
    assert int(said.split(":")[1]) <= lines


def test_a_json_object_in_a_collector_file_is_still_a_problem(tmp_path: Path, capsys) -> None:
    demo = tmp_path / "demo.json"
    write_span_file(run_demo().spans, demo)
    demo.write_bytes(b'{"level": "info"}\n' + demo.read_bytes())
    assert main(["report", str(demo), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [f"{demo}:1: not OTLP JSON: expected an object with 'resourceSpans'"]
    assert report["skipped_output"] == []


def test_text_among_otlp_json_is_still_a_problem(tmp_path: Path, capsys) -> None:
    """Only the console exporter's output shares a stream with the application: text in a
    collector's file means the file is damaged."""
    demo = tmp_path / "demo.json"
    write_span_file(run_demo().spans, demo)
    demo.write_bytes(b"starting the app\n" + demo.read_bytes())
    code = main(["report", str(demo), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2
    assert report["problems"] == [f"{demo}:1: not a JSON object: 'starting the app' (line 1 skipped)"]
    assert report["skipped_output"] == []
    assert report["total_usd"] == 0.142


# ------------------------------------------------------------------ 3. standard input


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="demo"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\n \n", id="blank"),
        pytest.param(b"\x1f\x8b\x08\x00\x00", id="gzip"),
        pytest.param(b"\x0a\x8c\x01\x12\x00\x00\x01", id="protobuf"),
        pytest.param(b"not json\n", id="text"),
        pytest.param(b'{"resourceSpans": []}\n\xff\n', id="not-utf8"),
        pytest.param(b'{"resourceSpans": [}\n', id="broken"),
    ],
)
def test_stdin_reads_as_a_file_with_the_same_problems_named_by_stdin(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, content: bytes | None
) -> None:
    if content is None:
        demo = tmp_path / "demo.json"
        write_span_file(run_demo().spans, demo)
        content = demo.read_bytes() + b"{not json\n"
    assert_stdin_reads_as_the_file(tmp_path / "spans.json", content, capsys, monkeypatch)


def assert_stdin_reads_as_the_file(path: Path, content: bytes, capsys, monkeypatch) -> None:
    """``report -`` given ``content`` prints what ``report path`` does, stdin named for the file."""
    path.write_bytes(content)
    from_file = main(["report", str(path), "--json"]), capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))
    from_stdin = main(["report", "-", "--json"]), capsys.readouterr()
    assert from_stdin[0] == from_file[0]
    assert from_stdin[1].out == from_file[1].out.replace(json.dumps(str(path))[1:-1], STDIN)
    assert from_stdin[1].err == from_file[1].err.replace(str(path), STDIN)
    assert STDIN in from_stdin[1].err or not from_file[1].err


def test_dash_is_stdin_once_and_a_file_named_dash_is_read_as_a_file(tmp_path: Path) -> None:
    demo = tmp_path / "-"
    write_span_file(run_demo().spans, demo)
    console, _ = _both_outputs(tmp_path)
    data = console.read_bytes()
    result = subprocess.run(
        [BIN, "report", "-", "./-", "--json"], input=data, capture_output=True, cwd=tmp_path, timeout=120, check=False
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert json.loads(result.stdout)["traces"] == 3
    result = subprocess.run([BIN, "report", "-", "-"], input=data, capture_output=True, timeout=120, check=False)
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr.decode() == "genai-cost report: - (standard input) can be given only once\n"


# ------------------------------------------------------------------ 4. any text between the spans


@cache
def _console_spans() -> tuple[str, ...]:
    """Spans as the real SDK's ConsoleSpanExporter prints them, one text each."""
    out = _Writes()
    record(_agent, out, with_cost=True)
    record(_unpriced_service, out, with_cost=False)
    return tuple(out.writes)


_garbage_line = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40) | st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ",",
        "[1,",
        '{"a":',
        "null",
        "42",
        "3 apples",
        "{'model': 'gpt-4o'}",
        '"unterminated',
        '"a string"',
        "[INFO] starting",
        '{"resourceSpans": 5}',
        '{"level": "info", "msg": "a JSON log line"}',
        "[]",
        "\ufeff",
        "Traceback (most recent call last):",
    ]
)
_item = st.tuples(st.just("span"), st.integers(0, 9)) | st.tuples(
    st.sampled_from(["lines", "cut"]), st.lists(_garbage_line, min_size=1, max_size=3)
)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_item, min_size=1, max_size=8), chunk=st.sampled_from([1, 7, 300, 1 << 20]))
# Text that makes one JSON value of the spans between it: read on inside it.
@example(items=[("lines", ["["]), ("span", 1), ("lines", [","]), ("span", 2), ("lines", ["]"])], chunk=1 << 20)
@example(items=[("cut", ['{"a":']), ("span", 1), ("lines", ["}"])], chunk=7)
# The start of a line cut by a span, at the end of a chunk.
@example(items=[("cut", ["progress: 50%"]), ("span", 3)], chunk=1)
def test_text_between_console_spans_never_loses_a_span_and_is_named_by_its_lines(
    items: list[tuple[str, Any]], chunk: int
) -> None:
    """Whatever an application prints between the spans (whole lines, or the start of a line
    that a span cuts), reading raises nothing but SpanFileError, every span printed whole is
    read as it reads alone, and every problem names a line the application printed."""
    spans = _console_spans()
    text, expected, printed = "", [], set()
    items = [*items, ("span", 0)]  # (at least one span: a lone document is named without a line)
    for n, (kind, value) in enumerate(items):
        if kind == "span":
            text += spans[value]
            expected.append(value)
            continue
        for line in value:
            if line.strip(" \ufeff"):
                printed.add(text.count("\n") + 1)
            text += line + "\n"
        if kind == "cut" and items[n + 1][0] == "span":  # the start of a line, cut by the span after it
            text = text[:-1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_file_module, "_CHUNK", chunk)
        read, problems = _read(text.encode())
    alone = [_read(spans[i].encode())[0] for i in expected]
    assert read == [span for spans_alone in alone for span in spans_alone]
    # Read as `report` reads it, the text skipped is the application's output, not a problem.
    output: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_file_module, "_CHUNK", chunk)
        try:
            again, left = read_span_stream(io.BytesIO(text.encode()), STDIN, application_output=output), []
        except SpanFileError as exc:
            again, left = exc.spans, exc.problems
    assert again == read
    # What is skipped: text that is not JSON, and JSON objects with nothing of a span in them
    # (structured log lines); each problem so skipped is said once, at its place, as output.
    def where(message: str) -> str:
        return message.split(": ", 1)[0]

    skipped_at = [where(said) for said in output]
    assert [problem for problem in problems if where(problem) not in skipped_at] == left
    assert [where(problem) for problem in problems if where(problem) in skipped_at] == skipped_at
    assert all(where(problem) in skipped_at for problem in problems if ": not a JSON object: " in problem)
    assert [
        problem.replace("not a JSON object", "the application's output, not a span")
        for problem in problems
        if ": not a JSON object: " in problem
    ] == [said for said in output if not said.endswith(" (a JSON object, no span in it)")]
    lines = [int(match[1]) for match in (re.match(rf"{re.escape(STDIN)}:(\d+): ", p) for p in problems) if match]
    assert len(lines) == len(problems), problems
    assert set(lines) <= printed
    assert bool(problems) == bool(printed)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.integers(0, 9) | st.text() | st.binary(max_size=8), max_size=6))
def test_any_text_or_bytes_among_console_spans_is_read_or_refused_with_stdin_named(
    parts: list[int | str | bytes],
) -> None:
    """Control characters, bytes that are not UTF-8, anything at all, spans or not: reading
    raises nothing but SpanFileError, whose every problem names the input; spans alone, one
    after another, are read with no problem."""
    spans = _console_spans()
    texts = [spans[part] if isinstance(part, int) else part for part in parts]
    data = b"".join(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass") for text in texts)
    read, problems = _read(data)
    assert all(problem.startswith(STDIN) for problem in problems)
    assert read or problems
    if parts and all(isinstance(part, int) for part in parts):  # spans alone: read, one each
        assert (len(read), problems) == (len(parts), [])
