"""The imported files are reproducible, the compiled snapshot is current, and
loading the catalog stays cheap (no pydantic, no YAML on the way to a price)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genai_cost.cli import main
from genai_cost.pricing import Catalog, compiled
from genai_cost.pricing.catalog import catalog_files, catalog_version, default_pricing_dir

#: Checks the catalog's data and import tooling, which do not vary with the Python or the
#: dependency versions: left out of the supported-versions runs (tests/integration).
pytestmark = pytest.mark.catalog_data

ROOT = Path(__file__).resolve().parents[1]
PRICING = ROOT / "pricing"


def test_the_compiled_snapshot_matches_the_catalog_files() -> None:
    stale = compiled.snapshot_is_current(PRICING, catalog_files(PRICING))
    assert not stale, f"pricing/compiled.json is stale for {stale}: run `genai-cost pricing compile`"


def test_the_catalog_version_names_exactly_this_content() -> None:
    """Every priced span carries the catalog version: two catalogs that price differently
    must not share one, and no two versions may name the same content."""
    version = catalog_version(PRICING)
    assert re.fullmatch(r"20\d\d\.\d\d\.\d\d(\.\d+)?", version), version
    problem = compiled.version_problem(PRICING, catalog_files(PRICING), version)
    assert problem is None, problem
    recorded = json.loads((PRICING / compiled.VERSIONS_NAME).read_text(encoding="utf-8"))
    assert len(set(recorded.values())) == len(recorded)


def test_an_edit_without_a_new_version_is_caught_and_says_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "pricing"
    shutil.copytree(PRICING, copy)
    assert main(["pricing", "compile", "--dir", str(copy), "--check"]) == 0
    edited = copy / "tools.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["pricing", "compile", "--dir", str(copy)]) == 0  # written, with the reminder
    digest = compiled.content_digest(copy, catalog_files(copy))
    said = capsys.readouterr().err
    assert f"changed since version {catalog_version(PRICING)}" in said and f'"<version>": "{digest}"' in said
    assert main(["pricing", "compile", "--dir", str(copy), "--check"]) == 2
    (copy / "VERSION").write_text("2026.11.30\n", encoding="utf-8")
    recorded = json.loads((copy / compiled.VERSIONS_NAME).read_text(encoding="utf-8"))
    (copy / compiled.VERSIONS_NAME).write_text(json.dumps({**recorded, "2026.11.30": digest}), encoding="utf-8")
    assert main(["pricing", "compile", "--dir", str(copy), "--check"]) == 0
    # Back to an older content under the new version: named as the old version's.
    edited.write_text(edited.read_text(encoding="utf-8").removesuffix("\n# edited\n"), encoding="utf-8")
    main(["pricing", "compile", "--dir", str(copy)])
    assert f"content is that of version {catalog_version(PRICING)}, but" in capsys.readouterr().err


def test_compiled_and_parsed_catalogs_agree() -> None:
    fast = Catalog.load()
    slow = Catalog(
        [
            (compiled.file_ir(_parse(path)), f"catalog:{path.relative_to(PRICING).as_posix()}", False)
            for path in catalog_files(PRICING)
        ]
    )
    assert fast.model_count == slow.model_count
    for pricing_id in fast.pricing_ids()[::37]:
        assert fast.entry(pricing_id) == slow.entry(pricing_id)
    for model, provider in [
        ("gpt-4o", "openai"),
        ("deepseek-chat", "deepseek"),
        ("us.meta.llama3-1-8b-instruct-v1:0", "aws.bedrock"),
    ]:
        assert fast.resolve(model, provider).model == slow.resolve(model, provider).model


def _parse(path: Path):  # type: ignore[no-untyped-def]
    from genai_cost.pricing.files import read_pricing_file

    return read_pricing_file(path)


def test_a_stale_snapshot_is_slower_never_wrong(tmp_path: Path) -> None:
    copy = tmp_path / "pricing"
    shutil.copytree(PRICING, copy)
    sources = catalog_files(copy)
    assert compiled.read_state(copy, sources) is not None
    edited = copy / "openai.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert compiled.read_state(copy, sources) is None
    assert compiled.snapshot_is_current(copy, sources) == ["openai.yaml"]
    assert main(["pricing", "compile", "--dir", str(copy)]) == 0
    assert compiled.snapshot_is_current(copy, sources) == []


def test_genai_prices_import_is_reproducible(tmp_path: Path) -> None:
    genai_prices = pytest.importorskip("genai_prices")
    package = Path(genai_prices.__file__).parent
    (tmp_path / "imported").mkdir()
    for name in ("VERSION", "openai.yaml", "imported/litellm.yaml"):
        shutil.copy(PRICING / name, tmp_path / name)
    # litellm.yaml beside it: the import takes the service tiers genai-prices lacks from it
    code = main(
        ["pricing", "import", "--from", "genai-prices", str(package), "--checked", "2026-11-22", "--out", str(tmp_path)]
    )
    assert code == 0
    assert (tmp_path / "imported" / "genai-prices.yaml").read_text() == (
        PRICING / "imported" / "genai-prices.yaml"
    ).read_text()


def test_litellm_import_is_reproducible(tmp_path: Path) -> None:
    from test_crosscheck_litellm import _venv_python

    _venv_python()  # builds the cached LiteLLM venv if this run has not yet (skips loudly if it cannot)
    litellm_json = sorted(
        (ROOT / ".test-tools").glob(
            "litellm-*/lib/python*/site-packages/litellm/model_prices_and_context_window_backup.json"
        )
    )
    assert litellm_json, "LiteLLM's price file is missing from its venv"
    (tmp_path / "imported").mkdir()
    shutil.copy(PRICING / "VERSION", tmp_path / "VERSION")
    code = main(
        [
            "pricing",
            "import",
            "--from",
            "litellm",
            str(litellm_json[-1]),
            "--checked",
            "2026-11-22",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert (tmp_path / "imported" / "litellm.yaml").read_text() == (PRICING / "imported" / "litellm.yaml").read_text()


def test_first_price_imports_neither_pydantic_nor_yaml() -> None:
    script = (
        "import sys, genai_cost\n"
        "c = genai_cost.Catalog.load()\n"
        "c.price(genai_cost.TokenUsage(input_tokens=1000, output_tokens=10), 'gpt-4o', 'openai')\n"
        "print(json.dumps([m for m in ('pydantic', 'yaml') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_default_pricing_dir_is_the_repo_catalog() -> None:
    assert default_pricing_dir().resolve() == PRICING.resolve()


def test_cli_price_explain_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "price",
                "--provider",
                "deepseek",
                "--model",
                "deepseek-chat",
                "--input-tokens",
                "1000000",
                "--output-tokens",
                "1000000",
                "--at",
                "2026-11-19T20:00:00Z",
                "--json",
                "--explain",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["total_usd"] == pytest.approx(0.685)
    assert "deepseek-chat" in result["explain"]["matched"]
    assert main(["price", "--model", "llama-3.1-8b-instant", "--input-tokens", "10"]) == 2
    assert "ambiguous" in capsys.readouterr().err
    assert main(["pricing", "list", "--provider", "deepseek", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(row["pricing_id"] == "deepseek/deepseek-chat" for row in rows)


def test_cli_pricing_diff_names_the_catalog_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pricing", "diff", "--provider", "deepseek", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    chat = [row for row in rows if row["model"] == "deepseek-chat" and row["rate"] == "input"]
    assert chat and set(chat[0]["values"]) == {"genai-prices", "litellm"}
    assert chat[0]["chosen_id"] == "deepseek/deepseek-chat"


def test_user_files_are_compiled_once_then_cached(tmp_path: Path) -> None:
    user_file = tmp_path / "mine.yaml"
    user_file.write_text(
        "discounts:\n  - {provider: openai, percent: 10}\n"
        "providers:\n  - id: in-house\n    models:\n      - id: m\n        prices:\n"
        "          - {input: 1, output: 2, source: me, checked: 2026-11-22}\n",
        encoding="utf-8",
    )
    script = (
        "import json, sys, genai_cost\n"
        "from genai_cost.config import user_cache_dir\n"
        f"c = genai_cost.Catalog.load([{str(user_file)!r}], cache_dir=user_cache_dir())\n"
        "cost = c.price(genai_cost.TokenUsage(input_tokens=10**6, output_tokens=0), 'm', 'in-house')\n"
        "print(json.dumps([cost.total_usd, 'pydantic' in sys.modules]))\n"
    )
    env = {**os.environ, "GENAI_COST_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        json.loads(
            subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
        )
        for _ in range(2)
    ]
    assert runs == [[1.0, True], [1.0, False]]  # parsed (and validated) once, then from the cache
    user_file.write_text(user_file.read_text().replace("input: 1,", "input: 3,"), encoding="utf-8")
    edited = json.loads(
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    )
    assert edited == [3.0, True]
