"""The shipped pricing catalog (pricing/*.yaml): worked examples, computed by hand.

Each expected cost below is written out as the arithmetic a reader can redo from the
vendor's price page (USD per million tokens), not copied from the code under test.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from genai_cost.pricing import (
    AmbiguousModelError,
    Catalog,
    CatalogError,
    TokenUsage,
    UnknownModelError,
    default_pricing_dir,
)
from genai_cost.pricing.files import parse_pricing_text, read_pricing_file

M = 1_000_000
PRICING_DIR = default_pricing_dir()
EXAMPLE = PRICING_DIR / "examples" / "research-agent.yaml"
BIG_THREE = ("openai", "anthropic", "google")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


def cost(catalog: Catalog, model: str, provider: str | None = None, **kw) -> float:
    at = kw.pop("at", None)
    tier = kw.pop("service_tier", None)
    batch = kw.pop("batch", False)
    return catalog.price(TokenUsage(**kw), model, provider, at=at, service_tier=tier, batch=batch).total_usd


# --------------------------------------------------------------------- worked examples


def test_gpt_4o_article_example(catalog: Catalog) -> None:
    # 38,800 in at $2.50/M + 3,200 out at $10/M = 0.097 + 0.032
    assert cost(catalog, "gpt-4o", "openai", input_tokens=38_800, output_tokens=3_200) == pytest.approx(0.129)


def test_gpt_4o_cache_read_is_half_input(catalog: Catalog) -> None:
    # 10,000 in of which 8,000 cached: 2,000 * 2.50 + 8,000 * 1.25 (per M)
    got = cost(catalog, "gpt-4o", "openai", input_tokens=10_000, cache_read_tokens=8_000)
    assert got == pytest.approx((2_000 * 2.50 + 8_000 * 1.25) / M)


def test_gpt_5_cache_read_is_a_tenth(catalog: Catalog) -> None:
    # gpt-5 cached input is $0.125 (0.1x), not gpt-4o's 0.5x
    got = cost(catalog, "gpt-5", "openai", input_tokens=100_000, cache_read_tokens=100_000)
    assert got == pytest.approx(100_000 * 0.125 / M)


def test_claude_sonnet_4_5_long_context_cliff(catalog: Catalog) -> None:
    # past 200k every token moves: 250,000 * $6 + 1,000 * $22.50 = 1.5 + 0.0225
    got = cost(catalog, "claude-sonnet-4-5", "anthropic", input_tokens=250_000, output_tokens=1_000)
    assert got == pytest.approx(1.5225)
    dated = cost(catalog, "claude-sonnet-4-5-20250929", "Anthropic", input_tokens=250_000, output_tokens=1_000)
    assert dated == pytest.approx(1.5225)
    # at exactly 200,000 the base rate still applies: 200,000 * $3 + 1,000 * $15
    at_edge = cost(catalog, "claude-sonnet-4-5", "anthropic", input_tokens=200_000, output_tokens=1_000)
    assert at_edge == pytest.approx(0.6 + 0.015)


def test_claude_sonnet_4_long_context_cache_scaled(catalog: Catalog) -> None:
    # Sonnet 4 past 200k: 50k uncached at $6 + 200k cache reads at $0.60 + 10k 5m writes at $7.50
    usage = dict(input_tokens=260_000, cache_read_tokens=200_000, cache_write_tokens=10_000, output_tokens=2_000)
    expected = (50_000 * 6.00 + 200_000 * 0.60 + 10_000 * 7.50 + 2_000 * 22.50) / M
    assert cost(catalog, "claude-sonnet-4-20250514", "anthropic", **usage) == pytest.approx(expected)


def test_anthropic_cache_write_5m_vs_1h(catalog: Catalog) -> None:
    # claude-sonnet-4-5: 5-minute writes $3.75 (1.25x), 1-hour writes $6.00 (2x)
    five = cost(catalog, "claude-sonnet-4-5", "anthropic", input_tokens=100_000, cache_write_tokens=100_000)
    hour = cost(
        catalog,
        "claude-sonnet-4-5",
        "anthropic",
        input_tokens=100_000,
        cache_write_tokens=100_000,
        cache_write_1h_tokens=100_000,
    )
    assert five == pytest.approx(100_000 * 3.75 / M)  # 0.375
    assert hour == pytest.approx(100_000 * 6.00 / M)  # 0.60
    mixed = cost(
        catalog,
        "claude-sonnet-4-5",
        "anthropic",
        input_tokens=100_000,
        cache_write_tokens=100_000,
        cache_write_1h_tokens=40_000,
    )
    assert mixed == pytest.approx((60_000 * 3.75 + 40_000 * 6.00) / M)  # 0.465


def test_claude_3_haiku_cache_write_is_not_1_25x(catalog: Catalog) -> None:
    got = cost(catalog, "claude-3-haiku-20240307", "anthropic", input_tokens=1_000_000, cache_write_tokens=1_000_000)
    assert got == pytest.approx(0.30)


def test_bedrock_us_profile_is_ten_percent_more(catalog: Catalog) -> None:
    name = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    # $3.30 / $16.50 per M: 200,000 in (not past the 200k cliff) + 1M out
    got = cost(catalog, name, "aws.bedrock", input_tokens=200_000, output_tokens=1_000_000)
    assert got == pytest.approx(200_000 * 3.30 / M + 16.50)
    breakdown = catalog.price(TokenUsage(input_tokens=M), name, "aws.bedrock")
    assert breakdown.pricing_id == "anthropic/claude-sonnet-4-5"
    assert any(a.startswith("region=us") for a in breakdown.adjustments)
    # global. profile: list price
    glob = cost(
        catalog,
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock",
        input_tokens=100_000,
        output_tokens=10_000,
    )
    assert glob == pytest.approx(100_000 * 3.00 / M + 10_000 * 15.00 / M)  # 0.45
    # cache classes get the uplift too: 100k cache reads at 0.30 * 1.1
    cached = cost(catalog, name, "aws.bedrock", input_tokens=100_000, cache_read_tokens=100_000)
    assert cached == pytest.approx(100_000 * 0.33 / M)


def test_bedrock_ids_resolve_to_anthropic(catalog: Catalog) -> None:
    for name, entry in [
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic/claude-3-5-sonnet"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic/claude-3-haiku"),
        ("eu.anthropic.claude-opus-4-1-20250805-v1:0", "anthropic/claude-opus-4-1"),
        ("bedrock/apac.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic/claude-sonnet-4"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "anthropic/claude-haiku-4-5",
        ),
    ]:
        assert catalog.resolve(name, "aws.bedrock").model.pricing_id == entry, name
    assert catalog.resolve("amazon.nova-pro-v1:0", "aws.bedrock").model.pricing_id == "aws-bedrock/amazon.nova-pro"


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", "aws.bedrock"),  # an imported pattern matches it
        ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", "aws.bedrock"),
        ("bedrock/us-gov.anthropic.claude-3-haiku-20240307-v1:0", "aws.bedrock"),
        (
            "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.anthropic.claude-3-haiku-20240307-v1:0",
            "aws.bedrock",
        ),
    ],
)
def test_govcloud_profiles_are_unknown_not_priced_at_commercial_rates(catalog: Catalog, name: str, provider: str):
    with pytest.raises(UnknownModelError, match="'us-gov.' deployments from a price sheet"):
        catalog.resolve(name, provider)
    # The same model elsewhere keeps its price.
    assert catalog.resolve(name.replace("us-gov.", "us."), provider).model.kind == "chat"


def test_a_govcloud_entry_spelled_with_the_prefix_prices_it(catalog: Catalog):
    # LiteLLM 1.109.1 lists this GovCloud profile at 1.2x the commercial list price.
    name = "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert catalog.resolve(name, "aws.bedrock").model.pricing_id == f"aws-bedrock/{name}"
    assert cost(catalog, name, "aws.bedrock", input_tokens=100_000, output_tokens=M) == pytest.approx(0.36 + 18.0)


def test_a_govcloud_price_of_the_users_own_is_used(tmp_path: Path):
    prices = tmp_path / "govcloud.yaml"
    prices.write_text(
        """providers:
  - id: aws-bedrock
    models:
      - id: us-gov.anthropic.claude-3-haiku-20240307-v1:0
        prices:
          - {input: 0.3, output: 1.5, source: our AWS invoice, checked: 2026-11-01}
""",
        encoding="utf-8",
    )
    user = Catalog.load([prices])
    breakdown = user.price(
        TokenUsage(input_tokens=M, output_tokens=M), "us-gov.anthropic.claude-3-haiku-20240307-v1:0", "aws.bedrock"
    )
    assert breakdown.total_usd == pytest.approx(1.8)


def test_azure_falls_back_to_openai(catalog: Catalog) -> None:
    for provider in ("azure.ai.openai", "az.ai.openai", "azure", "azure_openai", "azure.ai.inference"):
        res = catalog.resolve("gpt-4o-2024-08-06", provider)
        assert res.model.pricing_id == "openai/gpt-4o", provider
    got = cost(catalog, "gpt-4o", "az.ai.openai", input_tokens=38_800, output_tokens=3_200)
    assert got == pytest.approx(0.129)
    assert catalog.resolve("azure/gpt-4o-mini").model.pricing_id == "openai/gpt-4o-mini"
    assert catalog.resolve("gpt-35-turbo", "azure").model.pricing_id == "openai/gpt-3.5-turbo"
    with pytest.raises(UnknownModelError):  # a deployment name is not a model: reported, not guessed
        catalog.resolve("my-prod-deployment", "azure")


def test_vertex_falls_back_to_google_and_anthropic(catalog: Catalog) -> None:
    assert (
        catalog.resolve("claude-sonnet-4-5@20250929", "gcp.vertex_ai").model.pricing_id == "anthropic/claude-sonnet-4-5"
    )
    assert (
        catalog.resolve("claude-3-5-sonnet-v2@20241022", "vertex_ai").model.pricing_id == "anthropic/claude-3-5-sonnet"
    )
    res = catalog.resolve("publishers/google/models/gemini-2.5-pro", "vertex_ai")
    assert res.model.pricing_id == "google/gemini-2.5-pro"
    assert catalog.resolve("vertex_ai/gemini-2.5-flash").model.pricing_id == "google/gemini-2.5-flash"


def test_gemini_2_5_pro_cliff(catalog: Catalog) -> None:
    # at 200,000: 200,000 * $1.25 + 1,000 * $10 = 0.25 + 0.01
    assert cost(catalog, "gemini-2.5-pro", "gcp.gemini", input_tokens=200_000, output_tokens=1_000) == pytest.approx(
        0.26
    )
    # one token more and every token is at $2.50 / $15
    past = cost(catalog, "gemini-2.5-pro", "gcp.gemini", input_tokens=200_001, output_tokens=1_000)
    assert past == pytest.approx(200_001 * 2.50 / M + 1_000 * 15.00 / M)  # 0.5150025
    # cache reads are part of the prompt that crosses the threshold
    cached = cost(catalog, "models/gemini-2.5-pro", None, input_tokens=250_000, cache_read_tokens=200_000)
    assert cached == pytest.approx((50_000 * 2.50 + 200_000 * 0.25) / M)


def test_gemini_2_5_flash_audio_input(catalog: Catalog) -> None:
    # text $0.30, audio $1.00 per M input tokens
    got = cost(catalog, "gemini-2.5-flash", "google", input_tokens=300_000, input_audio_tokens=100_000)
    assert got == pytest.approx((200_000 * 0.30 + 100_000 * 1.00) / M)  # 0.16


def test_gpt_5_4_long_context_272k(catalog: Catalog) -> None:
    base = cost(catalog, "gpt-5.4", "openai", input_tokens=272_000, output_tokens=1_000)
    assert base == pytest.approx((272_000 * 2.50 + 1_000 * 15.00) / M)
    past = cost(catalog, "gpt-5.4", "openai", input_tokens=272_001, output_tokens=1_000)
    assert past == pytest.approx((272_001 * 5.00 + 1_000 * 22.50) / M)
    # flex is a multiplier, so it halves the long-context rates too
    flex = cost(catalog, "gpt-5.4", "openai", input_tokens=300_000, service_tier="flex")
    assert flex == pytest.approx(300_000 * 2.50 / M)


def test_dated_snapshots(catalog: Catalog) -> None:
    for name, entry in [
        ("gpt-4o-2024-08-06", "openai/gpt-4o"),
        ("gpt-4o-2024-11-20", "openai/gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini"),
        ("o3-2025-04-16", "openai/o3"),
        ("gpt-5-2025-08-07", "openai/gpt-5"),
        ("gpt-4.1-2025-04-14", "openai/gpt-4.1"),
        ("claude-3-5-sonnet-20241022", "anthropic/claude-3-5-sonnet"),
        ("claude-opus-4-1-20250805", "anthropic/claude-opus-4-1"),
        ("claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"),
    ]:
        res = catalog.resolve(name)
        assert res.model.pricing_id == entry, name
    # the first gpt-4o snapshot kept its own, higher price: exact beats date stripping
    res = catalog.resolve("gpt-4o-2024-05-13", "openai")
    assert res.model.pricing_id == "openai/gpt-4o-2024-05-13"
    assert cost(catalog, "gpt-4o-2024-05-13", "openai", input_tokens=M, output_tokens=M) == pytest.approx(5.0 + 15.0)


def test_aliases(catalog: Catalog) -> None:
    for name, entry in [
        ("claude-sonnet-4-0", "anthropic/claude-sonnet-4"),
        ("claude-3-5-sonnet-latest", "anthropic/claude-3-5-sonnet"),
        ("claude-3-7-sonnet-latest", "anthropic/claude-3-7-sonnet"),
        ("claude-opus-4-0", "anthropic/claude-opus-4"),
        ("gpt-5-chat-latest", "openai/gpt-5"),
        ("gemini-pro-latest", "google/gemini-3.1-pro-preview"),
        ("gemini-2.5-pro-preview-05-06", "google/gemini-2.5-pro"),
        ("openai/gpt-4o", "openai/gpt-4o"),
    ]:
        assert catalog.resolve(name).model.pricing_id == entry, name
    # the Gemini TTS model is a different product: it must not match gemini-2.5-pro (the
    # imported datasets price it on its own entry)
    assert catalog.resolve("gemini-2.5-pro-preview-tts", "google").model.pricing_id != "google/gemini-2.5-pro"


def test_batch_multiplier(catalog: Catalog) -> None:
    # gpt-4o batch: 50% of $2.50 / $10
    got = cost(catalog, "gpt-4o", "openai", input_tokens=M, output_tokens=M, batch=True)
    assert got == pytest.approx(1.25 + 5.00)
    # Anthropic batch halves cache writes as well: 1M 5m writes at 3.75 / 2
    got = cost(catalog, "claude-sonnet-4-5", "anthropic", input_tokens=M // 10, cache_write_tokens=M // 10, batch=True)
    assert got == pytest.approx(100_000 * 1.875 / M)
    # Gemini 2.5 Flash batch keeps context-cache reads at the standard rate
    got = cost(catalog, "gemini-2.5-flash", "google", input_tokens=200_000, cache_read_tokens=100_000, batch=True)
    assert got == pytest.approx((100_000 * 0.15 + 100_000 * 0.03) / M)


@pytest.mark.parametrize(
    "model",
    [
        "gemini-2.0-flash",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-3-pro-preview",
        "gemini-3.1-pro-preview",
        "gemini-3-flash-preview",
    ],
)
def test_gemini_batch_keeps_context_cache_reads_at_the_standard_rate(catalog: Catalog, model: str) -> None:
    """The models google.yaml's header lists (Google's pricing page): Batch halves input and
    output, not context-cache reads. gemini-2.0-flash's batch tier had a plain 0.5 multiplier
    (an audit: $0.022 instead of $0.032 for 800k cached of 1M)."""
    cached = {"input_tokens": 100_000, "cache_read_tokens": 100_000}
    assert cost(catalog, model, "google", **cached, batch=True) == pytest.approx(cost(catalog, model, "google", **cached))
    fresh = {"input_tokens": 100_000}
    assert cost(catalog, model, "google", **fresh, batch=True) == pytest.approx(cost(catalog, model, "google", **fresh) / 2)


def test_service_tiers(catalog: Catalog) -> None:
    assert cost(catalog, "gpt-5", "openai", input_tokens=M, service_tier="flex") == pytest.approx(0.625)
    assert cost(catalog, "gpt-5", "openai", input_tokens=M, service_tier="priority") == pytest.approx(2.50)
    assert cost(catalog, "gpt-4o", "openai", output_tokens=M, service_tier="priority") == pytest.approx(17.00)
    assert cost(catalog, "gpt-4o-mini", "openai", input_tokens=M, service_tier="priority") == pytest.approx(0.25)
    # "default" is not a surcharge
    assert cost(catalog, "gpt-5", "openai", input_tokens=M, service_tier="default") == pytest.approx(1.25)


def test_prices_change_over_time(catalog: Catalog) -> None:
    usage = dict(input_tokens=100_000, output_tokens=100_000)  # below every long-context cliff
    # o3 was cut from $10/$40 to $2/$8 on 2025-06-10
    assert cost(catalog, "o3", "openai", at=utc(2025, 5, 1), **usage) == pytest.approx(1.0 + 4.0)
    assert cost(catalog, "o3", "openai", at=utc(2025, 7, 1), **usage) == pytest.approx(0.2 + 0.8)
    # gpt-5.6-sol: $5/$30 until 2026-08-21, then $4/$20
    assert cost(catalog, "gpt-5.6-sol", "openai", at=utc(2026, 8, 1), **usage) == pytest.approx(0.5 + 3.0)
    assert cost(catalog, "gpt-5.6", "openai", at=utc(2026, 9, 1), **usage) == pytest.approx(0.4 + 2.0)
    # gemini-1.5-pro before and after the October 2024 cut ($3.50/$10.50 -> $1.25/$5)
    assert cost(catalog, "gemini-1.5-pro-002", "google", at=utc(2024, 9, 1), **usage) == pytest.approx(0.35 + 1.05)
    assert cost(catalog, "gemini-1.5-pro-002", "google", at=utc(2024, 11, 1), **usage) == pytest.approx(0.125 + 0.5)
    # claude-sonnet-4-6 lost its 200k tier when the 1M window went GA (2026-03-13)
    long = dict(input_tokens=300_000)
    assert cost(catalog, "claude-sonnet-4-6", "anthropic", at=utc(2026, 3, 1), **long) == pytest.approx(1.8)
    assert cost(catalog, "claude-sonnet-4-6", "anthropic", at=utc(2026, 4, 1), **long) == pytest.approx(0.9)


def test_embeddings(catalog: Catalog) -> None:
    assert cost(catalog, "text-embedding-3-small", "openai", input_tokens=M) == pytest.approx(0.02)
    assert cost(catalog, "text-embedding-3-large", "openai", input_tokens=M) == pytest.approx(0.13)
    assert cost(catalog, "text-embedding-ada-002", "openai", input_tokens=M) == pytest.approx(0.10)
    assert cost(catalog, "gemini-embedding-001", "google", input_tokens=M) == pytest.approx(0.15)


def test_realtime_audio(catalog: Catalog) -> None:
    # 1,000 text in at $5 + 9,000 audio in at $40 + 2,000 audio out at $80
    got = cost(
        catalog,
        "gpt-4o-realtime-preview-2024-12-17",
        "openai",
        input_tokens=10_000,
        input_audio_tokens=9_000,
        output_tokens=2_000,
        output_audio_tokens=2_000,
    )
    assert got == pytest.approx((1_000 * 5 + 9_000 * 40 + 2_000 * 80) / M)


# ------------------------------------------------------------------------ catalog-wide


def _shipped_files() -> list[Path]:
    return sorted(PRICING_DIR.glob("*.y*ml"))


def test_every_price_period_and_tool_has_source_and_checked() -> None:
    files = _shipped_files() + [EXAMPLE]
    assert len(files) >= 8
    for path in files:
        parsed = read_pricing_file(path)
        for provider in parsed.providers:
            for entry in provider.models:
                for period in entry.prices:
                    assert period.source.strip(), f"{path.name}: {entry.id} has no source"
                    assert period.checked >= dt.date(2026, 11, 1), f"{path.name}: {entry.id}"
                    if path != EXAMPLE:
                        assert period.source.startswith("https://"), f"{path.name}: {entry.id}"
        for tool in parsed.tools:
            assert tool.source.strip() and tool.checked, f"{path.name}: tool {tool.name}"


def test_every_big_three_model_resolves_by_its_id_and_names(catalog: Catalog) -> None:
    count = 0
    for parsed in (read_pricing_file(PRICING_DIR / f"{p}.yaml") for p in BIG_THREE):
        for provider in parsed.providers:
            for entry in provider.models:
                expected = f"{provider.id}/{entry.id}"
                names = [entry.id, *(entry.match.exact if entry.match else [])]
                for name in names:
                    assert catalog.resolve(name, provider.id).model.pricing_id == expected, name
                    # with no provider on the span, first-party entries are unique
                    assert catalog.resolve(name).model.pricing_id == expected, name
                count += 1
    assert count >= 90


def test_no_provider_ambiguity_between_first_party_ids(catalog: Catalog) -> None:
    seen: dict[str, str] = {}
    for pid, model in catalog.models.items():
        if model.provider_id in BIG_THREE:
            assert model.model_id.lower() not in seen, (pid, seen.get(model.model_id.lower()))
            seen[model.model_id.lower()] = pid


def test_anthropic_cache_multipliers(catalog: Catalog) -> None:
    for pid, model in catalog.models.items():
        if model.provider_id != "anthropic" or model.origin != "curated":
            continue
        for period in model.periods:
            r = period.rates
            assert r.cache_write_1h == pytest.approx(2 * r.input), pid
            if model.model_id == "claude-3-haiku":  # the one exception: $0.30 writes, $0.03 hits
                assert (r.cache_write, r.cache_read) == pytest.approx((0.30 / M, 0.03 / M)), pid
                continue
            assert r.cache_write == pytest.approx(1.25 * r.input), pid
            assert r.cache_read <= 0.1 * r.input * (1 + 1e-9), pid
            if model.model_id.endswith("-fast"):  # fast-mode ids (Opus 4.6 / 4.7): no batch offer
                continue
            assert period.service_tiers["batch"].multiplier == 0.5, pid


def test_tiers_are_dearer_and_rates_sane(catalog: Catalog) -> None:
    for pid, model in catalog.models.items():
        if model.origin != "curated":  # imported data is checked by the cross-check tests
            continue
        for period in model.periods:
            base = period.rates
            if base.cache_read is not None and base.input:
                assert base.cache_read < base.input, pid
            for tier in period.long_context:
                for name in ("input", "cache_read", "cache_write", "output"):
                    value = getattr(tier.rates, name)
                    if value is not None:
                        assert value > getattr(base, name), (pid, name)
            if model.kind == "chat":
                assert base.input is not None and base.output is not None, pid


def test_vendor_tools_do_not_take_user_tool_names(catalog: Catalog) -> None:
    tools = catalog.tools
    assert "web_search" not in tools and "read_page" not in tools
    assert catalog.tool("anthropic.web_search").per_call == pytest.approx(10 / 1000)
    assert catalog.tool("openai.web_search").per_call == pytest.approx(0.01)
    assert catalog.tool("web_search_20250305").name == "anthropic.web_search"


def test_research_agent_example_file() -> None:
    catalog = Catalog.load([EXAMPLE])
    assert catalog.tool("web_search").per_call == pytest.approx(0.005)
    assert catalog.tool("read_page").per_call == pytest.approx(0.001)
    assert catalog.tool("web_search").is_override
    # the commented database_query example is valid once uncommented
    text = EXAMPLE.read_text(encoding="utf-8")
    block = re.search(r"^  # - name: database_query\n(?:  #.*\n?)+", text, re.MULTILINE)
    assert block is not None
    uncommented = "tools:\n" + "\n".join(line.replace("  # ", "  ", 1) for line in block.group(0).splitlines())
    parsed = parse_pricing_text(uncommented, "example")
    tool = parsed.tools[0]
    assert (tool.per_call, tool.per_unit, tool.unit_attribute) == (0.0001, 0.00001, "db.rows_scanned")
    # 1 query scanning 5,000 rows: 0.0001 + 5,000 * 0.00001
    assert tool.per_call + tool.per_unit * 5_000 == pytest.approx(0.0501)


def test_broken_file_names_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "providers:\n"
        "  - id: acme\n"
        "    models:\n"
        "      - id: acme-1\n"
        "        prices:\n"
        "          - input: 1.0\n"
        "            cache_reed: 0.1\n"
        "            source: https://example.com\n"
        "            checked: 2026-11-20\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as info:
        Catalog.load([broken])
    message = str(info.value)
    assert f"{broken}:7" in message
    assert "cache_reed" in message


def test_broken_file_missing_source(tmp_path: Path) -> None:
    broken = tmp_path / "nosource.yaml"
    broken.write_text(
        "providers:\n  - id: acme\n    models:\n      - id: acme-1\n        prices:\n          - {input: 1.0, checked: 2026-11-20}\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as info:
        Catalog.load([broken], include_default=False)
    assert f"{broken}:6" in str(info.value)
    assert "source" in str(info.value)


def test_unknown_model_is_reported_not_zero(catalog: Catalog) -> None:
    with pytest.raises(UnknownModelError):
        catalog.resolve("gpt-99-ultra", "openai")
    with pytest.raises((UnknownModelError, AmbiguousModelError)):
        catalog.resolve("totally-unknown-model")


def test_vercel_provider_names_take_the_longest_dotted_prefix(catalog: Catalog) -> None:
    assert catalog.provider_id("google.vertex.chat") == "google-vertex"
    assert catalog.provider_id("openai.chat") == "openai"
    assert catalog.provider_id("anthropic.messages") == "anthropic"
    assert catalog.provider_id("google.generative-ai") == "google"
    assert catalog.provider_id("nobody.chat") is None


def test_vertex_text_embeddings_are_billed_not_the_gemini_apis_free_price(catalog: Catalog) -> None:
    from genai_cost.pricing import TokenUsage

    for model in ("text-embedding-004", "text-embedding-005", "text-multilingual-embedding-002"):
        cost = catalog.price(TokenUsage(input_tokens=1_000_000), model, "gcp.vertex_ai")
        assert cost.pricing_id == f"google-vertex/{model}"
        assert cost.total_usd == pytest.approx(0.10)
    assert catalog.price(TokenUsage(input_tokens=1_000_000), "text-embedding-004", "google").total_usd == 0.0


# ------------------------------------------------------------- audit fixes (2026-11-22)


@pytest.mark.parametrize("provider", ["deepseek", None])
def test_provider_prefixed_deepseek_chat_keeps_the_off_peak_windows(catalog: Catalog, provider: str | None) -> None:
    # LiteLLM also lists "deepseek/deepseek-chat" ($0.28 / $0.42, no windows); the prefix is
    # only a spelling of deepseek-chat, which a stronger layer (genai-prices) prices with
    # DeepSeek's off-peak windows. pricing.md: 1M in + 1M out is $1.37 at 02:00 UTC
    # (0.27 + 1.10) and $0.685 at 20:00 UTC (0.135 + 0.55).
    name = "deepseek/deepseek-chat"
    assert catalog.resolve(name, provider).model.pricing_id == "deepseek/deepseek-chat"
    usage = dict(input_tokens=M, output_tokens=M)
    assert cost(catalog, name, provider, at=utc(2026, 11, 20, 2), **usage) == pytest.approx(1.37)
    assert cost(catalog, name, provider, at=utc(2026, 11, 20, 20), **usage) == pytest.approx(0.685)


def test_an_entry_spelled_with_the_provider_prefix_still_wins_within_its_layer(catalog: Catalog) -> None:
    # Same dataset for both spellings: the prefixed entry is a different product.
    assert catalog.resolve("perplexity/sonar").model.pricing_id == "perplexity/perplexity/sonar"
    # (LiteLLM's gemini/gemini-exp-1206 was such an entry, at $0 / $0: an all-zero entry is no
    # longer imported, so the prefix is now only a spelling of gemini-exp-1206.)
    assert catalog.resolve("gemini/gemini-exp-1206", "google").model.pricing_id == "google/gemini-exp-1206"
    # The serving provider's own spelled entry beats the models it serves (Azure AI -> OpenAI).
    assert catalog.resolve("azure_ai/gpt-5.4", "azure").model.pricing_id == "azure/azure_ai/gpt-5.4"


def test_a_users_entry_spelled_with_the_provider_prefix_wins(tmp_path: Path) -> None:
    prices = tmp_path / "deepseek.yaml"
    prices.write_text(
        """providers:
  - id: deepseek
    models:
      - id: deepseek/deepseek-chat
        prices:
          - {input: 1.0, output: 1.0, source: our contract, checked: 2026-11-01}
""",
        encoding="utf-8",
    )
    user = Catalog.load([prices])
    got = user.price(TokenUsage(input_tokens=M, output_tokens=M), "deepseek/deepseek-chat", "deepseek")
    assert got.total_usd == pytest.approx(2.0)


@pytest.mark.parametrize("prefix", ["us.", "eu.", "jp.", "apac."])
def test_bedrock_nova_2_lite_geo_profiles_are_ten_percent_more(catalog: Catalog, prefix: str) -> None:
    # Nova 2 Lite has a global profile ($0.30 / $2.50); geo profiles cost 1.1x: $0.33 / $2.75.
    name = f"{prefix}amazon.nova-2-lite-v1:0"
    got = catalog.price(TokenUsage(input_tokens=100_000, output_tokens=100_000), name, "aws.bedrock")
    assert got.total_usd == pytest.approx((100_000 * 0.33 + 100_000 * 2.75) / M)  # 0.308
    assert f"region={prefix.rstrip('.')}x1.1" in got.adjustments
    # cache reads too: $0.075 * 1.1
    cached = cost(catalog, name, "aws.bedrock", input_tokens=100_000, cache_read_tokens=100_000)
    assert cached == pytest.approx(100_000 * 0.0825 / M)


def test_bedrock_geo_uplift_only_where_aws_charges_it(catalog: Catalog) -> None:
    usage = dict(input_tokens=100_000, output_tokens=100_000)
    # the global profile is list price
    glob = cost(catalog, "global.amazon.nova-2-lite-v1:0", "aws.bedrock", **usage)
    assert glob == pytest.approx((100_000 * 0.30 + 100_000 * 2.50) / M)  # 0.28
    # Nova v1 has no global profile: no uplift on its geo profiles
    assert cost(catalog, "us.amazon.nova-pro-v1:0", "aws.bedrock", **usage) == pytest.approx(0.08 + 0.32)
    # Claude Sonnet 4 has a global profile at the same price: no uplift either
    sonnet_4 = cost(catalog, "us.anthropic.claude-sonnet-4-20250514-v1:0", "aws.bedrock", **usage)
    assert sonnet_4 == pytest.approx(0.3 + 1.5)
    # other models AWS sells cheaper through a global profile: Kimi K3 $3 -> $3.30 in
    assert cost(catalog, "us.moonshotai.kimi-k3", "aws.bedrock", input_tokens=M) == pytest.approx(3.30)
    assert cost(catalog, "global.moonshotai.kimi-k3", "aws.bedrock", input_tokens=M) == pytest.approx(3.00)


@pytest.mark.parametrize(
    ("model", "global_input"),
    [
        ("moonshotai.kimi-k3", 3.00),  # LiteLLM: moonshotai.kimi-k3 $3.30, global $3.00
        ("openai.gpt-5.6-sol", 4.00),  # LiteLLM: bedrock_mantle/openai.gpt-5.6-sol $4.40, global $4.00
        ("amazon.nova-2-lite-v1:0", 0.30),
    ],
)
def test_bedrock_in_region_ids_pay_the_uplift_of_their_geo_profiles(
    catalog: Catalog, model: str, global_input: float
) -> None:
    # An id with no profile prefix is an in-region call: AWS bills it as a geo profile, 1.1x
    # the global price. It used to be priced at the global rate for every model but Claude 4.5+.
    tokens = 100_000  # below GPT's 272k long-context tier
    in_region = catalog.price(TokenUsage(input_tokens=tokens), model, "aws.bedrock")
    assert in_region.total_usd == pytest.approx(tokens * global_input * 1.1 / M)
    assert "region=in-regionx1.1" in in_region.adjustments
    geo = cost(catalog, f"us.{model}", "aws.bedrock", input_tokens=tokens)
    assert geo == pytest.approx(tokens * global_input * 1.1 / M)
    assert cost(catalog, f"global.{model}", "aws.bedrock", input_tokens=tokens) == pytest.approx(
        tokens * global_input / M
    )


@pytest.mark.parametrize(("version", "global_input", "global_output"), [("5.4", 2.50, 15.00), ("5.5", 5.00, 30.00)])
def test_bedrock_gpt_5_4_and_5_5_global_profile_at_the_global_rate(
    catalog: Catalog, version: str, global_input: float, global_output: float
) -> None:
    # The imported entry carries the in-region rate ($2.75 for gpt-5.4) for every profile, so the
    # global profile was charged 10% too much and no profile had the 272k long-context tier.
    model = f"openai.gpt-{version}"
    usage = dict(input_tokens=100_000, output_tokens=10_000)
    global_call = (100_000 * global_input + 10_000 * global_output) / M
    assert cost(catalog, f"global.{model}", "aws.bedrock", **usage) == pytest.approx(global_call)
    for name in (model, f"us.{model}", f"eu.{model}"):
        assert cost(catalog, name, "aws.bedrock", **usage) == pytest.approx(global_call * 1.1), name
    # past 272k input tokens the whole call is at the long-context rate: 2x input, 1.5x output
    long_call = (300_000 * global_input * 2 + 10_000 * global_output * 1.5) / M
    long = cost(catalog, f"global.{model}", "aws.bedrock", input_tokens=300_000, output_tokens=10_000)
    assert long == pytest.approx(long_call)
    assert cost(catalog, f"us.{model}", "aws.bedrock", input_tokens=300_000, output_tokens=10_000) == pytest.approx(
        long_call * 1.1
    )


@pytest.mark.parametrize("model", ["claude-opus-4-6", "claude-opus-4-7"])
def test_anthropic_fast_mode_on_opus_4_6_and_4_7_is_six_times(catalog: Catalog, model: str) -> None:
    # Fast mode: $30 in / $150 out (OpenRouter's anthropic/claude-opus-4.x-fast), the usual
    # cache multipliers on top: reads $3, 5-minute writes $37.50.
    got = catalog.price(TokenUsage(input_tokens=M, output_tokens=M), model, "anthropic", service_tier="fast")
    assert got.total_usd == pytest.approx(30.0 + 150.0)
    assert got.adjustments == ("service_tier=fast",)
    cached = cost(
        catalog,
        model,
        "anthropic",
        input_tokens=300_000,
        cache_read_tokens=100_000,
        cache_write_tokens=100_000,
        service_tier="fast",
    )
    assert cached == pytest.approx((100_000 * 30.0 + 100_000 * 3.0 + 100_000 * 37.5) / M)
    # the standard tier is unchanged
    assert cost(catalog, model, "anthropic", input_tokens=M, output_tokens=M) == pytest.approx(5.0 + 25.0)


def test_anthropic_fast_mode_scales_opus_4_6_long_context_and_stays_flagged_without_a_source(
    catalog: Catalog,
) -> None:
    # Before 2026-03-13 Opus 4.6 had a 200k cliff ($10 in): fast is 6x that, $60.
    long = cost(catalog, "claude-opus-4-6", "anthropic", input_tokens=300_000, service_tier="fast", at=utc(2026, 3, 1))
    assert long == pytest.approx(300_000 * 60.0 / M)
    # Opus 4.5: no source gives its fast rate: standard price, flagged
    got = catalog.price(TokenUsage(input_tokens=M), "claude-opus-4-5", "anthropic", service_tier="fast")
    assert got.total_usd == pytest.approx(5.0)
    assert "service_tier=fast:unpriced_at_default" in got.adjustments


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_gpt_4o_2024_10_01_audio_snapshots_have_their_launch_prices(catalog: Catalog, provider: str) -> None:
    # Realtime 2024-10-01: text $5 / $20, audio $100 / $200, cached audio $20.
    # 1,000 text in + 9,000 audio in (of which 4,000 cache reads) + 2,000 audio out
    realtime = "gpt-4o-realtime-preview-2024-10-01"
    assert catalog.resolve(realtime, provider).model.pricing_id == f"openai/{realtime}"
    got = cost(
        catalog,
        realtime,
        provider,
        input_tokens=10_000,
        input_audio_tokens=9_000,
        cache_read_tokens=4_000,
        cache_read_audio_tokens=4_000,
        output_tokens=2_000,
        output_audio_tokens=2_000,
    )
    assert got == pytest.approx((1_000 * 5 + 5_000 * 100 + 4_000 * 20 + 2_000 * 200) / M)
    # Chat Completions audio 2024-10-01: text $2.50 / $10, audio $100 / $200
    audio = "gpt-4o-audio-preview-2024-10-01"
    got = cost(catalog, audio, provider, input_tokens=M, input_audio_tokens=M, output_tokens=M, output_audio_tokens=M)
    assert got == pytest.approx(100.0 + 200.0)
    # the 2024-12-17 snapshots keep $40 / $80
    later = cost(catalog, "gpt-4o-audio-preview-2024-12-17", provider, input_tokens=M, input_audio_tokens=M)
    assert later == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("name", "entry", "rates"),
    [
        # (input, cached input, output) per M, from the fine-tuned entries of LiteLLM 1.109.1
        ("ft:gpt-4.1-2025-04-14:acme::abc123", "openai/ft:gpt-4.1-2025-04-14", (3.00, 0.75, 12.00)),
        ("ft:gpt-4.1-mini-2025-04-14:acme:support:abc123", "openai/ft:gpt-4.1-mini-2025-04-14", (0.80, 0.20, 3.20)),
        ("ft:gpt-4.1-nano-2025-04-14:acme::abc123", "openai/ft:gpt-4.1-nano-2025-04-14", (0.20, 0.05, 0.80)),
        ("ft:o4-mini-2025-04-16:acme::abc123", "openai/ft:o4-mini-2025-04-16", (4.00, 1.00, 16.00)),
        # genai-prices' ft:gpt-4o(-mini) rates, cached input from LiteLLM (curated)
        ("ft:gpt-4o-mini:acme::abc123", "openai/ft:gpt-4o-mini", (0.30, 0.15, 1.20)),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "openai/ft:gpt-4o-mini", (0.30, 0.15, 1.20)),
        ("ft:gpt-4o-2024-08-06:acme::abc123", "openai/ft:gpt-4o", (3.75, 1.875, 15.00)),
    ],
)
def test_fine_tuned_openai_ids_are_priced_at_their_own_rates(
    catalog: Catalog, name: str, entry: str, rates: tuple[float, float, float]
) -> None:
    assert catalog.resolve(name, "openai").model.pricing_id == entry
    assert catalog.resolve(name).model.pricing_id == entry
    rate_in, rate_cached, rate_out = rates
    # 1M in, of which 400k cached, + 100k out
    got = cost(catalog, name, "openai", input_tokens=M, cache_read_tokens=400_000, output_tokens=100_000)
    assert got == pytest.approx((600_000 * rate_in + 400_000 * rate_cached + 100_000 * rate_out) / M)


@pytest.mark.parametrize("name", ["ft:gpt-5-2025-08-07:acme::abc123", "ft:gpt-4.1:acme::abc123", "ft:gpt-9:acme::x"])
def test_fine_tuned_ids_without_a_sourced_price_stay_unknown(catalog: Catalog, name: str) -> None:
    # never the base model's price: a fine-tuned model has its own
    with pytest.raises(UnknownModelError):
        catalog.resolve(name, "openai")


def test_gemini_2_5_flash_preview_bills_thinking_at_3_50(catalog: Catalog) -> None:
    # $0.15 in; output $0.60, thinking $3.50: 1M in + 1M out of which 800k thinking
    for name in ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash-preview-04-17"):
        got = cost(catalog, name, "google", input_tokens=M, output_tokens=M, reasoning_tokens=800_000)
        assert got == pytest.approx(0.15 + 200_000 * 0.60 / M + 800_000 * 3.50 / M)  # 3.07
        assert cost(catalog, name, "google", input_tokens=M, output_tokens=M) == pytest.approx(0.15 + 0.60)


# ------------------------------------------------------- catalog audit (2026-11-22, pricing)


@pytest.mark.parametrize(
    ("model", "provider"),
    [("codestral-2405", "mistral"), ("command-a-plus-05-2026", "cohere"), ("glm-4.5-flash", "zai")],
)
def test_a_paid_model_with_only_zero_rates_is_unknown_not_free(catalog: Catalog, model: str, provider: str) -> None:
    # LiteLLM has 0 / 0 for these (the free codestral/ beta endpoint, no price yet...): an
    # entry whose every rate is 0 and that nothing marks free is not imported.
    with pytest.raises(UnknownModelError):
        catalog.price(TokenUsage(input_tokens=M, output_tokens=M), model, provider)


def test_no_imported_entry_prices_at_zero_unless_marked_free(catalog: Catalog) -> None:
    for path in sorted((PRICING_DIR / "imported").glob("*.yaml")):
        data = read_pricing_file(path)
        for provider in data.providers:
            for model in provider.models:
                for period in model.prices:
                    rates = [period.input, period.output, period.cache_read, period.per_request, period.per_search]
                    if any(rates):
                        continue
                    name = model.id.lower()
                    free = name.endswith(":free") or re.search(r"(^|[-:_/.])free($|[-:_/.])", name)
                    local = provider.id in ("ollama", "lemonade")
                    marked = "free of charge" in (period.source or "") or provider.id == "github-copilot"
                    gemini_api_free = provider.id == "google" and name.startswith("gemma-4")
                    assert free or local or marked or gemini_api_free, f"{provider.id}/{model.id} is priced at $0"


@pytest.mark.parametrize(
    ("model", "provider"),
    [("google/gemma-3-27b-it:free", "openrouter"), ("gemma-4-31b-it", "google"), ("llama3", "ollama")],
)
def test_a_model_the_dataset_marks_free_still_prices_at_zero(catalog: Catalog, model: str, provider: str) -> None:
    assert cost(catalog, model, provider, input_tokens=M, output_tokens=M) == 0.0


@pytest.mark.parametrize(("name", "before", "after"), [("luna", 1.00, 0.20), ("terra", 2.50, 2.00)])
def test_bedrock_gpt_5_6_history_survives_folding_the_regional_twin(
    catalog: Catalog, name: str, before: float, after: float
) -> None:
    # genai-prices: regional.openai.gpt-5.6-luna $1.10 / $6.60 until 2026-07-30, then $0.22 / $1.32
    # (global. $0.20 / $1.20). 100k in + 100k out on a us. profile (1.1x), before the cut:
    # luna 0.1 * 1.10 + 0.1 * 6.60 = 0.77; terra 0.1 * 2.75 + 0.1 * 16.50 = 1.925.
    model = f"us.openai.gpt-5.6-{name}"
    usage = dict(input_tokens=100_000, output_tokens=100_000)
    old = cost(catalog, model, "aws.bedrock", at=utc(2026, 7, 1, 12), **usage)
    assert old == pytest.approx({"luna": 0.77, "terra": 1.925}[name])
    assert old == pytest.approx(0.1 * before * 1.1 + 0.1 * before * 6 * 1.1)
    new = cost(catalog, model, "aws.bedrock", at=utc(2026, 7, 30, 12), **usage)
    assert new == pytest.approx(0.1 * after * 1.1 + 0.1 * after * 6 * 1.1)


def test_every_dated_period_of_a_bedrock_twin_is_kept(catalog: Catalog) -> None:
    pytest.importorskip("genai_prices")  # (a test-only dependency; not in the other Pythons' venvs)
    from genai_prices import types as gp
    from genai_prices.data import providers

    aws = next(p for p in providers if p.id == "aws")
    by_id = {m.id: m for m in aws.models}
    for model in aws.models:
        if not model.id.startswith("regional.") or "global." + model.id[len("regional.") :] not in by_id:
            continue
        base = model.id[len("regional.") :]
        for twin in (model, by_id["global." + base]):
            for cond in twin.prices if isinstance(twin.prices, list) else []:
                if isinstance(cond.constraint, gp.StartDateConstraint):
                    day = cond.constraint.start_date
                    at = utc(day.year, day.month, day.day, 12)
                    ours = cost(catalog, "us." + base, "aws.bedrock", input_tokens=1000, output_tokens=1000, at=at)
                    before = cost(
                        catalog, "us." + base, "aws.bedrock", input_tokens=1000, output_tokens=1000, at=at - dt.timedelta(days=1)
                    )
                    assert ours != before, f"{base}: the {day} price change is lost"


def test_vertex_gemini_2_0_flash_is_vertex_list_price(catalog: Catalog) -> None:
    # Vertex $0.15 / $0.60 (LiteLLM vertex_ai/gemini-2.0-flash), not the Gemini API's $0.10 / $0.40.
    got = catalog.price(TokenUsage(input_tokens=M, output_tokens=M), "gemini-2.0-flash", "google-vertex")
    assert got.pricing_id == "google-vertex/gemini-2.0-flash"
    assert got.total_usd == pytest.approx(0.75)
    assert cost(catalog, "gemini-2.0-flash", "google", input_tokens=M, output_tokens=M) == pytest.approx(0.50)
    assert cost(catalog, "gemini-2.0-flash", "google-vertex", input_tokens=M, output_tokens=M, batch=True) == (
        pytest.approx(0.375)
    )


@pytest.mark.parametrize(
    ("model", "cache", "cache_long"),
    [("gemini-2.5-pro", 0.125, 0.25), ("gemini-3.1-pro-preview", 0.20, 0.40), ("gemini-3-pro-preview", 0.20, 0.40)],
)
def test_gemini_pro_batch_keeps_cache_reads_at_the_standard_rate(
    catalog: Catalog, model: str, cache: float, cache_long: float
) -> None:
    # genai-prices' batch variants and LiteLLM's *_batches keys: cache reads stay at the
    # standard rate under Batch, below and past the 200k cliff; input and output halve.
    short = catalog.price(
        TokenUsage(input_tokens=100_000, cache_read_tokens=50_000, output_tokens=1_000), model, "google", batch=True
    )
    assert short.cache_read_usd == pytest.approx(50_000 * cache / M)
    long = catalog.price(
        TokenUsage(input_tokens=250_000, cache_read_tokens=100_000, output_tokens=1_000), model, "google", batch=True
    )
    assert long.cache_read_usd == pytest.approx(100_000 * cache_long / M)
    assert long.input_usd == pytest.approx(150_000 * cache_long * 10 / 2 / M)  # half the long-context input rate


def test_mistral_large_latest_is_large_3_since_december_2025(catalog: Catalog) -> None:
    usage = dict(input_tokens=M, output_tokens=M)
    assert cost(catalog, "mistral-large-latest", "mistral", at=utc(2026, 11, 22), **usage) == pytest.approx(2.00)
    assert cost(catalog, "mistral-large-latest", "mistral", at=utc(2025, 6, 1), **usage) == pytest.approx(8.00)
    # the dated snapshots keep their own prices
    assert cost(catalog, "mistral-large-2411", "mistral", **usage) == pytest.approx(8.00)
    assert cost(catalog, "mistral-large-2512", "mistral", **usage) == pytest.approx(2.00)


@pytest.mark.parametrize(
    ("model", "provider", "fee"),
    [
        ("claude-sonnet-4-5", "anthropic", 0.01),
        ("claude-opus-4-1", "anthropic", 0.01),
        ("gpt-5", "openai", 0.01),
        ("gpt-4o", "openai", 0.01),
        ("gemini-2.5-pro", "google", 0.035),
        ("gemini-3.1-pro-preview", "google", 0.014),
    ],
)
def test_curated_entries_bill_web_searches(catalog: Catalog, model: str, provider: str, fee: float) -> None:
    got = catalog.price(TokenUsage(1000, 100, web_searches=10), model, provider)
    assert got.search_usd == pytest.approx(10 * fee)
    batch = catalog.price(TokenUsage(1000, 100, web_searches=10), model, provider, batch=True)
    assert batch.search_usd == pytest.approx(10 * fee)  # a tier discounts tokens, not the search fee


def test_every_local_ollama_model_is_free_by_one_entry_and_a_span_naming_no_provider_is_not(catalog: Catalog) -> None:
    """Ollama names models with a tag no dataset lists (``llama3.2:3b``): each was
    ``unknown_model`` while its bare twin was $0. The catch-all prices only spans that name
    Ollama (``named_only``); its cloud models, on a paid plan, are not matched."""
    for model in ("llama3.2:3b", "qwen2.5:7b", "llama3.1:latest", "nomic-embed-text"):
        resolution = catalog.resolve(model, "Ollama")
        assert resolution.model.pricing_id == "ollama/local-runtime"
        assert catalog.price_resolved(resolution, TokenUsage(input_tokens=1000, output_tokens=100)).total_usd == 0
    with pytest.raises(UnknownModelError):
        catalog.resolve("glm-4.6:cloud", "ollama")
    with pytest.raises((UnknownModelError, AmbiguousModelError)):
        catalog.resolve("llama3.2:3b")


def test_cohere_embed_multilingual_light_costs_what_its_siblings_do(catalog: Catalog) -> None:
    """LiteLLM 1.109.1 lists it at $100 per million tokens, a typo for $0.10."""
    usage = TokenUsage(input_tokens=5000)
    light = catalog.price(usage, "embed-multilingual-light-v3.0", "cohere")
    assert light.total_usd == pytest.approx(5000 * 0.10e-6)
    assert light.total_usd == pytest.approx(catalog.price(usage, "embed-english-light-v3.0", "cohere").total_usd)


@pytest.mark.parametrize(
    ("recorded", "entry"),
    [
        ("gpt-oss-120b", "groq/openai/gpt-oss-120b"),
        ("kimi-k2-instruct-0905", "groq/moonshotai/kimi-k2-instruct"),
        ("openai/gpt-oss-120b", "groq/openai/gpt-oss-120b"),
        ("llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile"),
    ],
)
def test_groq_models_recorded_without_their_makers_prefix_are_read_with_it(
    catalog: Catalog, recorded: str, entry: str
) -> None:
    assert catalog.resolve(recorded, "groq").model.pricing_id == entry
