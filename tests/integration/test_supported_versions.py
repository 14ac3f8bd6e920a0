"""The versions genai-cost says it supports, actually run.

Every other test runs on one Python with the newest releases, so what
``pyproject.toml`` promises beyond that can rot unnoticed. It did once:
genai-cost claimed ``opentelemetry-sdk>=1.39``, but the zero-code configurator
needs the SDK's ``export_span_processor`` hook and the processor its
``_on_ending`` hook, both new in 1.40; on 1.39 ``import genai_cost.processor``
failed and ``opentelemetry-instrument`` left the application without telemetry.

So the unit tests are run again, each time in a venv of its own:

* on this Python with exactly the lower bound of every runtime dependency, with
  ``UserWarning`` made an error (pydantic before 2.10 warned at import about the
  schema's ``model_prefixes`` field);
* on every other supported Python found on the machine, with the newest releases.

The tests marked ``catalog_data`` (the catalog's data and import tooling: the slowest
modules, and none of them about versions) run once, in the main run, not in these.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from support.apps import clean_env
from support.venvs import REPO, require_venv

tomllib = pytest.importorskip("tomllib")

pytestmark = pytest.mark.integration

#: The Pythons genai-cost supports (``requires-python`` is the first one's bound).
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
#: Fewer passing tests than this means a run did not exercise the package.
MIN_PASSED = 200
#: From the ``test`` extra, what running the unit tests needs on any Python (genai-prices,
#: used only by cross-checks that skip without it, needs Python 3.11; cryptography makes the
#: TLS tests' certificates, so each Python's ``ssl`` is tested against them).
_TEST_TOOLS = ("pytest", "hypothesis", "opentelemetry-instrumentation", "cryptography")


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def _name(requirement: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9_.-]+)", requirement)
    assert found, requirement
    return found.group(1)


def unit_test_tools() -> list[str]:
    return [r for r in _project()["optional-dependencies"]["test"] if _name(r) in _TEST_TOOLS]


def lowest_pins() -> list[str]:
    """``name==lower bound`` for every runtime dependency, plus the
    ``opentelemetry-instrumentation`` release paired with the oldest SDK
    (contrib 0.(N+21)b0 ships with SDK 1.N.0), for ``opentelemetry-instrument``."""
    pins = []
    sdk_minor = None
    for requirement in _project()["dependencies"]:
        found = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)\s*(,.*)?", requirement)
        assert found, f"pyproject.toml: dependency {requirement!r} has no '>=' lower bound"
        name, lowest = found.group(1), found.group(2)
        pins.append(f"{name}=={lowest}")
        if name == "opentelemetry-sdk":
            sdk_minor = int(lowest.split(".")[1])
    assert sdk_minor is not None, "pyproject.toml: no opentelemetry-sdk dependency"
    tools = [r for r in unit_test_tools() if _name(r) != "opentelemetry-instrumentation"]
    return [*pins, f"opentelemetry-instrumentation==0.{sdk_minor + 21}b0", *tools]


def _unit_test_output(venv: Path, *extra: str) -> str:
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not integration and not catalog_data",
            *extra,
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
    return output


#: The runs, started together on first use, two at a time (this machine's two cores; each
#: run is a single-threaded pytest, and the main one only waits): about half the wall time of
#: one after the other. Each test waits for its own run and reports its own result.
_RUNS: dict[str, Future[str]] = {}
_RUNS_LOCK = threading.Lock()


def _run_for(key: str) -> str:
    with _RUNS_LOCK:
        if not _RUNS:
            pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="supported-versions")
            _RUNS["oldest"] = pool.submit(_oldest_run)
            for version in _OTHER_PYTHONS:
                _RUNS[version] = pool.submit(_python_run, version)
            pool.shutdown(wait=False)
    return _RUNS[key].result(timeout=1800)


def _oldest_run() -> str:
    venv = require_venv("oldest-dependencies", lowest_pins())
    return _unit_test_output(venv, "-W", "error::UserWarning")


def _python_run(version: str) -> str:
    python = find_python(version)
    if python is None:
        return ""
    venv = require_venv(f"python-{version}", unit_test_tools(), python=python)
    return _unit_test_output(venv)


def _check_passed(output: str) -> None:
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= MIN_PASSED, output[-3000:]


def find_python(version: str) -> str | None:
    """An interpreter for ``version`` on this machine: one pyenv installed, or one on
    PATH (not a pyenv shim: it answers only for the version pyenv has selected)."""
    candidates = sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}.*/bin/python{version}")))
    if candidates:
        return candidates[-1]
    found = shutil.which(f"python{version}")
    return found if found and "/shims/" not in found else None


def test_the_version_lists_match_pyproject():
    project = _project()
    assert project["requires-python"] == f">={SUPPORTED_PYTHONS[0]}"
    pins = lowest_pins()
    assert "opentelemetry-sdk==1.40" in pins
    assert "opentelemetry-instrumentation==0.61b0" in pins
    assert any(pin.startswith("pydantic==") for pin in pins)
    assert {_name(r) for r in unit_test_tools()} == set(_TEST_TOOLS)


_OTHER_PYTHONS = [v for v in SUPPORTED_PYTHONS if v != f"{sys.version_info.major}.{sys.version_info.minor}"]


def test_unit_tests_pass_on_the_oldest_supported_dependencies():
    _check_passed(_run_for("oldest"))


@pytest.mark.parametrize("version", _OTHER_PYTHONS)
def test_unit_tests_pass_on_every_supported_python(version: str):
    if find_python(version) is None:
        message = f"!!! SKIPPED: NO PYTHON {version} ON THIS MACHINE !!!"
        print(message, file=sys.stderr)
        pytest.skip(message)
    _check_passed(_run_for(version))
