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
