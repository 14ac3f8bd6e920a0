"""The command line in a pipeline: ``demo --save - | report -`` (``-`` wrote a file named
``-`` and printed the table into the pipe), and ``report --trace "$EMPTY"`` (reported every
trace as if it were the one asked for)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genai_cost.cli import main


def test_demo_saves_to_stdout_for_report_to_read(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "genai_cost"]
    demo = subprocess.Popen([*command, "demo", "--save", "-"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    report = subprocess.run([*command, "report", "-"], cwd=tmp_path, stdin=demo.stdout, capture_output=True, text=True, timeout=120)
    assert demo.stdout is not None and demo.stderr is not None
    demo.stdout.close()
    table = demo.stderr.read().decode()
    assert demo.wait(timeout=60) == 0
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("1 trace(s), $0.1420 in all (llm $0.1290, tool $0.0130)")
    assert "the ten-step research agent" in table  # the table, out of the pipe
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("empty", ["", "  ", "0x"])
def test_an_empty_trace_id_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], empty: str) -> None:
    path = tmp_path / "demo.json"
    assert main(["demo", "--save", str(path)]) == 0
    capsys.readouterr()
    assert main(["report", str(path), "--trace", empty]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--trace is empty" in captured.err
