"""Values of a pricing file that validate but are almost surely a unit mistake: a rate per
token written where rates are per million (LiteLLM's JSON and many price sheets give them
per token), ``percent: 0.15`` meant as 15%. An SRE's audit: such a file passed ``pricing
validate``, every call cost about nothing, and a $1 cost limit never stopped the agent.
They are said as warnings, naming file, line and field; the file still prices."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost.cli import main
from genai_cost.config import CostSettings
from genai_cost.pricing.doubts import LOWEST_PLAUSIBLE_RATE, doubtful_values
from genai_cost.pricing.files import parse_pricing_text, read_pricing_file
from genai_cost.processor import load_catalog

REPO = Path(__file__).resolve().parent.parent

PER_TOKEN = """providers:
  - id: acme
    models:
      - id: acme-large
        prices:
          - input: 0.000003
            output: 15
            source: "LiteLLM JSON"
            checked: 2026-11-20
            service_tiers:
              flex: {output: 0.0000075}
discounts:
  - {provider: openai, percent: 0.15}
"""


def test_every_shipped_file_is_free_of_doubt() -> None:
    """The threshold is the shipped catalog's lowest rate: no shipped value is doubted."""
    files = sorted((REPO / "pricing").rglob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        assert doubtful_values(read_pricing_file(path)) == [], path


def test_validate_warns_naming_file_line_and_field_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(PER_TOKEN, encoding="utf-8")
    assert main(["pricing", "validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "; 3 warning(s), below" in out
    lines = err.splitlines()
    assert lines[0].startswith(f"warning: {path}:6: providers[0].models[0].prices[0].input: 3e-06 USD per million")
    assert "(3e-06 per token is 3 per million)" in lines[0]
    assert lines[1].startswith(f"warning: {path}:11: providers[0].models[0].prices[0].service_tiers.flex.output:")
    assert lines[2] == (
        f"warning: {path}:13: discounts[0].percent: 0.15 takes 0.15% off: percent counts out of 100"
        " (write 15 for 15%)"
    )


def test_the_runtime_and_price_say_them_too(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(PER_TOKEN, encoding="utf-8")
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENAI_COST_CACHE_DIR", str(cache))
    caplog.set_level(logging.WARNING, logger="genai_cost")
    for cached in (False, True):  # compiled and cached the first time, read from the cache the second
        assert any(cache.glob("*.json")) is cached
        catalog = load_catalog(CostSettings(pricing_files=(str(path),)))
        assert len(catalog.doubts) == 3
        assert caplog.text.count("pricing file warning (priced as written)") == 3
        assert f"{path}:6: providers[0].models[0].prices[0].input" in caplog.text
        caplog.clear()
    # priced as written: the warning does not stop it
    args = ["price", "--provider", "acme", "--model", "acme-large", "--input-tokens", "10000", "--output-tokens", "0"]
    assert main([*args, "--pricing-file", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "acme/acme-large: $0.00000003"
    assert err.count("genai-cost: pricing file warning (priced as written)") == 3


@settings(max_examples=100, deadline=None)
@given(
    rate=st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0005, 0.000499, 0.0000025, 1e-12])
)
def test_a_rate_is_doubted_exactly_when_below_the_lowest_shipped_rate(rate: float) -> None:
    text = (
        "providers:\n  - id: acme\n    models:\n      - id: m\n        prices:\n"
        f"          - {{input: {rate:.15f}, source: s, checked: 2026-11-20}}\n"
    )
    parsed = parse_pricing_text(text, "f.yaml")
    written = parsed.providers[0].models[0].prices[0].input
    assert written is not None
    assert bool(doubtful_values(parsed)) == (0 < written < LOWEST_PLAUSIBLE_RATE)


@pytest.mark.parametrize(("percent", "doubted"), [(0.15, True), (0.999, True), (1, False), (15, False), (100, False)])
def test_a_discount_below_one_percent_is_doubted(percent: float, doubted: bool) -> None:
    parsed = parse_pricing_text(f"discounts:\n  - {{provider: openai, percent: {percent}}}\n", "f.yaml")
    assert bool(doubtful_values(parsed)) is doubted


def test_a_file_of_many_doubts_loads_as_fast_as_one_and_says_the_first_few_and_a_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each doubt read and composed the whole file again: a price list of 400 models copied
    per token (800 doubts) took two minutes to load, at every start of the application."""
    from genai_cost.pricing import Catalog
    from genai_cost.pricing.doubts import MAX_SAID

    models = "".join(
        f"      - id: m{n}\n        prices:\n          - input: 0.000003\n            output: 0.000015\n"
        f"            source: LiteLLM JSON\n            checked: 2026-11-20\n"
        for n in range(400)
    )
    path = tmp_path / "per-token.yaml"
    path.write_text(
        f"providers:\n  - id: acme\n    models:\n{models}discounts:\n  - {{provider: acme, percent: 0.15}}\n",
        encoding="utf-8",
    )
    catalog = Catalog.load([path])
    said = catalog.doubts
    assert len(said) == MAX_SAID + 2
    assert said[0].startswith(f"{path}:6: providers[0].models[0].prices[0].input: 3e-06 USD per million")
    # Another kind of mistake is said whatever the rates: not hidden behind them.
    assert any("discounts[0].percent: 0.15 takes 0.15% off" in message for message in said)
    assert said[-1] == f"{path}: {800 - MAX_SAID} more rate(s) below $0.0005 per million tokens, not listed"
    assert main(["pricing", "validate", str(path)]) == 0
    assert "; 801 warning(s), below" in capsys.readouterr().out  # each value, not each line said
