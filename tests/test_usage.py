"""Usage extraction across the vocabularies of attributes.md, with their traps."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost.usage import KNOWN_KEYS, Role, read_span_usage, read_usage


def test_semconv_current_names_inclusive_counts():
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 400,
            "gen_ai.usage.reasoning.output_tokens": 100,
            "openai.response.service_tier": "flex",
        }
    )
    assert usage.role is Role.LLM
    assert usage.model == "gpt-4o-2024-08-06", "the served model wins over the requested one"
    assert usage.provider == "openai"
    assert usage.usage is not None
    assert (usage.usage.input_tokens, usage.usage.cache_read_tokens) == (1000, 400)
    assert (usage.usage.output_tokens, usage.usage.reasoning_tokens) == (300, 100)
    assert usage.service_tier == "flex"
    assert usage.convention == "inclusive"


def test_deprecated_names_and_string_counts():
    usage = read_usage(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": "1200",
            "gen_ai.usage.completion_tokens": " 80 ",
        }
    )
    assert usage.role is Role.LLM  # usage + model and no kind: a call
    assert usage.usage is not None
    assert (usage.usage.input_tokens, usage.usage.output_tokens) == (1200, 80)


def test_current_name_beats_deprecated_name_whatever_the_order():
    attrs = {"gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.input_tokens": 7, "gen_ai.request.model": "m"}
    assert read_usage(attrs).usage.input_tokens == 7
    assert read_usage(dict(reversed(list(attrs.items())))).usage.input_tokens == 7


def test_openinference_llm_span():
    usage = read_usage(
        {
            "openinference.span.kind": "LLM",
            "llm.provider": "anthropic",
            "llm.model_name": "claude-sonnet-4-5",
            "llm.token_count.prompt": 5000,
            "llm.token_count.completion": 200,
            "llm.token_count.prompt_details.cache_read": 3000,
            "llm.token_count.prompt_details.cache_write": 1000,
            "llm.cost.total": 0.0123,
        }
    )
    assert usage.role is Role.LLM
    assert usage.usage.cache_write_tokens == 1000
    assert usage.reported_cost == 0.0123
    assert usage.reported_cost_key == "llm.cost.total"


def test_openinference_agent_and_chain_are_aggregates():
    for kind in ("AGENT", "CHAIN"):
        assert read_usage({"openinference.span.kind": kind, "llm.token_count.prompt": 10}).role is Role.AGGREGATE


def test_openllmetry_legacy_cache_names():
    usage = read_usage(
        {
            "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-3-5-haiku",
            "gen_ai.usage.prompt_tokens": 900,
            "gen_ai.usage.completion_tokens": 10,
            "gen_ai.usage.cache_read_input_tokens": 500,
            "gen_ai.usage.cache_creation_input_tokens": 300,
        }
    )
    assert usage.usage.cache_read_tokens == 500
    assert usage.usage.cache_write_tokens == 300
    assert usage.convention == "inclusive"


def test_openlit_anthropic_input_excludes_cache_and_is_converted():
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read_input_tokens": 50,
        },
        scope_name="openlit.otel.tracing",
    )
    assert usage.usage.input_tokens == 150, "OpenLIT's Anthropic input excludes cache: made inclusive"
    assert usage.convention == "exclusive"


@pytest.mark.parametrize(("visible", "thinking"), [(500, 300), (200, 300)])
def test_openlit_gemini_output_excludes_the_thinking_it_records_apart(visible, thinking):
    """OpenLIT 1.45.0's google_ai_studio writes Gemini's candidates_token_count as the
    output and thoughts_token_count as reasoning_tokens. The thinking was added only when
    it outnumbered the visible output: 500 visible + 300 thinking was billed as 500."""
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "gemini",
            "gen_ai.request.model": "gemini-2.5-flash",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": visible,
            "gen_ai.usage.reasoning_tokens": thinking,
            "gen_ai.usage.cache_read.input_tokens": 400,
        },
        scope_name="openlit.instrumentation.google_ai_studio",
    )
    assert (usage.usage.output_tokens, usage.usage.reasoning_tokens) == (visible + thinking, thinking)
    assert usage.usage.input_tokens == 1000, "Gemini's prompt count includes the cache"


def test_openlit_openai_output_already_includes_reasoning():
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "o3",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.reasoning_tokens": 300,
        },
        scope_name="openlit.instrumentation.openai",
    )
    assert (usage.usage.output_tokens, usage.usage.reasoning_tokens) == (500, 300)


def test_strands_pre_semconv_cache_write_key_is_read():
    """Strands Agents writes gen_ai.usage.cache_write_input_tokens (beside, or in older
    releases instead of, cache_creation.input_tokens); the cache writes were missed."""
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "strands-agents",
            "gen_ai.request.model": "us.anthropic.claude-sonnet-4-20250514-v1:0",
            "gen_ai.usage.input_tokens": 9000,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read_input_tokens": 3000,
            "gen_ai.usage.cache_write_input_tokens": 2000,
        },
        scope_name="strands.telemetry.tracer",
    )
    assert (usage.usage.input_tokens, usage.usage.cache_read_tokens, usage.usage.cache_write_tokens) == (
        9000, 3000, 2000)


def test_pydantic_ai_audio_cache_reads_are_read():
    """Pydantic AI writes gen_ai.usage.details.cache_audio_read_tokens (part of its cache
    reads): 8,000 cached audio tokens were billed at the text cache rate."""
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "google-gla",
            "gen_ai.request.model": "gemini-2.5-flash",
            "gen_ai.usage.input_tokens": 10_000,
            "gen_ai.usage.output_tokens": 100,
            "gen_ai.usage.cache_read.input_tokens": 8000,
            "gen_ai.usage.details.input_audio_tokens": 8000,
            "gen_ai.usage.details.cache_audio_read_tokens": 8000,
        },
        scope_name="pydantic-ai",
    )
    assert (usage.usage.cache_read_tokens, usage.usage.cache_read_audio_tokens) == (8000, 8000)


@pytest.mark.parametrize("first", [True, 1, False, 0])
def test_a_flag_reads_alike_whatever_span_came_before(first):
    """read_usage memoises what a span is by its values, and True == 1: a batch flag of 1
    read after one of True was a batch call, and True after 1 was not (billed twice over)."""
    from genai_cost.usage import _PLANS

    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}
    _PLANS.clear()
    read_usage({**base, "gen_ai.cost.batch": first})
    for value, is_batch in ((True, True), (1, True), (False, False), (0, False)):
        assert read_usage({**base, "gen_ai.cost.batch": value}).batch is is_batch, (first, value)


@pytest.mark.parametrize(
    ("scope", "model"),
    [
        # as OpenLLMetry's bedrock 0.62.4 records a Converse (and an InvokeModel) call of
        # us.anthropic.claude-sonnet-4-5-20250929-v1:0: profile and vendor stripped
        ("opentelemetry.instrumentation.bedrock", "claude-sonnet-4-5-20250929-v1:0"),
        ("openlit.instrumentation.bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("opentelemetry.instrumentation.genai.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ],
)
def test_bedrock_instrumentations_copy_input_without_cache_and_are_converted(scope, model):
    """Bedrock answered inputTokens 5000, cacheReadInputTokens 3000: 8000 tokens of input,
    which each of these instrumentations records as 5000 next to the 3000."""
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 3000,
            "gen_ai.usage.cache_creation.input_tokens": 0,
        },
        scope_name=scope,
    )
    assert usage.convention == "exclusive"
    assert (usage.usage.input_tokens, usage.usage.cache_read_tokens) == (8000, 3000)


def test_openinference_bedrock_prompt_count_is_already_inclusive():
    usage = read_usage(
        {"openinference.span.kind": "LLM", "llm.provider": "aws", "llm.model_name": "anthropic.claude-3-5-haiku",
         "llm.token_count.prompt": 8000, "llm.token_count.completion": 200,
         "llm.token_count.prompt_details.cache_read": 3000},
        scope_name="openinference.instrumentation.bedrock",
    )
    assert usage.usage.input_tokens == 8000 and usage.convention != "exclusive"


def test_cache_larger_than_input_means_exclusive():
    usage = read_usage(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 10,
         "gen_ai.usage.cache_read.input_tokens": 4000}
    )
    assert usage.usage.input_tokens == 4010
    assert usage.convention == "exclusive"


def test_google_adk_thinking_left_out_of_output():
    usage = read_usage(
        {"gen_ai.operation.name": "generate_content", "gen_ai.request.model": "gemini-2.5-pro",
         "gen_ai.usage.output_tokens": 100, "gen_ai.usage.reasoning.output_tokens": 400}
    )
    assert usage.usage.output_tokens == 500


def test_logfire_pydantic_ai_details_and_operation_cost():
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 2000,
            "gen_ai.usage.output_tokens": 100,
            "gen_ai.usage.details.cache_read_tokens": 1024,
            "gen_ai.usage.details.reasoning_tokens": 20,
            "operation.cost": 0.0041,
        }
    )
    assert usage.usage.cache_read_tokens == 1024
    assert usage.usage.reasoning_tokens == 20
    assert usage.reported_cost == 0.0041


def test_vercel_ai_sdk_leaf_and_aggregate():
    leaf = read_usage(
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.provider": "openai.chat",
            "ai.model.id": "gpt-4o",
            "ai.response.model": "gpt-4o-2024-08-06",
            "ai.usage.inputTokens": 800,
            "ai.usage.outputTokens": 60,
            "ai.usage.cachedInputTokens": 512,
        }
    )
    assert leaf.role is Role.LLM
    assert leaf.provider == "openai.chat"
    assert leaf.usage.cache_read_tokens == 512
    top = read_usage({"ai.operationId": "ai.generateText", "ai.usage.inputTokens": 800})
    assert top.role is Role.AGGREGATE
    assert read_usage({"ai.operationId": "ai.toolCall", "ai.toolCall.name": "search"}).tool_name == "search"


def test_anthropic_cache_write_ttl_split():
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 10000,
            "gen_ai.usage.output_tokens": 10,
            "gen_ai.usage.cache_creation.input_tokens": 6000,
            "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": 2000,
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 4000,
        }
    )
    assert usage.usage.cache_write_tokens == 6000
    assert usage.usage.cache_write_1h_tokens == 4000


def test_agent_and_tool_roles():
    assert read_usage({"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 9}).role is Role.AGGREGATE
    tool = read_usage({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search"})
    assert tool.role is Role.TOOL and tool.tool_name == "web_search"
    assert read_usage({"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "e"}).role is Role.EMBEDDING


def test_an_unknown_operation_name_counting_tokens_is_a_call_and_one_counting_none_is_not():
    counted = read_usage({"gen_ai.operation.name": "image", "gen_ai.request.model": "m",
                          "gen_ai.usage.output_tokens": "12"})
    assert counted.role is Role.LLM and counted.usage is not None and counted.usage.output_tokens == 12
    assert read_usage({"gen_ai.operation.name": "vectordb", "gen_ai.request.model": "m"}).role is Role.OTHER
    # Known kinds keep theirs: an agent counting its children's tokens stays an aggregate.
    assert read_usage({"gen_ai.operation.name": "create_agent", "gen_ai.usage.input_tokens": 9}).role is Role.AGGREGATE
    # An OpenInference kind not known, counting tokens, is a call too; one counting none is not.
    assert read_usage({"openinference.span.kind": "GUARDRAIL", "llm.token_count.prompt": 9}).role is Role.LLM
    assert read_usage({"openinference.span.kind": "RERANKER", "reranker.model_name": "r"}).role is Role.OTHER
    assert read_usage({"openinference.span.kind": "AGENT", "llm.token_count.prompt": 9}).role is Role.AGGREGATE


def test_openlit_tool_name_list_on_chat_span_is_not_a_tool_execution():
    usage = read_usage(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.tool.name": "search, fetch",
         "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 1}
    )
    assert usage.role is Role.LLM


def test_plain_spans_are_not_genai():
    assert read_usage({"http.request.method": "GET"}).role is Role.NONE
    assert read_usage({"db.system.name": "postgresql"}).role is Role.NONE, "db spans are not GenAI work"
    assert read_usage({}).role is Role.NONE


def test_invalid_values_are_named():
    for bad, fragment in [(-5, "negative"), (math.nan, "whole number"), ("12abc", "not a number"), (True, "boolean"),
                          (10**13, "implausibly large"), (1.5, "whole number"), ([1, 2], "not a token count")]:
        usage = read_usage({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                            "gen_ai.usage.input_tokens": bad})
        assert usage.invalid is not None and "gen_ai.usage.input_tokens" in usage.invalid, bad
        assert fragment in usage.invalid, (bad, usage.invalid)


attribute_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.binary(max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(KNOWN_KEYS) + ["other.key"]), attribute_values, max_size=14))
def test_read_usage_never_raises_and_counts_are_sane(attributes):
    usage = read_usage(attributes)
    if usage.usage is not None:
        tokens = usage.usage
        assert tokens.input_tokens >= tokens.cache_read_tokens + tokens.cache_write_tokens - 0
        assert tokens.output_tokens >= 0 and tokens.input_tokens >= 0
        assert tokens.cache_write_1h_tokens <= tokens.cache_write_tokens


def test_every_token_class_lands_in_its_field():
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.cache_read.input_tokens": 11, "gen_ai.usage.cache_write.input_tokens": 22,
            "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": 7,
            "gen_ai.usage.reasoning.output_tokens": 33,
            "gen_ai.usage.audio.input_tokens": 44, "gen_ai.usage.audio.cache_read.input_tokens": 5,
            "gen_ai.usage.audio.output_tokens": 55,
            "gen_ai.usage.image.input_tokens": 66, "gen_ai.usage.image.output_tokens": 77,
        }
    ).usage
    assert (usage.input_tokens, usage.output_tokens) == (1000, 500)
    assert (usage.cache_read_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens) == (11, 22, 7)
    assert usage.reasoning_tokens == 33
    assert (usage.input_audio_tokens, usage.cache_read_audio_tokens, usage.output_audio_tokens) == (44, 5, 55)
    assert (usage.input_image_tokens, usage.output_image_tokens) == (66, 77)


_describing_values = st.one_of(
    st.sampled_from(["chat", "embeddings", "execute_tool", "invoke_agent", "LLM", "TOOL", "openai", "anthropic",
                     "gpt-4o", " flex ", "priority", "ai.generateText.doGenerate"]),
    attribute_values,
)


_call_base = st.fixed_dictionaries({
    "gen_ai.operation.name": st.sampled_from(["chat", "embeddings"]),
    "gen_ai.provider.name": st.sampled_from(["anthropic", "openai", "aws.bedrock"]),
    "gen_ai.request.model": st.just("m"),
})


@settings(max_examples=500, deadline=None)
@given(
    st.tuples(
        st.one_of(st.just({}), _call_base),
        st.dictionaries(st.sampled_from(sorted(KNOWN_KEYS) + ["other.key"]), _describing_values, max_size=14),
    ).map(lambda parts: {**parts[0], **parts[1]}),
    st.lists(st.one_of(st.integers(min_value=-5, max_value=10**13), st.none(), st.text(max_size=4)), min_size=3,
             max_size=3),
    st.sampled_from([None, "openlit.otel.tracing", "opentelemetry.instrumentation.genai.bedrock",
                     "opentelemetry.instrumentation.bedrock", "openlit.instrumentation.google_ai_studio", "x"]),
)
def test_memoised_fast_path_reads_exactly_what_the_reference_reads(attributes, counts, scope):
    """read_usage memoises what a span *is* per attribute shape; every span must still
    read as the unmemoised reference reads it, including the second span of a shape
    whose counts differ from the first's."""
    from genai_cost.usage import _plan, _reference

    plan = _plan(tuple(attributes))
    reference = _reference(attributes, plan.slots, scope) if plan is not None else read_usage({})
    assert read_usage(attributes, scope) == reference
    second = dict(attributes)
    for key, count in zip(["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                           "gen_ai.usage.cache_read.input_tokens"], counts, strict=True):
        second[key] = count
    plan = _plan(tuple(second))
    reference = _reference(second, plan.slots, scope) if plan is not None else read_usage({})
    assert read_usage(second, scope) == reference


def test_the_memo_of_what_spans_are_stays_bounded_in_total_across_shapes():
    """Each plan's memo is bounded, but a fleet's many shapes times many models must be too:
    400k distinct (shape, model) pairs once kept 158 MB."""
    from genai_cost import usage

    for i in range(usage._MEMO_LIMIT + 5_000):
        read_usage({"gen_ai.operation.name": "chat", "gen_ai.request.model": f"model-{i}",
                    "gen_ai.usage.input_tokens": 5, f"shape.{i % 40}": 1})
    held = sum(len(plan.memo) for plan in usage._PLANS.values() if plan is not None)
    assert 0 < held <= usage._MEMO_LIMIT
    # ... and what is read after the memo is dropped is still right.
    again = read_usage({"gen_ai.operation.name": "chat", "gen_ai.request.model": "model-1",
                        "gen_ai.usage.input_tokens": 5, "shape.1": 1})
    assert again.model == "model-1" and again.usage is not None and again.usage.input_tokens == 5


# Google ADK 1.x's call_llm span, as captured (tests/fixtures/spans/google-adk-1.json).
_ADK_1_CALL = {
    "gen_ai.system": "gcp.vertex.agent",
    "gen_ai.request.model": "gemini-2.5-flash",
    "gcp.vertex.agent.llm_response": json.dumps({
        "model_version": "gemini-2.5-flash",
        "content": {"parts": [{"text": "Hello"}], "role": "model"},
        "usage_metadata": {"cached_content_token_count": 400, "candidates_token_count": 200,
                           "prompt_token_count": 1000, "thoughts_token_count": 300, "total_token_count": 1500},
    }),
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
    "gen_ai.usage.experimental.reasoning_tokens": 300,
}


def test_google_adk_1_thinking_and_cache_from_its_call_llm_span():
    usage = read_usage(_ADK_1_CALL, "gcp.vertex.agent").usage
    assert (usage.input_tokens, usage.cache_read_tokens) == (1000, 400)
    assert (usage.output_tokens, usage.reasoning_tokens) == (500, 300)


def test_google_adk_1_experimental_reasoning_is_outside_output_even_when_smaller():
    """ADK 1.x's output count is Gemini's candidates_token_count, which never includes
    the thoughts: 100 thinking tokens on 200 of text are 300 output tokens."""
    attributes = {**_ADK_1_CALL, "gen_ai.usage.experimental.reasoning_tokens": 100}
    del attributes["gcp.vertex.agent.llm_response"]
    usage = read_usage(attributes, "gcp.vertex.agent")
    assert (usage.usage.output_tokens, usage.usage.reasoning_tokens) == (300, 100)
    assert usage.convention == "exclusive"


def test_google_adk_1_counts_on_the_span_win_over_its_response_json():
    attributes = {**_ADK_1_CALL, "gen_ai.usage.cache_read.input_tokens": 10}
    del attributes["gen_ai.usage.experimental.reasoning_tokens"]
    usage = read_usage(attributes, "gcp.vertex.agent").usage
    assert usage.cache_read_tokens == 10  # the span's own count
    assert (usage.output_tokens, usage.reasoning_tokens) == (500, 300)  # thoughts only in the JSON (older 1.x)


@pytest.mark.parametrize(
    "response",
    [
        "{}",  # ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS=false
        "<not serializable>",
        '{"usage_metadata": [1, 2]}',
        '{"content": {"parts": [{"text": "\\"usage_metadata\\": {\\"cached_content_token_count\\": 900}"}]}}',
        '{"content": {"usage_metadata": {"cached_content_token_count": 900}}}',  # not the top level
        "[" * 100_000,  # deeper than the JSON decoder recurses
    ],
)
def test_google_adk_response_json_without_top_level_usage_adds_nothing(response):
    attributes = {**_ADK_1_CALL, "gcp.vertex.agent.llm_response": response}
    usage = read_usage(attributes, "gcp.vertex.agent")
    assert usage.invalid is None
    assert (usage.usage.input_tokens, usage.usage.cache_read_tokens, usage.usage.output_tokens) == (1000, 0, 500)


def test_google_adk_response_json_with_a_broken_count_flags_the_span():
    response = json.dumps({"usage_metadata": {"cached_content_token_count": -4}})
    usage = read_usage({**_ADK_1_CALL, "gcp.vertex.agent.llm_response": response}, "gcp.vertex.agent")
    assert usage.usage is None
    assert usage.invalid == "gcp.vertex.agent.llm_response usage_metadata.cached_content_token_count: negative (-4)"


_json_counts = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-5, max_value=10**13), st.floats(), st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "cached_content_token_count": _json_counts,
            "thoughts_token_count": _json_counts,
            "prompt_token_count": _json_counts,
        },
    ),
    st.text(max_size=30),
    st.sampled_from(["gen_ai.usage.experimental.reasoning_tokens", "gen_ai.usage.reasoning.output_tokens", None]),
)
def test_google_adk_response_json_is_read_alike_on_both_paths_and_never_raises(metadata, text, reasoning_key):
    from genai_cost.usage import _plan, _reference

    response = json.dumps({"content": {"parts": [{"text": text}]}, "usage_metadata": metadata})
    attributes = {k: v for k, v in _ADK_1_CALL.items() if k != "gen_ai.usage.experimental.reasoning_tokens"}
    attributes["gcp.vertex.agent.llm_response"] = response
    if reasoning_key is not None:
        attributes[reasoning_key] = 7
    fast = read_usage(attributes, "gcp.vertex.agent")
    plan = _plan(tuple(attributes))
    assert fast == _reference(attributes, plan.slots, "gcp.vertex.agent")
    cached = metadata.get("cached_content_token_count")
    if fast.usage is not None and type(cached) is int:
        assert fast.usage.cache_read_tokens == cached
    if fast.usage is not None and reasoning_key is not None:
        assert fast.usage.reasoning_tokens == 7  # the span's own count wins


def test_openlit_google_adk_thinking_is_read_and_added_to_its_output():
    """OpenLIT 1.45.0's google_adk writes Gemini's candidates count as the output and the
    thinking apart, under a key no other instrumentation uses: it was not read, and the
    call was billed for the visible output only."""
    usage = read_usage(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "gcp.gemini",
            "gen_ai.request.model": "gemini-2.5-flash",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.completion_tokens_details.reasoning_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 400,
        },
        scope_name="openlit.instrumentation.google_adk",
    ).usage
    assert usage is not None
    assert (usage.output_tokens, usage.reasoning_tokens, usage.input_tokens) == (500, 300, 1000)


_SONNET_CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-20250514",
}


@pytest.mark.parametrize("scope", ["logfire.anthropic", "logfire.openai"])
def test_a_logfire_request_span_without_tokens_is_not_the_calls_record(scope):
    """Logfire records a streamed call's usage on a log span apart; the request span, ended
    as the stream began, counts none (it was flagged missing_usage, one per stream)."""
    assert read_usage(_SONNET_CALL, scope).role is Role.OTHER
    counted = read_usage({**_SONNET_CALL, "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}, scope)
    assert counted.role is Role.LLM
    # Elsewhere, a call without token counts is still a call (flagged missing_usage).
    assert read_usage(_SONNET_CALL, "opentelemetry.instrumentation.anthropic").role is Role.LLM


def test_logfire_claude_agent_sdk_prices_the_run_not_its_partial_chat_records():
    """Logfire's Claude Agent SDK integration puts the SDK's per-message usage on each chat
    span as gen_ai.usage.partial.* (unreliable, it says) and the run's usage and cost on
    invoke_agent: the chats were flagged missing_usage and the run, an aggregate, was never
    priced: $0 for the whole run."""
    scope = "logfire.claude_agent_sdk"
    chat = read_usage({**_SONNET_CALL, "gen_ai.usage.partial.input_tokens": 5100}, scope)
    assert chat.role is Role.OTHER
    run = read_usage(
        {
            **_SONNET_CALL,
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.usage.input_tokens": 5100,
            "gen_ai.usage.output_tokens": 50,
            "operation.cost": 0.00945,
        },
        scope,
    )
    assert run.role is Role.LLM and run.reported_cost == 0.00945
    assert run.usage is not None and run.usage.input_tokens == 5100
    # Another framework's invoke_agent stays an aggregate.
    assert read_usage({**_SONNET_CALL, "gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 5}).role is (
        Role.AGGREGATE
    )


_COUNTS = {"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}


@pytest.mark.parametrize(
    ("attributes", "client", "dropped", "role", "operation"),
    [
        # An invoke_agent CLIENT span with usage: an agent in another service, a call.
        ({"gen_ai.operation.name": "invoke_agent", **_COUNTS}, True, 0, Role.LLM, "invoke_agent"),
        ({"gen_ai.operation.name": "invoke_agent", **_COUNTS}, False, 0, Role.AGGREGATE, "invoke_agent"),
        # Counts, no model or operation, attributes dropped: a call whose model went first.
        ({"gen_ai.system": "openai", **_COUNTS}, False, 3, Role.LLM, None),
        ({"gen_ai.system": "openai", **_COUNTS}, False, 0, Role.OTHER, None),
        ({"gen_ai.system": "openai"}, False, 3, Role.OTHER, None),  # nothing counted: nothing to flag
    ],
)
def test_a_span_is_read_by_its_kind_and_its_dropped_attributes_too(
    attributes: dict[str, object], client: bool, dropped: int, role: Role, operation: str | None
) -> None:
    usage = read_span_usage(attributes, None, client=client, dropped_attributes=dropped)
    assert (usage.role, usage.operation, usage.model) == (role, operation, None)
