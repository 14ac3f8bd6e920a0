"""The package's lazy top-level names (``from genai_cost import CostSpanProcessor``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import genai_cost


def test_top_level_names_resolve_to_their_modules():
    from genai_cost import Catalog, CostSpanProcessor, TraceCostExporter
    from genai_cost.pricing import Catalog as catalog_class
    from genai_cost.processor import CostSpanProcessor as processor_class
    from genai_cost.rollup import TraceCostExporter as exporter_class

    assert (Catalog, CostSpanProcessor, TraceCostExporter) == (catalog_class, processor_class, exporter_class)
    assert set(genai_cost.__all__) <= set(dir(genai_cost))


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        genai_cost.Nope  # noqa: B018


def test_a_module_failing_to_import_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An AttributeError inside a module's import (what an OpenTelemetry SDK older than
    the module needs raises) must not read as "cannot import name 'X'"."""
    (tmp_path / "_broken_for_test.py").write_text("import types\ntypes.NoSuchThing\n")
    monkeypatch.setattr(genai_cost, "__path__", [*genai_cost.__path__, str(tmp_path)])
    monkeypatch.setitem(genai_cost._EXPORTS, "BrokenForTest", "_broken_for_test")
    with pytest.raises(ImportError, match=r"genai_cost\._broken_for_test failed to import: .*NoSuchThing"):
        from genai_cost import BrokenForTest  # noqa: F401
