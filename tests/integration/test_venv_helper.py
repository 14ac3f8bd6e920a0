"""The tool-venv helper itself: a package that cannot be installed here skips LOUDLY;
pins that contradict each other fail. Runs uv offline against an empty cache, so it
asks no registry anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import venvs

pytestmark = pytest.mark.integration


@pytest.fixture
def offline_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    uv = venvs.uv_binary()  # the real, cached uv
    monkeypatch.setattr(venvs, "TOOLS", tmp_path)
    monkeypatch.setattr(venvs, "VENVS", tmp_path / "venvs")
    monkeypatch.setattr(venvs, "uv_binary", lambda: uv)
    monkeypatch.setenv("UV_OFFLINE", "1")
    return tmp_path


def test_uninstallable_package_skips_loudly(offline_tools: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        venvs.require_venv("offline-check", ["openai==3.54.0"], with_project=False)
    assert "!!! SKIPPED: CANNOT INSTALL offline-check HERE !!!" in str(skipped.value)
    assert not (offline_tools / "venvs" / "offline-check" / ".pins").exists()


def test_conflicting_pins_fail() -> None:
    assert venvs._is_conflict(
        "error: No solution found when resolving dependencies:\n"
        "  cause: Because openlit>=1.45.0 depends on openai>=1.92.0,<3.0.0 and you require openai==3.54.0, "
        "we can conclude that your requirements are unsatisfiable."
    )
    assert not venvs._is_conflict(
        "error: No solution found when resolving dependencies:\n"
        "  cause: Because openai was not found in the cache and you require openai==3.54.0, "
        "we can conclude that your requirements are unsatisfiable."
    )


def test_venv_reused_while_pins_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached venv whose .pins match is returned without running uv at all."""
    monkeypatch.setattr(venvs, "TOOLS", tmp_path)
    monkeypatch.setattr(venvs, "VENVS", tmp_path / "venvs")
    target = tmp_path / "venvs" / "cached"
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "python").write_text("")
    (target / ".pins").write_text(venvs._pins_text(["a==1"], True))

    def no_uv() -> Path:
        raise AssertionError("uv must not run for a cached venv")

    monkeypatch.setattr(venvs, "uv_binary", no_uv)
    assert venvs.ensure_venv("cached", ["a==1"]) == target
    with pytest.raises(AssertionError, match="uv must not run"):
        venvs.ensure_venv("cached", ["a==2"])  # pins changed: rebuild
