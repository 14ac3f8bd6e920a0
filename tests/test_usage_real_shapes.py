"""Token usage read from real span shapes whose counts are not, as they stand, what the
provider bills.

* The Vercel AI SDK up to release 5 (``ai@5``, LanguageModelV2 providers) puts each
  provider's own counts on its spans: with Anthropic and Amazon Bedrock an input count
  without the cache reads and writes, the writes (and, on a generate span, Anthropic's
  reads) only in ``ai.response.providerMetadata``; with Gemini an output count without the
  thinking. AI SDK 6 makes the totals inclusive and writes their parts beside them
  (``ai.usage.inputTokenDetails.*``); both must bill the same call alike.
* Anthropic's 1-hour cache writes are counted apart only in its usage object: in
  OpenInference's ``output.value`` and in the AI SDK's provider metadata.

The spans are the captured ones (``tests/fixtures/spans/vercel-ai-sdk-5.json``,
``vercel-ai-sdk-6-providers.json``, ``openinference-anthropic-1h-cache.json``; see
``tests/support/capture.py``), and the generated ones are those spans with other counts.
Every reading is checked against the reference path (``_reference``), which the memoised
path must always agree with.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost import _usage_json
from genai_cost._usage_json import BadValue, mentions_count
from genai_cost._vocabulary import TOKEN_SLOTS
from genai_cost.usage import SpanUsage, _plan, _reference, read_usage

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spans"


def _spans(name: str) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = json.loads((FIXTURES / f"{name}.json").read_text())["spans"]
    return spans


def _ai_sdk_calls(name: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """A Vercel AI SDK fixture's call spans (doGenerate, doStream) by telemetry function id:
    (scope, attributes)."""
    return {
        span["attributes"]["ai.telemetry.functionId"]: (span["scope"], span["attributes"])
        for span in _spans(name)
        if str(span["attributes"].get("ai.operationId", "")).endswith((".doGenerate", ".doStream"))
    }


AI_SDK_5 = _ai_sdk_calls("vercel-ai-sdk-5")
AI_SDK_6 = _ai_sdk_calls("vercel-ai-sdk-6-providers")


def _read(attributes: dict[str, Any], scope: str | None) -> SpanUsage:
    """``read_usage``, checked against the reference path."""
    usage = read_usage(attributes, scope)
    plan = _plan(tuple(attributes))
    assert plan is not None
    assert _reference(attributes, plan.slots, scope) == usage
    return usage


def _parts(usage: SpanUsage) -> tuple[int, ...]:
    """(input, output, cache read, cache write, of which 1-hour, reasoning), inclusive; all 0
    for counts of 0 in and 0 out, which are read as no counts (no call reads nothing)."""
    tokens = usage.usage
    assert usage.invalid is None, usage.invalid
    if tokens is None:
        return (0, 0, 0, 0, 0, 0)
    return (
        tokens.input_tokens,
        tokens.output_tokens,
        tokens.cache_read_tokens,
        tokens.cache_write_tokens,
        tokens.cache_write_1h_tokens,
        tokens.reasoning_tokens,
    )


#: function id -> (input, output, cache read, cache write, 1-hour writes, reasoning) as billed:
#: the canned usage of tests/support/fake_llm.py and capture.JS_USAGE, inclusive.
BILLED = {
    "anthropic-generate": (5100, 50, 3000, 2000, 0, 0),
    "anthropic-stream": (5100, 50, 3000, 2000, 0, 0),
    "anthropic-stream-1h": (3100, 50, 1000, 2000, 1500, 0),
    "google-generate-cached": (1000, 500, 400, 0, 0, 300),
    "google-generate": (2000, 1000, 0, 0, 0, 100),
    "google-stream": (2000, 1000, 0, 0, 0, 100),
    "bedrock-generate": (5100, 50, 3000, 2000, 0, 0),
    "bedrock-stream": (5100, 50, 3000, 2000, 0, 0),
}
#: What AI SDK 5 spans cannot say, being recorded nowhere on them: @ai-sdk/amazon-bedrock 3.x
#: keeps a generate call's cache reads only in its result (no attribute, no metadata), and
#: @ai-sdk/openai 2.x a generate call's cached input likewise. Priced as fresh input: over.
AI_SDK_5_BILLED = {
    **BILLED,
    "bedrock-generate": (2100, 50, 0, 2000, 0, 0),
    "openai-generate": (1000, 200, 0, 0, 0, 0),
    "openai-stream": (1000, 200, 400, 0, 0, 0),
}


@pytest.mark.parametrize("function_id", sorted(AI_SDK_5_BILLED))
def test_ai_sdk_5_spans_are_read_as_the_provider_bills(function_id: str) -> None:
    scope, attributes = AI_SDK_5[function_id]
    usage = _read(attributes, scope)
    assert _parts(usage) == AI_SDK_5_BILLED[function_id]
    # converted where the provider's counts leave something out; OpenAI's are the API's, inclusive
    assert usage.convention == ("inclusive" if function_id.startswith("openai") else "exclusive")


@pytest.mark.parametrize("function_id", sorted(BILLED))
def test_ai_sdk_6_spans_of_the_same_calls_are_read_as_they_stand(function_id: str) -> None:
    """AI SDK 6 already counts the cache in the input and the thinking in the output: read
    as inclusive (nothing added twice), with the 1-hour writes from the provider metadata."""
    scope, attributes = AI_SDK_6[function_id]
    usage = _read(attributes, scope)
    assert _parts(usage) == BILLED[function_id]
    assert usage.convention == "inclusive"


def test_the_release_is_told_by_the_keys_once_per_shape_and_costs_other_vocabularies_nothing() -> None:
    """Only a span with the AI SDK's own counts and none of AI SDK 6's details is read as
    AI SDK 5; the plan (once per attribute-key tuple) says so, never a per-span check."""
    for function_id, (_, attributes) in AI_SDK_5.items():
        plan = _plan(tuple(attributes))
        assert plan is not None and plan.ai_sdk_5, function_id
    for function_id, (_, attributes) in AI_SDK_6.items():
        plan = _plan(tuple(attributes))
        assert plan is not None and not plan.ai_sdk_5, function_id
    others = [path.stem for path in FIXTURES.glob("*.json") if not path.stem.startswith("vercel-ai-sdk-5")]
    for name in others:
        for span in _spans(name):
            plan = _plan(tuple(span["attributes"]))
            assert plan is None or not plan.ai_sdk_5, (name, span["name"])


def test_an_ai_sdk_5_span_recorded_with_any_tracer_is_read_alike() -> None:
    """``experimental_telemetry.tracer`` may be the application's own: the scope is not ``ai``."""
    _, attributes = AI_SDK_5["anthropic-generate"]
    for scope in ("ai", "my-app", None):
        assert _parts(_read(attributes, scope)) == BILLED["anthropic-generate"]


def test_provider_metadata_is_decoded_only_when_it_holds_a_count_the_span_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: an OpenAI call's metadata, and an AI SDK 6 Anthropic call's whose writes
    are all 5-minute ones, are never decoded; a call with 1-hour writes is, once."""
    (openai_6,) = [s["attributes"] for s in _spans("vercel-ai-sdk-6") if s["name"] == "ai.generateText.doGenerate"]
    decoded: list[str] = []
    loads = json.loads

    def counting(text: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(text)
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(_usage_json.json, "loads", counting)
    for attributes in (openai_6, AI_SDK_5["openai-generate"][1], AI_SDK_6["anthropic-stream"][1]):
        read_usage(attributes, "ai")
    assert decoded == []
    read_usage(AI_SDK_6["anthropic-stream-1h"][1], "ai")
    assert len(decoded) == 1


def _with_metadata(function_id: str, metadata: str) -> dict[str, Any]:
    return {**AI_SDK_5[function_id][1], "ai.response.providerMetadata": metadata}


def test_a_count_in_the_provider_metadata_that_is_no_count_is_recorded_not_raised() -> None:
    huge = '{"anthropic":{"usage":{"input_tokens":100,"cache_creation_input_tokens":1e400}}}'
    usage = _read(_with_metadata("anthropic-generate", huge), "ai")
    assert usage.usage is None
    assert usage.invalid is not None
    assert "ai.response.providerMetadata anthropic.usage.cache_creation_input_tokens" in usage.invalid
    too_many = '{"google":{"usageMetadata":{"thoughtsTokenCount":10000000000000}}}'
    usage = _read(_with_metadata("google-generate", too_many), "ai")
    assert usage.usage is None and usage.invalid is not None and "implausibly large" in usage.invalid


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "not json",
        '{"anthropic": ',
        '["anthropic", {"cache_read_input_tokens": 5}]',
        '{"anthropic": null, "cache_read_input_tokens": 5}',
        '{"anthropic": {"usage": "cache_read_input_tokens: 5"}}',
        '{"anthropic": {"usage": {"cache_read_input_tokens": -5}}}',
        '{"anthropic": {"usage": {"cache_read_input_tokens": "5"}}}',
    ],
)
def test_provider_metadata_that_is_not_the_expected_json_adds_nothing(metadata: str) -> None:
    """The span's own counts alone (Anthropic's 100 uncached input, read as exclusive)."""
    usage = _read(_with_metadata("anthropic-generate", metadata), "ai")
    assert _parts(usage) == (100, 50, 0, 0, 0, 0)


# ---------------------------------------------------------------- OpenInference: 1-hour writes

OI_1H = [s for s in _spans("openinference-anthropic-1h-cache") if s["name"].startswith("messages.")]
OI_SCOPE = "openinference.instrumentation.anthropic"


def test_openinference_1h_writes_are_read_from_the_response_called_and_streamed() -> None:
    create, haiku, stream = (_read(span["attributes"], span["scope"]) for span in OI_1H)
    assert _parts(create) == _parts(stream) == (5100, 50, 3000, 2000, 1500, 0)
    assert _parts(haiku) == (1200, 80, 0, 0, 0, 0)  # its usage says 0 1-hour writes


def _oi_span(cache_write: int, usage: dict[str, Any], spaced: bool = False) -> dict[str, Any]:
    """The captured OpenInference span with another cache write count and usage object."""
    attributes = dict(OI_1H[0]["attributes"])
    response = json.loads(attributes["output.value"])
    response["usage"] = usage
    separators = (", ", ": ") if spaced else (",", ":")
    attributes["output.value"] = json.dumps(response, separators=separators)
    attributes["llm.token_count.prompt_details.cache_write"] = cache_write
    attributes["llm.token_count.prompt"] = 100 + 3000 + cache_write
    return attributes


def test_openinference_1h_writes_are_at_most_the_writes_counted() -> None:
    usage = _read(_oi_span(2000, {"cache_creation": {"ephemeral_1h_input_tokens": 5000}}), OI_SCOPE)
    assert _parts(usage) == (5100, 50, 3000, 2000, 2000, 0)
    usage = _read(_oi_span(0, {"cache_creation": {"ephemeral_1h_input_tokens": 5000}}), OI_SCOPE)
    assert _parts(usage) == (3100, 50, 3000, 0, 0, 0)


def test_a_1h_count_that_is_no_count_is_recorded_not_raised() -> None:
    usage = _read(_oi_span(2000, {"cache_creation": {"ephemeral_1h_input_tokens": 1.5}}), OI_SCOPE)
    assert usage.usage is None
    assert usage.invalid is not None and "output.value usage.cache_creation.ephemeral_1h_input_tokens" in usage.invalid


_COUNT = st.integers(0, 2_000_000)


@settings(max_examples=200, deadline=None)
@given(cache_write=_COUNT, written_1h=_COUNT, written_5m=_COUNT, spaced=st.booleans(), fast=st.booleans())
def test_openinference_1h_writes_property(
    cache_write: int, written_1h: int, written_5m: int, spaced: bool, fast: bool
) -> None:
    """Any split: the 1-hour part is the usage's count, at most the writes the span counts,
    alongside whatever else the usage says (fast mode)."""
    usage_object: dict[str, Any] = {
        "cache_creation": {"ephemeral_1h_input_tokens": written_1h, "ephemeral_5m_input_tokens": written_5m},
        "input_tokens": 100,
        "output_tokens": 50,
        "speed": "fast" if fast else "standard",
    }
    usage = _read(_oi_span(cache_write, usage_object, spaced), OI_SCOPE)
    assert usage.usage is not None
    assert usage.usage.cache_write_tokens == cache_write
    assert usage.usage.cache_write_1h_tokens == min(written_1h, cache_write)
    assert usage.service_tier == ("fast" if fast else None)


# ---------------------------------------------------------------- properties: the AI SDK


def _anthropic_metadata(
    uncached: int,
    read: int,
    written_5m: int,
    written_1h: int,
    output: int,
    server_tool_use: dict[str, int] | None = None,
    speed: str | None = None,
) -> str:
    """``ai.response.providerMetadata`` as @ai-sdk/anthropic 2.x and 3.x write it (Anthropic's
    usage object passed through as it came, ``server_tool_use`` and ``speed`` included)."""
    written = written_5m + written_1h
    raw = {
        "input_tokens": uncached,
        "output_tokens": output,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": written_5m, "ephemeral_1h_input_tokens": written_1h},
        "service_tier": "standard",
        "server_tool_use": server_tool_use,
        "speed": speed,
    }
    member = {"usage": raw, "cacheCreationInputTokens": written, "stopSequence": None, "iterations": None}
    return json.dumps({"anthropic": member}, separators=(",", ":"))


def _anthropic_span(release: int, stream: bool, counts: tuple[int, int, int, int, int]) -> dict[str, Any]:
    """A captured AI SDK ``release`` Anthropic call span with these counts, set as the SDK sets them."""
    uncached, read, written_5m, written_1h, output = counts
    written = written_5m + written_1h
    calls = AI_SDK_5 if release == 5 else AI_SDK_6
    attributes = dict(calls["anthropic-stream-1h" if stream else "anthropic-generate"][1])
    attributes["ai.response.providerMetadata"] = _anthropic_metadata(uncached, read, written_5m, written_1h, output)
    total = uncached if release == 5 else uncached + read + written
    attributes |= {"gen_ai.usage.input_tokens": total, "gen_ai.usage.output_tokens": output}
    if release == 5 and not stream:
        attributes |= {"ai.usage.promptTokens": total, "ai.usage.completionTokens": output}
    else:
        attributes |= {"ai.usage.inputTokens": total, "ai.usage.outputTokens": output}
        attributes |= {"ai.usage.totalTokens": total + output, "ai.usage.cachedInputTokens": read}
    if release == 6:
        attributes |= {
            "ai.usage.inputTokenDetails.noCacheTokens": uncached,
            "ai.usage.inputTokenDetails.cacheReadTokens": read,
            "ai.usage.inputTokenDetails.cacheWriteTokens": written,
        }
    return attributes


@settings(max_examples=300, deadline=None)
@given(
    counts=st.tuples(_COUNT, _COUNT, _COUNT, _COUNT, _COUNT),
    release=st.sampled_from([5, 6]),
    stream=st.booleans(),
)
def test_any_anthropic_call_is_billed_alike_by_ai_sdk_5_and_6(
    counts: tuple[int, int, int, int, int], release: int, stream: bool
) -> None:
    uncached, read, written_5m, written_1h, output = counts
    written = written_5m + written_1h
    usage = _read(_anthropic_span(release, stream, counts), "ai")
    assert _parts(usage) == (uncached + read + written, output, read, written, written_1h, 0)


def _google_span(release: int, stream: bool, counts: tuple[int, int, int, int]) -> dict[str, Any]:
    """A captured AI SDK ``release`` Gemini call span with these counts (prompt, of which
    cached, visible output, thinking), set as the SDK sets them."""
    prompt, cached, candidates, thoughts = counts
    calls = AI_SDK_5 if release == 5 else AI_SDK_6
    attributes = dict(calls["google-stream" if stream else "google-generate-cached"][1])
    metadata = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        **({"cachedContentTokenCount": cached} if cached else {}),
        **({"thoughtsTokenCount": thoughts} if thoughts else {}),
    }
    attributes["ai.response.providerMetadata"] = json.dumps({"google": {"usageMetadata": metadata}})
    output = candidates if release == 5 else candidates + thoughts
    attributes |= {"gen_ai.usage.input_tokens": prompt, "gen_ai.usage.output_tokens": output}
    if release == 5 and not stream:
        attributes |= {"ai.usage.promptTokens": prompt, "ai.usage.completionTokens": output}
    else:
        attributes |= {"ai.usage.inputTokens": prompt, "ai.usage.outputTokens": output}
        attributes |= {"ai.usage.reasoningTokens": thoughts, "ai.usage.cachedInputTokens": cached}
    if release == 6:
        attributes |= {
            "ai.usage.inputTokenDetails.noCacheTokens": prompt - cached,
            "ai.usage.inputTokenDetails.cacheReadTokens": cached,
            "ai.usage.outputTokenDetails.textTokens": candidates,
            "ai.usage.outputTokenDetails.reasoningTokens": thoughts,
        }
    return attributes


@settings(max_examples=300, deadline=None)
@given(
    prompt=_COUNT,
    cached_share=st.floats(0, 1),
    output=st.tuples(_COUNT, _COUNT),
    release=st.sampled_from([5, 6]),
    stream=st.booleans(),
)
def test_any_gemini_call_is_billed_alike_by_ai_sdk_5_and_6(
    prompt: int, cached_share: float, output: tuple[int, int], release: int, stream: bool
) -> None:
    candidates, thoughts = output
    cached = int(prompt * cached_share)
    usage = _read(_google_span(release, stream, (prompt, cached, candidates, thoughts)), "ai")
    assert _parts(usage) == (prompt, candidates + thoughts, cached, 0, 0, thoughts)


_NAMES = ["cache_read_input_tokens", "cache_creation_input_tokens", "ephemeral_1h_input_tokens", "thoughtsTokenCount"]
_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-3, 10**13)
    | st.floats(allow_nan=False)
    | st.sampled_from(["anthropic", "google", "bedrock", "usage", *_NAMES, '"usage":', "5"])
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(
            [
                "anthropic",
                "google",
                "bedrock",
                "usage",
                "usageMetadata",
                "cache_creation",
                "cacheWriteInputTokens",
                "cacheCreationInputTokens",
                *_NAMES,
            ]
        ),
        inner,
        max_size=4,
    ),
    max_leaves=16,
)


def _members_starting_1_to_9(value: object, name: str) -> bool:
    """Whether a member ``name`` anywhere holds a number written with a leading 1-9: every
    positive whole number, and the floats so written (``1.5``, ``1e-05``)."""
    if isinstance(value, dict):
        return any(
            (key == name and type(item) in (int, float) and json.dumps(item)[0] in "123456789")
            or _members_starting_1_to_9(item, name)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_members_starting_1_to_9(item, name) for item in value)
    return False


@settings(max_examples=500, deadline=None)
@given(value=_json_value, name=st.sampled_from(_NAMES), spaced=st.booleans())
def test_the_substring_check_finds_every_positive_count(value: object, name: str, spaced: bool) -> None:
    """The check that decides whether to decode says yes exactly when a member of that name,
    wherever it is, holds a number written with a leading 1-9: so every positive count goes
    to the decoder (which reads it, or refuses a float that is no whole number), and JSON
    whose counts are all 0, negative, strings or absent is never decoded."""
    text = json.dumps(value, separators=(", ", ": ") if spaced else (",", ":"))
    assert mentions_count(text, name) == _members_starting_1_to_9(value, name)


@settings(max_examples=500, deadline=None)
@given(
    metadata=st.text(max_size=200) | st.builds(json.dumps, _json_value),
    function_id=st.sampled_from(sorted(AI_SDK_5)),
    release=st.sampled_from([5, 6]),
)
def test_any_provider_metadata_is_read_without_raising_and_as_the_reference_reads_it(
    metadata: str, function_id: str, release: int
) -> None:
    """Any ``ai.response.providerMetadata`` at all, on any captured call span: counts, or a
    count named as invalid; never an exception; the 1-hour writes never above the writes."""
    calls = AI_SDK_5 if release == 5 or function_id not in AI_SDK_6 else AI_SDK_6
    scope, attributes = calls[function_id]
    attributes = {**attributes, "ai.response.providerMetadata": metadata}
    with contextlib.suppress(BadValue):
        _usage_json.add_usage_json([0] * (len(TOKEN_SLOTS) + 1), "ai.response.providerMetadata", metadata)
    usage = _read(attributes, scope)
    assert (usage.usage is None) != (usage.invalid is None)
    if usage.usage is not None:
        assert usage.usage.cache_write_1h_tokens <= usage.usage.cache_write_tokens
        assert usage.usage.cache_read_tokens + usage.usage.cache_write_tokens <= usage.usage.input_tokens
        assert usage.usage.reasoning_tokens <= usage.usage.output_tokens


# ------------------------------------------------- AI SDK: Anthropic's searches and fast mode

@pytest.mark.parametrize("release", [5, 6])
@pytest.mark.parametrize("stream", [False, True])
def test_ai_sdk_anthropic_searches_and_fast_mode_are_read_from_the_provider_metadata(release: int, stream: bool) -> None:
    """The SDK's spans count neither; Anthropic's usage object in the metadata does."""
    attributes = _anthropic_span(release, stream, (100, 0, 0, 0, 50))
    plain = _read(attributes, "ai")
    assert plain.usage is not None and plain.usage.web_searches == 0 and plain.service_tier != "fast"
    attributes["ai.response.providerMetadata"] = _anthropic_metadata(
        100, 0, 0, 0, 50, server_tool_use={"web_search_requests": 3}, speed="fast"
    )
    usage = _read(attributes, "ai")
    assert usage.usage is not None and usage.usage.web_searches == 3
    assert usage.service_tier == "fast"
    assert _parts(usage) == _parts(plain)


def test_ai_sdk_anthropic_searches_are_billed() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import CostSpanProcessor, TraceCostExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory))))
    attributes = _anthropic_span(6, False, (1000, 0, 0, 0, 100))
    attributes["ai.response.providerMetadata"] = _anthropic_metadata(
        1000, 0, 0, 0, 100, server_tool_use={"web_search_requests": 2}
    )
    provider.get_tracer("ai").start_span("ai.generateText.doGenerate", attributes=attributes).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    cost = span.attributes or {}
    # claude-sonnet-4: 1,000 in at $3/M and 100 out at $15/M, and two searches at $10 / 1,000
    assert cost["gen_ai.cost.search_usd"] == pytest.approx(0.02)
    assert cost["gen_ai.cost.total_usd"] == pytest.approx(0.003 + 0.0015 + 0.02)


def test_an_ai_sdk_search_count_that_is_no_count_is_recorded_not_raised() -> None:
    attributes = _anthropic_span(6, False, (100, 0, 0, 0, 50))
    attributes["ai.response.providerMetadata"] = (
        '{"anthropic":{"usage":{"input_tokens":100,"output_tokens":50,"server_tool_use":{"web_search_requests":-2}}}}'
    )
    usage = _read(attributes, "ai")
    assert usage.usage is None
    assert usage.invalid is not None and "server_tool_use.web_search_requests" in usage.invalid
