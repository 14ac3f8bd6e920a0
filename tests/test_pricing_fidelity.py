"""Worked examples: each pricing rule, with the arithmetic written out.

Most use a small pricing file of their own (``FIXTURE``) so the arithmetic is
independent of catalog updates; the headline figures of the reference
(``pricing.md``) are checked against the shipped catalog too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from genai_cost.pricing import Catalog, MissingRateError, TokenUsage

UTC = dt.timezone.utc
M = 1_000_000

FIXTURE = """
providers:
  - id: acme
    aliases: [acme, acme_ai]
    regional_prefixes: {"us.": 1.1, "global.": 1.0}
    regional_exempt: ["old-.*"]
    models:
      - id: chat-1
        prices:
          - {input: 3.0, cache_read: 0.30, cache_write: 3.75, cache_write_1h: 6.0, output: 15.0,
             long_context: [{above_input_tokens: 200000, input: 6.0, cache_read: 0.60, cache_write: 7.5,
                             cache_write_1h: 12.0, output: 22.5}],
             service_tiers: {batch: {multiplier: 0.5}, flex: {multiplier: 0.5},
                             priority: {input: 5.0, cache_read: 0.5, output: 25.0}},
             per_search: 0.01,
             source: test, checked: 2026-11-22}
      - id: reasoner-1
        prices:
          - {input: 1.0, output: 4.0, reasoning: 8.0, input_audio: 10.0, output_audio: 20.0,
             input_image: 2.0, per_request: 0.002, source: test, checked: 2026-11-22}
      - id: plain-1
        prices:
          - {input: 1.0, output: 2.0, source: test, checked: 2026-11-22}
      - id: old-1
        prices:
          - {input: 1.0, output: 2.0, source: test, checked: 2026-11-22}
      - id: dated-1
        prices:
          - {input: 10.0, output: 30.0, source: test, checked: 2026-11-22}
          - {effective_from: 2026-03-01, input: 5.0, output: 15.0, source: test, checked: 2026-11-22}
          - {effective_from: 2026-09-01T12:00:00Z, input: 2.0, output: 8.0, source: test, checked: 2026-11-22}
      - id: announced-1
        prices:
          - {input: 3.0, output: 15.0, source: test, checked: 2026-11-22}
          - {effective_from: 2999-01-01, input: 6.0, output: 30.0, source: test, checked: 2026-11-22}
      - id: windowed-1
        prices:
          - {input: 0.27, cache_read: 0.07, output: 1.10,
             time_windows: [{start: "16:30", end: "00:30", input: 0.135, cache_read: 0.035, output: 0.55},
                            {start: "00:00", end: "00:00", weekdays: [6, 7], weekday_utc_offset_minutes: 480,
                             multiplier: 0.5}],
             source: test, checked: 2026-11-22}
      - id: gpu-1
        prices:
          - {per_gpu_second: 0.001, gpus: 4, source: test, checked: 2026-11-22}
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path = tmp_path_factory.mktemp("prices") / "acme.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    return Catalog.load([path], include_default=False)


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load()


def price(catalog: Catalog, model: str, provider: str = "acme", **kwargs: object) -> float:
    usage_fields = {k: v for k, v in kwargs.items() if k in TokenUsage.__dataclass_fields__}
    options = {k: v for k, v in kwargs.items() if k not in usage_fields}
    return catalog.price(TokenUsage(**usage_fields), model, provider, **options).total_usd  # type: ignore[arg-type]


# ----------------------------------------------------------------- caching


def test_cache_read_is_part_of_input_and_billed_at_its_own_rate(catalog: Catalog) -> None:
    # 10,000 input of which 8,000 cache reads: 2,000 x $3 + 8,000 x $0.30 + 500 x $15
    cost = catalog.price(TokenUsage(input_tokens=10_000, cache_read_tokens=8_000, output_tokens=500), "chat-1", "acme")
    assert cost.input_usd == pytest.approx(2_000 * 3.0 / M)
    assert cost.cache_read_usd == pytest.approx(8_000 * 0.30 / M)
    assert cost.total_usd == pytest.approx((2_000 * 3.0 + 8_000 * 0.30 + 500 * 15.0) / M)


def test_five_minute_and_one_hour_cache_writes_have_their_own_rates(catalog: Catalog) -> None:
    # 10,000 writes of which 4,000 with a 1-hour TTL: 6,000 x $3.75 + 4,000 x $6
    usage = TokenUsage(input_tokens=12_000, cache_write_tokens=10_000, cache_write_1h_tokens=4_000)
    cost = catalog.price(usage, "chat-1", "acme")
    assert cost.cache_write_usd == pytest.approx((6_000 * 3.75 + 4_000 * 6.0) / M)
    assert cost.input_usd == pytest.approx(2_000 * 3.0 / M)
    # the same writes all at 5 minutes cost less: the 1h part is never priced at the 5m rate
    five_minutes = catalog.price(TokenUsage(input_tokens=12_000, cache_write_tokens=10_000), "chat-1", "acme")
    assert five_minutes.cache_write_usd == pytest.approx(10_000 * 3.75 / M)


# ------------------------------------------------------------ long context


def test_long_context_is_a_cliff_on_total_input_including_cache(catalog: Catalog) -> None:
    # 150,000 uncached + 60,000 cache reads = 210,000 > 200,000: EVERY token at the tier
    usage = TokenUsage(input_tokens=210_000, cache_read_tokens=60_000, output_tokens=1_000)
    cost = catalog.price(usage, "chat-1", "acme")
    assert cost.total_usd == pytest.approx((150_000 * 6.0 + 60_000 * 0.60 + 1_000 * 22.5) / M)
    assert "long_context>200000" in cost.adjustments
    # at exactly the threshold, the base rate
    at_threshold = catalog.price(TokenUsage(input_tokens=200_000, output_tokens=1_000), "chat-1", "acme")
    assert at_threshold.total_usd == pytest.approx((200_000 * 3.0 + 1_000 * 15.0) / M)


def test_claude_sonnet_4_5_long_context_reference_figure(shipped: Catalog) -> None:
    # pricing.md: 250,000 in + 1,000 out = 250,000 x $6 + 1,000 x $22.50 = $1.5225
    assert price(shipped, "claude-sonnet-4-5", "anthropic", input_tokens=250_000, output_tokens=1_000) == pytest.approx(
        1.5225
    )


# ------------------------------------------------- reasoning, audio, image, fees


def test_reasoning_audio_and_image_tokens_at_their_own_rates(catalog: Catalog) -> None:
    usage = TokenUsage(
        input_tokens=10_000,
        input_audio_tokens=2_000,
        input_image_tokens=1_000,
        output_tokens=5_000,
        reasoning_tokens=3_000,
        output_audio_tokens=500,
    )
    cost = catalog.price(usage, "reasoner-1", "acme")
    expected_input = 7_000 * 1.0 + 2_000 * 10.0 + 1_000 * 2.0
    expected_output = 1_500 * 4.0 + 3_000 * 8.0 + 500 * 20.0
    assert cost.input_usd == pytest.approx(expected_input / M)
    assert cost.output_usd == pytest.approx(expected_output / M)
    assert cost.request_usd == pytest.approx(0.002)
    assert cost.total_usd == pytest.approx((expected_input + expected_output) / M + 0.002)


def test_audio_on_an_entry_without_an_audio_rate_is_billed_as_text_and_says_so(catalog: Catalog) -> None:
    """The guess (the text rate; gpt-audio's real audio rate is 13x its text rate) is written
    on the span as an adjustment. Images at the text rate are how OpenAI and Google bill them:
    no note."""
    usage = TokenUsage(input_tokens=3_000, input_audio_tokens=2_000, output_tokens=100)
    cost = catalog.price(usage, "plain-1", "acme")
    assert cost.total_usd == pytest.approx((3_000 * 1.0 + 100 * 2.0) / M)
    assert "audio_at_text_rate" in cost.adjustments
    spoken = catalog.price(TokenUsage(input_tokens=0, output_tokens=100, output_audio_tokens=50), "plain-1", "acme")
    assert spoken.adjustments.count("audio_at_text_rate") == 1
    pictured = catalog.price(TokenUsage(input_tokens=3_000, input_image_tokens=2_000, output_tokens=0), "plain-1", "acme")
    assert "audio_at_text_rate" not in pictured.adjustments
    own_rate = catalog.price(TokenUsage(input_tokens=3_000, input_audio_tokens=2_000, output_tokens=0), "reasoner-1", "acme")
    assert "audio_at_text_rate" not in own_rate.adjustments


def test_reasoning_is_output_when_the_model_has_no_reasoning_rate(catalog: Catalog) -> None:
    # never added twice: 1,000 output of which 800 reasoning = 1,000 x $2
    assert price(catalog, "plain-1", input_tokens=0, output_tokens=1_000, reasoning_tokens=800) == pytest.approx(
        1_000 * 2.0 / M
    )


def test_per_search_fee(catalog: Catalog) -> None:
    cost = catalog.price(TokenUsage(input_tokens=1_000, output_tokens=100, web_searches=3), "chat-1", "acme")
    assert cost.search_usd == pytest.approx(0.03)
    assert cost.total_usd == pytest.approx((1_000 * 3.0 + 100 * 15.0) / M + 0.03)


# ------------------------------------------------------------- service tiers


def test_served_tier_flex_priority_and_batch_flag(catalog: Catalog) -> None:
    usage = dict(input_tokens=10_000, cache_read_tokens=4_000, output_tokens=1_000)
    standard = (6_000 * 3.0 + 4_000 * 0.30 + 1_000 * 15.0) / M
    assert price(catalog, "chat-1", **usage) == pytest.approx(standard)
    assert price(catalog, "chat-1", service_tier="default", **usage) == pytest.approx(standard)
    assert price(catalog, "chat-1", service_tier="flex", **usage) == pytest.approx(standard * 0.5)
    assert price(catalog, "chat-1", service_tier="priority", **usage) == pytest.approx(
        (6_000 * 5.0 + 4_000 * 0.5 + 1_000 * 25.0) / M
    )
    # OpenAI batch results say service_tier=default: batch is its own flag
    assert price(catalog, "chat-1", service_tier="default", batch=True, **usage) == pytest.approx(standard * 0.5)


def test_a_tier_the_model_does_not_price_is_flagged_not_guessed(catalog: Catalog) -> None:
    cost = catalog.price(TokenUsage(input_tokens=1_000), "plain-1", "acme", service_tier="scale")
    assert cost.total_usd == pytest.approx(1_000 * 1.0 / M)
    assert "service_tier=scale:unpriced_at_default" in cost.adjustments


def test_flex_multiplier_scales_the_long_context_rates_too(catalog: Catalog) -> None:
    usage = dict(input_tokens=300_000, output_tokens=1_000)
    assert price(catalog, "chat-1", service_tier="flex", **usage) == pytest.approx(
        (300_000 * 6.0 + 1_000 * 22.5) / M * 0.5
    )


# ---------------------------------------------------- region and fallbacks


def test_regional_prefix_uplift_and_exemption(catalog: Catalog) -> None:
    usage = dict(input_tokens=1_000_000, output_tokens=1_000_000)
    assert price(catalog, "us.plain-1", **usage) == pytest.approx(3.0 * 1.1)
    assert price(catalog, "global.plain-1", **usage) == pytest.approx(3.0)
    assert price(catalog, "us.old-1", **usage) == pytest.approx(3.0)  # regional_exempt


def test_bedrock_geo_profile_costs_ten_percent_more(shipped: Catalog) -> None:
    # pricing.md: us.anthropic.claude-sonnet-4-5... at $3.30 / $16.50 per million
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    # (100,000 tokens: below the 200k long-context cliff) $0.33 in, $1.65 out
    assert price(shipped, model, "aws.bedrock", input_tokens=100_000, output_tokens=0) == pytest.approx(0.33)
    assert price(shipped, model, "aws.bedrock", input_tokens=0, output_tokens=100_000) == pytest.approx(1.65)
    resolution = shipped.resolve(model, "aws.bedrock")
    assert resolution.model.pricing_id == "anthropic/claude-sonnet-4-5"
    assert "served models of anthropic" in resolution.how


@pytest.mark.parametrize("model", ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"])
def test_the_bedrock_regional_uplift_is_on_the_tokens_not_on_the_search_fee(shipped: Catalog, model: str) -> None:
    """LiteLLM's Bedrock profiles carry the uplifted token rates ($3.30) and the plain $10 /
    1,000 search fee; the uplift was applied to the fee too ($11 / 1,000)."""
    cost = shipped.price(TokenUsage(100_000, 0, web_searches=1_000), model, "aws.bedrock")
    assert cost.total_usd == pytest.approx(0.33 + 10.0)
    assert cost.adjustments == (("region=usx1.1",) if model.startswith("us.") else ("region=in-regionx1.1",))


def test_a_negotiated_discount_is_on_the_search_fee_too(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        "discounts:\n  - {provider: aws.bedrock, percent: 20}\n  - {provider: anthropic, percent: 20}\n", encoding="utf-8"
    )
    discounted = Catalog.load([contract])
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    cost = discounted.price(TokenUsage(100_000, 0, web_searches=1_000), model, "aws.bedrock")
    assert cost.total_usd == pytest.approx((0.33 + 10.0) * 0.8)
    direct = discounted.price(TokenUsage(100_000, 0, web_searches=1_000), "claude-sonnet-4-5", "anthropic")
    assert direct.total_usd == pytest.approx((0.30 + 10.0) * 0.8)


@pytest.mark.parametrize(
    ("recorded", "full_id", "price_per_m"),
    [
        # OpenLLMetry's Bedrock instrumentation records us.anthropic.claude-... as claude-...
        ("claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0", 3.30),
        ("claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0", 0.80),
        ("nova-pro-v1:0", "amazon.nova-pro-v1:0", 0.80),
        ("llama3-1-70b-instruct-v1:0", "meta.llama3-1-70b-instruct-v1:0", 0.72),
        ("kimi-k3", "moonshotai.kimi-k3", 3.30),
    ],
)
def test_a_bedrock_id_recorded_without_its_vendor_is_priced_as_the_full_id(
    shipped: Catalog, recorded: str, full_id: str, price_per_m: float
) -> None:
    """It used to be unknown_model (Nova, Llama, Kimi), or, for Claude 4.5, priced through
    the Anthropic fallback without the in-region 1.1x."""
    tokens = 100_000  # below Claude's 200k long-context cliff
    got = price(shipped, recorded, "aws.bedrock", input_tokens=tokens, output_tokens=0)
    assert got == pytest.approx(price(shipped, full_id, "aws.bedrock", input_tokens=tokens, output_tokens=0))
    assert got == pytest.approx(price_per_m * tokens / M)
    assert f"read as {full_id}" in shipped.resolve(recorded, "aws.bedrock").how


def test_a_name_of_ones_own_spelled_without_a_vendor_still_matches(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "version: '1'\nproviders:\n  - id: aws-bedrock\n    models:\n      - id: claude-house-tune\n"
        "        prices:\n          - {input: 7.0, output: 7.0, source: ours, checked: 2026-11-22}\n",
        encoding="utf-8",
    )
    mine = Catalog.load([path])
    assert price(mine, "claude-house-tune", "aws.bedrock", input_tokens=M, output_tokens=0) == pytest.approx(7.0)


def test_azure_and_vertex_fall_back_to_the_model_makers(shipped: Catalog) -> None:
    assert shipped.resolve("gpt-4o", "az.ai.openai").model.pricing_id == "openai/gpt-4o"
    assert shipped.resolve("gemini-2.5-pro", "gcp.vertex_ai").model.provider_id in ("google", "google-vertex")


# ------------------------------------------------------------------- time


def test_dated_prices_use_the_rate_in_force_at_span_start(catalog: Catalog) -> None:
    usage = dict(input_tokens=M, output_tokens=0)
    assert price(catalog, "dated-1", at=dt.datetime(2026, 1, 15, tzinfo=UTC), **usage) == pytest.approx(10.0)
    assert price(catalog, "dated-1", at=dt.datetime(2026, 3, 1, tzinfo=UTC), **usage) == pytest.approx(5.0)
    assert price(catalog, "dated-1", at=dt.datetime(2026, 9, 1, 11, 59, tzinfo=UTC), **usage) == pytest.approx(5.0)
    assert price(catalog, "dated-1", at=dt.datetime(2026, 9, 1, 12, 0, tzinfo=UTC), **usage) == pytest.approx(2.0)
    assert price(catalog, "dated-1", **usage) == pytest.approx(2.0)  # no time: now


def test_no_time_means_now_not_a_price_announced_for_a_later_date(catalog: Catalog) -> None:
    """``at=None`` used to mean "the newest period", which is a price not yet in force when
    a provider announces one ahead (a preview's price from next month)."""
    usage = TokenUsage(input_tokens=M, output_tokens=0)
    assert catalog.price(usage, "announced-1", "acme").total_usd == pytest.approx(3.0)
    resolution = catalog.resolve("announced-1", "acme")
    assert catalog.price_resolved(resolution, usage).total_usd == pytest.approx(3.0)
    later = dt.datetime(2999, 1, 2, tzinfo=UTC)
    assert catalog.price(usage, "announced-1", "acme", at=later).total_usd == pytest.approx(6.0)
    assert catalog.price_resolved(resolution, usage, at=later.timestamp()).total_usd == pytest.approx(6.0)


def test_no_time_means_now_for_time_windows_too(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off-peak hours apply to a call priced without a time as they apply now (they were
    skipped: every such call was priced at the standard rate)."""
    import genai_cost.pricing.catalog as catalog_module

    usage = TokenUsage(input_tokens=M, output_tokens=M)
    for now, expected in ((dt.datetime(2026, 11, 19, 2, 0, tzinfo=UTC), 1.37),
                          (dt.datetime(2026, 11, 19, 20, 0, tzinfo=UTC), 0.685)):
        monkeypatch.setattr(catalog_module, "time", SimpleNamespace(time=now.timestamp))
        assert catalog.price(usage, "windowed-1", "acme").total_usd == pytest.approx(expected), now


def test_time_windows_and_weekday_windows(catalog: Catalog) -> None:
    usage = dict(input_tokens=M, output_tokens=M)
    # Thursday 2026-11-19: 02:00 UTC standard, 20:00 UTC off-peak (window wraps midnight)
    assert price(catalog, "windowed-1", at=dt.datetime(2026, 11, 19, 2, 0, tzinfo=UTC), **usage) == pytest.approx(1.37)
    assert price(catalog, "windowed-1", at=dt.datetime(2026, 11, 19, 20, 0, tzinfo=UTC), **usage) == pytest.approx(
        0.685
    )
    assert price(catalog, "windowed-1", at=dt.datetime(2026, 11, 20, 0, 15, tzinfo=UTC), **usage) == pytest.approx(
        0.685
    )
    # Saturday in Beijing (UTC+8) from Friday 16:00 UTC: the whole-day weekend window (x0.5)
    assert price(catalog, "windowed-1", at=dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC), **usage) == pytest.approx(1.37)
    assert price(catalog, "windowed-1", at=dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC), **usage) == pytest.approx(
        0.685
    )


def test_a_time_window_names_its_hours_and_days_in_the_adjustments(catalog: Catalog) -> None:
    # The label used to be the start time alone ("window=16:30"), which read as a moment, not
    # as the hours the rate applies to, and said nothing of the weekend rule.
    usage = TokenUsage(input_tokens=M, output_tokens=M)
    evening = dt.datetime(2026, 11, 19, 20, 0, tzinfo=UTC).timestamp()
    got = catalog.price(usage, "windowed-1", "acme", at=evening)
    assert got.adjustments == ("window=16:30-00:30Z",)
    saturday_in_beijing = dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC).timestamp()
    got = catalog.price(usage, "windowed-1", "acme", at=saturday_in_beijing)
    assert got.adjustments == ("window=Sat+Sun@UTC+08:00",)
    standard = dt.datetime(2026, 11, 19, 2, 0, tzinfo=UTC).timestamp()
    assert catalog.price(usage, "windowed-1", "acme", at=standard).adjustments == ()


def test_deepseek_off_peak_reference_figures(shipped: Catalog) -> None:
    # pricing.md: deepseek-chat 1M in + 1M out: $1.37 at 02:00 UTC, $0.685 at 20:00 UTC
    usage = dict(input_tokens=M, output_tokens=M)
    at_two = dt.datetime(2026, 11, 19, 2, 0, tzinfo=UTC)
    at_twenty = dt.datetime(2026, 11, 19, 20, 0, tzinfo=UTC)
    assert price(shipped, "deepseek-chat", "deepseek", at=at_two, **usage) == pytest.approx(1.37)
    assert price(shipped, "deepseek-chat", "deepseek", at=at_twenty, **usage) == pytest.approx(0.685)


# ------------------------------------------------------------ self-hosted


def test_gpu_seconds_of_span_duration(catalog: Catalog) -> None:
    resolution = catalog.resolve("gpu-1", "acme")
    cost = catalog.price_resolved(resolution, TokenUsage(input_tokens=500, output_tokens=50), duration_s=2.5)
    assert cost.compute_usd == pytest.approx(2.5 * 0.001 * 4)
    assert cost.total_usd == pytest.approx(0.01)
    with pytest.raises(MissingRateError) as info:
        catalog.price_resolved(resolution, TokenUsage(input_tokens=500))
    assert info.value.reason == "missing_duration"


# ---------------------------------------------------------- explainability


def test_resolution_is_explained(shipped: Catalog) -> None:
    resolution = shipped.resolve("gpt-4o-2024-08-06", "openai")
    assert resolution.model.pricing_id == "openai/gpt-4o"
    assert "dated snapshot of 'gpt-4o'" in resolution.how


def test_unknown_and_ambiguous_models_are_reported(shipped: Catalog) -> None:
    from genai_cost.pricing import AmbiguousModelError, UnknownModelError

    with pytest.raises(UnknownModelError):
        shipped.resolve("no-such-model-xyz", "openai")
    with pytest.raises(AmbiguousModelError):
        shipped.resolve("llama-3.1-8b-instant")  # served by several providers, none named


def test_curated_entries_win_over_imported_ones(shipped: Catalog) -> None:
    entry = shipped.resolve("gpt-4o", "openai").model
    assert entry.origin == "curated"
    assert shipped.layer_of(entry.pricing_id) == "curated"


def test_every_shipped_entry_has_provenance(shipped: Catalog) -> None:
    models = shipped.models
    assert len(models) > 5_000
    origins = {m.origin for m in models.values()}
    assert {"curated", "genai-prices", "litellm"} <= origins
    for entry in models.values():
        for period in entry.periods:
            assert period.source and period.checked, entry.pricing_id


# ------------------------------------------------------------ from span attributes


def _span_cost(catalog: Catalog, attributes: dict[str, object]) -> float:
    from genai_cost.pricer import SpanPricer
    from genai_cost.usage import read_usage

    cost = SpanPricer(catalog).price(read_usage(attributes), attributes, None)
    assert cost is not None and cost.priced, cost
    assert cost.total_usd is not None
    return cost.total_usd


def test_span_served_tier_wins_over_the_requested_one(catalog: Catalog) -> None:
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "acme",
        "gen_ai.request.model": "chat-1",
        "gen_ai.usage.input_tokens": 10_000,
        "gen_ai.usage.output_tokens": 1_000,
    }
    standard = (10_000 * 3.0 + 1_000 * 15.0) / M
    served_flex = {**base, "openai.request.service_tier": "priority", "openai.response.service_tier": "flex"}
    assert _span_cost(catalog, served_flex) == pytest.approx(standard * 0.5)
    batch = {**base, "openai.response.service_tier": "default", "gen_ai.cost.batch": True}
    assert _span_cost(catalog, batch) == pytest.approx(standard * 0.5)


def test_span_anthropic_five_minute_and_one_hour_writes(catalog: Catalog) -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "acme",
        "gen_ai.request.model": "chat-1",
        "gen_ai.usage.input_tokens": 12_000,
        "gen_ai.usage.cache_creation.input_tokens": 10_000,
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 6_000,
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 4_000,
        "gen_ai.usage.output_tokens": 0,
    }
    assert _span_cost(catalog, attributes) == pytest.approx((2_000 * 3.0 + 6_000 * 3.75 + 4_000 * 6.0) / M)
