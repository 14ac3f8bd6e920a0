"""``genai-cost report`` on a file it cannot read at all: no totals, only the error.

"0 trace(s), $0.0000 in all" on stdout before the error reads as a real $0 to a script
that ignores the exit code. A file that cannot be read at all (missing, empty, not OTLP)
gives no totals, only its problem on stderr and exit 2; a file with some bad lines still
reports what was read (tests/test_report.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from genai_cost.cli import main
from genai_cost.demo import run_demo, write_span_file

BIN = str(Path(sys.executable).parent / "genai-cost")


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.json"
    write_span_file(run_demo().spans, path)
    return path


UNREADABLE = {
    "missing": (None, "cannot read span file: No such file or directory"),
    "empty": ("", "no spans: the file is empty"),
    "not-json": ("{bad\n", "not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    "a-list": ("[]\n", "not OTLP JSON: expected an object with 'resourceSpans'"),
    "bad-field": ('{"resourceSpans": 5}\n', "resourceSpans: Input should be a valid list"),
    "no-spans": ('{"resourceSpans": []}\n', "no spans: the file holds none"),
}


def _unreadable(tmp_path: Path, case: str) -> tuple[Path, str]:
    content, problem = UNREADABLE[case]
    path = tmp_path / f"{case}.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    where = f"{path}:1" if case == "not-json" else str(path)
    return path, f"genai-cost report: {where}: {problem}"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("case", list(UNREADABLE))
def test_a_file_that_cannot_be_read_gives_no_totals_only_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, as_json: bool
) -> None:
    path, problem = _unreadable(tmp_path, case)
    assert main(["report", str(path), *(["--json"] if as_json else [])]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{problem}\ngenai-cost report: no totals: a file could not be read at all\n"


def test_the_audit_repro_prints_nothing_on_stdout(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    for extra in ([], ["--json"]):
        result = subprocess.run(
            [BIN, "report", missing, *extra], capture_output=True, text=True, timeout=120, check=False
        )
        assert (result.returncode, result.stdout) == (2, "")
        assert f"genai-cost report: {missing}: cannot read span file: No such file or directory" in result.stderr


def test_one_unreadable_file_among_good_ones_gives_no_partial_totals(
    tmp_path: Path, demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    assert main(["report", str(demo_file), str(missing), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{missing}: cannot read span file" in captured.err


def test_bad_lines_next_to_good_ones_still_report_what_was_read(
    tmp_path: Path, demo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "collector.jsonl"
    path.write_text(demo_file.read_text(encoding="utf-8").strip() + "\n{not json\n", encoding="utf-8")
    assert main(["report", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    report: dict[str, Any] = json.loads(captured.out)
    assert (report["traces"], report["total_usd"]) == (1, 0.142)
    assert report["problems"] == [
        f"{path}:2: not JSON: Expecting property name enclosed in double quotes (line 2, column 2)"
    ]
    assert "no totals" not in captured.err
    assert main(["report", str(path)]) == 2
    assert capsys.readouterr().out.startswith("1 trace(s), $0.1420 in all (llm $0.1290, tool $0.0130)")


def test_an_unknown_trace_gives_no_zero_totals(demo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ([], ["--json"]):
        assert main(["report", str(demo_file), "--trace", "0" * 31 + "1", *extra]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == f"genai-cost report: no trace {'0' * 31 + '1'} in the files\n"


def test_a_readable_file_reports_as_before(demo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(demo_file), "--json"]) == 0
    captured = capsys.readouterr()
    assert (json.loads(captured.out)["total_usd"], captured.err) == (0.142, "")
