"""The genai-cost command as a user runs it (a real subprocess)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost.cli import main
from genai_cost.pricing import Catalog

BIN = str(Path(sys.executable).parent / "genai-cost")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, check=False)


def test_price_json_fields():
    result = run("price", "--provider", "openai", "--model", "gpt-4o", "--input-tokens", "10000",
                 "--output-tokens", "1000", "--cache-read-tokens", "4000", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["input_usd"] == pytest.approx(0.015)
    assert data["cache_read_usd"] == pytest.approx(0.005)
    assert data["cache_write_usd"] == 0.0
    assert data["output_usd"] == pytest.approx(0.01)
    assert data["total_usd"] == pytest.approx(0.03)
    assert data["pricing_id"] == "openai/gpt-4o"
    assert data["price_source"].startswith("http")


def test_price_unknown_model_exits_2_with_a_clear_message():
    result = run("price", "--provider", "openai", "--model", "gpt-nonexistent-9", "--input-tokens", "1",
                 "--output-tokens", "1", "--json")
    assert result.returncode == 2
    assert "gpt-nonexistent-9" in result.stderr and "unknown_model" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("provider", "model", "meant"), [
    ("openai", "gpt-4o-mni", "openai/gpt-4o-mini"),
    ("anthropic", "claude-sonet-4-5", "anthropic/claude-sonnet-4-5"),
    (None, "gpt-4o-mni", "openai/gpt-4o-mini"),  # no provider: the first-party entry comes first
    ("antropic", "claude-sonnet-4-5", "anthropic"),
])
def test_a_misspelt_name_gets_what_it_was_probably_meant_to_be(capsys, provider, model, meant):
    args = ["price", "--model", model, "--input-tokens", "10", "--output-tokens", "1"]
    assert main([*args, "--provider", provider] if provider else args) == 2
    err = capsys.readouterr().err
    assert f"did you mean {meant} or " in err or f"did you mean {meant}?" in err, err


def test_a_name_like_nothing_gets_no_guess(capsys):
    assert main(["price", "--provider", "openai", "--model", "zzzqqqxx", "--input-tokens", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown_model" in err and "did you mean" not in err


@functools.cache
def _catalog() -> Catalog:
    return Catalog.load()


@settings(max_examples=200, deadline=None)
@given(model=st.text(max_size=30), provider=st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["openai", "anthropic", "gcp.gemini", "aws.bedrock"])))
def test_near_misses_are_always_names_the_catalog_knows(model, provider):
    catalog = _catalog()
    near = catalog.near_misses(model, provider)
    assert len(near) <= 3
    for name in near:
        if provider and catalog.provider_id(provider) is None:
            assert catalog.provider_id(name) is not None  # a provider name
        else:
            assert catalog.entry(name).pricing_id == name  # a pricing id


def test_price_rejects_cache_larger_than_inclusive_input(capsys):
    code = main(["price", "--model", "gpt-4o", "--input-tokens", "10", "--cache-read-tokens", "20"])
    assert code == 2
    assert capsys.readouterr().err == (
        "genai-cost: --cache-read-tokens 20 exceeds --input-tokens 10: --input-tokens is the total input and"
        " must include the cache read tokens\n"
    )


def test_price_at_a_past_date_uses_the_price_then(capsys):
    code = main(["price", "--provider", "openai", "--model", "gpt-4o", "--input-tokens", "1000000",
                 "--output-tokens", "0", "--at", "2026-01-01T00:00:00Z", "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["effective_from"]


def test_bad_arguments_exit_2():
    assert run("price", "--model", "gpt-4o", "--input-tokens", "-4").returncode == 2
    assert run("price", "--model", "gpt-4o", "--at", "yesterday").returncode == 2


def test_demo_reproduces_the_article(tmp_path):
    result = run("demo", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    trace = summary["trace"]
    assert trace["llm_usd"] == pytest.approx(0.129)
    assert trace["tool_usd"] == pytest.approx(0.013)
    assert trace["total_usd"] == pytest.approx(0.142)
    assert trace["llm_calls"] == 10 and trace["tool_calls"] == 5
    assert trace["input_tokens"] == 38_800 and trace["output_tokens"] == 3_200
    assert trace["unpriced_spans"] == 0
    assert len(summary["spans"]) == 15


def test_demo_table_is_readable():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert "LLM    $0.129" in result.stdout
    assert "tools  $0.013" in result.stdout
    assert "total  $0.142" in result.stdout


def test_price_without_at_is_priced_at_todays_rates_not_a_later_period(tmp_path):
    """A period the catalog knows starts in the future (an introductory price that
    ends) must not price a call made now."""
    prices = tmp_path / "intro.yaml"
    prices.write_text(
        "providers:\n"
        "  - id: acme\n"
        "    models:\n"
        "      - id: acme-1\n"
        "        prices:\n"
        "          - {input: 1.0, output: 1.0, source: intro price, checked: 2026-11-22}\n"
        "          - {effective_from: 2099-01-01, input: 2.0, output: 2.0, source: list price, checked: 2026-11-22}\n"
    )
    common = ["price", "--provider", "acme", "--model", "acme-1", "--input-tokens", "1000000", "--json",
              "--pricing-file", str(prices)]
    assert json.loads(run(*common).stdout)["total_usd"] == 1.0
    assert json.loads(run(*common, "--at", "2099-06-01").stdout)["total_usd"] == 2.0


def test_version_names_the_package_and_the_catalog():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("genai-cost ") and "pricing catalog" in result.stdout


def test_pricing_without_a_subcommand_shows_its_own_help():
    result = run("pricing")
    assert result.returncode == 2
    assert "pricing commands" in result.stdout and "validate" in result.stdout


def test_one_hour_cache_writes_cannot_exceed_all_cache_writes():
    result = run("price", "--model", "gpt-4o", "--input-tokens", "1000", "--cache-write-tokens", "500",
                 "--cache-write-1h-tokens", "800")
    assert result.returncode == 2
    assert "cannot exceed it" in result.stderr


def test_output_into_a_closed_pipe_ends_quietly(tmp_path, monkeypatch):
    """`genai-cost report ... | head`: the reader goes away mid-output."""

    class ClosedPipe:
        def __init__(self) -> None:
            self._file = open(tmp_path / "stdout", "w")  # noqa: SIM115 - a real descriptor to redirect

        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return self._file.fileno()

    saved = tmp_path / "demo.json"
    assert main(["demo", "--save", str(saved)]) == 0
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["report", str(saved)]) == 0


def test_importing_genai_prices_without_it_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "genai_prices", None)
    assert main(["pricing", "import", "--from", "genai-prices", "--out", str(tmp_path)]) == 2
    assert "pip install genai-prices" in capsys.readouterr().err
