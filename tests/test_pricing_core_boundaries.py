"""The pricing core (``genai_cost.pricing``) stands alone, so that it can price
offline: it imports nothing of genai-cost outside itself and no OpenTelemetry, reads
no environment, writes nowhere it is not told to, does not touch ``sys.path``; the
policy of a running application (skip a broken file and log it) is the span layer's,
on top of the core's lenient load. And no module imports another's private names."""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from genai_cost.pricing import Catalog, CatalogError, SkippedFile
from genai_cost.pricing import files as pricing_files_module
from genai_cost.pricing.catalog import catalog_files, catalog_version, default_pricing_dir

SRC = Path(__file__).resolve().parents[1] / "src" / "genai_cost"
PRICING = SRC / "pricing"

_TOOL = "tools:\n  - name: {name}\n    {field}: 0.25\n    source: x\n    checked: 2026-11-22\n"


def _tool_file(directory: Path, name: str, field: str = "per_call") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(_TOOL.format(name=name, field=field), encoding="utf-8")
    return path


def _trees(directory: Path) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(directory.rglob("*.py"))]


# ------------------------------------------------------------ 1. imports


def test_the_pricing_core_loads_nothing_of_genai_cost_outside_itself_nor_opentelemetry(tmp_path: Path) -> None:
    user_file = _tool_file(tmp_path, "lookup")
    script = (
        "import json, sys\n"
        "from genai_cost.pricing import Catalog, TokenUsage\n"
        f"catalog = Catalog.load([{str(user_file)!r}])\n"  # parsing a user's file too (YAML, pydantic)
        "catalog.price(TokenUsage(input_tokens=10, output_tokens=1), 'gpt-4o', 'openai')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('genai_cost', 'opentelemetry')))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    outside = [name for name in loaded if name != "genai_cost" and not name.startswith("genai_cost.pricing")]
    assert outside == []
    assert "genai_cost.pricing.files" in loaded  # (the user's file was parsed)


def test_no_module_of_the_pricing_core_imports_from_outside_it() -> None:
    for path, tree in _trees(PRICING):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name}:{node.lineno}: from {'.' * node.level}{node.module}"
                assert not (node.module or "").startswith("genai_cost"), f"{path.name}:{node.lineno}"
            elif isinstance(node, ast.Import):
                assert not any(alias.name.startswith("genai_cost") for alias in node.names), path.name


# ------------------------------------------------- 3, 4. no sys.path, no environment


def test_the_pricing_core_reads_no_environment_and_touches_no_import_machinery() -> None:
    """The dataset importer (genai_cost.catalog_import) imports genai_prices from a
    directory; the environment is read by genai_cost.config."""
    for path, tree in _trees(PRICING):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("expanduser", "home"), f"{path.name}:{node.lineno}: {node.attr}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                used = f"{node.value.id}.{node.attr}"
                assert used not in ("sys.path", "sys.modules", "os.environ", "os.getenv"), (
                    f"{path.name}:{node.lineno}: {used}"
                )
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(name.startswith("genai_prices") for name in names), f"{path.name}:{node.lineno}"


def test_the_dataset_importer_is_outside_the_core() -> None:
    import genai_cost.catalog_import as catalog_import

    assert callable(catalog_import.import_genai_prices) and callable(catalog_import.import_litellm)
    assert not (PRICING / "importers.py").exists()


def test_loading_user_files_writes_nothing_unless_given_a_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Catalog.load(paths)`` wrote the compiled files to ``~/.cache/genai-cost`` of
    whoever called it (an offline script, a test suite, a read-only service)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GENAI_COST_CACHE_DIR", raising=False)
    user_file = _tool_file(tmp_path, "lookup")
    assert Catalog.load([user_file]).tool("lookup") is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lookup.yaml"]
    cache = tmp_path / "cache"
    assert Catalog.load([user_file], cache_dir=cache).tool("lookup") is not None
    assert len(list(cache.iterdir())) == 1  # given a directory, it is used


def test_a_cached_file_is_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _count_parses(monkeypatch)
    user_file = _tool_file(tmp_path, "lookup")
    Catalog.load([user_file], cache_dir=tmp_path / "cache")
    Catalog.load([user_file], cache_dir=tmp_path / "cache")
    assert parsed == [str(user_file)]


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = pricing_files_module.parse_pricing_text

    def counting(text: str, label: str):  # type: ignore[no-untyped-def]
        parsed.append(label)
        return real(text, label)

    monkeypatch.setattr(pricing_files_module, "parse_pricing_text", counting)
    return parsed


# ------------------------------------------------------------ 5. lenient load


def test_the_lenient_load_skips_each_broken_file_says_which_and_logs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    good = _tool_file(tmp_path, "lookup")
    typo = _tool_file(tmp_path, "other", field="per_cal")
    missing = tmp_path / "missing.yaml"
    later = _tool_file(tmp_path, "fetch")
    parsed = _count_parses(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="genai_cost"):
        catalog, skipped = Catalog.load_lenient([good, typo, missing, later])
    assert caplog.records == []  # the caller logs: the core only says what it did
    assert [entry.path for entry in skipped] == [typo, missing]
    assert all(isinstance(entry, SkippedFile) and isinstance(entry.error, CatalogError) for entry in skipped)
    assert "per_cal" in str(skipped[0].error) and str(missing) in str(skipped[1].error)
    assert catalog.tool("lookup") is not None and catalog.tool("fetch") is not None and catalog.tool("other") is None
    assert catalog.resolve("gpt-4o", "openai").model.pricing_id == "openai/gpt-4o"
    assert sorted(parsed) == sorted([str(good), str(typo), str(later)])  # each file read once, not once a try


def test_the_lenient_load_of_good_files_is_the_load(tmp_path: Path) -> None:
    catalog, skipped = Catalog.load_lenient([_tool_file(tmp_path, "lookup")])
    assert skipped == () and catalog.tool("lookup") is not None


# --------------------------------------------------------- 6. private names


def _module_of(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_imports_another_modules_private_names() -> None:
    """``from .pricing.catalog import _read_version`` and the like: what another module
    needs is given a public, documented name (``catalog_version``)."""
    found = []
    for path, tree in _trees(SRC):
        module = _module_of(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "genai_cost":
                continue
            private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            found.extend(f"{path.relative_to(SRC)}:{node.lineno}: {target}.{name}" for name in private)
    assert found == []


def test_the_shipped_catalogs_files_and_version_have_public_names() -> None:
    directory = default_pricing_dir()
    files = catalog_files(directory)
    assert files and files[-1].parent == directory  # curated files last: they win
    assert catalog_version(directory) == Catalog.load().version != "unversioned"
