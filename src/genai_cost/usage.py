"""Reading billable work out of span attributes, whatever vocabulary wrote them.

Pure: takes the attribute mapping of a span, returns a :class:`SpanUsage`. It
knows the OpenTelemetry GenAI conventions (current and deprecated names),
OpenInference, OpenLLMetry, OpenLIT, Logfire / Pydantic AI and the Vercel AI
SDK, and normalises all of them to *inclusive* counts (input includes cache,
output includes reasoning) before anything is priced.

It is on the hot path, so it makes one pass over the attributes with a single
dict lookup per attribute, instead of probing ~60 possible keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from operator import itemgetter

from .pricing.calc import MAX_COST_USD
from .pricing.model import TokenUsage


class Role(Enum):
    """What a span is, as far as cost is concerned."""

    NONE = "none"  #: not GenAI work
    LLM = "llm"  #: a leaf inference call: priced
    EMBEDDING = "embedding"  #: a leaf embedding call: priced
    TOOL = "tool"  #: a tool execution: priced from the tool catalog
    RETRIEVAL = "retrieval"  #: a retriever / vector store query: priced from the tool catalog
    AGGREGATE = "aggregate"  #: agent / workflow / wrapper: carries its children's usage; never priced
    OTHER = "other"  #: GenAI, but not billable by itself (fetch_response, memory ops)


# Slots of the one-pass scan. Each known attribute key maps to (slot, rank);
# the lowest rank seen wins, so the current semconv name beats deprecated ones.
_OP, _OI_KIND, _AI_OP = 0, 1, 2
_PROVIDER, _RESPONSE_MODEL, _REQUEST_MODEL = 3, 4, 5
_INPUT, _OUTPUT, _CACHE_READ, _CACHE_WRITE, _CACHE_WRITE_5M, _CACHE_WRITE_1H = 6, 7, 8, 9, 10, 11
_REASONING, _INPUT_AUDIO, _OUTPUT_AUDIO, _CACHE_READ_AUDIO, _INPUT_IMAGE, _OUTPUT_IMAGE = 12, 13, 14, 15, 16, 17
_SERVICE_TIER, _REQUESTED_TIER, _TOOL, _REPORTED_COST, _BATCH, _DATA_SOURCE = 18, 19, 20, 21, 22, 23
_RESPONSE_ID, _INVOCATION_PARAMETERS = 24, 25
_REASONING_EXCLUDED, _USAGE_JSON, _TOTAL, _RESPONSE_JSON = 26, 27, 28, 29
_SLOTS = 30

_VOCABULARY: dict[int, tuple[str, ...]] = {
    _OP: ("gen_ai.operation.name",),
    _OI_KIND: ("openinference.span.kind",),
    _AI_OP: ("ai.operationId",),
    _PROVIDER: ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider"),
    _RESPONSE_MODEL: ("gen_ai.response.model", "llm.response.model_name", "ai.response.model"),
    _REQUEST_MODEL: ("gen_ai.request.model", "llm.model_name", "ai.model.id", "embedding.model_name"),
    _INPUT: (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "ai.usage.inputTokens",
        "ai.usage.promptTokens",
        "ai.usage.tokens",  # Vercel AI SDK embed / embedMany
    ),
    _OUTPUT: (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "ai.usage.outputTokens",
        "ai.usage.completionTokens",
    ),
    _CACHE_READ: (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.details.cache_read_tokens",
        "ai.usage.inputTokenDetails.cacheReadTokens",
        "ai.usage.cachedInputTokens",
    ),
    _CACHE_WRITE: (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
        "gen_ai.usage.details.cache_write_tokens",
        "ai.usage.inputTokenDetails.cacheWriteTokens",
        # Strands Agents' pre-semconv name (emitted beside cache_creation.input_tokens,
        # and alone by releases that had only it)
        "gen_ai.usage.cache_write_input_tokens",
    ),
    _CACHE_WRITE_5M: (
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens",
        "gen_ai.usage.details.ephemeral_5m_input_tokens",
    ),
    _CACHE_WRITE_1H: (
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
        "gen_ai.usage.details.ephemeral_1h_input_tokens",
    ),
    _REASONING: (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
        "gen_ai.usage.details.reasoning_tokens",
        "ai.usage.outputTokenDetails.reasoningTokens",
        "ai.usage.reasoningTokens",
        # OpenLIT 1.45.0's google_adk (Gemini's thoughts_token_count; outside its output
        # count, as with OpenLIT's other Gemini instrumentations: _EXCLUSIVE_OUTPUT_SCOPES)
        "gen_ai.usage.completion_tokens_details.reasoning_tokens",
    ),
    # Google ADK 1.x (its call_llm span): Gemini's thoughts_token_count, which its
    # gen_ai.usage.output_tokens (candidates_token_count) does not include.
    _REASONING_EXCLUDED: ("gen_ai.usage.experimental.reasoning_tokens",),
    _INPUT_AUDIO: (
        "gen_ai.usage.audio.input_tokens",
        "llm.token_count.prompt_details.audio",
        "gen_ai.usage.details.input_audio_tokens",
    ),
    _OUTPUT_AUDIO: (
        "gen_ai.usage.audio.output_tokens",
        "llm.token_count.completion_details.audio",
        "gen_ai.usage.details.output_audio_tokens",
    ),
    # (Pydantic AI: ``cache_audio_read_tokens``, part of its cache_read_tokens)
    _CACHE_READ_AUDIO: ("gen_ai.usage.audio.cache_read.input_tokens", "gen_ai.usage.details.cache_audio_read_tokens"),
    _INPUT_IMAGE: ("gen_ai.usage.image.input_tokens",),
    _OUTPUT_IMAGE: ("gen_ai.usage.image.output_tokens",),
    # (the gen_ai.* names without "openai": OpenLIT before 1.45, LangSmith)
    _SERVICE_TIER: (
        "openai.response.service_tier",
        "gen_ai.openai.response.service_tier",
        "gen_ai.response.service_tier",
    ),
    _REQUESTED_TIER: (
        "openai.request.service_tier",
        "gen_ai.openai.request.service_tier",
        "gen_ai.request.service_tier",
    ),
    _TOOL: ("gen_ai.tool.name", "tool.name", "ai.toolCall.name"),
    _REPORTED_COST: ("gen_ai.usage.cost.amount", "operation.cost", "gen_ai.usage.cost", "llm.cost.total"),
    _BATCH: ("gen_ai.cost.batch",),
    _DATA_SOURCE: ("gen_ai.data_source.id", "db.system.name", "db.system"),
    _RESPONSE_ID: ("gen_ai.response.id", "llm.response.id"),
    _INVOCATION_PARAMETERS: ("llm.invocation_parameters",),
    # JSON with the provider's own usage, read for the counts the span's attributes leave
    # out. Google ADK's JSON of the model's response: its usage_metadata is the only place
    # ADK 1.x records the cached tokens (and older 1.x releases the thinking tokens).
    # Logfire's provider usage object (5.2.0, 6.0.0b8): the only place those releases put
    # the cache split, beside an input count that includes it.
    _USAGE_JSON: ("gcp.vertex.agent.llm_response", "gen_ai.usage.raw"),
    # Read only as a checksum of the other counts (see _inclusive): Strands Agents copies
    # Bedrock's usage, whose input leaves out the cache and whose total counts it.
    _TOTAL: ("gen_ai.usage.total_tokens",),
    # OpenInference's JSON of the response: Anthropic's usage object in it is the only record
    # of the web searches a call ran and of the speed it was served at (fast mode), which
    # no instrumentation writes as attributes (see _served_by_anthropic).
    _RESPONSE_JSON: ("output.value",),
}

_KEYS: dict[str, tuple[int, int]] = {
    key: (slot, rank) for slot, keys in _VOCABULARY.items() for rank, key in enumerate(keys)
}

#: Attribute keys read from spans.
KNOWN_KEYS = frozenset(_KEYS)

#: Slots whose keys alone do not make a span GenAI work (every database span
#: has ``db.system.name``).
_GENERIC_SLOTS = frozenset(
    {_DATA_SOURCE, _BATCH, _RESPONSE_ID, _INVOCATION_PARAMETERS, _USAGE_JSON, _TOTAL, _RESPONSE_JSON}
)

_TOKEN_SLOTS = (
    _INPUT,
    _OUTPUT,
    _CACHE_READ,
    _CACHE_WRITE,
    _CACHE_WRITE_5M,
    _CACHE_WRITE_1H,
    _REASONING,
    _INPUT_AUDIO,
    _OUTPUT_AUDIO,
    _CACHE_READ_AUDIO,
    _INPUT_IMAGE,
    _OUTPUT_IMAGE,
    _REASONING_EXCLUDED,
)

_OPERATION_ROLES = {
    "chat": Role.LLM,
    "text_completion": Role.LLM,
    "completion": Role.LLM,
    "generate_content": Role.LLM,
    "responses": Role.LLM,
    # Semantic Kernel's names (its own, before the semconv ones)
    "chat.completions": Role.LLM,
    "chat.streaming_completions": Role.LLM,
    "text.completions": Role.LLM,
    "text.streaming_completions": Role.LLM,
    "embeddings": Role.EMBEDDING,
    "embedding": Role.EMBEDDING,
    "execute_tool": Role.TOOL,
    "retrieval": Role.RETRIEVAL,
    "invoke_agent": Role.AGGREGATE,
    "create_agent": Role.AGGREGATE,
    "invoke_workflow": Role.AGGREGATE,
    "plan": Role.AGGREGATE,
}

_OPENINFERENCE_ROLES = {
    "LLM": Role.LLM,
    "EMBEDDING": Role.EMBEDDING,
    "TOOL": Role.TOOL,
    "RETRIEVER": Role.RETRIEVAL,
    "AGENT": Role.AGGREGATE,
    "CHAIN": Role.AGGREGATE,
}

_VERCEL_AGGREGATES = frozenset(
    {"ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject", "ai.embed", "ai.embedMany"}
)

_MAX_TOKENS = 10**12
#: Largest cost (USD) a span may carry and still be believed: more is a broken attribute.
#: The pricing core's bound on a computed cost, so that what it writes reads back as written.
MAX_USD = MAX_COST_USD
_COST_AMOUNT = "gen_ai.usage.cost.amount"
_OPERATION_KEY = "gen_ai.operation.name"
_COST_CURRENCY = "gen_ai.usage.cost.currency"

#: Flags of ``_Kind.exclusive_scope``: what an instrumentation leaves out of its counts.
_INPUT_EXCLUDES_CACHE = 1
_OUTPUT_EXCLUDES_REASONING = 2

#: Instrumentations known to report output WITHOUT reasoning (thinking) tokens for some
#: providers, and the thinking apart: OpenLIT 1.45.0's ``google_ai_studio`` writes Gemini's
#: ``candidates_token_count`` as the output and ``thoughts_token_count`` as
#: ``gen_ai.usage.reasoning_tokens`` (its provider ``gemini``). Without this, a call thinking
#: less than it wrote (300 thinking, 500 visible) was billed for the 500 only.
_EXCLUSIVE_OUTPUT_SCOPES = (
    ("openlit", "gemini"),
    ("openlit", "google"),
    ("openlit", "vertex"),
)

#: Logfire's OpenAI and Anthropic integrations record a streamed call's usage on a log
#: span of its own ("streaming response from ... took ...s", priced as the call); the
#: request span, ended as the stream began, counts no tokens and is not the call's record.
USAGE_ON_STREAM_LOG_SCOPES = frozenset({"logfire.openai", "logfire.anthropic"})
#: Logfire's Claude Agent SDK integration: each ``chat`` span has only the SDK's
#: per-message usage (``gen_ai.usage.partial.*``, which Logfire marks unreliable); the
#: ``invoke_agent`` span has the run's usage and its cost (``operation.cost``, the SDK's
#: ``total_cost_usd``), and is the record priced.
_AGENT_RUN_RECORD_SCOPES = frozenset({"logfire.claude_agent_sdk"})

#: Instrumentations known to report input WITHOUT cache tokens for some providers.
_EXCLUSIVE_INPUT_SCOPES = (
    ("openlit", "anthropic"),
    # Bedrock reports input without cache reads and writes (Converse ``inputTokens``, the
    # Anthropic body's ``input_tokens`` through InvokeModel), and these instrumentations copy
    # it as-is: the official genai-bedrock 1.3b0, OpenLLMetry's bedrock 0.62.4 and OpenLIT
    # 1.45.0 (its ``openlit.instrumentation.bedrock``, matched by the ``openlit`` prefix).
    # OpenInference folds the cache into its prompt count: inclusive, not listed.
    ("opentelemetry.instrumentation.genai.bedrock", "bedrock"),
    ("opentelemetry.instrumentation.bedrock", "bedrock"),
    ("openlit", "bedrock"),
)


@dataclass(slots=True)
class SpanUsage:
    """Everything billable that one span says about itself (treat as immutable;
    not frozen because frozen dataclasses are slow to build, once per span)."""

    # Built positionally in _interpret: add new fields at the END only.
    role: Role
    operation: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    #: Why the token counts could not be read (``gen_ai.usage.input_tokens: negative``).
    invalid: str | None = None
    tool_name: str | None = None
    data_source: str | None = None
    reported_cost: float | None = None
    reported_cost_key: str | None = None
    service_tier: str | None = None
    batch: bool = False
    #: How counts were normalised: ``inclusive`` or ``exclusive`` (converted).
    convention: str = "inclusive"
    #: The provider's id of the response (``gen_ai.response.id``): one call, however
    #: many instrumentations recorded it.
    response_id: str | None = None


NOT_GENAI = SpanUsage(role=Role.NONE)


def read_usage(attributes: Mapping[str, object], scope_name: str | None = None) -> SpanUsage:
    """Classify a span and read its usage. Never raises on attribute values.

    Spans from one instrumentation share their attribute keys, so the choice
    of which key fills which slot is planned once per distinct key tuple and
    memoised. Within a plan, the values that say *what* a span is (operation,
    provider, model, tier, tool) repeat from call to call, so their reading is
    memoised too; per span, only the counts, any reported cost and the
    response id are read. :func:`_interpret` is the reference the fast path
    is tested against.
    """
    shape = tuple(attributes)
    plan = _PLANS.get(shape, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plan(shape)
        if len(_PLANS) >= _PLAN_LIMIT:
            _PLANS.clear()
        _PLANS[shape] = plan
    if plan is None:
        return NOT_GENAI
    raw = [attributes[key] for _, key in plan.tokens]
    has_io = False
    for index in plan.io_positions:
        if raw[index] is not None:
            has_io = True
            break
    memo_key = (scope_name, has_io, plan.describing(attributes))
    try:
        kind = plan.memo.get(memo_key)
    except TypeError:  # an unhashable value (a list, in a plain mapping): the reference path
        return _reference(attributes, plan.slots, scope_name)
    if kind is None:
        kind = _kind_of(attributes, plan.slots, scope_name)
        global _memoised
        _memoised += 1
        if _memoised > _MEMO_LIMIT:
            # Bounded in total, not only per plan: many shapes each with many models
            # (a gateway in front of a fleet) must not grow without end. Plans are
            # cheap to rebuild; dropping them drops their memos with them.
            _memoised = 0
            _PLANS.clear()
        elif len(plan.memo) >= _PLAN_LIMIT:
            plan.memo.clear()
        plan.memo[memo_key] = kind
    reported: float | None = None
    reported_key: str | None = None
    if plan.reported_key is not None:
        reported, reported_key = _reported_cost(attributes[plan.reported_key], plan.reported_key, attributes)
    response_id = _text(attributes[plan.response_key]) if plan.response_key is not None else None
    usage: TokenUsage | None = None
    invalid: str | None = None
    convention = "inclusive"
    if kind.priced and (has_io or raw.count(None) < len(raw)):
        try:
            json_key = plan.usage_json_key
            usage_json = (json_key, attributes[json_key]) if json_key is not None else None
            total = attributes[plan.total_key] if plan.total_key is not None else None
            usage, convention = _counted(raw, plan.tokens, kind.exclusive_scope, usage_json, total)
        except _BadValue as exc:
            invalid = str(exc)
    tier = kind.tier
    if tier is None and plan.parameters_key is not None:
        requested = _requested_tier(attributes[plan.parameters_key])
        tier = requested.lower() if requested else None
    served_key = plan.served_key
    if served_key is not None and usage is not None and kind.anthropic:
        try:
            usage, tier = _with_served(usage, tier, served_key, attributes[served_key])
        except _BadValue as exc:
            usage, invalid = None, str(exc)
    return SpanUsage(
        kind.role,
        kind.operation,
        kind.provider,
        kind.model,
        usage,
        invalid,
        kind.tool_name,
        kind.data_source,
        reported,
        reported_key,
        tier,
        kind.batch,
        convention,
        response_id,
    )


@dataclass(slots=True, frozen=True)
class _Kind:
    """What a span is, as read from its describing values (memoised per plan)."""

    role: Role
    operation: str | None
    provider: str | None
    model: str | None
    tool_name: str | None
    data_source: str | None
    tier: str | None
    batch: bool
    #: Its counts are priced (a call), so they are read and checked.
    priced: bool
    #: What its instrumentation leaves out of its counts for this provider
    #: (``_INPUT_EXCLUDES_CACHE`` | ``_OUTPUT_EXCLUDES_REASONING``).
    exclusive_scope: int
    #: Anthropic's API served it: its response JSON, if recorded, is read (_served_by_anthropic).
    anthropic: bool = False


@dataclass(slots=True)
class _Plan:
    """How to read spans with one attribute-key tuple."""

    #: (slot, key) of the best-ranked key of each slot present.
    slots: tuple[tuple[int, str], ...]
    #: Values that say what the span is, as one tuple (the memo key).
    describing: Callable[[Mapping[str, object]], tuple[object, ...]]
    #: (position in _TOKEN_SLOTS, key) of the count attributes present.
    tokens: tuple[tuple[int, str], ...]
    #: Indexes into ``tokens`` of the input and output counts.
    io_positions: tuple[int, ...]
    reported_key: str | None
    response_key: str | None
    usage_json_key: str | None
    total_key: str | None
    #: Where an Anthropic call's web searches and speed are read (_with_served), if anywhere.
    served_key: str | None
    parameters_key: str | None
    memo: dict[tuple[object, ...], _Kind]


#: Slots read per span, not memoised (they differ from call to call).
_PER_SPAN_SLOTS = frozenset(
    {
        *range(_INPUT, _OUTPUT_IMAGE + 1),
        _REPORTED_COST,
        _RESPONSE_ID,
        _REASONING_EXCLUDED,
        _USAGE_JSON,
        _TOTAL,
        _RESPONSE_JSON,
        # OpenInference's request JSON: tool schemas and per-call values, so as a memo key it
        # would hold megabytes and never hit; its tier is read per span (_requested_tier).
        _INVOCATION_PARAMETERS,
    }
)
#: Slot -> index in the counts list (the order of _TOKEN_SLOTS).
_TOKEN_POSITION = {slot: position for position, slot in enumerate(_TOKEN_SLOTS)}
_POSITION_CACHE_READ, _POSITION_CACHE_WRITE = _TOKEN_POSITION[_CACHE_READ], _TOKEN_POSITION[_CACHE_WRITE]
_POSITION_REASONING = _TOKEN_POSITION[_REASONING]
_POSITION_REASONING_EXCLUDED = _TOKEN_POSITION[_REASONING_EXCLUDED]

_UNPLANNED: _Plan | None = _Plan((), lambda _: (), (), (), None, None, None, None, None, None, {})
_PLANS: dict[tuple[str, ...], _Plan | None] = {}
_PLAN_LIMIT = 4096
#: Memoised kinds across all plans (about 400 bytes each, with their keys) before all are dropped.
_MEMO_LIMIT = 32768
_memoised = 0


def remote_agent_call(
    usage: SpanUsage, attributes: Mapping[str, object], scope_name: str | None = None
) -> SpanUsage:
    """The usage of an ``invoke_agent`` CLIENT span, read as a call.

    The semantic conventions' "invoke agent client span" stands for an agent that runs
    in another service (OpenAI Assistants, Bedrock Agents, Azure AI Agents): the model
    calls it made are nowhere in this process, so the usage it reports is the only
    record of them. An in-process agent's usage sums its children's and stays an
    aggregate (whose counts are not even read); this one is read as a call, priced as
    a leaf, and the leaf rule still makes it a wrapper if calls do run below it.
    Without usage it is left alone: the cost is the remote service's to record."""
    if usage.operation != "invoke_agent" or attributes.get(_OPERATION_KEY) != "invoke_agent":
        return usage
    as_call = read_usage({**attributes, _OPERATION_KEY: "chat"}, scope_name)
    if as_call.usage is None and as_call.reported_cost is None and as_call.invalid is None:
        return usage
    return replace(as_call, operation=usage.operation)


def read_span_usage(
    attributes: Mapping[str, object], scope_name: str | None, *, client: bool, dropped_attributes: int
) -> SpanUsage:
    """What a span is and what it used, by everything the processor knows of it: its
    attributes (:func:`read_usage`), then what only the span itself tells
    (:func:`with_span_rules`). One reading for the processor and ``genai-cost report``,
    so that a span file is read as the spans were priced."""
    usage = read_usage(attributes, scope_name)
    role = usage.role
    if role is Role.AGGREGATE or role is Role.OTHER:
        return with_span_rules(usage, attributes, scope_name, client=client, dropped_attributes=dropped_attributes)
    return usage


def with_span_rules(
    usage: SpanUsage, attributes: Mapping[str, object], scope_name: str | None, *, client: bool, dropped_attributes: int
) -> SpanUsage:
    """``usage`` (of a span whose role is ``AGGREGATE`` or ``OTHER``: no other changes
    here) corrected by the span's kind (``client``: an ``invoke_agent`` CLIENT span is a
    call, :func:`remote_agent_call`) and by how many attributes the SDK dropped from it (a
    call whose model was among them, :func:`_call_whose_name_was_dropped`).

    Apart from :func:`read_span_usage` for the processor, which reads every span of the
    application and calls this for those two roles only."""
    role = usage.role
    if role is Role.AGGREGATE:
        if client:
            return remote_agent_call(usage, attributes, scope_name)
    elif role is Role.OTHER and dropped_attributes and usage.operation is None:
        return _call_whose_name_was_dropped(usage, attributes, scope_name)
    return usage


def _call_whose_name_was_dropped(
    usage: SpanUsage, attributes: Mapping[str, object], scope_name: str | None
) -> SpanUsage:
    """A span that counts tokens but names no model or operation, and whose attributes the
    SDK's count limit cut (the oldest go first: an instrumentation that sets the model at
    the start and 70 prompt messages after it loses the model): read as a call, so that it
    is flagged ``missing_model`` rather than left silently at no cost."""
    as_call = read_usage({**attributes, _OPERATION_KEY: "chat"}, scope_name)
    if as_call.usage is None and as_call.invalid is None:
        return usage
    return replace(as_call, operation=None)


def _plan(shape: tuple[str, ...]) -> _Plan | None:
    """The plan for spans with these keys; ``None`` when no key makes the span
    GenAI work."""
    best: dict[int, tuple[int, str]] = {}
    for key in shape:
        spec = _KEYS.get(key)
        if spec is None:
            continue
        slot, rank = spec
        if slot not in best or rank < best[slot][0]:
            best[slot] = (rank, key)
    if not any(slot not in _GENERIC_SLOTS for slot in best):
        return None
    slots = tuple((slot, key) for slot, (_, key) in best.items())
    describing_keys = tuple(key for slot, key in slots if slot not in _PER_SPAN_SLOTS)
    tokens = tuple(sorted((_TOKEN_POSITION[slot], key) for slot, key in slots if slot in _TOKEN_POSITION))
    io_positions = tuple(i for i, (position, _) in enumerate(tokens) if position <= 1)
    keys = dict(slots)
    return _Plan(
        slots,
        _tuple_getter(describing_keys),
        tokens,
        io_positions,
        keys.get(_REPORTED_COST),
        keys.get(_RESPONSE_ID),
        keys.get(_USAGE_JSON),
        keys.get(_TOTAL),
        _served_key(keys.get(_RESPONSE_JSON), keys.get(_USAGE_JSON)),
        keys.get(_INVOCATION_PARAMETERS),
        {},
    )


def _tuple_getter(keys: tuple[str, ...]) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
    """``operator.itemgetter``, always returning a tuple (it returns a bare value for one key)."""
    if len(keys) >= 2:
        return itemgetter(*keys)
    if len(keys) == 1:
        (only,) = keys
        return lambda attributes: (attributes[only],)
    return lambda _: ()


_Slots = tuple[tuple[int, str], ...]


def _found(attributes: Mapping[str, object], slots: _Slots) -> tuple[list[object], list[str | None]]:
    found: list[object] = [None] * _SLOTS
    keys: list[str | None] = [None] * _SLOTS
    for slot, key in slots:
        found[slot] = attributes[key]
        keys[slot] = key
    return found, keys


def _reference(
    attributes: Mapping[str, object], slots: _Slots, scope_name: str | None, *, per_call: bool = True
) -> SpanUsage:
    found, keys = _found(attributes, slots)
    return _interpret(found, keys, scope_name, attributes, per_call=per_call)


def _kind_of(attributes: Mapping[str, object], slots: _Slots, scope_name: str | None) -> _Kind:
    # (Without what the request and response JSON say: a kind is memoised for the spans of
    # its plan, the tier one call asked for and the speed it was served at are its own.)
    reference = _reference(attributes, slots, scope_name, per_call=False)
    provider = reference.provider
    return _Kind(
        reference.role,
        reference.operation,
        provider,
        reference.model,
        reference.tool_name,
        reference.data_source,
        reference.service_tier,
        reference.batch,
        reference.role is Role.LLM or reference.role is Role.EMBEDDING,
        _scope_conventions(provider, scope_name),
        _is_anthropic(provider),
    )


def _interpret(
    found: list[object],
    keys: list[str | None],
    scope_name: str | None,
    attributes: Mapping[str, object],
    *,
    per_call: bool = True,
) -> SpanUsage:
    operation = _text(found[_OP])
    role = _role(operation, _text(found[_OI_KIND]), _text(found[_AI_OP]))
    has_tokens = found[_INPUT] is not None or found[_OUTPUT] is not None
    model = _text(found[_RESPONSE_MODEL]) or _text(found[_REQUEST_MODEL])
    tool_name = _text(found[_TOOL])
    if role is None:
        if has_tokens and model:
            role = Role.LLM  # usage + model and no kind: a call; the leaf rule catches wrappers
        elif tool_name and found[_PROVIDER] is None:
            role = Role.TOOL
        else:
            role = Role.OTHER
    elif role is Role.OTHER and has_tokens:
        # A kind this module does not know (an operation name of a framework's own or
        # of a newer semconv, an OpenInference EVALUATOR or GUARDRAIL, a Vercel
        # operation) on a span that counts tokens: a call, priced when it is a leaf
        # and flagged when it cannot be, rather than left silently at no cost.
        role = Role.LLM
    if scope_name in USAGE_ON_STREAM_LOG_SCOPES or scope_name in _AGENT_RUN_RECORD_SCOPES:
        role = _role_in_scope(role, has_tokens, scope_name)
    provider = _text(found[_PROVIDER])
    reported, reported_key = _reported_cost(found[_REPORTED_COST], keys[_REPORTED_COST], attributes)
    tier = _text(found[_SERVICE_TIER])
    if tier is None:
        tier = _text(found[_REQUESTED_TIER])
    if tier is None and per_call:
        tier = _requested_tier(found[_INVOCATION_PARAMETERS])
    usage: TokenUsage | None = None
    invalid: str | None = None
    convention = "inclusive"
    if (role is Role.LLM or role is Role.EMBEDDING) and (has_tokens or _any_tokens(found)):
        try:
            usage, convention = _tokens(found, keys, provider, scope_name)
        except _BadValue as exc:
            invalid = str(exc)
    tier = tier.lower() if tier else None
    served_key = _served_key(keys[_RESPONSE_JSON], keys[_USAGE_JSON]) if per_call else None
    if served_key is not None and usage is not None and _is_anthropic(provider):
        try:
            usage, tier = _with_served(usage, tier, served_key, attributes[served_key])
        except _BadValue as exc:
            usage, invalid = None, str(exc)
    return SpanUsage(  # positional: this runs once per GenAI span
        role,
        operation,
        provider,
        model,
        usage,
        invalid,
        tool_name,
        _text(found[_DATA_SOURCE]),
        reported,
        reported_key,
        tier,
        _flag_set(found[_BATCH]),
        convention,
        _text(found[_RESPONSE_ID]),
    )


def _role(operation: str | None, oi_kind: str | None, ai_op: str | None) -> Role | None:
    if operation is not None:
        return _OPERATION_ROLES.get(operation.lower(), Role.OTHER)
    if oi_kind is not None:
        return _OPENINFERENCE_ROLES.get(oi_kind.upper(), Role.OTHER)
    if ai_op is not None:
        if ai_op.endswith((".doGenerate", ".doStream")):
            return Role.LLM
        if ai_op.endswith(".doEmbed"):
            return Role.EMBEDDING
        if ai_op == "ai.toolCall":
            return Role.TOOL
        if ai_op in _VERCEL_AGGREGATES:
            return Role.AGGREGATE
        return Role.OTHER
    return None


def _any_tokens(found: list[object]) -> bool:
    return any(found[slot] is not None for slot in _TOKEN_SLOTS)


class _BadValue(ValueError):
    pass


def _checksum(value: object) -> int:
    """A total count, used only to check the others: one that cannot be read is not a
    reason to refuse the span's counts (0: no total)."""
    try:
        return _count(value, None)
    except _BadValue:
        return 0


def _count(value: object, key: str | None) -> int:
    """A token count from an attribute value: ints, integral floats and digit
    strings are accepted (some emitters send strings); anything else is invalid."""
    if type(value) is int:
        count = value
    elif isinstance(value, bool):
        raise _BadValue(f"{key}: boolean is not a token count")
    elif isinstance(value, int):
        count = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise _BadValue(f"{key}: {value!r} is not a whole number")
        count = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text) if text else math.nan
        except ValueError:
            raise _BadValue(f"{key}: {value[:40]!r} is not a number") from None
        if not math.isfinite(number) or number != int(number):
            raise _BadValue(f"{key}: {value[:40]!r} is not a whole number")
        count = int(number)
    else:
        raise _BadValue(f"{key}: {type(value).__name__} is not a token count")
    if count < 0:
        raise _BadValue(f"{key}: negative ({count})")
    if count > _MAX_TOKENS:
        raise _BadValue(f"{key}: implausibly large ({count})")
    return count


def _counted(
    raw: list[object],
    tokens: tuple[tuple[int, str], ...],
    exclusive_scope: int,
    usage_json: tuple[str, object] | None = None,
    total: object = None,
) -> tuple[TokenUsage, str]:
    """Checked, inclusive counts from the raw values of ``tokens`` (the fast
    path's :func:`_tokens`)."""
    counts = [0] * len(_TOKEN_SLOTS)
    index = 0
    for position, key in tokens:
        value = raw[index]
        index += 1
        if value is None:
            continue
        if type(value) is int and 0 <= value <= _MAX_TOKENS:
            counts[position] = value
        else:
            counts[position] = _count(value, key)
    counts.append(0 if total is None else _checksum(total))
    if usage_json is not None:
        _add_usage_json(counts, *usage_json)
    return _inclusive(counts, exclusive_scope)


def _inclusive(counts: list[int], exclusive_scope: int) -> tuple[TokenUsage, str]:
    (
        input_tokens,
        output_tokens,
        cache_read,
        cache_write,
        write_5m,
        write_1h,
        reasoning,
        input_audio,
        output_audio,
        cache_read_audio,
        input_image,
        output_image,
        reasoning_excluded,
        total,
    ) = counts
    if write_5m or write_1h:
        cache_write = max(cache_write, write_5m + write_1h)
    convention = "inclusive"
    cached = cache_read + cache_write
    if cached and (
        exclusive_scope & _INPUT_EXCLUDES_CACHE
        or cached > input_tokens
        or total == input_tokens + output_tokens + cached
    ):
        # Cache counts larger than the input can only mean input excludes them; so does a
        # total that counts the cache beside the input (Bedrock's, copied by Strands Agents).
        input_tokens += cache_read + cache_write
        convention = "exclusive"
    if reasoning_excluded:  # a count known to be outside the output count (Google ADK 1.x)
        output_tokens += reasoning_excluded
        reasoning = reasoning_excluded
        convention = "exclusive"
    elif reasoning and exclusive_scope & _OUTPUT_EXCLUDES_REASONING:
        # Gemini's candidates count, copied as the output count (OpenLIT): thinking is outside.
        output_tokens += reasoning
        convention = "exclusive"
    elif reasoning > output_tokens:  # Google ADK leaves thinking tokens out of output
        output_tokens += reasoning
        convention = "exclusive"
    return (
        TokenUsage(
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            min(write_1h, cache_write),
            reasoning,
            input_audio,
            cache_read_audio,
            output_audio,
            input_image,
            output_image,
        ),
        convention,
    )


def _tokens(
    found: list[object], keys: list[str | None], provider: str | None, scope_name: str | None
) -> tuple[TokenUsage, str]:
    """The reference path's counts (see :func:`_counted` for the fast path's)."""
    counts: list[int] = []
    for slot in _TOKEN_SLOTS:
        value = found[slot]
        if value is None:
            counts.append(0)
        elif type(value) is int and 0 <= value <= _MAX_TOKENS:
            counts.append(value)
        else:
            counts.append(_count(value, keys[slot]))
    counts.append(0 if found[_TOTAL] is None else _checksum(found[_TOTAL]))
    json_key = keys[_USAGE_JSON]
    if json_key is not None and found[_USAGE_JSON] is not None:
        _add_usage_json(counts, json_key, found[_USAGE_JSON])
    return _inclusive(counts, _scope_conventions(provider, scope_name))


_ADK_RESPONSE_KEY, _LOGFIRE_USAGE_KEY = _VOCABULARY[_USAGE_JSON]


def _add_usage_json(counts: list[int], key: str, value: object) -> None:
    """Fill in, from the JSON under ``key``, the counts the span's attributes leave out."""
    if key == _ADK_RESPONSE_KEY:
        _add_adk_usage_metadata(counts, value)
    else:
        _add_provider_usage(counts, value)


#: Where a provider's usage object keeps the counts Logfire's attributes leave out:
#: (position in the counts, path in the object). Anthropic's cache counts are outside its
#: input_tokens; OpenAI's cached, audio and reasoning counts are parts of its prompt and
#: completion counts (chat) or input and output counts (responses).
_PROVIDER_USAGE_PATHS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (_TOKEN_POSITION[_CACHE_READ], ("cache_read_input_tokens",)),
    (_TOKEN_POSITION[_CACHE_WRITE], ("cache_creation_input_tokens",)),
    (_TOKEN_POSITION[_CACHE_WRITE_5M], ("cache_creation", "ephemeral_5m_input_tokens")),
    (_TOKEN_POSITION[_CACHE_WRITE_1H], ("cache_creation", "ephemeral_1h_input_tokens")),
    (_TOKEN_POSITION[_CACHE_READ], ("prompt_tokens_details", "cached_tokens")),
    (_TOKEN_POSITION[_CACHE_READ], ("input_tokens_details", "cached_tokens")),
    (_TOKEN_POSITION[_INPUT_AUDIO], ("prompt_tokens_details", "audio_tokens")),
    (_TOKEN_POSITION[_OUTPUT_AUDIO], ("completion_tokens_details", "audio_tokens")),
    (_TOKEN_POSITION[_REASONING], ("completion_tokens_details", "reasoning_tokens")),
    (_TOKEN_POSITION[_REASONING], ("output_tokens_details", "reasoning_tokens")),
)


def _add_provider_usage(counts: list[int], usage: object) -> None:
    """Fill in, from Logfire's ``gen_ai.usage.raw`` (the provider's own usage object as
    JSON), the counts its attributes leave out: Logfire 5.2.0 and 6.0.0b8 write an input
    count that includes the cache, and the cache split only here. A count on the span wins
    (a slot already filled is left alone, as is every slot of a span that records a cache
    count: its instrumentation wrote the split itself). Only the object's top-level usage
    keys are read; a value that is not a JSON object adds nothing."""
    if not isinstance(usage, str) or "tokens" not in usage:
        return
    if counts[_POSITION_CACHE_READ] or counts[_POSITION_CACHE_WRITE]:
        return
    try:
        decoded = json.loads(usage)
    except (ValueError, RecursionError):
        return
    if not isinstance(decoded, dict):
        return
    recorded = [count != 0 for count in counts]
    for position, path in _PROVIDER_USAGE_PATHS:
        if recorded[position]:
            continue
        found: object = decoded
        for name in path:
            found = found.get(name) if isinstance(found, dict) else None
        if found is None:
            continue
        count = _count(found, f"{_LOGFIRE_USAGE_KEY} {'.'.join(path)}")
        if count:
            counts[position] = count
            recorded[position] = True  # the first path found wins (Anthropic's before OpenAI's)


def _add_adk_usage_metadata(counts: list[int], response: object) -> None:
    """Fill in, from Google ADK's JSON of the model's response, the counts its span
    attributes leave out: ADK 1.x writes ``gen_ai.usage.input_tokens`` (Gemini's
    ``prompt_token_count``, which includes the cached tokens) and no cache count, and
    releases before ``gen_ai.usage.experimental.reasoning_tokens`` no thinking count.
    A count on the span wins. A response that is not JSON (``{}`` when ADK is told not
    to record content, ``<not serializable>``) adds nothing: the call is then priced
    as uncached. Only the top-level ``usage_metadata`` is read, so text in the
    response's content cannot pass for a count."""
    if not isinstance(response, str) or "usage_metadata" not in response:
        return
    try:
        decoded = json.loads(response)
    except (ValueError, RecursionError):
        return
    metadata = decoded.get("usage_metadata") if isinstance(decoded, dict) else None
    if not isinstance(metadata, dict):
        return
    cached = metadata.get("cached_content_token_count")
    if cached is not None and not counts[_POSITION_CACHE_READ] and not counts[_POSITION_CACHE_WRITE]:
        counts[_POSITION_CACHE_READ] = _count(cached, f"{_ADK_RESPONSE_KEY} usage_metadata.cached_content_token_count")
    thoughts = metadata.get("thoughts_token_count")
    if thoughts is not None and not counts[_POSITION_REASONING] and not counts[_POSITION_REASONING_EXCLUDED]:
        # Gemini's candidates_token_count, ADK 1.x's output count, leaves thoughts out.
        counts[_POSITION_REASONING_EXCLUDED] = _count(
            thoughts, f"{_ADK_RESPONSE_KEY} usage_metadata.thoughts_token_count"
        )


#: Decodes the one member of a response's JSON that is read (``raw_decode`` from an offset).
_JSON_MEMBER = json.JSONDecoder()
_RESPONSE_JSON_KEY = _VOCABULARY[_RESPONSE_JSON][0]


def _is_anthropic(provider: str | None) -> bool:
    return provider is not None and provider.lower() == "anthropic"


def _served_key(response_key: str | None, usage_json_key: str | None) -> str | None:
    """The attribute that holds an Anthropic call's usage object: in the response
    OpenInference records as JSON, or as the usage itself (Logfire's raw usage)."""
    if response_key is not None:
        return response_key
    return usage_json_key if usage_json_key == _LOGFIRE_USAGE_KEY else None


def _with_served(
    usage: TokenUsage, tier: str | None, key: str, value: object
) -> tuple[TokenUsage, str | None]:
    """``usage`` and ``tier`` with what an Anthropic call's usage object says beyond its
    tokens: the web searches the call ran (priced per search) and fast mode (priced as
    service tier ``fast``). The speed the call was served at beats a tier read from the
    request."""
    if key == _LOGFIRE_USAGE_KEY:
        searches, fast = _served_in_raw_usage(value)
    else:
        searches, fast = _served_by_anthropic(value)
    if searches:
        usage = replace(usage, web_searches=searches)
    return usage, "fast" if fast else tier


def _served_by_anthropic(response: object) -> tuple[int, bool]:
    """(web searches, served in fast mode) from the ``usage`` member of an Anthropic
    Messages response as JSON (OpenInference's ``output.value``, for streamed calls too).

    ``usage`` is a Message's last member as the SDK serialises it, so it is found from the
    end of the text at once, however long the content before it, and decoded only when it
    mentions a search count or a speed of ``fast`` (rarely). A text whose last member is
    not ``usage`` (another serialiser; a tool input naming a ``usage`` of its own ends
    before it) adds nothing: the call is priced for its tokens at standard speed, as
    without the JSON. Raises _BadValue for a search count that is no count."""
    if not isinstance(response, str):
        return 0, False
    at = response.rfind('"usage"')
    if at < 0:
        return 0, False
    tail = response[at:]
    if "web_search_requests" not in tail and "fast" not in tail:
        return 0, False
    start = at + len('"usage"')
    while start < len(response) and response[start] in " \t\r\n:":
        start += 1
    try:
        usage, end = _JSON_MEMBER.raw_decode(response, start)
    except (ValueError, RecursionError):
        return 0, False
    if not isinstance(usage, dict) or response[end:].strip() != "}":
        return 0, False
    return _served_in(usage, f"{_RESPONSE_JSON_KEY} usage")


def _served_in_raw_usage(raw: object) -> tuple[int, bool]:
    """(web searches, served in fast mode) from Logfire's ``gen_ai.usage.raw``: Anthropic's
    usage object itself, as JSON (decoded only when it mentions either, rarely)."""
    if not isinstance(raw, str) or ("web_search_requests" not in raw and "fast" not in raw):
        return 0, False
    try:
        usage = json.loads(raw)
    except (ValueError, RecursionError):
        return 0, False
    return _served_in(usage, _LOGFIRE_USAGE_KEY) if isinstance(usage, dict) else (0, False)


def _served_in(usage: dict[str, object], where: str) -> tuple[int, bool]:
    server = usage.get("server_tool_use")
    searches = server.get("web_search_requests") if isinstance(server, dict) else None
    count = 0 if searches is None else _count(searches, f"{where}.server_tool_use.web_search_requests")
    return count, usage.get("speed") == "fast"


def _flag_set(value: object) -> bool:
    """A boolean attribute read as set: ``True``, or the number 1 some emitters write
    for it. (Values equal under ``==`` must read alike: ``read_usage`` memoises a span's
    kind by its values, and ``True == 1``; a 1 read as unset after a True read as set
    made the same flag mean two things, by the order spans came in.)"""
    return value is True or (type(value) in (int, float) and value == 1)


def _role_in_scope(role: Role, has_tokens: bool, scope_name: str) -> Role:
    """The role of a span of an instrumentation that records a call's usage on another
    span than the call's own (see ``USAGE_ON_STREAM_LOG_SCOPES``)."""
    if role is Role.LLM and not has_tokens:
        return Role.OTHER  # the call's record is another span, which counts its tokens
    if role is Role.AGGREGATE and has_tokens and scope_name in _AGENT_RUN_RECORD_SCOPES:
        return Role.LLM
    return role


def _scope_conventions(provider: str | None, scope_name: str | None) -> int:
    """What this instrumentation leaves out of its counts for this provider: input
    *without* cache tokens, output *without* reasoning tokens (flags)."""
    if not (scope_name and provider):
        return 0
    scope, vendor = scope_name.lower(), provider.lower()
    flags = 0
    if any(scope.startswith(prefix) and name in vendor for prefix, name in _EXCLUSIVE_INPUT_SCOPES):
        flags |= _INPUT_EXCLUDES_CACHE
    if any(scope.startswith(prefix) and name in vendor for prefix, name in _EXCLUSIVE_OUTPUT_SCOPES):
        flags |= _OUTPUT_EXCLUDES_REASONING
    return flags


def usd_amount(value: object) -> float | None:
    """An amount a span carries (a number, or a numeric string), or ``None`` when it is
    not one a total may include: not finite, negative, or absurd (> ``MAX_USD``, 1e15).
    One reading for a cost an instrumentation wrote and one genai-cost wrote (read back
    by the roll-up and the report), so that the two never disagree on what is an amount."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, int) and not -MAX_USD <= value <= MAX_USD:
            return None  # (more than 1e15 is no cost; one past 1.8e308 raised OverflowError in float())
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number) or number < 0 or number > MAX_USD:
        return None
    return number


def _reported_cost(
    value: object, key: str | None, attributes: Mapping[str, object]
) -> tuple[float | None, str | None]:
    number = usd_amount(value)
    if number is None:
        return None, None
    if key == _COST_AMOUNT:
        # The semconv amount comes with its currency: a price in yen is not dollars.
        currency = attributes.get(_COST_CURRENCY)
        if isinstance(currency, str) and currency.strip().upper() not in ("", "USD"):
            return None, None
    return number, key


def _requested_tier(parameters: object) -> str | None:
    """OpenInference keeps the request's parameters as JSON (``llm.invocation_parameters``)
    and records no served tier: the requested one is the best evidence there is."""
    if not isinstance(parameters, str) or "service_tier" not in parameters:
        return None
    try:
        decoded = json.loads(parameters)
    except (ValueError, RecursionError):  # (RecursionError: nested a thousand deep)
        return None
    tier = decoded.get("service_tier") if isinstance(decoded, dict) else None
    return _text(tier)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is str or isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def vocabulary() -> Iterable[tuple[str, str]]:
    """(attribute key, concept) for every key read; for docs and tests."""
    names = {
        _OP: "operation",
        _OI_KIND: "span kind (OpenInference)",
        _AI_OP: "operation (Vercel AI SDK)",
        _PROVIDER: "provider",
        _RESPONSE_MODEL: "model (served)",
        _REQUEST_MODEL: "model (requested)",
        _INPUT: "input tokens",
        _OUTPUT: "output tokens",
        _CACHE_READ: "cache read tokens",
        _CACHE_WRITE: "cache write tokens",
        _CACHE_WRITE_5M: "cache write tokens, 5-minute TTL",
        _CACHE_WRITE_1H: "cache write tokens, 1-hour TTL",
        _REASONING: "reasoning tokens",
        _REASONING_EXCLUDED: "reasoning tokens, not included in the output count (Google ADK 1.x)",
        _USAGE_JSON: "the provider's usage as JSON (Google ADK's response, Logfire's raw usage), for counts"
        " the span leaves out",
        _INPUT_AUDIO: "audio input tokens",
        _OUTPUT_AUDIO: "audio output tokens",
        _CACHE_READ_AUDIO: "audio cache read tokens",
        _INPUT_IMAGE: "image input tokens",
        _OUTPUT_IMAGE: "image output tokens",
        _SERVICE_TIER: "service tier (served)",
        _REQUESTED_TIER: "service tier (requested; used only when the served one is absent)",
        _TOOL: "tool name",
        _REPORTED_COST: "cost already on the span",
        _BATCH: "batch flag",
        _DATA_SOURCE: "data source (retrieval)",
        _INVOCATION_PARAMETERS: "request parameters (OpenInference JSON; service_tier read when none was served)",
        _RESPONSE_ID: "response id (one call recorded by two instrumentations is priced once)",
        _TOTAL: "total tokens (only to tell whether the input count includes the cache)",
        _RESPONSE_JSON: "the response as JSON (OpenInference), for an Anthropic call's web searches and fast mode",
    }
    for slot, keys in _VOCABULARY.items():
        for key in keys:
            yield key, names[slot]
