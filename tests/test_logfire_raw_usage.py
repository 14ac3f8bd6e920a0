"""Logfire 5.2.0 and 6.0.0b8 write an input count that includes the cache, and the cache split
only inside ``gen_ai.usage.raw``: the provider's own usage object, as JSON. It was not read, so
the catalog priced a cached call as uncached (Sonnet: $0.01605 instead of $0.00945), which the
default ``prefer`` hid behind Logfire's own ``operation.cost`` and ``compare``/``ignore`` did not.
The span shapes here are those ``tests/integration/test_logfire.py`` reads back from the real
Logfire 5.2.0 against the fake server."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from genai_cost.pricer import SpanPricer
from genai_cost.pricing import Catalog
from genai_cost.usage import _plan, _reference, read_usage
from test_usage import _json_counts  # what a JSON count may be, as for Google ADK's

M = 1e6
_ANTHROPIC_RAW = {
    "input_tokens": 100,
    "output_tokens": 50,
    "cache_read_input_tokens": 3000,
    "cache_creation_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
    "service_tier": "standard",
}
_SONNET_CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-20250514",
    "gen_ai.response.model": "claude-sonnet-4-20250514",
    "gen_ai.usage.input_tokens": 5100,
    "gen_ai.usage.output_tokens": 50,
    "gen_ai.usage.raw": json.dumps(_ANTHROPIC_RAW),
}
_GPT_4O_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
    "gen_ai.usage.raw": json.dumps(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "total_tokens": 1200,
            "prompt_tokens_details": {"cached_tokens": 400, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
    ),
}


def _catalog_usd(attributes: dict[str, object]) -> float:
    usage = read_usage(attributes, "logfire")
    cost = SpanPricer(Catalog.load(), reported_cost="ignore").price(usage, attributes, None)
    assert cost is not None and cost.priced, cost
    return cost.total_usd


def test_anthropic_cache_split_is_read_from_the_raw_usage():
    usage = read_usage(_SONNET_CALL, "logfire").usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens, usage.output_tokens) == (
        5100,
        3000,
        2000,
        50,
    )
    # $3 fresh input, $0.30 cache read, $3.75 cache write (5 min), $15 output
    assert _catalog_usd(_SONNET_CALL) == pytest.approx((100 * 3.00 + 3000 * 0.30 + 2000 * 3.75 + 50 * 15.00) / M)


def test_anthropic_one_hour_cache_writes_are_read_from_the_raw_usage():
    raw = {**_ANTHROPIC_RAW, "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1500}}
    usage = read_usage({**_SONNET_CALL, "gen_ai.usage.raw": json.dumps(raw)}, "logfire").usage
    assert usage is not None
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (2000, 1500)


def test_openai_cached_tokens_are_read_from_the_raw_usage_of_chat_and_responses():
    usage = read_usage(_GPT_4O_CHAT, "logfire").usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens) == (1000, 400)
    assert _catalog_usd(_GPT_4O_CHAT) == pytest.approx((600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M)

    responses_raw = {
        "input_tokens": 1000,
        "output_tokens": 200,
        "input_tokens_details": {"cached_tokens": 400},
        "output_tokens_details": {"reasoning_tokens": 120},
    }
    responses = read_usage({**_GPT_4O_CHAT, "gen_ai.usage.raw": json.dumps(responses_raw)}, "logfire").usage
    assert responses is not None
    assert (responses.cache_read_tokens, responses.reasoning_tokens, responses.output_tokens) == (400, 120, 200)


def test_openai_audio_counts_are_read_from_the_raw_usage():
    raw = {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 300},
        "completion_tokens_details": {"audio_tokens": 150},
    }
    attributes = {**_GPT_4O_CHAT, "gen_ai.request.model": "gpt-4o-audio-preview", "gen_ai.usage.raw": json.dumps(raw)}
    del attributes["gen_ai.response.model"]
    usage = read_usage(attributes, "logfire").usage
    assert usage is not None
    assert (usage.input_audio_tokens, usage.output_audio_tokens, usage.cache_read_tokens) == (300, 150, 0)


def test_counts_the_span_records_win_over_the_raw_usage():
    """Logfire 5.4.0 writes the cache counts as attributes too: those are the ones read."""
    attributes = {**_SONNET_CALL, "gen_ai.usage.cache_read.input_tokens": 2500}
    usage = read_usage(attributes, "logfire").usage
    assert usage is not None
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (2500, 0)


@pytest.mark.parametrize(
    "raw",
    [
        "{}",
        "not json, but with tokens in it",
        '["cache_read_input_tokens", 3000]',
        '{"usage": {"cache_read_input_tokens": 3000}}',  # not the top level
        '{"prompt_tokens_details": [400]}',
        '{"cache_read_input_tokens": null}',
        "[" * 100_000 + "tokens",  # deeper than the JSON decoder recurses
    ],
)
def test_raw_usage_without_top_level_counts_adds_nothing(raw):
    usage = read_usage({**_SONNET_CALL, "gen_ai.usage.raw": raw}, "logfire")
    assert usage.invalid is None
    assert usage.usage is not None
    assert (usage.usage.input_tokens, usage.usage.cache_read_tokens, usage.usage.cache_write_tokens) == (5100, 0, 0)


def test_a_broken_count_in_the_raw_usage_flags_the_span_and_names_it():
    raw = json.dumps({**_ANTHROPIC_RAW, "cache_read_input_tokens": -4})
    usage = read_usage({**_SONNET_CALL, "gen_ai.usage.raw": raw}, "logfire")
    assert usage.usage is None
    assert usage.invalid == "gen_ai.usage.raw cache_read_input_tokens: negative (-4)"


_details = st.one_of(
    _json_counts,
    st.fixed_dictionaries({}, optional={"cached_tokens": _json_counts, "audio_tokens": _json_counts}),
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "input_tokens": _json_counts,
            "cache_read_input_tokens": _json_counts,
            "cache_creation_input_tokens": _json_counts,
            "cache_creation": st.one_of(
                _json_counts,
                st.fixed_dictionaries(
                    {},
                    optional={"ephemeral_5m_input_tokens": _json_counts, "ephemeral_1h_input_tokens": _json_counts},
                ),
            ),
            "prompt_tokens_details": _details,
            "input_tokens_details": _details,
            "completion_tokens_details": st.one_of(
                _json_counts, st.fixed_dictionaries({}, optional={"reasoning_tokens": _json_counts})
            ),
        },
    ),
    st.sampled_from([None, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.reasoning.output_tokens"]),
)
# Found by hypothesis in CI: Anthropic's and OpenAI's cache counts in one object; the later
# path overwrote the first one found.
@example(raw={"cache_read_input_tokens": 2, "input_tokens_details": {"cached_tokens": 1}}, own_count_key=None)
def test_raw_usage_is_read_alike_on_both_paths_and_never_raises(raw, own_count_key):
    attributes: dict[str, object] = {**_SONNET_CALL, "gen_ai.usage.raw": json.dumps(raw)}
    if own_count_key is not None:
        attributes[own_count_key] = 7
    fast = read_usage(attributes, "logfire")
    plan = _plan(tuple(attributes))
    assert plan is not None
    assert fast == _reference(attributes, plan.slots, "logfire")
    if fast.usage is None:
        assert fast.invalid is not None and fast.invalid.startswith("gen_ai.usage.raw ")
        return
    cached = raw.get("cache_read_input_tokens")
    if own_count_key == "gen_ai.usage.cache_read.input_tokens":
        assert fast.usage.cache_read_tokens == 7  # the span's own count wins
    elif type(cached) is int and cached > 0:
        assert fast.usage.cache_read_tokens == cached
