"""Separate virtual environments for packages whose pins conflict.

Each instrumentation (or backend) under test gets its own venv in
``.test-tools/venvs/<name>`` (gitignored), with genai-cost installed from this
work tree and the pinned packages the test names. A venv is reused while its
``.pins`` file matches the requested pins exactly; otherwise it is rebuilt.

Installs use ``uv`` (bootstrapped once into ``.test-tools/uv`` with the main
venv's pip) because it resolves and downloads in parallel: on this 2-core
machine it installs Arize Phoenix several times faster than pip.

If a package cannot be installed at all (registry unreachable, no wheel for
this platform), :func:`require_venv` skips the test with a LOUD reason; a
resolver conflict among our own pins is a bug and fails the test.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("GENAI_COST_TEST_TOOLS", REPO / ".test-tools"))
VENVS = TOOLS / "venvs"
UV_VERSION = "0.13.9"
#: Seconds one venv install may take (Phoenix is ~855 MB).


def otel_pins(sdk: str = "1.45.2", instrumentation: str = "0.66b2") -> list[str]:
    """The OpenTelemetry packages an instrumented app's venv pins, one release of each."""
    return [
        f"opentelemetry-api=={sdk}",
        f"opentelemetry-sdk=={sdk}",
        f"opentelemetry-exporter-otlp=={sdk}",
        f"opentelemetry-instrumentation=={instrumentation}",
    ]


#: The newest releases, which the instrumentation tests run against.
OTEL_PINS = otel_pins()
#: openlit 1.45.0 requires OpenTelemetry <= 0.66b1.
OPENLIT_OTEL_PINS = otel_pins("1.45.1", "0.66b1")
INSTALL_TIMEOUT_S = float(os.environ.get("GENAI_COST_TEST_INSTALL_TIMEOUT", "900"))


class VenvUnavailable(RuntimeError):
    """The packages could not be installed here (not a bug in the pins)."""


class VenvConflict(RuntimeError):
    """Our pins do not resolve together: a bug in the test's requirements."""


@contextmanager
def _locked(name: str):
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    env["UV_CACHE_DIR"] = str(TOOLS / "uv-cache")
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    env["UV_HTTP_TIMEOUT"] = "120"
    env.pop("VIRTUAL_ENV", None)
    for key in [k for k in env if k.startswith(("OTEL_", "GENAI_COST_"))]:
        env.pop(key)
    return env


def uv_binary() -> Path:
    """``uv``, installed once into ``.test-tools/uv`` with the main venv's pip."""
    home = TOOLS / "uv"
    binary = home / "bin" / "uv"
    marker = home / ".version"
    with _locked("uv"):
        if binary.exists() and marker.exists() and marker.read_text() == UV_VERSION:
            return binary
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=120)
        done = subprocess.run(
            [str(home / "bin" / "python"), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(),
        )
        if done.returncode != 0:
            raise VenvUnavailable(f"cannot install uv=={UV_VERSION}: {done.stderr[-2000:]}")
        marker.write_text(UV_VERSION)
        return binary


def _pins_text(requirements: Sequence[str], with_project: bool, python: str | None = None) -> str:
    if python is None:
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
    lines = [f"python={python}", f"project={with_project}"]
    lines += sorted(requirements)
    return "\n".join(lines) + "\n"


def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def ensure_venv(
    name: str, requirements: Sequence[str], *, with_project: bool = True, python: str | None = None
) -> Path:
    """The venv ``name`` with exactly ``requirements`` (and genai-cost, editable)
    installed, on the interpreter ``python`` (default: the one running the tests);
    built if missing or if its pins changed. Returns its directory."""
    target = VENVS / name
    interpreter = python or sys.executable
    pins = _pins_text(requirements, with_project, python)
    marker = target / ".pins"
    with _locked(f"venv-{name}"):
        if marker.exists() and marker.read_text() == pins and (target / "bin" / "python").exists():
            return target
        uv = uv_binary()
        shutil.rmtree(target, ignore_errors=True)
        VENVS.mkdir(parents=True, exist_ok=True)
        env = _env()
        started = time.monotonic()
        subprocess.run(
            [str(uv), "venv", "--quiet", "--python", interpreter, str(target)],
            check=True,
            timeout=120,
            env=env,
            capture_output=True,
        )
        args = [
            str(uv),
            "pip",
            "install",
            "--python",
            str(target / "bin" / "python"),
            "--prerelease",
            "if-necessary",
        ]
        if with_project:
            args += ["-e", str(REPO)]
        args += list(requirements)
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise VenvUnavailable(f"installing {name} took more than {INSTALL_TIMEOUT_S:.0f}s") from exc
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            output = (done.stdout + done.stderr)[-3000:]
            if _is_conflict(output):
                raise VenvConflict(f"pins for {name} do not resolve together:\n{output}")
            raise VenvUnavailable(f"cannot install {name} ({' '.join(requirements)}):\n{output}")
        (target / ".install-seconds").write_text(f"{time.monotonic() - started:.1f}\n")
        marker.write_text(pins)
        return target


#: uv's words for "this cannot be had here" (as opposed to "these pins contradict each other")
_UNAVAILABLE = (
    "not found in the package registry",
    "not found in the cache",
    "no version of",
    "has no wheels",
    "Failed to fetch",
    "Could not connect",
    "offline",
    "dns error",
    "timed out",
)


def _is_conflict(output: str) -> bool:
    """True when the resolver says our pins contradict each other; False when a package
    (or the registry) simply cannot be reached or has nothing for this platform."""
    if any(marker.lower() in output.lower() for marker in _UNAVAILABLE):
        return False
    return "No solution found" in output or "unsatisfiable" in output


def require_venv(
    name: str, requirements: Sequence[str], *, with_project: bool = True, python: str | None = None
) -> Path:
    """:func:`ensure_venv`, or a LOUD skip when the packages cannot be installed here."""
    import pytest

    try:
        return ensure_venv(name, requirements, with_project=with_project, python=python)
    except VenvUnavailable as exc:
        message = f"!!! SKIPPED: CANNOT INSTALL {name} HERE !!! {exc}"
        print(message, file=sys.stderr)
        pytest.skip(message)
    raise AssertionError("unreachable")
