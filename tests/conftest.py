"""Shared fixtures. Kept generic: servers live in ``tests/support``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from support.rotel import RotelCollector  # noqa: E402


@pytest.fixture
def rotel_collector(tmp_path: Path) -> Iterator[RotelCollector]:
    """A real rotel collector on free loopback ports, printing every span it receives."""
    with RotelCollector(workdir=tmp_path / "rotel") as collector:
        yield collector


_SUPPORTED_VERSIONS = "test_supported_versions.py::test_unit_tests_pass"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The runs on other versions go last, so that they run in the background meanwhile."""
    items.sort(key=lambda item: _SUPPORTED_VERSIONS in item.nodeid)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the runs on other versions now, behind the rest of the session (see
    ``tests/integration/test_supported_versions.py``); stopped in ``pytest_sessionfinish``."""
    for item in session.items:
        if _SUPPORTED_VERSIONS in item.nodeid and not session.config.option.collectonly:
            item.module.start_in_background()  # type: ignore[attr-defined]
            return


def pytest_sessionfinish(session: pytest.Session) -> None:
    for item in getattr(session, "items", ()):  # none when collection failed
        if _SUPPORTED_VERSIONS in item.nodeid:
            item.module.stop_runs()  # type: ignore[attr-defined]
            return
