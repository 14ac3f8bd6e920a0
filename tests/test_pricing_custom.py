"""Custom pricing: user files (several), discounts, private / fine-tuned and
self-hosted models, provider-reported cost, and ``pricing validate``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from genai_cost.attributes import COST_COMPUTE, COST_REPORTED_DIFF
from genai_cost.cli import main
from genai_cost.config import CostSettings
from genai_cost.pricer import SpanPricer
from genai_cost.pricing import Catalog, CatalogError, TokenUsage, UnknownModelError
from genai_cost.pricing.files import parse_pricing_text
from genai_cost.pricing.schema import ModelEntry, PricePeriod, PricingFile, ProviderEntry, ToolEntry
from genai_cost.usage import read_usage

M = 1_000_000

DISCOUNTS = """
discounts:
  - {provider: openai, percent: 20}
  - {provider: anthropic, model: claude-sonnet-4-5, percent: 50}
"""

PRIVATE = """
providers:
  - id: openai
    models:
      - id: ft:gpt-4o-mini:acme::support-v3
        match: {prefix: ["ft:gpt-4o-mini:acme:"]}
        prices:
          - {input: 0.30, cache_read: 0.15, output: 1.20, source: "our contract", checked: 2026-11-01}
  - id: in-house
    name: Self-hosted vLLM
    aliases: [in-house, vllm]
    models:
      - id: llama-70b-gpu
        prices:
          - {per_gpu_second: 0.0012, gpus: 2, source: "cluster cost model", checked: 2026-11-01}
      - id: qwen-per-token
        prices:
          - {input: 0.05, output: 0.10, source: "cluster cost model", checked: 2026-11-01}
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    discounts = tmp_path / "discounts.yaml"
    discounts.write_text(DISCOUNTS, encoding="utf-8")
    private = tmp_path / "private.yaml"
    private.write_text(PRIVATE, encoding="utf-8")
    return discounts, private


def test_several_files_from_the_environment(files: tuple[Path, Path]) -> None:
    settings = CostSettings.from_env({"GENAI_COST_PRICING_FILE": os.pathsep.join(str(f) for f in files)})
    assert settings.pricing_files == tuple(str(f) for f in files)
    catalog = Catalog.load(settings.pricing_files)
    assert catalog.resolve("llama-70b-gpu", "vllm").model.pricing_id == "in-house/llama-70b-gpu"


def test_negotiated_discounts_per_provider_and_per_model(files: tuple[Path, Path]) -> None:
    listed = Catalog.load()
    discounted = Catalog.load([files[0]])
    usage = TokenUsage(input_tokens=10_000, output_tokens=1_000)
    gpt = discounted.price(usage, "gpt-4o", "openai")
    assert gpt.total_usd == pytest.approx(listed.price(usage, "gpt-4o", "openai").total_usd * 0.8)
    assert "discount=20%" in gpt.adjustments
    # per model: only claude-sonnet-4-5 is discounted at Anthropic
    sonnet = discounted.price(usage, "claude-sonnet-4-5", "anthropic").total_usd
    assert sonnet == pytest.approx(listed.price(usage, "claude-sonnet-4-5", "anthropic").total_usd * 0.5)
    haiku = discounted.price(usage, "claude-haiku-4-5", "anthropic").total_usd
    assert haiku == pytest.approx(listed.price(usage, "claude-haiku-4-5", "anthropic").total_usd)
    # a discount belongs to whoever bills: Claude bought through Bedrock is not discounted
    bedrock = discounted.price(usage, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "aws.bedrock")
    assert bedrock.total_usd == pytest.approx(listed.price(usage, "claude-sonnet-4-5", "anthropic").total_usd * 1.1)


CONTRACTS = """
providers:
  - id: openai
    models:
      - id: gpt-4o
        kind: chat
        prices:
          - {input: 1.0, output: 1.0, source: "our OpenAI contract", checked: 2026-11-22}
  - id: anthropic
    models:
      - id: claude-sonnet-4-5
        kind: chat
        prices:
          - {input: 1.0, output: 1.0, source: "our Anthropic contract", checked: 2026-11-22}
"""


def test_a_contract_price_prices_its_own_providers_calls_not_those_of_providers_serving_its_models(
    tmp_path: Path,
) -> None:
    """Audit finding: an OpenAI contract price in a pricing file priced Azure OpenAI calls too
    ($2.00 for 1M in and out, where Azure bills $12.50), as a discount does not. The price is
    what the provider named bills the user; a provider serving its models bills its own."""
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(CONTRACTS, encoding="utf-8")
    listed, catalog = Catalog.load(), Catalog.load([contracts])
    usage = TokenUsage(input_tokens=M, output_tokens=M)
    assert catalog.price(usage, "gpt-4o", "openai").total_usd == pytest.approx(2.0)
    azure = catalog.resolve("gpt-4o", "azure")
    assert not azure.model.is_override
    assert catalog.layer_of(azure.model) == "curated"
    assert catalog.price_resolved(azure, usage).total_usd == pytest.approx(12.50)
    assert catalog.price_resolved(azure, usage).total_usd == listed.price(usage, "gpt-4o", "azure").total_usd
    assert catalog.price(usage, "claude-sonnet-4-5", "anthropic").total_usd == pytest.approx(2.0)
    bedrock = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert catalog.price(usage, bedrock, "aws.bedrock").total_usd == listed.price(usage, bedrock, "aws.bedrock").total_usd
    # On spans: the Azure call says the catalog priced it, the OpenAI call the user's file.
    pricer = SpanPricer(catalog)
    for provider, source, total in (("openai", "override", 2.0), ("azure.ai.openai", "catalog", 12.5)):
        span = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": M,
            "gen_ai.usage.output_tokens": M,
        }
        cost = pricer.price(read_usage(span), span, None)
        assert cost is not None
        assert (cost.attributes["gen_ai.cost.source"], cost.total_usd) == (source, pytest.approx(total))


def test_a_model_only_the_users_file_knows_still_prices_the_calls_of_providers_serving_its_models(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """The user's entries of a provider come last for another provider's calls, not never:
    a model no catalog entry prices, served through Azure, is priced by the user's OpenAI
    entry, and the resolution says so. One the catalog prices for OpenAI (a fine-tune of
    gpt-4o-mini) is priced at the catalog's rates, as a contract price is not Azure's."""
    own = tmp_path / "own.yaml"
    own.write_text(
        "providers:\n  - id: openai\n    models:\n      - id: acme-internal-1\n        prices:\n"
        '          - {input: 0.5, output: 0.5, source: "ours", checked: 2026-11-01}\n',
        encoding="utf-8",
    )
    with pytest.raises(UnknownModelError):
        Catalog.load().resolve("acme-internal-1", "azure")
    resolution = Catalog.load([own]).resolve("acme-internal-1", "azure")
    assert resolution.model.pricing_id == "openai/acme-internal-1"
    assert "your pricing file's, of openai" in resolution.how
    catalog = Catalog.load([files[1]])
    assert catalog.resolve("ft:gpt-4o-mini:acme::support-v4", "openai").model.is_override
    fine_tune = catalog.resolve("ft:gpt-4o-mini:acme::support-v4", "azure").model
    assert (fine_tune.pricing_id, fine_tune.is_override) == ("openai/ft:gpt-4o-mini", False)


def test_fine_tuned_model_from_a_user_file(files: tuple[Path, Path]) -> None:
    catalog = Catalog.load([files[1]])
    resolution = catalog.resolve("ft:gpt-4o-mini:acme::support-v4", "openai")
    assert resolution.model.pricing_id == "openai/ft:gpt-4o-mini:acme::support-v3"
    assert resolution.model.is_override
    cost = catalog.price_resolved(resolution, TokenUsage(input_tokens=M, output_tokens=M))
    assert cost.total_usd == pytest.approx(1.50)


def test_self_hosted_per_token_and_per_gpu_second(files: tuple[Path, Path]) -> None:
    catalog = Catalog.load([files[1]])
    per_token = catalog.price(TokenUsage(input_tokens=M, output_tokens=M), "qwen-per-token", "in-house")
    assert per_token.total_usd == pytest.approx(0.15)
    gpu = catalog.price(TokenUsage(input_tokens=5_000, output_tokens=500), "llama-70b-gpu", "vllm", duration_s=3.0)
    assert gpu.compute_usd == pytest.approx(3.0 * 0.0012 * 2)


def _span(**extra: object) -> dict[str, object]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "in-house",
        "gen_ai.request.model": "llama-70b-gpu",
        "gen_ai.usage.input_tokens": 5_000,
        "gen_ai.usage.output_tokens": 500,
        **extra,
    }


def test_the_span_duration_prices_a_self_hosted_span(files: tuple[Path, Path]) -> None:
    pricer = SpanPricer(Catalog.load([files[1]]))
    attributes = _span()
    start = 1_763_700_000 * 10**9
    cost = pricer.price(read_usage(attributes), attributes, start, start + 4 * 10**9)
    assert cost is not None and cost.priced
    assert cost.total_usd == pytest.approx(4.0 * 0.0012 * 2)
    assert cost.attributes[COST_COMPUTE] == pytest.approx(0.0096)
    # without an end time there is no duration: reported, not zero
    unpriced = pricer.price(read_usage(attributes), attributes, start)
    assert unpriced is not None and unpriced.unpriced_reason == "missing_duration"
    # a start time of 0 is OTLP's "not set" (a sender's bug), not 1970: no duration either
    # (it billed the 56 years since: $4.2 million of GPU time)
    unset = pricer.price(read_usage(attributes), attributes, 0, start + 4 * 10**9)
    assert unset is not None and unset.unpriced_reason == "missing_duration"


@pytest.mark.parametrize("policy", ["prefer", "compare", "ignore"])
def test_provider_reported_cost_prefer_compare_ignore(policy: str) -> None:
    pricer = SpanPricer(Catalog.load(), reported_cost=policy)  # type: ignore[arg-type]
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10_000,
        "gen_ai.usage.output_tokens": 1_000,
        "gen_ai.usage.cost.amount": 0.05,  # a gateway's billed cost (OpenLIT's gen_ai.usage.cost is an estimate)
    }
    catalog_total = 10_000 * 2.5 / M + 1_000 * 10.0 / M
    cost = pricer.price(read_usage(attributes), attributes, None)
    assert cost is not None and cost.priced
    if policy == "prefer":
        assert cost.total_usd == pytest.approx(0.05)
        assert cost.attributes["gen_ai.cost.source"] == "span"
        assert cost.attributes[COST_REPORTED_DIFF] == pytest.approx(0.05 - catalog_total)
    elif policy == "compare":
        assert cost.total_usd == pytest.approx(catalog_total)
        assert cost.attributes["gen_ai.cost.reported_usd"] == pytest.approx(0.05)
        assert cost.attributes[COST_REPORTED_DIFF] == pytest.approx(0.05 - catalog_total)
    else:
        assert cost.total_usd == pytest.approx(catalog_total)
        assert cost.attributes["gen_ai.cost.source"] == "catalog"
        assert COST_REPORTED_DIFF not in cost.attributes


@pytest.mark.parametrize("key", ["operation.cost", "llm.cost.total", "gen_ai.usage.cost.amount"])
def test_the_users_own_prices_win_over_a_cost_the_span_carries(
    files: tuple[Path, Path], tmp_path: Path, key: str
) -> None:
    # Pydantic AI / Logfire (operation.cost, at list price), OpenInference and a gateway's
    # billed amount: under the default `prefer`, a span's own cost stood even when the user's
    # pricing file gave a discount or a contract rate for the model (an SRE's audit: $0.03 at
    # list price where the contract said $0.012).
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 10_000,
        "gen_ai.usage.output_tokens": 500,
        key: 0.03,  # the list price: 10k x $2.50/M + 500 x $10/M
    }
    list_price = 10_000 * 2.5 / M + 500 * 10.0 / M
    assert list_price == pytest.approx(0.03)

    discounted = SpanPricer(Catalog.load([files[0]])).price(read_usage(attributes), attributes, None)
    assert discounted is not None and discounted.priced
    assert discounted.total_usd == pytest.approx(0.03 * 0.8)
    assert discounted.attributes["gen_ai.cost.source"] == "catalog"
    assert discounted.attributes["gen_ai.cost.adjustments"] == "discount=20%"
    assert discounted.attributes["gen_ai.cost.reported_usd"] == pytest.approx(0.03)
    assert discounted.attributes[COST_REPORTED_DIFF] == pytest.approx(0.03 - 0.024)

    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACTS, encoding="utf-8")
    contracted = SpanPricer(Catalog.load([contract])).price(read_usage(attributes), attributes, None)
    assert contracted is not None and contracted.priced
    assert contracted.total_usd == pytest.approx(10_500 * 1.0 / M)
    assert contracted.attributes["gen_ai.cost.source"] == "override"
    assert contracted.attributes["gen_ai.cost.reported_usd"] == pytest.approx(0.03)

    # Without pricing of the user's for the call, the span's own cost is still preferred:
    # the discount file names openai only, and the call is Anthropic's.
    claude = {**attributes, "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-haiku-4-5"}
    other = SpanPricer(Catalog.load([files[0]])).price(read_usage(claude), claude, None)
    assert other is not None and other.total_usd == pytest.approx(0.03)
    assert other.attributes["gen_ai.cost.source"] == "span"

    # Nor when the user's entry prices the call only as the last resort, for another
    # provider (a model only their OpenAI entry knows, served through Azure): the span's
    # own cost is Azure's, their price OpenAI's.
    own = tmp_path / "own.yaml"
    own.write_text(
        "providers:\n  - id: openai\n    models:\n      - id: acme-internal-1\n        prices:\n"
        '          - {input: 0.5, output: 0.5, source: "ours", checked: 2026-11-01}\n',
        encoding="utf-8",
    )
    internal = {**attributes, "gen_ai.request.model": "acme-internal-1"}
    for provider, total, source in (("azure", 0.03, "span"), ("openai", 10_500 * 0.5 / M, "override")):
        call = {**internal, "gen_ai.provider.name": provider}
        priced = SpanPricer(Catalog.load([own])).price(read_usage(call), call, None)
        assert priced is not None and priced.total_usd == pytest.approx(total), provider
        assert priced.attributes["gen_ai.cost.source"] == source
        assert priced.attributes["gen_ai.cost.pricing.id"] == "openai/acme-internal-1"


BROKEN = """providers:
  - id: acme
    models:
      - id: m1
        prices:
          - input: 1.0
            cache_reed: 0.1
            output: -2
            source: x
            checked: 2026-11-01
      - id: m2
        prices:
          - {input: 1.0, source: x}
tools:
  - {name: t, per_unit: 0.1, source: x, checked: 2026-11-01}
"""


def test_validate_names_file_line_and_field_of_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    assert main(["pricing", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:7: providers[0].models[0].prices[0].cache_reed: Extra inputs are not permitted" in err
    assert f"{path}:8: providers[0].models[0].prices[0].output:" in err
    assert f"{path}:13: providers[0].models[1].prices[0].checked: Field required" in err
    assert f"{path}:15: tools[0]" in err
    assert "4 error(s)" in err
    with pytest.raises(CatalogError):
        Catalog.load([path])


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It used to end ``pricing validate`` (and the gateway) with a UnicodeDecodeError traceback."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: '1'\n# prix n\xe9goci\xe9s\nproviders: []\n")
    assert main(["pricing", "validate", str(path)]) == 2
    assert f"{path}:2: not UTF-8 text: invalid continuation byte (byte 0xe9)" in capsys.readouterr().err
    with pytest.raises(CatalogError, match=r"latin1\.yaml:2: not UTF-8"):
        Catalog.load([path])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # YAML reads these as a date or an int and raised a bare ValueError with no line
        ("version: '1'\ntools:\n  - {name: x, per_call: 0.01, source: s, checked: 2026-02-30}\n",
         ":3: invalid YAML: '2026-02-30' is not a valid date or time"),
        ("version: '1'\nx: " + "9" * 5000 + "\n", ":2: invalid YAML: not a usable integer"),
        # nested too deep for the parser that finds lines: still named, without one
        ("version: '1'\nx: " + "[" * 5000 + "]" * 5000 + "\n", ": x: Extra inputs are not permitted"),
    ],
    ids=["impossible-date", "huge-int", "deep-nesting"],
)
def test_values_yaml_itself_cannot_read_are_named_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, found: str
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["pricing", "validate", str(path)]) == 2
    assert f"{path}{found}" in capsys.readouterr().err
    with pytest.raises(CatalogError):
        Catalog.load([path])


def test_a_processor_with_an_unreadable_pricing_file_still_prices_with_the_rest(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import CostSettings, CostSpanProcessor

    path = tmp_path / "odd.yaml"
    path.write_text("version: '1'\ntools:\n  - {name: x, per_call: 0.01, source: s, checked: 2026-02-30}\n")
    # used to raise ValueError: day is out of range for month, into the application
    memory = InMemorySpanExporter()
    processor = CostSpanProcessor(
        SimpleSpanProcessor(memory), settings=CostSettings(pricing_files=(str(path),), deferred_pricing=False)
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    chat = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("chat", attributes=chat):
        pass
    with tracer.start_as_current_span("tool", attributes={"gen_ai.operation.name": "execute_tool",
                                                          "gen_ai.tool.name": "x"}):
        pass
    provider.shutdown()
    spans = {span.name: span.attributes or {} for span in memory.get_finished_spans()}
    assert spans["chat"]["gen_ai.cost.total_usd"] == pytest.approx(0.0045)  # the shipped catalog still prices
    assert spans["tool"]["gen_ai.cost.unpriced_reason"] == "unknown_tool"  # the rejected file's tool is not there


def test_validate_accepts_good_files(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pricing", "validate", str(files[0]), str(files[1]), "--with-catalog"]) == 0
    assert "valid" in capsys.readouterr().out


def test_invalid_yaml_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  - id: x\n    models: [\n", encoding="utf-8")
    assert main(["pricing", "validate", str(path)]) == 2
    assert f"{path}:4: invalid YAML" in capsys.readouterr().err


def test_an_unknown_key_gets_the_likely_one_or_the_keys_allowed_there(tmp_path: Path) -> None:
    text = """providers:
  - id: acme
    models:
      - id: m1
        prices:
          - input: 1.0
            output: 2.0
            service_tiers:
              flex: {multipler: 0.5}
            source: x
            checked: 2026-11-01
tools:
  - {name: t, per_cal: 0.1, source: x, checked: 2026-11-01}
models: []
"""
    with pytest.raises(CatalogError) as raised:
        parse_pricing_text(text, "p.yaml")
    problems = raised.value.problems
    assert "p.yaml:9: providers[0].models[0].prices[0].service_tiers.flex.multipler: Extra inputs are not permitted;" \
           " did you mean 'multiplier'?" in problems
    assert "p.yaml:13: tools[0].per_cal: Extra inputs are not permitted; did you mean 'per_call'?" in problems
    top_level = next(problem for problem in problems if problem.startswith("p.yaml:14: models:"))
    assert top_level.endswith("expected one of: schema_version, version, providers, tools, discounts, infrastructure,"
                              " human_escalation")


_PLACES = {  # where a stray key lands -> fields allowed there
    "top": ("", set(PricingFile.model_fields)),
    "provider": ("providers[0]", set(ProviderEntry.model_fields)),
    "model": ("providers[0].models[0]", set(ModelEntry.model_fields)),
    "price": ("providers[0].models[0].prices[0]", set(PricePeriod.model_fields)),
    "tool": ("tools[0]", set(ToolEntry.model_fields)),
}


@settings(max_examples=150, deadline=None)
@given(place=st.sampled_from(sorted(_PLACES)),
       key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=14))
def test_any_unknown_key_is_named_with_a_hint_that_exists(place: str, key: str) -> None:
    prefix, allowed = _PLACES[place]
    assume(key not in allowed)
    data: dict[str, Any] = {
        "providers": [{"id": "acme", "models": [{"id": "m1", "prices": [
            {"input": 1.0, "source": "x", "checked": "2026-11-01"}]}]}],
        "tools": [{"name": "t", "per_call": 0.1, "source": "x", "checked": "2026-11-01"}],
    }
    target = {"top": data, "provider": data["providers"][0], "model": data["providers"][0]["models"][0],
              "price": data["providers"][0]["models"][0]["prices"][0], "tool": data["tools"][0]}[place]
    target[key] = 1
    with pytest.raises(CatalogError) as raised:
        parse_pricing_text(yaml.safe_dump(data), "p.yaml")
    field = f"{prefix}.{key}" if prefix else key
    [problem] = [problem for problem in raised.value.problems if f": {field}: " in problem]
    hint = problem.split("Extra inputs are not permitted; ", 1)[1]
    if hint.startswith("did you mean "):
        assert hint.removeprefix("did you mean ").strip("'?") in allowed
    else:
        assert set(hint.removeprefix("expected one of: ").split(", ")) == allowed


_KEYS = st.sampled_from(["input", "output", "cache_read", "source", "checked", "name", "per_call", "id"])


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(_KEYS, min_size=2, max_size=6), flow=st.booleans())
def test_a_key_given_twice_is_an_error_with_its_line(keys: list[str], flow: bool) -> None:
    """YAML keeps the last of two equal keys without a word; a pricing file must not
    (``input: 3.0`` then ``input: 4.0`` would price at $4)."""
    if flow:
        text = "tools:\n  - {" + ", ".join(f"{key}: 1" for key in keys) + "}\n"
    else:
        text = "tools:\n  -\n" + "".join(f"    {key}: 1\n" for key in keys)
    duplicated = len(set(keys)) < len(keys)
    try:
        parse_pricing_text(text, "prices.yaml")
    except CatalogError as exc:
        message = str(exc)
        if duplicated:
            second = next(i for i, key in enumerate(keys) if key in keys[:i])
            line = 2 if flow else 3 + second
            assert f"prices.yaml:{line}: invalid YAML: {keys[second]!r} is given twice" in message
        else:
            assert "given twice" not in message
    else:
        assert not duplicated


def test_validate_with_the_catalog_names_a_discount_that_never_applies(tmp_path: Path, capsys: Any) -> None:
    discounts = tmp_path / "contract.yaml"
    discounts.write_text(
        "discounts:\n"
        "  - {provider: opneai, percent: 10}\n"
        "  - {provider: anthropic, model: claude-sonet-4-5, percent: 10}\n"
        "  - {provider: openai, model: gpt-4o, percent: 10}\n"
    )
    assert main(["pricing", "validate", str(discounts), "--with-catalog"]) == 2
    out, err = capsys.readouterr()
    assert "valid" not in out  # (it used to say "valid: 1 file(s)" before the errors)
    assert (f"{discounts}:2: discounts[0].provider: 'opneai' is no provider the catalog knows"
            " (the discount never applies); did you mean 'openai'?") in err
    assert f"{discounts}:3: discounts[1].model: 'claude-sonet-4-5' is no anthropic model" in err
    assert "discounts[2]" not in err
