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


def test_extension_points_are_top_level_names() -> None:
    """What a listener or cost layer of the user's implements, and the values it gets and
    returns, import from the package, not from its private modules."""
    from genai_cost import CostListener, SpanAnnotations, SpanCost, SpanCostLayer, SpanUsage, TraceCostLayer
    from genai_cost.extensions import CostListener as listener_class
    from genai_cost.extensions import SpanAnnotations as annotations_class
    from genai_cost.extensions import SpanCostLayer as span_layer_class
    from genai_cost.pricer import SpanCost as cost_class
    from genai_cost.rollup import TraceCostLayer as trace_layer_class
    from genai_cost.usage import SpanUsage as usage_class

    assert (CostListener, SpanAnnotations, SpanCost, SpanCostLayer, SpanUsage, TraceCostLayer) == (
        listener_class,
        annotations_class,
        cost_class,
        span_layer_class,
        usage_class,
        trace_layer_class,
    )
    assert genai_cost.__all__ == sorted(genai_cost.__all__)


def test_python_dash_m_runs_the_command() -> None:
    """``python -m genai_cost`` for where the ``genai-cost`` script is not on PATH."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "genai_cost",
            "price",
            "--provider",
            "openai",
            "--model",
            "gpt-4o",
            "--input-tokens",
            "38800",
            "--output-tokens",
            "3200",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("openai/gpt-4o: $0.129000")
    usage = subprocess.run([sys.executable, "-m", "genai_cost", "--help"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: genai-cost")
