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

The runs start in the background as soon as the session has collected them (one at a
time, niced, while the main run goes on) and their tests go last: CI's wall time is
about that of the main run, not the two added (see ``_VersionRuns``).
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
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
    command = [
        "nice",  # behind the main run, whose own timing tests this run must not starve
        "-n",
        str(BACKGROUND_NICENESS),
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
    ]
    returncode, output = _RUNS.run(command)
    assert returncode == 0, output[-6000:]
    return output


#: The niceness of the runs while the main run goes on (it has the timing-sensitive tests of
#: its own, and the servers it starts).
BACKGROUND_NICENESS = 10


class _VersionRuns:
    """The runs, started as soon as the session has collected them, so that they use the
    CPU the main run leaves idle (installs, servers starting, sleeps) instead of adding
    their whole time to it: one at a time while the main run goes on, two at a time (this
    machine's two cores) once it waits for them. ``conftest.py`` starts them and puts their
    tests last; each test waits for its own run and reports its own result. Runs still going
    when the session ends are killed, so an interrupted session does not wait for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, Future[str]] = {}
        self._pending: list[str] = []
        self._second_worker = threading.Event()
        self._processes: set[subprocess.Popen[str]] = set()
        self._stopped = False
        self._jobs: dict[str, Callable[[], str]] = {}

    def start(self, *, background: bool) -> None:
        with self._lock:
            if self._results:
                return
            jobs = {"oldest": _oldest_run, **{v: partial(_python_run, v) for v in _OTHER_PYTHONS}}
            for key in jobs:
                self._results[key] = Future()
            self._pending = list(jobs)
            self._jobs = jobs
        if not background:
            self._second_worker.set()
        for index in range(2):
            threading.Thread(
                target=self._work, args=(index,), name=f"supported-versions-{index}", daemon=True
            ).start()

    def result(self, key: str) -> str:
        self.start(background=False)
        self._second_worker.set()  # the main run now only waits: both cores for the runs
        return self._results[key].result(timeout=1800)

    def run(self, command: list[str]) -> tuple[int, str]:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with self._lock:
            if self._stopped:
                process.kill()
            self._processes.add(process)
        try:
            output, _ = process.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            output += "\n!!! the run did not end within 900 s: killed !!!"
        finally:
            with self._lock:
                self._processes.discard(process)
        return process.returncode, output

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._pending.clear()
            for process in self._processes:
                process.kill()

    def _work(self, index: int) -> None:
        if index:
            self._second_worker.wait()
        while True:
            with self._lock:
                if not self._pending:
                    return
                key = self._pending.pop(0)
            future = self._results[key]
            try:
                future.set_result(self._jobs[key]())
            except BaseException as error:  # pytest.skip's exception too: the test re-raises it
                future.set_exception(error)


_RUNS = _VersionRuns()


def start_in_background() -> None:
    """Called by ``conftest.py`` once these tests are collected."""
    _RUNS.start(background=True)


def stop_runs() -> None:
    _RUNS.stop()


def _run_for(key: str) -> str:
    return _RUNS.result(key)


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
