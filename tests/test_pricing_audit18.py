"""Pricing-data audit of 2026-11-22 (catalog 2026.11.22): the fixed findings, priced by hand.

Every expected figure is the arithmetic from the source rates (USD per million tokens, or per
search), as LiteLLM 1.109.1 / genai-prices 0.2.3 / the vendor page give them; none is copied
from the code under test. Each test fails on the catalog as it was before the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from genai_cost.catalog_import import ImportedModel, lend_tiers, read_import
from genai_cost.pricing import Catalog, CatalogError, TokenUsage, UnknownModelError, default_pricing_dir

M = 1_000_000
TODAY = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)
PRICING_DIR = default_pricing_dir()


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def cost(
    catalog: Catalog,
    model: str,
    provider: str | None,
    *,
    at: dt.datetime = TODAY,
    service_tier: str | None = None,
    batch: bool = False,
    **usage: int,
) -> float:
    return catalog.price(TokenUsage(**usage), model, provider, at=at, service_tier=service_tier, batch=batch).total_usd


def adjustments(catalog: Catalog, model: str, provider: str | None, **kw: Any) -> tuple[str, ...]:
    return tuple(catalog.price(TokenUsage(input_tokens=1000), model, provider, at=TODAY, **kw).adjustments)


CALL = dict(input_tokens=100_000, output_tokens=10_000)


# ------------------------------------------------ 1. Gemini 3.5 / 3.6 Flash priority, flex cache


@pytest.mark.parametrize("provider", ["google", "google-vertex"])
def test_gemini_3_5_flash_priority_is_1_8x(catalog: Catalog, provider: str) -> None:
    # LiteLLM gemini/gemini-3.5-flash: input_cost_per_token_priority 2.7e-06, output 1.62e-05.
    expected = 100_000 * 2.7 / M + 10_000 * 16.2 / M  # $0.432
    assert cost(catalog, "gemini-3.5-flash", provider, service_tier="priority", **CALL) == pytest.approx(expected)
    assert not any(
        "unpriced_at_default" in a for a in adjustments(catalog, "gemini-3.5-flash", provider, service_tier="priority")
    )


def test_gemini_3_5_flash_lite_priority_and_flex_cache(catalog: Catalog) -> None:
    # LiteLLM gemini/gemini-3.5-flash-lite: priority 5.4e-07 / cache 5e-08 / 4.5e-06; flex cache 2e-08.
    usage = dict(input_tokens=100_000, cache_read_tokens=40_000, output_tokens=10_000)
    priority = 60_000 * 0.54 / M + 40_000 * 0.05 / M + 10_000 * 4.50 / M
    flex = 60_000 * 0.15 / M + 40_000 * 0.02 / M + 10_000 * 1.25 / M
    for name in ("gemini-3.5-flash-lite", "gemini-flash-lite-latest"):
        assert cost(catalog, name, "google", service_tier="priority", **usage) == pytest.approx(priority)
        assert cost(catalog, name, "google", service_tier="flex", **usage) == pytest.approx(flex)


def test_gemini_3_5_flash_flex_cache_read(catalog: Catalog) -> None:
    # LiteLLM gemini/gemini-3.5-flash cache_read_input_token_cost_flex 8e-08 (not half of 0.15).
    got = cost(
        catalog, "gemini-3.5-flash", "google", service_tier="flex", input_tokens=1_000_000, cache_read_tokens=1_000_000
    )
    assert got == pytest.approx(0.08)


@pytest.mark.parametrize("at", [TODAY, dt.datetime(2027, 1, 2, tzinfo=dt.timezone.utc)])
def test_gemini_3_6_flash_priority_both_periods(catalog: Catalog, at: dt.datetime) -> None:
    # LiteLLM gemini/gemini-3.6-flash priority 1.35e-06 / 6.75e-06 (1.8x $0.75 / $3.75); the
    # 2027-01-01 period doubles the base, the multiple stays.
    base_in, base_out = (0.75, 3.75) if at == TODAY else (1.50, 7.50)
    expected = 1.8 * (100_000 * base_in + 10_000 * base_out) / M
    assert cost(catalog, "gemini-3.6-flash", "google", at=at, service_tier="priority", **CALL) == pytest.approx(
        expected
    )


# ------------------------------------------------------- 2. Gemini 2.5 / 3.x flex and priority


def test_gemini_2_5_pro_flex_and_priority(catalog: Catalog) -> None:
    # LiteLLM gemini/gemini-2.5-pro: flex 6.25e-07 / 5e-06; priority 2.25e-06 / 1.8e-05.
    assert cost(catalog, "gemini-2.5-pro", "google", service_tier="flex", **CALL) == pytest.approx(
        100_000 * 0.625 / M + 10_000 * 5 / M  # $0.1125
    )
    assert cost(catalog, "gemini-2.5-pro", "google", service_tier="priority", **CALL) == pytest.approx(
        100_000 * 2.25 / M + 10_000 * 18 / M  # $0.405
    )


def test_gemini_2_5_pro_priority_past_200k(catalog: Catalog) -> None:
    # _above_200k_tokens_priority: 4.5e-06 in, 4.5e-07 cache, 2.7e-05 out; the cliff moves every token.
    got = cost(
        catalog,
        "gemini-2.5-pro",
        "google",
        service_tier="priority",
        input_tokens=250_000,
        cache_read_tokens=50_000,
        output_tokens=1_000,
    )
    assert got == pytest.approx(200_000 * 4.5 / M + 50_000 * 0.45 / M + 1_000 * 27 / M)


def test_gemini_2_5_pro_flex_keeps_cache_reads_at_standard(catalog: Catalog) -> None:
    # cache_read_input_token_cost_flex 1.25e-07 = the standard rate; input and output halved.
    got = cost(
        catalog,
        "gemini-2.5-pro",
        "google",
        service_tier="flex",
        input_tokens=200_000,
        cache_read_tokens=100_000,
        output_tokens=10_000,
    )
    assert got == pytest.approx(100_000 * 0.625 / M + 100_000 * 0.125 / M + 10_000 * 5 / M)


@pytest.mark.parametrize(
    ("model", "provider", "flex", "priority"),
    [
        # (input, output) per M from LiteLLM 1.109.1 gemini/<model> _flex / _priority
        ("gemini-2.5-flash", "google", (0.15, 1.25), (0.54, 4.50)),
        ("gemini-2.5-flash-lite", "google", (0.05, 0.20), (0.18, 0.72)),
        ("gemini-3-flash-preview", "google", (0.25, 1.50), (0.90, 5.40)),
        ("gemini-3.1-pro-preview", "google", (1.00, 6.00), (3.60, 21.60)),
        ("gemini-pro-latest", "google", (1.00, 6.00), (3.60, 21.60)),
        ("gemini-3.1-flash-lite-preview", "google", (0.125, 0.75), (0.45, 2.70)),
        ("gemini-2.5-pro", "google-vertex", (0.625, 5.00), (2.25, 18.00)),
        ("gemini-3.1-flash-lite", "google-vertex", (0.125, 0.75), (0.45, 2.70)),
    ],
)
def test_gemini_flex_and_priority_rates(
    catalog: Catalog, model: str, provider: str, flex: tuple[float, float], priority: tuple[float, float]
) -> None:
    for tier, (rate_in, rate_out) in (("flex", flex), ("priority", priority)):
        expected = 100_000 * rate_in / M + 10_000 * rate_out / M
        assert cost(catalog, model, provider, service_tier=tier, **CALL) == pytest.approx(expected), tier


def test_gemini_2_5_flash_priority_audio(catalog: Catalog) -> None:
    # input_cost_per_audio_token_priority 1.8e-06.
    got = cost(
        catalog, "gemini-2.5-flash", "google", service_tier="priority", input_tokens=100_000, input_audio_tokens=100_000
    )
    assert got == pytest.approx(100_000 * 1.8 / M)


def test_gemini_3_pro_preview_priority_on_vertex(catalog: Catalog) -> None:
    # LiteLLM vertex_ai/gemini-3-pro-preview: priority 3.6e-06 / 2.16e-05; >200k 7.2e-06 / 3.24e-05.
    assert cost(catalog, "gemini-3-pro-preview", "google-vertex", service_tier="priority", **CALL) == pytest.approx(
        100_000 * 3.6 / M + 10_000 * 21.6 / M
    )
    got = cost(
        catalog,
        "gemini-3-pro-preview",
        "google-vertex",
        service_tier="priority",
        input_tokens=300_000,
        output_tokens=10_000,
    )
    assert got == pytest.approx(300_000 * 7.2 / M + 10_000 * 32.4 / M)


# --------------------------------------------------------- 3. tiers of the losing dataset kept


def test_bedrock_llama_batch_from_litellm(catalog: Catalog) -> None:
    # LiteLLM meta.llama3-1-70b-instruct-v1:0 input/output_cost_per_token_batches 3.6e-07.
    for name in ("meta.llama3-1-70b-instruct-v1:0", "us.meta.llama3-1-70b-instruct-v1:0"):
        got = cost(catalog, name, "aws.bedrock", batch=True, **CALL)
        assert got == pytest.approx(110_000 * 0.36 / M)  # $0.0396


def test_fireworks_priority_from_litellm(catalog: Catalog) -> None:
    # LiteLLM fireworks_ai/accounts/fireworks/models/kimi-k3 priority 3.75e-06 / 1.875e-05.
    for name in ("accounts/fireworks/models/kimi-k3", "kimi-k3"):
        got = cost(catalog, name, "fireworks", service_tier="priority", **CALL)
        assert got == pytest.approx(100_000 * 3.75 / M + 10_000 * 18.75 / M)  # $0.5625


def test_lent_tiers_name_their_source() -> None:
    text = (PRICING_DIR / "imported" / "genai-prices.yaml").read_text(encoding="utf-8")
    assert "priority tier from litellm 1.109.1: fireworks_ai/kimi-k3" in text
    assert "batch tier from litellm 1.109.1: meta.llama3-1-70b-instruct-v1:0" in text
    assert re.search(r"^# Service tiers taken from LiteLLM .*: \d+ price periods", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("model", "tier", "batch", "rates"),
    [
        # LiteLLM amazon.nova-pro-v1:0 _flex 4e-07 / 1.6e-06, _priority 1.4e-06 / 5.6e-06
        ("amazon.nova-pro-v1:0", "flex", False, (0.40, 1.60)),
        ("amazon.nova-pro-v1:0", "priority", False, (1.40, 5.60)),
        # amazon.nova-premier-v1:0 _priority 4.375e-06 / 2.1875e-05
        ("amazon.nova-premier-v1:0", "priority", False, (4.375, 21.875)),
        # global.amazon.nova-2-lite-v1:0 _batches 1.5e-07 / 1.25e-06, _priority 5.25e-07 / 4.375e-06
        ("global.amazon.nova-2-lite-v1:0", None, True, (0.15, 1.25)),
        ("global.amazon.nova-2-lite-v1:0", "priority", False, (0.525, 4.375)),
        # us.amazon.nova-2-lite-v1:0 _flex 1.65e-07 / 1.375e-06 (1.1x profile)
        ("us.amazon.nova-2-lite-v1:0", "flex", False, (0.165, 1.375)),
    ],
)
def test_nova_tiers(catalog: Catalog, model: str, tier: str | None, batch: bool, rates: tuple[float, float]) -> None:
    expected = 100_000 * rates[0] / M + 10_000 * rates[1] / M
    assert cost(catalog, model, "aws.bedrock", service_tier=tier, batch=batch, **CALL) == pytest.approx(expected)


BORROWER = """version: "genai-prices 0.2.3"
providers:
  - id: acme
    models:
      - id: "m1"
        origin: genai-prices
        match: {"exact": ["acme/m1"]}
        prices:
          - {"input": 1, "output": 2, "source": "genai-prices 0.2.3; https://acme", "checked": "2026-11-22"}
      - id: "m2"
        origin: genai-prices
        prices:
          - {"input": 1, "output": 2, "source": "genai-prices 0.2.3; https://acme", "checked": "2026-11-22"}
"""
LENDER = """version: "litellm 1.109.1"
providers:
  - id: acme
    models:
      - id: "acme/m1"
        origin: litellm
        prices:
          - {"input": 1, "output": 2, "service_tiers": {"priority": {"input": 2, "output": 4}}, "source": "litellm 1.109.1: acme/m1", "checked": "2026-11-22"}
      - id: "m2"
        origin: litellm
        prices:
          - {"input": 1.5, "output": 2, "service_tiers": {"batch": {"input": 0.75, "output": 1}}, "source": "litellm 1.109.1: m2", "checked": "2026-11-22"}
"""


def test_lend_tiers_takes_only_tiers_at_the_same_base_rates() -> None:
    borrower = read_import(BORROWER, "genai-prices")
    lender = read_import(LENDER, "litellm").models

    def written(models: list[ImportedModel]) -> str:
        return replace(borrower, models=models).render()

    lent = lend_tiers(borrower.models, lender)
    out = written(lent)
    # m1: same name (an exact alias) and base rates: the priority tier is taken, its source named
    assert '"service_tiers": {"priority": {"input": 2, "output": 4}}' in out
    assert "https://acme; priority tier from litellm 1.109.1: acme/m1" in out
    # m2: the base input differs (1 vs 1.5): nothing taken
    assert out.count("service_tiers") == 1
    # idempotent (also once written and read back), and a new lender replaces what was taken
    assert written(lend_tiers(lent, lender)) == out
    assert written(lend_tiers(read_import(out, "genai-prices").models, lender)) == out
    assert written(lend_tiers(lent, [])) == BORROWER


# ------------------------------------------------------------- 4. Azure web search $14 / 1,000


@pytest.mark.parametrize("model", ["gpt-4.1", "gpt-5", "o4-mini", "gpt-5-mini", "o3", "gpt-4o-mini", "azure/gpt-4.1"])
def test_azure_web_search_is_14_per_1000(catalog: Catalog, model: str) -> None:
    # LiteLLM 1.109.1 azure/<model> search_context_cost_per_query 0.014; the token rates are OpenAI's.
    bare = model.removeprefix("azure/")
    assert cost(catalog, model, "azure", web_searches=1000) == pytest.approx(14.0)
    assert cost(catalog, model, "azure", **CALL) == pytest.approx(cost(catalog, bare, "openai", **CALL))
    # OpenAI itself keeps $10 / 1,000
    assert cost(catalog, bare, "openai", web_searches=1000) == pytest.approx(10.0)


def test_azure_bills_its_own_search_fee_in_every_tier_and_only_on_models_that_bill_searches(catalog: Catalog) -> None:
    # The OpenAI entries name the fee in each tier (priority does not double it): so does Azure's.
    assert cost(catalog, "gpt-5", "azure", web_searches=1000, service_tier="priority") == pytest.approx(14.0)
    assert cost(catalog, "gpt-5", "azure", web_searches=1000, batch=True) == pytest.approx(
        cost(catalog, "gpt-5", "openai", web_searches=1000, batch=True) * 1.4
    )
    # a model OpenAI bills no searches for bills none on Azure either (not $14 out of nowhere)
    assert cost(catalog, "gpt-4.1-nano", "azure", web_searches=1000) == pytest.approx(
        cost(catalog, "gpt-4.1-nano", "openai", web_searches=1000)
    )
    resolution = catalog.resolve("gpt-4.1", "azure")
    assert resolution.model.pricing_id == "openai/gpt-4.1"  # still OpenAI's entry, and it says why the fee differs
    assert "web searches at azure's fee ($14 / 1,000)" in resolution.how
    # Azure AI Foundry's own entries (LiteLLM's azure_ai/...) are untouched
    assert not catalog.resolve("azure_ai/gpt-5.4", "azure").model.pricing_id.startswith("openai/")


def test_a_user_file_can_set_a_providers_own_search_fee(tmp_path: Path) -> None:
    contract = tmp_path / "azure-contract.yaml"
    contract.write_text("providers:\n  - id: azure\n    fallback_per_search: 0.012\n", encoding="utf-8")
    assert cost(Catalog.load([contract]), "gpt-4.1", "azure", web_searches=1000) == pytest.approx(12.0)
    contract.write_text("providers:\n  - id: azure\n    fallback_per_search: -1\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"azure-contract.yaml.*fallback_per_search"):
        Catalog.load([contract])


# --------------------------------------------------------- 5. the search-preview models


@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("gpt-4o-search-preview", (2.50, 10.00)),
        ("gpt-4o-mini-search-preview", (0.15, 0.60)),
        ("gpt-4o-search-preview-2025-03-11", (2.50, 10.00)),
    ],
)
def test_search_preview_models(catalog: Catalog, model: str, rates: tuple[float, float]) -> None:
    # LiteLLM 1.109.1 <model>: search_context_cost_per_query 0.025; no _priority rates; batch half.
    # Every call searches, and no span says how many times: the fee is per call (a per-search
    # fee was never charged, as no span of these models carries a search count).
    fee = 0.025
    assert cost(catalog, model, "openai", **CALL) == pytest.approx(100_000 * rates[0] / M + 10_000 * rates[1] / M + fee)
    assert cost(catalog, model, "openai", web_searches=1000) == pytest.approx(fee)  # (not again per search)
    tokens = 100_000 * rates[0] / M + 10_000 * rates[1] / M
    assert cost(catalog, model, "openai", service_tier="priority", **CALL) == pytest.approx(tokens + fee)
    assert "service_tier=priority:unpriced_at_default" in adjustments(catalog, model, "openai", service_tier="priority")
    assert cost(catalog, model, "openai", batch=True, **CALL) == pytest.approx(tokens / 2 + fee)
    # gpt-4o itself keeps its $10 fee and 1.7x priority
    assert cost(catalog, "gpt-4o", "openai", web_searches=1000) == pytest.approx(10.0)


# --------------------------------------------------- 7. Gemini 3 preview searches from 2026-01-05


@pytest.mark.parametrize("provider", ["google", "google-vertex"])
@pytest.mark.parametrize("model", ["gemini-3-flash-preview", "gemini-3-pro-preview"])
def test_gemini_3_preview_search_fee_from_2026_01_05(catalog: Catalog, model: str, provider: str) -> None:
    # genai-prices 0.2.3: web_searches_kcount 14 from 2026-01-05 (LiteLLM: 0.014 per query).
    assert cost(catalog, model, provider, web_searches=1000) == pytest.approx(14.0)
    before = dt.datetime(2026, 1, 4, tzinfo=dt.timezone.utc)
    assert cost(catalog, model, provider, at=before, web_searches=1000) == pytest.approx(0.0)
    assert cost(catalog, model, provider, batch=True, web_searches=1000) == pytest.approx(14.0)


# -------------------------------------------------------------- 8. fast-mode model ids


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("anthropic/claude-opus-4.6-fast", None),
        ("claude-opus-4.6-fast", "anthropic"),
        ("claude-opus-4-6-fast", "anthropic"),
        ("claude-opus-4-7-fast", "anthropic"),
        ("claude-opus-4.7-fast", "anthropic"),
    ],
)
def test_opus_fast_ids_are_priced_at_the_fast_rate(catalog: Catalog, model: str, provider: str | None) -> None:
    # genai-prices 0.2.3 OpenRouter anthropic/claude-opus-4.6-fast: $30 / $150 (6x $5 / $25).
    got = cost(catalog, model, provider, input_tokens=M, output_tokens=100_000)
    assert got == pytest.approx(30.0 + 100_000 * 150 / M)  # $45
    # the same as the standard model served fast
    base = model.replace("-fast", "").replace("4.6", "4-6").replace("4.7", "4-7").removeprefix("anthropic/")
    assert got == pytest.approx(
        cost(catalog, base, "anthropic", service_tier="fast", input_tokens=M, output_tokens=100_000)
    )


def test_opus_fast_cache_multipliers(catalog: Catalog) -> None:
    # cache read 0.1x and 5-minute write 1.25x of $30: $3 and $37.50.
    got = cost(
        catalog,
        "claude-opus-4-6-fast",
        "anthropic",
        input_tokens=300_000,
        cache_read_tokens=100_000,
        cache_write_tokens=100_000,
    )
    assert got == pytest.approx(100_000 * 30 / M + 100_000 * 3 / M + 100_000 * 37.5 / M)


# ---------------------------------------------------- 9. Bedrock provisioned throughput


@pytest.mark.parametrize(
    "model",
    [
        # LiteLLM 1.109.1 prices these per second only (input_cost_per_second 0.0175...); they
        # used to reach the imported pattern `.*claude\-v2.*` at $8 / $24 per M tokens.
        "bedrock/us-east-1/1-month-commitment/anthropic.claude-v2:1",
        "bedrock/us-west-2/6-month-commitment/anthropic.claude-v2:1",
        "us-west-2/1-month-commitment/anthropic.claude-v2:1",
    ],
)
def test_provisioned_throughput_is_unpriced(catalog: Catalog, model: str) -> None:
    with pytest.raises(UnknownModelError, match="price sheet the catalog does not carry"):
        catalog.price(TokenUsage(**CALL), model, "aws.bedrock", at=TODAY)


def test_provisioned_model_arn_is_unknown(catalog: Catalog) -> None:
    # An ARN keeps its last segment, here the provisioned model's random id: nothing matches it.
    with pytest.raises(UnknownModelError):
        catalog.price(
            TokenUsage(**CALL),
            "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123def456",
            "aws.bedrock",
            at=TODAY,
        )


def test_on_demand_regional_path_still_priced(catalog: Catalog) -> None:
    # Only the commitment paths are refused: the on-demand id keeps its token price (genai-prices
    # anthropic/claude-2 via `.*claude\-v2.*`: $8 / $24).
    assert cost(catalog, "anthropic.claude-v2:1", "aws.bedrock", **CALL) == pytest.approx(
        100_000 * 8 / M + 10_000 * 24 / M
    )
