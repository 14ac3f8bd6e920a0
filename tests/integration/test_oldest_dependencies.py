"""The oldest dependency versions ``pyproject.toml`` allows, actually run.

Every other test runs on the newest releases, so a lower bound can rot unnoticed:
it did once (genai-cost claimed ``opentelemetry-sdk>=1.39``, but the zero-code
configurator needs the ``export_span_processor`` hook and the processor the
``_on_ending`` hook, both new in 1.40; on 1.39 ``import genai_cost.processor``
failed and ``opentelemetry-instrument`` left the application without telemetry).
The unit tests are run again in a venv holding exactly the lower bound of every
runtime dependency, with warnings of the UserWarning class made errors (pydantic
before 2.10 warns about fields named ``model_*``).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from support.apps import clean_env
from support.venvs import REPO, require_venv

tomllib = pytest.importorskip("tomllib")

pytestmark = pytest.mark.integration

#: Test tools for that venv (not runtime dependencies: their versions do not matter here).
TEST_TOOLS = ["pytest>=8", "hypothesis>=6.100"]
#: Fewer passing tests than this means the run did not exercise the package.
MIN_PASSED = 200


def lowest_pins() -> list[str]:
    """``name==lower bound`` for every runtime dependency, plus the
    ``opentelemetry-instrumentation`` release paired with the oldest SDK
    (contrib 0.(N+21)b0 ships with SDK 1.N.0), for ``opentelemetry-instrument``."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = []
    sdk_minor = None
    for requirement in project["dependencies"]:
        found = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)\s*(,.*)?", requirement)
        assert found, f"pyproject.toml: dependency {requirement!r} has no '>=' lower bound"
        name, lowest = found.group(1), found.group(2)
        pins.append(f"{name}=={lowest}")
        if name == "opentelemetry-sdk":
            sdk_minor = int(lowest.split(".")[1])
    assert sdk_minor is not None, "pyproject.toml: no opentelemetry-sdk dependency"
    return [*pins, f"opentelemetry-instrumentation==0.{sdk_minor + 21}b0"]


def test_lowest_pins_read_from_pyproject():
    pins = lowest_pins()
    assert "opentelemetry-sdk==1.40" in pins
    assert "opentelemetry-instrumentation==0.61b0" in pins
    assert any(pin.startswith("pydantic==") for pin in pins)


def test_unit_tests_pass_on_the_oldest_supported_dependencies():
    venv = require_venv("oldest-dependencies", [*lowest_pins(), *TEST_TOOLS])
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not integration",
            "-W",
            "error::UserWarning",
            "--ignore=tests/integration",
            "--ignore=tests/test_code_quality.py",  # mypy and ruff check the source, not the versions
            "tests",
        ],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= MIN_PASSED, output[-3000:]
