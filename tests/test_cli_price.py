"""``genai-cost price``: the pricing files it reads, and the token counts it refuses.

As the runtime prices, so does the command: the shipped catalog, then the files
``GENAI_COST_PRICING_FILE`` names, then each ``--pricing-file`` (docs/pricing.md: one
layer). A part of a total (audio, reasoning) larger than the total would be clamped
by the pricing and priced as nothing: it is refused, as cache counts are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genai_cost.cli import main

BIN = str(Path(sys.executable).parent / "genai-cost")

#: The quickstart's file (docs/quickstart.md §4): a 15% discount on OpenAI.
DISCOUNT = "discounts:\n  - provider: openai\n    percent: 15\n"
#: The article's ten GPT-4o calls in one: $0.129 at list price, $0.109650 with 15% off.
ARTICLE = ["--provider", "openai", "--model", "gpt-4o", "--input-tokens", "38800", "--output-tokens", "3200"]


def _acme(path: Path, usd_per_million: float) -> Path:
    path.write_text(
        "providers:\n"
        "  - id: acme\n"
        "    models:\n"
        "      - id: acme-1\n"
        "        prices:\n"
        f"          - {{input: {usd_per_million}, output: {usd_per_million}, source: test, checked: 2026-11-22}}\n",
        encoding="utf-8",
    )
    return path


def _price_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["price", *args, "--json"]) == 0, capsys.readouterr().err
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


# ------------------------------------------------------------------ GENAI_COST_PRICING_FILE


def test_pricing_list_reads_genai_cost_pricing_file_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pricing list` showed only the shipped catalog and --pricing-file: the user's
    models, set in the variable, were missing from the list the runtime prices with."""
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", str(_acme(tmp_path / "acme.yaml", 2.0)))
    assert main(["pricing", "list", "--provider", "acme", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["pricing_id"] for row in rows] == ["acme/acme-1"]


def test_price_reads_genai_cost_pricing_file_as_the_user_runs_it(tmp_path: Path) -> None:
    prices = tmp_path / "my-prices.yaml"
    prices.write_text(DISCOUNT, encoding="utf-8")
    env = {**os.environ, "GENAI_COST_PRICING_FILE": str(prices)}
    result = subprocess.run([BIN, "price", *ARTICLE], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("openai/gpt-4o: $0.109650\n"), result.stdout
    assert "adjustments: discount=15%" in result.stdout
    without = {key: value for key, value in env.items() if key != "GENAI_COST_PRICING_FILE"}
    listed = subprocess.run(
        [BIN, "price", *ARTICLE], capture_output=True, text=True, env=without, timeout=120, check=False
    )
    assert listed.stdout.startswith("openai/gpt-4o: $0.129000\n"), listed.stdout


def test_price_and_demo_agree_under_genai_cost_pricing_file(tmp_path: Path, monkeypatch, capsys) -> None:
    """The quickstart sets the variable (§4) and checks a price with ``price`` (§5)."""
    prices = tmp_path / "my-prices.yaml"
    prices.write_text(DISCOUNT, encoding="utf-8")
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", str(prices))
    priced = _price_json(capsys, *ARTICLE)
    assert priced["total_usd"] == pytest.approx(0.10965)
    assert priced["adjustments"] == ["discount=15%"]
    assert main(["demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trace"]["llm_usd"] == pytest.approx(0.10965)


def test_pricing_file_options_come_after_the_variables_files(tmp_path: Path, monkeypatch, capsys) -> None:
    """Several entries separated by os.pathsep, a directory among them; a later file wins."""
    directory = tmp_path / "team"
    directory.mkdir()
    _acme(directory / "acme.yaml", 1.0)
    (tmp_path / "discount.yaml").write_text(DISCOUNT, encoding="utf-8")
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", os.pathsep.join([str(directory), str(tmp_path / "discount.yaml")]))
    acme = ["--provider", "acme", "--model", "acme-1", "--input-tokens", "1000000"]
    assert _price_json(capsys, *acme)["total_usd"] == 1.0
    assert _price_json(capsys, *ARTICLE)["total_usd"] == pytest.approx(0.10965)
    override = _acme(tmp_path / "override.yaml", 3.0)
    assert _price_json(capsys, *acme, "--pricing-file", str(override))["total_usd"] == 3.0


def test_a_broken_file_in_the_variable_exits_2_naming_it(tmp_path: Path, monkeypatch, capsys) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("providers: [\n", encoding="utf-8")
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", str(broken))
    assert main(["price", *ARTICLE]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "genai-cost: pricing file error:" in captured.err and f"{broken}:" in captured.err
    assert f"GENAI_COST_PRICING_FILE={broken}" in captured.err


def test_an_empty_variable_is_no_file(monkeypatch, capsys) -> None:
    monkeypatch.setenv("GENAI_COST_PRICING_FILE", "")
    assert _price_json(capsys, *ARTICLE)["total_usd"] == pytest.approx(0.129)


def test_price_help_says_where_its_prices_come_from(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["price", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "GENAI_COST_PRICING_FILE" in text
    assert "loaded after those GENAI_COST_PRICING_FILE names" in text


# ------------------------------------------------------------------ parts larger than their totals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--model", "gpt-4o-audio-preview", "--input-audio-tokens", "1000", "--output-audio-tokens", "1000"],
            "--input-audio-tokens 1000 exceeds --input-tokens 0: --input-tokens is the total input and must"
            " include the audio input tokens",
        ),
        (
            [
                "--model",
                "gpt-4o-audio-preview",
                "--input-tokens",
                "1000",
                "--input-audio-tokens",
                "1000",
                "--output-audio-tokens",
                "1000",
            ],
            "--output-audio-tokens 1000 exceeds --output-tokens 0: --output-tokens is the total output and must"
            " include the audio output tokens",
        ),
        (
            ["--model", "o3", "--output-tokens", "0", "--reasoning-tokens", "5000"],
            "--reasoning-tokens 5000 exceeds --output-tokens 0: --output-tokens is the total output and must"
            " include the reasoning tokens",
        ),
        (
            [
                "--model",
                "gpt-4o-audio-preview",
                "--output-tokens",
                "100",
                "--reasoning-tokens",
                "60",
                "--output-audio-tokens",
                "50",
            ],
            "--reasoning-tokens 60 and --output-audio-tokens 50 are separate parts of --output-tokens 100,"
            " so together they cannot exceed it",
        ),
    ],
    ids=["input-audio", "output-audio", "reasoning", "reasoning-and-audio"],
)
def test_a_part_larger_than_its_total_exits_2_and_prices_nothing(capsys, args: list[str], message: str) -> None:
    assert main(["price", "--provider", "openai", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no $0.000000 for a script to read
    assert captured.err == f"genai-cost: {message}\n"


def test_the_audit_repro_no_longer_prices_zero() -> None:
    result = subprocess.run(
        [
            BIN,
            "price",
            "--provider",
            "openai",
            "--model",
            "gpt-4o-audio-preview",
            "--input-audio-tokens",
            "1000",
            "--output-audio-tokens",
            "1000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert "--input-audio-tokens 1000 exceeds --input-tokens 0" in result.stderr


def test_parts_within_their_totals_are_priced_at_their_rates(capsys) -> None:
    audio = _price_json(
        capsys,
        "--provider",
        "openai",
        "--model",
        "gpt-4o-audio-preview",
        "--input-tokens",
        "1000",
        "--input-audio-tokens",
        "1000",
        "--output-tokens",
        "1000",
        "--output-audio-tokens",
        "1000",
    )
    # audio: $40 / $80 a million tokens
    assert (audio["input_usd"], audio["output_usd"], audio["total_usd"]) == (0.04, 0.08, 0.12)
    reasoning = _price_json(
        capsys, "--provider", "openai", "--model", "o3", "--output-tokens", "5000", "--reasoning-tokens", "5000"
    )
    assert reasoning["total_usd"] == 0.04  # $8 a million output tokens, reasoning included


def test_each_part_says_in_its_help_that_it_is_included_in_the_total(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["price", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, total in [
        ("--reasoning-tokens REASONING_TOKENS", "--output-tokens"),
        ("--input-audio-tokens INPUT_AUDIO_TOKENS", "--input-tokens"),
        ("--output-audio-tokens OUTPUT_AUDIO_TOKENS", "--output-tokens"),
        ("--cache-read-tokens CACHE_READ_TOKENS", "--input-tokens"),
    ]:
        after = text.split(flag, 2)[2]  # the usage line names it first, then the option list
        assert after.lstrip().startswith(f"the part of {total} "), after[:80]
        assert "(included in it)" in after[:100]


def test_a_model_billed_per_gpu_second_is_priced_with_the_duration_given(tmp_path: Path, capsys) -> None:
    """docs/pricing.md documents per_gpu_second pricing, but price had no way to say how
    long the call ran: it could only exit 2 (missing_duration)."""
    selfhosted = tmp_path / "selfhosted.yaml"
    selfhosted.write_text(
        "providers:\n  - id: in-house\n    aliases: [vllm]\n    models:\n      - id: llama-70b\n"
        "        kind: chat\n        prices:\n"
        "          - {per_gpu_second: 0.0011, gpus: 2, source: internal, checked: 2026-11-22}\n",
        encoding="utf-8",
    )
    common = ["--provider", "vllm", "--model", "llama-70b", "--input-tokens", "1000", "--pricing-file", str(selfhosted)]
    result = _price_json(capsys, *common, "--duration-s", "10")
    assert result["total_usd"] == pytest.approx(0.022) and result["compute_usd"] == pytest.approx(0.022)
    assert main(["price", *common]) == 2
    assert "--duration-s" in capsys.readouterr().err


def test_a_discount_that_applies_nowhere_is_said_by_price(tmp_path: Path, capsys) -> None:
    """The command a user checks a discount with printed the undiscounted price and nothing
    else, where the runtime logs the problem."""
    typo = tmp_path / "discount.yaml"
    typo.write_text("discounts:\n  - provider: opneai\n    percent: 15\n", encoding="utf-8")
    assert main(["price", "--model", "gpt-4o", "--input-tokens", "1000", "--pricing-file", str(typo), "--json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["total_usd"] == pytest.approx(0.0025)
    assert f"{typo}:2: discounts[0].provider: 'opneai'" in printed.err


def test_price_takes_searches_requests_and_image_tokens(tmp_path: Path, capsys) -> None:
    """Fees and image tokens could be checked only through the Python API."""
    acme = tmp_path / "acme.yaml"
    acme.write_text(
        "providers:\n"
        "  - id: acme\n"
        "    models:\n"
        "      - id: acme-1\n"
        "        prices:\n"
        "          - {input: 1, output: 2, input_image: 10, output_image: 40, per_request: 0.5,"
        " per_search: 0.01, source: test, checked: 2026-11-22}\n",
        encoding="utf-8",
    )
    args = ["price", "--pricing-file", str(acme), "--provider", "acme", "--model", "acme-1", "--json",
            "--input-tokens", "3000000", "--input-image-tokens", "1000000",
            "--output-tokens", "2000000", "--output-image-tokens", "1000000",
            "--web-searches", "100", "--requests", "4"]
    assert main(args) == 0
    cost = json.loads(capsys.readouterr().out)
    # 2M text + 1M image in, 1M text + 1M image out; 4 requests; 100 searches
    assert cost["search_usd"] == pytest.approx(1.0)
    assert cost["request_usd"] == pytest.approx(2.0)
    assert cost["total_usd"] == pytest.approx(2 * 1 + 10 + 1 * 2 + 40 + 2.0 + 1.0)
    with pytest.raises(SystemExit) as refused:  # a negative count is refused, as token counts are
        main([*args[:-2], "--requests", "-1"])
    assert refused.value.code == 2


@pytest.mark.parametrize(
    ("tokens", "shown"),
    [("5", "$0.0000001"), ("1", "$0.00000002"), ("1000000", "$0.020000"), ("50", "$0.000001")],
)
def test_a_cost_below_a_millionth_of_a_dollar_is_never_shown_as_zero(
    tokens: str, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five embedding tokens cost $0.0000001: shown to six decimals, that read ``$0.000000``,
    as if free (an audit; ``report`` already shows such amounts as ``<$0.000001``). One call's
    cost is shown in full instead."""
    args = ["price", "--provider", "openai", "--model", "text-embedding-3-small", "--input-tokens", tokens]
    assert main([*args, "--output-tokens", "0"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"openai/text-embedding-3-small: {shown}"
