"""``genai-cost report`` on span files that are not all UTF-8 (F10).

Each test failed before its fix, except those marked "(a guard)": they held before and must
still hold (files with no span keep their one error; stdin reads as a file does). Two
ways such files come about on Windows: a console-exporter app whose own prints are in the
console's code page (cp1252, Latin-1: Python writes its prints, when redirected, in the
locale's encoding, while the SDK's spans are ASCII), and PowerShell 5.1's ``>``, which
writes everything as UTF-16 LE with a BOM. One byte that was not UTF-8 in the first line
rejected the whole file as "OTLP protobuf perhaps", and so did every UTF-16 file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import genai_cost.span_file as span_file_module
from genai_cost.cli import main
from genai_cost.demo import run_demo, write_span_file
from genai_cost.span_file import ExportedSpan, SpanFileError, read_span_stream
from test_report_audit import read_measuring_memory
from test_report_input import _console_spans, assert_stdin_reads_as_the_file

BIN = str(Path(sys.executable).parent / "genai-cost")
STDIN = "<stdin>"
OUTPUT = "the application's output, not a span"


def _console() -> bytes:
    """The spans of two traces, as the SDK's ConsoleSpanExporter prints them (ASCII)."""
    return "".join(_console_spans()).encode()


@pytest.fixture(scope="module")
def demo_jsonl(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The demo's trace, as the collector's file exporter writes it."""
    path = tmp_path_factory.mktemp("demo") / "demo.json"
    write_span_file(run_demo().spans, path)
    return path.read_bytes()


def _read(data: bytes, name: str = STDIN, output: list[str] | None = None) -> tuple[list[ExportedSpan], list[str]]:
    try:
        return read_span_stream(io.BytesIO(data), name, application_output=output), []
    except SpanFileError as exc:
        return exc.spans, exc.problems


def _report(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, Any], list[str]]:
    code = main(["report", str(path), "--json", "--top", "0"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err.splitlines()


def _cli_stdin(data: bytes) -> tuple[int, dict[str, Any], list[str]]:
    result = subprocess.run(
        [BIN, "report", "-", "--json", "--top", "0"], input=data, capture_output=True, timeout=120, check=False
    )
    out = json.loads(result.stdout) if result.stdout else {}
    return result.returncode, out, result.stderr.decode().splitlines()


def _same_report(got: dict[str, Any], want: dict[str, Any]) -> bool:
    keys = ("traces", "total_usd", "by_category", "unpriced_spans", "not_priced_here_spans")
    return {key: got[key] for key in keys} == {key: want[key] for key in keys}


# ------------------------------------------------------------------ 1. a line that is not UTF-8


LATIN1_LOG = "Démarrage de l'agent: modèle gpt-4o\n".encode("latin-1")  # (é is 0xe9, è 0xe8)


def test_a_latin1_line_before_the_console_spans_is_the_applications_output(tmp_path: Path, capsys) -> None:
    """`python app.py > out.txt` on a Windows console: the app's first print is in cp1252,
    the spans after it in ASCII. Before: `not text: not UTF-8 from the start, OTLP protobuf
    perhaps`, no totals at all. Now the line is said once, by its line, as the application's
    other prints are, and the exit code is 0 as for them."""
    clean = tmp_path / "clean.out"
    clean.write_bytes(_console())
    code, want, err = _report(capsys, clean)
    assert (code, err) == (0, [])
    path = tmp_path / "console.out"
    path.write_bytes(LATIN1_LOG + _console())
    code, got, err = _report(capsys, path)
    said = (
        f"{path}:1: {OUTPUT}: \"D\ufffdmarrage de l'agent: mod\ufffdle gpt-4o\""
        " (line 1 skipped; not UTF-8: byte 0xe9 at line 1, column 2)"
    )
    assert (code, got["problems"], got["skipped_output"]) == (0, [], [said])
    assert err == [f"genai-cost report: {said}"]
    assert _same_report(got, want) and got["traces"] == 2


def test_latin1_lines_anywhere_among_console_spans_are_the_applications_output(capsys, tmp_path: Path) -> None:
    """Between the spans, not only before them: each run of lines named once, by its lines;
    a structured log line in Latin-1 too, as the same line in UTF-8 is."""
    spans = _console_spans()
    log_line = '{"level": "info", "event": "étape finie"}\n'.encode("latin-1")
    data = spans[0].encode() + LATIN1_LOG + b"plain ASCII\n" + spans[1].encode() + log_line + "".join(spans[2:]).encode()
    path = tmp_path / "console.out"
    path.write_bytes(data)
    code, report, err = _report(capsys, path)
    first = spans[0].count("\n") + 1
    second = first + 2 + spans[1].count("\n")
    column = log_line.index(b"\xe9") + 1
    assert (code, report["problems"]) == (0, [])
    assert report["skipped_output"] == [
        f"{path}:{first}: {OUTPUT}: \"D\ufffdmarrage de l'agent: mod\ufffdle gpt-4o\""
        f" (lines {first}-{first + 1} skipped; not UTF-8: byte 0xe9 at line {first}, column 2)",
        f"{path}:{second}: {OUTPUT}: '{{\"level\": \"info\", \"event\": \"\ufffdtape finie\"}}'"
        f" (a JSON object, no span in it; not UTF-8: byte 0xe9 at line {second}, column {column})",
    ]
    assert len(err) == 2
    assert report["traces"] == 2


def test_a_latin1_line_in_a_collector_file_is_a_problem_and_the_spans_after_it_count(
    tmp_path: Path, capsys, demo_jsonl: bytes
) -> None:
    """Only console output shares its stream with the application: in a collector's file the
    line is a problem (exit 2), named as a byte that is not UTF-8 anywhere else in a file is;
    but the spans after it are read."""
    path = tmp_path / "spans.jsonl"
    path.write_bytes(LATIN1_LOG + demo_jsonl)
    code, report, err = _report(capsys, path)
    assert code == 2
    assert report["problems"] == [f"{path}:1: not UTF-8: byte 0xe9 (line 1, column 2)"]
    assert report["skipped_output"] == []
    assert (report["traces"], report["total_usd"]) == (1, 0.142)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(LATIN1_LOG * 3, id="latin1-text"),
        pytest.param(b"\x0a\x8c\x01\x12\x00\x00\x01\n{\n", id="protobuf-like"),
        pytest.param(LATIN1_LOG + b'{"resourceSpans": []}\n', id="latin1-then-no-span"),
    ],
)
def test_a_file_with_no_span_that_is_not_text_from_the_start_is_still_named_as_such(
    tmp_path: Path, capsys, content: bytes
) -> None:
    """(A guard.) A file with no span in it keeps its one clear error: what the file seems to
    be, not a problem for each of its lines."""
    path = tmp_path / "spans.bin"
    path.write_bytes(content)
    code, report, err = _report(capsys, path)
    assert (code, report) == (2, {})
    assert err[0].startswith(f"genai-cost report: {path}: not text: ")
    assert "OTLP protobuf perhaps" in err[0]
    assert err[1:] == ["genai-cost report: no totals: a file could not be read at all"]


def test_a_colored_log_line_before_the_console_spans_is_the_applications_output(tmp_path: Path, capsys) -> None:
    """An ANSI color code (ESC, a control character) in the first line read as binary data
    ("OTLP protobuf perhaps") just as a byte that is not UTF-8 did."""
    path = tmp_path / "console.out"
    path.write_bytes(b"\x1b[32mINFO\x1b[0m starting\n" + _console())
    code, report, _ = _report(capsys, path)
    assert (code, report["problems"], report["traces"]) == (0, [], 2)
    assert report["skipped_output"] == [f"{path}:1: {OUTPUT}: '\\x1b[32mINFO\\x1b[0m starting' (line 1 skipped)"]


# ------------------------------------------------------------------ 2. UTF-16 (PowerShell's `>`)


ENCODINGS = [
    pytest.param("utf-16", id="utf-16-le-bom"),  # (Python writes the machine's order: LE here)
    pytest.param("utf-16-be-bom", id="utf-16-be-bom"),
    pytest.param("utf-8-sig", id="utf-8-bom"),  # (a guard)
    pytest.param("utf-32", id="utf-32-bom"),
    pytest.param("utf-16-le", id="utf-16-le-no-bom"),
    pytest.param("utf-16-be", id="utf-16-be-no-bom"),
]


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.mark.parametrize("kind", ["console", "collector"])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_a_utf16_file_reads_as_its_utf8(tmp_path: Path, capsys, demo_jsonl: bytes, encoding: str, kind: str) -> None:
    """`python app.py > out.txt` in Windows PowerShell 5.1 writes UTF-16 LE with a BOM and
    CRLF line ends. Before: `not text: binary data, OTLP protobuf perhaps`. With a BOM (UTF-16
    either way round, UTF-32, UTF-8) the file is read as the text it is; with none, as
    UTF-16 only when its first bytes are clearly that (ASCII text, every other byte 0)."""
    text = ("starting the app\n" + _console().decode() if kind == "console" else demo_jsonl.decode()).replace(
        "\n", "\r\n"
    )
    utf8 = tmp_path / "utf8.out"
    utf8.write_bytes(text.encode())
    code, want, err = _report(capsys, utf8)
    assert code == 0
    path = tmp_path / "encoded.out"
    path.write_bytes(_encode(text, encoding))
    code, got, err = _report(capsys, path)
    assert code == 0, err
    assert _same_report(got, want) and got["traces"] == (2 if kind == "console" else 1)
    assert got["skipped_output"] == [said.replace(str(utf8), str(path)) for said in want["skipped_output"]]
    # Standard input reads the same.
    code, from_stdin, err = _cli_stdin(_encode(text, encoding))
    assert code == 0, err
    assert _same_report(from_stdin, want)
    assert from_stdin["skipped_output"] == [said.replace(str(utf8), STDIN) for said in want["skipped_output"]]


def test_problems_in_a_utf16_file_are_named_by_file_and_line_as_in_utf8(tmp_path: Path, demo_jsonl: bytes) -> None:
    text = "starting\r\n" + demo_jsonl.decode() + '{"resourceSpans": [}\r\n' + demo_jsonl.decode()
    utf8, utf16 = tmp_path / "utf8.json", tmp_path / "utf16.json"
    utf8.write_bytes(text.encode())
    utf16.write_bytes(text.encode("utf-16"))
    spans, problems = _read(utf8.read_bytes(), str(utf8))
    assert len(problems) == 2 and len(spans) == 32
    assert _read(utf16.read_bytes(), str(utf16)) == (spans, [p.replace(str(utf8), str(utf16)) for p in problems])


def test_a_utf16_file_with_no_span_says_no_spans_not_binary(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes("\n".encode("utf-16"))
    code, _, err = _report(capsys, path)
    assert code == 2
    assert err[0] == f"genai-cost report: {path}: no spans: the file is empty"
    path.write_bytes('{"resourceSpans": []}\r\n'.encode("utf-16"))
    code, _, err = _report(capsys, path)
    assert err[0] == f"genai-cost report: {path}: no spans: the file holds none"


def test_a_large_utf16_file_is_read_a_chunk_at_a_time(tmp_path: Path, demo_jsonl: bytes) -> None:
    """As a UTF-8 file is (test_report_audit): memory follows the spans kept, not the file."""
    block = demo_jsonl.decode().encode("utf-16-le")
    copies = 8_000_000 // len(block) + 1
    path = tmp_path / "large.json"
    with path.open("wb") as file:
        file.write(b"\xff\xfe")
        for _ in range(copies):
            file.write(block)
    size = path.stat().st_size
    spans, held, peak = read_measuring_memory(path)
    assert len(spans) == 16 * copies
    assert peak - held < size / 3, (size, held, peak)


# ------------------------------------------------------------------ 3. standard input reads the same


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(LATIN1_LOG + _console(), id="latin1-console"),
        pytest.param(LATIN1_LOG * 2, id="latin1-no-span"),
        pytest.param(("hi\r\n" + _console().decode()).encode("utf-16"), id="utf-16-bom"),
        pytest.param(_console().decode().encode("utf-16-be"), id="utf-16-be-no-bom"),
        pytest.param("hi\n{broken\n".encode("utf-16"), id="utf-16-broken"),
    ],
)
def test_stdin_reads_these_files_as_a_file_with_stdin_named(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    """(A guard: stdin refused these as the file was refused; now both read them alike.)"""
    assert_stdin_reads_as_the_file(tmp_path / "spans.out", content, capsys, monkeypatch)


def test_a_latin1_line_before_console_spans_piped_to_report_dash(tmp_path: Path) -> None:
    """`app | genai-cost report -`, the process itself reading its standard input."""
    code, report, err = _cli_stdin(LATIN1_LOG + _console())
    assert (code, report["problems"], report["traces"]) == (0, [], 2)
    assert [said.split(" (")[0] for said in report["skipped_output"]] == [
        f"{STDIN}:1: {OUTPUT}: \"D\ufffdmarrage de l'agent: mod\ufffdle gpt-4o\""
    ]
    assert err == [f"genai-cost report: {said}" for said in report["skipped_output"]]


# ------------------------------------------------------------------ 4. properties


_SPAN_COUNT = 10  # (len(_console_spans()))
#: Opening bytes read as an encoding or a compressed file, not as text.
_SIGNATURES = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xef\xbb\xbf")
_junk_line = st.binary(max_size=40).map(lambda line: line.replace(b"\n", b"")) | st.sampled_from(
    [LATIN1_LOG.rstrip(b"\n"), b"\x1b[1mbold\x1b[0m", b"\x00\x01\x02", b"\xff" * 3, b"{\xe9", b"\xe9{", b"\r{"]
)
_item = st.integers(0, _SPAN_COUNT - 1) | st.lists(_junk_line, min_size=1, max_size=3)


def _assemble(items: list[int | list[bytes]]) -> tuple[bytes, list[int], set[int]]:
    """The bytes of console spans with junk lines among them; the spans printed, and the
    lines of junk that is not blank."""
    spans = _console_spans()
    data, printed, junk = b"", [], set()
    for item in [*items, 0]:  # (at least one span)
        if isinstance(item, int):
            data += spans[item].encode()
            printed.append(item)
            continue
        for line in item:
            if line.strip(b" \t\r"):
                junk.add(data.count(b"\n") + 1)
            data += line + b"\n"
    return data, printed, junk


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_item, max_size=6), chunk=st.sampled_from([1, 7, 300, 1 << 20]))
@example(items=[[LATIN1_LOG.rstrip(b"\n")]], chunk=1 << 20)
@example(items=[[b"\x00\x01\x02"], 3, [b"\xe9{"], 4], chunk=7)
def test_any_bytes_as_lines_among_console_spans_never_lose_a_span(items: list[int | list[bytes]], chunk: int) -> None:
    """Lines of any bytes at all (not UTF-8, control characters, NUL) before, between and
    after the spans: reading raises nothing but SpanFileError, every span printed is read as
    it reads alone, and everything said (as a problem or as the application's output) names
    a junk line, by its number."""
    data, printed, junk = _assemble(items)
    assume(not data.startswith(_SIGNATURES))
    output: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_file_module, "_CHUNK", chunk)
        spans, problems = _read(data, STDIN, output)
    alone = [span for i in printed for span in _read(_console_spans()[i].encode())[0]]
    assert spans == alone
    for said in problems + output:
        assert said.startswith(f"{STDIN}:"), said
        assert int(said.split(":", 2)[1]) in junk, (said, junk)
    # Junk with no object or array in it is never a problem among console spans.
    opening = {n for n, line in enumerate(data.split(b"\n"), 1) if b"{" in line or b"[" in line}
    assert all(int(problem.split(":", 2)[1]) in opening for problem in problems), problems


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), chunk=st.sampled_from([1, 7, 1 << 20]), bom=st.sampled_from(_SIGNATURES + (b"",)))
def test_any_bytes_after_any_signature_are_read_or_refused_with_the_input_named(
    data: bytes, chunk: int, bom: bytes
) -> None:
    """(A guard, now that a BOM picks the decoder and a guess at binary data waits for the end.)"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_file_module, "_CHUNK", chunk)
        spans, problems = _read(bom + data)
    assert spans or problems
    assert all(problem.startswith(STDIN) for problem in problems)


_text_line = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.integers(0, _SPAN_COUNT - 1) | st.lists(_text_line, min_size=1, max_size=2), max_size=5),
    encoding=st.sampled_from(["utf-16", "utf-16-be-bom", "utf-32", "utf-8-sig"]),
    chunk=st.sampled_from([1, 7, 300, 1 << 20]),
    crlf=st.booleans(),
)
# UTF-16's BOM and a NUL: UTF-32's little-endian BOM, unless what follows is no UTF-32.
@example(items=[["\x00"]], encoding="utf-16", chunk=1, crlf=False)
def test_any_console_text_reads_the_same_in_utf16_as_in_utf8(
    items: list[int | list[str]], encoding: str, chunk: int, crlf: bool
) -> None:
    """Text of any characters between the spans, read from UTF-16 (or UTF-32, or UTF-8 with
    a BOM), a chunk at a time: the same spans, the same problems, the same output said, as
    from its UTF-8 without a BOM."""
    spans = _console_spans()
    text = "".join(spans[item] if isinstance(item, int) else "".join(line + "\n" for line in item) for item in items)
    text = (text + spans[0]).replace("\n", "\r\n") if crlf else text + spans[0]
    assume(not text.startswith("\ufeff"))  # (a second BOM: text, read as U+FEFF either way)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(span_file_module, "_CHUNK", chunk)
        want_output: list[str] = []
        want = _read(text.encode(), STDIN, want_output)
        got_output: list[str] = []
        got = _read(_encode(text, encoding), STDIN, got_output)
    assert got == want
    assert got_output == want_output
