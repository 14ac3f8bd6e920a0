"""src/ is mypy --strict and ruff clean; CI enforces it here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_mypy_strict_on_src():
    result = subprocess.run([str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_on_src_tests_and_benchmarks():
    result = subprocess.run([str(BIN / "ruff"), "check", "src", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pricing_core_and_usage_have_no_opentelemetry_import():
    """The data flows span -> usage -> price: only the span layer knows OpenTelemetry."""
    import re

    pure = [*(ROOT / "src/genai_cost/pricing").rglob("*.py"), ROOT / "src/genai_cost/usage.py",
            ROOT / "src/genai_cost/_vocabulary.py", ROOT / "src/genai_cost/_usage_json.py",
            ROOT / "src/genai_cost/pricer.py", ROOT / "src/genai_cost/recorded_cost.py",
            # the report reads and sums exported spans without the SDK (their docstrings say so)
            ROOT / "src/genai_cost/span_file.py", ROOT / "src/genai_cost/report.py",
            ROOT / "src/genai_cost/records.py"]
    for path in pure:
        assert not re.search(r"^\s*(from|import)\s+opentelemetry", path.read_text(), re.M), path
