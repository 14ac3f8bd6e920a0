"""Loading and validating pricing files: defects found by an audit, each pinned with
the USD figure it must give (fine-tuned ids, discounts by alias, discounts that never
apply, duplicates in one file, fallbacks, number types, service tier case, directories,
a user provider named by an alias of a shipped one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost.cli import main
from genai_cost.pricing import Catalog, CatalogError, TokenUsage
from genai_cost.pricing.catalog import pricing_file_paths

M = 1_000_000
SOURCE = "source: https://acme.example/pricing, checked: 2026-11-01"


@pytest.fixture(autouse=True)
def _no_compile_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # every file is validated, never taken from a cache of an earlier run
    monkeypatch.setenv("GENAI_COST_CACHE_DIR", "off")


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------- 1. fine-tuned ids


@pytest.mark.parametrize(
    "model",
    [
        "ft:gpt-4o-2024-11-20:acme::abc",
        "ft:gpt-4o-2024-11-20:acme:support:abc:ckpt-step-10",
        "ft:gpt-4o-2024-08-06:acme::abc",
        "ft:gpt-4o-2024-11-20",
    ],
)
def test_a_dated_fine_tune_is_priced_by_the_curated_entry(shipped: Catalog, model: str) -> None:
    """``ft:gpt-4o-2024-11-20:acme::abc`` used to take LiteLLM's exact
    ``ft:gpt-4o-2024-11-20`` ($3.75 for cache reads too): $3.75 instead of $2.25."""
    cost = shipped.price(TokenUsage(input_tokens=M, cache_read_tokens=800_000), model, "openai")
    assert cost.pricing_id == "openai/ft:gpt-4o"
    assert cost.total_usd == pytest.approx(2.25)  # 200k x $3.75/M + 800k x $1.875/M
    assert cost.cache_read_usd == pytest.approx(1.50)


def test_a_fine_tune_with_its_own_dated_entry_keeps_it(shipped: Catalog) -> None:
    # no curated ft:gpt-4.1: the imported exact ft:gpt-4.1-2025-04-14 ($3 / cached $0.75)
    cost = shipped.price(
        TokenUsage(input_tokens=M, cache_read_tokens=800_000), "ft:gpt-4.1-2025-04-14:acme::abc", "openai"
    )
    assert cost.pricing_id == "openai/ft:gpt-4.1-2025-04-14"
    assert cost.total_usd == pytest.approx(1.20)


def test_price_command_prices_a_dated_fine_tune_from_the_curated_entry(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["price", "--provider", "openai", "--model", "ft:gpt-4o-2024-11-20:acme::abc",
            "--input-tokens", "1000000", "--cache-read-tokens", "800000"]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[0] == "openai/ft:gpt-4o: $2.250000"


# ------------------------------------------------ 2. discounts by alias / dated id


DISCOUNTS_BY_ALIAS = """
discounts:
  - {provider: gemini, percent: 50}
  - {provider: azure_openai, percent: 50}
  - {provider: anthropic, model: claude-sonnet-4-5-20250929, percent: 50}
  - {provider: bedrock, model: claude-sonnet-4.5, percent: 20}
"""


@pytest.mark.parametrize(
    ("model", "provider", "listed", "discounted"),
    [
        ("gemini-2.5-flash", "google", 2.80, 1.40),  # provider: gemini is google
        ("gemini-2.5-flash", "gemini", 2.80, 1.40),
        ("gpt-4o", "azure", 12.50, 6.25),  # provider: azure_openai is azure
        ("claude-sonnet-4-5", "anthropic", 28.50, 14.25),  # the dated id names the entry
        ("claude-sonnet-4-5-20250929", "anthropic", 28.50, 14.25),
        ("claude-sonnet-4.5", "anthropic", 28.50, 14.25),
        # Bedrock in-region 1.1x, then 20% off: 31.35 x 0.8
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "aws-bedrock", 31.35, 25.08),
        ("gpt-4o", "openai", 12.50, 12.50),  # an Azure contract is not OpenAI's
        ("gemini-2.5-flash", "google-vertex", 2.80, 2.80),  # nor is a Gemini API one Vertex's
        ("claude-haiku-4-5", "anthropic", None, None),  # per model: Haiku not discounted
    ],
)
def test_a_discount_applies_however_its_provider_and_model_are_spelt(
    tmp_path: Path,
    shipped: Catalog,
    model: str,
    provider: str,
    listed: float | None,
    discounted: float | None,
) -> None:
    catalog = Catalog.load([_write(tmp_path, "contract.yaml", DISCOUNTS_BY_ALIAS)])
    assert catalog.problems == ()
    usage = TokenUsage(input_tokens=M, output_tokens=M)
    before = shipped.price(usage, model, provider).total_usd
    after = catalog.price(usage, model, provider).total_usd
    if listed is None:
        assert after == before
        return
    assert before == pytest.approx(listed)
    assert after == pytest.approx(discounted)


# --------------------------------------------- 3. discounts that never apply


def test_a_discount_that_matches_nothing_is_a_catalog_problem(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "contract.yaml",
        "discounts:\n"
        "  - {provider: opneai, percent: 15}\n"
        "  - provider: openai\n"
        "    model: gpt-4o-typo\n"
        "    percent: 15\n"
        "  - {provider: openai, model: gpt-4o, percent: 10}\n",
    )
    catalog = Catalog.load([path])  # loads: the rest of the file still applies
    assert catalog.problems == (
        f"{path}:2: discounts[0].provider: 'opneai' is no provider the catalog knows (the discount never applies);"
        " did you mean 'openai'?",
        f"{path}:4: discounts[1].model: 'gpt-4o-typo' is no openai model the catalog knows, so the discount"
        " never applies",
    )
    usage = TokenUsage(input_tokens=M, output_tokens=M)
    assert catalog.price(usage, "gpt-4o", "openai").total_usd == pytest.approx(11.25)  # 12.50 - 10%
    assert catalog.price(usage, "gpt-4o-mini", "openai").total_usd == pytest.approx(0.75)  # list price
    assert Catalog.load().problems == ()


# ------------------------------------------------------ 4. duplicates in one file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "providers:\n  - id: acme\n    models:\n"
            f"      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n"
            f"      - {{id: acme-1, prices: [{{input: 9.0, {SOURCE}}}]}}\n",
            ":5: providers[0].models[1].id: model 'acme-1' is given twice for provider 'acme'",
        ),
        (
            "providers:\n  - id: acme\n    models:\n"
            f"      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n"
            f"      - {{id: ACME-1, prices: [{{input: 9.0, {SOURCE}}}]}}\n",
            ":5: providers[0].models[1].id: model 'ACME-1' is given twice for provider 'acme' (ids are matched"
            " ignoring case)",
        ),
        (
            "providers:\n  - id: acme\n    models:\n"
            f"      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n"
            "  - id: acme\n    models:\n"
            f"      - {{id: acme-2, prices: [{{input: 9.0, {SOURCE}}}]}}\n",
            ":5: providers[1].id: provider 'acme' is given twice in this file; put its models in one block"
            " (first at providers[0].id, line 2)",
        ),
        (
            "providers:\n  - id: acme\n    models:\n"
            f"      - {{id: acme-1, match: {{exact: [acme-latest]}}, prices: [{{input: 1.0, {SOURCE}}}]}}\n"
            f"      - {{id: acme-2, match: {{exact: [acme-latest]}}, prices: [{{input: 9.0, {SOURCE}}}]}}\n",
            ":5: providers[0].models[1].match.exact[0]: 'acme-latest' already names another entry of provider"
            " 'acme': two entries cannot share an exact name (first at providers[0].models[0].match.exact[0], line 4)",
        ),
        (
            "providers:\n  - id: acme\n    models:\n"
            f"      - {{id: acme-1, match: {{exact: [acme-2]}}, prices: [{{input: 1.0, {SOURCE}}}]}}\n"
            f"      - {{id: acme-2, prices: [{{input: 9.0, {SOURCE}}}]}}\n",
            ":5: providers[0].models[1].id: 'acme-2' already names another entry of provider 'acme'",
        ),
    ],
    ids=["model-id", "model-id-case", "provider-block", "exact-alias", "alias-is-an-id"],
)
def test_a_name_given_twice_in_one_file_is_an_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = _write(tmp_path, "prices.yaml", text)
    assert main(["pricing", "validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert f"{path}{expected}" in err
    assert "valid" not in out
    with pytest.raises(CatalogError, match="given twice|already names"):
        Catalog.load([path])


def test_a_later_file_still_replaces_an_earlier_files_entry(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", f"providers:\n  - id: acme\n    models:\n"
                   f"      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n")  # fmt: skip
    second = _write(tmp_path, "b.yaml", f"providers:\n  - id: acme\n    models:\n"
                    f"      - {{id: ACME-1, prices: [{{input: 9.0, {SOURCE}}}]}}\n")  # fmt: skip
    catalog = Catalog.load([first, second])
    assert catalog.price(TokenUsage(input_tokens=M), "acme-1", "acme").total_usd == pytest.approx(9.0)


# ------------------------------------------------------------ 5. unknown fallbacks


def test_an_unknown_fallback_is_named_with_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "prices.yaml", "providers:\n  - id: acme\n    fallbacks: [openai, nonexistent]\n"
                  f"    models:\n      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n")  # fmt: skip
    expected = f"{path}:3: providers[0].fallbacks[1]: 'nonexistent' is not a provider in the catalog (a fallback of provider acme)"
    assert main(["pricing", "validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert expected in err
    assert "valid" not in out
    with pytest.raises(CatalogError) as raised:
        Catalog.load([path])
    assert raised.value.problems == [expected]


def test_a_fallback_may_name_a_provider_by_its_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "prices.yaml", "providers:\n  - id: acme\n    fallbacks: [gemini]\n"
                  f"    models:\n      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n")  # fmt: skip
    assert main(["pricing", "validate", str(path)]) == 0
    assert "valid: 1 file(s), 1 model(s)" in capsys.readouterr().out
    cost = Catalog.load([path]).price(TokenUsage(input_tokens=M, output_tokens=M), "gemini-2.5-flash", "acme")
    assert (cost.pricing_id, cost.total_usd) == ("google/gemini-2.5-flash", pytest.approx(2.80))


# -------------------------------------------------------------- 6. number types


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("true", "must be a number, not true (a boolean)"),
        ('"2.5"', "must be a number, not the string '2.5' (write it without quotes)"),
        # Unquoted, yet text: the quotes were never the mistake (new-user audit).
        ("1,5", "must be a number, not the string '1,5': a decimal comma? write 1.5 (with a dot; or 15 if"),
        ("$2.50", "must be a number, not the string '$2.50': write the number alone, in USD, without a currency"
         " sign: 2.50"),
        ("1,000,000", "must be a number, not the string '1,000,000': write it without the thousands separators:"
         " 1000000"),
        ("two", "must be a number, not the string 'two' (write a number, as in 2.5)"),
    ],
)
def test_a_price_that_is_not_a_number_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    path = _write(tmp_path, "prices.yaml", "providers:\n  - id: acme\n    models:\n      - id: acme-1\n"
                  f"        prices:\n          - input: 1.0\n            output: {value}\n"
                  "            source: s\n            checked: 2026-11-01\n")  # fmt: skip
    assert main(["pricing", "validate", str(path)]) == 2
    assert f"{path}:7: providers[0].models[0].prices[0].output: {message}" in capsys.readouterr().err
    with pytest.raises(CatalogError):
        Catalog.load([path])


def test_other_numbers_of_a_file_are_strict_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "prices.yaml",
        "discounts:\n  - {provider: openai, percent: '15'}\n"
        "providers:\n  - id: acme\n    models:\n"
        f"      - {{id: acme-1, prices: [{{input: 1.0, long_context: [{{above_input_tokens: true, input: 2}}], {SOURCE}}}]}}\n",
    )
    with pytest.raises(CatalogError) as raised:
        Catalog.load([path])
    fields = sorted(problem.split(": ")[1] for problem in raised.value.problems)
    assert fields == ["discounts[0].percent", "providers[0].models[0].prices[0].long_context[0].above_input_tokens"]


def test_int_and_float_prices_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "prices.yaml", "providers:\n  - id: acme\n    models:\n"
                  f"      - {{id: acme-1, prices: [{{input: 1, output: 2.5, {SOURCE}}}]}}\n")  # fmt: skip
    cost = Catalog.load([path]).price(TokenUsage(input_tokens=M, output_tokens=M), "acme-1", "acme")
    assert cost.total_usd == pytest.approx(3.5)


# --------------------------------------------------------------- 7. service tier


@pytest.mark.parametrize("tier", ["Flex", "FLEX", " flex "])
def test_the_service_tier_is_matched_ignoring_case(shipped: Catalog, tier: str) -> None:
    usage = TokenUsage(input_tokens=M)
    cost = shipped.price(usage, "o3", "openai", service_tier=tier)
    assert (cost.total_usd, cost.adjustments) == (pytest.approx(1.00), ("service_tier=flex",))  # $2 x 0.5
    resolution = shipped.resolve("o3", "openai")
    assert shipped.price_resolved(resolution, usage, service_tier=tier).total_usd == pytest.approx(1.00)
    assert shipped.price_resolved(resolution, usage, service_tier="Default").total_usd == pytest.approx(2.00)


def test_the_price_command_takes_a_capitalised_tier(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["price", "--provider", "openai", "--model", "o3", "--input-tokens", "1000000", "--service-tier", "Flex"]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[0] == "openai/o3: $1.000000"


# -------------------------------------------------------------- 8. directories


def test_validate_reads_a_directory_as_load_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "prices"
    directory.mkdir()
    _write(directory, "a.yaml", f"providers:\n  - id: acme\n    models:\n"
           f"      - {{id: acme-1, prices: [{{input: 1.0, {SOURCE}}}]}}\n")  # fmt: skip
    _write(directory, "b.yml", "discounts:\n  - {provider: acme, percent: 10}\n")
    _write(directory, "notes.txt", "not a pricing file")
    assert pricing_file_paths([directory]) == [directory / "a.yaml", directory / "b.yml"]
    assert main(["pricing", "validate", str(directory), "--with-catalog"]) == 0
    assert "valid: 2 file(s), 1 model(s)" in capsys.readouterr().out
    cost = Catalog.load([directory]).price(TokenUsage(input_tokens=M), "acme-1", "acme")
    assert cost.total_usd == pytest.approx(0.90)
    _write(directory, "c.yaml", "providers: [{id: Bad}]\n")
    assert main(["pricing", "validate", str(directory)]) == 2
    assert f"{directory / 'c.yaml'}:1: providers[0].id" in capsys.readouterr().err


# ------------------------------------- 9. a user provider named by a shipped alias


@pytest.mark.parametrize("provider_id", ["aws.bedrock", "bedrock", "aws-bedrock"])
def test_a_user_provider_named_by_an_alias_joins_the_shipped_one(tmp_path: Path, provider_id: str) -> None:
    path = _write(tmp_path, "bedrock.yaml", f"providers:\n  - id: {provider_id}\n    models:\n"
                  "      - {id: my-custom-model, prices: [{input: 1, output: 2, source: s, checked: 2026-01-01}]}\n")  # fmt: skip
    catalog = Catalog.load([path])
    usage = TokenUsage(input_tokens=M, output_tokens=M)
    custom = catalog.price(usage, "my-custom-model", "aws.bedrock")
    assert (custom.pricing_id, custom.total_usd) == ("aws-bedrock/my-custom-model", pytest.approx(3.0))
    # the shipped Bedrock prices are all still there (they used to be unknown_model)
    nova = catalog.price(usage, "amazon.nova-pro-v1:0", "bedrock")
    assert (nova.pricing_id, nova.total_usd) == ("aws-bedrock/amazon.nova-pro", pytest.approx(4.0))
    claude = catalog.price(usage, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "aws.bedrock")
    assert claude.total_usd == pytest.approx(31.35)
    assert "aws.bedrock" not in catalog.provider_ids()


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_a_hint_for_any_text_given_as_a_number_never_fails(text: str) -> None:
    """The message for text where a number goes is built for any text a file holds."""
    from genai_cost.pricing.schema import _string_hint

    hint = _string_hint(text)
    assert hint.startswith((" (", ": "))


#: A YAML tag asking a sequence or a scalar to be a mapping (``!!set``, ``!!map``): found by a
#: fuzz campaign. Before, the duplicate-key check unpacked the node as pairs: a raw TypeError
#: (or ValueError) out of ``Catalog.load``, the CLI's traceback, and a processor that raised
#: into the application at set-up, or, zero-code, priced nothing at all.
MAPPING_TAGS = {
    "set-of-a-sequence": ("tools: !!set [1]\n", "sequence"),
    "map-of-a-sequence": ("tools: !!map [1]\n", "sequence"),
    "anchored": ("x: &a !!set [1]\n", "sequence"),
    "block-sequence": ("tools: !!map\n  - 1\n", "sequence"),
    "map-of-a-scalar": ("tools: !!map x\n", "scalar"),
    "set-of-a-scalar": ("tools: !!set x\n", "scalar"),
}


@pytest.mark.parametrize("case", list(MAPPING_TAGS))
def test_a_mapping_tag_on_a_sequence_or_scalar_is_a_catalog_error_with_its_line(
    tmp_path: Path, shipped: Catalog, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, found = MAPPING_TAGS[case]
    path = tmp_path / "tagged.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        Catalog.load([str(path)])
    assert str(info.value).startswith(f"{path}:1: invalid YAML: expected a mapping, but found a {found}")
    catalog, skipped = Catalog.load_lenient([str(path)])
    assert [str(entry.path) for entry in skipped] == [str(path)]
    assert catalog.resolve("gpt-4o", "openai").model.pricing_id == shipped.resolve("gpt-4o", "openai").model.pricing_id
    assert main(["pricing", "validate", str(path)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{path}:1:" in err
