"""What an Anthropic response says beyond its tokens, read from OpenInference's ``output.value``.

Anthropic's usage object says how many web searches the model ran
(``server_tool_use.web_search_requests``, $10 / 1,000) and whether the call was served in
fast mode (``speed: "fast"``, 6x on Opus 4.6). No instrumentation writes either as an
attribute; OpenInference records the whole response as JSON, so genai-cost reads that
response's top-level ``usage`` (and nothing else in it) for them."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost._usage_json import BadValue, _served_by_anthropic
from genai_cost.usage import _reference, read_usage

SCOPE = "openinference.instrumentation.anthropic"


def _span(response: str, provider: str = "anthropic", model: str = "claude-opus-4-6") -> dict[str, Any]:
    """An OpenInference Anthropic LLM span, as tests/fixtures/spans/openinference-anthropic*.json has them."""
    return {
        "llm.provider": provider,
        "llm.system": provider,
        "llm.model_name": model,
        "llm.invocation_parameters": '{"max_tokens": 100}',
        "llm.token_count.prompt": 1000,
        "llm.token_count.completion": 100,
        "output.value": response,
        "output.mime_type": "application/json",
        "openinference.span.kind": "LLM",
    }


def _message(usage: dict[str, Any], content: list[Any] | None = None) -> dict[str, Any]:
    """An Anthropic Message as the SDK serialises it: ``usage`` last."""
    return {
        "id": "msg_1",
        "container": None,
        "content": content if content is not None else [{"type": "text", "text": "Hello", "citations": None}],
        "model": "claude-opus-4-6",
        "role": "assistant",
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "type": "message",
        "usage": usage,
    }


FAST_SEARCHED = {
    "input_tokens": 1000,
    "output_tokens": 100,
    "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 0},
    "service_tier": "standard",
    "speed": "fast",
}


def test_searches_and_fast_mode_are_read_from_the_response() -> None:
    usage = read_usage(_span(json.dumps(_message(FAST_SEARCHED))), SCOPE)
    assert usage.usage is not None
    assert usage.usage.web_searches == 3
    assert usage.service_tier == "fast"
    assert (usage.usage.input_tokens, usage.usage.output_tokens) == (1000, 100)


def test_one_calls_speed_does_not_carry_over_to_the_next_call_of_the_same_shape() -> None:
    """What a span *is* is memoised per attribute-key shape; the speed one call was served at
    is that call's alone."""
    fast = read_usage(_span(json.dumps(_message(FAST_SEARCHED))), SCOPE)
    standard = read_usage(_span(json.dumps(_message({"input_tokens": 1000, "output_tokens": 100}))), SCOPE)
    fast_again = read_usage(_span(json.dumps(_message(FAST_SEARCHED))), SCOPE)
    assert (fast.service_tier, standard.service_tier, fast_again.service_tier) == ("fast", None, "fast")
    assert standard.usage is not None and standard.usage.web_searches == 0


def test_another_providers_response_is_not_read() -> None:
    """An OpenAI response has no such usage members; one that looked like it is not Anthropic's."""
    usage = read_usage(_span(json.dumps(_message(FAST_SEARCHED)), provider="openai", model="gpt-4o"), SCOPE)
    assert usage.usage is not None and usage.usage.web_searches == 0
    assert usage.service_tier is None


def test_a_search_count_that_is_no_count_makes_the_usage_invalid_naming_it() -> None:
    bad = {**FAST_SEARCHED, "server_tool_use": {"web_search_requests": "three"}}
    usage = read_usage(_span(json.dumps(_message(bad))), SCOPE)
    assert usage.usage is None
    assert usage.invalid is not None
    assert "output.value usage.server_tool_use.web_search_requests" in usage.invalid


@pytest.mark.parametrize(
    "response",
    [
        "",
        "not json",
        '{"usage": ',
        '{"usage": {"speed": "fast"}, "id": "usage is not the last member"}',
        '{"usage": "fast"}',
        '["usage", "fast"]',
        '{"content": [{"type": "tool_use", "input": {"usage": {"speed": "fast"}}}], "usage": {"speed": "standard"}}',
    ],
)
def test_responses_that_do_not_end_with_a_usage_object_say_nothing(response: str) -> None:
    assert _served_by_anthropic(response) == (0, False)


def _logfire_span(raw: dict[str, Any]) -> dict[str, Any]:
    """Logfire 5.2.0's request span (tests/integration/test_logfire.py reads it back)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-opus-4-6",
        "gen_ai.response.model": "claude-opus-4-6",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
        "gen_ai.usage.raw": json.dumps(raw, separators=(",", ":")),
    }


def test_logfire_raw_usage_says_the_same() -> None:
    """Logfire writes Anthropic's usage object itself (``gen_ai.usage.raw``)."""
    fast = read_usage(_logfire_span(FAST_SEARCHED), "logfire.anthropic")
    standard = read_usage(_logfire_span({"input_tokens": 1000, "output_tokens": 100}), "logfire.anthropic")
    assert fast.usage is not None and standard.usage is not None
    assert (fast.usage.web_searches, fast.service_tier) == (3, "fast")
    assert (standard.usage.web_searches, standard.service_tier) == (0, None)
    bad = read_usage(
        _logfire_span({**FAST_SEARCHED, "server_tool_use": {"web_search_requests": -1}}), "logfire.anthropic"
    )
    assert bad.usage is None and bad.invalid is not None and "gen_ai.usage.raw.server_tool_use" in bad.invalid


# ---------------------------------------------------------------- properties

_json_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["fast", "usage", '"usage":', "speed"])
_json_value = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["usage", "speed", "server_tool_use", "web_search_requests", "x"]), inner, max_size=3),
    max_leaves=12,
)
_usage = st.fixed_dictionaries(
    {"input_tokens": st.integers(0, 10_000), "output_tokens": st.integers(0, 10_000)},
    optional={
        "speed": st.sampled_from(["fast", "standard", None]),
        "server_tool_use": st.none()
        | st.fixed_dictionaries({"web_search_requests": st.integers(0, 50), "web_fetch_requests": st.integers(0, 5)}),
    },
)
_content = st.lists(
    st.fixed_dictionaries({"type": st.just("tool_use"), "input": _json_value})
    | st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=30)}),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(usage=_usage, content=_content, spaced=st.booleans())
def test_only_the_top_level_usage_is_read(usage: dict[str, Any], content: list[Any], spaced: bool) -> None:
    """Whatever the content says (a tool's input with its own ``usage`` and ``speed``, text
    quoting them), and however the JSON is spaced, the answer is the top-level usage's."""
    separators = (", ", ": ") if spaced else (",", ":")
    response = json.dumps(_message(usage, content), separators=separators)
    server = usage.get("server_tool_use") or {}
    assert _served_by_anthropic(response) == (server.get("web_search_requests", 0), usage.get("speed") == "fast")


@settings(max_examples=300, deadline=None)
@given(response=st.text(max_size=200) | st.builds(json.dumps, _json_value), logfire=st.booleans())
def test_any_text_is_read_without_raising_and_as_the_reference_reads_it(response: str, logfire: bool) -> None:
    """Any ``output.value`` or ``gen_ai.usage.raw`` at all: the answer, or a count named as
    invalid; never an exception. The memoised path and the reference path agree on it."""
    with contextlib.suppress(BadValue):
        _served_by_anthropic(response)
    attributes = _span(response)
    if logfire:
        attributes = {**_logfire_span({}), "gen_ai.usage.raw": response}
    fast = read_usage(attributes, SCOPE)
    reference = _reference(attributes, _slots_of(attributes), SCOPE)
    assert fast == reference


def _slots_of(attributes: dict[str, Any]) -> Any:
    from genai_cost.usage import _plan

    plan = _plan(tuple(attributes))
    assert plan is not None
    return plan.slots


def test_the_request_parameters_are_each_calls_own_and_no_memo_key() -> None:
    """OpenInference's ``llm.invocation_parameters`` (the request as JSON: tool schemas, a
    user id, a seed) differs from call to call. As part of the memo key it kept every call's
    JSON (26.8 MB for 4,095 calls with 20 tools) and never hit; it is read per span."""
    from genai_cost.usage import _PLANS

    def call(parameters: dict[str, Any]) -> dict[str, Any]:
        return {
            "openinference.span.kind": "LLM",
            "llm.model_name": "o4-mini",
            "llm.provider": "openai",
            "llm.token_count.prompt": 100,
            "llm.token_count.completion": 10,
            "llm.invocation_parameters": json.dumps(parameters),
        }

    tiers = [
        read_usage(call({"user": f"user-{i}", **({"service_tier": "flex"} if i % 2 else {})}), SCOPE).service_tier
        for i in range(200)
    ]
    assert tiers == [None, "flex"] * 100
    plan = _PLANS[tuple(call({}))]
    assert plan is not None
    assert len(plan.memo) == 1
