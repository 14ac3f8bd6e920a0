"""What a new user's walk through ``genai-cost pricing ...`` found missing: a ``list``
filter naming nothing exited 0 with an empty list, ``validate`` let a discount for a
provider that exists nowhere through (unless ``--with-catalog``) and counted neither
tools nor discounts, an empty pricing file passed for one that prices, and no command
showed the catalog's tools. Each test runs the real CLI on real files."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genai_cost.cli import main
from genai_cost.config import CostSettings
from genai_cost.pricing import Catalog, TokenUsage

M = 1_000_000
SOURCE = "source: ours, checked: 2026-01-01"
ACME = (
    "providers:\n"
    "  - id: acme\n"
    "    models:\n"
    f"      - {{id: acme-1, prices: [{{input: 1.0, output: 2.0, {SOURCE}}}]}}\n"
    f"      - {{id: acme-2, prices: [{{input: 3.0, {SOURCE}}}]}}\n"
    "  - id: in-house\n"
    "    models:\n"
    f"      - {{id: llama, prices: [{{per_gpu_second: 0.001, {SOURCE}}}]}}\n"
    "tools:\n"
    "  - {name: my_search, aliases: [my.search], per_call: 0.5, " + SOURCE + "}\n"
    "  - {name: my_pages, per_call: 0.01, per_unit: 0.002, unit_attribute: my.pages.count, unit_name: page,"
    " " + SOURCE + "}\n"
    "discounts:\n"
    "  - {provider: acme, percent: 10}\n"
    "  - {provider: gemini, percent: 5}\n"
)
EMPTY = "holds no prices: no providers, tools, discounts, infrastructure or human_escalation"
LEFT_OUT = "genai-cost: pricing file problem (left out; the rest still prices): "


def _empty(path: Path) -> str:
    return f"{path}: {EMPTY} (the file is empty, only comments, or only empty lists); is it the file you meant?"


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read GENAI_COST_PRICING_FILE and cache into the user's cache: neither
    the developer's variables nor their cache may decide what these tests see."""
    monkeypatch.delenv("GENAI_COST_PRICING_FILE", raising=False)
    monkeypatch.setenv("GENAI_COST_CACHE_DIR", "off")


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(*argv: str) -> tuple[int, str, str]:
    """``main(argv)`` with its output, for a property (capsys is per test, not per example)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------ 1. list filters naming nothing


def test_list_with_a_misspelt_provider_exits_2_with_what_it_meant(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pricing", "list", "--provider", "opneai"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # not "0 entries of 0 provider(s)", which reads as an answer
    assert "genai-cost: no provider 'opneai' in the catalog (catalog " in err
    assert "genai-cost: did you mean openai" in err
    # an alias still names its provider
    assert main(["pricing", "list", "--provider", "Azure_OpenAI", "--model", "gpt-4o-mini", "--json"]) == 0
    assert "azure/gpt-4o-mini" in {row["pricing_id"] for row in json.loads(capsys.readouterr().out)}


def test_list_with_a_provider_like_none_lists_the_providers_yours_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = _write(tmp_path, "acme.yaml", ACME)
    assert main(["pricing", "list", "--provider", "zzqqxx", "--pricing-file", str(prices)]) == 2
    err = capsys.readouterr().err
    known = next(line for line in err.splitlines() if line.startswith("genai-cost: the providers are: "))
    names = known.removeprefix("genai-cost: the providers are: ").split(", ")
    assert {"openai", "anthropic", "aws-bedrock", "acme", "in-house"} <= set(names)
    assert names == sorted(names)


def test_list_with_an_origin_no_entry_has_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pricing", "list", "--origin", "curatd"]) == 2
    err = capsys.readouterr().err
    assert "genai-cost: no origin 'curatd' in the catalog" in err
    assert "genai-cost: did you mean curated?" in err
    assert main(["pricing", "list", "--origin", "handmade"]) == 2
    assert "genai-cost: the origins are: curated, genai-prices, litellm\n" in capsys.readouterr().err
    # "user" is an origin only once a file of the user's is loaded, and the message says so
    assert main(["pricing", "list", "--origin", "user"]) == 2
    assert "'user' is the origin of the entries of your own pricing files, and none is loaded" in (
        capsys.readouterr().err
    )
    # A file of the user's that holds tools or discounts only: loaded, with no model entries
    # (it said "none is loaded", new-user audit)
    discounts = _write(tmp_path, "discounts.yaml", "discounts:\n  - {provider: openai, percent: 15}\n")
    assert main(["pricing", "list", "--origin", "user", "--pricing-file", str(discounts), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert "your pricing files hold no model entries" in err
    assert "none is loaded" not in err
    prices = _write(tmp_path, "acme.yaml", ACME)
    assert main(["pricing", "list", "--origin", "user", "--pricing-file", str(prices), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [row["pricing_id"] for row in json.loads(out)] == ["acme/acme-1", "acme/acme-2", "in-house/llama"]
    assert err == ""


def test_known_filters_that_select_nothing_say_so_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Each value exists, so this is an answer (exit 0), but an empty one is said on stderr."""
    assert main(["pricing", "list", "--provider", "openai", "--model", "claude", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert err == "genai-cost: no entry matches --provider openai, --model claude\n"
    assert main(["pricing", "list", "--model", "gpt-4o-mni"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("0 entries of 0 provider(s)")
    assert "genai-cost: no entry matches --model gpt-4o-mni; did you mean openai/gpt-4o-mini" in err


# -------------------------------------------------------------- 2. validate: counts, discounts


def test_validate_counts_what_it_validated_and_says_what_discounts_were_checked_against(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = _write(tmp_path, "acme.yaml", ACME)
    assert main(["pricing", "validate", str(prices)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "valid: 1 file(s), 3 model(s) of 2 provider(s), 2 tool(s), 2 discount(s)"
    version = Catalog.load().version
    assert out[1] == (
        f"discount providers checked against {prices} and the shipped catalog (catalog {version});"
        " their models are checked with --with-catalog"
    )
    assert main(["pricing", "validate", str(prices), "--with-catalog"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == (
        f"discount providers and models checked against {prices} and the shipped catalog (catalog {version})"
    )
    assert out[2] == "valid together with the shipped catalog"


def test_validate_names_a_discount_whose_provider_exists_nowhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --with-catalog, ``provider: opneai`` was "valid", and the discount never applied."""
    contract = _write(tmp_path, "contract.yaml", "discounts:\n  - {provider: openai, percent: 15}\n"
                      "  - {provider: opneai, percent: 10}\n")  # fmt: skip
    assert main(["pricing", "validate", str(contract)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert (f"{contract}:3: discounts[1].provider: 'opneai' is no provider the catalog knows"
            " (the discount never applies); did you mean 'openai'?") in err  # fmt: skip
    assert f"discount providers were looked up in {contract} and the shipped catalog" in err
    assert err.endswith("1 error(s)\n")


def test_a_discount_for_a_provider_of_another_file_passes_when_validated_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = _write(tmp_path, "models.yaml", ACME.split("tools:")[0])
    contract = _write(tmp_path, "contract.yaml", "discounts:\n  - {provider: acme, percent: 20}\n")
    assert main(["pricing", "validate", str(contract)]) == 2
    err = capsys.readouterr().err
    assert f"{contract}:2: discounts[0].provider: 'acme' is no provider the catalog knows" in err
    assert "counts only when that file is validated with this one" in err
    assert main(["pricing", "validate", str(models), str(contract)]) == 0
    out = capsys.readouterr().out
    assert "valid: 2 file(s), 3 model(s) of 2 provider(s), 0 tool(s), 1 discount(s)\n" in out
    assert f"checked against {models}, {contract} and the shipped catalog" in out
    # a discount's model is still only checked with --with-catalog (as documented)
    typo = _write(tmp_path, "typo.yaml", "discounts:\n  - {provider: openai, model: gpt-4o-typo, percent: 5}\n")
    assert main(["pricing", "validate", str(typo)]) == 0
    capsys.readouterr()
    assert main(["pricing", "validate", str(typo), "--with-catalog"]) == 2
    assert f"{typo}:2: discounts[0].model: 'gpt-4o-typo' is no openai model" in capsys.readouterr().err


# ----------------------------------------------------------------------- 3. empty pricing files

EMPTY_FILES = {
    "empty": "",
    "blank": "\n\n   \n",
    "comments": "# our negotiated prices: to do\n# (nothing yet)\n",
    "braces": "{}\n",
    "empty-lists": "providers: []\ntools: []\ndiscounts: []\n",
    "version-only": "version: '2026-01'\nschema_version: 1\n",
}


@pytest.mark.parametrize("text", EMPTY_FILES.values(), ids=EMPTY_FILES.keys())
def test_validate_refuses_an_empty_pricing_file_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = _write(tmp_path, "prices.yaml", text)
    assert main(["pricing", "validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "valid" not in out
    assert err == f"{_empty(path)}\n1 error(s)\n"


def test_validate_of_a_directory_names_its_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "a.yaml", ACME)
    empty = _write(tmp_path, "b.yaml", "# to do\n")
    assert main(["pricing", "validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{empty}: {EMPTY}")
    assert "a.yaml" not in err


def test_a_file_with_only_cost_layers_is_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``infrastructure:`` alone is a file that does something (genai_cost.layers reads it)."""
    path = _write(tmp_path, "infra.yaml", "infrastructure: {monthly_usd: 3000, monthly_traces: 100000}\n")
    empty = _write(tmp_path, "empty.yaml", "")
    assert main(["pricing", "validate", str(path), str(empty)]) == 2
    err = capsys.readouterr().err
    assert err == f"{_empty(empty)}\n1 error(s)\n"
    assert Catalog.load([path]).problems == ()


def test_an_empty_file_at_load_is_a_catalog_problem_and_the_rest_still_prices(tmp_path: Path) -> None:
    empty = _write(tmp_path, "empty.yaml", "# nothing yet\n")
    prices = _write(tmp_path, "acme.yaml", ACME)
    for catalog in (Catalog.load([empty, prices]), Catalog.load_lenient([empty, prices])[0]):
        assert catalog.problems == (_empty(empty),)
        assert catalog.price(TokenUsage(input_tokens=M), "acme-1", "acme").total_usd == pytest.approx(0.9)
    assert Catalog.load_lenient([empty])[1] == ()  # not a file rejected: nothing in it to reject


def test_price_with_an_empty_pricing_file_prices_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = _write(tmp_path, "empty.yaml", "")
    args = ["price", "--model", "gpt-4o", "--input-tokens", "1000"]
    assert main([*args, "--pricing-file", str(empty)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("openai/gpt-4o: $")
    assert f"{LEFT_OUT}{empty}: {EMPTY}" in err
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", str(empty))
    assert main(args) == 0
    assert f"{LEFT_OUT}{empty}: {EMPTY}" in capsys.readouterr().err


def test_the_runtime_logs_an_empty_pricing_file_and_starts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from genai_cost.processor import load_catalog

    empty = _write(tmp_path, "empty.yaml", "{}\n")
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        catalog = load_catalog(CostSettings(pricing_files=(str(empty),)))
    assert catalog.price(TokenUsage(input_tokens=M), "gpt-4o", "openai").total_usd == pytest.approx(2.5)
    logged = [record.getMessage() for record in caplog.records]
    assert f"genai-cost: pricing file problem (left out; the rest still prices): {empty}: {EMPTY}" in "\n".join(logged)


def test_list_and_tools_say_what_the_catalog_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = _write(tmp_path, "empty.yaml", "")
    contract = _write(tmp_path, "contract.yaml", "discounts:\n  - {provider: opneai, percent: 10}\n")
    for command in ("list", "tools"):
        assert main(["pricing", command, "--pricing-file", str(empty), "--pricing-file", str(contract), "--json"]) == 0
        err = capsys.readouterr().err
        assert f"{LEFT_OUT}{empty}: {EMPTY}" in err
        assert f"{LEFT_OUT}{contract}:2: discounts[0].provider: 'opneai' is no provider" in err


_BLANK = st.sampled_from(["", "\n", "   \n", "# a comment\n", "  # indented comment\n"])
_EMPTY_PARTS = st.sampled_from(
    ["providers: []\n", "tools: []\n", "discounts: []\n", "version: '1'\n", "schema_version: 1\n", "version: null\n"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.tuples(_BLANK, _EMPTY_PARTS), max_size=4, unique_by=lambda part: part[1].split(":")[0]),
    flow=st.booleans(),
    tail=_BLANK,
    one_tool=st.booleans(),
)
def test_a_file_is_empty_exactly_when_it_holds_no_prices(
    parts: list[tuple[str, str]], flow: bool, tail: str, one_tool: bool
) -> None:
    """Comments, blank lines, empty lists and a version, in any order and either YAML style,
    are an empty file; one tool makes it a file that prices. Validate and load agree."""
    tool = f"tools: [{{name: my_search, per_call: 0.5, {SOURCE}}}]\n"
    parts = [part for part in parts if not (one_tool and part[1].startswith("tools:"))]  # (one key once)
    if flow:  # the same keys as one flow mapping: {providers: [], version: '1'}
        items = [part.strip() for _, part in parts] + ([tool.strip()] if one_tool else [])
        body = "{" + ", ".join(items) + "}\n" + tail
    else:
        body = "".join(blank + part for blank, part in parts) + tail + (tool if one_tool else "")
    with tempfile.TemporaryDirectory() as directory:
        path = _write(Path(directory), "prices.yaml", body)
        code, out, err = _run("pricing", "validate", str(path))
        problems = Catalog.load([path], include_default=False).problems
    if one_tool:
        assert (code, err, problems) == (0, "", ()), body
        assert out.startswith("valid: 1 file(s), 0 model(s) of 0 provider(s), 1 tool(s), 0 discount(s)\n")
    else:
        assert code == 2, body
        assert err.startswith(f"{path}: {EMPTY}"), body
        assert problems == (_empty(path),), body


# ---------------------------------------------------------------------------------- 4. tools


def test_pricing_tools_lists_each_tool_with_its_fees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = _write(tmp_path, "acme.yaml", ACME)
    assert main(["pricing", "tools", "--pricing-file", str(prices), "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["openai.web_search"] == {
        "name": "openai.web_search",
        "names": ["openai.web_search", "openai.web_search_call", "web_search_call"],
        "category": "retrieval",
        "per_call": 0.01,
        "per_unit": 0.0,
        "unit_attribute": None,
        "unit_name": None,
        "layer": "curated",
        "defined_in": "catalog:tools.yaml",
        "source": "https://developers.openai.com/api/docs/pricing",
        "checked": "2026-11-20",
    }
    assert rows["my_pages"] | {"defined_in": None} == {
        "name": "my_pages",
        "names": ["my_pages"],
        "category": "tool",
        "per_call": 0.01,
        "per_unit": 0.002,
        "unit_attribute": "my.pages.count",
        "unit_name": "page",
        "layer": "override",
        "defined_in": None,
        "source": "ours",
        "checked": "2026-01-01",
    }
    assert rows["my_pages"]["defined_in"] == str(prices)
    assert rows["my_search"]["names"] == ["my.search", "my_search"]
    # every tool the catalog prices by name, once each
    assert {name for row in rows.values() for name in row["names"]} == set(Catalog.load([prices]).tools)

    assert main(["pricing", "tools", "--pricing-file", str(prices)]) == 0
    lines = capsys.readouterr().out.splitlines()
    pages = next(line for line in lines if line.startswith("my_pages "))
    assert pages.split() == ["my_pages", "tool", "user", "per", "call", "0.01", "per", "unit", "0.002", "x",
                             "my.pages.count", "(page)", "checked", "2026-01-01", "ours"]  # fmt: skip
    search = next(line for line in lines if line.startswith("openai.web_search "))
    assert "per call 0.01 per unit - checked 2026-11-20 https://developers.openai.com/api/docs/pricing" in search
    assert lines[-1] == f"{len(rows)} tool(s) (catalog {Catalog.load().version})"


def test_pricing_tools_shows_a_shipped_tool_a_file_of_yours_replaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later file's tool named as a shipped one prices that tool under every name that
    reached it, its aliases too (a span named ``web_search_call`` is not billed the old
    fee): one row, the user's, with all the names."""
    prices = _write(tmp_path, "search.yaml", f"tools:\n  - {{name: openai.web_search, per_call: 0.008, {SOURCE}}}\n")
    assert main(["pricing", "tools", "--pricing-file", str(prices), "--json"]) == 0
    rows = [row for row in json.loads(capsys.readouterr().out) if row["name"] == "openai.web_search"]
    assert [(row["layer"], row["per_call"], row["names"]) for row in rows] == [
        ("override", 0.008, ["openai.web_search", "openai.web_search_call", "web_search_call"]),
    ]


def test_demo_says_a_pricing_file_holds_nothing_and_still_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _write(tmp_path, "empty.yaml", "# prices to come\n")
    assert main(["demo", "--pricing-file", str(empty), "--json"]) == 0
    captured = capsys.readouterr()
    assert f"genai-cost: pricing file problem (left out; the rest still prices): {empty}: holds no prices" in (
        captured.err
    )
    assert json.loads(captured.out)["trace"]["total_usd"] == pytest.approx(0.142)


def test_validate_says_every_problem_of_several_files_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A schema error in one file hid another's unknown fallback, which hid a third's unknown
    discount provider: three runs to find three errors (new-user audit)."""
    typo = _write(tmp_path, "typo.yaml", "providers:\n  - id: acme\n    modles: []\n")
    fallback = _write(tmp_path, "fb.yaml", "providers:\n  - id: acme\n    fallbacks: [openai, nonexistent]\n"
                      "    models: []\n")  # fmt: skip
    contract = _write(tmp_path, "contract.yaml", "discounts:\n  - {provider: opneai, percent: 15}\n")
    assert main(["pricing", "validate", str(typo), str(contract), str(fallback)]) == 2
    err = capsys.readouterr().err
    assert f"{typo}:3: providers[0].modles" in err
    assert f"{fallback}:3: providers[0].fallbacks[1]: 'nonexistent' is not a provider" in err
    assert f"{contract}:2: discounts[0].provider: 'opneai' is no provider" in err
    assert "3 error(s)" in err
    assert "left out of the check with the shipped catalog" in err
