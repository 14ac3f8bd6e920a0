"""A part of a token count never exceeds what it is a part of (new-user audit).

``genai-cost price`` and span pricing accepted breakdowns that cannot add up (cached audio
above the cache reads, audio plus image input above the input, audio plus image output above
the output, a 1-hour write count with no writes) and clamped them into some other price,
while refusing similar ones (``--reasoning-tokens`` plus ``--output-audio-tokens`` above
``--output-tokens``) with a clear message. The pricing core now refuses every such count
(``InvalidUsageError``, reason ``invalid_usage``, a span ``unpriced``), and the command
says so naming the flags, in the words of its existing checks. Also: a NaN rate in a
pricing file is said to be no finite number (it was "should be greater than or equal to 0"),
and ``--input-tokens 0`` is not told that no counts were given.
"""

from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost.cli import main
from genai_cost.pricer import SpanPricer
from genai_cost.pricing import Catalog, PricingError, TokenUsage, calc
from genai_cost.pricing.errors import InvalidUsageError
from genai_cost.usage import read_usage
from support.spans import chat_attributes

M = 1_000_000

#: A model with a rate for every token class, so that no count is a missing rate.
FIXTURE = """
providers:
  - id: acme
    models:
      - id: media-1
        prices:
          - {input: 1.0, cache_read: 0.1, cache_write: 1.25, cache_write_1h: 2.0, output: 4.0,
             reasoning: 8.0, input_audio: 10.0, cache_read_audio: 0.5, output_audio: 20.0,
             input_image: 2.0, output_image: 30.0, source: test, checked: 2026-11-22}
"""


@functools.cache
def media_catalog() -> Catalog:
    path = Path(tempfile.mkdtemp(prefix="usage-parts-")) / "acme.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    return Catalog.load([path], include_default=False)


@functools.cache
def shipped() -> Catalog:
    return Catalog.load()


def price_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["price", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------ genai-cost price


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--input-tokens", "1000", "--cache-read-tokens", "500", "--cache-read-audio-tokens", "600"],
            "--cache-read-audio-tokens 600 exceeds --cache-read-tokens 500: --cache-read-audio-tokens is the part"
            " of --cache-read-tokens that is audio, so it cannot exceed it",
        ),
        (
            [
                "--input-tokens", "1000", "--cache-read-tokens", "500", "--input-audio-tokens", "100",
                "--cache-read-audio-tokens", "400",
            ],
            "--cache-read-audio-tokens 400 exceeds --input-audio-tokens 100: the audio read from cache is audio"
            " input too, so --input-audio-tokens must include it",
        ),
        (
            ["--input-tokens", "1000", "--input-audio-tokens", "600", "--input-image-tokens", "600"],
            "--input-audio-tokens 600 and --input-image-tokens 600 are separate parts of --input-tokens 1000,"
            " so together they cannot exceed it",
        ),
        (
            ["--input-tokens", "1000", "--input-image-tokens", "1200"],
            "--input-image-tokens 1200 exceeds --input-tokens 1000: --input-tokens is the total input and must"
            " include the image input tokens",
        ),
        (
            ["--input-tokens", "1000", "--output-tokens", "100", "--output-audio-tokens", "60",
             "--output-image-tokens", "60"],
            "--output-audio-tokens 60 and --output-image-tokens 60 are separate parts of --output-tokens 100,"
            " so together they cannot exceed it",
        ),
        (
            ["--input-tokens", "1000", "--output-tokens", "100", "--reasoning-tokens", "50",
             "--output-audio-tokens", "30", "--output-image-tokens", "30"],
            "--reasoning-tokens 50, --output-audio-tokens 30 and --output-image-tokens 30 are separate parts of"
            " --output-tokens 100, so together they cannot exceed it",
        ),
        (
            ["--input-tokens", "1000", "--output-tokens", "100", "--output-image-tokens", "101"],
            "--output-image-tokens 101 exceeds --output-tokens 100: --output-tokens is the total output and must"
            " include the image output tokens",
        ),
    ],
    ids=[
        "cached-audio-over-cache-reads",
        "cached-audio-over-audio-input",
        "audio-and-image-over-input",
        "image-over-input",
        "audio-and-image-over-output",
        "reasoning-audio-and-image-over-output",
        "image-over-output",
    ],
)
def test_price_refuses_parts_that_exceed_their_total_naming_the_flags(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = price_cli(capsys, "--provider", "openai", "--model", "gpt-4o", *args)
    assert (code, out) == (2, "")  # no price for a script to read
    assert err == f"genai-cost: {message}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--input-tokens", "1000", "--cache-read-tokens", "500", "--input-audio-tokens", "600",
         "--cache-read-audio-tokens", "500"],
        ["--input-tokens", "1000", "--input-audio-tokens", "600", "--input-image-tokens", "400"],
        ["--input-tokens", "1000", "--output-tokens", "120", "--output-audio-tokens", "60", "--output-image-tokens", "60"],
        ["--input-tokens", "1000", "--output-tokens", "100", "--reasoning-tokens", "40", "--output-audio-tokens", "30",
         "--output-image-tokens", "30"],
    ],
    ids=["cached-audio", "audio-and-image-input", "audio-and-image-output", "reasoning-audio-and-image-output"],
)
def test_price_still_prices_parts_that_fit(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = price_cli(capsys, "--provider", "openai", "--model", "gpt-4o", "--json", *args)
    assert code == 0, err
    assert json.loads(out)["total_usd"] > 0


def test_one_hour_writes_alone_are_all_the_writes_and_the_command_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """--cache-write-1h-tokens without --cache-write-tokens: the writes are taken to be the
    1-hour count (as a span with only Anthropic's 1-hour count is read, below), and the
    command says so on stderr rather than silently."""
    common = ["--provider", "anthropic", "--model", "claude-sonnet-4-5", "--input-tokens", "1000", "--json"]
    code, out, err = price_cli(capsys, *common, "--cache-write-1h-tokens", "200")
    assert code == 0, err
    assert err == (
        "genai-cost: --cache-write-1h-tokens 200 without --cache-write-tokens: the cache writes are taken to be"
        " those 200, all with a 1-hour TTL (as a span with only the 1-hour count is read)\n"
    )
    alone = json.loads(out)
    code, out, err = price_cli(capsys, *common, "--cache-write-tokens", "200", "--cache-write-1h-tokens", "200")
    assert (code, err) == (0, "")
    assert alone == json.loads(out)
    assert alone["cache_write_usd"] == pytest.approx(200 * 6.00 / M)  # the 1-hour rate, 2x input


def test_a_span_with_only_the_one_hour_count_is_priced_as_the_command_prices_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 0,
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 200,
    }
    read = read_usage(attributes)
    assert read.usage is not None
    assert (read.usage.cache_write_tokens, read.usage.cache_write_1h_tokens) == (200, 200)
    cost = SpanPricer(shipped()).price(read, attributes, None)
    assert cost is not None and cost.unpriced_reason is None
    code, out, err = price_cli(
        capsys, "--provider", "anthropic", "--model", "claude-sonnet-4-5", "--input-tokens", "1000",
        "--cache-write-1h-tokens", "200", "--json",
    )
    assert code == 0, err
    assert cost.total_usd == json.loads(out)["total_usd"]


def test_counts_given_as_zero_are_not_said_to_be_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = price_cli(capsys, "--model", "gpt-4o", "--input-tokens", "0")
    assert (code, out) == (2, "")
    assert err == (
        "genai-cost: all token counts are 0 (no token counts given, or each given as 0):"
        " give --input-tokens and/or --output-tokens above 0\n"
    )
    assert "no token counts given:" not in err


# ------------------------------------------------------------------ the pricing core


IMPOSSIBLE = [
    (
        TokenUsage(input_tokens=1000, cache_write_1h_tokens=200),
        "cache_write_1h_tokens 200 exceeds cache_write_tokens 0: cache_write_1h_tokens is the part of"
        " cache_write_tokens written with a 1-hour TTL, so it cannot exceed it",
    ),
    (
        TokenUsage(input_tokens=1000, cache_write_tokens=100, cache_write_1h_tokens=101),
        "cache_write_1h_tokens 101 exceeds cache_write_tokens 100",
    ),
    (
        TokenUsage(input_tokens=1000, cache_read_tokens=500, input_audio_tokens=600, cache_read_audio_tokens=600),
        "cache_read_audio_tokens 600 exceeds cache_read_tokens 500: cache_read_audio_tokens is the part of"
        " cache_read_tokens that is audio, so it cannot exceed it",
    ),
    (
        TokenUsage(input_tokens=1000, cache_read_tokens=500, input_audio_tokens=100, cache_read_audio_tokens=400),
        "cache_read_audio_tokens 400 exceeds input_audio_tokens 100",
    ),
    (
        TokenUsage(input_tokens=1000, input_audio_tokens=600, input_image_tokens=600),
        "input_audio_tokens 600 and input_image_tokens 600 are separate parts of input_tokens 1000, so together"
        " they cannot exceed it",
    ),
    (
        TokenUsage(input_tokens=1000, input_audio_tokens=1001),
        "input_audio_tokens 1001 exceeds input_tokens 1000: input_tokens is the total input and must include the"
        " audio input tokens",
    ),
    (
        TokenUsage(input_tokens=1000, output_tokens=100, output_audio_tokens=60, output_image_tokens=60),
        "output_audio_tokens 60 and output_image_tokens 60 are separate parts of output_tokens 100",
    ),
    (
        TokenUsage(input_tokens=1000, output_tokens=100, reasoning_tokens=60, output_audio_tokens=50),
        "reasoning_tokens 60 and output_audio_tokens 50 are separate parts of output_tokens 100, so together they"
        " cannot exceed it",
    ),
]


IMPOSSIBLE_IDS = [
    "1h-without-writes",
    "1h-over-writes",
    "cached-audio-over-cache-reads",
    "cached-audio-over-audio-input",
    "audio-and-image-over-input",
    "audio-over-input",
    "audio-and-image-over-output",
    "reasoning-and-audio-over-output",
]


@pytest.mark.parametrize(("usage", "message"), IMPOSSIBLE, ids=IMPOSSIBLE_IDS)
@pytest.mark.parametrize("check", [True, False], ids=["checked", "span-path"])
def test_the_core_refuses_parts_that_exceed_their_total(usage: TokenUsage, message: str, check: bool) -> None:
    """With ``check=False`` too: the span layer prices so, and its counts are ints in
    range but may still not add up."""
    for catalog, model, provider in ((media_catalog(), "media-1", "acme"), (shipped(), "gpt-4o", "openai")):
        resolution = catalog.resolve(model, provider)
        with pytest.raises(InvalidUsageError, match="^" + message) as raised:
            catalog.price_resolved(resolution, usage, check=check)
        assert raised.value.reason == "invalid_usage"
        with pytest.raises(InvalidUsageError, match="^" + message):
            catalog.price(usage, model, provider)
    with pytest.raises(InvalidUsageError, match="^" + message):
        calc.check_usage(usage)
    assert calc.usage_problem(usage) is not None


@pytest.mark.parametrize(("usage", "message"), IMPOSSIBLE[:3], ids=IMPOSSIBLE_IDS[:3])
def test_a_model_priced_by_the_second_refuses_them_too(usage: TokenUsage, message: str, tmp_path: Path) -> None:
    path = tmp_path / "gpu.yaml"
    path.write_text(
        "providers:\n  - id: selfhosted\n    models:\n      - id: llama-70b\n        kind: chat\n"
        "        prices:\n          - {per_gpu_second: 0.001, source: internal, checked: 2026-11-01}\n"
    )
    catalog = Catalog.load([path], include_default=False)
    with pytest.raises(InvalidUsageError, match="^" + message):
        catalog.price(usage, "llama-70b", "selfhosted", duration_s=10.0)


def test_a_span_whose_parts_exceed_their_total_is_unpriced_invalid_usage() -> None:
    attributes = chat_attributes(
        "gpt-4o", "openai", **{"gen_ai.usage.audio.input_tokens": 600, "gen_ai.usage.image.input_tokens": 600}
    )
    pricer = SpanPricer(shipped())
    cost = pricer.price(read_usage(attributes), attributes, None)
    assert cost is not None
    assert cost.unpriced_reason == "invalid_usage"
    assert cost.total_usd is None
    assert cost.attributes["gen_ai.cost.unpriced_detail"] == (
        "input_audio_tokens 600 and input_image_tokens 600 are separate parts of input_tokens 1000, so together"
        " they cannot exceed it"
    )
    fits = {**attributes, "gen_ai.usage.image.input_tokens": 400}
    priced = pricer.price(read_usage(fits), fits, None)
    assert priced is not None and priced.unpriced_reason is None and priced.total_usd


# ------------------------------------------------------------------ the property

_AUDIO_IMAGE_1H = (
    "cache_write_1h_tokens",
    "input_audio_tokens",
    "cache_read_audio_tokens",
    "input_image_tokens",
    "output_audio_tokens",
    "output_image_tokens",
)


@st.composite
def usages(draw: st.DrawFn) -> TokenUsage:
    """Counts whose text parts fit (cache reads and writes in the input, reasoning in the
    output: the fast paths' business, clamped by convention), with parts of audio, images and
    1-hour writes that fit, or fit and then one of them is pushed past its bound, or are drawn
    freely."""
    size = st.integers(0, 5000)
    input_tokens, output_tokens = draw(size), draw(size)
    cache_read = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cache_read))
    reasoning = draw(st.integers(0, output_tokens))
    counts = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "reasoning_tokens": reasoning,
    }
    how = draw(st.sampled_from(["fit", "pushed", "free"]))
    if how == "free":
        counts.update({name: draw(st.integers(0, 6000)) for name in _AUDIO_IMAGE_1H})
        return TokenUsage(**counts)
    input_audio = draw(st.integers(0, input_tokens))
    counts.update(
        cache_write_1h_tokens=draw(st.integers(0, cache_write)),
        input_audio_tokens=input_audio,
        cache_read_audio_tokens=draw(st.integers(0, min(cache_read, input_audio))),
        input_image_tokens=draw(st.integers(0, input_tokens - input_audio)),
    )
    output_audio = draw(st.integers(0, output_tokens - reasoning))
    counts.update(
        output_audio_tokens=output_audio,
        output_image_tokens=draw(st.integers(0, output_tokens - reasoning - output_audio)),
    )
    if how == "pushed":
        name = draw(st.sampled_from(_AUDIO_IMAGE_1H))
        counts[name] += draw(st.integers(1, 6000)) + max(input_tokens, output_tokens)
    return TokenUsage(**counts)


def impossible(usage: TokenUsage) -> bool:
    """The relations of TokenUsage, written out independently of the core's code."""
    u = usage
    return (
        u.cache_write_1h_tokens > u.cache_write_tokens
        or u.cache_read_audio_tokens > u.cache_read_tokens
        or u.cache_read_audio_tokens > u.input_audio_tokens
        or u.input_audio_tokens + u.input_image_tokens > u.input_tokens
        or u.reasoning_tokens + u.output_audio_tokens + u.output_image_tokens > u.output_tokens
    )


@settings(max_examples=400, deadline=None)
@given(usage=usages())
def test_parts_that_exceed_their_total_are_refused_and_consistent_ones_priced(usage: TokenUsage) -> None:
    catalog = media_catalog()
    resolution = catalog.resolve("media-1", "acme")
    outcomes = []
    for call in (
        lambda: catalog.price(usage, "media-1", "acme"),
        lambda: catalog.price_resolved(resolution, usage),
        lambda: catalog.price_resolved(resolution, usage, check=False),  # the span path
    ):
        try:
            outcomes.append(asdict(call()))
        except PricingError as exc:
            outcomes.append({"reason": exc.reason, "message": str(exc)})
    assert outcomes[0] == outcomes[1] == outcomes[2]
    outcome = outcomes[0]
    if impossible(usage):
        assert outcome.get("reason") == "invalid_usage", outcome
        assert " exceeds " in outcome["message"] or "cannot exceed it" in outcome["message"]
        with pytest.raises(InvalidUsageError):
            calc.check_usage(usage)
    else:
        assert "total_usd" in outcome, outcome
        assert outcome["total_usd"] >= 0
        calc.check_usage(usage)  # does not raise
        # every token billed once: the parts add up to the total
        parts = sum(outcome[name] for name in ("input_usd", "cache_read_usd", "cache_write_usd", "output_usd"))
        assert outcome["total_usd"] == pytest.approx(parts)


TEXT_PARTS_IMPOSSIBLE = [
    (
        TokenUsage(input_tokens=10, cache_read_tokens=20),
        "cache_read_tokens 20 exceeds input_tokens 10: input_tokens is the total input and must include the"
        " cache read tokens",
    ),
    (
        TokenUsage(input_tokens=1000, cache_read_tokens=600, cache_write_tokens=500),
        "cache_read_tokens 600 and cache_write_tokens 500 are separate parts of input_tokens 1000, so together"
        " they cannot exceed it",
    ),
    (
        TokenUsage(input_tokens=1000, output_tokens=10, reasoning_tokens=11),
        "reasoning_tokens 11 exceeds output_tokens 10: output_tokens is the total output and must include the"
        " reasoning tokens",
    ),
]


@pytest.mark.parametrize(("usage", "message"), TEXT_PARTS_IMPOSSIBLE, ids=["read", "read-and-write", "reasoning"])
def test_text_parts_are_checked_only_when_asked(usage: TokenUsage, message: str) -> None:
    """A span's cache larger than its input is read as the conventions say (clamped: the usage
    reader's business), so the core prices it; a count someone typed is refused."""
    assert calc.usage_problem(usage, text_parts=True) == message
    assert calc.usage_problem(usage) is None
    calc.check_usage(usage)  # does not raise


@settings(max_examples=300, deadline=None)
@given(
    counts=st.fixed_dictionaries(
        {name: st.integers(0, 3000) for name in ("input_tokens", "output_tokens", "cache_read_tokens",
                                                  "cache_write_tokens", "reasoning_tokens")}
    ),
    usage=usages(),
)
def test_text_parts_agree_with_the_relations_written_out(counts: dict[str, int], usage: TokenUsage) -> None:
    """Free text counts on top of drawn media parts: ``text_parts=True`` finds a problem
    exactly when a relation, text or media, fails, and never one the default check misses
    among the media relations."""
    u = TokenUsage(**{**asdict(usage), **counts})
    text_impossible = (
        u.cache_read_tokens + u.cache_write_tokens > u.input_tokens or u.reasoning_tokens > u.output_tokens
    )
    problem = calc.usage_problem(u, text_parts=True)
    assert (problem is not None) == (impossible(u) or text_impossible), (u, problem)
    if calc.usage_problem(u) is not None:
        assert problem is not None


# ------------------------------------------------------------------ pricing files


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf"])
def test_a_rate_that_is_no_number_is_said_to_be_no_finite_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "providers:\n  - id: acme\n    models:\n      - id: m\n        prices:\n"
        f"          - {{input: {value}, output: 1, source: x, checked: 2026-01-01}}\n"
    )
    assert main(["pricing", "validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"{path}:6: providers[0].models[0].prices[0].input: Input should be a finite number" in (
        captured.out + captured.err
    )
    assert "greater than or equal to 0" not in captured.out + captured.err


def test_a_nan_gpu_count_is_no_finite_number_either(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "gpu.yaml"
    path.write_text(
        "providers:\n  - id: selfhosted\n    models:\n      - id: llama-70b\n        kind: chat\n"
        "        prices:\n          - {per_gpu_second: 0.001, gpus: .nan, source: internal, checked: 2026-11-01}\n"
    )
    assert main(["pricing", "validate", str(path)]) == 2
    text = "".join(capsys.readouterr())
    assert "gpus: Input should be a finite number" in text
